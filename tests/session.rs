//! `/api/login/` as the `awx` CLI drives it: form login, session cookie, CSRF on writes.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{TestApp, ADMIN_PASSWORD};

fn cookies(r: &common::Reply) -> Vec<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect()
}

async fn login(app: &TestApp, password: &str) -> common::Reply {
    let form = format!("username=admin&password={password}&next=%2Fapi%2F");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/login/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    app.call(req).await
}

#[tokio::test]
async fn login_sets_a_session_that_authenticates() {
    let app = TestApp::new().await;
    let root = app
        .call(Request::builder().uri("/api/").body(Body::empty()).unwrap())
        .await;
    let csrf = cookies(&root)
        .into_iter()
        .find(|c| c.starts_with("csrftoken="))
        .expect("csrftoken cookie");
    let r = login(&app, ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.headers[header::LOCATION], "/api/");
    assert_eq!(r.headers["x-api-session-cookie-name"], "awx_sessionid");
    let set = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let session_line = set
        .iter()
        .find(|c| c.starts_with("awx_sessionid="))
        .expect("session cookie");
    assert!(
        !session_line.contains("Secure"),
        "the cookie must work over http"
    );
    let session = session_line.split(';').next().unwrap().to_string();
    let jar = format!("{session}; {csrf}");
    let me = app
        .call(
            Request::builder()
                .uri("/api/v2/me/")
                .header(header::COOKIE, &jar)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["results"][0]["username"], "admin");

    let write = |with_csrf: bool| {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/api/v2/organizations/")
            .header(header::COOKIE, &jar)
            .header(header::CONTENT_TYPE, "application/json");
        if with_csrf {
            req = req.header("X-CSRFToken", csrf.trim_start_matches("csrftoken="));
        }
        req.body(Body::from(if with_csrf {
            r#"{"name": "a"}"#
        } else {
            r#"{"name": "b"}"#
        }))
        .unwrap()
    };
    assert_eq!(
        app.call(write(false)).await.status,
        StatusCode::FORBIDDEN,
        "writes need the CSRF header"
    );
    assert_eq!(app.call(write(true)).await.status, StatusCode::CREATED);

    let out = app
        .call(
            Request::builder()
                .method(Method::POST)
                .uri("/api/logout/")
                .header(header::COOKIE, &jar)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(out.status, StatusCode::FOUND);
    let after = app
        .call(
            Request::builder()
                .uri("/api/v2/me/")
                .header(header::COOKIE, &jar)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_login_sets_no_session() {
    let app = TestApp::new().await;
    let r = login(&app, "wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(cookies(&r).iter().all(|c| !c.starts_with("awx_sessionid=")));
}

#[tokio::test]
async fn login_never_redirects_off_site() {
    let app = TestApp::new().await;
    let form =
        format!("username=admin&password={ADMIN_PASSWORD}&next=https%3A%2F%2Fevil.example%2F");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/login/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let r = app.call(req).await;
    assert_eq!(r.headers[header::LOCATION], "/api/");
}

/// A password change ends the user's login sessions: a cookie stolen with the old
/// password dies with it.
#[tokio::test]
async fn a_password_change_ends_the_sessions_of_that_user() {
    let app = TestApp::new().await;
    let r = login(&app, ADMIN_PASSWORD).await;
    let session = cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("awx_sessionid="))
        .expect("session cookie");
    let me = || {
        Request::builder()
            .uri("/api/v2/me/")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.call(me()).await.status, StatusCode::OK);
    let changed = app
        .patch(
            common::As::Admin,
            "/api/v2/users/1/",
            serde_json::json!({"first_name": "still the same session"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        app.call(me()).await.status,
        StatusCode::OK,
        "other changes keep the session"
    );
    let changed = app
        .patch(
            common::As::Admin,
            "/api/v2/users/1/",
            serde_json::json!({"password": "An0ther-password"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(app.call(me()).await.status, StatusCode::UNAUTHORIZED);
}
