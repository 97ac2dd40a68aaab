//! Thycotic (Delinea) Secret Server lookups (`thycotic_tss`, plugins.md §4.10) against an
//! in-repo test double of a Secret Server installed under `/SecretServer`: the password
//! grant, secrets with `items`, file-attachment fields, and the SDK's error classes.

use crate::common;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{As, TestApp};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tss-token-1";
const KEY_TEXT: &str =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n";

/// Makes credential names unique within one app.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One request the double received.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    authorization: String,
    body: String,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Hit>>>);

impl Log {
    fn push(&self, path: &str, headers: &HeaderMap, body: &str) {
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        self.0.lock().unwrap().push(Hit {
            path: path.to_string(),
            authorization,
            body: body.to_string(),
        });
    }

    fn hits(&self) -> Vec<Hit> {
        self.0.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.hits().into_iter().map(|h| h.path).collect()
    }
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

async fn token(State(log): State<Log>, headers: HeaderMap, body: String) -> Response {
    log.push("/SecretServer/oauth2/token", &headers, &body);
    let fields = form(&body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some("password") {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}),
        );
    }
    let granted = json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": 1199});
    match (get("username"), get("password"), get("domain")) {
        (Some("svc"), Some("Tss-Pa55"), None) => json_reply(StatusCode::OK, granted),
        (Some("dom-user"), Some("Dom-Pa55"), Some("CORP")) => json_reply(StatusCode::OK, granted),
        (Some("html"), _, _) => (StatusCode::OK, "<html>Login</html>").into_response(),
        (Some("boom"), _, _) => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "An error has occurred."}),
        ),
        (Some("notoken"), _, _) => json_reply(StatusCode::OK, json!({"token_type": "bearer"})),
        _ => json_reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})),
    }
}

fn item(slug: &str, value: Value, attachment: Value) -> Value {
    json!({"itemId": 1, "fieldId": 2, "fileAttachmentId": attachment, "fieldName": slug,
           "slug": slug, "fieldDescription": "", "filename": null, "itemValue": value,
           "isFile": !attachment.is_null(), "isNotes": false, "isPassword": slug == "password"})
}

fn secret(id: u32, items: Vec<Value>) -> Value {
    json!({"id": id, "name": format!("secret {id}"), "secretTemplateId": 6007, "folderId": -1,
           "active": true, "checkedOut": false, "checkOutEnabled": false, "siteId": 1,
           "secretTemplateName": "Unix Account (SSH)", "lastHeartBeatStatus": "Success",
           "lastHeartBeatCheck": "2024-01-01T00:00:00", "lastPasswordChangeAttempt": "0001-01-01T00:00:00",
           "items": items})
}

fn bearer_ok(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn read_secret(
    State(log): State<Log>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    log.push(&format!("/SecretServer/api/v1/secrets/{id}"), &headers, "");
    if !bearer_ok(&headers) {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Authentication failed."}),
        );
    }
    match id.as_str() {
        "1" => json_reply(
            StatusCode::OK,
            secret(
                1,
                vec![
                    item("username", json!("deploy"), Value::Null),
                    item("password", json!("Tss-Secret-1"), Value::Null),
                    item(
                        "private-key",
                        json!("*** Not Valid For Display ***"),
                        json!(77),
                    ),
                    item("pin", json!(1234), Value::Null),
                    json!({"slug": "bare", "fileAttachmentId": null}),
                ],
            ),
        ),
        "2" => json_reply(StatusCode::FORBIDDEN, json!({"message": "Access Denied"})),
        "3" => json_reply(
            StatusCode::OK,
            secret(3, vec![item("broken-file", json!(""), json!(78))]),
        ),
        "4" => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "An error has occurred."}),
        ),
        "5" => (StatusCode::OK, "<html>not json</html>").into_response(),
        "6" => json_reply(StatusCode::OK, json!({"id": 6, "name": "no items"})),
        "7" => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/SecretServer/api/v1/secrets/1")],
        )
            .into_response(),
        "8" => (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                "http://other.invalid/SecretServer/api/v1/secrets/1",
            )],
        )
            .into_response(),
        _ => json_reply(
            StatusCode::NOT_FOUND,
            json!({"message": "Secret not found."}),
        ),
    }
}

async fn read_field(
    State(log): State<Log>,
    Path((id, slug)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    log.push(
        &format!("/SecretServer/api/v1/secrets/{id}/fields/{slug}"),
        &headers,
        "",
    );
    if !bearer_ok(&headers) {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Authentication failed."}),
        );
    }
    match (id.as_str(), slug.as_str()) {
        ("1", "private-key") => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            KEY_TEXT,
        )
            .into_response(),
        _ => json_reply(StatusCode::NOT_FOUND, json!({"message": "File not found."})),
    }
}

/// Starts the double on a free loopback port; returns the Secret Server URL.
async fn secret_server() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/SecretServer/oauth2/token", post(token))
        .route(
            "/SecretServer/api/v1/healthcheck",
            get(|| async { Json(json!({"Healthy": true})) }),
        )
        .route("/SecretServer/api/v1/secrets/{id}", get(read_secret))
        .route(
            "/SecretServer/api/v1/secrets/{id}/fields/{slug}",
            get(read_field),
        )
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/SecretServer"), log)
}

/// A loopback URL nothing listens on.
async fn refused_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/SecretServer")
}

struct World {
    app: TestApp,
    org: i64,
    ty: i64,
    url: String,
    log: Log,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let (url, log) = secret_server().await;
    let org = app.org("o").await;
    let ty = app.type_id("thycotic_tss").await;
    World {
        app,
        org,
        ty,
        url,
        log,
    }
}

impl World {
    async fn credential(&self, inputs: Value) -> i64 {
        let mut all = json!({"server_url": self.url, "username": "svc", "password": "Tss-Pa55"});
        for (k, v) in inputs.as_object().cloned().unwrap_or_default() {
            all[k] = v;
        }
        let name = format!("tss-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": name, "organization": self.org, "credential_type": self.ty, "inputs": all}),
            )
            .await
    }

    /// The test endpoint's answer for one secret field.
    async fn reason(&self, id: i64, secret_id: &str, field: &str) -> Value {
        self.reason_with(id, json!({}), secret_id, field).await
    }

    async fn reason_with(&self, id: i64, inputs: Value, secret_id: &str, field: &str) -> Value {
        let r = self
            .app
            .post(
                As::Admin,
                &format!("/api/v2/credentials/{id}/test/"),
                json!({"inputs": inputs, "metadata": {"secret_id": secret_id, "secret_field": field}}),
            )
            .await;
        assert!(
            !r.raw.contains("Tss-Secret")
                && !r.raw.contains("PRIVATE KEY")
                && !r.raw.contains("Pa55"),
            "{}",
            r.raw
        );
        r.body
    }

    /// Runs the backend directly, to see the value it returns.
    async fn value(&self, secret_id: &str, field: &str) -> Result<String, String> {
        let mut kw = credstore::plugins::Kwargs::default();
        for (k, v) in [
            ("server_url", self.url.as_str()),
            ("username", "svc"),
            ("password", "Tss-Pa55"),
            ("secret_id", secret_id),
            ("secret_field", field),
        ] {
            kw.set_json(k, &json!(v));
        }
        credstore::plugins::lookup("thycotic_tss", &kw)
            .await
            .map(|s| s.expose_secret().to_string())
            .map_err(|e| e.to_string())
    }
}

#[tokio::test]
async fn reads_a_field() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(w.reason(id, "1", "password").await, json!({}));
    let hits = w.log.hits();
    assert_eq!(
        w.log.paths(),
        [
            "/SecretServer/oauth2/token",
            "/SecretServer/api/v1/secrets/1"
        ]
    );
    assert_eq!(
        form(&hits[0].body),
        [
            ("username".to_string(), "svc".to_string()),
            ("password".to_string(), "Tss-Pa55".to_string()),
            ("grant_type".to_string(), "password".to_string())
        ],
        "no domain when none is set"
    );
    assert_eq!(hits[0].authorization, "");
    assert_eq!(hits[1].authorization, format!("Bearer {TOKEN}"));

    assert_eq!(
        w.value("1", "password").await.as_deref(),
        Ok("Tss-Secret-1")
    );
    assert_eq!(w.value("1", "username").await.as_deref(), Ok("deploy"));
}

#[tokio::test]
async fn reads_a_file_attachment() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(w.reason(id, "1", "private-key").await, json!({}));
    assert_eq!(w.value("1", "private-key").await.as_deref(), Ok(KEY_TEXT));
    let hits = w.log.hits();
    let fetched = hits
        .iter()
        .find(|h| h.path == "/SecretServer/api/v1/secrets/1/fields/private-key")
        .expect("attachment fetched");
    assert_eq!(fetched.authorization, format!("Bearer {TOKEN}"));

    assert_eq!(
        w.reason(id, "3", "broken-file").await,
        json!({"inputs": "SecretServerClientError"}),
        "an attachment the server cannot find"
    );
}

#[tokio::test]
async fn domain_login() {
    let w = world().await;
    let id = w
        .credential(json!({"username": "dom-user", "password": "Dom-Pa55", "domain": "CORP"}))
        .await;
    assert_eq!(w.reason(id, "1", "password").await, json!({}));
    let fields = form(&w.log.hits()[0].body);
    assert!(fields.contains(&("domain".to_string(), "CORP".to_string())));
    assert!(fields.contains(&("grant_type".to_string(), "password".to_string())));
}

#[tokio::test]
async fn token_errors() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    let bad = w
        .reason_with(id, json!({"password": "wrong"}), "1", "password")
        .await;
    assert_eq!(bad, json!({"inputs": "SecretServerClientError"}));
    for (user, reason) in [
        ("boom", "SecretServerServiceError"),
        ("html", "SecretServerError"),
        ("notoken", "KeyError"),
    ] {
        let r = w
            .reason_with(id, json!({"username": user}), "1", "password")
            .await;
        assert_eq!(r, json!({"inputs": reason}), "{user}");
    }
}

#[tokio::test]
async fn secret_errors() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    for (secret_id, reason) in [
        ("2", "SecretServerClientError"),
        ("404", "SecretServerClientError"),
        ("4", "SecretServerServiceError"),
        ("5", "SecretServerError"),
        ("6", "KeyError"),
    ] {
        assert_eq!(
            w.reason(id, secret_id, "password").await,
            json!({"inputs": reason}),
            "secret {secret_id}"
        );
    }
}

#[tokio::test]
async fn missing_fields_and_inputs() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(
        w.reason(id, "1", "nope").await,
        json!({"inputs": "KeyError"})
    );
    assert_eq!(
        w.reason(id, "1", "pin").await,
        json!({"inputs": "AttributeError"}),
        "a value that is not text"
    );
    assert_eq!(
        w.reason(id, "1", "bare").await,
        json!({"inputs": "AttributeError"}),
        "an item without itemValue"
    );
    let no_id = w
        .app
        .post(
            As::Admin,
            &format!("/api/v2/credentials/{id}/test/"),
            json!({"metadata": {"secret_field": "password"}}),
        )
        .await;
    assert_eq!(no_id.body, json!({"inputs": "KeyError"}));

    let before = w.log.paths().len();
    assert_eq!(
        w.reason(id, "1/fields/private-key", "password").await,
        json!({"inputs": "SecretServerClientError"})
    );
    assert!(
        !w.log.paths()[before..]
            .iter()
            .any(|p| p.contains("/secrets/")),
        "a secret id that is not an integer is not sent"
    );
}

#[tokio::test]
async fn redirects_stay_on_the_server() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(w.reason(id, "7", "password").await, json!({}));
    assert!(w.log.paths().ends_with(&[
        "/SecretServer/api/v1/secrets/7".to_string(),
        "/SecretServer/api/v1/secrets/1".to_string()
    ]));
    assert_eq!(
        w.reason(id, "8", "password").await,
        json!({"inputs": "SecretServerServiceError"}),
        "a redirect to another host is not followed"
    );
}

#[tokio::test]
async fn urls_and_connection_errors() {
    let w = world().await;
    let slash = w
        .credential(json!({"server_url": format!("{}/", w.url)}))
        .await;
    assert_eq!(w.reason(slash, "1", "password").await, json!({}));
    assert!(w.log.paths().iter().all(|p| !p.contains("//")));

    let id = w.credential(json!({})).await;
    let refused = w
        .reason_with(
            id,
            json!({"server_url": refused_url().await}),
            "1",
            "password",
        )
        .await;
    assert_eq!(refused, json!({"inputs": "ConnectionError"}));
    let no_scheme = w
        .reason_with(
            id,
            json!({"server_url": "secretserver.local/SecretServer"}),
            "1",
            "password",
        )
        .await;
    assert_eq!(no_scheme, json!({"inputs": "MissingSchema"}));

    let type_test = w
        .app
        .post(
            As::Admin,
            &format!("/api/v2/credential_types/{}/test/", w.ty),
            json!({"inputs": {"server_url": w.url, "username": "svc"},
                   "metadata": {"secret_id": "1", "secret_field": "password"}}),
        )
        .await;
    assert_eq!(type_test.body, json!({"inputs": "KeyError"}), "no password");
}
