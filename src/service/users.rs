//! User use cases. Superusers manage every user; organization admins create users and
//! manage the users whose every organization they administer; users change themselves.

use super::lists::{page_of, PageRequest, QueryPairs};
use super::named::resolve;
use super::{Context, Error, Result};
use crate::crypto::password;
use crate::domain::activity::{diff, user_fields, ActivityRecord};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::{role, user_capabilities, Caller, UserCapabilities};
use crate::domain::resource::USER;
use crate::domain::user::{parse_user, UserWrite};
use crate::store::{Page, Scope, UserRow};
use serde_json::{Map, Value};

/// Users, with what the caller may do to each.
pub struct Users {
    pub rows: Vec<UserRow>,
    pub capabilities: Vec<UserCapabilities>,
}

impl Users {
    fn one(user: UserRow, caller: &Caller, administers: bool) -> Users {
        let capabilities = vec![user_capabilities(caller, user.id, administers)];
        Users {
            rows: vec![user],
            capabilities,
        }
    }
}

async fn with_rights(ctx: &Context, caller: &Caller, rows: Vec<UserRow>) -> Result<Users> {
    let mut capabilities = Vec::with_capacity(rows.len());
    for u in &rows {
        let administers = may_admin(ctx, caller, u).await?;
        capabilities.push(user_capabilities(caller, u.id, administers));
    }
    Ok(Users { rows, capabilities })
}

/// A page of the users the caller may see.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Users)> {
    page(ctx, caller, Scope::All, q).await
}

/// The users granted role `id` directly.
pub async fn list_granted_role(
    ctx: &Context,
    caller: &Caller,
    id: i64,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Users)> {
    let role = super::roles::get(ctx, caller, id).await?;
    page(ctx, caller, Scope::MembersOfRole(role.id), q).await
}

/// A page of the users within `within` that the caller may see.
pub(super) async fn page(
    ctx: &Context,
    caller: &Caller,
    within: Scope,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Users)> {
    let (page, req) = page_of(ctx, &USER, &within.and(visible(caller)), q).await?;
    let rows = ctx.store.users_by_ids(&page.ids).await?;
    Ok((page, req, with_rights(ctx, caller, rows).await?))
}

/// The caller itself, as `/me/` shows it.
pub async fn me(ctx: &Context, caller: &Caller) -> Result<Users> {
    let rows = ctx.store.users_by_ids(&[caller.user_id]).await?;
    let capabilities = rows
        .iter()
        .map(|u| user_capabilities(caller, u.id, caller.is_superuser))
        .collect();
    Ok(Users { rows, capabilities })
}

/// One user for its detail answer.
pub async fn detail(ctx: &Context, caller: &Caller, raw: &str) -> Result<Users> {
    let user = get(ctx, caller, raw).await?;
    with_rights(ctx, caller, vec![user]).await
}

/// Creates a user: superusers any, organization admins plain users. The answer shows the
/// new user as its creator may edit it.
pub async fn create(ctx: &Context, caller: &Caller, body: &Map<String, Value>) -> Result<Users> {
    let org_admin = !caller.is_superuser
        && ctx
            .store
            .administers_any_organization(caller.user_id)
            .await?;
    if !caller.is_superuser && !org_admin {
        return Err(Error::Forbidden(None));
    }
    let parsed = parse_user(body, None, true)?;
    if !caller.is_superuser && (parsed.write.is_superuser || parsed.write.is_system_auditor) {
        return Err(Error::Forbidden(None));
    }
    let password = parsed
        .password
        .ok_or(Error::Internal("password missing after validation".into()))?;
    let record = ActivityRecord::create(Some(caller.user_id), "user", recorded(&parsed.write));
    let hash = password::hash_off_runtime(password).await?;
    let id = ctx.store.create_user(&parsed.write, &hash, &record).await?;
    let user = ctx.store.user(id).await?.ok_or(Error::NotFound("User"))?;
    let admin = may_admin(ctx, caller, &user).await? || org_admin;
    Ok(Users::one(user, caller, admin))
}

/// Replaces (`partial` false) or updates the user `raw` names: its administrators, or the
/// user itself; only superusers change who is a superuser or auditor.
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
    partial: bool,
) -> Result<Users> {
    let u = get(ctx, caller, raw).await?;
    let admin = may_admin(ctx, caller, &u).await?;
    if !admin && caller.user_id != u.id {
        return Err(Error::Forbidden(None));
    }
    let current = u.fields();
    let parsed = parse_user(body, Some(&current), false)?;
    if !partial && !body.contains_key("username") {
        return Err(Error::Validation(
            FieldErrors::one("username", "This field is required.").into_json(),
        ));
    }
    let escalates = parsed.write.is_superuser != u.is_superuser
        || parsed.write.is_system_auditor != u.is_system_auditor;
    if escalates && !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    let new_hash = match parsed.password {
        Some(p) => Some(password::hash_off_runtime(p).await?),
        None => None,
    };
    let mut changes = diff(&recorded(&current), &recorded(&parsed.write));
    if new_hash.is_some() {
        changes.insert("password".into(), serde_json::json!(["hidden", "hidden"]));
    }
    let record = ActivityRecord::update_with(Some(caller.user_id), "user", u.id, changes);
    ctx.store
        .update_user(u.id, &parsed.write, new_hash.as_deref(), record.as_ref())
        .await?;
    let user = ctx.store.user(u.id).await?.ok_or(Error::NotFound("User"))?;
    Ok(Users::one(user, caller, admin))
}

/// Deletes the user `raw` names (its administrators; never oneself).
pub async fn delete(ctx: &Context, caller: &Caller, raw: &str) -> Result<()> {
    let u = get(ctx, caller, raw).await?;
    if caller.user_id == u.id || !may_admin(ctx, caller, &u).await? {
        return Err(Error::Forbidden(None));
    }
    let record = ActivityRecord::delete(Some(caller.user_id), "user", u.id, recorded(&u.fields()));
    ctx.store.delete_user(u.id, &record).await?;
    Ok(())
}

/// The fields the activity stream records for a user (the password as `"hidden"`).
fn recorded(w: &UserWrite) -> Map<String, Value> {
    user_fields(
        &w.username,
        &w.first_name,
        &w.last_name,
        &w.email,
        w.is_superuser,
    )
}

/// Whether the caller may administer `user`: superusers may; otherwise the user must be a
/// plain user and a member of at least one organization, and the caller an admin of every
/// one of them.
pub async fn may_admin(ctx: &Context, caller: &Caller, user: &UserRow) -> Result<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    if user.is_superuser || user.is_system_auditor {
        return Ok(false);
    }
    let orgs = ctx.store.user_organizations(user.id).await?;
    if orgs.is_empty() {
        return Ok(false);
    }
    for o in orgs {
        if !ctx
            .store
            .holds_role(caller.user_id, "organization", o, role::ADMIN)
            .await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The users the caller may see: itself and the members of organizations it may read.
pub fn visible(caller: &Caller) -> Scope {
    if caller.sees_everything() {
        Scope::All
    } else {
        Scope::UsersSeenBy(caller.user_id)
    }
}

/// The id of the user named `username`, for a membership or grant that names its user:
/// like the API's `{"id": N}`, it needs no right to read the user (the change's own rules
/// and permission decide); a name nobody has is AWX's 400.
pub async fn id_by_username(ctx: &Context, username: &str) -> Result<i64> {
    match ctx.store.user_by_name(username).await? {
        Some(user) => Ok(user.id),
        None => Err(Error::BadRequest(serde_json::json!(
            "User matching query does not exist."
        ))),
    }
}

/// The user that `raw` (an id or a named URL) names, if the caller may see it: 404 when
/// missing, 403 when hidden (404 when asked for by name).
pub async fn get(ctx: &Context, caller: &Caller, raw: &str) -> Result<UserRow> {
    let resolved = resolve(ctx, NamedKind::User, raw, "User").await?;
    let user = ctx
        .store
        .user(resolved.id)
        .await?
        .ok_or(Error::NotFound("User"))?;
    if !caller.sees_everything() {
        let scope = Scope::Id(user.id).and(visible(caller));
        let (page, _) = page_of(ctx, &USER, &scope, &QueryPairs::default()).await?;
        if page.count == 0 {
            return Err(resolved.refusal());
        }
    }
    Ok(user)
}
