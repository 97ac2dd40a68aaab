//! Test harness: a real credstore app driven over HTTP in-process, on a temp SQLite file
//! or, when `CREDSTORE_TEST_POSTGRES` names a PostgreSQL server
//! (`postgres://user@host:port/db`), on a fresh database of that server per data dir.
#![allow(dead_code)]

pub mod tls;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use credstore::config::Config;
use http_body_util::BodyExt;
use serde_json::Value;
use std::path::PathBuf;
use tower::ServiceExt;

/// Password of the `admin` superuser in every test app.
pub const ADMIN_PASSWORD: &str = "admin-Pa55word";

/// A running app over its own data directory.
pub struct TestApp {
    pub router: Router,
    pub state: credstore::AppState,
    pub dir: tempfile::TempDir,
    /// Held as a server holds it: a restore of this database waits for the app to go.
    pub lock: Option<credstore::backup::ServeLock>,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub raw: String,
}

/// Who sends a request.
#[derive(Clone, Copy, Debug)]
pub enum As<'a> {
    Anon,
    Admin,
    Basic(&'a str, &'a str),
}

impl TestApp {
    /// A fresh app on a new temp dir.
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::on_dir(dir).await
    }

    /// An app on an existing dir (to restart over the same data).
    pub async fn on_dir(dir: tempfile::TempDir) -> TestApp {
        let config = config_for(dir.path().to_path_buf());
        Self::with_config(&config, dir).await
    }

    /// An app over an existing data directory that the caller keeps.
    pub async fn on_dir_path(dir: &std::path::Path) -> TestApp {
        let temp = tempfile::tempdir().expect("tempdir");
        Self::with_config(&config_for(dir.to_path_buf()), temp).await
    }

    /// An app started with `config`; `dir` is kept alive with it.
    pub async fn with_config(config: &Config, dir: tempfile::TempDir) -> TestApp {
        let prepared = credstore::startup::prepare(config).await.expect("startup");
        let state = prepared.state;
        TestApp {
            router: credstore::app(state.clone()),
            state,
            dir,
            lock: prepared.lock,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("credstore.db")
    }

    /// Sends a request with an optional JSON body.
    pub async fn send(
        &self,
        who: As<'_>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(auth) = basic(who) {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.call(req.body(body).expect("request")).await
    }

    /// Sends a prepared request.
    pub async fn call(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let raw = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    pub async fn get(&self, who: As<'_>, path: &str) -> Reply {
        self.send(who, Method::GET, path, None).await
    }
    pub async fn post(&self, who: As<'_>, path: &str, body: Value) -> Reply {
        self.send(who, Method::POST, path, Some(&body)).await
    }
    pub async fn patch(&self, who: As<'_>, path: &str, body: Value) -> Reply {
        self.send(who, Method::PATCH, path, Some(&body)).await
    }
    pub async fn put(&self, who: As<'_>, path: &str, body: Value) -> Reply {
        self.send(who, Method::PUT, path, Some(&body)).await
    }
    pub async fn delete(&self, who: As<'_>, path: &str) -> Reply {
        self.send(who, Method::DELETE, path, None).await
    }

    /// Creates an object as admin and returns its id (asserting 201).
    pub async fn create(&self, path: &str, body: Value) -> i64 {
        let r = self.post(As::Admin, path, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.raw);
        r.body["id"].as_i64().expect("id")
    }

    /// Id of the managed type with this namespace.
    pub async fn type_id(&self, namespace: &str) -> i64 {
        let r = self
            .get(
                As::Admin,
                &format!("/api/v2/credential_types/?namespace={namespace}"),
            )
            .await;
        r.body["results"][0]["id"].as_i64().expect("managed type")
    }

    /// An organization named `name`.
    pub async fn org(&self, name: &str) -> i64 {
        self.create("/api/v2/organizations/", serde_json::json!({"name": name}))
            .await
    }

    /// A normal user with password `pw-<name>`.
    pub async fn user(&self, name: &str) -> i64 {
        self.create(
            "/api/v2/users/",
            serde_json::json!({"username": name, "password": format!("pw-{name}")}),
        )
        .await
    }
}

/// The configuration the tests start with.
pub fn config_for(dir: PathBuf) -> Config {
    let database_url = postgres_database_for(&dir);
    let mut config = Config::resolve(
        "127.0.0.1:0".parse().expect("addr"),
        dir,
        database_url,
        None,
        Some(ADMIN_PASSWORD.to_string()),
    );
    // The server runs inside the test binary, which has no worker subcommand.
    config.template_worker = PathBuf::from(env!("CARGO_BIN_EXE_credstore"));
    config
}

/// The PostgreSQL server the suite runs against, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("CREDSTORE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Test databases this process created, by the data dir they belong to.
static CREATED_DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> =
    std::sync::Mutex::new(Vec::new());

/// A database of the test server for this data dir, created on first use, so that an app
/// restarted over the same dir finds its data again. `None` when testing SQLite.
///
/// Every database costs the server ~8 MB of disk (a copy of the template, written twice with
/// its WAL), so databases whose data dir is gone are dropped here first: without that, one
/// pass of the suite left some 7 GB behind and CI machines with little free disk lost the
/// server mid-run.
pub fn postgres_database_for(dir: &std::path::Path) -> Option<String> {
    let server = postgres_server()?;
    let abandoned: Vec<String> = {
        let mut created = CREATED_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
        let (gone, alive) = std::mem::take(&mut *created)
            .into_iter()
            .partition(|(path, _)| !path.exists());
        *created = alive;
        gone.into_iter().map(|(_, name)| name).collect()
    };
    // DefaultHasher::new() has fixed keys: the same dir always maps to the same name.
    let hasher =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
    let name = format!(
        "t_{:016x}",
        std::hash::BuildHasher::hash_one(&hasher, dir.display().to_string())
    );
    let (base, _) = server.rsplit_once('/').expect("server URL with a database");
    let url = format!("{base}/{name}");
    let admin_url = server.clone();
    let registered_name = name.clone();
    // Creating a database is a server round trip; the harness is synchronous here, so it
    // runs on a short-lived runtime of its own.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .expect("test PostgreSQL server");
                for old in abandoned {
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .expect("drop an abandoned test database");
                }
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(&name)
                        .fetch_optional(&mut conn)
                        .await
                        .expect("pg_database");
                if exists.is_none() {
                    sqlx::query(&format!("CREATE DATABASE {name}"))
                        .execute(&mut conn)
                        .await
                        .expect("create test database");
                }
            })
    })
    .join()
    .expect("database creation");
    let mut created = CREATED_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    if !created.iter().any(|(path, _)| path == dir) {
        created.push((dir.to_path_buf(), registered_name));
    }
    Some(url)
}

/// Everything the database holds, as bytes to grep for planted secrets: the SQLite files
/// (database and WAL), or every row of every table as text on PostgreSQL.
pub async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    use credstore::store::query::query_scalar;
    if postgres_server().is_none() {
        let mut out = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", app.db_path().display());
            out.extend(std::fs::read(path).unwrap_or_default());
        }
        return out;
    }
    let pool = app.state.ctx.store.pool();
    let tables: Vec<String> = query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let rows: Vec<String> = query_scalar(&format!("SELECT t::text FROM {t} t"))
            .fetch_all(pool)
            .await
            .expect("rows");
        for r in rows {
            out.extend(r.into_bytes());
            out.push(b'\n');
        }
    }
    out
}

fn basic(who: As<'_>) -> Option<String> {
    let (u, p) = match who {
        As::Anon => return None,
        As::Admin => ("admin", ADMIN_PASSWORD),
        As::Basic(u, p) => (u, p),
    };
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    ))
}

/// A server that accepts connections and never answers: the backend that hangs, for
/// lookup timeouts. Returns its `http://127.0.0.1:PORT` base.
pub async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// A free loopback port, for servers started as processes.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A fresh 2048-bit RSA private key in PKCS#1 PEM (GitHub's form for app keys).
pub fn rsa_private_key() -> String {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("PEM text")
}

/// Environment variables the lookup backends read at every lookup: AWS's and DSV's
/// endpoints, Azure's login and IMDS hosts and managed identity, the CA bundles of AWS and
/// Azure, the Kubernetes token file of HashiCorp Vault.
const LOOKUP_ENV: [&str; 13] = [
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "CREDSTORE_AZURE_AUTHORITY_HOST",
    "AZURE_AUTHORITY_HOST",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_CLIENT_ID",
    "CREDSTORE_AZURE_MANAGED_IDENTITY",
    "CREDSTORE_DSV_BASE_URL",
    "CREDSTORE_K8S_TOKEN_FILE",
];

static LOOKUP_ENV_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lookup environment (`LOOKUP_ENV`) for one test at a time. Those variables are
/// process-wide, and the tests of every backend share one process: a test that sets any
/// of them holds this for as long as its lookups run. They start unset, so nothing left
/// by an earlier test (an Azure CA bundle in a deleted directory, say, which AWS reads
/// too) reaches the next, and are put back as they were when it is dropped.
pub struct LookupEnv {
    saved: Vec<(&'static str, Option<std::ffi::OsString>)>,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

pub async fn lookup_env() -> LookupEnv {
    let serial = LOOKUP_ENV_LOCK.lock().await;
    let saved = LOOKUP_ENV
        .iter()
        .map(|name| (*name, std::env::var_os(name)))
        .collect();
    for name in LOOKUP_ENV {
        std::env::remove_var(name);
    }
    LookupEnv {
        saved,
        _serial: serial,
    }
}

impl Drop for LookupEnv {
    fn drop(&mut self) {
        for (name, value) in &self.saved {
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
    }
}

/// Runs the tests whose names contain `filter` in a child process of this test binary,
/// with the environment variable `flag` set, and fails unless exactly one ran and passed.
/// For a test that takes something process-wide for itself (a global `tracing`
/// subscriber): the test checks `flag` and, when it is not set, calls this instead.
pub fn in_own_process(filter: &str, flag: &str) {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([filter, "--test-threads=1"])
        .env(flag, "1")
        .output()
        .expect("the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{filter} in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The prompt of a Machine credential's SSH password in a render.
pub const SSH_PASSWORD_PROMPT: &str = r"SSH password:\s*?$";
/// The prompt of a Machine credential's become password in a render.
pub const BECOME_PASSWORD_PROMPT: &str = r"BECOME password.*:\s*?$";

/// Credential `id` rendered for a job by the admin.
pub async fn render(app: &TestApp, id: i64) -> Reply {
    app.post(
        As::Admin,
        &format!("/api/v2/credentials/{id}/render/"),
        serde_json::json!({"purpose": "test"}),
    )
    .await
}

/// The answer a render gives to `prompt`.
pub fn answer(reply: &Reply, prompt: &str) -> Option<String> {
    reply.body["passwords"]
        .as_array()?
        .iter()
        .find(|p| p["prompt"] == prompt)
        .and_then(|p| p["value"].as_str())
        .map(str::to_string)
}
