//! `/api/v2/teams/` and team membership. Organization admins create teams in their
//! organization; team admins (and so organization admins) change and delete them.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::named::resolve;
use super::render::{self, People};
use super::roles::{association_id, is_disassociate};
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::activity::{team_fields, ActivityRecord};
use crate::domain::credential::{parse_pk, PkValue};
use crate::domain::credential_type::{optional_string, required_string};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::Caller;
use crate::domain::resource::TEAM;
use crate::store::sql::{Bind, Sql};
use crate::store::TeamRow;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

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

/// Teams the caller may see.
pub(super) fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        Sql::raw("1=1")
    } else {
        crate::store::readable_sql("teams.id", "team", caller.user_id)
    }
}

async fn is_admin(state: &AppState, caller: &Caller, team: i64) -> ApiResult<bool> {
    Ok(caller.is_superuser
        || state
            .store
            .holds_role(caller.user_id, "team", team, "admin_role")
            .await?)
}

async fn render_many(state: &AppState, ids: &[i64], caller: &Caller) -> ApiResult<Vec<Value>> {
    let rows = state.store.teams_by_ids(ids).await?;
    let people = People::load(
        &state.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    let org_ids: Vec<i64> = rows.iter().map(|t| t.organization_id).collect();
    let orgs = state.store.organizations_by_ids(&org_ids).await?;
    let roles = state.store.object_roles("team", ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for t in &rows {
        let mine: Vec<_> = roles
            .iter()
            .filter(|r| r.object_id == t.id)
            .cloned()
            .collect();
        let org = orgs.iter().find(|o| o.id == t.organization_id);
        let admin = is_admin(state, caller, t.id).await?;
        out.push(render::team(t, org, &people, &mine, admin));
    }
    Ok(out)
}

/// A page of teams within `scope`.
pub(super) async fn list_teams(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let level = super::role_level_scope(caller, q, "teams.id", "team")?;
    let scope = crate::store::sql::and_all(vec![scope, level]);
    let (page, req) = list_ids(state, &TEAM, scope, q).await?;
    let results = render_many(state, &page.ids, caller).await?;
    Ok(page_response(path, q, &page, &req, results))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    list_teams(&state, &caller, uri.path(), &q, visibility(&caller)).await
}

/// Loads a team the caller can see: 404 when missing, 403 when hidden.
pub(super) async fn load_visible(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<TeamRow> {
    let resolved = resolve(state, NamedKind::Team, raw, "Team").await?;
    let id = resolved.id;
    let team = state
        .store
        .team(id)
        .await?
        .ok_or(ApiError::NotFound("Team"))?;
    if !caller.sees_everything()
        && !state
            .store
            .holds_role(caller.user_id, "team", id, "read_role")
            .await?
    {
        return Err(resolved.hide(ApiError::Forbidden(None), "Team"));
    }
    Ok(team)
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = load_visible(&state, &caller, &id).await?;
    let mut out = render_many(&state, &[t.id], &caller).await?;
    out.pop()
        .map(render::detail)
        .map(Json)
        .ok_or(ApiError::NotFound("Team"))
}

async fn parse_body(
    state: &AppState,
    body: &Map<String, Value>,
    current: Option<&TeamRow>,
) -> ApiResult<(String, String, i64)> {
    let mut errors = FieldErrors::new();
    let name = match (body.get("name"), current) {
        (None, Some(c)) => Some(c.name.clone()),
        (v, _) => required_string(&mut errors, "name", v.cloned()),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    let org = match (body.get("organization"), current) {
        (None, Some(c)) => Some(c.organization_id),
        (v, _) => match parse_pk(&mut errors, "organization", v) {
            PkValue::Id(id) => Some(id),
            PkValue::None => {
                if !errors.has("organization") {
                    errors.add("organization", "This field is required.");
                }
                None
            }
        },
    };
    if let Some(o) = org {
        if state.store.organization(o).await?.is_none() {
            errors.add(
                "organization",
                format!("Invalid pk \"{o}\" - object does not exist."),
            );
        }
    }
    crate::domain::resource::TEAM.check_announced_lengths(body, &mut errors);
    errors.into_result()?;
    Ok((
        name.unwrap_or_default(),
        description,
        org.unwrap_or_default(),
    ))
}

/// The name of an organization, for activity entries.
async fn org_name(state: &AppState, org: i64) -> ApiResult<String> {
    Ok(state
        .store
        .organization(org)
        .await?
        .map(|o| o.name)
        .unwrap_or_default())
}

/// Creates a team: superusers anywhere, organization admins in their organization.
pub(super) async fn create_team(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Value>,
) -> ApiResult<Response> {
    let claimed_org = body.get("organization").and_then(|v| v.as_i64());
    let allowed = match claimed_org {
        _ if caller.is_superuser => true,
        Some(o) => {
            state
                .store
                .holds_role(caller.user_id, "organization", o, "admin_role")
                .await?
        }
        None => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden(None));
    }
    let (name, description, org) = parse_body(state, body, None).await?;
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "team",
        team_fields(&name, &description, (&org_name(state, org).await?, org)),
    );
    let id = state
        .store
        .create_team(&name, &description, org, Some(caller.user_id), &record)
        .await?;
    let mut out = render_many(state, &[id], caller).await?;
    Ok(created(
        &format!("/api/v2/teams/{id}/"),
        render::detail(out.pop().unwrap_or_default()),
    ))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    create_team(&state, &caller, &body).await
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let t = load_visible(&state, &caller, id).await?;
    if !is_admin(&state, &caller, t.id).await? {
        return Err(ApiError::Forbidden(None));
    }
    let (name, description, org) = parse_body(&state, &body, partial.then_some(&t)).await?;
    if org != t.organization_id
        && !caller.is_superuser
        && !state
            .store
            .holds_role(caller.user_id, "organization", org, "admin_role")
            .await?
    {
        return Err(ApiError::Forbidden(None));
    }
    let before = team_fields(
        &t.name,
        &t.description,
        (
            &org_name(&state, t.organization_id).await?,
            t.organization_id,
        ),
    );
    let after = team_fields(&name, &description, (&org_name(&state, org).await?, org));
    let record = ActivityRecord::update(Some(caller.user_id), "team", t.id, &before, &after);
    state
        .store
        .update_team(
            t.id,
            &name,
            &description,
            org,
            Some(caller.user_id),
            record.as_ref(),
        )
        .await?;
    let mut out = render_many(&state, &[t.id], &caller).await?;
    out.pop()
        .map(render::detail)
        .map(Json)
        .ok_or(ApiError::NotFound("Team"))
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
    let t = load_visible(&state, &caller, &id).await?;
    if !is_admin(&state, &caller, t.id).await? {
        return Err(ApiError::Forbidden(None));
    }
    let fields = team_fields(
        &t.name,
        &t.description,
        (
            &org_name(&state, t.organization_id).await?,
            t.organization_id,
        ),
    );
    let record = ActivityRecord::delete(Some(caller.user_id), "team", t.id, fields);
    state.store.delete_team(t.id, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let t = load_visible(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE r.content_type = 'team' AND r.object_id = ? AND r.role_field = 'member_role')",
        vec![Bind::Int(t.id)],
    );
    super::users::list_users(&state, &caller, uri.path(), &q, scope).await
}

/// `{"id": N}` adds user N to the team; `"disassociate": true` removes them.
async fn post_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    let t = load_visible(&state, &caller, &id).await?;
    let user_id = association_id(&body, "User")?;
    if !is_admin(&state, &caller, t.id).await? {
        return Err(ApiError::Forbidden(None));
    }
    if state.store.user(user_id).await?.is_none() {
        return Err(ApiError::BadRequest(json!(
            "User matching query does not exist."
        )));
    }
    state
        .store
        .set_team_member(t.id, user_id, !is_disassociate(&body), Some(caller.user_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
