//! The `credstore` binary as an operator meets it: help texts, first start, ping, and the
//! refusal to start with a master key that does not match the database.

use crate::common;

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
    /// The log up to the "listening" line.
    stderr: Vec<String>,
    /// The rest of the log, unread; dropping it closes the pipe.
    reader: Option<BufReader<std::process::ChildStderr>>,
}

impl Server {
    /// Stops the server as an operator would (SIGTERM, which writes out the buffered
    /// log) and returns what it logged after it started listening.
    fn rest_of_log(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut rest = String::new();
        if let Some(reader) = self.reader.as_mut() {
            let _ = reader.read_to_string(&mut rest);
        }
        rest
    }
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
    start_with(dir, port, admin_password, &[])
}

/// [`start`] with extra `serve` flags.
fn start_with(
    dir: &std::path::Path,
    port: u16,
    admin_password: Option<&str>,
    flags: &[&str],
) -> Server {
    let mut cmd = bin();
    cmd.args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(flags)
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
    Server {
        child,
        stderr,
        reader: Some(reader),
    }
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
        // Password hashes, token digests and ciphertexts: nobody else may read them.
        let mode_of =
            |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode_of(data.clone()), 0o700);
        for file in [
            "credstore.db",
            "credstore.db-wal",
            "credstore.db-shm",
            "credstore.db.lock",
        ] {
            if data.join(file).exists() {
                assert_eq!(mode_of(data.join(file)), 0o600, "{file}");
            }
        }
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

/// Asserts that `text` holds every one of `parts` (a message and what it must name).
fn says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} missing in:\n{text}");
    }
}

/// Asserts that `text` holds none of `parts` (a secret, a stale wording).
fn never_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(!text.contains(part), "{part:?} found in:\n{text}");
    }
}

/// Runs `serve` with the given data dir and extra arguments until it exits (it must fail
/// before listening) and returns its standard error.
fn failed_start(data: &std::path::Path, args: &[&str]) -> String {
    let port = free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let out = bin()
        .args(["serve", "--bind", &bind])
        .args(args)
        .env("CREDSTORE_DATA_DIR", data)
        .env_remove("CREDSTORE_ADMIN_PASSWORD")
        .env_remove("CREDSTORE_DATABASE_URL")
        .env_remove("CREDSTORE_MASTER_KEY_FILE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "the server started:\n{text}");
    assert!(!text.contains("listening"), "{text}");
    text
}

#[test]
fn a_key_file_that_is_not_text_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = data.join("master.key");
    std::fs::write(&key, [0xff_u8, 0xfe, 0x00, 0x9c, 0x80]).unwrap();
    let text = failed_start(&data, &[]);
    says(
        &text,
        &[
            &key.display().to_string(),
            "not a credstore key file",
            "--master-key-file",
        ],
    );
    never_says(&text, &["UTF-8"]);
}

#[test]
fn a_key_of_the_wrong_length_is_named_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = data.join("master.key");
    // 16 bytes of base64: a key, but half as long as an AES-256 key.
    std::fs::write(&key, "1:AAECAwQFBgcICQoLDA0ODw==\n").unwrap();
    let text = failed_start(&data, &[]);
    says(
        &text,
        &[
            &key.display().to_string(),
            "line 1 is 16 bytes long",
            "32 bytes",
            "--master-key-file",
        ],
    );
    std::fs::write(&key, "not-base64-at-all!\n").unwrap();
    let text = failed_start(&data, &[]);
    assert!(text.contains("line 1 is not base64"), "{text}");
}

#[test]
fn a_data_dir_that_cannot_be_made_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    // A file where a directory should be: refused even for root.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let data = blocker.join("data");
    let text = failed_start(&data, &[]);
    says(
        &text,
        &[
            &data.display().to_string(),
            "--data-dir",
            "CREDSTORE_DATA_DIR",
        ],
    );
}

#[test]
fn a_busy_port_is_named_before_any_password_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = bin()
        .args(["serve", "--bind", &addr])
        .env("CREDSTORE_DATA_DIR", &data)
        .env_remove("CREDSTORE_ADMIN_PASSWORD")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    says(&text, &[&addr, "already in use", "--bind"]);
    assert!(
        !text.contains("password"),
        "a password was made for a failed start:\n{text}"
    );
    assert!(!data.exists(), "a failed start left a data dir behind");
}

#[test]
fn a_database_url_of_unknown_scheme_names_the_flag_not_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let text = failed_start(
        &data,
        &[
            "--database-url",
            "mysql://credstore:Sup3rSecret@db/credstore",
        ],
    );
    says(&text, &["mysql://", "--database-url", "sqlite://"]);
    never_says(&text, &["Sup3rSecret"]);
}

#[test]
fn sigterm_stops_the_server_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = start(&data, port, Some("pw"));
    assert!(http_get(port, "/api/v2/ping/").starts_with("HTTP/1.1 200"));
    // Nobody reads the log any more: the lines of the stop go to a closed pipe, which
    // must not make the server panic.
    server.reader.take();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    // A clean stop leaves the database file alone holding the data (restores rely on it).
    assert!(data.join("credstore.db").exists());
    assert!(
        !data.join("credstore.db-wal").exists(),
        "a clean stop left the WAL behind"
    );
}

/// `GET path` with HTTP Basic credentials; the status line and headers and body.
fn http_get_as(port: u16, path: &str, user: &str, password: &str) -> String {
    http_send(port, "GET", path, (user, password), "")
}

/// A request with HTTP Basic credentials and an optional JSON body; the whole answer.
fn http_send(port: u16, method: &str, path: &str, auth: (&str, &str), body: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", auth.0, auth.1));
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The JSON body of an answer.
fn body_of(answer: &str) -> serde_json::Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Runs an offline command with a line on standard input.
fn run_with_input(data: &std::path::Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = bin()
        .args(args)
        .env("CREDSTORE_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_locked_out_operator_gets_back_in_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let _server = start(&data, port, Some("forgotten-pw"));
    let out = run_with_input(&data, &["admin", "set-password", "admin"], "n3w-Passw0rd\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("n3w-Passw0rd"));
    assert!(http_get_as(port, "/api/v2/me/", "admin", "n3w-Passw0rd").starts_with("HTTP/1.1 200"));
    assert!(http_get_as(port, "/api/v2/me/", "admin", "forgotten-pw").starts_with("HTTP/1.1 401"));

    let out = run_with_input(
        &data,
        &["admin", "create-superuser", "rescue"],
        "r3scue-pw\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let me = http_get_as(port, "/api/v2/me/", "rescue", "r3scue-pw");
    assert!(me.contains("\"is_superuser\":true"), "{me}");

    let again = run_with_input(&data, &["admin", "create-superuser", "rescue"], "x\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("set-password rescue"));
    let nobody = run_with_input(&data, &["admin", "set-password", "nobody"], "x\n");
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user `nobody`"));
    let bad = run_with_input(&data, &["admin", "create-superuser", "two words"], "x\n");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not valid"));
    let empty = run_with_input(&data, &["admin", "set-password", "admin"], "\n");
    assert!(String::from_utf8_lossy(&empty.stderr).contains("empty"));
}

#[test]
fn an_ignored_admin_password_is_said_and_names_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(start(&data, free_port(), Some("first")));
    let port = free_port();
    let mut server = start(&data, port, Some("second"));
    server.child.kill().unwrap();
    let all = server.stderr.join("");
    says(
        &all,
        &[
            "CREDSTORE_ADMIN_PASSWORD is ignored",
            "credstore admin set-password",
        ],
    );
}

#[test]
fn logs_are_plain_in_a_pipe_with_a_line_per_request_and_failed_login() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start(&data, port, Some("pw"));
    let startup = server.stderr.join("");
    assert!(
        !startup.contains('\u{1b}'),
        "escape codes in a pipe:\n{startup}"
    );
    assert!(startup.contains(env!("CARGO_PKG_VERSION")), "{startup}");
    assert!(startup.contains(&format!("127.0.0.1:{port}")), "{startup}");
    assert!(http_get_as(port, "/api/v2/credentials/1/", "admin", "pw").starts_with("HTTP/1.1"));
    assert!(http_get_as(port, "/api/v2/me/", "mallory", "guess-1").starts_with("HTTP/1.1 401"));
    let rest = server.rest_of_log();
    let request = rest
        .lines()
        .find(|l| l.contains("request") && l.contains("/api/v2/credentials/{id}/"))
        .unwrap_or_else(|| panic!("no request line in:\n{rest}"));
    for part in [
        "GET",
        "status=",
        "user=1",
        "client=\"127.0.0.1\"",
        "micros=",
    ] {
        assert!(request.contains(part), "{part} missing in {request}");
    }
    let failed = rest
        .lines()
        .find(|l| l.contains("failed login"))
        .unwrap_or_else(|| panic!("no failed-login line in:\n{rest}"));
    assert!(
        failed.contains("mallory") && failed.contains("127.0.0.1"),
        "{failed}"
    );
    assert!(!rest.contains("guess-1"), "a password reached the log");
}

#[test]
fn an_invalid_log_filter_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .env("CREDSTORE_DATA_DIR", dir.path().join("data"))
        .env("CREDSTORE_LOG", "credstore=loudest")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("CREDSTORE_LOG"), "{text}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn completions_a_man_page_and_every_variable_in_help() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("set-password"), "{shell}: no admin commands");
    }
    let man = bin().arg("man").output().unwrap();
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(text.contains(".TH credstore"), "{text}");
    let help = String::from_utf8_lossy(&bin().arg("--help").output().unwrap().stdout).to_string();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for variable in [
        "CREDSTORE_ADMIN_PASSWORD",
        "CREDSTORE_LOG",
        "CREDSTORE_LOG_FORMAT",
        "CREDSTORE_K8S_TOKEN_FILE",
        "CREDSTORE_AZURE_AUTHORITY_HOST",
        "CREDSTORE_AZURE_MANAGED_IDENTITY",
        "CREDSTORE_DSV_BASE_URL",
    ] {
        assert!(help.contains(variable), "--help lacks {variable}");
        assert!(readme.contains(variable), "README lacks {variable}");
    }
    let version = bin().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn small_operator_mistakes_get_messages_that_name_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(start(&data, free_port(), Some("pw")));
    let run = |args: &[&str]| {
        let out = bin()
            .args(args)
            .env("CREDSTORE_DATA_DIR", &data)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let text = run(&["backup", "/nonexistent/dir/x.db"]);
    assert!(
        text.contains("/nonexistent/dir") && text.contains("does not exist"),
        "{text}"
    );
    let target = dir.path().join("copy.db");
    let from = format!("sqlite://{}", data.join("credstore.db").display());
    let to = format!("sqlite://{}", target.display());
    let text = run(&["migrate-data", "--from", &from, "--to", &to]);
    assert!(text.contains("postgres://"), "{text}");
    assert!(
        !target.exists(),
        "a refused migrate-data left {} behind",
        target.display()
    );
    let text = run(&[
        "migrate-data",
        "--from",
        "sqlite:///missing.db",
        "--to",
        "postgres://x@127.0.0.1:1/x",
    ]);
    assert!(
        text.contains("--from") && !text.contains("--data-dir"),
        "{text}"
    );
}

#[test]
fn an_unreachable_postgresql_is_named_within_seconds_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let text = failed_start(
        &dir.path().join("data"),
        &[
            "--database-url",
            "postgres://credstore:Hunter2pw@127.0.0.1:1/credstore",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    says(&text, &["--database-url"]);
    never_says(&text, &["Hunter2pw"]);
}

#[test]
fn a_data_dir_others_may_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = start(&data, free_port(), Some("pw"));
    let log = server.stderr.join("");
    assert!(
        log.contains("data directory may be read by other users"),
        "{log}"
    );
    let db = std::fs::metadata(data.join("credstore.db")).unwrap();
    assert_eq!(db.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_key_file_others_may_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(start(&data, free_port(), Some("pw")));
    let key = data.join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = start(&data, free_port(), None);
    let log = server.stderr.join("");
    says(
        &log,
        &["may be read by other users", &key.display().to_string()],
    );
}

/// Tests a personal HashiCorp Vault credential pointing at `url` on a running server.
fn lookup_test_answer(port: u16, url: &str) -> serde_json::Value {
    let admin = ("admin", "pw");
    let types = body_of(&http_send(
        port,
        "GET",
        "/api/v2/credential_types/?namespace=hashivault_kv",
        admin,
        "",
    ));
    let ty = types["results"][0]["id"].as_i64().unwrap();
    let created = http_send(
        port,
        "POST",
        "/api/v2/credentials/",
        admin,
        &serde_json::json!({"name": url, "credential_type": ty, "user": 1,
                            "inputs": {"url": url, "token": "t"}})
        .to_string(),
    );
    let id = body_of(&created)["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    let answer = http_send(
        port,
        "POST",
        &format!("/api/v2/credentials/{id}/test/"),
        admin,
        r#"{"metadata": {"secret_path": "/kv/x", "secret_key": "k"}}"#,
    );
    body_of(&answer)
}

/// The egress policy of lookups: denied addresses, named literally or resolved from a
/// name, fail like an unreachable host; the same requests reach the server without it.
#[test]
fn lookups_cannot_reach_denied_networks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_with(
        &data,
        port,
        Some("pw"),
        &["--lookup-deny", "127.0.0.0/8,::1/128"],
    );
    let refused = serde_json::json!({"inputs": "ConnectionError"});
    assert_eq!(
        lookup_test_answer(port, &format!("http://127.0.0.1:{port}")),
        refused
    );
    assert_eq!(
        lookup_test_answer(port, &format!("http://localhost:{port}")),
        refused
    );
    drop(server);

    let port = free_port();
    let _open = start(&data, port, None);
    assert_eq!(
        lookup_test_answer(port, &format!("http://127.0.0.1:{port}")),
        serde_json::json!({"inputs": "HTTP 404"}),
        "without the policy the same request reaches the server"
    );
    let metadata = lookup_test_answer(port, "http://169.254.169.254");
    assert_eq!(metadata, refused, "link-local is denied by default");
}

/// Opens a connection and sends half a request head.
fn half_request(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /api/v2/ping/ HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    s
}

/// True once the server has closed the connection (end of stream or reset).
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut
            }
        }
    }
}

#[test]
fn slow_clients_are_dropped_and_do_not_block_others() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let _server = start_with(
        &data,
        port,
        Some("pw"),
        &["--header-timeout", "2", "--body-timeout", "2"],
    );
    let mut stalled: Vec<TcpStream> = (0..5000).map(|_| half_request(port)).collect();
    let ping = http_get(port, "/api/v2/ping/");
    assert!(
        ping.starts_with("HTTP/1.1 200"),
        "ping while 5,000 clients stall: {ping}"
    );
    for s in stalled.iter_mut().step_by(100) {
        assert!(
            closed_by_server(s),
            "a half-sent request outlived the header timeout"
        );
    }

    // A body that stops arriving: 408 in AWX's shape.
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode("admin:pw");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /api/v2/organizations/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": "
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
}

#[test]
fn connections_past_the_cap_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let _server = start_with(
        &data,
        port,
        Some("pw"),
        &["--header-timeout", "2", "--max-connections", "20"],
    );
    let _stalled: Vec<TcpStream> = (0..20).map(|_| half_request(port)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).unwrap();
    waiting
        .write_all(b"GET /api/v2/ping/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut first = [0u8; 16];
    assert!(
        waiting.read(&mut first).is_err(),
        "served past the cap of 20 connections"
    );
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = waiting.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "once the stalled ones timed out: {answer}"
    );
}

/// `--log-format json`: one JSON object per line with the request's fields, and a planted
/// secret in no line at any level (trace included), through create, read, render and a
/// failed login.
#[test]
fn json_logs_carry_the_request_fields_and_no_secret() {
    const PLANTED: &str = "PLANTED-json-log-91c2";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = bin();
    cmd.args([
        "--log-format",
        "json",
        "serve",
        "--bind",
        &format!("127.0.0.1:{port}"),
    ])
    .env("CREDSTORE_DATA_DIR", dir.path().join("data"))
    .env("CREDSTORE_ADMIN_PASSWORD", "pw")
    .env("CREDSTORE_LOG", "trace")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("listening") {
        line.clear();
    }
    let mut server = Server {
        child,
        stderr: vec![line],
        reader: Some(reader),
    };
    // Trace logging writes far more than a pipe holds: read it as it comes.
    let log = drain(&mut server);
    let created = http_send(
        port,
        "POST",
        "/api/v2/credentials/",
        ("admin", "pw"),
        &format!(
            r#"{{"name":"j","credential_type":1,"user":1,"inputs":{{"username":"u","password":"{PLANTED}"}}}}"#
        ),
    );
    let id = body_of(&created)["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"));
    http_get_as(port, &format!("/api/v2/credentials/{id}/"), "admin", "pw");
    let rendered = http_send(
        port,
        "POST",
        &format!("/api/v2/credentials/{id}/render/"),
        ("admin", "pw"),
        "{}",
    );
    assert!(
        rendered.contains(PLANTED),
        "the render answer holds the secret: {rendered}"
    );
    http_get_as(port, "/api/v2/me/", "admin", PLANTED);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let log = log.join().unwrap();
    assert!(
        !log.contains(PLANTED),
        "a log line holds the planted secret"
    );
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request" && l["route"] == "/api/v2/credentials/{id}/render/")
        .unwrap_or_else(|| panic!("no request line for the render in:\n{log}"));
    for field in [
        "timestamp",
        "level",
        "method",
        "status",
        "micros",
        "user",
        "request_id",
        "client",
    ] {
        assert!(!request[field].is_null(), "{field} missing in {request}");
    }
    assert_eq!(request["status"], 200);
    assert_eq!(request["user"], 1);
}

/// `serve --tls-cert/--tls-key`: a client that trusts the CA gets through (with HSTS and
/// Secure cookies), one that does not is refused; `credstore run` with `--ca-file`; and
/// a certificate replaced on disk goes live on SIGHUP without a restart.
#[test]
fn native_tls_serves_reloads_and_is_trusted_only_through_its_ca() {
    let pki = crate::common::tls::pki();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, &pki.server_cert).unwrap();
    std::fs::write(&key, &pki.server_key).unwrap();
    std::fs::write(&ca, &pki.ca).unwrap();
    let port = free_port();
    let flags = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let server = start_with(&dir.path().join("data"), port, Some("pw"), &flags);
    assert!(
        server.stderr.join("").contains("https"),
        "{:?}",
        server.stderr
    );
    let url = format!("https://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let trusting = |pem: &str| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    let answer = runtime
        .block_on(trusting(&pki.ca).get(format!("{url}/api/")).send())
        .expect("a client trusting the CA gets through");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookies: Vec<&str> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.ends_with("; Secure")),
        "{cookies:?}"
    );
    let stranger = runtime.block_on(
        reqwest::Client::builder()
            .use_rustls_tls()
            .build()
            .unwrap()
            .get(format!("{url}/api/v2/ping/"))
            .send(),
    );
    assert!(
        stranger.is_err(),
        "a client that does not trust the CA must be refused"
    );

    let run = |extra: &[&str]| {
        bin()
            .args(["run", "--host", &url, "--credential", "1"])
            .args(extra)
            .args(["--", "true"])
            .env("CONTROLLER_USERNAME", "admin")
            .env("CONTROLLER_PASSWORD", "pw")
            .env_remove("CONTROLLER_VERIFY_SSL")
            .output()
            .unwrap()
    };
    let trusted = run(&["--ca-file", ca.to_str().unwrap()]);
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    let untrusted = run(&[]);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("cannot reach"));

    // A new certificate for the same address from a CA of its own, put in place and
    // signalled.
    let renewed = dir.path().join("renewed");
    std::fs::create_dir(&renewed).unwrap();
    std::fs::write(
        renewed.join("ext.cnf"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for args in [
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=renew-ca",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "req.csr",
                "-subj",
                "/CN=renewed",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    ] {
        let made = Command::new("openssl")
            .args(&args)
            .current_dir(&renewed)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let renewed_cert = std::fs::read_to_string(renewed.join("ca.pem")).unwrap();
    std::fs::copy(renewed.join("cert.pem"), &cert).unwrap();
    std::fs::copy(renewed.join("key.pem"), &key).unwrap();
    assert!(Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = runtime.block_on(
            trusting(&renewed_cert)
                .get(format!("{url}/api/v2/ping/"))
                .send(),
        );
        if fresh.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate never went live: {fresh:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let old = runtime.block_on(trusting(&pki.ca).get(format!("{url}/api/v2/ping/")).send());
    assert!(
        old.is_err(),
        "the old certificate is still served after the reload"
    );
    let log = server.rest_of_log();
    assert!(log.contains("TLS certificate reloaded"), "{log}");
}

#[test]
fn tls_files_that_do_not_load_stop_the_start_with_the_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let out = bin()
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{}", free_port()),
            "--tls-cert",
        ])
        .arg(&bogus)
        .arg("--tls-key")
        .arg(&bogus)
        .env("CREDSTORE_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--tls-cert"), "{text}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is made before the TLS files load"
    );
}

/// Reads the rest of a server's log in a thread: a log pipe nobody reads fills up after
/// a few hundred request lines and stalls the server's logging, and with it the server.
fn drain(server: &mut Server) -> std::thread::JoinHandle<String> {
    let mut reader = server.reader.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = reader.read_to_string(&mut text);
        text
    })
}

/// SIGTERM under write load: the server stops accepting, finishes what is in flight,
/// exits 0, and every write it acknowledged is there after a restart.
#[test]
fn sigterm_under_write_load_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = start(&data, port, Some("pw"));
    let log = drain(&mut server);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) && n % 50 == 49 {
                        break;
                    }
                    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { break };
                    let body = format!(r#"{{"name":"org-{w}-{n}"}}"#);
                    use base64::Engine;
                    let auth = base64::engine::general_purpose::STANDARD.encode("admin:pw");
                    let sent = write!(
                        s,
                        "POST /api/v2/organizations/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let mut answer = String::new();
                    if sent.is_err() || s.read_to_string(&mut answer).is_err() {
                        break;
                    }
                    if answer.starts_with("HTTP/1.1 201") {
                        if let Some(id) = body_of(&answer)["id"].as_i64() {
                            acknowledged.push(id);
                        }
                    } else if !answer.is_empty() {
                        panic!("a write failed before the stop: {answer}");
                    } else {
                        break;
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let status = server.child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(log.contains("stopped"), "{log}");
    let acknowledged: Vec<i64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acknowledged.len() > 20,
        "too little load: {} writes",
        acknowledged.len()
    );
    drop(server);
    let port = free_port();
    let mut again = start(&data, port, None);
    let _again_log = drain(&mut again);
    let missing: Vec<i64> = acknowledged
        .iter()
        .copied()
        .filter(|id| {
            !http_get_as(port, &format!("/api/v2/organizations/{id}/"), "admin", "pw")
                .starts_with("HTTP/1.1 200")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes are gone: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
}

/// `serve --public-url https://...` behind a proxy that ends TLS: the session cookies of
/// plain-HTTP answers are Secure and HSTS is sent, as under native TLS; without it they
/// are not; a URL that is not http(s) is refused at start.
#[test]
fn a_public_https_url_marks_cookies_secure_behind_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = start_with(
        &data,
        port,
        Some("pw"),
        &["--public-url", "https://creds.example.com/"],
    );
    let page = http_get(port, "/login/");
    let cookie = page
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: csrftoken="))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(cookie.trim_end().ends_with("; Secure"), "{cookie}");
    assert!(page
        .to_ascii_lowercase()
        .contains("strict-transport-security: max-age=31536000"));
    drop(server);

    let port = free_port();
    let plain = start_with(&data, port, None, &[]);
    let page = http_get(port, "/login/");
    assert!(!page.contains("Secure") && !page.to_ascii_lowercase().contains("strict-transport"));
    drop(plain);

    let out = bin()
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .args(["--public-url", "ftp://creds.example.com/"])
        .env("CREDSTORE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-url"));
}
