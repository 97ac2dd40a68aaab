//! Credential type use cases. AWX's global types: everyone reads, superusers write custom
//! ones; managed types and types in use are protected. An organization's types (a
//! credstore extension) are seen by their readers, written by their admins, and used by
//! holders of their use role.

use super::lists::{page_of, PageRequest, QueryPairs};
use super::named::resolve;
use super::related::{administers, roles_by_object, People};
use super::{Context, Error, Result};
use crate::domain::activity::{credential_type_fields, python_json, ActivityRecord};
use crate::domain::credential_type::{type_organization, validate_type_write, TypeWrite};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::pk::does_not_exist;
use crate::domain::rbac::{may_change_credential_type, role, Caller};
use crate::domain::resource::CREDENTIAL_TYPE;
use crate::store::{CredentialTypeRow, NewCredentialType, Page, RoleRef, Scope};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const MODEL: &str = "CredentialType";

/// Credential types with what their answers show besides their rows.
pub struct CredentialTypes {
    pub rows: Vec<CredentialTypeRow>,
    pub people: People,
    /// Whether the caller may change and delete each row, in row order.
    pub changeable: Vec<bool>,
    /// The roles of the organization types among the rows, by type.
    pub roles: HashMap<i64, Vec<RoleRef>>,
}

async fn load(
    ctx: &Context,
    caller: &Caller,
    rows: Vec<CredentialTypeRow>,
) -> Result<CredentialTypes> {
    let people = People::load(
        &ctx.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let mut changeable = Vec::with_capacity(rows.len());
    for row in &rows {
        changeable.push(may_change(ctx, caller, row).await?);
    }
    let owned: Vec<i64> = rows
        .iter()
        .filter(|r| r.organization_id.is_some())
        .map(|r| r.id)
        .collect();
    let roles = roles_by_object(&ctx.store, "credential_type", &owned).await?;
    Ok(CredentialTypes {
        rows,
        people,
        changeable,
        roles,
    })
}

/// The types the caller may see: all of them, or the global ones and those it reads.
fn visible(caller: &Caller) -> Scope {
    if caller.sees_everything() {
        Scope::All
    } else {
        Scope::TypesSeenBy(caller.user_id)
    }
}

/// A page of the credential types the caller may see, filtered and ordered by the query.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, CredentialTypes)> {
    let (page, req) = page_of(ctx, &CREDENTIAL_TYPE, &visible(caller), q).await?;
    let rows = ctx.store.credential_types_by_ids(&page.ids).await?;
    Ok((page, req, load(ctx, caller, rows).await?))
}

/// Whether the caller holds `field` on an organization's type (superusers hold every
/// role; global types have none).
async fn holds(ctx: &Context, caller: &Caller, t: &CredentialTypeRow, field: &str) -> Result<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    if t.organization_id.is_none() {
        return Ok(false);
    }
    Ok(ctx
        .store
        .holds_role(caller.user_id, "credential_type", t.id, field)
        .await?)
}

/// Global types are seen by everyone; an organization's type by its readers.
pub async fn may_see(ctx: &Context, caller: &Caller, t: &CredentialTypeRow) -> Result<bool> {
    Ok(t.organization_id.is_none()
        || caller.sees_everything()
        || holds(ctx, caller, t, role::READ).await?)
}

/// Credentials of a global type may be made by anyone; of an organization's type by the
/// holders of its use role.
pub async fn may_use(ctx: &Context, caller: &Caller, t: &CredentialTypeRow) -> Result<bool> {
    Ok(t.organization_id.is_none() || holds(ctx, caller, t, role::USE).await?)
}

/// Superusers change any type (managed ones are refused by the write itself); an
/// organization type's admins change that type.
pub async fn may_change(ctx: &Context, caller: &Caller, t: &CredentialTypeRow) -> Result<bool> {
    let administers = holds(ctx, caller, t, role::ADMIN).await?;
    Ok(may_change_credential_type(caller, administers))
}

/// The type that `raw` (an id or a named URL) names, if the caller may see it: 404 when
/// missing, 403 when hidden (404 when asked for by name).
pub async fn get(ctx: &Context, caller: &Caller, raw: &str) -> Result<CredentialTypeRow> {
    let resolved = resolve(ctx, NamedKind::CredentialType, raw, MODEL).await?;
    let row = by_id(ctx, resolved.id).await?;
    if !may_see(ctx, caller, &row).await? {
        return Err(resolved.refusal());
    }
    Ok(row)
}

/// The type with this id.
pub async fn by_id(ctx: &Context, id: i64) -> Result<CredentialTypeRow> {
    ctx.store
        .credential_type(id)
        .await?
        .ok_or(Error::NotFound(MODEL))
}

/// A type just written, for the answer to its write.
pub async fn written(ctx: &Context, caller: &Caller, id: i64) -> Result<CredentialTypes> {
    let row = by_id(ctx, id).await?;
    load(ctx, caller, vec![row]).await
}

/// One type for its detail answer.
pub async fn detail(ctx: &Context, caller: &Caller, raw: &str) -> Result<CredentialTypes> {
    let row = get(ctx, caller, raw).await?;
    load(ctx, caller, vec![row]).await
}

/// Creates a custom type: a global one (superusers), or one of an organization (its
/// admins); returns its id.
pub async fn create(ctx: &Context, caller: &Caller, body: &Map<String, Value>) -> Result<i64> {
    let organization = type_organization(body, None)?;
    let owner = match organization {
        Some(id) => Some(organization_for_type(ctx, caller, id).await?),
        None if caller.is_superuser => None,
        None => return Err(Error::Forbidden(None)),
    };
    let write = validate_type_write(body, None, false, false, &|injectors, inputs| {
        ctx.templates.check_injectors(injectors, inputs)
    })?;
    let mut fields = recorded(&write);
    if let Some((id, name)) = &owner {
        fields.insert("organization".into(), json!(format!("{name}-{id}")));
    }
    let mut record = ActivityRecord::create(Some(caller.user_id), "credential_type", fields);
    if let Some((id, _)) = owner {
        record = record.linked("organization", id);
    }
    Ok(ctx
        .store
        .create_credential_type(&stored(write), organization, caller.user_id, &record)
        .await?)
}

/// The organization a new type is to belong to, with its name, if the caller administers
/// it: 400 when it does not exist, 403 otherwise (as for a credential's organization).
async fn organization_for_type(ctx: &Context, caller: &Caller, id: i64) -> Result<(i64, String)> {
    let org = ctx.store.organization(id).await?.ok_or_else(|| {
        Error::Validation(FieldErrors::one("organization", does_not_exist(id)).into_json())
    })?;
    if !administers(ctx, caller, "organization", id).await? {
        return Err(Error::Forbidden(None));
    }
    Ok((org.id, org.name))
}

/// Replaces (`partial` false) or updates a custom type; returns its id.
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
    partial: bool,
) -> Result<i64> {
    let t = get(ctx, caller, raw).await?;
    check_writable(ctx, caller, &t, "Modifications").await?;
    type_organization(body, Some(t.organization_id))?;
    let in_use = ctx.store.credential_type_in_use(t.id).await?;
    let current = current_write(&t)?;
    let write = validate_type_write(
        body,
        Some(&current),
        partial,
        in_use,
        &|injectors, inputs| ctx.templates.check_injectors(injectors, inputs),
    )?;
    let record = ActivityRecord::update(
        Some(caller.user_id),
        "credential_type",
        t.id,
        &recorded(&current),
        &recorded(&write),
    )
    .map(|r| about_organization(r, &t));
    ctx.store
        .update_credential_type(t.id, &stored(write), caller.user_id, record.as_ref())
        .await?;
    Ok(t.id)
}

/// Deletes a custom type that no credential uses.
pub async fn delete(ctx: &Context, caller: &Caller, raw: &str) -> Result<()> {
    let t = get(ctx, caller, raw).await?;
    check_writable(ctx, caller, &t, "Deletion").await?;
    if ctx.store.credential_type_in_use(t.id).await? {
        return Err(Error::Forbidden(Some(
            "Credential types that are in use cannot be deleted".into(),
        )));
    }
    let record = ActivityRecord::delete(
        Some(caller.user_id),
        "credential_type",
        t.id,
        recorded(&current_write(&t)?),
    );
    let record = about_organization(record, &t);
    ctx.store.delete_credential_type(t.id, &record).await?;
    Ok(())
}

/// Refuses a write of `t` by a caller who may not change it, and of a managed type (AWX's
/// sentence: "<what> not allowed for managed credential types").
async fn check_writable(
    ctx: &Context,
    caller: &Caller,
    t: &CredentialTypeRow,
    what: &str,
) -> Result<()> {
    if !may_change(ctx, caller, t).await? {
        return Err(Error::Forbidden(None));
    }
    if t.managed {
        return Err(Error::Forbidden(Some(format!(
            "{what} not allowed for managed credential types"
        ))));
    }
    Ok(())
}

/// Entries about an organization's type also name the organization, whose readers keep
/// seeing them once the type is gone.
fn about_organization(record: ActivityRecord, t: &CredentialTypeRow) -> ActivityRecord {
    match t.organization_id {
        Some(org) => record.linked("organization", org),
        None => record,
    }
}

fn stored(write: TypeWrite) -> NewCredentialType {
    NewCredentialType {
        name: write.name,
        description: write.description,
        kind: write.kind,
        inputs: write.inputs.to_string(),
        injectors: write.injectors.to_string(),
    }
}

/// The fields the activity stream records for a custom type.
fn recorded(t: &TypeWrite) -> Map<String, Value> {
    let (inputs, injectors) = (python_json(&t.inputs), python_json(&t.injectors));
    credential_type_fields(
        &t.name,
        &t.description,
        &t.kind,
        Some((&inputs, &injectors)),
    )
}

fn current_write(t: &CredentialTypeRow) -> Result<TypeWrite> {
    Ok(TypeWrite {
        name: t.name.clone(),
        description: t.description.clone(),
        kind: t.kind.clone(),
        inputs: t.inputs_json()?,
        injectors: t.injectors_json()?,
    })
}
