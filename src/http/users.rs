//! `/api/v2/users/`. Superusers manage every user; organization admins create users and
//! manage the users whose every organization they administer; users change themselves.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::render;
use super::{created, method_not_allowed, page_response, AppState};
use crate::service::lists::PageRequest;
use crate::service::users::{self, Users};
use crate::store::Page;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/users/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/users/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
}

pub(super) fn render_all(users: &Users) -> Vec<Value> {
    users
        .rows
        .iter()
        .zip(&users.capabilities)
        .map(|(u, caps)| render::user(u, *caps))
        .collect()
}

/// A page of users in AWX's envelope.
pub(super) fn render_page(
    path: &str,
    q: &QueryPairs,
    (page, req, users): (Page, PageRequest, Users),
) -> Json<Value> {
    page_response(path, q, &page, &req, render_all(&users))
}

fn render_one(users: &Users) -> ApiResult<Value> {
    render_all(users)
        .pop()
        .map(render::detail)
        .ok_or(ApiError::NotFound("User"))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = users::list(&state.ctx, &caller, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let found = users::detail(&state.ctx, &caller, &id).await?;
    Ok(Json(render_one(&found)?))
}

/// Superusers create any user; organization admins create plain users.
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let made = users::create(&state.ctx, &caller, &body).await?;
    let item = render_one(&made)?;
    Ok(created(&format!("/api/v2/users/{}/", item["id"]), item))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let updated = users::update(&state.ctx, &caller, &id, &body, false).await?;
    Ok(Json(render_one(&updated)?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let updated = users::update(&state.ctx, &caller, &id, &body, true).await?;
    Ok(Json(render_one(&updated)?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    users::delete(&state.ctx, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
