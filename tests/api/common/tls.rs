//! HTTPS for test doubles: a CA, server and client certificates made with the openssl CLI
//! once per test binary, and an axum server over rustls with optional client auth.
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
const SERVER_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
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
