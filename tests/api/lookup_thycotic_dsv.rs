//! Thycotic (Delinea) DevOps Secrets Vault lookups (`thycotic_dsv`, plugins.md §4.9)
//! against an in-repo test double. The backend's base URL is normally
//! `https://{tenant}.secretsvaultcloud.{tld}`; the tests aim it at the double through
//! `CREDSTORE_DSV_BASE_URL=http://127.0.0.1:PORT/{tenant}/{tld}`, so the double also sees
//! which tenant and TLD were used. The variable is process-wide: every test holds
//! `common::lookup_env` while it sets it and runs lookups.

use crate::common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use common::{As, TestApp};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "dsv-client";
const CLIENT_SECRET: &str = "Dsv-Client-Secret";
const TOKEN: &str = "dsv-token-1";
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
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn token(
    State(log): State<Log>,
    Path((tenant, tld)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    log.push(&format!("/{tenant}/{tld}/v1/token"), &headers, &body);
    let expected = json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials"});
    let sent: Value = serde_json::from_str(&body).unwrap_or_default();
    match tenant.as_str() {
        "down" => json_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "maintenance"}),
        ),
        "plain" => (StatusCode::UNAUTHORIZED, "unauthorized").into_response(),
        "notoken" => json_reply(StatusCode::OK, json!({"tokenType": "bearer"})),
        _ if sent == expected => json_reply(
            StatusCode::OK,
            json!({"accessToken": TOKEN, "tokenType": "bearer", "expiresIn": 3600}),
        ),
        _ => json_reply(
            StatusCode::BAD_REQUEST,
            json!({"code": 400, "message": "unable to authenticate"}),
        ),
    }
}

async fn read_secret(
    State(log): State<Log>,
    Path((tenant, tld, path)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    log.push(&format!("/{tenant}/{tld}/v1/secrets/{path}"), &headers, "");
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"code": 401, "message": "invalid token"}),
        );
    }
    match path.as_str() {
        "test/secret1" => json_reply(
            StatusCode::OK,
            json!({"id": "0d2b2f2c", "path": "test:secret1", "attributes": {}, "description": "",
                   "data": {"password": "Dsv-Secret-1", "ssh_key": b64(KEY_TEXT.as_bytes()),
                            "wrapped": b64(b"Wrapped-Secret").chars().collect::<Vec<_>>().chunks(4)
                                .map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("\n"),
                            "bad_b64": "Zm9vYmE", "latin1": b64(&[0xe9, 0x74, 0xe9]),
                            "accented": "é", "port": 5432},
                   "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z",
                   "createdBy": "users:admin", "lastModifiedBy": "users:admin", "version": "1"}),
        ),
        "forbidden" => json_reply(
            StatusCode::FORBIDDEN,
            json!({"code": 403, "message": "not authorized"}),
        ),
        "broken" => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "internal error"}),
        ),
        "garbled" => (StatusCode::OK, "<html>oops</html>").into_response(),
        "nodata" => json_reply(StatusCode::OK, json!({"id": "x", "path": "nodata"})),
        _ => json_reply(
            StatusCode::NOT_FOUND,
            json!({"code": 404, "message": "unable to find item with specified identifier"}),
        ),
    }
}

/// Starts the double on a free loopback port; returns the override template.
async fn vault() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/{tenant}/{tld}/v1/token", post(token))
        .route("/{tenant}/{tld}/v1/secrets/{*path}", get(read_secret))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/{{tenant}}/{{tld}}"), log)
}

struct World {
    app: TestApp,
    org: i64,
    ty: i64,
    log: Log,
    _env: common::LookupEnv,
}

async fn world() -> World {
    let env = common::lookup_env().await;
    let (template, log) = vault().await;
    std::env::set_var("CREDSTORE_DSV_BASE_URL", template);
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let ty = app.type_id("thycotic_dsv").await;
    World {
        app,
        org,
        ty,
        log,
        _env: env,
    }
}

impl World {
    async fn credential(&self, inputs: Value) -> i64 {
        let mut all = json!({"tenant": "acme", "tld": "com", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
        for (k, v) in inputs.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                all.as_object_mut().unwrap().remove(&k);
            } else {
                all[k] = v;
            }
        }
        let name = format!("dsv-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": name, "organization": self.org, "credential_type": self.ty, "inputs": all}),
            )
            .await
    }

    async fn test(&self, id: i64, body: Value) -> Value {
        let r = self
            .app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await;
        assert!(
            !r.raw.contains("Dsv-") && !r.raw.contains("PRIVATE KEY"),
            "{}",
            r.raw
        );
        r.body
    }

    /// The test endpoint's answer for one field, without decoding.
    async fn reason(&self, id: i64, path: &str, field: &str) -> Value {
        self.test(
            id,
            json!({"metadata": {"path": path, "secret_field": field, "secret_decoding": "No Decoding"}}),
        )
        .await
    }

    /// The test endpoint's answer for one field, base64-decoded.
    async fn decoded(&self, id: i64, field: &str) -> Value {
        self.test(
            id,
            json!({"metadata": {"path": "/test/secret1", "secret_field": field, "secret_decoding": "Decode Base64"}}),
        )
        .await
    }
}

/// Runs the backend directly, to see the value it returns.
async fn value(field: &str, decoding: &str) -> Result<String, String> {
    let mut kw = credstore::plugins::Kwargs::default();
    for (k, v) in [
        ("tenant", "acme"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("path", "/test/secret1"),
        ("secret_field", field),
        ("secret_decoding", decoding),
    ] {
        kw.set_json(k, &json!(v));
    }
    credstore::plugins::lookup("thycotic_dsv", &kw)
        .await
        .map(|s| s.expose_secret().to_string())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn reads_a_field() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(w.reason(id, "/test/secret1", "password").await, json!({}));
    let hits = w.log.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].path, "/acme/com/v1/token");
    assert_eq!(
        serde_json::from_str::<Value>(&hits[0].body).unwrap(),
        json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials"})
    );
    assert_eq!(
        hits[1].path, "/acme/com/v1/secrets/test/secret1",
        "leading / dropped"
    );
    assert_eq!(hits[1].authorization, format!("Bearer {TOKEN}"));

    assert_eq!(
        value("password", "No Decoding").await.as_deref(),
        Ok("Dsv-Secret-1")
    );
    assert_eq!(value("port", "No Decoding").await.as_deref(), Ok("5432"));
    let undecoded = w
        .test(
            id,
            json!({"metadata": {"path": "test/secret1", "secret_field": "ssh_key"}}),
        )
        .await;
    assert_eq!(undecoded, json!({}), "secret_decoding defaults to none");
}

#[tokio::test]
async fn tld_choices_reach_the_url() {
    let w = world().await;
    for tld in ["ca", "com", "com.au", "eu"] {
        let id = w.credential(json!({"tld": tld})).await;
        assert_eq!(w.reason(id, "test/secret1", "password").await, json!({}));
        assert_eq!(
            w.log.hits().last().unwrap().path,
            format!("/acme/{tld}/v1/secrets/test/secret1")
        );
    }
    let default = w
        .credential(json!({"tenant": "other-tenant", "tld": null}))
        .await;
    assert_eq!(
        w.reason(default, "test/secret1", "password").await,
        json!({})
    );
    assert_eq!(
        w.log.hits().last().unwrap().path,
        "/other-tenant/com/v1/secrets/test/secret1",
        "tld defaults to com"
    );

    let type_test = format!("/api/v2/credential_types/{}/test/", w.ty);
    for inputs in [
        json!({"tenant": "acme", "tld": "org"}),
        json!({"tenant": "evil.example/x?", "tld": "com"}),
    ] {
        let mut inputs = inputs;
        inputs["client_id"] = json!(CLIENT_ID);
        inputs["client_secret"] = json!(CLIENT_SECRET);
        let r = w
            .app
            .post(
                As::Admin,
                &type_test,
                json!({"inputs": inputs, "metadata": {"path": "test/secret1", "secret_field": "password"}}),
            )
            .await;
        assert_eq!(r.body, json!({"inputs": "InvalidURL"}), "{inputs}");
    }
}

#[tokio::test]
async fn base64_decoding() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(w.decoded(id, "ssh_key").await, json!({}));
    assert_eq!(
        value("ssh_key", "Decode Base64").await.as_deref(),
        Ok(KEY_TEXT)
    );
    assert_eq!(
        value("wrapped", "Decode Base64").await.as_deref(),
        Ok("Wrapped-Secret"),
        "line breaks are skipped"
    );
    for (field, reason) in [
        ("bad_b64", "Error"),
        ("latin1", "UnicodeDecodeError"),
        ("accented", "ValueError"),
        ("port", "TypeError"),
        ("nope", "KeyError"),
    ] {
        assert_eq!(
            w.decoded(id, field).await,
            json!({"inputs": reason}),
            "{field}"
        );
    }
}

#[tokio::test]
async fn bad_credentials_and_token_answers() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    let wrong = w
        .test(
            id,
            json!({"inputs": {"client_secret": "wrong"}, "metadata": {"path": "test/secret1", "secret_field": "password"}}),
        )
        .await;
    assert_eq!(wrong, json!({"inputs": "SecretsVaultAccessError"}));
    for (tenant, reason) in [
        ("down", "SecretsVaultError"),
        ("plain", "SecretsVaultError"),
        ("notoken", "KeyError"),
    ] {
        let r = w
            .test(
                id,
                json!({"inputs": {"tenant": tenant}, "metadata": {"path": "test/secret1", "secret_field": "password"}}),
            )
            .await;
        assert_eq!(r, json!({"inputs": reason}), "{tenant}");
    }
}

#[tokio::test]
async fn secret_errors() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    for (path, field, reason) in [
        ("forbidden", "password", "SecretsVaultAccessError"),
        ("missing/secret", "password", "SecretsVaultAccessError"),
        ("broken", "password", "SecretsVaultError"),
        ("garbled", "password", "SecretsVaultError"),
        ("nodata", "password", "KeyError"),
        ("test/secret1", "nope", "KeyError"),
    ] {
        assert_eq!(
            w.reason(id, path, field).await,
            json!({"inputs": reason}),
            "{path} {field}"
        );
    }
    let no_path = w
        .test(id, json!({"metadata": {"secret_field": "password"}}))
        .await;
    assert_eq!(no_path, json!({"inputs": "KeyError"}));
}

#[tokio::test]
async fn connection_refused() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    std::env::set_var(
        "CREDSTORE_DSV_BASE_URL",
        format!("http://{addr}/{{tenant}}"),
    );
    assert_eq!(
        w.reason(id, "test/secret1", "password").await,
        json!({"inputs": "ConnectionError"})
    );
}
