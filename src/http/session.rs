//! `/api/login/` and `/api/logout/`: the cookie session the `awx` CLI uses when given a
//! username and password. Writes under a session must echo the CSRF cookie.

use super::auth::{
    check_csrf, client_address, cookie, log_failed_login, random_secret, CSRF_COOKIE,
    SESSION_COOKIE,
};
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::service::auth;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/login/", get(login_form).post(login))
        .route("/api/logout/", get(logout_link).post(logout))
}

/// AWX answers a GET of the logout page with a redirect to the API root; so does this,
/// without ending anything (a link or an image on another site could send it).
async fn logout_link() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/api/")]).into_response()
}

/// The form fields the CLI posts.
#[derive(Deserialize)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

/// `Set-Cookie` for the CSRF cookie unless the client already has one.
pub(super) fn csrf_cookie_if_missing(request: &HeaderMap) -> Option<HeaderValue> {
    if cookie(request, CSRF_COOKIE).is_some() {
        return None;
    }
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={}; Path=/; SameSite=Lax",
        random_secret(32)
    ))
    .ok()
}

async fn login_form(headers: HeaderMap) -> Response {
    let mut r = Json(json!({})).into_response();
    if let Some(c) = csrf_cookie_if_missing(&headers) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Only paths of this site are followed after login; anything else goes to `/api/`.
/// Browsers read `/\host` like `//host` (another site), so a backslash anywhere, like a
/// second leading slash, disqualifies a path; control characters are a 400 (a header
/// cannot carry them).
fn safe_next(next: Option<&str>) -> ApiResult<&str> {
    match next {
        Some(n) if n.chars().any(char::is_control) => Err(ApiError::BadRequest(
            "The next page may not contain control characters.".into(),
        )),
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => Ok(n),
        _ => Ok("/api/"),
    }
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> ApiResult<Response> {
    let next = safe_next(form.next.as_deref())?;
    let username = form.username.unwrap_or_default();
    let password = SecretString::from(form.password.unwrap_or_default());
    let client = client_address(&extensions).map(|a| a.ip());
    let Some(session) = auth::login(&state.ctx, &username, password, client).await? else {
        log_failed_login(&username, &extensions);
        return Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "Invalid username or password. Please try again."})),
        )
            .into_response());
    };
    let mut r = (StatusCode::FOUND, [(header::LOCATION, next.to_string())]).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
    )) {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(c) = csrf_cookie_if_missing(&headers) {
        h.append(header::SET_COOKIE, c);
    }
    h.insert(
        "x-api-session-cookie-name",
        HeaderValue::from_static(SESSION_COOKIE),
    );
    Ok(r)
}

/// Ends the session: a change of state, so POST only and with the CSRF echo, so that
/// another site cannot log a user out.
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        check_csrf(&headers)?;
        auth::logout(&state.ctx, session).await?;
    }
    let mut r = (StatusCode::FOUND, [(header::LOCATION, "/api/")]).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("awx_sessionid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    );
    Ok(r)
}
