//! AWS Secrets Manager lookups (plugins.md §4.4) against a real moto server (§5.1), through
//! the AWX test endpoint and effective-input resolution.
//!
//! Each test starts its own `moto_server` on a free loopback port, seeds it with
//! `tests/lookups/moto_setup.py` (an IAM user + access key + secrets) and then turns on
//! moto's request checking, so every lookup must carry a valid SigV4 signature made with
//! that key. The moto process is stopped when the test's `Moto` guard drops (and, through
//! a watchdog shell reading the test's pipe, when the test process dies).
//!
//! Prerequisite: `tests/lookups/moto.sh` (a Python venv at `target/moto-venv`, or at
//! `CREDSTORE_MOTO_VENV`, holding `moto[server]` and boto3). The tests run it themselves
//! and FAIL when it cannot be prepared (no python3, no PyPI access, ...). To skip them on
//! purpose, set `CREDSTORE_SKIP_MOTO=1`: every test then returns early and says so.
//!
//! The plugin reads `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL` per lookup;
//! the tests set them, so they run one at a time (`common::lookup_env`).

use crate::common;

use axum::http::StatusCode;
use base64::Engine;
use common::{As, TestApp};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const STRING_SECRET: (&str, &str) = ("awx/test/db", "s3cr3t-value");
const TEXT_BINARY: (&str, &str) = ("awx/test/bin", "binary ünïcode ✓");
const RAW_BINARY: (&str, &[u8]) = ("awx/test/raw", &[0xff, 0xfe, 0x00]);

fn skipped() -> bool {
    if std::env::var("CREDSTORE_SKIP_MOTO").is_ok_and(|v| v == "1") {
        eprintln!("moto tests skipped: CREDSTORE_SKIP_MOTO=1");
        return true;
    }
    false
}

fn venv() -> PathBuf {
    std::env::var_os("CREDSTORE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv"))
}

/// Runs `tests/lookups/moto.sh` once per test process; panics when it fails.
fn prepare_venv() -> PathBuf {
    static READY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let ready = READY.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lookups/moto.sh");
        let out = Command::new("sh")
            .arg(&script)
            .env("CREDSTORE_MOTO_VENV", venv())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(venv())
        } else {
            Err(format!(
                "{} failed ({}): {}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    match ready {
        Ok(path) => path.clone(),
        Err(e) => {
            panic!("the moto venv could not be prepared (set CREDSTORE_SKIP_MOTO=1 to skip): {e}")
        }
    }
}

/// A running moto server, stopped on drop.
struct Moto {
    watchdog: Child,
    url: String,
    access_key: String,
    secret_key: String,
    log: PathBuf,
}

impl Moto {
    fn start() -> Moto {
        let venv = prepare_venv();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}.log"));
        // The shell starts moto and stops it (by its pid) as soon as our end of its stdin
        // closes: on drop, or when this process dies.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(
                r#""$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 & pid=$!
                   read -r _ignored || true
                   kill "$pid" 2>/dev/null
                   wait "$pid""#,
            )
            .arg(venv.join("bin/moto_server"))
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let mut moto = Moto {
            watchdog,
            url,
            access_key: String::new(),
            secret_key: String::new(),
            log,
        };
        moto.wait_ready();
        moto.seed(&venv);
        moto
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = self.url.trim_start_matches("http://").to_string();
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut answer = String::new();
                    let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
                    if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                        return;
                    }
                }
            }
            if let Ok(Some(status)) = self.watchdog.try_wait() {
                panic!("moto_server exited ({status}): {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "moto_server not ready: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn seed(&mut self, venv: &std::path::Path) {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let secrets = json!([
            [STRING_SECRET.0, "string", STRING_SECRET.1],
            [TEXT_BINARY.0, "binary", b64(TEXT_BINARY.1.as_bytes())],
            [RAW_BINARY.0, "binary", b64(RAW_BINARY.1)],
        ]);
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lookups/moto_setup.py");
        let out = Command::new(venv.join("bin/python"))
            .arg(script)
            .arg(&self.url)
            .arg(secrets.to_string())
            .output()
            .expect("run moto_setup.py");
        assert!(
            out.status.success(),
            "moto_setup.py: {}{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        let keys: Value = serde_json::from_slice(&out.stdout).expect("moto_setup.py output");
        self.access_key = keys["access_key"].as_str().unwrap().to_string();
        self.secret_key = keys["secret_key"].as_str().unwrap().to_string();
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop moto; kill the shell only if it lingers.
        drop(self.watchdog.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.watchdog.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

fn point_plugin_at(url: Option<&str>, generic: Option<&str>) {
    match url {
        Some(u) => std::env::set_var("AWS_ENDPOINT_URL_SECRETS_MANAGER", u),
        None => std::env::remove_var("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
    }
    match generic {
        Some(u) => std::env::set_var("AWS_ENDPOINT_URL", u),
        None => std::env::remove_var("AWS_ENDPOINT_URL"),
    }
}

struct World {
    app: TestApp,
    org: i64,
    aws_type: i64,
    moto: Moto,
    _serial: common::LookupEnv,
}

/// A fresh app and moto server with the plugin pointed at it; `None` when skipped.
async fn world() -> Option<World> {
    if skipped() {
        return None;
    }
    let serial = common::lookup_env().await;
    let moto = Moto::start();
    point_plugin_at(Some(&moto.url), None);
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let aws_type = app.type_id("aws_secretsmanager_credential").await;
    Some(World {
        app,
        org,
        aws_type,
        moto,
        _serial: serial,
    })
}

impl World {
    /// An AWS credential holding moto's key pair.
    async fn credential(&self) -> i64 {
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": "aws", "organization": self.org, "credential_type": self.aws_type,
                    "inputs": {"aws_access_key": self.moto.access_key,
                               "aws_secret_key": self.moto.secret_key}}),
            )
            .await
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }
}

fn metadata(secret_name: &str) -> Value {
    json!({"metadata": {"region_name": "us-east-1", "secret_name": secret_name}})
}

#[tokio::test]
async fn string_and_binary_secrets_resolve_to_their_values() {
    let Some(w) = world().await else { return };
    let aws = w.credential().await;
    let ok = w.test(aws, metadata(STRING_SECRET.0)).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(ok.body, json!({}));
    assert!(!ok.raw.contains(STRING_SECRET.1));
    let binary = w.test(aws, metadata(TEXT_BINARY.0)).await;
    assert_eq!(binary.status, StatusCode::ACCEPTED, "{}", binary.raw);
    assert_eq!(
        w.test(aws, metadata(RAW_BINARY.0)).await.body,
        json!({"inputs": "UnicodeDecodeError"}),
        "binary secrets must be UTF-8 text"
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
    for (field, secret) in [
        ("password", STRING_SECRET.0),
        ("become_password", TEXT_BINARY.0),
    ] {
        let link = w
            .app
            .post(
                As::Admin,
                "/api/v2/credential_input_sources/",
                json!({"target_credential": ssh, "source_credential": aws,
                    "input_field_name": field,
                    "metadata": {"region_name": "us-east-1", "secret_name": secret}}),
            )
            .await;
        assert_eq!(link.status, StatusCode::CREATED, "{}", link.raw);
    }
    let rendered = common::render(&w.app, ssh).await;
    let value = |prompt: &str| common::answer(&rendered, prompt);
    assert_eq!(
        value(common::SSH_PASSWORD_PROMPT).as_deref(),
        Some(STRING_SECRET.1)
    );
    assert_eq!(
        value(common::BECOME_PASSWORD_PROMPT).as_deref(),
        Some(TEXT_BINARY.1)
    );
    assert_eq!(rendered.body["args"][1], "deploy");
}

#[tokio::test]
async fn service_errors_are_client_errors() {
    let Some(w) = world().await else { return };
    let aws = w.credential().await;
    let missing = w.test(aws, metadata("awx/test/none")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body, json!({"inputs": "ClientError"}), "not found");
    let mut wrong_secret = metadata(STRING_SECRET.0);
    wrong_secret["inputs"] = json!({"aws_secret_key": "not-the-secret-key"});
    assert_eq!(
        w.test(aws, wrong_secret).await.body,
        json!({"inputs": "ClientError"}),
        "moto checks the signature: SignatureDoesNotMatch"
    );
    let mut unknown_key = metadata(STRING_SECRET.0);
    unknown_key["inputs"] = json!({"aws_access_key": "AKIAUNKNOWNKEY000000"});
    assert_eq!(
        w.test(aws, unknown_key).await.body,
        json!({"inputs": "ClientError"}),
        "InvalidClientTokenId"
    );
    let mut kept = metadata(STRING_SECRET.0);
    kept["inputs"] = json!({"aws_secret_key": "$encrypted$"});
    assert_eq!(
        w.test(aws, kept).await.status,
        StatusCode::ACCEPTED,
        "`$encrypted$` means the stored key"
    );
    let other_region =
        json!({"metadata": {"region_name": "eu-west-1", "secret_name": STRING_SECRET.0}});
    assert_eq!(
        w.test(aws, other_region).await.body,
        json!({"inputs": "ClientError"}),
        "secrets live in their region"
    );
    let bad_region =
        json!({"metadata": {"region_name": "us east", "secret_name": STRING_SECRET.0}});
    assert_eq!(
        w.test(aws, bad_region).await.body,
        json!({"inputs": "InvalidRegionError"})
    );
}

#[tokio::test]
async fn unsaved_credentials_and_missing_inputs() {
    let Some(w) = world().await else { return };
    let type_test = format!("/api/v2/credential_types/{}/test/", w.aws_type);
    let full = json!({"inputs": {"aws_access_key": w.moto.access_key,
                                 "aws_secret_key": w.moto.secret_key},
                      "metadata": {"region_name": "us-east-1", "secret_name": STRING_SECRET.0}});
    let ok = w.app.post(As::Admin, &type_test, full).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    let no_secret_key = json!({"inputs": {"aws_access_key": w.moto.access_key},
                               "metadata": {"region_name": "us-east-1", "secret_name": STRING_SECRET.0}});
    assert_eq!(
        w.app.post(As::Admin, &type_test, no_secret_key).await.body,
        json!({"inputs": "KeyError"})
    );
    let aws = w.credential().await;
    assert_eq!(
        w.test(aws, json!({"metadata": {"secret_name": STRING_SECRET.0}}))
            .await
            .body,
        json!({"inputs": "KeyError"}),
        "no region"
    );
    assert_eq!(
        w.test(aws, metadata("")).await.body,
        json!({"inputs": "ParamValidationError"})
    );
}

#[tokio::test]
async fn endpoint_variables_and_unreachable_endpoints() {
    let Some(w) = world().await else { return };
    let aws = w.credential().await;
    point_plugin_at(None, Some(&w.moto.url));
    let generic = w.test(aws, metadata(STRING_SECRET.0)).await;
    assert_eq!(
        generic.status,
        StatusCode::ACCEPTED,
        "AWS_ENDPOINT_URL: {}",
        generic.raw
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    point_plugin_at(Some(&dead), Some(&w.moto.url));
    assert_eq!(
        w.test(aws, metadata(STRING_SECRET.0)).await.body,
        json!({"inputs": "EndpointConnectionError"}),
        "the service-specific variable wins"
    );
    point_plugin_at(Some(&w.moto.url), None);
}
