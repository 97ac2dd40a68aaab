//! Credential type use cases: everyone reads, superusers write custom types; managed
//! types and types in use are protected.

use super::lists::{page_of, PageRequest, QueryPairs};
use super::named::resolve;
use super::related::People;
use super::{Context, Error, Result};
use crate::domain::activity::{credential_type_fields, python_json, ActivityRecord};
use crate::domain::credential_type::{validate_type_write, TypeWrite};
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::Caller;
use crate::domain::resource::CREDENTIAL_TYPE;
use crate::store::{CredentialTypeRow, NewCredentialType, Page, Scope};
use serde_json::{Map, Value};

/// Credential types with the users their `created_by`/`modified_by` name.
pub struct CredentialTypes {
    pub rows: Vec<CredentialTypeRow>,
    pub people: People,
    /// Whether the caller may change and delete them (superusers).
    pub changeable: bool,
}

async fn with_people(
    ctx: &Context,
    caller: &Caller,
    rows: Vec<CredentialTypeRow>,
) -> Result<CredentialTypes> {
    let people = People::load(
        &ctx.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    Ok(CredentialTypes {
        rows,
        people,
        changeable: caller.is_superuser,
    })
}

/// A page of credential types, filtered and ordered by the query.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, CredentialTypes)> {
    let (page, req) = page_of(ctx, &CREDENTIAL_TYPE, &Scope::All, q).await?;
    let rows = ctx.store.credential_types_by_ids(&page.ids).await?;
    Ok((page, req, with_people(ctx, caller, rows).await?))
}

/// The type that `raw` (an id or a named URL) names.
pub async fn get(ctx: &Context, raw: &str) -> Result<CredentialTypeRow> {
    let id = resolve(ctx, NamedKind::CredentialType, raw, "CredentialType")
        .await?
        .id;
    by_id(ctx, id).await
}

/// The type with this id.
pub async fn by_id(ctx: &Context, id: i64) -> Result<CredentialTypeRow> {
    ctx.store
        .credential_type(id)
        .await?
        .ok_or(Error::NotFound("CredentialType"))
}

/// A type just written, for the answer to its write.
pub async fn written(ctx: &Context, caller: &Caller, id: i64) -> Result<CredentialTypes> {
    let row = by_id(ctx, id).await?;
    with_people(ctx, caller, vec![row]).await
}

/// One type for its detail answer.
pub async fn detail(ctx: &Context, caller: &Caller, raw: &str) -> Result<CredentialTypes> {
    let row = get(ctx, raw).await?;
    with_people(ctx, caller, vec![row]).await
}

/// Creates a custom type (superusers); returns its id.
pub async fn create(ctx: &Context, caller: &Caller, body: &Map<String, Value>) -> Result<i64> {
    if !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    let write = validate_type_write(body, None, false, false)?;
    let record = ActivityRecord::create(Some(caller.user_id), "credential_type", recorded(&write));
    Ok(ctx
        .store
        .create_credential_type(&stored(write), caller.user_id, &record)
        .await?)
}

/// Replaces (`partial` false) or updates a custom type; returns its id.
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
    partial: bool,
) -> Result<i64> {
    let t = get(ctx, raw).await?;
    if !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    if t.managed {
        return Err(Error::Forbidden(Some(
            "Modifications not allowed for managed credential types".into(),
        )));
    }
    let in_use = ctx.store.credential_type_in_use(t.id).await?;
    let current = current_write(&t)?;
    let write = validate_type_write(body, Some(&current), partial, in_use)?;
    let record = ActivityRecord::update(
        Some(caller.user_id),
        "credential_type",
        t.id,
        &recorded(&current),
        &recorded(&write),
    );
    ctx.store
        .update_credential_type(t.id, &stored(write), caller.user_id, record.as_ref())
        .await?;
    Ok(t.id)
}

/// Deletes a custom type that no credential uses.
pub async fn delete(ctx: &Context, caller: &Caller, raw: &str) -> Result<()> {
    let t = get(ctx, raw).await?;
    if !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    if t.managed {
        return Err(Error::Forbidden(Some(
            "Deletion not allowed for managed credential types".into(),
        )));
    }
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
    ctx.store.delete_credential_type(t.id, &record).await?;
    Ok(())
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
