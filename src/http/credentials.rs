//! `/api/v2/credentials/`, detail and copy: each handler extracts, calls one use case of
//! `service::credentials` and renders.

use super::auth::{Auth, AuthGeneration};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::render;
use super::{created, method_not_allowed, page_response, AppState};
use crate::domain::credential::WriteMode;
use crate::domain::rbac::Caller;
use crate::service::credentials;
use crate::service::lists::PageRequest;
use crate::service::related::Credentials;
use crate::store::{Page, Scope};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credentials/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/copy/",
            get(can_copy).post(copy).fallback(method_not_allowed),
        )
}

/// Renders a page of credentials; `with_organization` is false on the user and team
/// sub-lists, which AWX renders without the top-level `organization` key.
pub(super) fn render_page(
    path: &str,
    q: &QueryPairs,
    caller: &Caller,
    (page, req, creds): (Page, PageRequest, Credentials),
) -> ApiResult<Json<Value>> {
    let results = creds
        .rows
        .iter()
        .map(|c| render::credential(c, &creds, caller, false))
        .collect::<Result<_, _>>()?;
    Ok(page_response(path, q, &page, &req, results))
}

/// The detail representation of the one credential loaded.
pub(super) fn render_one(caller: &Caller, creds: &Credentials) -> ApiResult<Value> {
    let row = creds.rows.first().ok_or(ApiError::NotFound("Credential"))?;
    Ok(render::credential(row, creds, caller, true)?)
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Extension(generation): Extension<AuthGeneration>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    let render = async {
        let listed = credentials::list(&state.ctx, &caller, Scope::All, &q).await?;
        render_page(uri.path(), &q, &caller, listed)
    };
    state
        .responses
        .json(generation, &caller, &uri.to_string(), render)
        .await
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Extension(generation): Extension<AuthGeneration>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    let render = async {
        let found = credentials::detail(&state.ctx, &caller, &id, &q).await?;
        Ok::<_, ApiError>(Json(render_one(&caller, &found)?))
    };
    state
        .responses
        .json(generation, &caller, &uri.to_string(), render)
        .await
}

/// The answer to a write: the credential as it now is.
pub(super) async fn written(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Value> {
    let creds = credentials::written(&state.ctx, caller, id).await?;
    render_one(caller, &creds)
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = credentials::create(&state.ctx, &caller, &body, true).await?;
    Ok(created(
        &format!("/api/v2/credentials/{id}/"),
        written(&state, &caller, id).await?,
    ))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = credentials::update(&state.ctx, &caller, &id, &body, WriteMode::Put).await?;
    Ok(Json(written(&state, &caller, id).await?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = credentials::update(&state.ctx, &caller, &id, &body, WriteMode::Patch).await?;
    Ok(Json(written(&state, &caller, id).await?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    credentials::delete(&state.ctx, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn can_copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let can = credentials::can_copy(&state.ctx, &caller, &id).await?;
    Ok(Json(json!({ "can_copy": can })))
}

async fn copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let new_id = credentials::copy(&state.ctx, &caller, &id, &body).await?;
    Ok(created(
        &format!("/api/v2/credentials/{new_id}/"),
        written(&state, &caller, new_id).await?,
    ))
}
