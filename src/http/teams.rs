//! `/api/v2/teams/` and team membership. Organization admins create teams in their
//! organization; team admins (and so organization admins) change and delete them.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::render;
use super::{created, method_not_allowed, page_response, AppState};
use crate::service::lists::PageRequest;
use crate::service::teams::{self, Teams};
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
            "/api/v2/teams/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/teams/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/teams/{id}/users/",
            get(members).post(post_members).fallback(method_not_allowed),
        )
}

pub(super) fn render_all(teams: &Teams) -> Vec<Value> {
    teams
        .rows
        .iter()
        .map(|t| {
            render::team(
                t,
                teams.organizations.get(&t.organization_id),
                &teams.people,
                teams
                    .roles
                    .get(&t.id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                teams.administrable.get(&t.id).copied().unwrap_or(false),
            )
        })
        .collect()
}

/// A page of teams in AWX's envelope.
pub(super) fn render_page(
    path: &str,
    q: &QueryPairs,
    (page, req, teams): (Page, PageRequest, Teams),
) -> Json<Value> {
    page_response(path, q, &page, &req, render_all(&teams))
}

fn render_one(teams: &Teams) -> ApiResult<Value> {
    render_all(teams)
        .pop()
        .map(render::detail)
        .ok_or(ApiError::NotFound("Team"))
}

/// The 201 answer to a team create.
pub(super) fn render_created(teams: &Teams) -> ApiResult<Response> {
    let item = render_one(teams)?;
    Ok(created(&format!("/api/v2/teams/{}/", item["id"]), item))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = teams::list(&state.ctx, &caller, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let found = teams::detail(&state.ctx, &caller, &id).await?;
    Ok(Json(render_one(&found)?))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    render_created(&teams::create(&state.ctx, &caller, &body).await?)
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let updated = teams::update(&state.ctx, &caller, &id, &body, false).await?;
    Ok(Json(render_one(&updated)?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let updated = teams::update(&state.ctx, &caller, &id, &body, true).await?;
    Ok(Json(render_one(&updated)?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    teams::delete(&state.ctx, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = teams::list_members(&state.ctx, &caller, &id, &q).await?;
    Ok(super::users::render_page(uri.path(), &q, listed))
}

/// `{"id": N}` adds user N to the team; `"disassociate": true` removes them.
async fn post_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    teams::change_member(&state.ctx, &caller, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
