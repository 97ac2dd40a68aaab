//! Authentication: HTTP Basic against argon2id hashes, with a short-lived cache of
//! successful verifications so that a request does not pay a password hash each time,
//! and bearer tokens by their SHA-256 digest.
//!
//! Invariant: unknown users cost one hash verification, like known ones; cache keys are
//! digests of the presented credentials, never the password itself. A cached answer is
//! used without reading the user (or token) again only while the database's generation
//! is the one it was read at: any commit (a password change, a revoked token, a user
//! demoted) invalidates every entry at once.

use super::error::ApiError;
use super::AppState;
use crate::domain::rbac::Caller;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How long a successful Basic verification is reused.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Entries kept before the cache is cleared (bounds memory under credential stuffing).
const CACHE_CAP: usize = 10_000;

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
    let client = client_address(extensions).map(|a| a.ip().to_string());
    tracing::info!(
        ?username,
        client = client.as_deref().unwrap_or("-"),
        "failed login"
    );
}

/// Successful verifications, keyed by SHA-256 of `username \0 password`, and resolved
/// tokens, keyed by their stored digest.
pub struct AuthCache {
    entries: Mutex<HashMap<[u8; 32], CacheEntry>>,
    tokens: Mutex<HashMap<Vec<u8>, TokenEntry>>,
    /// A real hash verified when the user does not exist, so timing does not tell.
    dummy_hash: String,
    /// Bounds concurrent argon2 computations: each takes ~19 MiB, so a burst of uncached
    /// Basic requests would otherwise cost memory without bound.
    hashing: tokio::sync::Semaphore,
    /// Failed password checks by name and address.
    throttle: super::throttle::LoginThrottle,
}

/// How many password hashes are computed at once.
const CONCURRENT_HASHES: usize = 2;

struct CacheEntry {
    password_hash: String,
    at: Instant,
    /// The user (id and flags) as read at `generation`.
    caller: Caller,
    generation: Option<i64>,
}

/// A token as read at `generation`.
struct TokenEntry {
    caller: Caller,
    write: bool,
    expires: String,
    generation: i64,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthCache")
    }
}

impl AuthCache {
    /// A cache with a freshly made dummy hash.
    pub fn new() -> Result<Self, ApiError> {
        let dummy = hash_password(&SecretString::from("credstore-dummy-password".to_string()))?;
        Ok(AuthCache {
            entries: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            dummy_hash: dummy,
            hashing: tokio::sync::Semaphore::new(CONCURRENT_HASHES),
            throttle: super::throttle::LoginThrottle::default(),
        })
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<(i64, String)> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key)?;
        (e.at.elapsed() < CACHE_TTL).then(|| (e.caller.user_id, e.password_hash.clone()))
    }

    /// The caller of a verification made at `generation` (so the user is unchanged).
    fn lookup_unchanged(&self, key: &[u8; 32], generation: Option<i64>) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key)?;
        (generation.is_some() && e.generation == generation && e.at.elapsed() < CACHE_TTL)
            .then_some(e.caller)
    }

    fn remember(&self, key: [u8; 32], user: &crate::store::UserRow, generation: Option<i64>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_CAP {
                entries.clear();
            }
            entries.insert(
                key,
                CacheEntry {
                    password_hash: user.password_hash.clone(),
                    at: Instant::now(),
                    caller: caller_of(user),
                    generation,
                },
            );
        }
    }

    /// Records that a verification still held at `generation`, for the user as read then;
    /// the time of the verification itself (and with it the TTL) stays.
    fn seen_at(&self, key: &[u8; 32], caller: Caller, generation: Option<i64>) {
        if let Ok(mut entries) = self.entries.lock() {
            if let Some(e) = entries.get_mut(key) {
                e.caller = caller;
                e.generation = generation;
            }
        }
    }

    /// A token resolved at `generation` that has not expired since.
    fn token(&self, digest: &[u8], generation: i64) -> Option<(Caller, bool)> {
        let tokens = self.tokens.lock().ok()?;
        let e = tokens.get(digest)?;
        (e.generation == generation && e.expires > crate::store::now())
            .then_some((e.caller, e.write))
    }

    fn remember_token(&self, digest: Vec<u8>, entry: TokenEntry) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= CACHE_CAP {
                tokens.clear();
            }
            tokens.insert(digest, entry);
        }
    }
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &SecretString) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

/// [`hash_password`] on a blocking thread: an argon2 hash takes tens of milliseconds that
/// a runtime worker must not spend. For every caller that sets a password (API, CLI).
pub async fn hash_password_off_runtime(password: SecretString) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

fn verify_password(password: &SecretString, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn cache_key(username: &str, password: &SecretString) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(username.as_bytes());
    h.update([0u8]);
    h.update(password.expose_secret().as_bytes());
    h.finalize().into()
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

/// Verifies a user name and password (Basic, session login, token creation); `None` for
/// any failure (the caller answers 401), a 429 when this name or `client` has failed too
/// often lately ([`super::throttle`]).
pub async fn authenticate_basic(
    state: &AppState,
    username: &str,
    password: SecretString,
    generation: Option<i64>,
    client: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, ApiError> {
    let key = cache_key(username, &password);
    if let Some(caller) = state.auth.lookup_unchanged(&key, generation) {
        return Ok(Some(caller));
    }
    let user = state.store.user_by_name(username).await?;
    if let Some(caller) = cached(state, &key, user.as_ref()) {
        state.auth.seen_at(&key, caller, generation);
        return Ok(Some(caller));
    }
    state
        .auth
        .throttle
        .check(username, client)
        .map_err(ApiError::TooManyRequests)?;
    let verified = verify(state, key, user, password, generation).await?;
    match verified {
        Some(_) => state.auth.throttle.succeeded(username, client),
        None => state.auth.throttle.failed(username, client),
    }
    Ok(verified)
}

/// The password check itself, one of [`CONCURRENT_HASHES`] at a time.
async fn verify(
    state: &AppState,
    key: [u8; 32],
    user: Option<crate::store::UserRow>,
    password: SecretString,
    generation: Option<i64>,
) -> Result<Option<Caller>, ApiError> {
    let _permit = state
        .auth
        .hashing
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // The same credentials may have been verified while this request waited for a permit.
    if let Some(caller) = cached(state, &key, user.as_ref()) {
        return Ok(Some(caller));
    }
    let phc = user.as_ref().map_or_else(
        || state.auth.dummy_hash.clone(),
        |u| u.password_hash.clone(),
    );
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match user {
        Some(u) if ok => {
            state.auth.remember(key, &u, generation);
            Ok(Some(caller_of(&u)))
        }
        _ => Ok(None),
    }
}

/// A cached verification that still matches the user's current password hash.
fn cached(
    state: &AppState,
    key: &[u8; 32],
    user: Option<&crate::store::UserRow>,
) -> Option<Caller> {
    let (cached_id, cached_hash) = state.auth.lookup(key)?;
    let u = user?;
    let same_hash: bool = cached_hash
        .as_bytes()
        .ct_eq(u.password_hash.as_bytes())
        .into();
    (cached_id == u.id && same_hash).then(|| caller_of(u))
}

fn caller_of(u: &crate::store::UserRow) -> Caller {
    Caller {
        user_id: u.id,
        is_superuser: u.is_superuser,
        is_system_auditor: u.is_system_auditor,
    }
}

/// Name of the session cookie, announced in `X-API-Session-Cookie-Name` at login.
pub const SESSION_COOKIE: &str = "awx_sessionid";
/// Name of the CSRF cookie whose value session-authenticated writes echo in `X-CSRFToken`.
pub const CSRF_COOKIE: &str = "csrftoken";

/// A fresh random secret for tokens, sessions and CSRF values.
pub fn random_secret(len: usize) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

/// The stored form of a bearer secret.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

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

async fn caller_by_id(state: &AppState, user_id: i64) -> Result<Caller, ApiError> {
    let user = state
        .store
        .user(user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(caller_of(&user))
}

/// A bearer token: unknown or expired → 401; a read-scoped token may only read.
async fn authenticate_bearer(
    state: &AppState,
    token: &str,
    method: &Method,
    generation: Option<i64>,
) -> Result<Caller, ApiError> {
    let (caller, write) = resolve_token(state, digest(token.trim()), generation).await?;
    if !write && !is_safe(method) {
        return Err(ApiError::Forbidden(None));
    }
    Ok(caller)
}

/// The caller a token digest stands for and whether it may write.
async fn resolve_token(
    state: &AppState,
    digest: Vec<u8>,
    generation: Option<i64>,
) -> Result<(Caller, bool), ApiError> {
    if let Some(found) = generation.and_then(|g| state.auth.token(&digest, g)) {
        return Ok(found);
    }
    let found = state
        .store
        .token_caller(&digest)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let (caller, write) = (caller_of(&found.user), found.scope == "write");
    if let Some(generation) = generation {
        let entry = TokenEntry {
            caller,
            write,
            expires: found.expires,
            generation,
        };
        state.auth.remember_token(digest, entry);
    }
    Ok((caller, write))
}

/// A session cookie; writes must echo the CSRF cookie in `X-CSRFToken` (double submit).
async fn authenticate_session(
    state: &AppState,
    parts: &Parts,
    session: &str,
) -> Result<Caller, ApiError> {
    let user_id = state
        .store
        .session_user(&digest(session))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !is_safe(&parts.method) {
        check_csrf(&parts.headers)?;
    }
    caller_by_id(state, user_id).await
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
    let generation = state.store.generation()?;
    parts.extensions.insert(AuthGeneration(generation));
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
        if let Some((username, password)) = parse_basic(value) {
            let client = client_address(&parts.extensions).map(|a| a.ip());
            let caller = authenticate_basic(state, &username, password, generation, client).await?;
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

    #[test]
    fn basic_header_parsing() {
        let (u, p) = parse_basic("Basic YWRtaW46cHc6eA==").unwrap();
        assert_eq!(u, "admin");
        assert_eq!(p.expose_secret(), "pw:x");
        assert!(parse_basic("Bearer x").is_none());
        assert!(parse_basic("Basic !!!").is_none());
    }

    #[test]
    fn hashes_verify() {
        let pw = SecretString::from("s3cret".to_string());
        let h = hash_password(&pw).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&pw, &h));
        assert!(!verify_password(&SecretString::from("no".to_string()), &h));
    }
}
