//! The legacy role endpoints: `/api/v2/roles/`, role members and teams, and the same
//! grants seen from `/users/{id}/roles/` and `/teams/{id}/roles/`.

use super::auth::Auth;
use super::error::ApiResult;
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::{method_not_allowed, page_response, AppState};
use crate::domain::rbac::role_display;
use crate::service::lists::PageRequest;
use crate::service::roles::{self, GranteeRef, Roles};
use crate::service::{teams, users};
use crate::store::{Page, RoleInfo};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/roles/", get(list).fallback(method_not_allowed))
        .route(
            "/api/v2/roles/{id}/",
            get(detail).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/roles/{id}/users/",
            get(role_users)
                .post(post_role_users)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/roles/{id}/teams/",
            get(role_teams)
                .post(post_role_teams)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/users/{id}/roles/",
            get(user_roles)
                .post(post_user_roles)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/teams/{id}/roles/",
            get(team_roles)
                .post(post_team_roles)
                .fallback(method_not_allowed),
        )
}

fn display_type(content_type: &str) -> &'static str {
    match content_type {
        "credential" => "Credential",
        "organization" => "Organization",
        "team" => "Team",
        "credential_type" => "Credential Type",
        _ => "",
    }
}

fn plural(content_type: &str) -> String {
    format!("{content_type}s")
}

/// One role in AWX's shape; `unattach` is added on the user/team role lists.
pub(super) fn render_role(r: &RoleInfo, unattach: Option<bool>) -> Value {
    let base = format!("/api/v2/roles/{}/", r.id);
    let mut related = Map::new();
    related.insert("users".into(), Value::String(format!("{base}users/")));
    related.insert("teams".into(), Value::String(format!("{base}teams/")));
    let mut summary = Map::new();
    if let Some(u) = unattach {
        summary.insert("user_capabilities".into(), json!({"unattach": u}));
    }
    if let (Some(ct), Some(oid)) = (r.content_type.as_deref(), r.object_id) {
        related.insert(
            ct.into(),
            Value::String(format!("/api/v2/{}/{oid}/", plural(ct))),
        );
        summary.insert("resource_name".into(), json!(r.resource_name));
        summary.insert("resource_type".into(), json!(ct));
        summary.insert("resource_type_display_name".into(), json!(display_type(ct)));
        summary.insert("resource_id".into(), json!(oid));
    }
    let (name, description) = role_display(r.content_type.as_deref(), &r.role_field);
    json!({"id": r.id, "type": "role", "url": base, "related": related, "summary_fields": summary,
           "name": name, "description": description})
}

/// A page of roles in AWX's envelope.
pub(super) fn render_page(
    path: &str,
    q: &QueryPairs,
    (page, req, roles): (Page, PageRequest, Roles),
) -> Json<Value> {
    let results = match &roles.unattach {
        Some(flags) => roles
            .rows
            .iter()
            .zip(flags)
            .map(|(r, unattach)| render_role(r, Some(*unattach)))
            .collect(),
        None => roles.rows.iter().map(|r| render_role(r, None)).collect(),
    };
    page_response(path, q, &page, &req, results)
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = roles::list(&state.ctx, &caller, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let role = roles::get(&state.ctx, &caller, parse_id(&id, "Role")?).await?;
    Ok(Json(render_role(&role, None)))
}

async fn role_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "Role")?;
    let q = QueryPairs::parse(raw.as_deref());
    let listed = users::list_granted_role(&state.ctx, &caller, id, &q).await?;
    Ok(super::users::render_page(uri.path(), &q, listed))
}

async fn role_teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "Role")?;
    let q = QueryPairs::parse(raw.as_deref());
    let listed = teams::list_granted_role(&state.ctx, &caller, id, &q).await?;
    Ok(super::teams::render_page(uri.path(), &q, listed))
}

async fn user_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = roles::list_of_user(&state.ctx, &caller, &id, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

async fn team_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = roles::list_of_team(&state.ctx, &caller, &id, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

async fn post_role_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "Role")?;
    roles::change_members(&state.ctx, &caller, id, false, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_role_teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "Role")?;
    roles::change_members(&state.ctx, &caller, id, true, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_user_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    roles::change_roles_of(&state.ctx, &caller, GranteeRef::User(&id), &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn post_team_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    roles::change_roles_of(&state.ctx, &caller, GranteeRef::Team(&id), &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
