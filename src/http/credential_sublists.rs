//! The credential lists hanging off users, teams and organizations, and the creates they
//! accept: the owner comes from the URL.

use super::auth::Auth;
use super::credentials::{
    create_credential, list_credentials, list_credentials_without_organization, render_detail,
    visibility,
};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::{created, method_not_allowed, AppState};
use crate::domain::rbac::Caller;
use crate::store::sql::{and_all, Bind, Sql};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

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

/// Credentials user `user_id` may read (all of them for superusers and auditors).
async fn readable_by(state: &AppState, user_id: i64) -> ApiResult<Sql> {
    let user = state
        .store
        .user(user_id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    if user.is_superuser || user.is_system_auditor {
        return Ok(Sql::raw("1=1"));
    }
    Ok(crate::store::readable_sql(
        "credentials.id",
        "credential",
        user_id,
    ))
}

/// Credentials readable by both the caller and the user in the URL.
async fn user_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let user = super::users::load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = and_all(vec![
        visibility(&caller),
        readable_by(&state, user.id).await?,
    ]);
    list_credentials_without_organization(&state, &caller, uri.path(), &q, scope).await
}

/// Credentials granted to the team: their use role (or admin role) hangs under the team.
async fn team_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let team = super::teams::load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let granted = Sql::with(
        "credentials.id IN (SELECT r.object_id FROM roles r JOIN role_parents rp ON rp.role_id = r.id \
         JOIN roles p ON p.id = rp.parent_id WHERE r.content_type = 'credential' \
         AND r.role_field IN ('use_role', 'admin_role') AND p.content_type = 'team' AND p.object_id = ? \
         AND p.role_field IN ('member_role', 'admin_role'))",
        vec![Bind::Int(team.id)],
    );
    let scope = and_all(vec![visibility(&caller), granted]);
    let Json(mut page) =
        list_credentials_without_organization(&state, &caller, uri.path(), &q, scope).await?;
    if let Some(items) = page.get_mut("results").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.remove("user");
        }
    }
    Ok(Json(page))
}

/// Credentials of the organization that the caller may read.
async fn org_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let org = super::organizations::load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = and_all(vec![
        visibility(&caller),
        Sql::with("credentials.organization_id = ?", vec![Bind::Int(org.id)]),
    ]);
    list_credentials(&state, &caller, uri.path(), &q, scope).await
}

/// Sets the owner from the URL and drops the other owner keys.
fn with_owner(mut body: Map<String, Value>, key: &str, id: i64) -> Map<String, Value> {
    for k in ["user", "team", "organization"] {
        body.remove(k);
    }
    body.insert(key.to_string(), json!(id));
    body
}

async fn create_and_render(
    state: &AppState,
    caller: &Caller,
    body: Map<String, Value>,
    drop_organization: bool,
) -> ApiResult<Response> {
    let id = create_credential(state, caller, &body, false).await?;
    let mut item = render_detail(state, caller, id).await?;
    if drop_organization {
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
    let user = super::users::load_visible(&state, &caller, &id).await?;
    create_and_render(&state, &caller, with_owner(body, "user", user.id), true).await
}

/// A credential owned by the team in the URL (and its organization).
async fn team_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let team = super::teams::load_visible(&state, &caller, &id).await?;
    create_and_render(&state, &caller, with_owner(body, "team", team.id), true).await
}

/// A credential of the organization in the URL.
async fn org_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let org = super::organizations::load_visible(&state, &caller, &id).await?;
    create_and_render(
        &state,
        &caller,
        with_owner(body, "organization", org.id),
        false,
    )
    .await
}
