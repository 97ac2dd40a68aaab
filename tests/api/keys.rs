//! Key rotation and status: a new key version while the service keeps serving, safe to
//! interrupt and resume, old versions retired only when unused; and backups that only
//! open with the same master key.

use crate::common;

use axum::http::StatusCode;
use common::{config_for, As, TestApp};
use serde_json::json;
use std::process::Command;

async fn credentials(app: &TestApp, n: usize) -> Vec<i64> {
    let org = app.org("o").await;
    let ssh = app.type_id("ssh").await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create("/api/v2/credentials/", json!({"name": format!("c{i}"), "organization": org, "credential_type": ssh,
                   "inputs": {"username": "u", "password": format!("pw-{i}"), "become_password": format!("b-{i}")}}))
                .await,
        );
    }
    ids
}

/// Every stored secret still opens: keeping it with `$encrypted$` requires decrypting it.
async fn all_decrypt(app: &TestApp, ids: &[i64]) {
    for id in ids {
        let r = app
            .patch(As::Admin, &format!("/api/v2/credentials/{id}/"),
                   json!({"inputs": {"username": "v", "password": "$encrypted$", "become_password": "$encrypted$"}}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "credential {id}: {}", r.raw);
    }
}

#[tokio::test]
async fn rotation_reencrypts_everything_and_retires_the_old_key() {
    let app = TestApp::new().await;
    let ids = credentials(&app, 5).await;
    let config = config_for(app.dir.path().to_path_buf());
    let report = credstore::keys::rotate(&config, &app.state.ctx.store, None)
        .await
        .unwrap();
    assert_eq!(report.new_version, 2);
    assert_eq!(report.reencrypted, 10);
    assert_eq!(report.retired, vec![1]);
    let status = credstore::keys::status(&config, &app.state.ctx.store)
        .await
        .unwrap();
    assert_eq!(status.current, 2);
    // Version 1 stays in the file, retired, for backups taken before the rotation.
    assert_eq!(status.versions.len(), 2);
    assert_eq!(status.versions[0].version, 1);
    assert_eq!(status.versions[0].secrets, 0);
    assert!(status.versions[0].retired.is_some());
    assert_eq!(status.versions[1].secrets, 10);
    assert!(status.versions[1].retired.is_none());
    all_decrypt(&app, &ids).await;
}

#[tokio::test]
async fn an_interrupted_rotation_resumes_and_loses_nothing() {
    let app = TestApp::new().await;
    let ids = credentials(&app, 150).await;
    let config = config_for(app.dir.path().to_path_buf());
    let first = credstore::keys::rotate(&config, &app.state.ctx.store, Some(1))
        .await
        .unwrap();
    assert_eq!(first.reencrypted, 100, "stopped after one batch");
    assert!(first.retired.is_empty());
    let mid = credstore::keys::status(&config, &app.state.ctx.store)
        .await
        .unwrap();
    assert_eq!(mid.versions.iter().map(|v| v.secrets).sum::<i64>(), 300);
    assert!(
        mid.versions.iter().any(|v| v.version == 1 && v.secrets > 0),
        "old secrets remain on version 1"
    );
    // The running server reads both versions meanwhile.
    all_decrypt(&app, &ids[..3]).await;
    let second = credstore::keys::rotate(&config, &app.state.ctx.store, None)
        .await
        .unwrap();
    assert!(
        second.resumed,
        "the second run resumes instead of adding a third key"
    );
    assert_eq!(second.new_version, 2);
    assert_eq!(second.retired, vec![1]);
    all_decrypt(&app, &ids).await;
}

#[tokio::test]
async fn the_service_keeps_writing_during_a_rotation() {
    let app = TestApp::new().await;
    let ids = credentials(&app, 60).await;
    let config = config_for(app.dir.path().to_path_buf());
    let store = credstore::store::Store::open(&config.database_url)
        .await
        .unwrap();
    let rotation =
        tokio::spawn(async move { credstore::keys::rotate(&config, &store, None).await });
    for (i, id) in ids.iter().enumerate().take(30) {
        let r = app
            .patch(As::Admin, &format!("/api/v2/credentials/{id}/"),
                   json!({"inputs": {"username": "w", "password": format!("new-{i}"), "become_password": "$encrypted$"}}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    }
    rotation.await.unwrap().unwrap();
    // A second run re-encrypts whatever the server sealed with the old key meanwhile.
    let config = config_for(app.dir.path().to_path_buf());
    credstore::keys::rotate(&config, &app.state.ctx.store, None)
        .await
        .unwrap();
    all_decrypt(&app, &ids).await;
}

#[tokio::test]
async fn backups_restore_with_the_same_key_only() {
    let app = TestApp::new().await;
    let ids = credentials(&app, 3).await;
    let backup = app.dir.path().join("backup.db");
    if common::postgres_server().is_some() {
        let refused = app
            .state
            .ctx
            .store
            .backup_to(&backup.display().to_string())
            .await
            .expect_err("SQLite backups only");
        assert!(refused.to_string().contains("pg_dump"), "{refused}");
        return;
    }
    app.state
        .ctx
        .store
        .backup_to(&backup.display().to_string())
        .await
        .unwrap();
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&backup, restored.path().join("credstore.db")).unwrap();
    std::fs::copy(
        app.dir.path().join("master.key"),
        restored.path().join("master.key"),
    )
    .unwrap();
    let again = TestApp::on_dir(restored).await;
    all_decrypt(&again, &ids).await;

    let wrong = tempfile::tempdir().unwrap();
    std::fs::copy(&backup, wrong.path().join("credstore.db")).unwrap();
    let err = credstore::startup::prepare(&config_for(wrong.path().to_path_buf()))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("missing"), "{err}");
    let other = credstore::crypto::MasterKey::generate();
    std::fs::write(
        wrong.path().join("master.key"),
        format!("1:{}\n", other.to_base64().as_str()),
    )
    .unwrap();
    let err = credstore::startup::prepare(&config_for(wrong.path().to_path_buf()))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn the_commands_take_the_serve_options() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_credstore");
    // On the PostgreSQL pass the commands reach the database the test app uses.
    let database: Vec<(&str, String)> = common::postgres_database_for(&data)
        .map(|url| ("CREDSTORE_DATABASE_URL", url))
        .into_iter()
        .collect();
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .envs(database.clone())
            .env("CREDSTORE_DATA_DIR", &data)
            .env("CREDSTORE_ADMIN_PASSWORD", "pw")
            .output()
            .unwrap()
    };
    let out = run(&["audit", "verify"]);
    assert!(!out.status.success(), "no database yet");
    let migrate = run(&["migrate"]);
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = TestApp::on_dir_path(&data).await;
        credentials(&app, 2).await;
        app.state.ctx.store.close().await;
    });
    let status = run(&["keys", "status"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("version 1"));
    let rotate = run(&["keys", "rotate"]);
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    assert!(String::from_utf8_lossy(&rotate.stdout).contains("4 secrets re-encrypted"));
    // The fingerprint is the current key's, after any number of rotations.
    for version in [2, 3] {
        if version == 3 {
            assert!(run(&["keys", "rotate"]).status.success());
        }
        let fingerprint = run(&["keys", "fingerprint"]);
        assert!(
            fingerprint.status.success(),
            "{}",
            String::from_utf8_lossy(&fingerprint.stderr)
        );
        let fingerprint = String::from_utf8_lossy(&fingerprint.stdout)
            .trim()
            .to_string();
        let status = String::from_utf8_lossy(&run(&["keys", "status"]).stdout).to_string();
        assert!(
            status.contains(&format!("version {version}: fingerprint {fingerprint},")),
            "{fingerprint} is not version {version} in:\n{status}"
        );
    }
    let verify = run(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let file = dir.path().join("copy.db");
    let backup = run(&["backup", file.to_str().unwrap()]);
    if !database.is_empty() {
        assert!(!backup.status.success());
        assert!(String::from_utf8_lossy(&backup.stderr).contains("pg_dump"));
        return;
    }
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(file.exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a backup holds what the database holds");
    assert!(
        !run(&["backup", file.to_str().unwrap()]).status.success(),
        "never overwrites"
    );
}

/// The operator's restore: refused while a server holds the database; a backup taken
/// before two rotations restores with today's key file (rotations keep retired keys); the
/// restored state is the backup's, not the newer WAL's; the replaced database is kept.
#[tokio::test]
async fn a_backup_from_before_two_rotations_restores_with_todays_key_file() {
    if common::postgres_server().is_some() {
        return; // restore replaces an SQLite file; PostgreSQL restores with pg_restore
    }
    let data = tempfile::tempdir().unwrap();
    let config = config_for(data.path().to_path_buf());
    let backup = data.path().join("bk1.db");
    let app = TestApp::on_dir_path(data.path()).await;
    let before = credentials(&app, 2).await;
    app.state
        .ctx
        .store
        .backup_to(&backup.display().to_string())
        .await
        .unwrap();
    let newer = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "after the backup", "credential_type": app.type_id("ssh").await,
                   "organization": app.org("p").await, "inputs": {"username": "x", "password": "later"}}),
        )
        .await;
    for _ in 0..2 {
        credstore::keys::rotate(&config, &app.state.ctx.store, None)
            .await
            .unwrap();
    }
    let busy = credstore::backup::restore(&config, &backup)
        .await
        .expect_err("a server holds the database");
    assert!(busy.to_string().contains("server is using"), "{busy}");
    drop(app);

    let report = credstore::backup::restore(&config, &backup).await.unwrap();
    assert_eq!(
        report.restored.credentials, 3,
        "two and the Galaxy credential"
    );
    let previous = report.previous.expect("the replaced database is kept");
    assert!(previous.exists());
    use std::os::unix::fs::PermissionsExt;
    let restored = std::fs::metadata(data.path().join("credstore.db")).unwrap();
    assert_eq!(restored.permissions().mode() & 0o777, 0o600);
    assert!(!data.path().join("credstore.db-wal").exists());
    let again = TestApp::on_dir_path(data.path()).await;
    all_decrypt(&again, &before).await;
    let gone = again
        .get(As::Admin, &format!("/api/v2/credentials/{newer}/"))
        .await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "the restore did nothing"
    );
}

#[tokio::test]
async fn purging_retired_keys_says_what_it_costs_and_only_then_removes() {
    if common::postgres_server().is_some() {
        return; // the backup half is SQLite's; rotation itself is tested on both
    }
    let data = tempfile::tempdir().unwrap();
    let config = config_for(data.path().to_path_buf());
    let backup = data.path().join("old.db");
    let app = TestApp::on_dir_path(data.path()).await;
    credentials(&app, 1).await;
    app.state
        .ctx
        .store
        .backup_to(&backup.display().to_string())
        .await
        .unwrap();
    credstore::keys::rotate(&config, &app.state.ctx.store, None)
        .await
        .unwrap();
    let asked = credstore::keys::purge_retired(&config, &app.state.ctx.store, false)
        .await
        .unwrap();
    assert!(!asked.removed);
    assert_eq!(asked.versions.len(), 1);
    assert_eq!(asked.versions[0].0, 1);
    let status = credstore::keys::status(&config, &app.state.ctx.store)
        .await
        .unwrap();
    assert_eq!(
        status.versions.len(),
        2,
        "nothing removed without confirmation"
    );
    let done = credstore::keys::purge_retired(&config, &app.state.ctx.store, true)
        .await
        .unwrap();
    assert!(done.removed);
    drop(app);
    let refused = credstore::backup::restore(&config, &backup)
        .await
        .expect_err("the backup's key is gone");
    assert!(refused.to_string().contains("key version 1"), "{refused}");
    assert!(
        !data.path().join("credstore.db.restoring").exists(),
        "a refused restore leaves nothing behind"
    );
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_credstore_backup() {
    if common::postgres_server().is_some() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let config = config_for(data.path().to_path_buf());
    let missing = credstore::backup::restore(&config, &data.path().join("nope.db"))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("no backup file"), "{missing}");
    let text = data.path().join("notes.txt");
    std::fs::write(&text, "not a database at all").unwrap();
    let err = credstore::backup::restore(&config, &text)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a credstore backup"), "{err}");
    let other = data.path().join("other.db");
    foreign_sqlite_database(&other);
    let err = credstore::backup::restore(&config, &other)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a credstore backup"), "{err}");
}

/// An SQLite database that is not credstore's: a backup of the wrong program.
fn foreign_sqlite_database(path: &std::path::Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("CREATE TABLE t (x)", []).unwrap();
}
