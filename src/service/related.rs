//! What representations need beyond their rows (users named by `created_by`, roles,
//! owners, the caller's levels), loaded in batches for a whole page at once.

use super::Result;
use crate::domain::rbac::{
    credential_capabilities, effective_level, role, Caller, CredentialCapabilities, Level,
};
use crate::store::{CredentialRow, OwnerSummary, RoleRef, Store, UserRow};
use std::collections::HashMap;

/// Users referenced by `created_by`/`modified_by`, loaded once per response.
pub struct People(HashMap<i64, UserRow>);

impl People {
    /// Loads every user id that appears.
    pub async fn load(store: &Store, ids: impl IntoIterator<Item = Option<i64>>) -> Result<People> {
        let mut wanted: Vec<i64> = ids.into_iter().flatten().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let rows = store.users_by_ids(&wanted).await?;
        Ok(People(rows.into_iter().map(|u| (u.id, u)).collect()))
    }

    /// The referenced user, when it still exists.
    pub fn get(&self, id: Option<i64>) -> Option<&UserRow> {
        self.0.get(&id?)
    }
}

/// The roles of these objects of one kind, by object id, for `summary_fields.object_roles`.
pub async fn roles_by_object(
    store: &Store,
    kind: &str,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<RoleRef>>> {
    let mut roles: HashMap<i64, Vec<RoleRef>> = HashMap::new();
    for r in store.object_roles(kind, ids).await? {
        roles.entry(r.object_id).or_default().push(r);
    }
    Ok(roles)
}

/// Whether the caller administers this object: a superuser, or a holder of its admin
/// role (directly or through any role above it).
pub async fn administers(
    ctx: &super::Context,
    caller: &Caller,
    kind: &str,
    id: i64,
) -> Result<bool> {
    Ok(caller.is_superuser
        || ctx
            .store
            .holds_role(caller.user_id, kind, id, role::ADMIN)
            .await?)
}

/// Credentials, in list order, with what their representations show.
pub struct Credentials {
    pub rows: Vec<CredentialRow>,
    pub people: People,
    pub roles: HashMap<i64, Vec<RoleRef>>,
    pub owners: HashMap<i64, Vec<OwnerSummary>>,
    levels: HashMap<i64, Level>,
}

impl Credentials {
    /// Loads users, roles, owners and the caller's levels for these credentials.
    pub async fn load(store: &Store, rows: Vec<CredentialRow>, caller: &Caller) -> Result<Self> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let people = People::load(
            store,
            rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
        )
        .await?;
        let roles = roles_by_object(store, "credential", &ids).await?;
        let mut owners: HashMap<i64, Vec<OwnerSummary>> = HashMap::new();
        for o in store.credential_owners(&ids).await? {
            owners.entry(o.credential_id).or_default().push(o);
        }
        for list in owners.values_mut() {
            list.sort_by_key(|o| (owner_rank(&o.kind), o.id));
        }
        let levels = if caller.is_superuser {
            HashMap::new()
        } else {
            store.credential_levels(caller.user_id, &ids).await?
        };
        Ok(Credentials {
            rows,
            people,
            roles,
            owners,
            levels,
        })
    }

    /// The caller's effective level on one of these credentials.
    pub fn level(&self, caller: &Caller, id: i64) -> Level {
        effective_level(caller, self.levels.get(&id).copied().unwrap_or(Level::None))
    }

    /// What the caller may do to one of these credentials.
    pub fn capabilities(&self, caller: &Caller, row: &CredentialRow) -> CredentialCapabilities {
        credential_capabilities(caller, self.level(caller, row.id), row.managed)
    }
}

/// AWX lists a credential's owners as its admin role's users, then the objects whose roles
/// hold it, organizations before teams (their content types' order).
fn owner_rank(kind: &str) -> u8 {
    match kind {
        "user" => 0,
        "organization" => 1,
        _ => 2,
    }
}
