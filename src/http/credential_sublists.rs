//! The credential lists hanging off users, teams and organizations, and the creates they
//! accept: the owner comes from the URL.

use super::auth::Auth;
use super::credentials::{render_page, written};
use super::error::ApiResult;
use super::extract::{JsonObject, QueryPairs};
use super::{created, method_not_allowed, AppState};
use crate::domain::rbac::Caller;
use crate::service::credentials::{self, OwnerRef};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/users/{id}/credentials/",
            get(user_list)
                .post(user_create)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/teams/{id}/credentials/",
            get(team_list)
                .post(team_create)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/organizations/{id}/credentials/",
            get(org_list).post(org_create).fallback(method_not_allowed),
        )
}

/// Credentials readable by both the caller and the user in the URL.
async fn user_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = credentials::list_of_user(&state.ctx, &caller, &id, &q).await?;
    let page = render_page(uri.path(), &q, &caller, listed)?;
    Ok(without_keys(page, &["organization"]))
}

/// Credentials granted to the team in the URL.
async fn team_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = credentials::list_of_team(&state.ctx, &caller, &id, &q).await?;
    let page = render_page(uri.path(), &q, &caller, listed)?;
    Ok(without_keys(page, &["organization", "user"]))
}

/// Credentials of the organization in the URL that the caller may read.
async fn org_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = credentials::list_of_organization(&state.ctx, &caller, &id, &q).await?;
    render_page(uri.path(), &q, &caller, listed)
}

/// Drops top-level keys from every item of a page, as AWX renders the user and team
/// credential lists (without `organization`; the team's also without `user`).
fn without_keys(Json(mut page): Json<Value>, keys: &[&str]) -> Json<Value> {
    if let Some(items) = page.get_mut("results").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            for key in keys {
                item.remove(*key);
            }
        }
    }
    Json(page)
}

async fn create_and_render(
    state: &AppState,
    caller: &Caller,
    owner: OwnerRef<'_>,
    body: Map<String, Value>,
) -> ApiResult<Response> {
    let id = credentials::create_owned(&state.ctx, caller, owner, body).await?;
    let mut item = written(state, caller, id).await?;
    if !matches!(owner, OwnerRef::Organization(_)) {
        // As on the user and team lists, AWX's answer has no top-level organization.
        if let Some(map) = item.as_object_mut() {
            map.remove("organization");
        }
    }
    Ok(created(&format!("/api/v2/credentials/{id}/"), item))
}

/// A personal credential of the user in the URL.
async fn user_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    create_and_render(&state, &caller, OwnerRef::User(&id), body).await
}

/// A credential owned by the team in the URL (and its organization).
async fn team_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    create_and_render(&state, &caller, OwnerRef::Team(&id), body).await
}

/// A credential of the organization in the URL.
async fn org_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    create_and_render(&state, &caller, OwnerRef::Organization(&id), body).await
}
