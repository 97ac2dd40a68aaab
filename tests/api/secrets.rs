//! Plants secrets, drives every credential operation and several errors with debug logging
//! on, and asserts that the secrets appear in no response and no log line (a render's
//! answer excepted: handing them to the caller is what it is for).
//!
//! The log capture is the process's global `tracing` subscriber at trace level: the test
//! runs in a child process of its own (`common::in_own_process`), so that it sees the
//! logs of its app only and other tests do not run with trace logging.

use crate::common;

use axum::http::StatusCode;
use common::{As, Reply, TestApp};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

const SECRET: &str = "PLANTED-leak-check-4d2a";
/// Set in the child process that runs the check.
const CHILD: &str = "CREDSTORE_TEST_SECRETS_CHILD";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let cap = Capture::default();
        let writer = cap.clone();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(move || writer.clone())
            .init();
        cap
    })
}

fn assert_clean(r: &Reply, what: &str) {
    assert!(
        !r.raw.contains("PLANTED"),
        "{what} leaked a secret: {}",
        r.raw
    );
    for (name, value) in &r.headers {
        assert!(
            !value.to_str().unwrap_or_default().contains("PLANTED"),
            "{what} header {name} leaked"
        );
    }
}

#[tokio::test]
async fn planted_secrets_never_leave_the_store() {
    if std::env::var_os(CHILD).is_none() {
        return common::in_own_process("planted_secrets_never_leave_the_store", CHILD);
    }
    let logs = capture();
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let ssh = app.type_id("ssh").await;
    let scm = app.type_id("scm").await;
    let create = app
        .post(As::Admin, "/api/v2/credentials/", json!({"name": "c", "organization": org, "credential_type": ssh,
              "inputs": {"username": "u", "password": format!("{SECRET}-pw"), "ssh_key_data": format!("{SECRET}-not-a-key")}}))
        .await;
    assert_eq!(create.status, StatusCode::BAD_REQUEST);
    assert_clean(&create, "invalid key error");
    let created = app
        .post(As::Admin, "/api/v2/credentials/", json!({"name": "c", "organization": org, "credential_type": ssh,
              "inputs": {"username": "u", "password": format!("{SECRET}-pw"), "become_password": format!("{SECRET}-b")}}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_clean(&created, "create");
    let id = created.body["id"].as_i64().unwrap();
    let url = format!("/api/v2/credentials/{id}/");
    let mut replies = vec![
        ("detail", app.get(As::Admin, &url).await),
        ("list", app.get(As::Admin, "/api/v2/credentials/").await),
        ("patch", app.patch(As::Admin, &url, json!({"inputs": {"username": "u", "password": format!("{SECRET}-new"), "become_password": "$encrypted$"}})).await),
        ("bad type", app.patch(As::Admin, &url, json!({"inputs": {"password": 5, "become_password": format!("{SECRET}-x")}})).await),
        ("unknown key", app.patch(As::Admin, &url, json!({"inputs": {"nope": format!("{SECRET}-y"), "password": format!("{SECRET}-z")}})).await),
        ("wrong type change", app.patch(As::Admin, &url, json!({"credential_type": scm})).await),
        ("numeric secret", app.post(As::Admin, "/api/v2/credentials/", json!({"name": "n", "organization": org, "credential_type": ssh, "inputs": {"password": 4242424242_i64}})).await),
        ("copy", app.post(As::Admin, &format!("{url}copy/"), json!({"name": "c-copy"})).await),
        ("bad filter", app.get(As::Admin, "/api/v2/credentials/?inputs__icontains=PLANTED").await),
    ];
    // A render hands the secrets to the caller (its purpose), and to nothing else: not
    // the log, not the audit entry it writes.
    let rendered = app
        .post(
            As::Admin,
            &format!("{url}render/"),
            json!({"purpose": "leak check"}),
        )
        .await;
    assert_eq!(rendered.status, StatusCode::OK, "{}", rendered.raw);
    assert!(rendered.raw.contains(SECRET), "the render lacks its secret");
    replies.push((
        "activity after render",
        app.get(As::Admin, "/api/v2/activity_stream/?page_size=200")
            .await,
    ));
    replies.push(("delete", app.delete(As::Admin, &url).await));
    for (what, r) in &replies {
        assert!(r.status.as_u16() < 500, "{what}: {}", r.raw);
        assert_clean(r, what);
    }
    assert!(
        !replies.iter().any(|(_, r)| r.raw.contains("4242424242")),
        "numeric secret echoed"
    );
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(
        text.contains("sqlx") || text.contains("DEBUG") || text.contains("TRACE"),
        "debug logging was not captured"
    );
    assert!(!text.contains(SECRET), "a log line holds a planted secret");
    assert!(
        !text.contains("admin-Pa55word"),
        "a log line holds the admin password"
    );
}
