//! Encryption at rest: no plaintext in the database files, ciphertexts bound to their
//! credential and field, and the master key checked at start.

use crate::common;

use axum::http::StatusCode;
use common::{config_for, As, TestApp};
use credstore::store::query::{query, query_as, query_scalar};
use serde_json::json;

const PLANTED: &str = "PLANTED-at-rest-7c1e9f-secret";

async fn ssh_credential(app: &TestApp, org: i64, name: &str, password: &str) -> i64 {
    let ssh = app.type_id("ssh").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": name, "organization": org, "credential_type": ssh,
               "inputs": {"username": "u", "password": password, "become_password": format!("{password}-b")}}),
    )
    .await
}

#[tokio::test]
async fn no_plaintext_secret_in_database_files() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = ssh_credential(&app, org, "c", PLANTED).await;
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{id}/"),
            json!({"inputs": {"username": "u", "password": format!("{PLANTED}-2")}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let copy = app
        .post(
            As::Admin,
            &format!("/api/v2/credentials/{id}/copy/"),
            json!({"name": "c2"}),
        )
        .await;
    assert_eq!(copy.status, StatusCode::CREATED);
    let stored = common::stored_bytes(&app).await;
    assert!(stored.len() > 1000, "expected to read the stored data");
    assert!(
        !stored
            .windows(PLANTED.len())
            .any(|w| w == PLANTED.as_bytes()),
        "plaintext found in the database"
    );
}

#[tokio::test]
async fn ciphertext_moved_to_another_row_or_field_does_not_decrypt() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let a = ssh_credential(&app, org, "a", "secret-a").await;
    let b = ssh_credential(&app, org, "b", "secret-b").await;
    let conn = app.state.ctx.store.pool();
    let (ct_a,): (Vec<u8>,) = query_as(
        "SELECT ciphertext FROM credential_secrets WHERE credential_id = ? AND field = 'password'",
    )
    .bind(a)
    .fetch_one(conn)
    .await
    .unwrap();
    let uid = |id: i64| {
        let app = &app;
        async move {
            app.state
                .ctx
                .store
                .credential(id)
                .await
                .unwrap()
                .unwrap()
                .uid
        }
    };
    let (uid_a, uid_b) = (uid(a).await, uid(b).await);
    let keys = &app.state.ctx.keys;
    assert!(keys.open(&uid_a, "password", &ct_a).is_ok());
    assert!(
        keys.open(&uid_b, "password", &ct_a).is_err(),
        "moved to another row"
    );
    assert!(
        keys.open(&uid_a, "become_password", &ct_a).is_err(),
        "moved to another field"
    );

    // Through the API: plant A's ciphertext into B's row; keeping it must fail cleanly.
    query("UPDATE credential_secrets SET ciphertext = ? WHERE credential_id = ? AND field = 'password'")
        .bind(&ct_a)
        .bind(b)
        .execute(conn)
        .await
        .unwrap();
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{b}/"),
            json!({"inputs": {"username": "u", "password": "$encrypted$"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.raw.contains("secret-a"));
}

#[tokio::test]
async fn master_key_file_is_private_and_a_wrong_key_refuses_to_start() {
    let app = TestApp::new().await;
    let key_file = app.dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let dir = app.dir.path().to_path_buf();
    app.state.ctx.store.close().await;
    std::fs::remove_file(&key_file).unwrap();
    std::fs::write(
        &key_file,
        credstore::crypto::MasterKey::generate()
            .to_base64()
            .as_bytes(),
    )
    .unwrap();
    let err = credstore::startup::prepare(&config_for(dir.clone()))
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("does not match"), "{err}");
    std::fs::remove_file(&key_file).unwrap();
    let err = credstore::startup::prepare(&config_for(dir))
        .await
        .err()
        .expect("must refuse a missing key");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test]
async fn restart_with_the_same_key_keeps_secrets_usable() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = ssh_credential(&app, org, "c", "keep-me").await;
    let TestApp { dir, state, .. } = app;
    state.ctx.store.close().await;
    let again = TestApp::on_dir(dir).await;
    // Keeping the stored value requires decrypting it under the reloaded key.
    let r = again
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{id}/"),
            json!({"inputs": {"username": "v", "password": "$encrypted$"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["inputs"]["password"], "$encrypted$");
    let count: i64 = {
        let conn = again.state.ctx.store.pool();
        query_scalar("SELECT COUNT(*) FROM credential_types WHERE managed = TRUE")
            .fetch_one(conn)
            .await
            .unwrap()
    };
    assert_eq!(count, 31, "managed types are not duplicated on restart");
}
