//! `/api/v2/credential_input_sources/` and `/api/v2/credentials/{id}/input_sources/`:
//! links from one input field of a credential to an external lookup credential.

use super::auth::Auth;
use super::credentials::level_on;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::render::People;
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::credential::{parse_pk, PkValue};
use crate::domain::credential_type::optional_string;
use crate::domain::errors::FieldErrors;
use crate::domain::input_source::{validate_link, LinkEnds};
use crate::domain::rbac::{Caller, Level};
use crate::domain::resource::INPUT_SOURCE;
use crate::store::sql::{and_all, Bind, Sql};
use crate::store::{CredentialRow, InputSourceRow, InputSourceWrite};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credential_input_sources/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_input_sources/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/input_sources/",
            get(credential_list)
                .post(credential_create)
                .fallback(method_not_allowed),
        )
}

const MODEL: &str = "CredentialInputSource";

/// Input sources whose target the caller may read.
fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        Sql::raw("1=1")
    } else {
        crate::store::readable_sql(
            "credential_input_sources.target_credential_id",
            "credential",
            caller.user_id,
        )
    }
}

fn credential_summary(c: &CredentialRow) -> Value {
    json!({"id": c.id, "name": c.name, "description": c.description, "kind": c.type_namespace,
           "cloud": c.type_kind == "cloud", "credential_type_id": c.credential_type_id})
}

async fn render_many(
    state: &AppState,
    caller: &Caller,
    rows: &[InputSourceRow],
) -> ApiResult<Vec<Value>> {
    let people = People::load(
        &state.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let cred_ids = [r.source_credential_id, r.target_credential_id];
        let creds = state.store.credentials_by_ids(&cred_ids).await?;
        let mut related = Map::new();
        let mut summary = Map::new();
        for (key, id) in [("created_by", r.created_by), ("modified_by", r.modified_by)] {
            if let Some(s) = people.summary(id) {
                related.insert(key.into(), json!(format!("/api/v2/users/{}/", s["id"])));
                summary.insert(key.into(), s);
            }
        }
        related.insert(
            "source_credential".into(),
            json!(format!("/api/v2/credentials/{}/", r.source_credential_id)),
        );
        related.insert(
            "target_credential".into(),
            json!(format!("/api/v2/credentials/{}/", r.target_credential_id)),
        );
        let mut ordered = Map::new();
        for (key, id) in [
            ("source_credential", r.source_credential_id),
            ("target_credential", r.target_credential_id),
        ] {
            if let Some(c) = creds.iter().find(|c| c.id == id) {
                ordered.insert(key.into(), credential_summary(c));
            }
        }
        ordered.extend(summary);
        let admin = level_on(state, caller, r.target_credential_id).await? >= Level::Admin;
        ordered.insert("user_capabilities".into(), json!({"delete": admin}));
        let metadata: Value = serde_json::from_str(&r.metadata).unwrap_or_else(|_| json!({}));
        out.push(json!({
            "id": r.id, "type": "credential_input_source", "url": format!("/api/v2/credential_input_sources/{}/", r.id),
            "related": related, "summary_fields": ordered, "created": r.created, "modified": r.modified,
            "description": r.description, "input_field_name": r.input_field_name, "metadata": metadata,
            "target_credential": r.target_credential_id, "source_credential": r.source_credential_id,
        }));
    }
    Ok(out)
}

async fn list_sources(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let scope = and_all(vec![scope, visibility(caller)]);
    let (page, req) = list_ids(state, &INPUT_SOURCE, scope, q).await?;
    let rows = state.store.input_sources_by_ids(&page.ids).await?;
    let results = render_many(state, caller, &rows).await?;
    Ok(page_response(path, q, &page, &req, results))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    list_sources(&state, &caller, uri.path(), &q, Sql::raw("1=1")).await
}

async fn credential_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (cred, _) = super::credentials::load(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "credential_input_sources.target_credential_id = ?",
        vec![Bind::Int(cred.id)],
    );
    list_sources(&state, &caller, uri.path(), &q, scope).await
}

/// Loads an input source whose target the caller can read.
async fn load(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<InputSourceRow> {
    let row = state
        .store
        .input_source(parse_id(raw, MODEL)?)
        .await?
        .ok_or(ApiError::NotFound(MODEL))?;
    if level_on(state, caller, row.target_credential_id).await? == Level::None {
        return Err(ApiError::Forbidden(None));
    }
    Ok(row)
}

async fn render_one(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Value> {
    let row = state
        .store
        .input_source(id)
        .await?
        .ok_or(ApiError::NotFound(MODEL))?;
    render_many(state, caller, &[row])
        .await?
        .pop()
        .ok_or(ApiError::NotFound(MODEL))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = load(&state, &caller, &id).await?;
    Ok(Json(render_one(&state, &caller, row.id).await?))
}

/// A parsed input-source body; `None` marks a field that failed (and was reported).
struct ParsedSource {
    field_name: Option<String>,
    target: Option<i64>,
    source: Option<i64>,
    metadata: Value,
    description: String,
}

/// Reads the body over the current values (`None` on create; PATCH keeps what is absent).
fn parse_body(
    body: &Map<String, Value>,
    current: Option<&InputSourceRow>,
) -> ApiResult<ParsedSource> {
    let mut errors = FieldErrors::new();
    let field_name = match (body.get("input_field_name"), current) {
        (None, Some(c)) => Some(c.input_field_name.clone()),
        (None, None) | (Some(Value::Null), _) => {
            errors.add(
                "input_field_name",
                if body.contains_key("input_field_name") {
                    "This field may not be null."
                } else {
                    "This field is required."
                },
            );
            None
        }
        (Some(Value::String(s)), _) if s.trim().is_empty() => {
            errors.add("input_field_name", "This field may not be blank.");
            None
        }
        (Some(Value::String(s)), _) if s.chars().count() > 1024 => {
            errors.add(
                "input_field_name",
                "Ensure this field has no more than 1024 characters.",
            );
            None
        }
        (Some(Value::String(s)), _) => Some(s.clone()),
        (Some(_), _) => {
            errors.add("input_field_name", "Not a valid string.");
            None
        }
    };
    let mut pk = |key: &str, current: Option<i64>| -> Option<i64> {
        match (body.get(key), current) {
            (None, Some(c)) => Some(c),
            (None, None) => {
                errors.add(key, "This field is required.");
                None
            }
            (Some(v), _) => match parse_pk(&mut errors, key, Some(v)) {
                PkValue::Id(id) => Some(id),
                PkValue::None => {
                    if !errors.has(key) {
                        errors.add(key, "This field may not be null.");
                    }
                    None
                }
            },
        }
    };
    let target = pk("target_credential", current.map(|c| c.target_credential_id));
    let source = pk("source_credential", current.map(|c| c.source_credential_id));
    let metadata = match (body.get("metadata"), current) {
        (None, Some(c)) => serde_json::from_str(&c.metadata).unwrap_or_else(|_| json!({})),
        (None, None) => json!({}),
        (Some(Value::Null), _) => {
            errors.add("metadata", "This field may not be null.");
            json!({})
        }
        (Some(v), _) => v.clone(),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    errors.into_result()?;
    Ok(ParsedSource {
        field_name,
        target,
        source,
        metadata,
        description,
    })
}

async fn credential_or_invalid(
    state: &AppState,
    errors: &mut FieldErrors,
    field: &str,
    id: Option<i64>,
) -> ApiResult<Option<CredentialRow>> {
    let Some(id) = id else { return Ok(None) };
    let row = state.store.credential(id).await?;
    if row.is_none() {
        errors.add(
            field,
            format!("Invalid pk \"{id}\" - object does not exist."),
        );
    }
    Ok(row)
}

/// Validates and writes a create (`current = None`) or an update.
async fn save(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Value>,
    current: Option<&InputSourceRow>,
) -> ApiResult<i64> {
    let ParsedSource {
        field_name,
        target,
        source,
        metadata,
        description,
    } = parse_body(body, current)?;
    let mut errors = FieldErrors::new();
    let target = credential_or_invalid(state, &mut errors, "target_credential", target).await?;
    let source = credential_or_invalid(state, &mut errors, "source_credential", source).await?;
    errors.into_result()?;
    let (Some(target), Some(source), Some(field_name)) = (target, source, field_name) else {
        return Err(ApiError::Internal(
            "input source parsing left a field unset".into(),
        ));
    };
    let mut needed = vec![(target.id, Level::Admin), (source.id, Level::Use)];
    if let Some(c) = current {
        needed.push((c.target_credential_id, Level::Admin));
        needed.push((c.source_credential_id, Level::Use));
    }
    for (cred, level) in needed {
        if level_on(state, caller, cred).await? < level {
            return Err(ApiError::Forbidden(None));
        }
    }
    let target_type = state
        .store
        .credential_type(target.credential_type_id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))?;
    let source_type = state
        .store
        .credential_type(source.credential_type_id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))?;
    let target_schema = state.schemas.schema(&target_type.inputs);
    let source_inputs: Value = serde_json::from_str(&source_type.inputs).unwrap_or_default();
    let ends = LinkEnds {
        target_kind: &target_type.kind,
        target_schema: &target_schema,
        source_kind: &source_type.kind,
        source_type_name: &source_type.name,
        source_inputs: &source_inputs,
    };
    validate_link(&ends, &field_name, &metadata)?;
    let write = InputSourceWrite {
        target_credential_id: target.id,
        source_credential_id: source.id,
        input_field_name: field_name,
        metadata: metadata.to_string(),
        description,
    };
    match current {
        None => Ok(state
            .store
            .create_input_source(&write, caller.user_id)
            .await?),
        Some(c) => {
            state
                .store
                .update_input_source(c.id, &write, caller.user_id)
                .await?;
            Ok(c.id)
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = save(&state, &caller, &body, None).await?;
    Ok(created(
        &format!("/api/v2/credential_input_sources/{id}/"),
        render_one(&state, &caller, id).await?,
    ))
}

/// The target comes from the URL.
async fn credential_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> ApiResult<Response> {
    let (cred, _) = super::credentials::load(&state, &caller, &id).await?;
    body.insert("target_credential".into(), json!(cred.id));
    let id = save(&state, &caller, &body, None).await?;
    Ok(created(
        &format!("/api/v2/credential_input_sources/{id}/"),
        render_one(&state, &caller, id).await?,
    ))
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    mut body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let row = load(&state, &caller, id).await?;
    if !partial {
        // PUT names every required field; omitted optional ones fall back to defaults.
        parse_body(&body, None)?;
        body.entry("description").or_insert(json!(""));
        body.entry("metadata").or_insert(json!({}));
    }
    let id = save(&state, &caller, &body, Some(&row)).await?;
    Ok(Json(render_one(&state, &caller, id).await?))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body, false).await
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body, true).await
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let row = load(&state, &caller, &id).await?;
    if level_on(&state, &caller, row.target_credential_id).await? < Level::Admin {
        return Err(ApiError::Forbidden(None));
    }
    state
        .store
        .delete_input_source(&row, caller.user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
