//! Who is asking: a user name and password (Basic or a login form), a bearer token, or a
//! session cookie. Successful password verifications are cached for a short while so
//! that a request does not pay a password hash each time.
//!
//! Invariant: unknown users cost one hash verification, like known ones; cache keys are
//! digests of the presented credentials, never the password itself. A cached answer is
//! used without reading the user (or token) again only while the database's generation
//! is the one it was read at: any commit (a password change, a revoked token, a user
//! demoted) invalidates every entry at once.

use super::throttle::LoginThrottle;
use super::{Context, Error, Result};
use crate::crypto::bearer::{digest, random_secret};
use crate::crypto::CryptoError;
use crate::domain::rbac::Caller;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How long a successful Basic verification is reused.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Entries kept before the cache is cleared (bounds memory under credential stuffing).
const CACHE_CAP: usize = 10_000;

/// Who is asking: successful password verifications, keyed by SHA-256 of
/// `username \0 password`, resolved tokens, keyed by their stored digest, and the
/// throttle of failed password checks. One per process.
pub struct Authenticator {
    entries: Mutex<HashMap<[u8; 32], CacheEntry>>,
    tokens: Mutex<HashMap<Vec<u8>, TokenEntry>>,
    /// A real hash verified when the user does not exist, so timing does not tell.
    dummy_hash: String,
    /// Bounds concurrent argon2 computations: each takes ~19 MiB, so a burst of uncached
    /// Basic requests would otherwise cost memory without bound.
    hashing: tokio::sync::Semaphore,
    /// Failed password checks by name and address.
    throttle: LoginThrottle,
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

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

impl Authenticator {
    /// A cache with a freshly made dummy hash.
    pub fn new() -> std::result::Result<Self, CryptoError> {
        let dummy = crate::crypto::password::hash(&SecretString::from(
            "credstore-dummy-password".to_string(),
        ))?;
        Ok(Authenticator {
            entries: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            dummy_hash: dummy,
            hashing: tokio::sync::Semaphore::new(CONCURRENT_HASHES),
            throttle: LoginThrottle::default(),
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

fn cache_key(username: &str, password: &SecretString) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(username.as_bytes());
    h.update([0u8]);
    h.update(password.expose_secret().as_bytes());
    h.finalize().into()
}

/// Verifies a user name and password (Basic, session login, token creation); `None` for
/// any failure (the caller answers 401), [`Error::Throttled`] when this name or `client`
/// has failed too often lately ([`super::throttle`]).
pub async fn password(
    ctx: &Context,
    username: &str,
    password: SecretString,
    generation: Option<i64>,
    client: Option<IpAddr>,
) -> Result<Option<Caller>> {
    let key = cache_key(username, &password);
    if let Some(caller) = ctx.auth.lookup_unchanged(&key, generation) {
        return Ok(Some(caller));
    }
    let user = ctx.store.user_by_name(username).await?;
    if let Some(caller) = cached(ctx, &key, user.as_ref()) {
        ctx.auth.seen_at(&key, caller, generation);
        return Ok(Some(caller));
    }
    ctx.auth
        .throttle
        .check(username, client)
        .map_err(Error::Throttled)?;
    let verified = verify(ctx, key, user, password, generation).await?;
    match verified {
        Some(_) => ctx.auth.throttle.succeeded(username, client),
        None => ctx.auth.throttle.failed(username, client),
    }
    Ok(verified)
}

/// The password check itself, one of [`CONCURRENT_HASHES`] at a time.
async fn verify(
    ctx: &Context,
    key: [u8; 32],
    user: Option<crate::store::UserRow>,
    password: SecretString,
    generation: Option<i64>,
) -> Result<Option<Caller>> {
    let _permit = ctx
        .auth
        .hashing
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    // The same credentials may have been verified while this request waited for a permit.
    if let Some(caller) = cached(ctx, &key, user.as_ref()) {
        return Ok(Some(caller));
    }
    let phc = user
        .as_ref()
        .map_or_else(|| ctx.auth.dummy_hash.clone(), |u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || crate::crypto::password::verify(&password, &phc))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    match user {
        Some(u) if ok => {
            ctx.auth.remember(key, &u, generation);
            Ok(Some(caller_of(&u)))
        }
        _ => Ok(None),
    }
}

/// A cached verification that still matches the user's current password hash.
fn cached(ctx: &Context, key: &[u8; 32], user: Option<&crate::store::UserRow>) -> Option<Caller> {
    let (cached_id, cached_hash) = ctx.auth.lookup(key)?;
    let u = user?;
    let same_hash: bool = cached_hash
        .as_bytes()
        .ct_eq(u.password_hash.as_bytes())
        .into();
    (cached_id == u.id && same_hash).then(|| caller_of(u))
}

/// The caller a user row stands for.
pub fn caller_of(u: &crate::store::UserRow) -> Caller {
    Caller {
        user_id: u.id,
        is_superuser: u.is_superuser,
        is_system_auditor: u.is_system_auditor,
    }
}

async fn caller_by_id(ctx: &Context, user_id: i64) -> Result<Caller> {
    let user = ctx.store.user(user_id).await?.ok_or(Error::Unauthorized)?;
    Ok(caller_of(&user))
}

/// The caller a bearer token stands for and whether it may write; unknown or expired
/// tokens are [`Error::Unauthorized`].
pub async fn token(ctx: &Context, secret: &str, generation: Option<i64>) -> Result<(Caller, bool)> {
    let digest = digest(secret.trim());
    if let Some(found) = generation.and_then(|g| ctx.auth.token(&digest, g)) {
        return Ok(found);
    }
    let found = ctx
        .store
        .token_caller(&digest)
        .await?
        .ok_or(Error::Unauthorized)?;
    let (caller, write) = (caller_of(&found.user), found.scope == "write");
    if let Some(generation) = generation {
        let entry = TokenEntry {
            caller,
            write,
            expires: found.expires,
            generation,
        };
        ctx.auth.remember_token(digest, entry);
    }
    Ok((caller, write))
}

/// The database's generation now: read before anything else a request reads, so that
/// whatever it reads is at least as new, and cached answers validate against it.
pub fn generation(ctx: &Context) -> Result<Option<i64>> {
    Ok(ctx.store.generation()?)
}

/// The session a cookie names, if it is live. Its caller is [`session_caller`], asked
/// for once the request has shown it may act under the session (the CSRF echo).
pub async fn session(ctx: &Context, secret: &str) -> Result<Session> {
    let user_id = ctx
        .store
        .session_user(&digest(secret))
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(Session { user_id })
}

/// A live login session.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    user_id: i64,
}

/// The caller of a session, as the user is now.
pub async fn session_caller(ctx: &Context, session: Session) -> Result<Caller> {
    caller_by_id(ctx, session.user_id).await
}

/// How long a login session lasts.
const SESSION_HOURS: i64 = 12;

/// Logs in with a user name and password: the new session's secret (for the cookie), or
/// `None` when the password does not match.
pub async fn login(
    ctx: &Context,
    username: &str,
    password: SecretString,
    client: Option<IpAddr>,
) -> Result<Option<String>> {
    let generation = ctx.store.generation()?;
    let Some(caller) = self::password(ctx, username, password, generation, client).await? else {
        return Ok(None);
    };
    let session = random_secret(48);
    let expires = (chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    ctx.store
        .create_session(&digest(&session), caller.user_id, &expires)
        .await?;
    ctx.store.touch_last_login(caller.user_id).await?;
    Ok(Some(session))
}

/// Ends the session of this cookie.
pub async fn logout(ctx: &Context, secret: &str) -> Result<()> {
    ctx.store.delete_session(&digest(secret)).await?;
    Ok(())
}
