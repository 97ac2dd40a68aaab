//! Using credentials: render one or several for a job (`domain::injection`), with the
//! `use` role on each, external input sources fetched now, and an activity entry per
//! credential (operation `use`: who, the purpose, the client address; never a value).

use super::resolve::{effective_values, ResolveError};
use super::{credential_types, credentials, Context, Error, Result};
use crate::domain::activity::ActivityRecord;
use crate::domain::errors::FieldErrors;
use crate::domain::injection::{self, check_distinct, InputValues, Rendered, Slot, Subject};
use crate::domain::pk::does_not_exist;
use crate::domain::rbac::{Caller, Level};
use crate::store::{CredentialRow, CredentialTypeRow};
use serde_json::{json, Map, Value};

/// The longest purpose kept in the audit trail.
const PURPOSE_LIMIT: usize = 1024;

/// What the caller asks for, besides the credentials.
#[derive(Debug, Default)]
pub struct Request {
    /// Shown in the audit trail.
    pub purpose: String,
    /// The job's own extra vars; the credentials' are laid over them.
    pub extra_vars: Map<String, Value>,
    /// Where the request came from, for the audit trail.
    pub client: Option<String>,
}

impl Request {
    /// Reads `purpose` and `extra_vars` from a request body (both optional; `extra_vars`
    /// may be an object or JSON text of one, as AWX's launch takes it).
    pub fn from_body(body: &Map<String, Value>, client: Option<String>) -> Result<Self> {
        let mut errors = FieldErrors::default();
        let purpose = match body.get("purpose") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) if s.chars().count() <= PURPOSE_LIMIT => s.clone(),
            Some(Value::String(_)) => {
                errors.add(
                    "purpose",
                    format!("Ensure this field has no more than {PURPOSE_LIMIT} characters."),
                );
                String::new()
            }
            Some(_) => {
                errors.add("purpose", "Not a valid string.");
                String::new()
            }
        };
        let extra_vars = match body.get("extra_vars") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(Value::String(text)) if text.trim().is_empty() => Map::new(),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                _ => {
                    errors.add("extra_vars", "Must be a valid JSON object.");
                    Map::new()
                }
            },
            Some(_) => {
                errors.add("extra_vars", "Must be a valid JSON object.");
                Map::new()
            }
        };
        errors.into_result()?;
        Ok(Request {
            purpose,
            extra_vars,
            client,
        })
    }
}

/// One rendered credential, as the answer names it.
#[derive(Debug, Clone)]
pub struct Used {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub type_id: i64,
    pub type_name: String,
}

/// A render's outcome: the job's view and the credentials it came from.
#[derive(Debug)]
pub struct Outcome {
    pub rendered: Rendered,
    pub credentials: Vec<Used>,
}

/// A credential the caller may use, with its type.
struct Usable {
    row: CredentialRow,
    ty: CredentialTypeRow,
}

/// The credential `raw` names, if the caller holds its `use` role (or more): 404 when it
/// cannot be read (where a read answers 403, a render says nothing of what exists), 403
/// when it can only be read.
async fn usable(ctx: &Context, caller: &Caller, raw: &str) -> Result<Usable> {
    let (row, level) = match credentials::get(ctx, caller, raw).await {
        Err(Error::Forbidden(_) | Error::Hidden) => return Err(Error::NotFound("Credential")),
        found => found?,
    };
    if level < Level::Use {
        return Err(Error::Forbidden(Some(
            "You do not have permission to use this credential.".into(),
        )));
    }
    let ty = credential_types::by_id(ctx, row.credential_type_id).await?;
    Ok(Usable { row, ty })
}

/// Renders the credential `raw` names.
pub async fn render_one(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    request: Request,
) -> Result<Outcome> {
    let usable = vec![usable(ctx, caller, raw).await?];
    render(ctx, caller, usable, request).await
}

/// Renders several credentials for one job (`{"credentials": [ids]}`), refusing two
/// that a job cannot take together with AWX's launch message.
pub async fn render_many(
    ctx: &Context,
    caller: &Caller,
    body: &Map<String, Value>,
    request: Request,
) -> Result<Outcome> {
    let ids = credential_ids(body)?;
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        match usable(ctx, caller, &id.to_string()).await {
            Err(Error::NotFound(_) | Error::Hidden) => {
                return Err(invalid("credentials", &does_not_exist(id)))
            }
            other => found.push(other?),
        }
    }
    let vault_ids = found
        .iter()
        .map(|u| vault_id(&u.row))
        .collect::<Result<Vec<_>>>()?;
    let slots: Vec<Slot<'_>> = found
        .iter()
        .zip(&vault_ids)
        .map(|(u, vault_id)| Slot {
            type_id: u.ty.id,
            type_name: &u.ty.name,
            kind: &u.ty.kind,
            vault_id: vault_id.as_deref(),
        })
        .collect();
    if let Err(conflict) = check_distinct(&slots) {
        return Err(invalid("credentials", &conflict.to_string()));
    }
    render(ctx, caller, found, request).await
}

fn invalid(field: &str, message: &str) -> Error {
    Error::Validation(FieldErrors::one(field, message).into_json())
}

/// A Vault credential's vault id (a public input), which lets several Vaults share a job.
fn vault_id(row: &CredentialRow) -> Result<Option<String>> {
    let inputs = row.public_inputs()?;
    Ok(inputs
        .get("vault_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

/// `credentials`: a non-empty list of ids, each at most once.
fn credential_ids(body: &Map<String, Value>) -> Result<Vec<i64>> {
    let list = match body.get("credentials") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err(invalid("credentials", "This field is required."))
        }
        Some(_) => {
            return Err(invalid(
                "credentials",
                "Expected a list of items but got type \"dict\".",
            ))
        }
    };
    let mut ids = Vec::with_capacity(list.len());
    for item in list {
        let id = match item {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let Some(id) = id else {
            let got = crate::domain::python::py_type_name(item);
            return Err(invalid(
                "credentials",
                &format!("Incorrect type. Expected pk value, received {got}."),
            ));
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

async fn render(
    ctx: &Context,
    caller: &Caller,
    found: Vec<Usable>,
    request: Request,
) -> Result<Outcome> {
    let mut parts = Vec::with_capacity(found.len());
    for usable in &found {
        let values = effective_values(ctx, &usable.row)
            .await
            .map_err(lookup_failure)?;
        let rendered = render_with(ctx, usable, &values)?;
        parts.push((usable.ty.kind == "ssh", rendered));
    }
    let mut rendered = injection::merge(parts);
    let mut extra_vars = request.extra_vars;
    extra_vars.extend(std::mem::take(&mut rendered.extra_vars));
    rendered.extra_vars = extra_vars;
    let ids: Vec<i64> = found.iter().map(|u| u.row.id).collect();
    let records: Vec<ActivityRecord> = ids
        .iter()
        .map(|&id| {
            ActivityRecord::credential_use(
                caller.user_id,
                id,
                &request.purpose,
                request.client.as_deref(),
                &ids,
            )
        })
        .collect();
    ctx.store.record_activities(&records).await?;
    for usable in &found {
        let kind = crate::metrics::KindLabels {
            kind: usable.ty.kind.clone(),
        };
        crate::metrics::metrics().renders.get_or_create(&kind).inc();
    }
    Ok(Outcome {
        rendered,
        credentials: found
            .into_iter()
            .map(|u| Used {
                id: u.row.id,
                name: u.row.name,
                kind: u.ty.kind,
                type_id: u.ty.id,
                type_name: u.ty.name,
            })
            .collect(),
    })
}

fn render_with(ctx: &Context, usable: &Usable, values: &InputValues) -> Result<Rendered> {
    let schema = ctx.schemas.schema(&usable.ty)?;
    let injectors = usable.ty.injectors_json()?;
    let subject = Subject {
        id: usable.row.id,
        type_name: &usable.ty.name,
        namespace: usable.ty.namespace.as_deref(),
        managed: usable.ty.managed,
        schema: &schema,
        injectors: &injectors,
        values: &values.0,
    };
    let custom = |subject: &Subject<'_>| ctx.templates.render_custom(subject);
    injection::render(&subject, &custom).map_err(|e| Error::BadRequest(json!(e.to_string())))
}

/// A lookup that failed names the field and the backend, never a value.
fn lookup_failure(error: ResolveError) -> Error {
    match error {
        ResolveError::Service(e) => e,
        other => Error::BadRequest(json!(other.to_string())),
    }
}
