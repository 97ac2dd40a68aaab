//! HashiCorp Vault signed SSH certificates (`hashivault_ssh`, plugins.md §4.2 and §6)
//! against an in-repo Vault double: the KV backend's authentication reused (token, AppRole,
//! namespace header), the sign request (URL, headers, body), `data.signed_key` passed through
//! unchanged, the `//` redirect, the 412 retry, HTTP errors, TLS with a CA, and refused
//! connections.

mod common;

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

mod tls {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::process::Command;
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    /// PEM texts: a CA, a server certificate for 127.0.0.1 and a client certificate (RSA,
    /// PKCS#1 key) signed by it, and a second CA with a client certificate of its own.
    #[allow(dead_code)] // not every test file uses every item
    pub struct Pki {
        _dir: tempfile::TempDir,
        pub ca: String,
        pub other_ca: String,
        pub server_cert: String,
        pub server_key: String,
        pub client_cert: String,
        pub client_key: String,
        pub rogue_cert: String,
        pub rogue_key: String,
    }

    const CONFIG: &str = "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n\
        [dn]\nCN = test\n[v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
        keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n";
    const SERVER_EXT: &str =
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
        extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n";
    const CLIENT_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
        keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";

    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl CLI");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

    fn ca(dir: &Path, name: &str) {
        let (key, pem, subj) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN={name}"),
        );
        let mut args = vec!["req", "-x509", "-config", "ca.cnf", "-nodes"];
        args.extend(EC);
        args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
        openssl(dir, &args);
    }

    /// A leaf certificate `name` for the key in `name.key`, signed by `ca`.
    fn leaf(dir: &Path, name: &str, ca: &str, ext: &str, serial: &str) {
        let (key, csr, pem, subj) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("/CN={name}"),
        );
        let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
        openssl(
            dir,
            &[
                "req", "-new", "-config", "ca.cnf", "-key", &key, "-subj", &subj, "-out", &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-set_serial",
                serial,
                "-days",
                "2",
                "-extfile",
                ext,
                "-out",
                &pem,
            ],
        );
    }

    fn make() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for (file, text) in [
            ("ca.cnf", CONFIG),
            ("server.ext", SERVER_EXT),
            ("client.ext", CLIENT_EXT),
        ] {
            std::fs::write(d.join(file), text).expect("write");
        }
        ca(d, "ca");
        ca(d, "other-ca");
        let ec_key = |name: &str| {
            openssl(
                d,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-out",
                    &format!("{name}.key"),
                ],
            )
        };
        ec_key("server");
        leaf(d, "server", "ca", "server.ext", "2");
        openssl(d, &["genrsa", "-traditional", "-out", "client.key", "2048"]);
        leaf(d, "client", "ca", "client.ext", "3");
        ec_key("rogue");
        leaf(d, "rogue", "other-ca", "client.ext", "4");
        let read = |f: &str| std::fs::read_to_string(d.join(f)).expect("read");
        Pki {
            ca: read("ca.pem"),
            other_ca: read("other-ca.pem"),
            server_cert: read("server.pem"),
            server_key: read("server.key"),
            client_cert: read("client.pem"),
            client_key: read("client.key"),
            rogue_cert: read("rogue.pem"),
            rogue_key: read("rogue.key"),
            _dir: dir,
        }
    }

    /// The material, made once per test binary.
    pub fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(make)
    }

    struct TlsListener {
        rx: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
        addr: SocketAddr,
    }

    impl axum::serve::Listener for TlsListener {
        type Io = tokio_rustls::server::TlsStream<TcpStream>;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            match self.rx.recv().await {
                Some(conn) => conn,
                None => std::future::pending().await,
            }
        }

        fn local_addr(&self) -> std::io::Result<SocketAddr> {
            Ok(self.addr)
        }
    }

    /// After a failed handshake: read what the client still sends until it hangs up, so that
    /// the TLS alert reaches it instead of a reset.
    async fn drain(stream: TcpStream) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let mut buf = [0u8; 1024];
        while tokio::time::timeout_at(deadline, stream.readable())
            .await
            .is_ok_and(|r| r.is_ok())
        {
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
    }

    /// Serves `app` over HTTPS on a free loopback port with the test server certificate;
    /// with `client_auth`, a client certificate signed by the test CA is required.
    pub async fn serve(app: axum::Router, client_auth: bool) -> String {
        let pki = pki();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = CertificateDer::pem_slice_iter(pki.server_cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("server cert");
        let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).expect("server key");
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).expect("ca"))
                .expect("root");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(certs, key).expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((stream, peer)) = tcp.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match acceptor.accept(stream).into_fallible().await {
                        Ok(tls) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Err((_, stream)) => drain(stream).await,
                    }
                });
            }
        });
        tokio::spawn(async move { axum::serve(TlsListener { rx, addr }, app).await });
        format!("https://127.0.0.1:{}", addr.port())
    }
}

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
    let pki = tls::pki();
    let v = Vault::default();
    let url = tls::serve(router(&v), false).await;
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
