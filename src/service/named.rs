//! Resolution of `{id}` path segments: a positive integer, or AWX's named URL. Objects
//! looked up by name that the caller may not see answer 404 rather than 403, so names do
//! not leak existence.

use super::{Context, Error, Result};
use crate::domain::named_url::{parse, NamedKind};
use crate::domain::rbac::{role, Caller};
use crate::store::StoreResult;

/// An id and whether it came from a name.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub id: i64,
    pub by_name: bool,
}

impl Resolved {
    /// The refusal for a caller who may not see the object: 403, or for a lookup by name
    /// AWX's bare 404, which says no more than that nothing was found, so that names do
    /// not reveal what exists.
    pub fn refusal(&self) -> Error {
        if self.by_name {
            Error::Hidden
        } else {
            Error::Forbidden(None)
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

/// The object `raw` names if the caller may read it (holds the read role of it, or sees
/// everything): 404 when missing, 403 when hidden (404 when asked for by name).
pub(super) async fn readable<T>(
    ctx: &Context,
    caller: &Caller,
    kind: NamedKind,
    model: &'static str,
    raw: &str,
    fetch: impl AsyncFnOnce(i64) -> StoreResult<Option<T>>,
) -> Result<T> {
    let resolved = resolve(ctx, kind, raw, model).await?;
    let found = fetch(resolved.id).await?.ok_or(Error::NotFound(model))?;
    if !caller.sees_everything()
        && !ctx
            .store
            .holds_role(caller.user_id, kind.content_type(), resolved.id, role::READ)
            .await?
    {
        return Err(resolved.refusal());
    }
    Ok(found)
}
