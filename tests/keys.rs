//! Key rotation and status: a new key version while the service keeps serving, safe to
//! interrupt and resume, old versions retired only when unused; and backups that only
//! open with the same master key.

mod common;

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
    let report = credstore::keys::rotate(&config, &app.state.store, None)
        .await
        .unwrap();
    assert_eq!(report.new_version, 2);
    assert_eq!(report.reencrypted, 10);
    assert_eq!(report.retired, vec![1]);
    let status = credstore::keys::status(&config, &app.state.store)
        .await
        .unwrap();
    assert_eq!(status.current, 2);
    assert_eq!(status.versions.len(), 1);
    assert_eq!(status.versions[0].2, 10);
    all_decrypt(&app, &ids).await;
}

#[tokio::test]
async fn an_interrupted_rotation_resumes_and_loses_nothing() {
    let app = TestApp::new().await;
    let ids = credentials(&app, 150).await;
    let config = config_for(app.dir.path().to_path_buf());
    let first = credstore::keys::rotate(&config, &app.state.store, Some(1))
        .await
        .unwrap();
    assert_eq!(first.reencrypted, 100, "stopped after one batch");
    assert!(first.retired.is_empty());
    let mid = credstore::keys::status(&config, &app.state.store)
        .await
        .unwrap();
    assert_eq!(mid.versions.iter().map(|v| v.2).sum::<i64>(), 300);
    assert!(
        mid.versions.iter().any(|v| v.0 == 1 && v.2 > 0),
        "old secrets remain on version 1"
    );
    // The running server reads both versions meanwhile.
    all_decrypt(&app, &ids[..3]).await;
    let second = credstore::keys::rotate(&config, &app.state.store, None)
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
    credstore::keys::rotate(&config, &app.state.store, None)
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
            .store
            .backup_to(&backup.display().to_string())
            .await
            .expect_err("SQLite backups only");
        assert!(refused.to_string().contains("pg_dump"), "{refused}");
        return;
    }
    app.state
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
    assert!(run(&["migrate"]).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = TestApp::on_dir_path(&data).await;
        credentials(&app, 2).await;
        app.state.store.close().await;
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
    assert!(
        !run(&["backup", file.to_str().unwrap()]).status.success(),
        "never overwrites"
    );
}
