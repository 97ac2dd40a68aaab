//! Who holds a credential: the users owning it directly, and everyone with any access
//! (superusers, system auditors, and holders of a credential role) with the roles that
//! give it.

use super::lists::{PageRequest, QueryPairs};
use super::users::{self, Users};
use super::{credentials, Context, Result};
use crate::domain::rbac::{may_unattach_in_access_list, role, Caller};
use crate::store::{AccessPath, Page, RoleInfo, Scope, TeamGrant};
use std::collections::BTreeMap;

/// The users holding the admin role of the credential `raw` names directly.
pub async fn list_owner_users(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Users)> {
    let (cred, _) = credentials::get(ctx, caller, raw).await?;
    let scope = Scope::DirectHolders {
        kind: "credential",
        object: cred.id,
        role: role::ADMIN,
    };
    users::page(ctx, caller, scope, q).await
}

/// A page of the access list: the users, and the grants that give each of them access.
pub struct AccessList {
    pub credential_id: i64,
    pub users: Users,
    /// Every (user, credential role, granting role) path to the credential.
    pub paths: Vec<AccessPath>,
    /// The granting roles of `paths`, by id.
    pub via_roles: BTreeMap<i64, RoleInfo>,
    /// For each granting role that is a team's: how it reaches the credential.
    pub team_grants: BTreeMap<i64, TeamGrant>,
    /// The roles the team grants name, by id.
    pub shown_roles: BTreeMap<i64, RoleInfo>,
    caller: Caller,
}

impl AccessList {
    /// Whether the caller may take away a granting role of this content type.
    pub fn may_unattach(&self, content_type: &str) -> bool {
        may_unattach_in_access_list(&self.caller, content_type)
    }
}

/// Everyone with access to the credential `raw` names, as far as the caller may see them.
pub async fn list_access(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, AccessList)> {
    let (cred, _) = credentials::get(ctx, caller, raw).await?;
    let paths = ctx.store.credential_access(cred.id).await?;
    let mut holders: Vec<i64> = paths.iter().map(|p| p.user_id).collect();
    holders.sort_unstable();
    holders.dedup();
    let (page, req, users) = users::page(ctx, caller, Scope::SystemWideOr(holders), q).await?;
    let mut via_ids: Vec<i64> = paths.iter().map(|p| p.via_role).collect();
    via_ids.sort_unstable();
    via_ids.dedup();
    let via_roles: BTreeMap<i64, RoleInfo> = ctx
        .store
        .roles_by_ids(&via_ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut team_grants = BTreeMap::new();
    for role in via_roles.values() {
        if let Some(grant) = ctx.store.team_grant(role, cred.id).await? {
            team_grants.insert(role.id, grant);
        }
    }
    let mut shown: Vec<i64> = team_grants
        .values()
        .flat_map(|g| g.shown.iter().copied())
        .collect();
    shown.sort_unstable();
    shown.dedup();
    let shown_roles = ctx
        .store
        .roles_by_ids(&shown)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok((
        page,
        req,
        AccessList {
            credential_id: cred.id,
            users,
            paths,
            via_roles,
            team_grants,
            shown_roles,
            caller: *caller,
        },
    ))
}
