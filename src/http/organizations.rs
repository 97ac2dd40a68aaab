//! `/api/v2/organizations/` with its members, admins and teams. Superusers create and
//! delete organizations; organization admins change theirs and manage its membership.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::named::resolve;
use super::render::{self, People};
use super::roles::{association_id, is_disassociate};
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::activity::{organization_fields, ActivityRecord};
use crate::domain::credential_type::{optional_string, required_string};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::Caller;
use crate::domain::resource::ORGANIZATION;
use crate::store::sql::{Bind, Sql};
use crate::store::OrganizationRow;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

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
            "/api/v2/organizations/{id}/teams/",
            get(teams).post(post_team).fallback(method_not_allowed),
        )
}

/// Organizations the caller may see.
pub(super) fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        Sql::raw("1=1")
    } else {
        crate::store::readable_sql("organizations.id", "organization", caller.user_id)
    }
}

async fn is_admin(state: &AppState, caller: &Caller, org: i64) -> ApiResult<bool> {
    Ok(caller.is_superuser
        || state
            .store
            .holds_role(caller.user_id, "organization", org, "admin_role")
            .await?)
}

async fn render_many(state: &AppState, ids: &[i64], caller: &Caller) -> ApiResult<Vec<Value>> {
    let rows = state.store.organizations_by_ids(ids).await?;
    let people = People::load(
        &state.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let roles = state.store.object_roles("organization", ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for o in &rows {
        let mine: Vec<_> = roles
            .iter()
            .filter(|r| r.object_id == o.id)
            .cloned()
            .collect();
        let edit = is_admin(state, caller, o.id).await?;
        let (users, admins, teams) = state.store.organization_counts(o.id).await?;
        let counts = render::OrgCounts {
            users,
            admins,
            teams,
        };
        out.push(render::organization(
            o,
            &people,
            &mine,
            counts,
            edit,
            caller.is_superuser,
        ));
    }
    Ok(out)
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let level = super::role_level_scope(&caller, &q, "organizations.id", "organization")?;
    let scope = crate::store::sql::and_all(vec![visibility(&caller), level]);
    let (page, req) = list_ids(&state, &ORGANIZATION, scope, &q).await?;
    let results = render_many(&state, &page.ids, &caller).await?;
    Ok(page_response(uri.path(), &q, &page, &req, results))
}

/// Loads an organization the caller can see: 404 when missing, 403 when hidden.
pub(super) async fn load_visible(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<OrganizationRow> {
    let resolved = resolve(state, NamedKind::Organization, raw, "Organization").await?;
    let id = resolved.id;
    let org = state
        .store
        .organization(id)
        .await?
        .ok_or(ApiError::NotFound("Organization"))?;
    if !caller.sees_everything()
        && !state
            .store
            .holds_role(caller.user_id, "organization", id, "read_role")
            .await?
    {
        return Err(resolved.hide(ApiError::Forbidden(None), "Organization"));
    }
    Ok(org)
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
    let o = load_visible(&state, &caller, &id).await?;
    let mut out = render_many(&state, &[o.id], &caller).await?;
    out.pop()
        .map(render::detail)
        .map(with_host_count)
        .map(Json)
        .ok_or(ApiError::NotFound("Organization"))
}

fn parse_body(
    body: &Map<String, Value>,
    current: Option<&OrganizationRow>,
) -> ApiResult<(String, String)> {
    let mut errors = FieldErrors::new();
    let name = match (body.get("name"), current) {
        (None, Some(c)) => Some(c.name.clone()),
        (v, _) => required_string(&mut errors, "name", v.cloned()),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    crate::domain::resource::ORGANIZATION.check_announced_lengths(body, &mut errors);
    errors.into_result()?;
    Ok((name.unwrap_or_default(), description))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let (name, description) = parse_body(&body, None)?;
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "organization",
        organization_fields(&name, &description),
    );
    let id = state
        .store
        .create_organization(&name, &description, Some(caller.user_id), &record)
        .await?;
    let mut out = render_many(&state, &[id], &caller).await?;
    Ok(created(
        &format!("/api/v2/organizations/{id}/"),
        render::detail(out.pop().unwrap_or_default()),
    ))
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let o = load_visible(&state, &caller, id).await?;
    if !is_admin(&state, &caller, o.id).await? {
        return Err(ApiError::Forbidden(None));
    }
    let (name, description) = parse_body(&body, partial.then_some(&o))?;
    let record = ActivityRecord::update(
        Some(caller.user_id),
        "organization",
        o.id,
        &organization_fields(&o.name, &o.description),
        &organization_fields(&name, &description),
    );
    state
        .store
        .update_organization(
            o.id,
            &name,
            &description,
            Some(caller.user_id),
            record.as_ref(),
        )
        .await?;
    let mut out = render_many(&state, &[o.id], &caller).await?;
    out.pop()
        .map(render::detail)
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
    let o = load_visible(&state, &caller, &id).await?;
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let record = ActivityRecord::delete(
        Some(caller.user_id),
        "organization",
        o.id,
        organization_fields(&o.name, &o.description),
    );
    state.store.delete_organization(o.id, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn role_members_scope(org: i64, field: &str) -> Sql {
    Sql::with(
        "users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE r.content_type = 'organization' AND r.object_id = ? AND r.role_field = ?)",
        vec![Bind::Int(org), Bind::Text(field.to_string())],
    )
}

async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let o = load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    super::users::list_users(
        &state,
        &caller,
        uri.path(),
        &q,
        role_members_scope(o.id, "member_role"),
    )
    .await
}

async fn admins(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let o = load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    super::users::list_users(
        &state,
        &caller,
        uri.path(),
        &q,
        role_members_scope(o.id, "admin_role"),
    )
    .await
}

/// `{"id": N}` puts user N in the role; `"disassociate": true` takes them out.
async fn change_role(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
    field: &str,
) -> ApiResult<StatusCode> {
    let o = load_visible(&state, &caller, id).await?;
    let user_id = association_id(&body, "User")?;
    if !is_admin(&state, &caller, o.id).await? {
        return Err(ApiError::Forbidden(None));
    }
    if state.store.user(user_id).await?.is_none() {
        return Err(ApiError::BadRequest(json!(
            "User matching query does not exist."
        )));
    }
    let grant = !is_disassociate(&body);
    state
        .store
        .set_organization_role(o.id, field, user_id, grant, Some(caller.user_id))
        .await?;
    if grant && field == "admin_role" {
        // AWX makes organization admins members as well.
        state
            .store
            .set_organization_role(o.id, "member_role", user_id, true, Some(caller.user_id))
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn post_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    change_role(state, caller, &id, body, "member_role").await
}

async fn post_admins(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    change_role(state, caller, &id, body, "admin_role").await
}

async fn teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let o = load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with("teams.organization_id = ?", vec![Bind::Int(o.id)]);
    let scope = crate::store::sql::and_all(vec![scope, super::teams::visibility(&caller)]);
    super::teams::list_teams(&state, &caller, uri.path(), &q, scope).await
}

/// Creates a team in this organization (the organization comes from the URL).
async fn post_team(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(mut body): JsonObject,
) -> ApiResult<Response> {
    let o = load_visible(&state, &caller, &id).await?;
    body.insert("organization".into(), json!(o.id));
    super::teams::create_team(&state, &caller, &body).await
}
