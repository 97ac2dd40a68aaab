//! Resolution of `{id}` path segments: a positive integer, or AWX's named URL. Objects
//! looked up by name that the caller may not see answer 404 rather than 403, so names do
//! not leak existence.

use super::{Context, Error, Result};
use crate::domain::named_url::{parse, NamedKind};

/// An id and whether it came from a name.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub id: i64,
    pub by_name: bool,
}

impl Resolved {
    /// Maps a visibility refusal to 404 for lookups by name.
    pub fn hide(&self, e: Error, model: &'static str) -> Error {
        match e {
            Error::Forbidden(_) if self.by_name => Error::NotFound(model),
            other => other,
        }
    }
}

/// Resolves a path segment of `kind` (named URLs) to an id.
pub async fn resolve(
    ctx: &Context,
    kind: NamedKind,
    raw: &str,
    model: &'static str,
) -> Result<Resolved> {
    if let Ok(id) = raw.parse::<i64>() {
        return if id > 0 {
            Ok(Resolved { id, by_name: false })
        } else {
            Err(Error::NotFound(model))
        };
    }
    let key = parse(kind, raw).ok_or(Error::NotFound(model))?;
    let id = ctx
        .store
        .id_by_natural_key(&key)
        .await?
        .ok_or(Error::NotFound(model))?;
    Ok(Resolved { id, by_name: true })
}
