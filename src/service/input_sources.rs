//! Input source use cases: links from one input field of a credential (the target) to an
//! external lookup credential (the source). Reading one needs read access to its target;
//! writing one needs admin on the target and use on the source (on both the old and the
//! new ends of an update).

use super::credentials::{get as get_credential, level_on};
use super::lists::{page_of, PageRequest, QueryPairs};
use super::related::People;
use super::{Context, Error, Result};
use crate::domain::activity::{input_source_fields, ActivityRecord};
use crate::domain::errors::FieldErrors;
use crate::domain::input_source::{parse_body, validate_link, CurrentSource, LinkEnds};
use crate::domain::pk::does_not_exist;
use crate::domain::rbac::{Caller, Level};
use crate::domain::resource::INPUT_SOURCE;
use crate::store::{CredentialRow, InputSourceRow, InputSourceWrite, Page, Scope};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const MODEL: &str = "CredentialInputSource";

/// Input sources with what their representations show.
pub struct InputSources {
    pub rows: Vec<InputSourceRow>,
    pub people: People,
    /// The credentials at either end, by id.
    pub credentials: HashMap<i64, CredentialRow>,
    /// Whether the caller administers each row's target (and so may delete the row).
    pub deletable: HashMap<i64, bool>,
}

async fn load(ctx: &Context, caller: &Caller, rows: Vec<InputSourceRow>) -> Result<InputSources> {
    let people = People::load(
        &ctx.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let mut ends: Vec<i64> = rows
        .iter()
        .flat_map(|r| [r.source_credential_id, r.target_credential_id])
        .collect();
    ends.sort_unstable();
    ends.dedup();
    let credentials = ctx
        .store
        .credentials_by_ids(&ends)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut deletable = HashMap::new();
    for r in &rows {
        let admin = level_on(ctx, caller, r.target_credential_id).await? >= Level::Admin;
        deletable.insert(r.id, admin);
    }
    Ok(InputSources {
        rows,
        people,
        credentials,
        deletable,
    })
}

/// A page of the input sources whose target the caller may read.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    within: Scope,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, InputSources)> {
    let (page, req) = page_of(
        ctx,
        &INPUT_SOURCE,
        &within.and(super::lists::readable(caller)),
        q,
    )
    .await?;
    let rows = ctx.store.input_sources_by_ids(&page.ids).await?;
    Ok((page, req, load(ctx, caller, rows).await?))
}

/// The input sources of the credential `raw` names.
pub async fn list_of_credential(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, InputSources)> {
    let (cred, _) = get_credential(ctx, caller, raw).await?;
    list(ctx, caller, Scope::FillingCredential(cred.id), q).await
}

/// One input source whose target the caller can read.
pub async fn get(ctx: &Context, caller: &Caller, id: i64) -> Result<InputSourceRow> {
    let row = ctx
        .store
        .input_source(id)
        .await?
        .ok_or(Error::NotFound(MODEL))?;
    if level_on(ctx, caller, row.target_credential_id).await? == Level::None {
        return Err(Error::Forbidden(None));
    }
    Ok(row)
}

/// One input source for its answer.
pub async fn detail(ctx: &Context, caller: &Caller, id: i64) -> Result<InputSources> {
    let row = get(ctx, caller, id).await?;
    load(ctx, caller, vec![row]).await
}

/// Creates an input source from a body; returns its id.
pub async fn create(ctx: &Context, caller: &Caller, body: &Map<String, Value>) -> Result<i64> {
    save(ctx, caller, body, None).await
}

/// Creates an input source of the credential `raw` names (the target comes from the URL).
pub async fn create_for_credential(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    mut body: Map<String, Value>,
) -> Result<i64> {
    let (cred, _) = get_credential(ctx, caller, raw).await?;
    body.insert("target_credential".into(), json!(cred.id));
    save(ctx, caller, &body, None).await
}

/// Replaces (`partial` false) or updates an input source; returns its id.
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    id: i64,
    mut body: Map<String, Value>,
    partial: bool,
) -> Result<i64> {
    let row = get(ctx, caller, id).await?;
    if !partial {
        // PUT names every required field; omitted optional ones fall back to defaults.
        parse_body(&body, None)?;
        body.entry("description").or_insert(json!(""));
        body.entry("metadata").or_insert(json!({}));
    }
    save(ctx, caller, &body, Some(&row)).await
}

/// Deletes an input source (admins of its target).
pub async fn delete(ctx: &Context, caller: &Caller, id: i64) -> Result<()> {
    let row = get(ctx, caller, id).await?;
    if level_on(ctx, caller, row.target_credential_id).await? < Level::Admin {
        return Err(Error::Forbidden(None));
    }
    let current = current_of(&row)?;
    let fields = recorded(
        current.target,
        current.source,
        &current.input_field_name,
        &current.description,
        &Value::Object(current.metadata),
    );
    let record = ActivityRecord::delete(Some(caller.user_id), KIND, row.id, fields)
        .linked("credential", row.target_credential_id)
        .linked("credential", row.source_credential_id);
    ctx.store.delete_input_source(row.id, &record).await?;
    Ok(())
}

async fn credential_or_invalid(
    ctx: &Context,
    errors: &mut FieldErrors,
    field: &str,
    id: Option<i64>,
) -> Result<Option<CredentialRow>> {
    let Some(id) = id else { return Ok(None) };
    let row = ctx.store.credential(id).await?;
    if row.is_none() {
        errors.add(field, does_not_exist(id));
    }
    Ok(row)
}

fn current_of(row: &InputSourceRow) -> Result<CurrentSource> {
    Ok(CurrentSource {
        input_field_name: row.input_field_name.clone(),
        target: row.target_credential_id,
        source: row.source_credential_id,
        metadata: row.metadata_json()?,
        description: row.description.clone(),
    })
}

/// Validates and writes a create (`current = None`) or an update.
async fn save(
    ctx: &Context,
    caller: &Caller,
    body: &Map<String, Value>,
    current: Option<&InputSourceRow>,
) -> Result<i64> {
    let stored = current.map(current_of).transpose()?;
    let parsed = parse_body(body, stored.as_ref())?;
    let mut errors = FieldErrors::new();
    let target =
        credential_or_invalid(ctx, &mut errors, "target_credential", parsed.target).await?;
    let source =
        credential_or_invalid(ctx, &mut errors, "source_credential", parsed.source).await?;
    errors.into_result()?;
    let (Some(target), Some(source), Some(field_name)) = (target, source, parsed.field_name) else {
        return Err(Error::Internal(
            "input source parsing left a field unset".into(),
        ));
    };
    let mut needed = vec![(target.id, Level::Admin), (source.id, Level::Use)];
    if let Some(c) = current {
        needed.push((c.target_credential_id, Level::Admin));
        needed.push((c.source_credential_id, Level::Use));
    }
    for (cred, level) in needed {
        if level_on(ctx, caller, cred).await? < level {
            return Err(Error::Forbidden(None));
        }
    }
    check_link(ctx, &target, &source, &field_name, &parsed.metadata).await?;
    let after = recorded(
        target.id,
        source.id,
        &field_name,
        &parsed.description,
        &parsed.metadata,
    );
    let write = InputSourceWrite {
        target_credential_id: target.id,
        source_credential_id: source.id,
        input_field_name: field_name,
        metadata: parsed.metadata.to_string(),
        description: parsed.description,
    };
    let actor = Some(caller.user_id);
    let linked = |r: ActivityRecord| {
        r.linked("credential", target.id)
            .linked("credential", source.id)
    };
    match (current, stored) {
        (Some(c), Some(before)) => {
            let before = recorded(
                before.target,
                before.source,
                &before.input_field_name,
                &before.description,
                &Value::Object(before.metadata),
            );
            let record = ActivityRecord::update(actor, KIND, c.id, &before, &after).map(linked);
            ctx.store
                .update_input_source(c.id, &write, caller.user_id, record.as_ref())
                .await?;
            Ok(c.id)
        }
        _ => {
            let record = linked(ActivityRecord::create(actor, KIND, after));
            Ok(ctx
                .store
                .create_input_source(&write, caller.user_id, &record)
                .await?)
        }
    }
}

/// The content type activity entries name input sources by.
const KIND: &str = "credential_input_source";

/// The fields the activity stream records for an input source.
fn recorded(
    target: i64,
    source: i64,
    field_name: &str,
    description: &str,
    metadata: &Value,
) -> Map<String, Value> {
    let mut fields = input_source_fields(field_name, target, source, description);
    fields.insert("metadata".into(), metadata.clone());
    fields
}

/// The link rules of `domain::input_source`, given both ends' types.
async fn check_link(
    ctx: &Context,
    target: &CredentialRow,
    source: &CredentialRow,
    field_name: &str,
    metadata: &Value,
) -> Result<()> {
    let type_of = |id: i64| async move {
        ctx.store
            .credential_type(id)
            .await?
            .ok_or(Error::NotFound("CredentialType"))
    };
    let target_type = type_of(target.credential_type_id).await?;
    let source_type = type_of(source.credential_type_id).await?;
    let target_schema = ctx.schemas.schema(&target_type)?;
    let source_inputs = source_type.inputs_json()?;
    let ends = LinkEnds {
        target_kind: &target_type.kind,
        target_schema: &target_schema,
        source_kind: &source_type.kind,
        source_type_name: &source_type.name,
        source_inputs: &source_inputs,
    };
    validate_link(&ends, field_name, metadata)?;
    Ok(())
}
