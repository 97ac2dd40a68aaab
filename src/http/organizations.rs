//! `/api/v2/organizations/` and membership. Superusers write; everyone authenticated reads.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::render::{self, People};
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::credential_type::{optional_string, required_string};
use crate::domain::errors::FieldErrors;
use crate::domain::rbac::{may_administer_system, Caller};
use crate::domain::resource::ORGANIZATION;
use crate::store::sql::Sql;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

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
            get(members)
                .post(associate_member)
                .fallback(method_not_allowed),
        )
}

async fn render_many(state: &AppState, ids: &[i64], caller: &Caller) -> ApiResult<Vec<Value>> {
    let rows = state.store.organizations_by_ids(ids).await?;
    let people = People::load(
        &state.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let roles = state.store.object_roles("organization", ids).await?;
    Ok(rows
        .iter()
        .map(|o| {
            let mine: Vec<_> = roles
                .iter()
                .filter(|r| r.object_id == o.id)
                .cloned()
                .collect();
            render::organization(o, &people, &mine, caller)
        })
        .collect())
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req) = list_ids(&state, &ORGANIZATION, Sql::raw("1=1"), &q).await?;
    let results = render_many(&state, &page.ids, &caller).await?;
    Ok(page_response(uri.path(), &q, &page, &req, results))
}

async fn load(state: &AppState, raw: &str) -> ApiResult<crate::store::OrganizationRow> {
    let id = parse_id(raw, "Organization")?;
    state
        .store
        .organization(id)
        .await?
        .ok_or(ApiError::NotFound("Organization"))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let o = load(&state, &id).await?;
    let mut out = render_many(&state, &[o.id], &caller).await?;
    out.pop()
        .map(Json)
        .ok_or(ApiError::NotFound("Organization"))
}

fn parse_body(
    body: &serde_json::Map<String, Value>,
    current: Option<&crate::store::OrganizationRow>,
) -> ApiResult<(String, String)> {
    let mut errors = FieldErrors::new();
    let name = match (body.get("name"), current) {
        (None, Some(c)) => Some(c.name.clone()),
        (v, _) => required_string(&mut errors, "name", v.cloned()),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    errors.into_result()?;
    Ok((name.unwrap_or_default(), description))
}

fn require_superuser(caller: &Caller) -> ApiResult<()> {
    if may_administer_system(caller) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(None))
    }
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    require_superuser(&caller)?;
    let (name, description) = parse_body(&body, None)?;
    let id = state
        .store
        .create_organization(&name, &description, Some(caller.user_id))
        .await?;
    let mut out = render_many(&state, &[id], &caller).await?;
    Ok(created(
        &format!("/api/v2/organizations/{id}/"),
        out.pop().unwrap_or_default(),
    ))
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: serde_json::Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let o = load(&state, id).await?;
    require_superuser(&caller)?;
    let (name, description) = parse_body(&body, partial.then_some(&o))?;
    state
        .store
        .update_organization(o.id, &name, &description, Some(caller.user_id))
        .await?;
    let mut out = render_many(&state, &[o.id], &caller).await?;
    out.pop()
        .map(Json)
        .ok_or(ApiError::NotFound("Organization"))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body, false).await
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body, true).await
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let o = load(&state, &id).await?;
    require_superuser(&caller)?;
    state.store.delete_organization(o.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let o = load(&state, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE r.content_type = 'organization' AND r.object_id = ? AND r.role_field = 'member_role')",
        vec![crate::store::sql::Bind::Int(o.id)],
    );
    super::users::list_users(&state, &caller, uri.path(), &q, scope).await
}

/// `{"id": N}` adds user N as a member; `"disassociate": true` removes them.
async fn associate_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let o = load(&state, &id).await?;
    require_superuser(&caller)?;
    let user_id = super::users::association_id(&body, "User")?;
    if state.store.user(user_id).await?.is_none() {
        return Err(ApiError::BadRequest(Value::String(
            "User matching query does not exist.".into(),
        )));
    }
    let grant = !body
        .get("disassociate")
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_i64() == Some(1));
    state
        .store
        .set_organization_role(o.id, "member_role", user_id, grant)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
