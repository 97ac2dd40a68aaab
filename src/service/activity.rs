//! Reading the activity stream: callers see the entries that mention an object they may
//! see (superusers and auditors: all), with the objects mentioned loaded in batches.

use super::lists::{page_of, PageRequest, QueryPairs};
use super::{credential_types, credentials, organizations, teams, users};
use super::{Context, Error, Result};
use crate::domain::rbac::Caller;
use crate::domain::resource::ACTIVITY;
use crate::store::activity::ActivityRow;
use crate::store::{
    CredentialRow, CredentialTypeRow, InputSourceRow, OrganizationRow, Page, RoleInfo, Scope,
    TeamRow, UserRow,
};
use std::collections::{BTreeMap, HashMap};

/// Entries with the objects they mention, as those are now (deleted ones are absent).
pub struct Entries {
    pub rows: Vec<ActivityRow>,
    pub credentials: HashMap<i64, CredentialRow>,
    pub credential_types: HashMap<i64, CredentialTypeRow>,
    /// Mentioned users and the entries' actors.
    pub users: HashMap<i64, UserRow>,
    pub organizations: HashMap<i64, OrganizationRow>,
    pub teams: HashMap<i64, TeamRow>,
    pub roles: HashMap<i64, RoleInfo>,
    pub input_sources: HashMap<i64, InputSourceRow>,
}

/// The objects a URL's activity list can be about.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    Credential(&'a str),
    CredentialType(&'a str),
    User(&'a str),
    Team(&'a str),
    Organization(&'a str),
}

fn visible(caller: &Caller) -> Scope {
    if caller.sees_everything() {
        Scope::All
    } else {
        Scope::ActivitySeenBy(caller.user_id)
    }
}

/// A page of the entries the caller may see, filtered by the query.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    within: Scope,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Entries)> {
    let (page, req) = page_of(ctx, &ACTIVITY, &within.and(visible(caller)), q).await?;
    let rows = ctx.store.activity_by_ids(&page.ids).await?;
    Ok((page, req, load(ctx, rows).await?))
}

/// The entries about one object the caller may see.
pub async fn list_about(
    ctx: &Context,
    caller: &Caller,
    about: About<'_>,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Entries)> {
    let (kind, id) = match about {
        About::Credential(raw) => ("credential", credentials::get(ctx, caller, raw).await?.0.id),
        About::CredentialType(raw) => (
            "credential_type",
            credential_types::get(ctx, caller, raw).await?.id,
        ),
        About::User(raw) => ("user", users::get(ctx, caller, raw).await?.id),
        About::Team(raw) => ("team", teams::get(ctx, caller, raw).await?.id),
        About::Organization(raw) => (
            "organization",
            organizations::get(ctx, caller, raw).await?.id,
        ),
    };
    list(ctx, caller, Scope::ActivityAbout { kind, id }, q).await
}

/// One entry: 404 when missing, 403 when it mentions nothing the caller may see.
pub async fn get(ctx: &Context, caller: &Caller, id: i64) -> Result<Entries> {
    let row = ctx
        .store
        .activity(id)
        .await?
        .ok_or(Error::NotFound("ActivityStream"))?;
    let scope = Scope::Id(id).and(visible(caller));
    let (page, _) = page_of(ctx, &ACTIVITY, &scope, &QueryPairs::default()).await?;
    if page.count == 0 {
        return Err(Error::Forbidden(None));
    }
    load(ctx, vec![row]).await
}

fn by_id<T>(rows: Vec<T>, id: impl Fn(&T) -> i64) -> HashMap<i64, T> {
    rows.into_iter().map(|r| (id(&r), r)).collect()
}

/// Loads every object the entries mention, per type in batches.
async fn load(ctx: &Context, rows: Vec<ActivityRow>) -> Result<Entries> {
    let mut wanted: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in &rows {
        for (kind, id) in row.mentioned()? {
            wanted.entry(kind).or_default().push(id);
        }
    }
    let mut ids = |kind: &str| wanted.remove(kind).unwrap_or_default();
    let mut user_ids = ids("user");
    user_ids.extend(rows.iter().filter_map(|r| r.actor_id));
    let store = &ctx.store;
    Ok(Entries {
        credentials: by_id(store.credentials_by_ids(&ids("credential")).await?, |r| {
            r.id
        }),
        credential_types: by_id(
            store
                .credential_types_by_ids(&ids("credential_type"))
                .await?,
            |r| r.id,
        ),
        users: by_id(store.users_by_ids(&user_ids).await?, |r| r.id),
        organizations: by_id(
            store.organizations_by_ids(&ids("organization")).await?,
            |r| r.id,
        ),
        teams: by_id(store.teams_by_ids(&ids("team")).await?, |r| r.id),
        roles: by_id(store.roles_by_ids(&ids("role")).await?, |r| r.id),
        input_sources: by_id(
            store
                .input_sources_by_ids(&ids("credential_input_source"))
                .await?,
            |r| r.id,
        ),
        rows,
    })
}
