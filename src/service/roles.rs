//! Role use cases: listing roles (all, of a user, of a team, of a credential) and the one
//! path every grant and revoke takes — the grant rules of `domain::rbac`, then the
//! caller's right to manage the role, then the change with its activity entry.

use super::lists::{page_of, PageRequest, QueryPairs};
use super::{credential_types, credentials, teams, users, Context, Error, Result};
use crate::domain::association::Association;
use crate::domain::rbac::{check_grant, granting_role, Caller, Grantee, RoleOwner};
use crate::domain::resource::ROLE;
use crate::store::{Page, RoleInfo, Scope};
use serde_json::{json, Map, Value};

/// Roles, with whether the caller may take each away (on the user and team role lists).
pub struct Roles {
    pub rows: Vec<RoleInfo>,
    /// Present when the list shows `user_capabilities.unattach`.
    pub unattach: Option<Vec<bool>>,
}

/// The roles the caller may see: system roles and those of objects it holds a role on.
fn visible(caller: &Caller) -> Scope {
    if caller.sees_everything() {
        Scope::All
    } else {
        Scope::RolesSeenBy(caller.user_id)
    }
}

async fn page(
    ctx: &Context,
    caller: &Caller,
    scope: Scope,
    q: &QueryPairs,
    with_unattach: bool,
) -> Result<(Page, PageRequest, Roles)> {
    let (page, req) = page_of(ctx, &ROLE, &scope, q).await?;
    let rows = ctx.store.roles_by_ids(&page.ids).await?;
    let unattach = if with_unattach {
        let mut flags = Vec::with_capacity(rows.len());
        for r in &rows {
            flags.push(may_manage(ctx, caller, r).await?);
        }
        Some(flags)
    } else {
        None
    };
    Ok((page, req, Roles { rows, unattach }))
}

/// A page of the roles the caller may see.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Roles)> {
    page(ctx, caller, visible(caller), q, false).await
}

/// The roles granted to the user `raw` names, as far as the caller may see them.
pub async fn list_of_user(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Roles)> {
    let user = users::get(ctx, caller, raw).await?;
    let scope = Scope::RolesOfUser(user.id).and(visible(caller));
    page(ctx, caller, scope, q, true).await
}

/// The roles granted to the members of the team `raw` names (not the team's own).
pub async fn list_of_team(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Roles)> {
    let team = teams::get(ctx, caller, raw).await?;
    let scope = Scope::RolesOfTeam(team.id).and(visible(caller));
    page(ctx, caller, scope, q, true).await
}

/// The three roles of the credential `raw` names.
pub async fn list_of_credential(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Roles)> {
    let (cred, _) = credentials::get(ctx, caller, raw).await?;
    let scope = Scope::RolesOf {
        kind: "credential",
        id: cred.id,
    };
    page(ctx, caller, scope, q, false).await
}

/// The roles of the credential type `raw` names (none for a global type).
pub async fn list_of_credential_type(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Roles)> {
    let ty = credential_types::get(ctx, caller, raw).await?;
    let scope = Scope::RolesOf {
        kind: "credential_type",
        id: ty.id,
    };
    page(ctx, caller, scope, q, false).await
}

/// One role the caller may see: 404 when missing, 403 when hidden.
pub async fn get(ctx: &Context, caller: &Caller, id: i64) -> Result<RoleInfo> {
    let role = ctx.store.role(id).await?.ok_or(Error::NotFound("Role"))?;
    let scope = Scope::Id(id).and(visible(caller));
    let (page, _) = page_of(ctx, &ROLE, &scope, &QueryPairs::default()).await?;
    if page.count == 0 {
        return Err(Error::Forbidden(None));
    }
    Ok(role)
}

/// Who gets or loses a role.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    User(i64),
    Team(i64),
}

/// `POST /roles/{id}/users/` and `/roles/{id}/teams/`: the body names the user or team.
pub async fn change_members(
    ctx: &Context,
    caller: &Caller,
    role_id: i64,
    teams_list: bool,
    body: &Map<String, Value>,
) -> Result<()> {
    let role = ctx
        .store
        .role(role_id)
        .await?
        .ok_or(Error::NotFound("Role"))?;
    let (model, target): (_, fn(i64) -> Target) = if teams_list {
        ("Team", Target::Team)
    } else {
        ("User", Target::User)
    };
    let association = Association::parse(body, model)?;
    change(
        ctx,
        caller,
        &role,
        target(association.id),
        association.disassociate,
    )
    .await
}

/// `POST /users/{id}/roles/` and `/teams/{id}/roles/`: the URL names the grantee, the
/// body the role.
pub async fn change_roles_of(
    ctx: &Context,
    caller: &Caller,
    grantee: GranteeRef<'_>,
    body: &Map<String, Value>,
) -> Result<()> {
    let target = match grantee {
        GranteeRef::User(raw) => Target::User(users::get(ctx, caller, raw).await?.id),
        GranteeRef::Team(raw) => Target::Team(teams::get(ctx, caller, raw).await?.id),
    };
    let association = Association::parse(body, "Role")?;
    let role = ctx
        .store
        .role(association.id)
        .await?
        .ok_or_else(|| Error::BadRequest(json!("Role matching query does not exist.")))?;
    change(ctx, caller, &role, target, association.disassociate).await
}

/// The object a grantee URL names.
#[derive(Debug, Clone, Copy)]
pub enum GranteeRef<'a> {
    User(&'a str),
    Team(&'a str),
}

fn owner_of(role: &RoleInfo) -> RoleOwner {
    match (role.content_type.as_deref(), role.object_id) {
        (Some("credential"), Some(_)) => RoleOwner::Credential {
            organization: role.object_organization,
        },
        (Some("organization"), Some(id)) => RoleOwner::Organization(id),
        (Some("team"), Some(_)) => RoleOwner::Team {
            organization: role.object_organization.unwrap_or_default(),
        },
        (Some("credential_type"), Some(_)) => RoleOwner::CredentialType,
        _ => RoleOwner::System,
    }
}

/// Superusers, and holders of the admin role of the role's object, manage its members.
async fn may_manage(ctx: &Context, caller: &Caller, role: &RoleInfo) -> Result<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    match (granting_role(owner_of(role)), role.object_id) {
        (Some((kind, field)), Some(oid)) => Ok(ctx
            .store
            .holds_role(caller.user_id, kind, oid, field)
            .await?),
        _ => Ok(false),
    }
}

/// The one path every grant and revoke takes: rules, permission, then the change.
async fn change(
    ctx: &Context,
    caller: &Caller,
    role: &RoleInfo,
    target: Target,
    revoke: bool,
) -> Result<()> {
    let grantee = match target {
        Target::User(u) => {
            if ctx.store.user(u).await?.is_none() {
                return Err(Error::BadRequest(json!(
                    "User matching query does not exist."
                )));
            }
            Grantee::User {
                member_of: ctx.store.user_organizations(u).await?,
            }
        }
        Target::Team(t) => match ctx.store.team(t).await? {
            Some(team) => Grantee::Team {
                organization: team.organization_id,
            },
            None => {
                return Err(Error::BadRequest(json!(
                    "Team matching query does not exist."
                )))
            }
        },
    };
    check_grant(caller, &role.role_field, owner_of(role), &grantee, revoke)?;
    if !may_manage(ctx, caller, role).await? {
        return Err(Error::Forbidden(None));
    }
    match target {
        Target::User(u) => {
            ctx.store
                .set_user_role(role.id, u, !revoke, Some(caller.user_id))
                .await?
        }
        Target::Team(t) => {
            ctx.store
                .set_team_role(role.id, t, !revoke, Some(caller.user_id))
                .await?
        }
    }
    Ok(())
}
