//! `/api/v2/credential_input_sources/` and `/api/v2/credentials/{id}/input_sources/`:
//! links from one input field of a credential to an external lookup credential.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::render;
use super::{created, method_not_allowed, page_response, AppState};
use crate::domain::rbac::Caller;
use crate::service::input_sources::{self, InputSources};
use crate::store::{CredentialRow, InputSourceRow, Scope};
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

fn credential_summary(c: &CredentialRow) -> Value {
    json!({"id": c.id, "name": c.name, "description": c.description, "kind": c.type_namespace,
           "cloud": c.type_kind == "cloud", "credential_type_id": c.credential_type_id})
}

fn render_all(sources: &InputSources) -> ApiResult<Vec<Value>> {
    sources
        .rows
        .iter()
        .map(|r| render_row(sources, r))
        .collect()
}

fn render_row(sources: &InputSources, r: &InputSourceRow) -> ApiResult<Value> {
    let mut related = Map::new();
    let mut summary = Map::new();
    render::audit_fields(
        &mut related,
        &mut summary,
        &sources.people,
        r.created_by,
        r.modified_by,
    );
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
        if let Some(c) = sources.credentials.get(&id) {
            ordered.insert(key.into(), credential_summary(c));
        }
    }
    ordered.extend(summary);
    let admin = sources.deletable.get(&r.id).copied().unwrap_or(false);
    ordered.insert("user_capabilities".into(), json!({"delete": admin}));
    Ok(json!({
        "id": r.id, "type": "credential_input_source", "url": format!("/api/v2/credential_input_sources/{}/", r.id),
        "related": related, "summary_fields": ordered, "created": r.created, "modified": r.modified,
        "description": r.description, "input_field_name": r.input_field_name, "metadata": r.metadata_json()?,
        "target_credential": r.target_credential_id, "source_credential": r.source_credential_id,
    }))
}

async fn render_one(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Value> {
    let sources = input_sources::detail(&state.ctx, caller, id).await?;
    render_all(&sources)?.pop().ok_or(ApiError::NotFound(MODEL))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req, sources) = input_sources::list(&state.ctx, &caller, Scope::All, &q).await?;
    Ok(page_response(
        uri.path(),
        &q,
        &page,
        &req,
        render_all(&sources)?,
    ))
}

async fn credential_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req, sources) =
        input_sources::list_of_credential(&state.ctx, &caller, &id, &q).await?;
    Ok(page_response(
        uri.path(),
        &q,
        &page,
        &req,
        render_all(&sources)?,
    ))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, MODEL)?;
    Ok(Json(render_one(&state, &caller, id).await?))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = input_sources::create(&state.ctx, &caller, &body).await?;
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
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = input_sources::create_for_credential(&state.ctx, &caller, &id, body).await?;
    Ok(created(
        &format!("/api/v2/credential_input_sources/{id}/"),
        render_one(&state, &caller, id).await?,
    ))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, MODEL)?;
    let id = input_sources::update(&state.ctx, &caller, id, body, false).await?;
    Ok(Json(render_one(&state, &caller, id).await?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, MODEL)?;
    let id = input_sources::update(&state.ctx, &caller, id, body, true).await?;
    Ok(Json(render_one(&state, &caller, id).await?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, MODEL)?;
    input_sources::delete(&state.ctx, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
