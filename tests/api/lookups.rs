//! External lookups against an in-repo HashiCorp Vault test double (api.md §6, plugins.md
//! §4.1 and §6): the test endpoints, every auth method the double speaks, KV v1 and v2,
//! the error strings AWX reports, and the resolution of a credential's effective inputs.

use crate::common;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{As, TestApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the double saw: the namespace header of every request.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Option<String>>>>);

fn token_ok(headers: &HeaderMap) -> bool {
    let token = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ["hvs.root", "hvs.approle", "hvs.user"].contains(&token) && bearer == format!("Bearer {token}")
}

fn record(seen: &Seen, headers: &HeaderMap) {
    let ns = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Ok(mut s) = seen.0.lock() {
        s.push(ns);
    }
}

async fn approle(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    record(&seen, &headers);
    if body == json!({"role_id": "r1", "secret_id": "s1"}) {
        (
            StatusCode::OK,
            Json(json!({"auth": {"client_token": "hvs.approle"}})),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["invalid role or secret ID"]})),
        )
    }
}

async fn userpass(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Path(user): Path<String>,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    record(&seen, &headers);
    if user == "ann" && body == json!({"username": "ann", "password": "pw"}) {
        (
            StatusCode::OK,
            Json(json!({"auth": {"client_token": "hvs.user"}})),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["invalid username or password"]})),
        )
    }
}

async fn read(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Path(path): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    record(&seen, &headers);
    if !token_ok(&headers) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"errors": ["permission denied"]})),
        );
    }
    let versions = [json!({"password": "old"}), json!({"password": "new"})];
    match path.as_str() {
        "kv/app" => (
            StatusCode::OK,
            Json(json!({"data": {"password": "v1-secret"}, "lease_duration": 2764800})),
        ),
        "secret/data/app" => {
            let v: usize = q.get("version").and_then(|v| v.parse().ok()).unwrap_or(2);
            match versions.get(v.wrapping_sub(1)) {
                Some(d) => (
                    StatusCode::OK,
                    Json(json!({"data": {"data": d, "metadata": {"version": v}}})),
                ),
                None => (StatusCode::NOT_FOUND, Json(json!({"errors": []}))),
            }
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"errors": []}))),
    }
}

async fn kubernetes(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    record(&seen, &headers);
    if body == json!({"role": "awx", "jwt": "service-account-jwt"}) {
        (
            StatusCode::OK,
            Json(json!({"auth": {"client_token": "hvs.root"}})),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["invalid jwt"]})),
        )
    }
}

/// TLS-certificate login: the TLS layer already refused peers without a certificate from
/// the test CA, so reaching this route means the certificate was presented.
async fn cert_login(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    record(&seen, &headers);
    if body == json!({"name": "web"}) {
        (
            StatusCode::OK,
            Json(json!({"auth": {"client_token": "hvs.root"}})),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": ["unknown role"]})),
        )
    }
}

fn vault_router(seen: &Seen) -> Router {
    Router::new()
        .route("/v1/auth/approle/login", post(approle))
        .route("/v1/auth/userpass/login/{user}", post(userpass))
        .route("/v1/auth/kubernetes/login", post(kubernetes))
        .route("/v1/auth/cert/login", post(cert_login))
        .route("/v1/{*path}", get(read))
        .with_state(seen.clone())
}

/// Starts the double on a free loopback port; returns its base URL.
async fn vault() -> (String, Seen) {
    let seen = Seen::default();
    let app = vault_router(&seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

struct World {
    app: TestApp,
    org: i64,
    hv_type: i64,
    url: String,
    seen: Seen,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let (url, seen) = vault().await;
    let org = app.org("o").await;
    let hv_type = app.type_id("hashivault_kv").await;
    World {
        app,
        org,
        hv_type,
        url,
        seen,
    }
}

impl World {
    async fn hv(&self, name: &str, inputs: Value) -> i64 {
        let mut inputs = inputs;
        inputs["url"] = json!(self.url);
        self.app
            .create("/api/v2/credentials/", json!({"name": name, "organization": self.org, "credential_type": self.hv_type, "inputs": inputs}))
            .await
    }

    /// Makes `ann` (password `pw-ann`) a member of the organization.
    async fn member_ann(&self) -> i64 {
        let ann = self.app.user("ann").await;
        self.app
            .post(
                As::Admin,
                &format!("/api/v2/organizations/{}/users/", self.org),
                json!({"id": ann}),
            )
            .await;
        ann
    }

    /// Grants `user` the credential's role `role` (`read_role`, `use_role`, ...).
    async fn grant(&self, credential: i64, role: &str, user: i64) {
        let c = self
            .app
            .get(As::Admin, &format!("/api/v2/credentials/{credential}/"))
            .await;
        let role = c.body["summary_fields"]["object_roles"][role]["id"]
            .as_i64()
            .unwrap();
        let r = self
            .app
            .post(
                As::Admin,
                &format!("/api/v2/roles/{role}/users/"),
                json!({"id": user}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }
}

fn v1(key: &str) -> Value {
    json!({"metadata": {"secret_path": "/kv/app", "secret_key": key}})
}

#[tokio::test]
async fn token_and_kv_v1() {
    let w = world().await;
    let id = w
        .hv("t", json!({"token": "hvs.root", "api_version": "v1"}))
        .await;
    let ok = w.test(id, v1("password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(ok.body, json!({}));
    let missing_key = w.test(id, v1("nope")).await;
    assert_eq!(missing_key.body, json!({"inputs": "RuntimeError"}));
    let missing_path = w
        .test(
            id,
            json!({"metadata": {"secret_path": "/kv/none", "secret_key": "password"}}),
        )
        .await;
    assert_eq!(missing_path.body, json!({"inputs": "HTTP 404"}));
    let wrong_token = w.test(id, json!({"inputs": {"token": "hvs.bad"}, "metadata": {"secret_path": "/kv/app", "secret_key": "password"}})).await;
    assert_eq!(wrong_token.body, json!({"inputs": "HTTP 403"}));
    let kept = w.test(id, json!({"inputs": {"token": "$encrypted$"}, "metadata": {"secret_path": "/kv/app", "secret_key": "password"}})).await;
    assert_eq!(
        kept.status,
        StatusCode::ACCEPTED,
        "`$encrypted$` means the stored token"
    );
    assert!(!kept.raw.contains("v1-secret") && !ok.raw.contains("v1-secret"));
}

#[tokio::test]
async fn kv_v2_versions() {
    let w = world().await;
    let id = w
        .hv("t", json!({"token": "hvs.root", "api_version": "v2"}))
        .await;
    let latest = w
        .test(
            id,
            json!({"metadata": {"secret_path": "/secret/app", "secret_key": "password"}}),
        )
        .await;
    assert_eq!(latest.status, StatusCode::ACCEPTED, "{}", latest.raw);
    let v1 = w.test(id, json!({"metadata": {"secret_path": "app", "secret_backend": "secret", "secret_key": "password", "secret_version": "1"}})).await;
    assert_eq!(v1.status, StatusCode::ACCEPTED, "{}", v1.raw);
    let gone = w.test(id, json!({"metadata": {"secret_path": "/secret/app", "secret_key": "password", "secret_version": "9"}})).await;
    assert_eq!(gone.body, json!({"inputs": "HTTP 404"}));
}

#[tokio::test]
async fn approle_userpass_and_namespace() {
    let w = world().await;
    let approle = w.hv("a", json!({"role_id": "r1", "secret_id": "s1", "default_auth_path": "approle", "namespace": "team-a"})).await;
    assert_eq!(
        w.test(approle, v1("password")).await.status,
        StatusCode::ACCEPTED
    );
    assert!(
        w.seen
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|ns| ns.as_deref() == Some("team-a")),
        "namespace on login and read"
    );
    let wrong = w.test(approle, json!({"inputs": {"secret_id": "bad"}, "metadata": {"secret_path": "/kv/app", "secret_key": "password"}})).await;
    assert_eq!(wrong.body, json!({"inputs": "HTTP 400"}));
    let user = w
        .hv("u", json!({"username": "ann", "password": "pw"}))
        .await;
    let r = w.test(user, json!({"metadata": {"secret_path": "/kv/app", "secret_key": "password", "auth_path": "userpass"}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.raw);
    let no_path = w.test(user, v1("password")).await;
    assert_eq!(
        no_path.body,
        json!({"inputs": "KeyError"}),
        "no auth_path and no default_auth_path stored"
    );
    let nothing = w.hv("n", json!({})).await;
    assert_eq!(
        w.test(nothing, v1("password")).await.body,
        json!({"inputs": "Exception"})
    );
}

#[tokio::test]
async fn unreachable_servers_and_non_external_credentials() {
    let w = world().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let id = w
        .app
        .create(
            "/api/v2/credentials/",
            json!({"name": "down", "organization": w.org, "credential_type": w.hv_type,
                "inputs": {"url": format!("http://127.0.0.1:{port}"), "token": "t"}}),
        )
        .await;
    assert_eq!(
        w.test(id, v1("password")).await.body,
        json!({"inputs": "ConnectionError"})
    );
    let ssh = w.app.create("/api/v2/credentials/", json!({"name": "s", "organization": w.org, "credential_type": w.app.type_id("ssh").await})).await;
    assert_eq!(
        w.test(ssh, json!({})).await.body,
        json!({"inputs": "AttributeError"})
    );
}

#[tokio::test]
async fn permissions_of_the_test_endpoints() {
    let w = world().await;
    let id = w.hv("t", json!({"token": "hvs.root"})).await;
    let ann = w.member_ann().await;
    w.grant(id, "read_role", ann).await;
    let as_ann = As::Basic("ann", "pw-ann");
    assert_eq!(
        w.app
            .post(
                as_ann,
                &format!("/api/v2/credentials/{id}/test/"),
                v1("password")
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        w.app
            .get(as_ann, &format!("/api/v2/credentials/{id}/test/"))
            .await
            .body,
        json!({})
    );
    w.grant(id, "use_role", ann).await;
    assert_eq!(
        w.app
            .post(
                as_ann,
                &format!("/api/v2/credentials/{id}/test/"),
                v1("password")
            )
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let type_test = format!("/api/v2/credential_types/{}/test/", w.hv_type);
    let body = json!({"inputs": {"url": w.url, "token": "hvs.root"}, "metadata": {"secret_path": "/kv/app", "secret_key": "password"}});
    assert_eq!(
        w.app.post(As::Admin, &type_test, body.clone()).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        w.app.post(as_ann, &type_test, body).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn effective_inputs_fetch_linked_fields() {
    let w = world().await;
    let hv = w.hv("t", json!({"token": "hvs.root"})).await;
    let ssh = w
        .app
        .create("/api/v2/credentials/", json!({"name": "s", "organization": w.org, "credential_type": w.app.type_id("ssh").await,
                "inputs": {"username": "deploy", "password": "stored"}}))
        .await;
    let link = w
        .app
        .post(As::Admin, "/api/v2/credential_input_sources/", json!({"target_credential": ssh, "source_credential": hv,
              "input_field_name": "password", "metadata": {"secret_path": "/kv/app", "secret_key": "password"}}))
        .await;
    assert_eq!(link.status, StatusCode::CREATED);
    let rendered = common::render(&w.app, ssh).await;
    assert_eq!(rendered.status, StatusCode::OK, "{}", rendered.raw);
    assert_eq!(
        common::answer(&rendered, common::SSH_PASSWORD_PROMPT).as_deref(),
        Some("v1-secret")
    );
    assert_eq!(rendered.body["args"], json!(["-u", "deploy", "--ask-pass"]));
    w.app
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{hv}/"),
            json!({"inputs": {"url": w.url, "token": "hvs.bad"}}),
        )
        .await;
    let failed = common::render(&w.app, ssh).await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST, "{}", failed.raw);
    let text = failed.body["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.contains("password") && text.contains("HashiCorp Vault") && text.contains("HTTP 403"),
        "{text}"
    );
    assert!(!text.contains("hvs.bad"));
}

#[tokio::test]
async fn https_with_a_custom_ca_and_tls_certificate_login() {
    let w = world().await;
    let pki = common::tls::pki();
    let url = common::tls::serve(vault_router(&w.seen), true).await;
    let cred = |name: &str, inputs: Value| {
        let app = &w.app;
        let body = json!({"name": name, "organization": w.org, "credential_type": w.hv_type, "inputs": inputs});
        async move { app.create("/api/v2/credentials/", body).await }
    };
    let good = cred("tls", json!({"url": url, "cacert": pki.ca, "client_cert_public": pki.client_cert,
        "client_cert_private": pki.client_key, "client_cert_role": "web", "default_auth_path": "cert"})).await;
    let r = w.test(good, v1("password")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.raw);
    let wrong_ca = cred(
        "wrong-ca",
        json!({"url": url, "cacert": pki.other_ca, "client_cert_public": pki.client_cert,
        "client_cert_private": pki.client_key, "default_auth_path": "cert"}),
    )
    .await;
    assert_eq!(
        w.test(wrong_ca, v1("password")).await.body,
        json!({"inputs": "SSLError"})
    );
    let no_ca = cred("no-ca", json!({"url": url, "token": "hvs.root"})).await;
    assert_eq!(
        w.test(no_ca, v1("password")).await.body,
        json!({"inputs": "SSLError"}),
        "the test CA is not trusted by default"
    );
}

#[tokio::test]
async fn kubernetes_login_reads_the_service_account_token_file() {
    let _env = common::lookup_env().await;
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "service-account-jwt\n").unwrap();
    std::env::set_var("CREDSTORE_K8S_TOKEN_FILE", &token);
    let id = w
        .hv(
            "k8s",
            json!({"kubernetes_role": "awx", "default_auth_path": "kubernetes"}),
        )
        .await;
    let r = w.test(id, v1("password")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.raw);
    std::fs::write(&token, "wrong").unwrap();
    assert_eq!(
        w.test(id, v1("password")).await.body,
        json!({"inputs": "HTTP 400"})
    );
    std::env::set_var("CREDSTORE_K8S_TOKEN_FILE", dir.path().join("missing"));
    assert_eq!(
        w.test(id, v1("password")).await.body,
        json!({"inputs": "FileNotFoundError"})
    );
}

/// Inputs that make each backend call `base` (http or https) first.
fn inputs_for_every_backend(base: &str, rsa: &str) -> Vec<(&'static str, Value)> {
    // The backends addressed by environment rather than by an input (the caller holds
    // `common::lookup_env`).
    std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", base);
    std::env::set_var(
        "CREDSTORE_DSV_BASE_URL",
        format!("{base}/{{tenant}}/{{tld}}"),
    );
    // Azure vault URLs must be https, whatever the test serves.
    let azure = base.replace("http://", "https://");
    vec![
        (
            "hashivault_kv",
            json!({"url": base, "token": "t", "secret_path": "/kv/a", "secret_key": "k",
                                 "api_version": "v2", "default_auth_path": "approle"}),
        ),
        (
            "hashivault_ssh",
            json!({"url": base, "token": "t", "secret_path": "/ssh", "role": "r",
                                  "public_key": "ssh-ed25519 AAAA"}),
        ),
        (
            "aws_secretsmanager_credential",
            json!({"aws_access_key": "AKIDEXAMPLE", "aws_secret_key": "s",
                                                 "region_name": "us-east-1", "secret_name": "n"}),
        ),
        (
            "azure_kv",
            json!({"url": azure, "client": "c", "secret": "s", "tenant": "t",
                            "secret_field": "f", "cloud_name": "AzureCloud"}),
        ),
        (
            "aim",
            json!({"url": base, "app_id": "a", "object_query": "Safe=s;Object=o",
                       "object_query_format": "Exact", "verify": true}),
        ),
        (
            "conjur",
            json!({"url": base, "api_key": "k", "account": "a", "username": "u",
                          "secret_path": "p"}),
        ),
        (
            "centrify_vault_kv",
            json!({"url": base, "client_id": "c", "client_password": "p",
                                     "system-name": "s", "account-name": "a"}),
        ),
        (
            "thycotic_tss",
            json!({"server_url": base, "username": "u", "password": "p",
                                "secret_id": "1", "secret_field": "password"}),
        ),
        (
            "thycotic_dsv",
            json!({"tenant": "t", "tld": "com", "client_id": "c", "client_secret": "s",
                                "path": "p", "secret_field": "f"}),
        ),
        (
            "github_app_lookup",
            json!({"github_api_url": base, "app_or_client_id": "1",
                                     "install_id": "2", "private_rsa_key": rsa}),
        ),
    ]
}

async fn lookup_with(
    namespace: &str,
    inputs: &Value,
    limit: std::time::Duration,
) -> credstore::plugins::LookupError {
    let mut kwargs = credstore::plugins::Kwargs::default();
    kwargs.extend_json(inputs.as_object().unwrap());
    credstore::plugins::lookup_within(namespace, &kwargs, limit)
        .await
        .expect_err(namespace)
}

/// Two failures every backend must report as AWX does, in one test because both point
/// the environment-addressed backends somewhere: a server that accepts the connection and
/// never answers (the real budget is 30 s; the test uses a short one), and a TLS server
/// whose certificate nobody trusts (`SSLError`; Azure's plugin wraps every SDK failure
/// in `RuntimeError`).
#[tokio::test]
async fn every_backend_reports_timeouts_and_untrusted_certificates() {
    let _env = common::lookup_env().await;
    let rsa = common::rsa_private_key();
    let silent = common::silent_server().await;
    for (namespace, inputs) in inputs_for_every_backend(&silent, &rsa) {
        let started = std::time::Instant::now();
        let err = lookup_with(namespace, &inputs, std::time::Duration::from_millis(300)).await;
        assert!(
            matches!(err, credstore::plugins::LookupError::Timeout(_)),
            "{namespace}: {err:?}"
        );
        assert!(err.to_string().contains("timed out"), "{namespace}: {err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{namespace}"
        );
    }
    let untrusted = common::tls::serve(Router::new(), false).await;
    for (namespace, inputs) in inputs_for_every_backend(&untrusted, &rsa) {
        let err = lookup_with(namespace, &inputs, std::time::Duration::from_secs(20)).await;
        let want = if namespace == "azure_kv" {
            "RuntimeError"
        } else {
            "SSLError"
        };
        assert_eq!(err.to_string(), want, "{namespace}");
    }
}

/// A listener that records every `X-Vault-Token` it is sent: where an attacker would
/// point a test request.
async fn token_trap() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let keep = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let keep = keep.clone();
        async move {
            if let Some(token) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
                keep.lock().unwrap().push(token.to_string());
            }
            StatusCode::NOT_FOUND
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

/// A `use` holder may test a credential as stored, or with their own secrets, but not send
/// the stored secrets somewhere else: a changed public input (here the URL) leaves them
/// behind unless the caller is an admin of the credential. Every call is audited, without
/// a secret.
#[tokio::test]
async fn a_test_request_cannot_send_stored_secrets_elsewhere() {
    let w = world().await;
    let id = w.hv("stored", json!({"token": "hvs.root"})).await;
    let ann = w.member_ann().await;
    w.grant(id, "use_role", ann).await;
    let as_ann = As::Basic("ann", "pw-ann");
    let test = format!("/api/v2/credentials/{id}/test/");
    let (trap, caught) = token_trap().await;
    let metadata = json!({"secret_path": "/kv/app", "secret_key": "password"});

    let stolen = w
        .app
        .post(
            as_ann,
            &test,
            json!({"inputs": {"url": trap}, "metadata": metadata}),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{}", stolen.raw);
    assert!(
        caught.lock().unwrap().is_empty(),
        "the stored token reached the trap"
    );

    let as_stored = w
        .app
        .post(as_ann, &test, json!({"metadata": metadata}))
        .await;
    assert_eq!(as_stored.status, StatusCode::ACCEPTED, "{}", as_stored.raw);
    let own = w
        .app
        .post(
            as_ann,
            &test,
            json!({"inputs": {"url": trap, "token": "ann-own"}, "metadata": metadata}),
        )
        .await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST, "{}", own.raw);
    assert_eq!(*caught.lock().unwrap(), vec!["ann-own".to_string()]);

    let by_admin = w
        .app
        .post(
            As::Admin,
            &test,
            json!({"inputs": {"url": trap}, "metadata": metadata}),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        caught.lock().unwrap().last().map(String::as_str),
        Some("hvs.root")
    );

    let stream = w
        .app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{id}/activity_stream/?operation=test&order_by=id"),
        )
        .await;
    assert_eq!(stream.body["count"], 4, "{}", stream.raw);
    let first = &stream.body["results"][0];
    assert_eq!(first["changes"]["destination"], json!(trap));
    assert_eq!(first["changes"]["changed_inputs"], json!(["url"]));
    assert_eq!(first["changes"]["stored_secrets_used"], json!(false));
    assert_eq!(first["summary_fields"]["actor"]["username"], "ann");
    assert!(!stream.raw.contains("hvs.root") && !stream.raw.contains("ann-own"));
}
