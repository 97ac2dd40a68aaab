//! Several `credstore serve` processes on one PostgreSQL database: they start together and
//! seed once, see each other's writes at once (permissions included), stay consistent
//! under racing writes, and refuse a different master key. Runs when
//! `CREDSTORE_TEST_POSTGRES` names a server (scripts/test.sh starts one).

use crate::common;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("admin", "admin-pw");

/// One running instance.
struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database and a master key file that every instance of the test shares.
struct Cluster {
    dir: tempfile::TempDir,
    database_url: String,
    key_file: PathBuf,
}

fn cluster() -> Option<Cluster> {
    if common::postgres_server().is_none() {
        eprintln!("skipped: CREDSTORE_TEST_POSTGRES is not set");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let database_url = common::postgres_database_for(dir.path()).unwrap();
    let key_file = dir.path().join("shared.key");
    write_key(&key_file, 7);
    Some(Cluster {
        dir,
        database_url,
        key_file,
    })
}

fn write_key(path: &Path, byte: u8) {
    use std::os::unix::fs::OpenOptionsExt;
    let text = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    std::io::Write::write_all(&mut options.open(path).unwrap(), text.as_bytes()).unwrap();
}

/// Starts `serve` on the cluster's database; returns it once it listens, or its stderr
/// if it exited first.
fn spawn(c: &Cluster, name: &str, key_file: &Path) -> Result<Instance, String> {
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_credstore"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(c.dir.path().join(name))
        .args(["--database-url", &c.database_url])
        .arg("--master-key-file")
        .arg(key_file)
        .env("CREDSTORE_ADMIN_PASSWORD", ADMIN.1)
        .env_remove("CREDSTORE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut log = String::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            return Err(log);
        }
        log.push_str(&line);
        if line.contains("listening") {
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in reader.lines() {});
            return Ok(Instance {
                child,
                base: format!("http://127.0.0.1:{port}"),
            });
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("did not start in time:\n{log}"))
}

/// Starts two instances at the same moment.
fn spawn_pair(c: &Cluster) -> (Instance, Instance) {
    std::thread::scope(|s| {
        let a = s.spawn(|| spawn(c, "a", &c.key_file));
        let b = s.spawn(|| spawn(c, "b", &c.key_file));
        (
            a.join().unwrap().expect("instance a"),
            b.join().unwrap().expect("instance b"),
        )
    })
}

async fn call(
    client: &reqwest::Client,
    who: (&str, &str),
    method: Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, url).basic_auth(who.0, Some(who.1));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

impl Instance {
    async fn get(
        &self,
        client: &reqwest::Client,
        who: (&str, &str),
        path: &str,
    ) -> (StatusCode, Value) {
        call(
            client,
            who,
            Method::GET,
            format!("{}{path}", self.base),
            None,
        )
        .await
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        call(
            client,
            ADMIN,
            method,
            format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    async fn create(&self, client: &reqwest::Client, path: &str, body: Value) -> i64 {
        let (status, body) = self.send(client, Method::POST, path, body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
        body["id"].as_i64().unwrap()
    }

    async fn type_id(&self, client: &reqwest::Client, namespace: &str) -> i64 {
        let (_, body) = self
            .get(
                client,
                ADMIN,
                &format!("/api/v2/credential_types/?namespace={namespace}"),
            )
            .await;
        body["results"][0]["id"].as_i64().unwrap()
    }
}

/// How many managed types the binary ships: each must exist exactly once.
fn shipped_types() -> i64 {
    credstore::domain::managed_types::managed_types().len() as i64
}

/// One value from the shared database, read directly.
async fn scalar(c: &Cluster, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&c.database_url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

#[tokio::test]
async fn instances_starting_together_migrate_and_seed_once() {
    let Some(c) = cluster() else { return };
    let (a, b) = spawn_pair(&c);
    let client = reqwest::Client::new();
    for instance in [&a, &b] {
        let (status, body) = instance
            .get(&client, ADMIN, "/api/v2/credential_types/?managed=true")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["count"], shipped_types());
        let (_, users) = instance.get(&client, ADMIN, "/api/v2/users/").await;
        assert_eq!(users["count"], 1, "one admin");
    }
    let shipped_migrations = std::fs::read_dir("migrations/postgres")
        .expect("migrations")
        .count();
    assert_eq!(
        scalar(&c, "SELECT COUNT(*) FROM _sqlx_migrations").await,
        i64::try_from(shipped_migrations).expect("count"),
        "each migration applied once"
    );
    assert_eq!(
        scalar(&c, "SELECT COUNT(*) FROM credential_types").await,
        shipped_types()
    );
    assert_eq!(
        scalar(&c, "SELECT COUNT(*) FROM credentials WHERE managed").await,
        1,
        "one Galaxy credential"
    );
}

#[tokio::test]
async fn writes_and_permissions_through_one_are_seen_by_the_other_at_once() {
    let Some(c) = cluster() else { return };
    let (a, b) = spawn_pair(&c);
    let client = reqwest::Client::new();
    let org = a
        .create(&client, "/api/v2/organizations/", json!({"name": "o"}))
        .await;
    let user = a
        .create(
            &client,
            "/api/v2/users/",
            json!({"username": "bob", "password": "bob-pw"}),
        )
        .await;
    let ssh = a.type_id(&client, "ssh").await;
    let cred = a
        .create(
            &client,
            "/api/v2/credentials/",
            json!({"name": "c", "organization": org, "credential_type": ssh,
                   "inputs": {"username": "u", "password": "s3cret"}}),
        )
        .await;
    let path = format!("/api/v2/credentials/{cred}/");
    let (status, body) = b.get(&client, ADMIN, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["inputs"]["password"], "$encrypted$");
    let bob = ("bob", "bob-pw");
    assert_eq!(b.get(&client, bob, &path).await.0, StatusCode::FORBIDDEN);
    // AWX grants credential roles only to members of the credential's organization.
    let members = format!("/api/v2/organizations/{org}/users/");
    let (status, body) = a
        .send(&client, Method::POST, &members, json!({"id": user}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (_, roles) = a
        .get(
            &client,
            ADMIN,
            &format!("/api/v2/credentials/{cred}/object_roles/?role_field=read_role"),
        )
        .await;
    let read_role = roles["results"][0]["id"].as_i64().unwrap();
    let roles_path = format!("/api/v2/users/{user}/roles/");
    let (status, _) = a
        .send(&client, Method::POST, &roles_path, json!({"id": read_role}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        b.get(&client, bob, &path).await.0,
        StatusCode::OK,
        "grant seen"
    );

    let (status, _) = a
        .send(
            &client,
            Method::POST,
            &roles_path,
            json!({"id": read_role, "disassociate": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        b.get(&client, bob, &path).await.0,
        StatusCode::FORBIDDEN,
        "revoke seen"
    );

    let (status, _) = a
        .send(
            &client,
            Method::PATCH,
            &path,
            json!({"description": "changed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        b.get(&client, ADMIN, &path).await.1["description"],
        "changed"
    );

    let (status, _) = b.send(&client, Method::DELETE, &path, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(a.get(&client, ADMIN, &path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn racing_writes_through_both_leave_the_database_consistent() {
    let Some(c) = cluster() else { return };
    let (a, b) = spawn_pair(&c);
    let client = reqwest::Client::new();
    let org = a
        .create(&client, "/api/v2/organizations/", json!({"name": "o"}))
        .await;
    let ssh = a.type_id(&client, "ssh").await;
    let hv = a.type_id(&client, "hashivault_kv").await;

    // The same name through both at once: exactly one wins, the rest are told why.
    let creates = (0..12)
        .map(|i| {
            let instance = if i % 2 == 0 { &a } else { &b };
            let body = json!({"name": "same", "organization": org, "credential_type": ssh});
            (
                Method::POST,
                format!("{}/api/v2/credentials/", instance.base),
                body,
            )
        })
        .collect();
    let statuses: Vec<StatusCode> = all_at_once(creates)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );

    // PATCHes of one credential through both: every one applies.
    let target = a
        .create(
            &client,
            "/api/v2/credentials/",
            json!({"name": "t", "organization": org, "credential_type": ssh}),
        )
        .await;
    let path = format!("/api/v2/credentials/{target}/");
    let patches = (0..16)
        .map(|i| {
            let instance = if i % 2 == 0 { &a } else { &b };
            let body = json!({"description": format!("d{i}"),
                              "inputs": {"username": format!("u{i}"), "password": format!("p{i}")}});
            (Method::PATCH, format!("{}{path}", instance.base), body)
        })
        .collect();
    let statuses: Vec<StatusCode> = all_at_once(patches)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );

    // Grants, revokes and an input-source link racing the deletion of the credential.
    let user = a
        .create(
            &client,
            "/api/v2/users/",
            json!({"username": "u", "password": "u-pw"}),
        )
        .await;
    let source = a
        .create(
            &client,
            "/api/v2/credentials/",
            json!({"name": "vault", "organization": org, "credential_type": hv,
                   "inputs": {"url": "https://vault.example.com", "token": "t"}}),
        )
        .await;
    let (_, roles) = a
        .get(
            &client,
            ADMIN,
            &format!("/api/v2/credentials/{target}/object_roles/?role_field=use_role"),
        )
        .await;
    let use_role = roles["results"][0]["id"].as_i64().unwrap();
    let roles_path = format!("/api/v2/users/{user}/roles/");
    let mut work = Vec::new();
    for i in 0..10 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let body = if i % 3 == 2 {
            json!({"id": use_role, "disassociate": true})
        } else {
            json!({"id": use_role})
        };
        work.push((Method::POST, format!("{}{roles_path}", instance.base), body));
        if i == 4 {
            work.push((Method::DELETE, format!("{}{path}", b.base), json!({})));
            work.push((
                Method::POST,
                format!("{}/api/v2/credential_input_sources/", a.base),
                json!({"target_credential": target, "source_credential": source, "input_field_name": "password",
                       "metadata": {"secret_path": "/kv/app", "secret_key": "password"}}),
            ));
        }
    }
    for (status, body) in all_at_once(work).await {
        assert!(!status.is_server_error(), "{status}: {body}");
    }
    assert_eq!(a.get(&client, ADMIN, &path).await.0, StatusCode::NOT_FOUND);
    let orphans = [
        "SELECT COUNT(*) FROM roles WHERE content_type = 'credential' AND object_id NOT IN (SELECT id FROM credentials)",
        "SELECT COUNT(*) FROM credential_input_sources WHERE target_credential_id NOT IN (SELECT id FROM credentials)",
        "SELECT COUNT(*) FROM role_ancestors WHERE role_id NOT IN (SELECT id FROM roles)",
        "SELECT COUNT(*) FROM (SELECT organization_id, name, credential_type_id FROM credentials \
         WHERE organization_id IS NOT NULL GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d",
    ];
    for sql in orphans {
        assert_eq!(scalar(&c, sql).await, 0, "{sql}");
    }
}

#[tokio::test]
async fn an_instance_with_another_master_key_refuses_to_start() {
    let Some(c) = cluster() else { return };
    let first = spawn(&c, "a", &c.key_file).expect("first instance");
    let other_key = c.dir.path().join("other.key");
    write_key(&other_key, 9);
    let refused = spawn(&c, "b", &other_key).err().expect("refused");
    assert!(refused.contains("does not match"), "{refused}");
    drop(first);
}

/// Sends every call at once (as admin) and returns the answers in order.
async fn all_at_once(calls: Vec<(Method, String, Value)>) -> Vec<(StatusCode, Value)> {
    let client = reqwest::Client::new();
    let handles: Vec<_> = calls
        .into_iter()
        .map(|(method, url, body)| {
            let client = client.clone();
            tokio::spawn(async move { call(&client, ADMIN, method, url, Some(body)).await })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_database_password_never_reaches_the_output() {
    let Some(c) = cluster() else { return };
    // The test server trusts loopback, so any password connects; this one is planted.
    let planted = "Planted-Db-Pw-4711";
    let url = c.database_url.replacen(
        "postgres://credstore@",
        &format!("postgres://credstore:{planted}@"),
        1,
    );
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_credstore"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(c.dir.path().join("logged"))
        .args(["--database-url", &url])
        .arg("--master-key-file")
        .arg(&c.key_file)
        .env("CREDSTORE_ADMIN_PASSWORD", ADMIN.1)
        .env("CREDSTORE_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines() {
            text.push_str(&line.unwrap_or_default());
            text.push('\n');
        }
        text
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/api/v2/ping/"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = call(
        &client,
        ADMIN,
        Method::GET,
        format!("{base}/api/v2/config/"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let stderr = log.join().unwrap();
    assert!(stderr.contains("starting credstore"), "{stderr}");
    assert!(!stderr.contains(planted) && !stdout.contains(planted));
}
