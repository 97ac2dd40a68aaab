//! Discovery, authentication, headers and the generic bad-input rules.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{As, TestApp};
use serde_json::json;

#[tokio::test]
async fn api_roots_are_anonymous_and_relative() {
    let app = TestApp::new().await;
    let r = app.get(As::Anon, "/api/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["current_version"], "/api/v2/");
    assert_eq!(r.body["available_versions"]["v2"], "/api/v2/");
    let r = app.get(As::Anon, "/api/v2/").await;
    assert_eq!(r.status, StatusCode::OK);
    for key in [
        "credentials",
        "credential_types",
        "credential_input_sources",
        "organizations",
        "users",
        "teams",
        "roles",
        "me",
        "tokens",
    ] {
        let url = r.body[key].as_str().unwrap_or_default();
        assert!(
            url.starts_with("/api/v2/") && url.ends_with('/'),
            "{key}: {url}"
        );
    }
}

#[tokio::test]
async fn ping_needs_no_authentication() {
    let app = TestApp::new().await;
    let r = app.get(As::Anon, "/api/v2/ping/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["ha"], false);
}

#[tokio::test]
async fn missing_and_wrong_credentials_get_401_with_awx_body() {
    let app = TestApp::new().await;
    for who in [
        As::Anon,
        As::Basic("admin", "wrong"),
        As::Basic("nobody", "x"),
    ] {
        let r = app.get(who, "/api/v2/credentials/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.body["detail"],
            "Authentication credentials were not provided. To establish a login session, visit /api/login/."
        );
        assert_eq!(
            r.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=api authorization_url=/api/o/authorize/"
        );
    }
    let garbage = Request::builder()
        .uri("/api/v2/me/")
        .header(header::AUTHORIZATION, "Bearer garbage")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(garbage).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn basic_auth_works_repeatedly_and_follows_password_changes() {
    let app = TestApp::new().await;
    let id = app.user("ann").await;
    for _ in 0..3 {
        assert_eq!(
            app.get(As::Basic("ann", "pw-ann"), "/api/v2/me/")
                .await
                .status,
            StatusCode::OK
        );
    }
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/users/{id}/"),
            json!({"password": "new-pw"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The cached verification of the old password must not survive the change.
    assert_eq!(
        app.get(As::Basic("ann", "pw-ann"), "/api/v2/me/")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(As::Basic("ann", "new-pw"), "/api/v2/me/")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn me_is_a_list_page_of_the_caller() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, "/api/v2/me/").await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["username"], "admin");
    assert_eq!(r.body["results"][0]["password"], "$encrypted$");
    assert_eq!(r.body["results"][0]["is_superuser"], true);
}

#[tokio::test]
async fn config_is_minimal_and_authenticated() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get(As::Anon, "/api/v2/config/").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.get(As::Admin, "/api/v2/config/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["license_info"]["license_type"], "open");
}

#[tokio::test]
async fn product_headers() {
    let app = TestApp::new().await;
    let anon = app.get(As::Anon, "/api/v2/ping/").await;
    assert_eq!(anon.headers["x-api-product-name"], "AWX");
    assert!(anon.headers.get("x-api-product-version").is_none());
    let authed = app.get(As::Admin, "/api/v2/me/").await;
    assert!(authed.headers["x-api-product-version"]
        .to_str()
        .unwrap()
        .starts_with("24."));
    let list = app.get(As::Admin, "/api/v2/credentials/").await;
    assert_eq!(list.headers[header::ALLOW], "GET, POST, HEAD, OPTIONS");
}

#[tokio::test]
async fn method_not_allowed_after_authentication() {
    let app = TestApp::new().await;
    assert_eq!(
        app.delete(As::Anon, "/api/v2/credentials/").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.delete(As::Admin, "/api/v2/credentials/").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["detail"], "Method \"DELETE\" not allowed.");
}

async fn raw_post(app: &TestApp, content_type: &str, body: impl Into<Body>) -> common::Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v2/credentials/")
        .header(header::AUTHORIZATION, "Basic YWRtaW46YWRtaW4tUGE1NXdvcmQ=")
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap();
    app.call(req).await
}

#[tokio::test]
async fn malformed_bodies_get_awx_4xx() {
    let app = TestApp::new().await;
    let r = raw_post(&app, "application/json", "{\"name\": \"x\",").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("JSON parse error - ")
            && detail.ends_with("Possible cause: trailing comma.")
    );
    let r = raw_post(&app, "application/json", "[1, 2]").await;
    assert_eq!(r.body["detail"], "JSON parse error - not a JSON object");
    let r = raw_post(&app, "application/x-www-form-urlencoded", "name=x").await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("Content-Type must be application/json"));
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let r = raw_post(&app, "application/json", big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body["detail"].is_string());
}

#[tokio::test]
async fn bad_ids_are_404_in_awx_shape() {
    let app = TestApp::new().await;
    for (path, model) in [
        ("/api/v2/credentials/987654321/", "Credential"),
        ("/api/v2/credentials/abc/", "Credential"),
        ("/api/v2/credentials/-1/", "Credential"),
        ("/api/v2/credential_types/987654321/", "CredentialType"),
        ("/api/v2/organizations/0/", "Organization"),
        ("/api/v2/users/99999/", "User"),
        ("/api/v2/teams/99999/", "Team"),
    ] {
        let r = app.get(As::Admin, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            r.body["detail"],
            format!("No {model} matches the given query.")
        );
    }
}

#[tokio::test]
async fn paths_without_trailing_slash_redirect() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, "/api/v2/credentials?page_size=2").await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        r.headers[header::LOCATION],
        "/api/v2/credentials/?page_size=2"
    );
}

/// Password guesses are throttled per user name (and per address, when there is one):
/// past ten failures a minute further checks answer 429 with Retry-After and DRF's
/// message, without a hash; credentials already verified keep working meanwhile.
#[tokio::test]
async fn failed_logins_are_throttled_without_locking_out_verified_credentials() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get(As::Admin, "/api/v2/me/").await.status,
        StatusCode::OK
    );
    for _ in 0..10 {
        let r = app.get(As::Basic("admin", "guess"), "/api/v2/me/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.get(As::Basic("admin", "guess-11"), "/api/v2/me/").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.raw);
    let wait: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    assert!(r.body["detail"]
        .as_str()
        .unwrap_or_default()
        .starts_with("Request was throttled."));
    assert_eq!(
        app.get(As::Admin, "/api/v2/me/").await.status,
        StatusCode::OK
    );
    let other = app.get(As::Basic("nobody-else", "x"), "/api/v2/me/").await;
    assert_eq!(
        other.status,
        StatusCode::UNAUTHORIZED,
        "other names are not throttled"
    );
}

#[tokio::test]
async fn health_and_readiness_answer_anyone() {
    let app = TestApp::new().await;
    let health = app.get(As::Anon, "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({"status": "ok"}));
    let ready = app.get(As::Anon, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.raw);
    assert_eq!(ready.body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_credstores_tables_are_missing() {
    let app = TestApp::new().await;
    // As a database that was never migrated (or a wrong database URL) would look.
    credstore::store::query::query("DROP TABLE meta")
        .execute_write(&app.state.ctx.store)
        .await
        .unwrap();
    let ready = app.get(As::Anon, "/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.raw
    );
    assert_eq!(ready.body["reason"], "the database did not answer");
}

#[tokio::test]
async fn every_answer_names_its_request() {
    let app = TestApp::new().await;
    let first = app.get(As::Admin, "/api/v2/me/").await;
    let second = app.get(As::Anon, "/api/v2/nothing-here/").await;
    let ids: Vec<String> = [&first, &second]
        .iter()
        .map(|r| r.headers["x-request-id"].to_str().unwrap().to_string())
        .collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{ids:?}"
    );
    assert_ne!(ids[0], ids[1]);
    let traced = app
        .call(
            axum::http::Request::get("/api/v2/ping/")
                .header("x-request-id", "lb-7f3a/42")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        traced.headers["x-request-id"], "lb-7f3a/42",
        "a proxy's id is kept"
    );
    let odd = app
        .call(
            axum::http::Request::get("/api/v2/ping/")
                .header("x-request-id", "has space")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(
        odd.headers["x-request-id"], "has space",
        "ids that would garble a log line are replaced"
    );
}
