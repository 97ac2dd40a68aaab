//! The legacy role endpoints: `/api/v2/roles/`, role members and teams, and the same
//! grants seen from `/users/{id}/roles/` and `/teams/{id}/roles/`.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::{list_ids, method_not_allowed, page_response, AppState};
use crate::domain::rbac::{check_grant, granting_role, role_display, Caller, Grantee, RoleOwner};
use crate::domain::resource::ROLE;
use crate::store::sql::{and_all, Bind, Sql};
use crate::store::RoleInfo;
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

/// Roles the caller may see: system roles, and roles of objects the caller holds any
/// role on.
pub(super) fn visible_roles(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        return Sql::raw("1=1");
    }
    let mut sql = Sql::raw(
        "(roles.content_type IS NULL OR EXISTS (SELECT 1 FROM roles h WHERE h.content_type = roles.content_type \
         AND h.object_id = roles.object_id AND h.id IN (",
    );
    sql.push(crate::store::roles_held_sql(caller.user_id));
    sql.text.push_str(")))");
    sql
}

fn display_type(content_type: &str) -> &'static str {
    match content_type {
        "credential" => "Credential",
        "organization" => "Organization",
        "team" => "Team",
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

async fn load_role(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<RoleInfo> {
    let id = parse_id(raw, "Role")?;
    let role = state
        .store
        .role(id)
        .await?
        .ok_or(ApiError::NotFound("Role"))?;
    let scope = and_all(vec![
        Sql::with("roles.id = ?", vec![Bind::Int(id)]),
        visible_roles(caller),
    ]);
    let (page, _) = list_ids(state, &ROLE, scope, &QueryPairs(Vec::new())).await?;
    if page.count == 0 {
        return Err(ApiError::Forbidden(None));
    }
    Ok(role)
}

async fn render_roles(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
    with_unattach: bool,
) -> ApiResult<Json<Value>> {
    let (page, req) = list_ids(state, &ROLE, scope, q).await?;
    let rows = state.store.roles_by_ids(&page.ids).await?;
    let mut results = Vec::with_capacity(rows.len());
    for r in &rows {
        let unattach = if with_unattach {
            Some(may_manage(state, caller, r).await?)
        } else {
            None
        };
        results.push(render_role(r, unattach));
    }
    Ok(page_response(path, q, &page, &req, results))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    render_roles(
        &state,
        &caller,
        uri.path(),
        &q,
        visible_roles(&caller),
        false,
    )
    .await
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let role = load_role(&state, &caller, &id).await?;
    Ok(Json(render_role(&role, None)))
}

async fn role_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let role = load_role(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "users.id IN (SELECT user_id FROM role_members WHERE role_id = ?)",
        vec![Bind::Int(role.id)],
    );
    super::users::list_users(&state, &caller, uri.path(), &q, scope).await
}

async fn role_teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let role = load_role(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "teams.id IN (SELECT p.object_id FROM role_parents rp JOIN roles p ON p.id = rp.parent_id \
         WHERE rp.role_id = ? AND p.content_type = 'team' AND p.role_field = 'member_role')",
        vec![Bind::Int(role.id)],
    );
    super::teams::list_teams(&state, &caller, uri.path(), &q, scope).await
}

async fn user_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let user = super::users::load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = and_all(vec![
        Sql::with(
            "roles.id IN (SELECT role_id FROM role_members WHERE user_id = ?)",
            vec![Bind::Int(user.id)],
        ),
        visible_roles(&caller),
    ]);
    render_roles(&state, &caller, uri.path(), &q, scope, true).await
}

async fn team_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let team = super::teams::load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = and_all(vec![
        Sql::with(
            "roles.id IN (SELECT rp.role_id FROM role_parents rp JOIN roles p ON p.id = rp.parent_id \
             WHERE p.content_type = 'team' AND p.object_id = ? AND p.role_field = 'member_role') \
             AND NOT (roles.content_type = 'team' AND roles.object_id = ?)",
            vec![Bind::Int(team.id), Bind::Int(team.id)],
        ),
        visible_roles(&caller),
    ]);
    render_roles(&state, &caller, uri.path(), &q, scope, true).await
}

/// Reads `{"id": N}` of an association POST with AWX's messages.
pub(super) fn association_id(body: &Map<String, Value>, model: &str) -> ApiResult<i64> {
    match body.get("id") {
        None | Some(Value::Null) => Err(ApiError::Validation(
            json!({"msg": format!("{model} 'id' field is missing.")}),
        )),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| {
                ApiError::Validation(json!({"msg": "\"id\" field must be an integer."}))
            }),
    }
}

/// True for `"disassociate": true` (or 1, "true").
pub(super) fn is_disassociate(body: &Map<String, Value>) -> bool {
    match body.get("disassociate") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => crate::domain::filter::parse_bool(s).unwrap_or(false),
        _ => false,
    }
}

fn owner_of(role: &RoleInfo) -> RoleOwner {
    match (role.content_type.as_deref(), role.object_id) {
        (Some("credential"), Some(_)) => RoleOwner::Credential {
            organization: role.object_organization,
        },
        (Some("organization"), Some(id)) => RoleOwner::Organization(id),
        (Some("team"), Some(_)) => RoleOwner::Team {
            organization: role.object_organization.unwrap_or_default(),
        },
        _ => RoleOwner::System,
    }
}

/// Superusers, and holders of the admin role of the role's object, manage its members.
async fn may_manage(state: &AppState, caller: &Caller, role: &RoleInfo) -> ApiResult<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    match (granting_role(owner_of(role)), role.object_id) {
        (Some((ct, field)), Some(oid)) => Ok(state
            .store
            .holds_role(caller.user_id, ct, oid, field)
            .await?),
        _ => Ok(false),
    }
}

enum Target {
    User(i64),
    Team(i64),
}

/// The one path every grant and revoke takes: rules, permission, then the change.
async fn change(
    state: &AppState,
    caller: &Caller,
    role: &RoleInfo,
    target: Target,
    revoke: bool,
) -> ApiResult<StatusCode> {
    let grantee = match target {
        Target::User(u) => {
            if state.store.user(u).await?.is_none() {
                return Err(ApiError::BadRequest(json!(
                    "User matching query does not exist."
                )));
            }
            Grantee::User {
                member_of: state.store.user_organizations(u).await?,
            }
        }
        Target::Team(t) => match state.store.team(t).await? {
            Some(team) => Grantee::Team {
                organization: team.organization_id,
            },
            None => {
                return Err(ApiError::BadRequest(json!(
                    "Team matching query does not exist."
                )))
            }
        },
    };
    check_grant(caller, &role.role_field, owner_of(role), &grantee, revoke)?;
    if !may_manage(state, caller, role).await? {
        return Err(ApiError::Forbidden(None));
    }
    match target {
        Target::User(u) => {
            state
                .store
                .set_user_role(role.id, u, !revoke, Some(caller.user_id))
                .await?
        }
        Target::Team(t) => {
            state
                .store
                .set_team_role(role.id, t, !revoke, Some(caller.user_id))
                .await?
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn role_for_grant(state: &AppState, id: i64) -> ApiResult<RoleInfo> {
    state
        .store
        .role(id)
        .await?
        .ok_or_else(|| ApiError::BadRequest(json!("Role matching query does not exist.")))
}

async fn post_role_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let role = state
        .store
        .role(parse_id(&id, "Role")?)
        .await?
        .ok_or(ApiError::NotFound("Role"))?;
    let user = association_id(&body, "User")?;
    change(
        &state,
        &caller,
        &role,
        Target::User(user),
        is_disassociate(&body),
    )
    .await
}

async fn post_role_teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let role = state
        .store
        .role(parse_id(&id, "Role")?)
        .await?
        .ok_or(ApiError::NotFound("Role"))?;
    let team = association_id(&body, "Team")?;
    change(
        &state,
        &caller,
        &role,
        Target::Team(team),
        is_disassociate(&body),
    )
    .await
}

async fn post_user_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let user = super::users::load_visible(&state, &caller, &id).await?;
    let role = role_for_grant(&state, association_id(&body, "Role")?).await?;
    change(
        &state,
        &caller,
        &role,
        Target::User(user.id),
        is_disassociate(&body),
    )
    .await
}

async fn post_team_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let team = super::teams::load_visible(&state, &caller, &id).await?;
    let role = role_for_grant(&state, association_id(&body, "Role")?).await?;
    change(
        &state,
        &caller,
        &role,
        Target::Team(team.id),
        is_disassociate(&body),
    )
    .await
}
