//! `credstore migrate-data`: a SQLite deployment moves to PostgreSQL with everything it
//! holds, and serves there under the same master key. Runs when `CREDSTORE_TEST_POSTGRES`
//! names a server (scripts/test.sh starts one).

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{As, TestApp, ADMIN_PASSWORD};
use credstore::config::Config;
use serde_json::json;
use std::process::Command;

/// An app on SQLite whatever the suite's database is: the source of the move.
async fn sqlite_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::resolve(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_path_buf(),
        None,
        None,
        Some(ADMIN_PASSWORD.to_string()),
    );
    TestApp::with_config(&config, dir).await
}

fn migrate_data(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_credstore"))
        .args(["migrate-data", "--from", from, "--to", to])
        .output()
        .unwrap()
}

#[tokio::test]
async fn everything_moves_and_still_decrypts_under_the_same_key() {
    let Some(_) = common::postgres_server() else {
        eprintln!("skipped: CREDSTORE_TEST_POSTGRES is not set");
        return;
    };
    let old = sqlite_app().await;
    let org = old.org("o").await;
    let user = old.user("bob").await;
    let team = old
        .create("/api/v2/teams/", json!({"name": "t", "organization": org}))
        .await;
    old.post(
        As::Admin,
        &format!("/api/v2/teams/{team}/users/"),
        json!({"id": user}),
    )
    .await;
    let ssh = old.type_id("ssh").await;
    let hv = old.type_id("hashivault_kv").await;
    let cred = old
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "organization": org, "credential_type": ssh,
                   "inputs": {"username": "u", "password": "moved-s3cret"}}),
        )
        .await;
    let vault = old
        .create(
            "/api/v2/credentials/",
            json!({"name": "v", "organization": org, "credential_type": hv,
                   "inputs": {"url": "https://vault.example.com", "token": "vault-token"}}),
        )
        .await;
    old.create(
        "/api/v2/credential_input_sources/",
        json!({"target_credential": cred, "source_credential": vault, "input_field_name": "become_password",
               "metadata": {"secret_path": "/kv/app", "secret_key": "pw"}}),
    )
    .await;
    let roles = old
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{cred}/object_roles/?role_field=use_role"),
        )
        .await;
    let use_role = roles.body["results"][0]["id"].as_i64().unwrap();
    let r = old
        .post(
            As::Admin,
            &format!("/api/v2/teams/{team}/roles/"),
            json!({"id": use_role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    let token = old
        .post(
            As::Basic("bob", "pw-bob"),
            "/api/v2/tokens/",
            json!({"scope": "read"}),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let before = old
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await
        .body;
    old.state.ctx.store.close().await;

    let target_dir = tempfile::tempdir().unwrap();
    let target = common::postgres_database_for(target_dir.path()).unwrap();
    let source = format!("sqlite://{}", old.db_path().display());
    let out = migrate_data(&source, &target);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all row counts match"), "{stdout}");
    let target_store = credstore::store::Store::connect(&target).await.unwrap();
    let analyzed: i64 = credstore::store::query::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname = 'credentials' AND last_analyze IS NOT NULL",
    )
    .fetch_one(target_store.pool())
    .await
    .unwrap();
    assert_eq!(analyzed, 1, "the planner has statistics of the copied rows");
    target_store.close().await;

    // The moved deployment, with the old master key file and a new data dir.
    let config = Config::resolve(
        "127.0.0.1:0".parse().unwrap(),
        target_dir.path().join("data"),
        Some(target.clone()),
        Some(old.dir.path().join("master.key")),
        Some("not-used-for-an-existing-admin".into()),
    );
    let moved = TestApp::with_config(&config, target_dir).await;
    let after = moved
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.body, before, "same representation");

    let row = moved
        .state
        .ctx
        .store
        .credential(cred)
        .await
        .unwrap()
        .unwrap();
    let secrets = moved
        .state
        .ctx
        .store
        .credential_secrets(cred)
        .await
        .unwrap();
    let password = secrets.iter().find(|s| s.field == "password").unwrap();
    let plain = moved
        .state
        .ctx
        .keys
        .open(&row.uid, "password", &password.ciphertext)
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&plain), "moved-s3cret");

    // Password hashes, team grants and token digests came along.
    let as_bob = moved
        .get(
            As::Basic("bob", "pw-bob"),
            &format!("/api/v2/credentials/{cred}/"),
        )
        .await;
    assert_eq!(as_bob.status, StatusCode::OK, "team grant moved");
    let req = Request::builder()
        .method(Method::GET)
        .uri("/api/v2/me/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(moved.call(req).await.body["results"][0]["username"], "bob");
    let sources = moved
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{cred}/input_sources/"),
        )
        .await;
    assert_eq!(sources.body["count"], 1);
    let (checked, broken) = moved.state.ctx.store.verify_activity_chain().await.unwrap();
    assert!(checked > 5);
    assert_eq!(broken, None, "the activity chain verifies on the copy");

    // New rows get fresh ids after the copied ones.
    let newer = moved
        .create(
            "/api/v2/credentials/",
            json!({"name": "new", "organization": org, "credential_type": ssh}),
        )
        .await;
    assert!(newer > vault);

    // A second run refuses to overwrite what is there.
    let again = migrate_data(&source, &target);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
}

#[tokio::test]
async fn the_source_must_exist_and_the_target_must_be_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let missing = migrate_data(
        &format!("sqlite://{}", dir.path().join("missing.db").display()),
        "postgres://nobody@127.0.0.1:1/none",
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no database at"));

    let old = sqlite_app().await;
    old.state.ctx.store.close().await;
    let source = format!("sqlite://{}", old.db_path().display());
    let to_sqlite = migrate_data(
        &source,
        &format!("sqlite://{}", dir.path().join("other.db").display()),
    );
    assert!(!to_sqlite.status.success());
    assert!(String::from_utf8_lossy(&to_sqlite.stderr).contains("copies into PostgreSQL"));
}
