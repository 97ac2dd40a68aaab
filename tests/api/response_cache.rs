//! Repeated reads are answered from kept renderings and cached authentication, and
//! nothing kept outlives a change: a write through the API, a write by another process
//! on the same database, a revoked or expired token, a changed password. On PostgreSQL
//! nothing is kept; the same rules hold trivially there.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{As, Reply, TestApp};
use serde_json::json;
use std::time::Duration;

async fn as_bearer(app: &TestApp, path: &str, token: &str) -> Reply {
    let req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.call(req).await
}

/// Runs one statement on the app's database through a connection of its own, as another
/// process would.
async fn write_from_outside(app: &TestApp, sql: &str) {
    use sqlx::Connection;
    match common::postgres_database_for(app.dir.path()) {
        None => {
            let url = format!("sqlite://{}", app.db_path().display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

async fn machine_credential(app: &TestApp, name: &str) -> i64 {
    let ssh = app.type_id("ssh").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": name, "credential_type": ssh, "user": 1, "inputs": {"username": "u"}}),
    )
    .await
}

async fn token_for(app: &TestApp, who: As<'_>) -> String {
    let r = app
        .post(who, "/api/v2/tokens/", json!({"scope": "read"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    r.body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_change_through_the_api_is_seen_at_once() {
    let app = TestApp::new().await;
    let id = machine_credential(&app, "before").await;
    let detail = format!("/api/v2/credentials/{id}/");
    let list = "/api/v2/credentials/?name__icontains=fore&order_by=-modified";
    for _ in 0..2 {
        assert_eq!(app.get(As::Admin, &detail).await.body["name"], "before");
        assert_eq!(app.get(As::Admin, list).await.body["count"], 1);
    }
    let r = app
        .patch(As::Admin, &detail, json!({"name": "after"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(app.get(As::Admin, &detail).await.body["name"], "after");
    assert_eq!(app.get(As::Admin, list).await.body["count"], 0);
    assert_eq!(
        app.delete(As::Admin, &detail).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(As::Admin, &detail).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_change_by_another_process_is_seen_at_once() {
    let app = TestApp::new().await;
    let id = machine_credential(&app, "shared").await;
    let detail = format!("/api/v2/credentials/{id}/");
    let token = token_for(&app, As::Admin).await;
    for _ in 0..2 {
        let r = as_bearer(&app, &detail, &token).await;
        assert_eq!(r.body["description"], "", "{}", r.raw);
    }
    write_from_outside(
        &app,
        &format!("UPDATE credentials SET description = 'edited elsewhere' WHERE id = {id}"),
    )
    .await;
    let r = as_bearer(&app, &detail, &token).await;
    assert_eq!(r.body["description"], "edited elsewhere", "{}", r.raw);
    write_from_outside(&app, "DELETE FROM tokens").await;
    assert_eq!(
        as_bearer(&app, &detail, &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn each_caller_gets_its_own_answer() {
    let app = TestApp::new().await;
    let id = machine_credential(&app, "mine").await;
    let reader = app.user("reader").await;
    app.user("stranger").await;
    let detail = format!("/api/v2/credentials/{id}/");
    let admin_view = app.get(As::Admin, &detail).await;
    assert_eq!(
        admin_view.body["summary_fields"]["user_capabilities"]["edit"],
        true
    );
    let read_role = admin_view.body["summary_fields"]["object_roles"]["read_role"]["id"].clone();
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/users/{reader}/roles/"),
            json!({"id": read_role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    for _ in 0..2 {
        let r = app.get(As::Basic("reader", "pw-reader"), &detail).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        assert_eq!(r.body["summary_fields"]["user_capabilities"]["edit"], false);
        let r = app.get(As::Basic("stranger", "pw-stranger"), &detail).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.raw);
        let r = app
            .get(As::Basic("stranger", "pw-stranger"), "/api/v2/credentials/")
            .await;
        assert_eq!(r.body["count"], 0, "{}", r.raw);
    }
}

#[tokio::test]
async fn a_revoked_token_stops_at_once() {
    let app = TestApp::new().await;
    let token = token_for(&app, As::Admin).await;
    let tokens = app.get(As::Admin, "/api/v2/tokens/").await;
    let token_id = tokens.body["results"][0]["id"].as_i64().unwrap();
    for _ in 0..2 {
        let r = as_bearer(&app, "/api/v2/credentials/", &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    }
    let r = app
        .delete(As::Admin, &format!("/api/v2/tokens/{token_id}/"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    let r = as_bearer(&app, "/api/v2/credentials/", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.raw);
}

#[tokio::test]
async fn a_token_expires_on_time_though_nothing_was_written() {
    let app = TestApp::new().await;
    let token = token_for(&app, As::Admin).await;
    let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(1500))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    write_from_outside(&app, &format!("UPDATE tokens SET expires = '{expires}'")).await;
    for _ in 0..2 {
        let r = as_bearer(&app, "/api/v2/credentials/", &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    }
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let r = as_bearer(&app, "/api/v2/credentials/", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.raw);
}

#[tokio::test]
async fn a_changed_password_stops_the_old_one_at_once() {
    let app = TestApp::new().await;
    let id = app.user("walker").await;
    for _ in 0..2 {
        let r = app
            .get(As::Basic("walker", "pw-walker"), "/api/v2/me/")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    }
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/users/{id}/"),
            json!({"password": "new-password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let r = app
        .get(As::Basic("walker", "pw-walker"), "/api/v2/me/")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.raw);
    let r = app
        .get(As::Basic("walker", "new-password"), "/api/v2/me/")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
}
