//! `/api/v2/organizations/` with its members, admins and teams. Superusers create and
//! delete organizations; organization admins change theirs and manage its membership.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::render;
use super::{created, method_not_allowed, page_response, AppState};
use crate::domain::rbac::Caller;
use crate::service::organizations::{self, Membership, Organizations};
use crate::service::teams;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/organizations/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/organizations/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/organizations/{id}/users/",
            get(members).post(post_members).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/organizations/{id}/admins/",
            get(admins).post(post_admins).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/organizations/{id}/galaxy_credentials/",
            get(galaxy_credentials)
                .post(post_galaxy_credentials)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/organizations/{id}/teams/",
            get(teams).post(post_team).fallback(method_not_allowed),
        )
}

pub(super) fn render_all(orgs: &Organizations) -> Vec<Value> {
    orgs.rows
        .iter()
        .map(|o| {
            render::organization(
                o,
                &orgs.people,
                orgs.roles.get(&o.id).map(Vec::as_slice).unwrap_or_default(),
                orgs.counts.get(&o.id).copied().unwrap_or_default(),
                orgs.administrable.get(&o.id).copied().unwrap_or(false),
                orgs.deletable,
            )
        })
        .collect()
}

/// The detail form of the one organization loaded.
fn render_one(orgs: &Organizations) -> ApiResult<Value> {
    render_all(orgs)
        .pop()
        .map(render::detail)
        .ok_or(ApiError::NotFound("Organization"))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req, orgs) = organizations::list(&state.ctx, &caller, &q).await?;
    let results = render_all(&orgs);
    Ok(page_response(uri.path(), &q, &page, &req, results))
}

/// AWX's organization detail view (only) counts hosts too; credstore has none.
fn with_host_count(mut item: Value) -> Value {
    if let Some(counts) = item
        .pointer_mut("/summary_fields/related_field_counts")
        .and_then(Value::as_object_mut)
    {
        counts.insert("hosts".into(), json!(0));
    }
    item
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let orgs = organizations::detail(&state.ctx, &caller, &id).await?;
    Ok(Json(with_host_count(render_one(&orgs)?)))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let orgs = organizations::create(&state.ctx, &caller, &body).await?;
    let item = render_one(&orgs)?;
    Ok(created(
        &format!("/api/v2/organizations/{}/", item["id"]),
        item,
    ))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let orgs = organizations::update(&state.ctx, &caller, &id, &body, false).await?;
    Ok(Json(render_one(&orgs)?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let orgs = organizations::update(&state.ctx, &caller, &id, &body, true).await?;
    Ok(Json(render_one(&orgs)?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    organizations::delete(&state.ctx, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    state: AppState,
    caller: Caller,
    id: &str,
    which: Membership,
    path: &str,
    raw: Option<String>,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = organizations::list_members(&state.ctx, &caller, id, which, &q).await?;
    Ok(super::users::render_page(path, &q, listed))
}

async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    list_members(state, caller, &id, Membership::Members, uri.path(), raw).await
}

async fn admins(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    list_members(state, caller, &id, Membership::Admins, uri.path(), raw).await
}

async fn post_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    organizations::change_member(&state.ctx, &caller, &id, Membership::Members, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_admins(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    organizations::change_member(&state.ctx, &caller, &id, Membership::Admins, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = teams::list_of_organization(&state.ctx, &caller, &id, &q).await?;
    Ok(super::teams::render_page(uri.path(), &q, listed))
}

/// Creates a team in this organization (the organization comes from the URL).
async fn post_team(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let created_team = teams::create_in_organization(&state.ctx, &caller, &id, body).await?;
    super::teams::render_created(&created_team)
}

/// The organization's Galaxy credentials, in the order they are tried.
async fn galaxy_credentials(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = organizations::list_galaxy_credentials(&state.ctx, &caller, &id, &q).await?;
    super::credentials::render_page(uri.path(), &q, &caller, listed)
}

/// `{"id": N}` attaches Galaxy credential N at the end; `"disassociate": true` detaches it.
async fn post_galaxy_credentials(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    organizations::change_galaxy_credential(&state.ctx, &caller, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
