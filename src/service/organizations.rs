//! Organization use cases. Superusers create and delete organizations; organization
//! admins change theirs and manage its members and admins.

use super::lists::{page_of, role_level, PageRequest, QueryPairs};
use super::named::readable;
use super::related::{administers, roles_by_object, Credentials, People};
use super::users::{self, Users};
use super::{Context, Error, Result};
use crate::domain::activity::{organization_fields, ActivityRecord};
use crate::domain::association::Association;
use crate::domain::named_url::NamedKind;
use crate::domain::organization::parse_organization;
use crate::domain::rbac::{role, Caller};
use crate::domain::resource::ORGANIZATION;
use crate::store::{OrganizationRow, Page, RoleRef, Scope};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Member, admin and team counts of an organization (`related_field_counts`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub users: i64,
    pub admins: i64,
    pub teams: i64,
}

/// Organizations with what their representations show.
pub struct Organizations {
    pub rows: Vec<OrganizationRow>,
    pub people: People,
    pub roles: HashMap<i64, Vec<RoleRef>>,
    pub counts: HashMap<i64, Counts>,
    /// Whether the caller administers each organization, by id.
    pub administrable: HashMap<i64, bool>,
    /// Whether the caller may delete them (superusers).
    pub deletable: bool,
}

async fn is_admin(ctx: &Context, caller: &Caller, id: i64) -> Result<bool> {
    administers(ctx, caller, "organization", id).await
}

async fn load(ctx: &Context, caller: &Caller, rows: Vec<OrganizationRow>) -> Result<Organizations> {
    let people = People::load(
        &ctx.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let ids: Vec<i64> = rows.iter().map(|o| o.id).collect();
    let roles = roles_by_object(&ctx.store, "organization", &ids).await?;
    let mut counts = HashMap::new();
    let mut administrable = HashMap::new();
    for o in &rows {
        administrable.insert(o.id, is_admin(ctx, caller, o.id).await?);
        let (users, admins, teams) = ctx.store.organization_counts(o.id).await?;
        counts.insert(
            o.id,
            Counts {
                users,
                admins,
                teams,
            },
        );
    }
    Ok(Organizations {
        rows,
        people,
        roles,
        counts,
        administrable,
        deletable: caller.is_superuser,
    })
}

/// A page of the organizations the caller may see.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Organizations)> {
    let scope = super::lists::readable(caller).and(role_level(caller, q)?);
    let (page, req) = page_of(ctx, &ORGANIZATION, &scope, q).await?;
    let rows = ctx.store.organizations_by_ids(&page.ids).await?;
    Ok((page, req, load(ctx, caller, rows).await?))
}

/// The organization that `raw` (an id or a named URL) names, if the caller may see it:
/// 404 when missing, 403 when hidden (404 when asked for by name).
pub async fn get(ctx: &Context, caller: &Caller, raw: &str) -> Result<OrganizationRow> {
    let fetch = async |id| ctx.store.organization(id).await;
    readable(
        ctx,
        caller,
        NamedKind::Organization,
        "Organization",
        raw,
        fetch,
    )
    .await
}

/// One organization for its answer.
pub async fn detail(ctx: &Context, caller: &Caller, raw: &str) -> Result<Organizations> {
    let org = get(ctx, caller, raw).await?;
    load(ctx, caller, vec![org]).await
}

async fn written(ctx: &Context, caller: &Caller, id: i64) -> Result<Organizations> {
    let org = ctx
        .store
        .organization(id)
        .await?
        .ok_or(Error::NotFound("Organization"))?;
    load(ctx, caller, vec![org]).await
}

/// Creates an organization (superusers).
pub async fn create(
    ctx: &Context,
    caller: &Caller,
    body: &Map<String, Value>,
) -> Result<Organizations> {
    if !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    let (name, description) = parse_organization(body, None)?;
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "organization",
        organization_fields(&name, &description),
    );
    let id = ctx
        .store
        .create_organization(&name, &description, Some(caller.user_id), &record)
        .await?;
    written(ctx, caller, id).await
}

/// Replaces (`partial` false) or updates an organization (its admins).
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
    partial: bool,
) -> Result<Organizations> {
    let o = get(ctx, caller, raw).await?;
    if !is_admin(ctx, caller, o.id).await? {
        return Err(Error::Forbidden(None));
    }
    let current = partial.then_some((o.name.as_str(), o.description.as_str()));
    let (name, description) = parse_organization(body, current)?;
    let record = ActivityRecord::update(
        Some(caller.user_id),
        "organization",
        o.id,
        &organization_fields(&o.name, &o.description),
        &organization_fields(&name, &description),
    );
    ctx.store
        .update_organization(
            o.id,
            &name,
            &description,
            Some(caller.user_id),
            record.as_ref(),
        )
        .await?;
    written(ctx, caller, o.id).await
}

/// Deletes an organization (superusers) with its teams, credentials and credential
/// types, unless a personal credential still uses one of those types.
pub async fn delete(ctx: &Context, caller: &Caller, raw: &str) -> Result<()> {
    let o = get(ctx, caller, raw).await?;
    if !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    if ctx.store.organization_types_used_outside(o.id).await? {
        return Err(Error::BadRequest(json!(
            "Credential types of this organization are used by personal credentials; delete those first."
        )));
    }
    let record = ActivityRecord::delete(
        Some(caller.user_id),
        "organization",
        o.id,
        organization_fields(&o.name, &o.description),
    );
    ctx.store.delete_organization(o.id, &record).await?;
    Ok(())
}

/// The two membership lists of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Members,
    Admins,
}

impl Membership {
    fn role(self) -> &'static str {
        match self {
            Membership::Members => role::MEMBER,
            Membership::Admins => role::ADMIN,
        }
    }
}

/// The members or admins of the organization `raw` names.
pub async fn list_members(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    which: Membership,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Users)> {
    let o = get(ctx, caller, raw).await?;
    let scope = Scope::DirectHolders {
        kind: "organization",
        object: o.id,
        role: which.role(),
    };
    users::page(ctx, caller, scope, q).await
}

/// `{"id": N}` puts user N in the list; `"disassociate": true` takes them out. As in
/// AWX, a new admin becomes a member too (in the same transaction).
pub async fn change_member(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    which: Membership,
    body: &Map<String, Value>,
) -> Result<()> {
    let o = get(ctx, caller, raw).await?;
    let association = Association::parse(body, "User")?;
    if !is_admin(ctx, caller, o.id).await? {
        return Err(Error::Forbidden(None));
    }
    if ctx.store.user(association.id).await?.is_none() {
        return Err(Error::BadRequest(json!(
            "User matching query does not exist."
        )));
    }
    let grant = !association.disassociate;
    let fields: &[&str] = if grant && which == Membership::Admins {
        &[role::ADMIN, role::MEMBER]
    } else {
        &[which.role()]
    };
    ctx.store
        .set_organization_roles(o.id, fields, association.id, grant, Some(caller.user_id))
        .await?;
    Ok(())
}

/// The Galaxy credentials of the organization `raw` names, in the order they are tried:
/// all of them, whoever may read the organization may see them (as in AWX).
pub async fn list_galaxy_credentials(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Credentials)> {
    let o = get(ctx, caller, raw).await?;
    let ids = ctx.store.galaxy_credential_ids(o.id).await?;
    let req = PageRequest::from_query(q)?;
    let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let number = req.resolve(count)?;
    let on_page: Vec<i64> = ids
        .iter()
        .copied()
        .skip(usize::try_from((number - 1) * req.size).unwrap_or(usize::MAX))
        .take(usize::try_from(req.size).unwrap_or(usize::MAX))
        .collect();
    let rows = ctx.store.credentials_by_ids(&on_page).await?;
    let page = Page {
        count,
        page: Some(number),
        ids: on_page,
    };
    Ok((
        page,
        req,
        Credentials::load(&ctx.store, rows, caller).await?,
    ))
}

/// `{"id": N}` appends Galaxy credential N to the organization's list; `"disassociate":
/// true` takes it out. Organization admins and superusers; only Galaxy credentials.
pub async fn change_galaxy_credential(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
) -> Result<()> {
    let o = get(ctx, caller, raw).await?;
    let association = Association::parse(body, "Credential")?;
    let credential = ctx
        .store
        .credential(association.id)
        .await?
        .ok_or_else(|| Error::BadRequest(json!("Credential matching query does not exist.")))?;
    if !is_admin(ctx, caller, o.id).await? {
        return Err(Error::Forbidden(None));
    }
    let attach = !association.disassociate;
    if attach && credential.type_kind != "galaxy" {
        return Err(Error::Validation(json!({
            "msg": format!("Credential must be a Galaxy credential, not {}.", credential.type_name)
        })));
    }
    let record = ActivityRecord::association(
        Some(caller.user_id),
        attach,
        ("organization", o.id),
        ("credential", credential.id),
        "awx.main.models.organization.Organization_galaxy_credentials",
        "galaxy",
    );
    ctx.store
        .set_galaxy_credential(o.id, credential.id, attach, &record)
        .await?;
    Ok(())
}
