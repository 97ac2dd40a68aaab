//! CyberArk Central Credential Provider lookups (`aim`, plugins.md §4.6) against an in-repo
//! CCP double: exact request construction and query encoding, the web service id default,
//! `object_property` mapping and its `KeyError` parity cases, HTTP errors, and TLS with a
//! client certificate (CA, server and client certificates made with the `openssl` CLI).

use crate::common;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use common::{As, TestApp};
use credstore::plugins::{lookup, Kwargs, LookupError};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The CCP double: records the path and raw query of every request.
#[derive(Clone, Default)]
struct Ccp(Arc<Mutex<Vec<String>>>);

impl Ccp {
    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn last(&self) -> String {
        self.seen().last().cloned().unwrap_or_default()
    }
}

fn account() -> Value {
    json!({"Content": "s3cr3t-pw", "UserName": "svc_awx", "Address": "db.example.com",
           "Safe": "TestSafe", "Folder": "Root", "Name": "acct 1", "PolicyID": "UnixSSH",
           "DeviceType": "Operating System", "PasswordChangeInProcess": "False"})
}

fn ccp_error(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({"ErrorCode": code, "ErrorMsg": "failure details"})),
    )
        .into_response()
}

async fn accounts(State(ccp): State<Ccp>, uri: Uri) -> Response {
    let raw = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    ccp.0.lock().unwrap().push(raw);
    if !uri.path().ends_with("/api/Accounts") {
        return ccp_error(StatusCode::NOT_FOUND, "APPAP282E");
    }
    let q: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if q.get("AppId").map(String::as_str) != Some("awx app") {
        return ccp_error(StatusCode::FORBIDDEN, "APPAP227E");
    }
    match q.get("Query").map(String::as_str) {
        Some("Safe=TestSafe;Object=acct 1") => Json(account()).into_response(),
        Some("Safe=TestSafe;Object=no user") => {
            Json(json!({"Content": "only-content"})).into_response()
        }
        Some("Safe=TestSafe;Object=garbled") => "<html>oops</html>".into_response(),
        Some("Safe=TestSafe;Object=moved") => (
            StatusCode::FOUND,
            [("location", "/elsewhere")],
            Json(account()),
        )
            .into_response(),
        _ => ccp_error(StatusCode::NOT_FOUND, "APPAP004E"),
    }
}

fn ccp_router(ccp: &Ccp) -> Router {
    Router::new().fallback(accounts).with_state(ccp.clone())
}

/// The double over plain HTTP; returns its base URL.
async fn ccp_http(ccp: &Ccp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = ccp_router(ccp);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct World {
    app: TestApp,
    org: i64,
    aim: i64,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let aim = app.type_id("aim").await;
    World { app, org, aim }
}

impl World {
    async fn cred(&self, inputs: Value) -> i64 {
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": format!("ccp-{}", rand_suffix()), "organization": self.org,
                       "credential_type": self.aim, "inputs": inputs}),
            )
            .await
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn query(object: &str) -> Value {
    json!({"metadata": {"object_query": format!("Safe=TestSafe;Object={object}"),
                        "object_query_format": "Exact"}})
}

fn kwargs(pairs: &[(&str, Value)]) -> Kwargs {
    let mut k = Kwargs::default();
    for (key, value) in pairs {
        k.set_json(key, value);
    }
    k
}

const ENCODED_QUERY: &str = "AppId=awx%20app&Query=Safe%3DTestSafe%3BObject%3Dacct%201";

#[tokio::test]
async fn request_construction_and_encoding() {
    let w = world().await;
    let ccp = Ccp::default();
    let url = ccp_http(&ccp).await;
    let id = w
        .cred(json!({"url": url, "app_id": "awx app", "verify": true}))
        .await;
    let ok = w.test(id, query("acct 1")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(ok.body, json!({}));
    assert!(!ok.raw.contains("s3cr3t"));
    assert_eq!(
        ccp.last(),
        format!("/AIMWebService/api/Accounts?{ENCODED_QUERY}&QueryFormat=Exact"),
        "default web service id, every reserved character escaped, %20 for spaces"
    );

    let r = w
        .test(
            id,
            json!({"metadata": {"object_query": "Safe=TestSafe;Object=acct 1",
                  "object_query_format": "Regexp", "reason": "ticket #42/now ü"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.raw);
    assert_eq!(
        ccp.last(),
        format!(
            "/AIMWebService/api/Accounts?{ENCODED_QUERY}&QueryFormat=Regexp\
             &reason=ticket%20%2342%2Fnow%20%C3%BC"
        )
    );

    // No `object_query_format` (AWX: KeyError) and no `verify` stored: the defaults apply.
    let bare = w.cred(json!({"url": url, "app_id": "awx app"})).await;
    let r = w
        .test(
            bare,
            json!({"metadata": {"object_query": "Safe=TestSafe;Object=acct 1", "reason": ""}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.raw);
    assert_eq!(
        ccp.last(),
        format!("/AIMWebService/api/Accounts?{ENCODED_QUERY}&QueryFormat=Exact"),
        "an empty reason is left out"
    );

    // Web service ids: blank means the default; a custom one replaces it.
    let blank = w
        .cred(json!({"url": url, "app_id": "awx app", "webservice_id": ""}))
        .await;
    assert_eq!(
        w.test(blank, query("acct 1")).await.status,
        StatusCode::ACCEPTED
    );
    assert!(ccp.last().starts_with("/AIMWebService/api/Accounts?"));
    let custom = w
        .cred(json!({"url": url, "app_id": "awx app", "webservice_id": "CCPWebSvc"}))
        .await;
    assert_eq!(
        w.test(custom, query("acct 1")).await.status,
        StatusCode::ACCEPTED
    );
    assert!(ccp.last().starts_with("/CCPWebSvc/api/Accounts?"));

    // URL-join semantics: a base path survives only with a trailing slash.
    for (base, path) in [
        (format!("{url}/ccp/"), "/ccp/AIMWebService/api/Accounts?"),
        (format!("{url}/ccp"), "/AIMWebService/api/Accounts?"),
        (format!("{url}/a//b/"), "/a/b/AIMWebService/api/Accounts?"),
    ] {
        let id = w.cred(json!({"url": base, "app_id": "awx app"})).await;
        assert_eq!(
            w.test(id, query("acct 1")).await.status,
            StatusCode::ACCEPTED
        );
        assert!(ccp.last().starts_with(path), "{base}: {}", ccp.last());
    }
}

#[tokio::test]
async fn object_property_mapping() {
    let ccp = Ccp::default();
    let url = ccp_http(&ccp).await;
    let base = [
        ("url", json!(url)),
        ("app_id", json!("awx app")),
        ("verify", json!(true)),
        ("object_query", json!("Safe=TestSafe;Object=acct 1")),
        ("object_query_format", json!("Exact")),
    ];
    let with = |property: Option<&str>| {
        let mut k = kwargs(&base);
        if let Some(p) = property {
            k.set_json("object_property", &json!(p));
        }
        k
    };
    for (property, want) in [
        (None, "s3cr3t-pw"),
        (Some(""), "s3cr3t-pw"),
        (Some("password"), "s3cr3t-pw"),
        (Some("PassWord"), "s3cr3t-pw"),
        (Some("username"), "svc_awx"),
        (Some("UserName"), "svc_awx"),
        (Some("ADDRESS"), "db.example.com"),
    ] {
        let got = lookup("aim", &with(property)).await;
        assert_eq!(
            got.map(|s| s.expose_secret().to_string()),
            Ok(want.to_string()),
            "{property:?}"
        );
    }
    // Any other property is a KeyError, even one the answer has (AWX's broken membership
    // test), and only after the request succeeded.
    let before = ccp.seen().len();
    for property in ["Folder", "Safe", "Content", "name"] {
        assert_eq!(
            lookup("aim", &with(Some(property))).await.err(),
            Some(LookupError::Kind("KeyError")),
            "{property}"
        );
    }
    assert_eq!(ccp.seen().len(), before + 4);

    let w = world().await;
    let id = w.cred(json!({"url": url, "app_id": "awx app"})).await;
    let folder = json!({"metadata": {"object_query": "Safe=TestSafe;Object=acct 1",
                                     "object_property": "Folder"}});
    assert_eq!(w.test(id, folder).await.body, json!({"inputs": "KeyError"}));
    let no_user = json!({"metadata": {"object_query": "Safe=TestSafe;Object=no user",
                                      "object_property": "username"}});
    assert_eq!(
        w.test(id, no_user).await.body,
        json!({"inputs": "KeyError"}),
        "a mapped member missing from the answer"
    );
    let no_user_password = json!({"metadata": {"object_query": "Safe=TestSafe;Object=no user"}});
    assert_eq!(
        w.test(id, no_user_password).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        w.test(id, query("garbled")).await.body,
        json!({"inputs": "JSONDecodeError"})
    );
}

#[tokio::test]
async fn missing_inputs_and_http_errors() {
    let w = world().await;
    let ccp = Ccp::default();
    let url = ccp_http(&ccp).await;
    let id = w.cred(json!({"url": url, "app_id": "awx app"})).await;

    // Hard lookups of the plugin: no request is made.
    let no_query = w
        .test(id, json!({"metadata": {"object_query_format": "Exact"}}))
        .await;
    assert_eq!(no_query.body, json!({"inputs": "KeyError"}));
    let no_app = w.cred(json!({"url": url})).await;
    assert_eq!(
        w.test(no_app, query("acct 1")).await.body,
        json!({"inputs": "KeyError"})
    );
    assert!(ccp.seen().is_empty());

    assert_eq!(
        w.test(id, query("unknown")).await.body,
        json!({"inputs": "HTTP 404"})
    );
    let wrong_app = w
        .test(
            id,
            json!({"inputs": {"app_id": "intruder"}, "metadata": {"object_query": "Safe=TestSafe;Object=acct 1"}}),
        )
        .await;
    assert_eq!(wrong_app.body, json!({"inputs": "HTTP 403"}));
    assert_eq!(
        w.test(id, query("moved")).await.body,
        json!({"inputs": "HTTP 302"}),
        "redirects are reported, not followed"
    );
    assert_eq!(ccp.seen().len(), 3);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = w
        .cred(json!({"url": format!("http://127.0.0.1:{port}"), "app_id": "awx app"}))
        .await;
    assert_eq!(
        w.test(down, query("acct 1")).await.body,
        json!({"inputs": "ConnectionError"})
    );
}

#[tokio::test]
async fn tls_with_a_client_certificate() {
    let pki = common::tls::pki();
    let ccp = Ccp::default();
    let url = common::tls::serve(ccp_router(&ccp), true).await;
    let w = world().await;
    let good = json!({"url": url, "app_id": "awx app", "verify": false,
                      "client_cert": pki.client_cert, "client_key": pki.client_key});
    let id = w.cred(good.clone()).await;
    let ok = w.test(id, query("acct 1")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(
        ccp.last(),
        format!("/AIMWebService/api/Accounts?{ENCODED_QUERY}&QueryFormat=Exact")
    );

    // The value, through an input source of a machine credential.
    let ssh = w
        .app
        .create(
            "/api/v2/credentials/",
            json!({"name": "target", "organization": w.org,
                   "credential_type": w.app.type_id("ssh").await, "inputs": {"username": "u"}}),
        )
        .await;
    let link = w
        .app
        .post(
            As::Admin,
            "/api/v2/credential_input_sources/",
            json!({"target_credential": ssh, "source_credential": id, "input_field_name": "password",
                   "metadata": {"object_query": "Safe=TestSafe;Object=acct 1",
                                "object_query_format": "Exact"}}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.raw);
    let rendered = common::render(&w.app, ssh).await;
    assert_eq!(
        common::answer(&rendered, common::SSH_PASSWORD_PROMPT).as_deref(),
        Some("s3cr3t-pw"),
        "{}",
        rendered.raw
    );

    // Certificate and key in the one certificate field work as well.
    let combined = w
        .cred(json!({"url": url, "app_id": "awx app", "verify": false,
                     "client_cert": format!("{}\n{}", pki.client_cert, pki.client_key)}))
        .await;
    assert_eq!(
        w.test(combined, query("acct 1")).await.status,
        StatusCode::ACCEPTED
    );

    let seen = ccp.seen().len();
    let cases = [
        (
            "verify on: the test CA is not trusted (no CA input exists)",
            json!({"verify": true}),
        ),
        (
            "no client certificate",
            json!({"verify": false, "client_cert": "", "client_key": ""}),
        ),
        (
            "client certificate from another CA",
            json!({"verify": false, "client_cert": pki.rogue_cert, "client_key": pki.rogue_key}),
        ),
        (
            "certificate without its key",
            json!({"verify": false, "client_key": ""}),
        ),
    ];
    for (why, overlay) in cases {
        let mut inputs = good.clone();
        for (k, v) in overlay.as_object().unwrap() {
            inputs[k] = v.clone();
        }
        let id = w.cred(inputs).await;
        let r = w.test(id, query("acct 1")).await;
        assert_eq!(r.body, json!({"inputs": "SSLError"}), "{why}");
    }
    assert_eq!(ccp.seen().len(), seen, "no request got through");

    // Over plain HTTP the certificate is not used at all (requests ignores it).
    let plain = ccp_http(&ccp).await;
    let http = w
        .cred(json!({"url": plain, "app_id": "awx app", "client_cert": "not a certificate"}))
        .await;
    assert_eq!(
        w.test(http, query("acct 1")).await.status,
        StatusCode::ACCEPTED
    );
}
