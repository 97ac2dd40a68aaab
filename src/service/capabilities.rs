//! What the caller could do, for OPTIONS answers (`POST`/`PUT` in `actions`): the same
//! rules the use cases apply, asked without doing anything.

use super::related::administers;
use super::{users, Context, Result};
use crate::domain::rbac::{Caller, Level};
use crate::domain::resource::Resource;

/// May the caller create objects of this resource through its main list?
pub async fn may_create(ctx: &Context, caller: &Caller, resource: &Resource) -> Result<bool> {
    Ok(match resource.key {
        "credential" | "o_auth2_access_token" | "credential_input_source" => true,
        "organization" => caller.is_superuser,
        "credential_type" | "user" | "team" => {
            caller.is_superuser
                || ctx
                    .store
                    .administers_any_organization(caller.user_id)
                    .await?
        }
        _ => false,
    })
}

/// May the caller change this object? (Missing objects: no.)
pub async fn may_change(
    ctx: &Context,
    caller: &Caller,
    resource: &Resource,
    raw_id: &str,
) -> Result<bool> {
    let Ok(id) = raw_id.parse::<i64>() else {
        return Ok(false);
    };
    let store = &ctx.store;
    Ok(match resource.key {
        "credential" => match store.credential(id).await? {
            Some(c) if !c.managed => administers(ctx, caller, "credential", id).await?,
            _ => false,
        },
        "credential_type" => match store.credential_type(id).await? {
            Some(t) => super::credential_types::may_change(ctx, caller, &t).await?,
            None => false,
        },
        "organization" => {
            store.organization(id).await?.is_some()
                && administers(ctx, caller, "organization", id).await?
        }
        "team" => store.team(id).await?.is_some() && administers(ctx, caller, "team", id).await?,
        "user" => match store.user(id).await? {
            Some(u) => u.id == caller.user_id || users::may_admin(ctx, caller, &u).await?,
            None => false,
        },
        "credential_input_source" => match store.input_source(id).await? {
            Some(source) => {
                super::credentials::level_on(ctx, caller, source.target_credential_id).await?
                    >= Level::Admin
            }
            None => false,
        },
        "o_auth2_access_token" => match store.token(id).await? {
            Some(t) => t.user_id == caller.user_id || caller.is_superuser,
            None => false,
        },
        _ => false,
    })
}
