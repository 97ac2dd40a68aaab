//! `/api/v2/metrics/`: who may read it, AWX's names, and credstore's counters moving when
//! the thing they count happens. (The client scenario parses it with Prometheus's own
//! Python parser.)

use crate::common::{self, As, TestApp};
use axum::http::StatusCode;
use serde_json::json;

/// The value of the sample `name{labels}` (labels as written, in order), if present.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn scrape(app: &TestApp) -> String {
    let r = app.get(As::Admin, "/api/v2/metrics/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    r.raw
}

#[tokio::test]
async fn superusers_and_auditors_read_metrics_others_do_not() {
    let app = TestApp::new().await;
    app.user("plain").await;
    let auditor = app.user("auditor").await;
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/users/{auditor}/"),
            json!({"is_system_auditor": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(
        app.get(As::Anon, "/api/v2/metrics/").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(As::Basic("plain", "pw-plain"), "/api/v2/metrics/")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(As::Basic("auditor", "pw-auditor"), "/api/v2/metrics/")
            .await
            .status,
        StatusCode::OK
    );
    let root = app.get(As::Anon, "/api/v2/").await;
    assert_eq!(root.body["metrics"], "/api/v2/metrics/");
}

#[tokio::test]
async fn awx_names_count_what_the_database_holds() {
    let app = TestApp::new().await;
    let before = scrape(&app).await;
    assert!(before.contains("awx_system_info{"), "{before}");
    assert!(before.contains("tower_version=\"24.6.1\""), "{before}");
    let orgs = sample(&before, "awx_organizations_total").unwrap();
    let users = sample(&before, "awx_users_total").unwrap();
    app.org("counted").await;
    app.user("counted").await;
    let ssh = app.type_id("ssh").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": "m", "credential_type": ssh, "user": 1, "inputs": {"username": "u"}}),
    )
    .await;
    let after = scrape(&app).await;
    assert_eq!(sample(&after, "awx_organizations_total"), Some(orgs + 1.0));
    assert_eq!(sample(&after, "awx_users_total"), Some(users + 1.0));
    assert!(
        sample(&after, "credstore_credentials{kind=\"ssh\"}").unwrap() >= 1.0,
        "{after}"
    );
    assert!(sample(&after, "credstore_key_version").unwrap() >= 1.0);
}

#[tokio::test]
async fn counters_move_with_requests_renders_and_failed_logins() {
    let app = TestApp::new().await;
    let ssh = app.type_id("ssh").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "m", "credential_type": ssh, "user": 1, "inputs": {"username": "u"}}),
        )
        .await;
    // Counters are per process and tests share one: compare before and after.
    let requests = "credstore_requests_total{method=\"GET\",route=\"/api/v2/credentials/{id}/\",status=\"200\"}";
    let renders = "credstore_renders_total{kind=\"ssh\"}";
    let before = scrape(&app).await;
    let failed_before = sample(&before, "credstore_failed_logins_total").unwrap_or(0.0);
    app.get(As::Admin, &format!("/api/v2/credentials/{id}/"))
        .await;
    common::render(&app, id).await;
    app.get(As::Basic("admin", "wrong-password"), "/api/v2/me/")
        .await;
    let after = scrape(&app).await;
    assert!(
        sample(&after, requests).unwrap() >= sample(&before, requests).unwrap_or(0.0) + 1.0,
        "{after}"
    );
    assert!(
        sample(&after, renders).unwrap() >= sample(&before, renders).unwrap_or(0.0) + 1.0,
        "{after}"
    );
    assert!(sample(&after, "credstore_failed_logins_total").unwrap() >= failed_before + 1.0);
    assert!(
        after.contains("credstore_request_duration_seconds_bucket{"),
        "no latency histogram"
    );
    assert!(after.trim_end().ends_with("# EOF"));
}
