//! CyberArk Conjur lookups (`conjur`, plugins.md §4.7) against an in-repo Conjur double:
//! API-key authentication then the variable read, identifiers escaped with `%2F`/`%20`, the
//! base64 access token in the `Authorization` header, the Conjur Cloud `/api` fallback,
//! versions, HTTP errors, TLS with a CA, and refused connections.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{As, TestApp};
use credstore::plugins::{lookup, Kwargs, LookupError};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
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

const API_KEY: &str = "3x4mpl3-api-key";
/// The raw access token (Conjur's signed JSON).
const TOKEN: &str = r#"{"protected":"eyJhbGciOiJjb25qdXIifQ==","payload":"eyJzdWIiOiJob3N0L2F3eCJ9","signature":"c2lnbmF0dXJl"}"#;

/// Which URL layout the double serves.
#[derive(Clone, Copy, Default, PartialEq)]
enum Layout {
    /// Self-hosted Conjur: no `/api` prefix (those paths are 404).
    #[default]
    SelfHosted,
    /// Conjur Cloud: only under `/api` (the plain paths are 404).
    Cloud,
}

#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    target: String,
    content_type: Option<String>,
    accept_encoding: Option<String>,
    authorization: Option<String>,
    body: String,
}

#[derive(Clone, Default)]
struct Conjur {
    seen: Arc<Mutex<Vec<Seen>>>,
    layout: Layout,
    /// Answer authentication in base64 when asked to (real Conjur does).
    base64: bool,
}

impl Conjur {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn targets(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.target).collect()
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn status(code: StatusCode) -> Response {
    (code, "").into_response()
}

async fn conjur_handler(
    State(c): State<Conjur>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).to_string();
    c.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        content_type: header(&headers, "content-type"),
        accept_encoding: header(&headers, "accept-encoding"),
        authorization: header(&headers, "authorization"),
        body: body.clone(),
    });
    let path = uri.path();
    let rest = match (c.layout, path.strip_prefix("/api")) {
        (Layout::Cloud, Some(rest)) => rest,
        (Layout::SelfHosted, None) => path,
        _ => return status(StatusCode::NOT_FOUND),
    };
    // Raw (still escaped) segments: `/` inside an identifier must arrive as `%2F`.
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::POST, ["authn", "moved", _, "authenticate"]) => {
            (StatusCode::MOVED_PERMANENTLY, [("location", "/elsewhere")]).into_response()
        }
        (Method::POST, ["authn", "dev%20org", "host%2Fawx", "authenticate"]) => {
            if body != API_KEY {
                return status(StatusCode::UNAUTHORIZED);
            }
            let asked = header(&headers, "accept-encoding").as_deref() == Some("base64");
            if c.base64 && asked {
                STANDARD.encode(TOKEN).into_response()
            } else {
                TOKEN.into_response()
            }
        }
        (Method::POST, ["authn", ..]) => status(StatusCode::UNAUTHORIZED),
        (Method::GET, ["secrets", "dev%20org", "variable", id]) => {
            let want = format!("Token token=\"{}\"", STANDARD.encode(TOKEN));
            if header(&headers, "authorization") != Some(want) {
                return status(StatusCode::UNAUTHORIZED);
            }
            let version = uri
                .query()
                .and_then(|q| q.strip_prefix("version="))
                .map(|v| v.parse::<usize>().unwrap_or(0));
            let versions = ["old-pw", "new-pw"];
            match *id {
                "prod%2Fdb%20password" => match version {
                    None => versions[1].into_response(),
                    Some(n) if (1..=versions.len()).contains(&n) => versions[n - 1].into_response(),
                    Some(_) => status(StatusCode::NOT_FOUND),
                },
                "locked" => status(StatusCode::FORBIDDEN),
                _ => status(StatusCode::NOT_FOUND),
            }
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn router(c: &Conjur) -> Router {
    Router::new().fallback(conjur_handler).with_state(c.clone())
}

async fn conjur_http(c: &Conjur) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(c);
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
    let ty = app.type_id("conjur").await;
    World { app, org, ty }
}

fn inputs(url: &str) -> Value {
    json!({"url": url, "api_key": API_KEY, "account": "dev org", "username": "host/awx"})
}

impl World {
    async fn cred(&self, inputs: Value) -> i64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("conjur-{}", N.fetch_add(1, Ordering::Relaxed));
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": name, "organization": self.org, "credential_type": self.ty,
                       "inputs": inputs}),
            )
            .await
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }
}

fn secret(path: &str) -> Value {
    json!({"metadata": {"secret_path": path}})
}

fn kwargs(url: &str, extra: &[(&str, &str)]) -> Kwargs {
    let mut k = Kwargs::default();
    k.extend_json(inputs(url).as_object().unwrap());
    for (key, value) in extra {
        k.set_json(key, &json!(value));
    }
    k
}

const AUTHN: &str = "/authn/dev%20org/host%2Fawx/authenticate";
const VARIABLE: &str = "/secrets/dev%20org/variable/prod%2Fdb%20password";

#[tokio::test]
async fn authenticates_then_reads() {
    let c = Conjur::default();
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(ok.body, json!({}));
    let seen = c.seen();
    assert_eq!(c.targets(), [AUTHN, VARIABLE]);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].content_type.as_deref(), Some("text/plain"));
    assert_eq!(seen[0].accept_encoding.as_deref(), Some("base64"));
    assert_eq!(seen[0].body, API_KEY);
    assert_eq!(seen[0].authorization, None);
    assert_eq!(seen[1].method, Method::GET);
    assert_eq!(
        seen[1].authorization,
        Some(format!("Token token=\"{}\"", STANDARD.encode(TOKEN))),
        "a raw token is base64-encoded"
    );
    assert!(!ok.raw.contains("new-pw"));

    let value = |extra: &'static [(&'static str, &'static str)]| {
        let k = kwargs(&url, extra);
        async move {
            lookup("conjur", &k)
                .await
                .map(|s| s.expose_secret().to_string())
        }
    };
    assert_eq!(
        value(&[("secret_path", "prod/db password")]).await,
        Ok("new-pw".to_string())
    );
    assert_eq!(
        value(&[("secret_path", "prod/db password"), ("secret_version", "1")]).await,
        Ok("old-pw".to_string())
    );
    assert_eq!(
        c.targets().last().cloned(),
        Some(format!("{VARIABLE}?version=1"))
    );
    assert_eq!(
        value(&[("secret_path", "prod/db password"), ("secret_version", "")]).await,
        Ok("new-pw".to_string()),
        "an empty version means the latest"
    );
    assert_eq!(c.targets().last().map(String::as_str), Some(VARIABLE));
}

#[tokio::test]
async fn base64_tokens_are_used_as_they_are() {
    let c = Conjur {
        base64: true,
        ..Conjur::default()
    };
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(
        c.seen()[1].authorization,
        Some(format!("Token token=\"{}\"", STANDARD.encode(TOKEN))),
        "not encoded twice"
    );
}

#[tokio::test]
async fn conjur_cloud_fallback_and_errors() {
    let c = Conjur {
        layout: Layout::Cloud,
        ..Conjur::default()
    };
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(
        c.targets(),
        [
            AUTHN.to_string(),
            format!("/api{AUTHN}"),
            VARIABLE.to_string(),
            format!("/api{VARIABLE}")
        ]
    );

    for (metadata, want) in [
        (secret("missing"), "HTTP 404"),
        (secret("locked"), "HTTP 403"),
        (
            json!({"metadata": {"secret_path": "prod/db password", "secret_version": "7"}}),
            "HTTP 404",
        ),
    ] {
        assert_eq!(w.test(id, metadata).await.body, json!({"inputs": want}));
    }
    assert_eq!(
        c.targets().last().cloned(),
        Some(format!("/api{VARIABLE}?version=7"))
    );
    let bad_key = w
        .test(
            id,
            json!({"inputs": {"api_key": "wrong"}, "metadata": {"secret_path": "prod/db password"}}),
        )
        .await;
    assert_eq!(bad_key.body, json!({"inputs": "HTTP 401"}));
}

#[tokio::test]
async fn self_hosted_errors_and_parity_quirks() {
    let c = Conjur::default();
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;

    // The `/api` retry's answer is final, even when the first one was more telling.
    let bad_key = w
        .test(
            id,
            json!({"inputs": {"api_key": "wrong"}, "metadata": {"secret_path": "prod/db password"}}),
        )
        .await;
    assert_eq!(bad_key.body, json!({"inputs": "HTTP 404"}));
    assert_eq!(c.targets(), [AUTHN.to_string(), format!("/api{AUTHN}")]);

    // A redirect is no HTTP error for the retry: reported at once.
    let before = c.seen().len();
    let moved = w
        .test(
            id,
            json!({"inputs": {"account": "moved"}, "metadata": {"secret_path": "x"}}),
        )
        .await;
    assert_eq!(moved.body, json!({"inputs": "HTTP 301"}));
    assert_eq!(c.seen().len(), before + 1);

    // `secret_path` is not in `required` but is read unconditionally; nothing is sent.
    let before = c.seen().len();
    assert_eq!(
        w.test(id, json!({})).await.body,
        json!({"inputs": "KeyError"})
    );
    let no_account = w
        .cred(json!({"url": url, "api_key": API_KEY, "username": "host/awx"}))
        .await;
    assert_eq!(
        w.test(no_account, secret("prod/db password")).await.body,
        json!({"inputs": "KeyError"})
    );
    assert_eq!(c.seen().len(), before);

    // URL-join semantics: a base path needs a trailing slash; empty segments are dropped.
    let prefixed = w
        .cred(json!({"url": format!("{url}/conjur/"), "api_key": API_KEY,
                     "account": "dev org", "username": "host/awx"}))
        .await;
    assert_eq!(
        w.test(prefixed, secret("x")).await.body,
        json!({"inputs": "HTTP 404"})
    );
    assert_eq!(
        c.targets()[c.seen().len() - 2..],
        [format!("/conjur{AUTHN}"), format!("/conjur/api{AUTHN}")]
    );
    let dropped = w
        .cred(json!({"url": format!("{url}/conjur"), "api_key": API_KEY,
                     "account": "dev org", "username": "host/awx"}))
        .await;
    assert_eq!(
        w.test(dropped, secret("prod/db password")).await.status,
        StatusCode::ACCEPTED
    );
    let k = {
        let mut k = kwargs(&url, &[("secret_path", "x")]);
        k.set_json("account", &json!(""));
        k
    };
    assert_eq!(
        lookup("conjur", &k).await.err(),
        Some(LookupError::Http(404))
    );
    assert_eq!(
        c.targets()[c.seen().len() - 2],
        "/authn/host%2Fawx/authenticate",
        "urljoin drops the empty account segment"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = w.cred(inputs(&format!("http://127.0.0.1:{port}"))).await;
    assert_eq!(
        w.test(down, secret("prod/db password")).await.body,
        json!({"inputs": "ConnectionError"})
    );
}

#[tokio::test]
async fn tls_with_a_ca() {
    let pki = tls::pki();
    let c = Conjur::default();
    let url = tls::serve(router(&c), false).await;
    let w = world().await;
    let mut trusted = inputs(&url);
    trusted["cacert"] = json!(pki.ca);
    let id = w.cred(trusted).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(c.targets(), [AUTHN, VARIABLE]);

    let mut wrong = inputs(&url);
    wrong["cacert"] = json!(pki.other_ca);
    let wrong = w.cred(wrong).await;
    assert_eq!(
        w.test(wrong, secret("prod/db password")).await.body,
        json!({"inputs": "SSLError"})
    );
    let none = w.cred(inputs(&url)).await;
    assert_eq!(
        w.test(none, secret("prod/db password")).await.body,
        json!({"inputs": "SSLError"})
    );
    assert_eq!(c.seen().len(), 2, "no request got through");

    // Over plain HTTP the CA is not loaded at all (requests ignores it).
    let plain = Conjur::default();
    let plain_url = conjur_http(&plain).await;
    let mut ignored = inputs(&plain_url);
    ignored["cacert"] = json!("not a certificate");
    let ignored = w.cred(ignored).await;
    assert_eq!(
        w.test(ignored, secret("prod/db password")).await.status,
        StatusCode::ACCEPTED
    );
}
