//! CyberArk Central Credential Provider lookups (`aim`, plugins.md §4.6) against an in-repo
//! CCP double: exact request construction and query encoding, the web service id default,
//! `object_property` mapping and its `KeyError` parity cases, HTTP errors, and TLS with a
//! client certificate (CA, server and client certificates made with the `openssl` CLI).

mod common;

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

/// TLS test material and an HTTPS server for axum routers (duplicated per test file: each
/// integration test is its own crate).
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
    let pki = tls::pki();
    let ccp = Ccp::default();
    let url = tls::serve(ccp_router(&ccp), true).await;
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
    let effective =
        credstore::resolve::effective_inputs(&w.app.state.store, &w.app.state.keys, ssh)
            .await
            .unwrap();
    assert_eq!(
        effective
            .get("password")
            .map(|s| s.expose_secret().to_string()),
        Some("s3cr3t-pw".into())
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
