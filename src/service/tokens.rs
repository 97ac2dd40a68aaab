//! API token use cases: the secret is shown once, at creation; only its SHA-256 is
//! stored. Users manage their own tokens; superusers all; auditors read all.

use super::lists::{page_of, PageRequest, QueryPairs};
use super::{users, Context, Error, Result};
use crate::crypto::bearer::{digest, random_secret};
use crate::domain::credential_type::optional_string;
use crate::domain::errors::FieldErrors;
use crate::domain::rbac::Caller;
use crate::domain::resource::TOKEN;
use crate::store::{Page, Scope, TokenRow, UserRow};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How long a token lives.
const TOKEN_LIFETIME_DAYS: i64 = 365;

const MODEL: &str = "OAuth2AccessToken";

/// Tokens with their owners.
pub struct Tokens {
    pub rows: Vec<TokenRow>,
    pub owners: HashMap<i64, UserRow>,
}

/// A token just issued, with its secret: the only time the secret exists outside the
/// client.
pub struct Issued {
    pub tokens: Tokens,
    pub secret: String,
}

async fn with_owners(ctx: &Context, rows: Vec<TokenRow>) -> Result<Tokens> {
    let mut ids: Vec<i64> = rows.iter().map(|t| t.user_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let owners = ctx
        .store
        .users_by_ids(&ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(Tokens { rows, owners })
}

async fn page(ctx: &Context, scope: Scope, q: &QueryPairs) -> Result<(Page, PageRequest, Tokens)> {
    let (page, req) = page_of(ctx, &TOKEN, &scope, q).await?;
    let rows = ctx.store.tokens_by_ids(&page.ids).await?;
    Ok((page, req, with_owners(ctx, rows).await?))
}

/// The caller's tokens (every token for superusers and auditors).
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Tokens)> {
    let scope = if caller.sees_everything() {
        Scope::All
    } else {
        Scope::TokensOf(caller.user_id)
    };
    page(ctx, scope, q).await
}

/// The tokens of the user `raw` names: the user themselves, superusers and auditors.
pub async fn list_of_user(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Tokens)> {
    let user = users::get(ctx, caller, raw).await?;
    if user.id != caller.user_id && !caller.sees_everything() {
        return Err(Error::Forbidden(None));
    }
    page(ctx, Scope::TokensOf(user.id), q).await
}

/// One token the caller may see.
pub async fn get(ctx: &Context, caller: &Caller, id: i64) -> Result<TokenRow> {
    let t = ctx.store.token(id).await?.ok_or(Error::NotFound(MODEL))?;
    if t.user_id != caller.user_id && !caller.sees_everything() {
        return Err(Error::Forbidden(None));
    }
    Ok(t)
}

/// One token for its answer.
pub async fn detail(ctx: &Context, caller: &Caller, id: i64) -> Result<Tokens> {
    let t = get(ctx, caller, id).await?;
    with_owners(ctx, vec![t]).await
}

/// Issues a token to the caller.
pub async fn issue(ctx: &Context, caller: &Caller, body: &Map<String, Value>) -> Result<Issued> {
    issue_to(ctx, caller.user_id, body).await
}

/// Issues a personal token to the user `raw` names, who must be the caller.
pub async fn issue_personal(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
) -> Result<Issued> {
    let user = users::get(ctx, caller, raw).await?;
    if user.id != caller.user_id {
        return Err(Error::Forbidden(None));
    }
    issue_to(ctx, user.id, body).await
}

async fn issue_to(ctx: &Context, user_id: i64, body: &Map<String, Value>) -> Result<Issued> {
    let mut errors = FieldErrors::new();
    let description = parse_description(&mut errors, body.get("description"), "");
    let scope = parse_scope(&mut errors, body.get("scope"), "write");
    errors.into_result()?;
    let secret = random_secret(40);
    let expires = (chrono::Utc::now() + chrono::Duration::days(TOKEN_LIFETIME_DAYS))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let id = ctx
        .store
        .create_token(user_id, &description, &scope, &digest(&secret), &expires)
        .await?;
    let row = ctx.store.token(id).await?.ok_or(Error::NotFound(MODEL))?;
    Ok(Issued {
        tokens: with_owners(ctx, vec![row]).await?,
        secret,
    })
}

/// Changes a token's description or scope (its owner, or a superuser).
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    id: i64,
    body: &Map<String, Value>,
) -> Result<Tokens> {
    let t = get(ctx, caller, id).await?;
    if t.user_id != caller.user_id && !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    let mut errors = FieldErrors::new();
    let description = parse_description(&mut errors, body.get("description"), &t.description);
    let scope = parse_scope(&mut errors, body.get("scope"), &t.scope);
    errors.into_result()?;
    ctx.store.update_token(t.id, &description, &scope).await?;
    detail(ctx, caller, t.id).await
}

/// Revokes a token (its owner, or a superuser).
pub async fn delete(ctx: &Context, caller: &Caller, id: i64) -> Result<()> {
    let t = get(ctx, caller, id).await?;
    if t.user_id != caller.user_id && !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    ctx.store.delete_token(t.id).await?;
    Ok(())
}

fn parse_scope(errors: &mut FieldErrors, v: Option<&Value>, default: &str) -> String {
    match v {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::String(s)) if s == "read" || s == "write" => s.clone(),
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            errors.add(
                "scope",
                format!("Invalid scope: {shown}. Must be one of: ['read', 'write']"),
            );
            default.to_string()
        }
    }
}

fn parse_description(errors: &mut FieldErrors, v: Option<&Value>, default: &str) -> String {
    optional_string(errors, "description", v.cloned()).unwrap_or_else(|| default.to_string())
}
