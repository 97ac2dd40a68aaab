//! `/api/login/` as the `awx` CLI drives it: form login, session cookie, CSRF on writes.

use crate::common;

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
                .header("X-CSRFToken", csrf.trim_start_matches("csrftoken="))
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

async fn login_to(app: &TestApp, next: &str) -> common::Reply {
    let form = format!("username=admin&password={ADMIN_PASSWORD}&next={next}");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/login/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    app.call(req).await
}

#[tokio::test]
async fn login_never_redirects_off_site() {
    let app = TestApp::new().await;
    // Absolute URLs, protocol-relative ones, and backslashes browsers read as slashes.
    for next in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%5C%5Cevil.example",
        "%5C%5Cevil.example",
    ] {
        let r = login_to(&app, next).await;
        assert_eq!(r.status, StatusCode::FOUND, "{next}");
        assert_eq!(r.headers[header::LOCATION], "/api/", "{next}");
    }
    let r = login_to(&app, "%2Fapi%2Fv2%2F").await;
    assert_eq!(r.headers[header::LOCATION], "/api/v2/");
    let r = login_to(&app, "%2Fapi%2F%0D%0ASet-Cookie%3A%20x%3D1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert!(r.body["detail"].is_string(), "{}", r.raw);
}

/// Logging out changes state: POST with the CSRF echo only; a GET (a link or an image on
/// another site) redirects as AWX does but ends nothing.
#[tokio::test]
async fn logout_needs_a_post_with_the_csrf_echo() {
    let app = TestApp::new().await;
    let session = cookies(&login(&app, ADMIN_PASSWORD).await)
        .into_iter()
        .find(|c| c.starts_with("awx_sessionid="))
        .expect("session cookie");
    let jar = format!("{session}; csrftoken=abc123");
    let send = |method: Method, uri: &str, csrf: Option<&str>| {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &jar);
        if let Some(token) = csrf {
            req = req.header("X-CSRFToken", token);
        }
        req.body(Body::empty()).unwrap()
    };
    let get = app.call(send(Method::GET, "/api/logout/", None)).await;
    assert_eq!(get.status, StatusCode::FOUND);
    let forged = app.call(send(Method::POST, "/api/logout/", None)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let me = app.call(send(Method::GET, "/api/v2/me/", None)).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "the session survived GET and a forged POST"
    );
    let out = app
        .call(send(Method::POST, "/api/logout/", Some("abc123")))
        .await;
    assert_eq!(out.status, StatusCode::FOUND);
    let me = app.call(send(Method::GET, "/api/v2/me/", None)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
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
