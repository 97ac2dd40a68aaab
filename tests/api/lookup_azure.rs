//! Azure Key Vault lookups (plugins.md §4.5) against an in-repo double of the Azure AD token
//! endpoint, the vault and the VM metadata (IMDS) endpoint, through the AWX test endpoint
//! and effective-input resolution.
//!
//! The SDK flow needs HTTPS (vault and login host), so each test makes a throw-away CA and
//! server certificate with the `openssl` CLI and serves the double over rustls; the plugin
//! trusts that CA through `REQUESTS_CA_BUNDLE` and sends its token requests to the double
//! through `CREDSTORE_AZURE_AUTHORITY_HOST` (IMDS: `AZURE_POD_IDENTITY_AUTHORITY_HOST`).
//! Those are process-wide variables, so the tests run one at a time (`common::lookup_env`).
//!
//! The vault answers at `https://127.0.0.1:PORT`; its challenge names the resource
//! `https://0.0.1:PORT`, because the SDK accepts a resource only when the vault's host is
//! a subdomain of it.

use crate::common;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use common::{As, TestApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

const TENANT: &str = "tenant-1";
const CLIENT: &str = "client-1";
const CLIENT_SECRET: &str = "client-s3cret";
const SP_TOKEN: &str = "sp-access-token";
const MI_TOKEN: &str = "mi-access-token";
/// Secret `db`: versions `v1`, then `v2` (the latest).
const OLD_VALUE: &str = "old-db-password";
const NEW_VALUE: &str = "new-db-password";

/// A CA and a server certificate for 127.0.0.1, made with the `openssl` CLI.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl CLI");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=credstore test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        run(&csr);
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        Certs { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn acceptor(&self) -> TlsAcceptor {
        let file = |name: &str| self.dir.path().join(name);
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file("server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(file("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }
}

/// A TCP listener that completes a TLS handshake before handing a connection to axum.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The double's configuration and what it saw.
#[derive(Clone)]
struct Double(Arc<DoubleState>);

struct DoubleState {
    /// The resource the vault's challenge names.
    resource: String,
    /// The tenant the vault's challenge names.
    challenge_tenant: String,
    /// `METHOD path auth` of every request, in order.
    log: Mutex<Vec<String>>,
}

impl Double {
    fn record(&self, line: String) {
        self.0.log.lock().unwrap().push(line);
    }

    fn log(&self) -> Vec<String> {
        self.0.log.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.0.log.lock().unwrap().clear();
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// `POST /{tenant}/oauth2/v2.0/token`: client-credentials grant (Azure AD v2).
async fn token(
    State(d): State<Double>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    d.record(format!("POST /{tenant}/oauth2/v2.0/token"));
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if tenant != TENANT {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."})),
        )
            .into_response();
    }
    if field("grant_type") != "client_credentials"
        || field("client_id") != CLIENT
        || field("client_secret") != CLIENT_SECRET
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})),
        )
            .into_response();
    }
    if field("scope") != format!("{}/.default", d.0.resource) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_scope"})),
        )
            .into_response();
    }
    Json(
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                "access_token": SP_TOKEN}),
    )
    .into_response()
}

/// `GET /metadata/identity/oauth2/token`: the VM's managed identity (IMDS).
async fn imds(
    State(d): State<Double>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    d.record("GET /metadata/identity/oauth2/token".to_string());
    let metadata = headers.get("metadata").and_then(|v| v.to_str().ok()) == Some("true");
    if !metadata
        || q.get("api-version").map(String::as_str) != Some("2018-02-01")
        || q.get("resource") != Some(&d.0.resource)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    Json(
        json!({"access_token": MI_TOKEN, "expires_in": "86399", "expires_on": "1900000000",
                "resource": d.0.resource, "token_type": "Bearer"}),
    )
    .into_response()
}

/// `GET /secrets/{name}/{version}?api-version=7.4`.
async fn secret(
    State(d): State<Double>,
    headers: HeaderMap,
    Path(params): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let name = params.get("name").cloned().unwrap_or_default();
    let version = params.get("version").cloned().unwrap_or_default();
    let token = bearer(&headers);
    d.record(format!(
        "GET /secrets/{name}/{version} {}",
        token.map_or("none", |_| "bearer")
    ));
    if q.get("api-version").map(String::as_str) != Some("7.4") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "BadParameter"}})),
        )
            .into_response();
    }
    if !matches!(token, Some(SP_TOKEN | MI_TOKEN)) {
        let challenge = format!(
            r#"Bearer authorization="https://login.microsoftonline.com/{}", resource="{}""#,
            d.0.challenge_tenant, d.0.resource
        );
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", challenge)],
            Json(json!({"error": {"code": "Unauthorized",
                                  "message": "AKV10000: Request is missing a Bearer or PoP token."}})),
        )
            .into_response();
    }
    let value = match (name.as_str(), version.as_str()) {
        ("db", "" | "v2") => Some(NEW_VALUE),
        ("db", "v1") => Some(OLD_VALUE),
        _ => None,
    };
    match value {
        Some(v) => Json(json!({
            "value": v,
            "id": format!("https://vault/secrets/{name}/{}", if version.is_empty() { "v2" } else { &version }),
            "attributes": {"enabled": true, "created": 1700000000, "updated": 1700000000,
                           "recoveryLevel": "Recoverable+Purgeable"}
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "SecretNotFound",
                                  "message": format!("A secret with (name/id) {name} was not found in this key vault.")}})),
        )
            .into_response(),
    }
}

/// A running double: vault + token endpoint over TLS, IMDS over plain HTTP.
struct Running {
    vault_url: String,
    imds_url: String,
    double: Double,
}

/// Starts a double whose vault challenge names `resource` (default: the matching one).
async fn start(certs: &Certs, resource: Option<&str>, challenge_tenant: &str) -> Running {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let imds_tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let imds_port = imds_tcp.local_addr().unwrap().port();
    let double = Double(Arc::new(DoubleState {
        resource: resource
            .map(str::to_string)
            .unwrap_or_else(|| format!("https://0.0.1:{port}")),
        challenge_tenant: challenge_tenant.to_string(),
        log: Mutex::new(Vec::new()),
    }));
    let app = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/secrets/{name}/", get(secret))
        .route("/secrets/{name}/{version}", get(secret))
        .with_state(double.clone());
    let listener = TlsListener {
        tcp,
        acceptor: certs.acceptor(),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    let imds_app = Router::new()
        .route("/metadata/identity/oauth2/token", get(imds))
        .with_state(double.clone());
    tokio::spawn(async move { axum::serve(imds_tcp, imds_app).await });
    Running {
        vault_url: format!("https://127.0.0.1:{port}"),
        imds_url: format!("http://127.0.0.1:{imds_port}"),
        double,
    }
}

/// Points the plugin's login host, IMDS and CA bundle at a double.
fn point_plugin_at(running: &Running, ca: &FsPath) {
    std::env::set_var("CREDSTORE_AZURE_AUTHORITY_HOST", &running.vault_url);
    std::env::set_var("AZURE_POD_IDENTITY_AUTHORITY_HOST", &running.imds_url);
    std::env::set_var("CREDSTORE_AZURE_MANAGED_IDENTITY", "1");
    std::env::set_var("REQUESTS_CA_BUNDLE", ca);
}

struct World {
    app: TestApp,
    org: i64,
    azure_type: i64,
    certs: Certs,
    vault: Running,
    _serial: common::LookupEnv,
}

async fn world() -> World {
    let serial = common::lookup_env().await;
    let certs = Certs::new();
    let vault = start(&certs, None, TENANT).await;
    point_plugin_at(&vault, &certs.ca());
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let azure_type = app.type_id("azure_kv").await;
    World {
        app,
        org,
        azure_type,
        certs,
        vault,
        _serial: serial,
    }
}

impl World {
    async fn credential(&self, inputs: Value) -> i64 {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("kv-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": name, "organization": self.org, "credential_type": self.azure_type,
                    "inputs": inputs}),
            )
            .await
    }

    /// A service-principal credential for this world's vault.
    async fn service_principal(&self) -> i64 {
        self.credential(json!({"url": self.vault.vault_url, "client": CLIENT,
            "secret": CLIENT_SECRET, "tenant": TENANT, "cloud_name": "AzureCloud"}))
            .await
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }
}

fn secret_field(name: &str) -> Value {
    json!({"metadata": {"secret_field": name}})
}

#[tokio::test]
async fn service_principal_reads_latest_and_given_versions() {
    let w = world().await;
    let kv = w.service_principal().await;
    let latest = w.test(kv, secret_field("db")).await;
    assert_eq!(latest.status, StatusCode::ACCEPTED, "{}", latest.raw);
    assert_eq!(latest.body, json!({}));
    assert_eq!(
        w.vault.double.log(),
        [
            "GET /secrets/db/ none",
            "POST /tenant-1/oauth2/v2.0/token",
            "GET /secrets/db/ bearer"
        ],
        "challenge first, then the token for the challenge's scope"
    );
    w.vault.double.clear();
    let v1 = w
        .test(
            kv,
            json!({"metadata": {"secret_field": "db", "secret_version": "v1"}}),
        )
        .await;
    assert_eq!(v1.status, StatusCode::ACCEPTED, "{}", v1.raw);
    assert_eq!(
        w.vault.double.log(),
        [
            "POST /tenant-1/oauth2/v2.0/token",
            "GET /secrets/db/v1 bearer"
        ],
        "the vault's challenge is remembered"
    );

    let ssh_type = w.app.type_id("ssh").await;
    let ssh = w
        .app
        .create(
            "/api/v2/credentials/",
            json!({"name": "s", "organization": w.org, "credential_type": ssh_type,
                "inputs": {"username": "deploy"}}),
        )
        .await;
    for (field, metadata) in [
        ("password", json!({"secret_field": "db"})),
        (
            "become_password",
            json!({"secret_field": "db", "secret_version": "v1"}),
        ),
    ] {
        let link = w
            .app
            .post(
                As::Admin,
                "/api/v2/credential_input_sources/",
                json!({"target_credential": ssh, "source_credential": kv,
                    "input_field_name": field, "metadata": metadata}),
            )
            .await;
        assert_eq!(link.status, StatusCode::CREATED, "{}", link.raw);
    }
    let rendered = common::render(&w.app, ssh).await;
    let value = |prompt: &str| common::answer(&rendered, prompt);
    assert_eq!(
        value(common::SSH_PASSWORD_PROMPT).as_deref(),
        Some(NEW_VALUE)
    );
    assert_eq!(
        value(common::BECOME_PASSWORD_PROMPT).as_deref(),
        Some(OLD_VALUE)
    );
    assert!(!latest.raw.contains(NEW_VALUE) && !v1.raw.contains(OLD_VALUE));
}

#[tokio::test]
async fn not_found_wrong_version_and_bad_client_secret() {
    let w = world().await;
    let kv = w.service_principal().await;
    let missing = w.test(kv, secret_field("nope")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body,
        json!({"inputs": "RuntimeError"}),
        "404 SecretNotFound"
    );
    let wrong_version = w
        .test(
            kv,
            json!({"metadata": {"secret_field": "db", "secret_version": "v9"}}),
        )
        .await;
    assert_eq!(wrong_version.body, json!({"inputs": "RuntimeError"}));
    w.vault.double.clear();
    let bad_secret = w
        .test(
            kv,
            json!({"inputs": {"secret": "wrong"}, "metadata": {"secret_field": "db"}}),
        )
        .await;
    assert_eq!(
        bad_secret.body,
        json!({"inputs": "RuntimeError"}),
        "token endpoint 401 invalid_client"
    );
    assert_eq!(
        w.vault.double.log(),
        ["POST /tenant-1/oauth2/v2.0/token"],
        "no vault read without a token"
    );
    let kept = w
        .test(
            kv,
            json!({"inputs": {"secret": "$encrypted$"}, "metadata": {"secret_field": "db"}}),
        )
        .await;
    assert_eq!(
        kept.status,
        StatusCode::ACCEPTED,
        "`$encrypted$` means the stored secret"
    );
    w.vault.double.clear();
    let other_tenant = w
        .test(
            kv,
            json!({"inputs": {"tenant": "tenant-2"}, "metadata": {"secret_field": "db"}}),
        )
        .await;
    assert_eq!(other_tenant.body, json!({"inputs": "RuntimeError"}));
    assert!(
        w.vault.double.log().is_empty(),
        "the secret is not sent for a tenant the vault did not name"
    );
    let bad_tenant = w
        .test(
            kv,
            json!({"inputs": {"tenant": "a/b"}, "metadata": {"secret_field": "db"}}),
        )
        .await;
    assert_eq!(bad_tenant.body, json!({"inputs": "ValueError"}));
}

#[tokio::test]
async fn managed_identity_when_the_service_principal_is_incomplete() {
    let w = world().await;
    let kv = w
        .credential(json!({"url": w.vault.vault_url, "client": CLIENT}))
        .await;
    let ok = w.test(kv, secret_field("db")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(
        w.vault.double.log(),
        [
            "GET /secrets/db/ none",
            "GET /metadata/identity/oauth2/token",
            "GET /secrets/db/ bearer"
        ]
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::env::set_var(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        format!("http://127.0.0.1:{port}"),
    );
    assert_eq!(
        w.test(kv, secret_field("db")).await.body,
        json!({"inputs": "RuntimeError"}),
        "not on an Azure VM"
    );
}

#[tokio::test]
async fn vaults_must_be_https_reachable_and_match_their_challenge() {
    let w = world().await;
    let plain = w
        .credential(
            json!({"url": w.vault.vault_url.replace("https://", "http://"),
            "client": CLIENT, "secret": CLIENT_SECRET, "tenant": TENANT}),
        )
        .await;
    assert_eq!(
        w.test(plain, secret_field("db")).await.body,
        json!({"inputs": "RuntimeError"})
    );
    assert!(
        w.vault.double.log().is_empty(),
        "nothing is sent over plain HTTP"
    );

    let foreign = start(&w.certs, Some("https://vault.azure.net"), TENANT).await;
    let kv = w
        .credential(json!({"url": foreign.vault_url, "client": CLIENT,
            "secret": CLIENT_SECRET, "tenant": TENANT}))
        .await;
    assert_eq!(
        w.test(kv, secret_field("db")).await.body,
        json!({"inputs": "ValueError"}),
        "the challenge resource must be a parent domain of the vault host"
    );
    assert_eq!(foreign.double.log(), ["GET /secrets/db/ none"]);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = w
        .credential(
            json!({"url": format!("https://127.0.0.1:{port}"), "client": CLIENT,
            "secret": CLIENT_SECRET, "tenant": TENANT}),
        )
        .await;
    assert_eq!(
        w.test(down, secret_field("db")).await.body,
        json!({"inputs": "RuntimeError"}),
        "unreachable vault"
    );

    let type_test = format!("/api/v2/credential_types/{}/test/", w.azure_type);
    let unsaved = json!({"inputs": {"url": w.vault.vault_url, "client": CLIENT,
        "secret": CLIENT_SECRET, "tenant": TENANT}, "metadata": {"secret_field": "db"}});
    let ok = w.app.post(As::Admin, &type_test, unsaved).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    let no_name = json!({"inputs": {"url": w.vault.vault_url}, "metadata": {}});
    assert_eq!(
        w.app.post(As::Admin, &type_test, no_name).await.body,
        json!({"inputs": "KeyError"})
    );
    let empty_url = json!({"inputs": {"url": ""}, "metadata": {"secret_field": "db"}});
    assert_eq!(
        w.app.post(As::Admin, &type_test, empty_url).await.body,
        json!({"inputs": "ValueError"})
    );
}
