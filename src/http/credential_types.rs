//! `/api/v2/credential_types/`: everyone reads global types, superusers write them;
//! organizations' types are read, written and shared by their roles.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::render;
use super::{created, method_not_allowed, page_response, AppState};
use crate::domain::rbac::Caller;
use crate::service::credential_types::{self, CredentialTypes};
use crate::service::{credentials, roles};
use crate::store::CredentialTypeRow;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credential_types/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_types/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_types/{id}/object_roles/",
            get(object_roles).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_types/{id}/credentials/",
            get(credentials)
                .post(create_credential)
                .fallback(method_not_allowed),
        )
}

fn render_all(types: &CredentialTypes, detail: bool) -> ApiResult<Vec<Value>> {
    let render = |(t, changeable): (&CredentialTypeRow, &bool)| {
        let roles = types
            .roles
            .get(&t.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        render::credential_type(t, &types.people, roles, *changeable, detail)
    };
    Ok(types
        .rows
        .iter()
        .zip(&types.changeable)
        .map(render)
        .collect::<Result<_, _>>()?)
}

/// The answer to a read or write of one type.
fn render_one(types: &CredentialTypes) -> ApiResult<Value> {
    render_all(types, true)?
        .pop()
        .ok_or(ApiError::NotFound("CredentialType"))
}

/// The answer to a write of type `id`.
async fn render_written(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Value> {
    render_one(&credential_types::written(&state.ctx, caller, id).await?)
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req, types) = credential_types::list(&state.ctx, &caller, &q).await?;
    let results = render_all(&types, false)?;
    Ok(page_response(uri.path(), &q, &page, &req, results))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let types = credential_types::detail(&state.ctx, &caller, &id).await?;
    Ok(Json(render_one(&types)?))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = credential_types::create(&state.ctx, &caller, &body).await?;
    Ok(created(
        &format!("/api/v2/credential_types/{id}/"),
        render_written(&state, &caller, id).await?,
    ))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = credential_types::update(&state.ctx, &caller, &id, &body, false).await?;
    Ok(Json(render_written(&state, &caller, id).await?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = credential_types::update(&state.ctx, &caller, &id, &body, true).await?;
    Ok(Json(render_written(&state, &caller, id).await?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    credential_types::delete(&state.ctx, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The roles of an organization's type (an empty list for a global type).
async fn object_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = roles::list_of_credential_type(&state.ctx, &caller, &id, &q).await?;
    Ok(super::roles::render_page(uri.path(), &q, listed))
}

/// The credentials of this type that the caller may read.
async fn credentials(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = credentials::list_of_type(&state.ctx, &caller, &id, &q).await?;
    super::credentials::render_page(uri.path(), &q, &caller, listed)
}

/// A credential of this type (the type comes from the URL).
async fn create_credential(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = credentials::create_of_type(&state.ctx, &caller, &id, body).await?;
    Ok(created(
        &format!("/api/v2/credentials/{id}/"),
        super::credentials::written(&state, &caller, id).await?,
    ))
}
