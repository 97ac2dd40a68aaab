//! External lookups from the pages: linking a credential's field to a secret manager (pick
//! the source credential, fill the metadata form generated from its type's `metadata`,
//! test, link), unlinking, and testing an external credential itself.

use super::form::{input_fields, Fields, FormErrors, InputField};
use super::{error_page, first_rows, render, Posted, Viewer};
use crate::http::AppState;
use crate::service::lists::QueryPairs;
use crate::service::{credential_types, credentials, input_sources, lookups};
use crate::store::Scope;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/credentials/{id}/sources/new/",
            get(new_source).post(save_source),
        )
        .route(
            "/credentials/{id}/sources/{source}/delete/",
            post(delete_source),
        )
        .route("/credentials/{id}/test/", get(test_form).post(test))
}

/// The fields of a lookup type's `metadata`, as a generated form shows them.
fn metadata_fields(type_inputs: &Value) -> Vec<InputField> {
    input_fields(&json!({
        "fields": type_inputs.get("metadata").cloned().unwrap_or(json!([])),
        "required": type_inputs.get("required").cloned().unwrap_or(json!([])),
    }))
}

/// The metadata a form posted (`meta.<id>`), empty values left out.
fn metadata_from(form: &Fields, fields: &[InputField]) -> Value {
    let mut out = Map::new();
    for f in fields {
        let name = format!("meta.{}", f.id);
        if f.control == "checkbox" {
            out.insert(f.id.clone(), Value::Bool(form.get(&name).is_some()));
        } else if let Some(value) = form.text(&name) {
            out.insert(f.id.clone(), Value::from(value));
        }
    }
    Value::Object(out)
}

/// The posted metadata values to show again (metadata is never secret).
fn posted_values(form: &Fields, fields: &[InputField]) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| {
            let name = format!("meta.{}", f.id);
            (
                name.clone(),
                Value::from(form.get(&name).unwrap_or_default()),
            )
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
struct SourceChoice {
    input_field_name: Option<String>,
    source_credential: Option<i64>,
}

/// What the link form needs: the target's fields, the external credentials the viewer
/// may use, and the chosen source's metadata fields.
struct LinkPage {
    target: Value,
    target_fields: Vec<InputField>,
    sources: Vec<Value>,
    chosen_field: String,
    chosen_source: Option<i64>,
    metadata: Vec<InputField>,
}

async fn link_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    choice: &SourceChoice,
) -> Result<LinkPage, Response> {
    let ctx = &state.ctx;
    let (target, _) = credentials::get(ctx, &viewer.caller, id)
        .await
        .map_err(|e| error_page(viewer, e))?;
    let target_type = credential_types::by_id(ctx, target.credential_type_id)
        .await
        .map_err(|e| error_page(viewer, e))?;
    let mut q = first_rows("name");
    q.0.push(("credential_type__kind".into(), "external".into()));
    let (_, _, external) = credentials::list(ctx, &viewer.caller, Scope::All, &q)
        .await
        .map_err(|e| error_page(viewer, e))?;
    let sources = external
        .rows
        .iter()
        .map(|c| json!({"id": c.id, "name": c.name, "type_name": c.type_name}))
        .collect();
    let mut metadata = Vec::new();
    if let Some(source) = choice.source_credential {
        if let Some(row) = external.rows.iter().find(|c| c.id == source) {
            let ty = credential_types::by_id(ctx, row.credential_type_id)
                .await
                .map_err(|e| error_page(viewer, e))?;
            metadata = metadata_fields(&ty.inputs_json().unwrap_or_default());
        }
    }
    Ok(LinkPage {
        target: json!({"id": target.id, "name": target.name}),
        target_fields: input_fields(&target_type.inputs_json().unwrap_or_default()),
        sources,
        chosen_field: choice.input_field_name.clone().unwrap_or_default(),
        chosen_source: choice.source_credential,
        metadata,
    })
}

fn show_link(
    viewer: &Viewer,
    status: StatusCode,
    page: LinkPage,
    values: Map<String, Value>,
    errors: FormErrors,
    outcome: Option<(bool, String)>,
) -> Response {
    render(
        status,
        "source_form.html",
        context! {
            frame => viewer.frame(),
            target => page.target,
            target_fields => page.target_fields,
            sources => page.sources,
            chosen_field => page.chosen_field,
            chosen_source => page.chosen_source,
            metadata => page.metadata,
            values => values,
            errors => errors,
            outcome => outcome.map(|(ok, message)| json!({"ok": ok, "message": message})),
        },
    )
}

async fn new_source(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(choice): Query<SourceChoice>,
) -> Response {
    match link_page(&state, &viewer, &id, &choice).await {
        Ok(page) => show_link(
            &viewer,
            StatusCode::OK,
            page,
            Map::new(),
            FormErrors::default(),
            None,
        ),
        Err(refused) => refused,
    }
}

/// A lookup test's answer as a sentence and whether it succeeded.
fn outcome_of(outcome: lookups::Outcome) -> (bool, String) {
    match outcome {
        Ok(()) => (true, "The lookup answered.".into()),
        Err(e) => (false, e.to_string()),
    }
}

/// Tests the chosen lookup with the metadata (`action=test`) or links it.
async fn save_source(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let choice = SourceChoice {
        input_field_name: form.text("input_field_name").map(String::from),
        source_credential: form.text("source_credential").and_then(|s| s.parse().ok()),
    };
    let page = match link_page(&state, &viewer, &id, &choice).await {
        Ok(page) => page,
        Err(refused) => return refused,
    };
    let metadata = metadata_from(&form, &page.metadata);
    let values = posted_values(&form, &page.metadata);
    let ctx = &state.ctx;
    if form.get("action") == Some("test") {
        let Some(source) = choice.source_credential else {
            return show_link(
                &viewer,
                StatusCode::BAD_REQUEST,
                page,
                values,
                FormErrors::default(),
                None,
            );
        };
        let body = json!({"metadata": metadata});
        let body = body.as_object().cloned().unwrap_or_default();
        return match lookups::test_credential(ctx, &viewer.caller, &source.to_string(), &body).await
        {
            Ok(outcome) => show_link(
                &viewer,
                StatusCode::OK,
                page,
                values,
                FormErrors::default(),
                Some(outcome_of(outcome)),
            ),
            Err(e) => error_page(&viewer, e),
        };
    }
    let body = json!({
        "input_field_name": choice.input_field_name.clone().unwrap_or_default(),
        "source_credential": choice.source_credential,
        "metadata": metadata,
    });
    let body = body.as_object().cloned().unwrap_or_default();
    match input_sources::create_for_credential(ctx, &viewer.caller, &id, body).await {
        Ok(_) => Redirect::to(&format!("/credentials/{id}/#sources")).into_response(),
        Err(crate::service::Error::Validation(v)) | Err(crate::service::Error::BadRequest(v)) => {
            let errors = metadata_errors(&v);
            show_link(&viewer, StatusCode::BAD_REQUEST, page, values, errors, None)
        }
        Err(e) => error_page(&viewer, e),
    }
}

/// The API's errors for an input source, placed beside the form's fields (`metadata`
/// errors by metadata field).
fn metadata_errors(v: &Value) -> FormErrors {
    let mut errors = FormErrors::from_answer(v);
    if let Some(Value::Object(inner)) = v.get("metadata") {
        errors.fields.remove("metadata");
        for (id, messages) in inner {
            let text = FormErrors::from_answer(&json!({ "m": messages }));
            errors.fields.insert(
                format!("meta.{id}"),
                text.fields.get("m").cloned().unwrap_or_default(),
            );
        }
    }
    errors
}

async fn delete_source(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, source)): Path<(String, i64)>,
    _checked: Posted,
) -> Response {
    match input_sources::delete(&state.ctx, &viewer.caller, source).await {
        Ok(()) => Redirect::to(&format!("/credentials/{id}/#sources")).into_response(),
        Err(e) => error_page(&viewer, e),
    }
}

/// The metadata form of an external credential's own test.
async fn test_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<(Value, Vec<InputField>), Response> {
    let (cred, _) = credentials::get(&state.ctx, &viewer.caller, id)
        .await
        .map_err(|e| error_page(viewer, e))?;
    let ty = credential_types::by_id(&state.ctx, cred.credential_type_id)
        .await
        .map_err(|e| error_page(viewer, e))?;
    Ok((
        json!({"id": cred.id, "name": cred.name}),
        metadata_fields(&ty.inputs_json().unwrap_or_default()),
    ))
}

fn show_test(
    viewer: &Viewer,
    credential: Value,
    metadata: Vec<InputField>,
    values: Map<String, Value>,
    outcome: Option<(bool, String)>,
) -> Response {
    render(
        StatusCode::OK,
        "test_form.html",
        context! {
            frame => viewer.frame(),
            credential => credential,
            metadata => metadata,
            values => values,
            errors => FormErrors::default(),
            outcome => outcome.map(|(ok, message)| json!({"ok": ok, "message": message})),
        },
    )
}

async fn test_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    match test_page(&state, &viewer, &id).await {
        Ok((credential, metadata)) => show_test(&viewer, credential, metadata, Map::new(), None),
        Err(refused) => refused,
    }
}

async fn test(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let (credential, metadata) = match test_page(&state, &viewer, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let body = json!({"metadata": metadata_from(&form, &metadata)});
    let body = body.as_object().cloned().unwrap_or_default();
    let values = posted_values(&form, &metadata);
    match lookups::test_credential(&state.ctx, &viewer.caller, &id, &body).await {
        Ok(outcome) => show_test(
            &viewer,
            credential,
            metadata,
            values,
            Some(outcome_of(outcome)),
        ),
        Err(e) => error_page(&viewer, e),
    }
}

/// An input source's metadata (JSON text, never secret) as `key: value` pairs.
fn lookup_summary(metadata: &str) -> String {
    let parsed: Map<String, Value> = serde_json::from_str(metadata).unwrap_or_default();
    parsed
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The input sources of a credential for its page: field, source and metadata.
pub(super) async fn sources_of(state: &AppState, viewer: &Viewer, id: &str) -> Vec<Value> {
    let q = QueryPairs(vec![("page_size".into(), "50".into())]);
    let Ok((_, _, found)) =
        input_sources::list_of_credential(&state.ctx, &viewer.caller, id, &q).await
    else {
        return Vec::new();
    };
    found
        .rows
        .iter()
        .map(|s| {
            let source = found.credentials.get(&s.source_credential_id);
            json!({
                "id": s.id,
                "input_field_name": s.input_field_name,
                "source_id": s.source_credential_id,
                "source_name": source.map(|c| c.name.clone()),
                "metadata": lookup_summary(&s.metadata),
                "deletable": found.deletable.get(&s.id).copied().unwrap_or(false),
            })
        })
        .collect()
}
