//! Reading who is asking from a request: HTTP Basic, a bearer token or the session
//! cookie, in AWX's order (the checks themselves are `service::auth`), and the CSRF
//! echo that writes under a session cookie must carry.

use super::error::ApiError;
use super::AppState;
use crate::domain::rbac::Caller;
use crate::service::auth;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use subtle::ConstantTimeEq;

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Caller);

/// The database generation a request was authenticated at, left in the request's
/// extensions by [`Auth`] so that the answer cache validates against the same value
/// instead of asking the database again.
#[derive(Debug, Clone, Copy)]
pub struct AuthGeneration(pub Option<i64>);

/// Where the authentication extractor leaves the caller's user id for the request log
/// (the middleware that writes the log line runs outside the handler and its extractors).
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<i64>>);

impl CallerSlot {
    /// The user the request was authenticated as, if it was.
    pub fn user_id(&self) -> Option<i64> {
        self.0.get().copied()
    }
}

/// The peer address of a request, when the server knows it (not in in-process tests).
pub fn client_address(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

/// One line per failed password check (Basic, session login, token creation), so that an
/// operator sees guessing; the name is escaped (`?`), the password never logged.
pub fn log_failed_login(username: &str, extensions: &axum::http::Extensions) {
    crate::metrics::metrics().failed_logins.inc();
    let client = client_address(extensions).map(|a| a.ip().to_string());
    tracing::info!(
        ?username,
        client = client.as_deref().unwrap_or("-"),
        "failed login"
    );
}

/// Splits a Basic header into username and password.
fn parse_basic(value: &str) -> Option<(String, SecretString)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = zeroize::Zeroizing::new(B64.decode(encoded.trim()).ok()?);
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), SecretString::from(pass.to_string())))
}

/// Name of the session cookie, announced in `X-API-Session-Cookie-Name` at login.
pub const SESSION_COOKIE: &str = "awx_sessionid";
/// Name of the CSRF cookie whose value session-authenticated writes echo in `X-CSRFToken`.
pub const CSRF_COOKIE: &str = "csrftoken";

pub use crate::crypto::bearer::{digest, random_secret};

/// The value of one cookie of the request.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A bearer token: unknown or expired → 401; a read-scoped token may only read.
async fn authenticate_bearer(
    state: &AppState,
    token: &str,
    method: &Method,
    generation: Option<i64>,
) -> Result<Caller, ApiError> {
    let (caller, write) = auth::token(&state.ctx, token, generation).await?;
    if !write && !is_safe(method) {
        return Err(ApiError::Forbidden(None));
    }
    Ok(caller)
}

/// A session cookie; writes must echo the CSRF cookie in `X-CSRFToken` (double submit).
async fn authenticate_session(
    state: &AppState,
    parts: &Parts,
    session: &str,
) -> Result<Caller, ApiError> {
    let session = auth::session(&state.ctx, session).await?;
    if !is_safe(&parts.method) {
        check_csrf(&parts.headers)?;
    }
    Ok(auth::session_caller(&state.ctx, session).await?)
}

/// A change made under a session cookie must echo the CSRF cookie in `X-CSRFToken`
/// (double submit), which another site's page cannot read.
pub fn check_csrf(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let sent = headers
        .get("x-csrftoken")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let matches: bool = sent.as_bytes().ct_eq(expected.as_bytes()).into();
    if expected.is_empty() || !matches {
        return Err(ApiError::Forbidden(Some(
            "CSRF Failed: CSRF token missing or incorrect.".into(),
        )));
    }
    Ok(())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = authenticate(parts, state).await?;
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(caller.user_id);
        }
        Ok(Auth(caller))
    }
}

/// Basic, bearer token or session cookie, in AWX's order.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
    // Read before anything else is: whatever this request reads is at least as new.
    let generation = auth::generation(&state.ctx)?;
    parts.extensions.insert(AuthGeneration(generation));
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
        if let Some((username, password)) = parse_basic(value) {
            let client = client_address(&parts.extensions).map(|a| a.ip());
            let caller =
                auth::password(&state.ctx, &username, password, generation, client).await?;
            if caller.is_none() {
                log_failed_login(&username, &parts.extensions);
            }
            return caller.ok_or(ApiError::Unauthorized);
        }
        if let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        {
            return authenticate_bearer(state, token, &parts.method, generation).await;
        }
        return Err(ApiError::Unauthorized);
    }
    if let Some(session) = cookie(&parts.headers, SESSION_COOKIE) {
        return authenticate_session(state, parts, session).await;
    }
    Err(ApiError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn basic_header_parsing() {
        let (u, p) = parse_basic("Basic YWRtaW46cHc6eA==").unwrap();
        assert_eq!(u, "admin");
        assert_eq!(p.expose_secret(), "pw:x");
        assert!(parse_basic("Bearer x").is_none());
        assert!(parse_basic("Basic !!!").is_none());
    }
}
