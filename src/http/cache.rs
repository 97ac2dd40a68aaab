//! Rendered answers to credential reads, reused while the database is unchanged.
//!
//! Automation asks for the same credentials over and over (a playbook resolves one
//! credential per host; the CLI pages through the same list). An answer depends only on
//! the caller and the database, so it is kept with the database generation it was
//! rendered at ([`crate::store::Store::generation`]) and served again only while that
//! generation holds: any commit, by this process or another, invalidates every entry.
//! The generation is the one the request was authenticated at, read before anything is
//! rendered, so an entry can be older than its tag says (then it is replaced on the next
//! miss) but never newer data served under an older tag.
//! Without a cheap generation (PostgreSQL, where other instances write) nothing is kept.

use super::auth::AuthGeneration;
use super::error::ApiResult;
use crate::domain::rbac::Caller;
use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// Who asked and what: answers differ by caller (visibility, `user_capabilities`).
type Key = (i64, bool, bool, String);

/// Answers kept, with their total size bounded.
pub struct ResponseCache {
    entries: Mutex<Entries>,
    budget: usize,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<Key, (i64, Bytes)>,
    bytes: usize,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("budget", &self.budget)
            .finish()
    }
}

impl ResponseCache {
    /// A cache holding at most `budget` bytes of answers; 0 turns it off.
    pub fn new(budget: usize) -> Self {
        ResponseCache {
            entries: Mutex::new(Entries::default()),
            budget,
        }
    }

    /// The answer to `target` (path and query) for `caller`, authenticated at
    /// `generation`: kept, or rendered and kept.
    pub async fn json(
        &self,
        generation: AuthGeneration,
        caller: &Caller,
        target: &str,
        render: impl Future<Output = ApiResult<Json<Value>>>,
    ) -> ApiResult<Response> {
        let generation = generation.0.filter(|_| self.budget > 0);
        let Some(generation) = generation else {
            return Ok(render.await?.into_response());
        };
        let key = (
            caller.user_id,
            caller.is_superuser,
            caller.is_system_auditor,
            target.to_owned(),
        );
        if let Some(body) = self.get(&key, generation) {
            crate::metrics::metrics().cache(true);
            return Ok(json_response(body));
        }
        crate::metrics::metrics().cache(false);
        let Json(value) = render.await?;
        let body = Bytes::from(serde_json::to_vec(&value).map_err(|e| {
            super::error::ApiError::Internal(format!("cannot serialize an answer: {e}"))
        })?);
        self.put(key, generation, body.clone());
        Ok(json_response(body))
    }

    fn get(&self, key: &Key, generation: i64) -> Option<Bytes> {
        let entries = self.entries.lock().ok()?;
        let (tag, body) = entries.by_key.get(key)?;
        (*tag == generation).then(|| body.clone())
    }

    fn put(&self, key: Key, generation: i64, body: Bytes) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if body.len() > self.budget / 4 {
            return;
        }
        // Entries of an older generation are dead weight: drop them all at once, as
        // when the budget is spent.
        let stale = entries
            .by_key
            .values()
            .next()
            .is_some_and(|(g, _)| *g != generation);
        if stale || entries.bytes + body.len() > self.budget {
            entries.by_key.clear();
            entries.bytes = 0;
        }
        entries.bytes += body.len();
        if let Some((_, old)) = entries.by_key.insert(key, (generation, body)) {
            entries.bytes -= old.len();
        }
    }
}

fn json_response(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Key {
        (1, false, false, path.to_owned())
    }

    #[test]
    fn serves_only_the_generation_it_was_rendered_at() {
        let cache = ResponseCache::new(1024);
        cache.put(key("/a"), 7, Bytes::from_static(b"{}"));
        assert_eq!(cache.get(&key("/a"), 7).as_deref(), Some(&b"{}"[..]));
        assert!(cache.get(&key("/a"), 8).is_none());
        assert!(cache.get(&key("/b"), 7).is_none());
    }

    #[test]
    fn keeps_within_its_budget() {
        let cache = ResponseCache::new(100);
        cache.put(key("/big"), 1, Bytes::from(vec![b'x'; 26]));
        assert!(
            cache.get(&key("/big"), 1).is_none(),
            "over a quarter of the budget"
        );
        for i in 0..10 {
            cache.put(key(&format!("/{i}")), 1, Bytes::from(vec![b'x'; 20]));
            let kept = cache.entries.lock().unwrap().bytes;
            assert!(kept <= 100, "{kept} bytes kept");
        }
        assert!(cache.get(&key("/9"), 1).is_some());
        cache.put(key("/new"), 2, Bytes::from_static(b"{}"));
        assert_eq!(
            cache.entries.lock().unwrap().by_key.len(),
            1,
            "older generations dropped"
        );
    }
}
