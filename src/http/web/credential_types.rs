//! Credential type pages: the list (managed types read-only), one type with its inputs and
//! injectors, and the editor of custom types, whose `inputs` and `injectors` are YAML or
//! JSON documents validated by the same use case as the API, errors shown beside them.

use super::form::{Fields, FormErrors};
use super::{after_post, error_page, first_rows, render, Posted, Viewer};
use crate::http::{render as api, AppState};
use crate::service::credential_types::{self, CredentialTypes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/credential_types/", get(list))
        .route("/credential_types/new/", get(new_form).post(create))
        .route("/credential_types/{id}/", get(detail))
        .route("/credential_types/{id}/edit/", get(edit_form).post(update))
}

/// Each type as the API shows it.
fn shown(types: &CredentialTypes) -> Result<Vec<Value>, crate::store::StoreError> {
    types
        .rows
        .iter()
        .zip(&types.changeable)
        .map(|(t, changeable)| {
            let roles = types
                .roles
                .get(&t.id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            api::credential_type(t, &types.people, roles, *changeable, true)
        })
        .collect()
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    let q = first_rows("managed,kind,name");
    let types = match credential_types::list(&state.ctx, &viewer.caller, &q).await {
        Ok((_, _, types)) => types,
        Err(e) => return error_page(&viewer, e),
    };
    match shown(&types) {
        Ok(rows) => render(
            StatusCode::OK,
            "credential_types.html",
            context! {frame => viewer.frame(), rows => rows},
        ),
        Err(e) => error_page(&viewer, e),
    }
}

/// A JSON document as the editor shows it.
fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn detail(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let types = match credential_types::detail(&state.ctx, &viewer.caller, &id).await {
        Ok(types) => types,
        Err(e) => return error_page(&viewer, e),
    };
    match shown(&types).map(|mut rows| rows.pop()) {
        Ok(Some(t)) => render(
            StatusCode::OK,
            "credential_type.html",
            context! {
                frame => viewer.frame(),
                t => t,
                inputs => pretty(&t["inputs"]),
                injectors => pretty(&t["injectors"]),
            },
        ),
        Ok(None) => error_page(&viewer, crate::service::Error::NotFound("CredentialType")),
        Err(e) => error_page(&viewer, e),
    }
}

/// The organizations a type may be given to (those the viewer sees; the use case checks
/// that it administers the one chosen); none when they cannot be listed.
async fn organizations(state: &AppState, viewer: &Viewer) -> Value {
    super::organizations::options(state, viewer)
        .await
        .unwrap_or_else(|_| Value::Array(Vec::new()))
}

fn editor(
    viewer: &Viewer,
    status: StatusCode,
    id: Option<i64>,
    values: Value,
    orgs: Value,
    errors: FormErrors,
) -> Response {
    render(
        status,
        "credential_type_form.html",
        context! {
            frame => viewer.frame(),
            id => id,
            values => values,
            orgs => orgs,
            kinds => crate::domain::credential_type::WRITABLE_KINDS.map(|(k, l)| [k, l]),
            errors => errors,
        },
    )
}

async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    let values = json!({"kind": "cloud", "inputs": "{\n  \"fields\": []\n}", "injectors": "{}"});
    let orgs = organizations(&state, &viewer).await;
    editor(
        &viewer,
        StatusCode::OK,
        None,
        values,
        orgs,
        FormErrors::default(),
    )
}

/// The write body of an editor post; a document that is neither YAML nor JSON is an error
/// beside it. (JSON is YAML too: one parser reads both.)
fn body_of(form: &Fields, creating: bool) -> Result<Map<String, Value>, FormErrors> {
    let mut body = Map::new();
    let mut errors = FormErrors::default();
    for key in ["name", "description", "kind"] {
        body.insert(key.into(), Value::from(form.get(key).unwrap_or_default()));
    }
    if creating {
        body.insert("organization".into(), form.id("organization"));
    }
    for key in ["inputs", "injectors"] {
        let text = form.text(key).unwrap_or("{}");
        match serde_norway::from_str::<Value>(text) {
            Ok(v) => {
                body.insert(key.into(), v);
            }
            Err(e) => {
                errors.fields.insert(
                    key.into(),
                    vec![format!("This is neither YAML nor JSON: {e}.")],
                );
            }
        }
    }
    if errors.fields.is_empty() {
        Ok(body)
    } else {
        Err(errors)
    }
}

/// The posted editor values, to show again after an error.
fn posted(form: &Fields) -> Value {
    let mut values = Map::new();
    for key in [
        "name",
        "description",
        "kind",
        "organization",
        "inputs",
        "injectors",
    ] {
        values.insert(key.into(), Value::from(form.get(key).unwrap_or_default()));
    }
    Value::Object(values)
}

/// The editor again with what was posted and why it was refused.
async fn refuse(
    state: &AppState,
    viewer: &Viewer,
    id: Option<i64>,
    form: &Fields,
    errors: FormErrors,
) -> Response {
    let orgs = organizations(state, viewer).await;
    editor(
        viewer,
        StatusCode::BAD_REQUEST,
        id,
        posted(form),
        orgs,
        errors,
    )
}

async fn create(State(state): State<AppState>, viewer: Viewer, Posted(form): Posted) -> Response {
    let body = match body_of(&form, true) {
        Ok(body) => body,
        Err(errors) => return refuse(&state, &viewer, None, &form, errors).await,
    };
    let result = credential_types::create(&state.ctx, &viewer.caller, &body).await;
    saved(&state, &viewer, None, &form, result).await
}

/// The answer to a type's create or update: its page, or the editor again (`id` the type
/// being edited) with the use case's messages beside their fields.
async fn saved(
    state: &AppState,
    viewer: &Viewer,
    id: Option<i64>,
    form: &Fields,
    result: crate::service::Result<i64>,
) -> Response {
    let again = async |errors| refuse(state, viewer, id, form, errors).await;
    after_post(
        viewer,
        result,
        |id| format!("/credential_types/{id}/"),
        again,
    )
    .await
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let types = match credential_types::detail(&state.ctx, &viewer.caller, &id).await {
        Ok(types) => types,
        Err(e) => return error_page(&viewer, e),
    };
    let (Some(t), Some(true)) = (types.rows.first(), types.changeable.first()) else {
        return error_page(&viewer, crate::service::Error::Forbidden(None));
    };
    if t.managed {
        return error_page(
            &viewer,
            crate::service::Error::Forbidden(Some(
                "Managed credential types cannot be edited.".into(),
            )),
        );
    }
    let values = json!({
        "name": t.name, "description": t.description, "kind": t.kind,
        "inputs": pretty(&t.inputs_json().unwrap_or_default()),
        "injectors": pretty(&t.injectors_json().unwrap_or_default()),
    });
    let orgs = organizations(&state, &viewer).await;
    editor(
        &viewer,
        StatusCode::OK,
        Some(t.id),
        values,
        orgs,
        FormErrors::default(),
    )
}

async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let type_id = id.parse::<i64>().ok();
    let body = match body_of(&form, false) {
        Ok(body) => body,
        Err(errors) => return refuse(&state, &viewer, type_id, &form, errors).await,
    };
    let result = credential_types::update(&state.ctx, &viewer.caller, &id, &body, true).await;
    saved(&state, &viewer, type_id, &form, result).await
}
