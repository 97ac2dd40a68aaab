//! Team use cases. Organization admins create teams in their organization; team admins
//! (and so organization admins) change and delete them and manage their members.

use super::lists::{page_of, role_level, PageRequest, QueryPairs};
use super::named::readable;
use super::related::{administers, roles_by_object, People};
use super::{organizations, Context, Error, Result};
use crate::domain::activity::{team_fields, ActivityRecord};
use crate::domain::association::Association;
use crate::domain::credential_type::{optional_string, required_string};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::pk::{does_not_exist, parse_pk, PkValue};
use crate::domain::rbac::{role, Caller};
use crate::domain::resource::TEAM;
use crate::store::{OrganizationRow, Page, RoleRef, Scope, TeamRow};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Teams with what their representations show.
pub struct Teams {
    pub rows: Vec<TeamRow>,
    pub people: People,
    pub organizations: HashMap<i64, OrganizationRow>,
    pub roles: HashMap<i64, Vec<RoleRef>>,
    /// Whether the caller administers each team, by id.
    pub administrable: HashMap<i64, bool>,
}

async fn is_admin(ctx: &Context, caller: &Caller, id: i64) -> Result<bool> {
    administers(ctx, caller, "team", id).await
}

async fn load(ctx: &Context, caller: &Caller, rows: Vec<TeamRow>) -> Result<Teams> {
    let people = People::load(
        &ctx.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let org_ids: Vec<i64> = rows.iter().map(|t| t.organization_id).collect();
    let organizations = ctx
        .store
        .organizations_by_ids(&org_ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let roles = roles_by_object(&ctx.store, "team", &ids).await?;
    let mut administrable = HashMap::new();
    for t in &rows {
        administrable.insert(t.id, is_admin(ctx, caller, t.id).await?);
    }
    Ok(Teams {
        rows,
        people,
        organizations,
        roles,
        administrable,
    })
}

/// A page of the teams the caller may see.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Teams)> {
    page(ctx, caller, super::lists::readable(caller), q).await
}

/// The teams of the organization `raw` names that the caller may see.
pub async fn list_of_organization(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Teams)> {
    let org = organizations::get(ctx, caller, raw).await?;
    page(
        ctx,
        caller,
        Scope::InOrganization(org.id).and(super::lists::readable(caller)),
        q,
    )
    .await
}

/// The teams whose admin role owns the credential `raw` names.
pub async fn list_owning_credential(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Teams)> {
    let (cred, _) = super::credentials::get(ctx, caller, raw).await?;
    page(ctx, caller, Scope::OwnerTeamsOf(cred.id), q).await
}

/// The teams whose members are granted role `id`.
pub async fn list_granted_role(
    ctx: &Context,
    caller: &Caller,
    id: i64,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Teams)> {
    let role = super::roles::get(ctx, caller, id).await?;
    page(ctx, caller, Scope::TeamsGrantedRole(role.id), q).await
}

/// A page of the teams within `within`, narrowed by `?role_level`.
async fn page(
    ctx: &Context,
    caller: &Caller,
    within: Scope,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Teams)> {
    let scope = within.and(role_level(caller, q)?);
    let (page, req) = page_of(ctx, &TEAM, &scope, q).await?;
    let rows = ctx.store.teams_by_ids(&page.ids).await?;
    Ok((page, req, load(ctx, caller, rows).await?))
}

/// The team that `raw` (an id or a named URL) names, if the caller may see it: 404 when
/// missing, 403 when hidden (404 when asked for by name).
pub async fn get(ctx: &Context, caller: &Caller, raw: &str) -> Result<TeamRow> {
    let fetch = async |id| ctx.store.team(id).await;
    readable(ctx, caller, NamedKind::Team, "Team", raw, fetch).await
}

/// One team for its answer.
pub async fn detail(ctx: &Context, caller: &Caller, raw: &str) -> Result<Teams> {
    let team = get(ctx, caller, raw).await?;
    load(ctx, caller, vec![team]).await
}

/// A team just written, for the answer to its write.
async fn written(ctx: &Context, caller: &Caller, id: i64) -> Result<Teams> {
    let team = ctx.store.team(id).await?.ok_or(Error::NotFound("Team"))?;
    load(ctx, caller, vec![team]).await
}

/// Creates a team: superusers anywhere, organization admins in their organization.
pub async fn create(ctx: &Context, caller: &Caller, body: &Map<String, Value>) -> Result<Teams> {
    let claimed_org = body.get("organization").and_then(|v| v.as_i64());
    let allowed = match claimed_org {
        _ if caller.is_superuser => true,
        Some(o) => {
            ctx.store
                .holds_role(caller.user_id, "organization", o, role::ADMIN)
                .await?
        }
        None => false,
    };
    if !allowed {
        return Err(Error::Forbidden(None));
    }
    let (name, description, org) = parse_body(ctx, body, None).await?;
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "team",
        team_fields(&name, &description, (&org_name(ctx, org).await?, org)),
    );
    let id = ctx
        .store
        .create_team(&name, &description, org, Some(caller.user_id), &record)
        .await?;
    written(ctx, caller, id).await
}

/// Creates a team in the organization `raw` names.
pub async fn create_in_organization(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    mut body: Map<String, Value>,
) -> Result<Teams> {
    let org = organizations::get(ctx, caller, raw).await?;
    body.insert("organization".into(), json!(org.id));
    create(ctx, caller, &body).await
}

/// Replaces (`partial` false) or updates a team (its admins; moving it to another
/// organization also needs admin there).
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
    partial: bool,
) -> Result<Teams> {
    let t = get(ctx, caller, raw).await?;
    if !is_admin(ctx, caller, t.id).await? {
        return Err(Error::Forbidden(None));
    }
    let (name, description, org) = parse_body(ctx, body, partial.then_some(&t)).await?;
    if org != t.organization_id
        && !caller.is_superuser
        && !ctx
            .store
            .holds_role(caller.user_id, "organization", org, role::ADMIN)
            .await?
    {
        return Err(Error::Forbidden(None));
    }
    let before = recorded(ctx, &t).await?;
    let after = team_fields(&name, &description, (&org_name(ctx, org).await?, org));
    let record = ActivityRecord::update(Some(caller.user_id), "team", t.id, &before, &after);
    ctx.store
        .update_team(
            t.id,
            &name,
            &description,
            org,
            Some(caller.user_id),
            record.as_ref(),
        )
        .await?;
    written(ctx, caller, t.id).await
}

/// Deletes a team (its admins).
pub async fn delete(ctx: &Context, caller: &Caller, raw: &str) -> Result<()> {
    let t = get(ctx, caller, raw).await?;
    if !is_admin(ctx, caller, t.id).await? {
        return Err(Error::Forbidden(None));
    }
    let record =
        ActivityRecord::delete(Some(caller.user_id), "team", t.id, recorded(ctx, &t).await?);
    ctx.store.delete_team(t.id, &record).await?;
    Ok(())
}

/// The members of the team `raw` names.
pub async fn list_members(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, super::users::Users)> {
    let t = get(ctx, caller, raw).await?;
    let scope = Scope::DirectHolders {
        kind: "team",
        object: t.id,
        role: role::MEMBER,
    };
    super::users::page(ctx, caller, scope, q).await
}

/// `{"id": N}` adds user N to the team; `"disassociate": true` removes them.
pub async fn change_member(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
) -> Result<()> {
    let t = get(ctx, caller, raw).await?;
    let association = Association::parse(body, "User")?;
    if !is_admin(ctx, caller, t.id).await? {
        return Err(Error::Forbidden(None));
    }
    if ctx.store.user(association.id).await?.is_none() {
        return Err(Error::BadRequest(json!(
            "User matching query does not exist."
        )));
    }
    ctx.store
        .set_team_member(
            t.id,
            association.id,
            !association.disassociate,
            Some(caller.user_id),
        )
        .await?;
    Ok(())
}

/// The fields the activity stream records for a stored team.
async fn recorded(ctx: &Context, t: &TeamRow) -> Result<Map<String, Value>> {
    let org = org_name(ctx, t.organization_id).await?;
    Ok(team_fields(
        &t.name,
        &t.description,
        (&org, t.organization_id),
    ))
}

/// The name of an organization, for activity entries.
async fn org_name(ctx: &Context, org: i64) -> Result<String> {
    Ok(ctx
        .store
        .organization(org)
        .await?
        .map(|o| o.name)
        .unwrap_or_default())
}

/// Checks a team body over the current values; the organization must exist.
async fn parse_body(
    ctx: &Context,
    body: &Map<String, Value>,
    current: Option<&TeamRow>,
) -> Result<(String, String, i64)> {
    let mut errors = FieldErrors::new();
    let name = match (body.get("name"), current) {
        (None, Some(c)) => Some(c.name.clone()),
        (v, _) => required_string(&mut errors, "name", v.cloned()),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    let org = match (body.get("organization"), current) {
        (None, Some(c)) => Some(c.organization_id),
        (v, _) => match parse_pk(&mut errors, "organization", v) {
            PkValue::Id(id) => Some(id),
            PkValue::None => {
                if !errors.has("organization") {
                    errors.add("organization", "This field is required.");
                }
                None
            }
        },
    };
    if let Some(o) = org {
        if ctx.store.organization(o).await?.is_none() {
            errors.add("organization", does_not_exist(o));
        }
    }
    TEAM.check_announced_lengths(body, &mut errors);
    errors.into_result()?;
    Ok((
        name.unwrap_or_default(),
        description,
        org.unwrap_or_default(),
    ))
}
