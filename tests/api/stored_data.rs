//! What happens when stored data is not what the service wrote: unreadable JSON is a 500 in
//! AWX's shape and is never replaced by an empty value or written over; and writes that
//! belong together (a copy and its input sources) commit together or not at all.

use crate::common;

use axum::http::StatusCode;
use common::{As, TestApp};
use credstore::store::query::{query, query_scalar};
use serde_json::{json, Value};

const CORRUPT: &str = "{\"username\": \"u\", \"password\": \"$encrypted$\"";

async fn machine(app: &TestApp) -> i64 {
    let ty = app.type_id("ssh").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": "m", "credential_type": ty, "user": 1,
               "inputs": {"username": "u", "password": "planted-pw-1"}}),
    )
    .await
}

async fn stored_inputs(app: &TestApp, id: i64) -> String {
    query_scalar("SELECT inputs FROM credentials WHERE id = ?")
        .bind(id)
        .fetch_one(app.state.ctx.store.pool())
        .await
        .unwrap()
}

async fn corrupt_inputs(app: &TestApp, id: i64) {
    query("UPDATE credentials SET inputs = ? WHERE id = ?")
        .bind(CORRUPT)
        .bind(id)
        .execute_write(&app.state.ctx.store)
        .await
        .unwrap();
}

fn assert_server_error(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body, &json!({"detail": "A server error occurred."}));
}

#[tokio::test]
async fn unreadable_inputs_are_a_500_not_an_empty_value() {
    let app = TestApp::new().await;
    let id = machine(&app).await;
    corrupt_inputs(&app, id).await;
    let path = format!("/api/v2/credentials/{id}/");
    let r = app.get(As::Admin, &path).await;
    assert_server_error(r.status, &r.body);
    let r = app.get(As::Admin, "/api/v2/credentials/?name=m").await;
    assert_server_error(r.status, &r.body);
}

#[tokio::test]
async fn a_patch_without_inputs_never_writes_over_unreadable_inputs() {
    let app = TestApp::new().await;
    let id = machine(&app).await;
    corrupt_inputs(&app, id).await;
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{id}/"),
            json!({"description": "changed"}),
        )
        .await;
    assert_server_error(r.status, &r.body);
    assert_eq!(stored_inputs(&app, id).await, CORRUPT);
    let description: String = query_scalar("SELECT description FROM credentials WHERE id = ?")
        .bind(id)
        .fetch_one(app.state.ctx.store.pool())
        .await
        .unwrap();
    assert_eq!(description, "", "nothing of the PATCH was written");
}

#[tokio::test]
async fn unreadable_input_source_metadata_is_a_500() {
    let app = TestApp::new().await;
    let target = machine(&app).await;
    let source = hashivault(&app).await;
    let link = link(&app, target, source).await;
    query("UPDATE credential_input_sources SET metadata = ? WHERE id = ?")
        .bind("[not json")
        .bind(link)
        .execute_write(&app.state.ctx.store)
        .await
        .unwrap();
    let r = app
        .get(
            As::Admin,
            &format!("/api/v2/credential_input_sources/{link}/"),
        )
        .await;
    assert_server_error(r.status, &r.body);
}

async fn hashivault(app: &TestApp) -> i64 {
    let ty = app.type_id("hashivault_kv").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": "hv", "credential_type": ty, "user": 1,
               "inputs": {"url": "https://vault.example.com", "token": "t", "api_version": "v2"}}),
    )
    .await
}

async fn link(app: &TestApp, target: i64, source: i64) -> i64 {
    app.create(
        "/api/v2/credential_input_sources/",
        json!({"target_credential": target, "source_credential": source,
               "input_field_name": "password",
               "metadata": {"secret_path": "/kv/app", "secret_key": "password"}}),
    )
    .await
}

/// Makes every insert into `credential_input_sources` fail, as a full disk or a lost
/// connection would in the middle of a copy.
async fn refuse_input_source_inserts(app: &TestApp) {
    let statements: &[&str] = if app.state.ctx.store.is_postgres() {
        &[
            "CREATE FUNCTION refuse_insert() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON credential_input_sources FOR EACH ROW EXECUTE FUNCTION refuse_insert()",
        ]
    } else {
        &["CREATE TRIGGER refuse BEFORE INSERT ON credential_input_sources BEGIN SELECT RAISE(ABORT, 'refused'); END"]
    };
    for sql in statements {
        query(sql)
            .execute_write(&app.state.ctx.store)
            .await
            .unwrap();
    }
}

async fn credential_count(app: &TestApp) -> i64 {
    query_scalar("SELECT COUNT(*) FROM credentials")
        .fetch_one(app.state.ctx.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_copy_whose_input_sources_cannot_be_written_leaves_nothing_behind() {
    let app = TestApp::new().await;
    let target = machine(&app).await;
    let source = hashivault(&app).await;
    link(&app, target, source).await;
    let before = credential_count(&app).await;
    refuse_input_source_inserts(&app).await;
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/credentials/{target}/copy/"),
            json!({"name": "m-copy"}),
        )
        .await;
    assert_server_error(r.status, &r.body);
    assert_eq!(
        credential_count(&app).await,
        before,
        "the copy was committed without its input sources"
    );
    let r = app.get(As::Admin, "/api/v2/credentials/?name=m-copy").await;
    assert_eq!(r.body["count"], 0, "{}", r.raw);
}
