//! `/api/v2/tokens/` and personal tokens: shown once, stored hashed, Bearer works until
//! the token is deleted, read-scoped tokens only read.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{As, Reply, TestApp};
use serde_json::{json, Value};

async fn bearer(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    app.call(req.body(body).unwrap()).await
}

#[tokio::test]
async fn token_is_shown_once_and_authenticates_until_deleted() {
    let app = TestApp::new().await;
    let r = app
        .post(
            As::Admin,
            "/api/v2/tokens/",
            json!({"description": "ci", "application": null, "scope": "write"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["type"], "o_auth2_access_token");
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.headers[header::LOCATION], format!("/api/v2/tokens/{id}/"));
    let token = r.body["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 30);
    let me = bearer(&app, Method::GET, "/api/v2/me/", &token, None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["results"][0]["username"], "admin");
    let detail = app.get(As::Admin, &format!("/api/v2/tokens/{id}/")).await;
    assert_ne!(
        detail.body["token"],
        Value::String(token.clone()),
        "the secret is shown only at creation"
    );
    let listed = app.get(As::Admin, "/api/v2/tokens/").await;
    assert!(!listed.raw.contains(&token));
    assert_eq!(
        app.delete(As::Admin, &format!("/api/v2/tokens/{id}/"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let after = bearer(&app, Method::GET, "/api/v2/me/", &token, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_the_digest_is_stored() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, "/api/v2/tokens/", json!({"scope": "write"}))
        .await;
    let token = r.body["token"].as_str().unwrap().to_string();
    let stored = common::stored_bytes(&app).await;
    assert!(stored.len() > 1000, "expected to read the stored data");
    assert!(!stored.windows(token.len()).any(|w| w == token.as_bytes()));
}

#[tokio::test]
async fn read_scope_cannot_write() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, "/api/v2/tokens/", json!({"scope": "read"}))
        .await;
    let token = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        bearer(&app, Method::GET, "/api/v2/credentials/", &token, None)
            .await
            .status,
        StatusCode::OK
    );
    let write = bearer(
        &app,
        Method::POST,
        "/api/v2/organizations/",
        &token,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let bad = app
        .post(As::Admin, "/api/v2/tokens/", json!({"scope": "admin"}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["scope"].is_array());
}

#[tokio::test]
async fn personal_tokens_are_for_oneself_and_tokens_are_private() {
    let app = TestApp::new().await;
    let ann = app.user("ann").await;
    let bob = app.user("bob").await;
    let org = app.org("o").await;
    for u in [ann, bob] {
        app.post(
            As::Admin,
            &format!("/api/v2/organizations/{org}/users/"),
            json!({"id": u}),
        )
        .await;
    }
    let mine = app
        .post(
            As::Basic("ann", "pw-ann"),
            &format!("/api/v2/users/{ann}/personal_tokens/"),
            json!({"scope": "write"}),
        )
        .await;
    assert_eq!(mine.status, StatusCode::CREATED);
    assert_eq!(mine.body["user"], ann);
    let other = app
        .post(
            As::Basic("ann", "pw-ann"),
            &format!("/api/v2/users/{bob}/personal_tokens/"),
            json!({}),
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let id = mine.body["id"].as_i64().unwrap();
    assert_eq!(
        app.get(As::Basic("bob", "pw-bob"), &format!("/api/v2/tokens/{id}/"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(As::Basic("bob", "pw-bob"), "/api/v2/tokens/")
            .await
            .body["count"],
        0
    );
    assert_eq!(
        app.get(As::Basic("ann", "pw-ann"), "/api/v2/tokens/")
            .await
            .body["count"],
        1
    );
    assert_eq!(
        app.delete(As::Basic("bob", "pw-bob"), &format!("/api/v2/tokens/{id}/"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn garbage_bearer_is_401() {
    let app = TestApp::new().await;
    let r = bearer(&app, Method::GET, "/api/v2/me/", "not-a-token", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A token's OPTIONS as AWX's metadata builds them from its `OAuth2AccessToken` model:
/// the model's help texts (`user`, `scope`), the common help of `description`, the
/// model's default `write` passed on to the writable `scope`, and `filterable` for the
/// model's own fields only.
#[tokio::test]
async fn token_options_carry_awx_model_metadata() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, "/api/v2/tokens/", json!({"scope": "read"}))
        .await;
    let id = r.body["id"].as_i64().unwrap();
    let options = app
        .send(
            As::Admin,
            Method::OPTIONS,
            &format!("/api/v2/tokens/{id}/"),
            None,
        )
        .await;
    assert_eq!(options.status, StatusCode::OK);
    let get = &options.body["actions"]["GET"];
    let put = &options.body["actions"]["PUT"];
    assert_eq!(
        get["user"]["help_text"],
        "The user representing the token owner"
    );
    assert_eq!(
        put["scope"]["help_text"],
        "Allowed scopes, further restricts user's permissions. Must be a simple space-separated string with allowed scopes ['read', 'write']."
    );
    assert_eq!(put["scope"]["default"], "write");
    assert_eq!(
        put["description"]["help_text"],
        "Optional description of this access token."
    );
    assert_eq!(get["refresh_token"]["label"], "Refresh token");
    assert_eq!(get["refresh_token"]["filterable"], false);
    assert_eq!(get["expires"]["filterable"], true);
    let created = app.post(As::Admin, "/api/v2/tokens/", json!({})).await;
    assert_eq!(
        created.body["scope"], "write",
        "the announced default is the one applied"
    );
}
