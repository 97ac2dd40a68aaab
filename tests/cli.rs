//! The `credstore` binary as an operator meets it: help texts, first start, ping, and the
//! refusal to start with a master key that does not match the database.

mod common;

use common::free_port;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_credstore"))
}

#[test]
fn help_explains_every_option() {
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "migrate", "keys"] {
        assert!(text.contains(word), "--help lacks {word}");
    }
    let out = bin().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--bind",
        "CREDSTORE_BIND",
        "127.0.0.1:8052",
        "--data-dir",
        "CREDSTORE_DATA_DIR",
        "./credstore-data",
        "--database-url",
        "CREDSTORE_DATABASE_URL",
        "--master-key-file",
        "CREDSTORE_MASTER_KEY_FILE",
        "CREDSTORE_ADMIN_PASSWORD",
    ] {
        assert!(text.contains(word), "serve --help lacks {word}:\n{text}");
    }
}

struct Server {
    child: Child,
    stderr: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The allocator is part of the performance contract (docs/performance.md): mimalloc
/// announces itself when asked to be verbose, glibc's malloc never does.
#[test]
fn the_binary_allocates_with_mimalloc() {
    let out = bin()
        .arg("--version")
        .env("MIMALLOC_VERBOSE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success());
    assert!(
        stderr.contains("mimalloc: process init"),
        "no mimalloc start-up line in:\n{stderr}"
    );
}

/// Starts `serve` and waits until it logs that it listens.
fn start(dir: &std::path::Path, port: u16, admin_password: Option<&str>) -> Server {
    let mut cmd = bin();
    cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("CREDSTORE_DATA_DIR", dir)
        .env_remove("CREDSTORE_ADMIN_PASSWORD")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = admin_password {
        cmd.env("CREDSTORE_ADMIN_PASSWORD", p);
    }
    let mut child = cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        stderr.push(line.clone());
        if line.contains("listening") {
            break;
        }
    }
    Server { child, stderr }
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn first_start_creates_everything_and_serves_ping() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start(&data, port, None);
    let all = server.stderr.join("");
    assert!(all.contains("listening"), "server did not start:\n{all}");
    assert_eq!(
        all.matches("with password").count(),
        1,
        "generated password printed once"
    );
    assert!(data.join("credstore.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let reply = http_get(port, "/api/v2/ping/");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    drop(server);
    let again = start(&data, free_port(), None);
    assert!(
        !again.stderr.join("").contains("with password"),
        "password printed on a second start"
    );
}

#[test]
fn a_wrong_master_key_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(start(&data, free_port(), Some("pw")));
    let other_key = dir.path().join("other.key");
    std::fs::write(
        &other_key,
        credstore::crypto::MasterKey::generate()
            .to_base64()
            .as_bytes(),
    )
    .unwrap();
    let out = bin()
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .env("CREDSTORE_DATA_DIR", &data)
        .env("CREDSTORE_MASTER_KEY_FILE", &other_key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("does not match this database"), "{text}");
}

#[test]
fn keys_fingerprint_and_migrate_work_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = bin()
        .arg("migrate")
        .env("CREDSTORE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(start(&data, free_port(), Some("pw")));
    let out = bin()
        .args(["keys", "fingerprint"])
        .env("CREDSTORE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 32);
}
