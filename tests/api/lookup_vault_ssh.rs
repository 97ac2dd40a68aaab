//! HashiCorp Vault signed SSH certificates (`hashivault_ssh`, plugins.md §4.2 and §6)
//! against an in-repo Vault double: the KV backend's authentication reused (token, AppRole,
//! namespace header), the sign request (URL, headers, body), `data.signed_key` passed through
//! unchanged, the `//` redirect, the 412 retry, HTTP errors, TLS with a CA, and refused
//! connections.

use crate::common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use common::{As, TestApp};
use credstore::plugins::{lookup, Kwargs};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SIGNED: &str = "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQ= vault-signed\n";
const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq7 deploy@awx";

/// One request the double saw.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    namespace: Option<String>,
    token: Option<String>,
    bearer: Option<String>,
    content_type: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Vault {
    seen: Arc<Mutex<Vec<Seen>>>,
    flaky: Arc<AtomicUsize>,
}

impl Vault {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn last(&self) -> Seen {
        self.seen().last().cloned().expect("a request")
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn errors(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"errors": [message]}))).into_response()
}

/// The double: `//` redirects, AppRole login, token check, and `POST /v1/{mount}/sign/{role}`
/// on the mounts `ssh` and `ssh-client-signer`.
async fn vault_handler(
    State(v): State<Vault>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    v.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        namespace: header(&headers, "x-vault-namespace"),
        token: header(&headers, "x-vault-token"),
        bearer: header(&headers, "authorization"),
        content_type: header(&headers, "content-type"),
        body: body.clone(),
    });
    if path.contains("//") {
        let mut clean = path.clone();
        while clean.contains("//") {
            clean = clean.replace("//", "/");
        }
        return (StatusCode::MOVED_PERMANENTLY, [("location", clean)]).into_response();
    }
    if method == Method::POST && path == "/v1/auth/approle/login" {
        return if body == json!({"role_id": "r1", "secret_id": "s1"}) {
            Json(json!({"auth": {"client_token": "hvs.approle", "renewable": true}}))
                .into_response()
        } else {
            errors(StatusCode::BAD_REQUEST, "invalid role or secret ID")
        };
    }
    let token = header(&headers, "x-vault-token").unwrap_or_default();
    let bearer = header(&headers, "authorization").unwrap_or_default();
    if !["hvs.root", "hvs.approle"].contains(&token.as_str()) || bearer != format!("Bearer {token}")
    {
        return errors(StatusCode::FORBIDDEN, "permission denied");
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["v1", mount, "sign", role] = parts.as_slice() else {
        return (StatusCode::NOT_FOUND, Json(json!({"errors": []}))).into_response();
    };
    if method != Method::POST || !["ssh", "ssh-client-signer"].contains(mount) {
        return (StatusCode::NOT_FOUND, Json(json!({"errors": []}))).into_response();
    }
    if body
        .get("public_key")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return errors(StatusCode::BAD_REQUEST, "missing public_key");
    }
    let signed = json!({"request_id": "r", "lease_id": "", "renewable": false,
        "data": {"serial_number": "3a:5f", "signed_key": SIGNED}, "warnings": null});
    match *role {
        "awx" => Json(signed).into_response(),
        // Replication lag once, then the answer.
        "lagging" if v.flaky.fetch_add(1, Ordering::SeqCst) == 0 => errors(
            StatusCode::PRECONDITION_FAILED,
            "required index state not present",
        ),
        "lagging" => Json(signed).into_response(),
        "empty" => Json(json!({"data": {"serial_number": "3a:5f"}})).into_response(),
        "sealed" => errors(StatusCode::SERVICE_UNAVAILABLE, "Vault is sealed"),
        other => errors(StatusCode::BAD_REQUEST, &format!("Unknown role: {other}")),
    }
}

fn router(v: &Vault) -> Router {
    Router::new().fallback(vault_handler).with_state(v.clone())
}

async fn vault_http(v: &Vault) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(v);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct World {
    app: TestApp,
    org: i64,
    ty: i64,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let ty = app.type_id("hashivault_ssh").await;
    World { app, org, ty }
}

impl World {
    async fn cred(&self, inputs: Value) -> i64 {
        use std::sync::atomic::AtomicU64;
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("ssh-ca-{}", N.fetch_add(1, Ordering::Relaxed));
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": name, "organization": self.org, "credential_type": self.ty,
                       "inputs": inputs}),
            )
            .await
    }

    async fn test(&self, id: i64, metadata: Value) -> common::Reply {
        self.app
            .post(
                As::Admin,
                &format!("/api/v2/credentials/{id}/test/"),
                json!({"metadata": metadata}),
            )
            .await
    }
}

fn sign(role: &str) -> Value {
    json!({"public_key": PUBLIC_KEY, "secret_path": "ssh", "role": role})
}

fn kwargs(pairs: &[(&str, Value)]) -> Kwargs {
    let mut k = Kwargs::default();
    for (key, value) in pairs {
        k.set_json(key, value);
    }
    k
}

#[tokio::test]
async fn signs_with_a_token() {
    let v = Vault::default();
    let url = vault_http(&v).await;
    let w = world().await;
    let id = w.cred(json!({"url": url, "token": "hvs.root"})).await;
    let ok = w.test(id, sign("awx")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(ok.body, json!({}));
    assert!(!ok.raw.contains("cert-v01"));
    let seen = v.last();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v1/ssh/sign/awx");
    assert_eq!(seen.token.as_deref(), Some("hvs.root"));
    assert_eq!(seen.bearer.as_deref(), Some("Bearer hvs.root"));
    assert_eq!(seen.content_type.as_deref(), Some("application/json"));
    assert_eq!(seen.namespace, None);
    assert_eq!(
        seen.body,
        json!({"public_key": PUBLIC_KEY}),
        "no principals sent"
    );

    let mut with_principals = sign("awx");
    with_principals["valid_principals"] = json!("deploy,root");
    assert_eq!(
        w.test(id, with_principals).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        v.last().body,
        json!({"public_key": PUBLIC_KEY, "valid_principals": "deploy,root"})
    );
    let mut empty_principals = sign("awx");
    empty_principals["valid_principals"] = json!("");
    assert_eq!(
        w.test(id, empty_principals).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(v.last().body, json!({"public_key": PUBLIC_KEY}));

    // The certificate comes back unchanged, trailing newline included.
    let got = lookup(
        "hashivault_ssh",
        &kwargs(&[
            ("url", json!(url)),
            ("token", json!("hvs.root")),
            ("public_key", json!(PUBLIC_KEY)),
            ("secret_path", json!("ssh-client-signer")),
            ("role", json!("awx")),
        ]),
    )
    .await
    .map(|s| s.expose_secret().to_string());
    assert_eq!(got, Ok(SIGNED.to_string()));
    assert_eq!(v.last().path, "/v1/ssh-client-signer/sign/awx");

    // A base URL keeps its path only with a trailing slash (URL-join of `v1`).
    let prefixed = w
        .cred(json!({"url": format!("{url}/vault/"), "token": "hvs.root"}))
        .await;
    assert_eq!(
        w.test(prefixed, sign("awx")).await.body,
        json!({"inputs": "HTTP 404"})
    );
    assert_eq!(v.last().path, "/vault/v1/ssh/sign/awx");
    let dropped = w
        .cred(json!({"url": format!("{url}/vault"), "token": "hvs.root"}))
        .await;
    assert_eq!(
        w.test(dropped, sign("awx")).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(v.last().path, "/v1/ssh/sign/awx");
}

#[tokio::test]
async fn approle_login_and_namespace() {
    let v = Vault::default();
    let url = vault_http(&v).await;
    let w = world().await;
    let id = w
        .cred(json!({"url": url, "role_id": "r1", "secret_id": "s1",
                     "default_auth_path": "approle", "namespace": "team-a"}))
        .await;
    let ok = w.test(id, sign("awx")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    let seen = v.seen();
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        ["/v1/auth/approle/login", "/v1/ssh/sign/awx"]
    );
    assert!(seen
        .iter()
        .all(|s| s.namespace.as_deref() == Some("team-a")));
    assert_eq!(seen[0].token, None, "no token header on login");
    assert_eq!(seen[1].token.as_deref(), Some("hvs.approle"));

    // `auth_path` in the link overrides the stored default.
    let mut via_link = sign("awx");
    via_link["auth_path"] = json!("approle");
    let no_default = w
        .cred(json!({"url": url, "role_id": "r1", "secret_id": "s1"}))
        .await;
    assert_eq!(
        w.test(no_default, via_link).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        w.test(no_default, sign("awx")).await.body,
        json!({"inputs": "KeyError"}),
        "no auth_path and no default_auth_path"
    );
    let bad = w
        .cred(json!({"url": url, "role_id": "r1", "secret_id": "nope",
                     "default_auth_path": "approle"}))
        .await;
    assert_eq!(
        w.test(bad, sign("awx")).await.body,
        json!({"inputs": "HTTP 400"})
    );
    let nothing = w.cred(json!({"url": url})).await;
    assert_eq!(
        w.test(nothing, sign("awx")).await.body,
        json!({"inputs": "Exception"})
    );
}

#[tokio::test]
async fn errors_as_awx_reports_them() {
    let v = Vault::default();
    let url = vault_http(&v).await;
    let w = world().await;
    let id = w.cred(json!({"url": url, "token": "hvs.root"})).await;
    let cases = [
        (sign("nobody"), "HTTP 400"),
        (
            json!({"public_key": PUBLIC_KEY, "secret_path": "pki", "role": "awx"}),
            "HTTP 404",
        ),
        (
            json!({"public_key": PUBLIC_KEY, "secret_path": "/ssh/", "role": "awx"}),
            "HTTP 301",
        ),
        (sign("sealed"), "HTTP 503"),
        (sign("empty"), "KeyError"),
        (
            json!({"public_key": PUBLIC_KEY, "secret_path": "ssh"}),
            "KeyError",
        ),
        (json!({"secret_path": "ssh", "role": "awx"}), "KeyError"),
        (json!({"public_key": PUBLIC_KEY, "role": "awx"}), "KeyError"),
    ];
    for (metadata, want) in cases {
        let r = w.test(id, metadata.clone()).await;
        assert_eq!(r.body, json!({"inputs": want}), "{metadata}");
    }
    assert_eq!(
        v.seen()
            .iter()
            .find(|s| s.path.contains("//"))
            .map(|s| s.path.clone()),
        Some("/v1//ssh//sign/awx".to_string()),
        "plain string joining, the redirect not followed"
    );
    let wrong_token = w.cred(json!({"url": url, "token": "hvs.bad"})).await;
    assert_eq!(
        w.test(wrong_token, sign("awx")).await.body,
        json!({"inputs": "HTTP 403"})
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = w
        .cred(json!({"url": format!("http://127.0.0.1:{port}"), "token": "hvs.root"}))
        .await;
    assert_eq!(
        w.test(down, sign("awx")).await.body,
        json!({"inputs": "ConnectionError"})
    );
}

#[tokio::test]
async fn retries_a_412_once_then_succeeds() {
    let v = Vault::default();
    let url = vault_http(&v).await;
    let w = world().await;
    let id = w.cred(json!({"url": url, "token": "hvs.root"})).await;
    let started = std::time::Instant::now();
    let ok = w.test(id, sign("lagging")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(v.seen().len(), 2);
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

#[tokio::test]
async fn tls_with_a_ca() {
    let pki = common::tls::pki();
    let v = Vault::default();
    let url = common::tls::serve(router(&v), false).await;
    let w = world().await;
    let trusted = w
        .cred(json!({"url": url, "token": "hvs.root", "cacert": pki.ca}))
        .await;
    let ok = w.test(trusted, sign("awx")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(v.last().path, "/v1/ssh/sign/awx");
    let wrong_ca = w
        .cred(json!({"url": url, "token": "hvs.root", "cacert": pki.other_ca}))
        .await;
    assert_eq!(
        w.test(wrong_ca, sign("awx")).await.body,
        json!({"inputs": "SSLError"})
    );
    let no_ca = w.cred(json!({"url": url, "token": "hvs.root"})).await;
    assert_eq!(
        w.test(no_ca, sign("awx")).await.body,
        json!({"inputs": "SSLError"})
    );
    assert_eq!(v.seen().len(), 1);
}
