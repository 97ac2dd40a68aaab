//! `/api/v2/users/`. Superusers manage every user; organization admins create users and
//! manage the users whose every organization they administer; users change themselves.

use super::auth::{hash_password_off_runtime, Auth};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::named::resolve;
use super::render;
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::activity::{diff, user_fields, ActivityRecord};
use crate::domain::credential_type::{optional_string, required_string};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::Caller;
use crate::domain::resource::USER;
use crate::domain::username::check_username;
use crate::store::sql::{Bind, Sql};
use crate::store::{UserRow, UserWrite};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Map, Value};

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

/// Users the caller may see: themselves and the members of organizations they can see.
pub(super) fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        return Sql::raw("1=1");
    }
    let mut sql = Sql::with(
        "(users.id = ? OR users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE r.content_type = 'organization' AND r.role_field IN ('member_role', 'admin_role') AND ",
        vec![Bind::Int(caller.user_id)],
    );
    sql.push(crate::store::readable_sql(
        "r.object_id",
        "organization",
        caller.user_id,
    ));
    sql.text.push_str("))");
    sql
}

/// True when the caller may change `user`: superusers, and admins of every organization
/// the user belongs to (at least one); never for superusers or auditors by non-superusers.
pub(super) async fn may_admin(
    state: &AppState,
    caller: &Caller,
    user: &UserRow,
) -> ApiResult<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    if user.is_superuser || user.is_system_auditor {
        return Ok(false);
    }
    let orgs = state.store.user_organizations(user.id).await?;
    if orgs.is_empty() {
        return Ok(false);
    }
    for o in orgs {
        if !state
            .store
            .holds_role(caller.user_id, "organization", o, "admin_role")
            .await?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A page of users within `scope` (the caller's visibility is added here).
pub(super) async fn list_users(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let scope = crate::store::sql::and_all(vec![scope, visibility(caller)]);
    let (page, req) = list_ids(state, &USER, scope, q).await?;
    let rows = state.store.users_by_ids(&page.ids).await?;
    let mut results = Vec::with_capacity(rows.len());
    for u in &rows {
        results.push(render::user(u, caller, may_admin(state, caller, u).await?));
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
    list_users(&state, &caller, uri.path(), &q, Sql::raw("1=1")).await
}

/// Loads a user the caller can see: 404 when missing, 403 when hidden.
pub(super) async fn load_visible(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<UserRow> {
    let resolved = resolve(state, NamedKind::User, raw, "User").await?;
    let id = resolved.id;
    let user = state
        .store
        .user(id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    if !caller.sees_everything() {
        let scope = crate::store::sql::and_all(vec![
            Sql::with("users.id = ?", vec![Bind::Int(id)]),
            visibility(caller),
        ]);
        let (page, _) = list_ids(state, &USER, scope, &QueryPairs(Vec::new())).await?;
        if page.count == 0 {
            return Err(resolved.hide(ApiError::Forbidden(None), "User"));
        }
    }
    Ok(user)
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = load_visible(&state, &caller, &id).await?;
    let admin = may_admin(&state, &caller, &u).await?;
    Ok(Json(render::detail(render::user(&u, &caller, admin))))
}

struct ParsedUser {
    write: UserWrite,
    password: Option<SecretString>,
}

fn text(
    errors: &mut FieldErrors,
    body: &Map<String, Value>,
    key: &str,
    current: Option<&str>,
) -> String {
    optional_string(errors, key, body.get(key).cloned())
        .or_else(|| current.map(str::to_string))
        .unwrap_or_default()
}

fn flag(errors: &mut FieldErrors, body: &Map<String, Value>, key: &str, current: bool) -> bool {
    match body.get(key) {
        None | Some(Value::Null) => current,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) if n.as_i64() == Some(1) || n.as_i64() == Some(0) => {
            n.as_i64() == Some(1)
        }
        Some(Value::String(s)) => match crate::domain::filter::parse_bool(s) {
            Ok(b) => b,
            Err(_) => {
                errors.add(key, "Must be a valid boolean.");
                current
            }
        },
        Some(_) => {
            errors.add(key, "Must be a valid boolean.");
            current
        }
    }
}

fn parse_user(
    body: &Map<String, Value>,
    current: Option<&UserRow>,
    creating: bool,
) -> ApiResult<ParsedUser> {
    let mut errors = FieldErrors::new();
    let username = match (body.get("username"), current) {
        (None, Some(c)) => Some(c.username.clone()),
        (v, _) => required_string(&mut errors, "username", v.cloned()).filter(|name| {
            let checked = check_username(name);
            if let Err(message) = checked {
                errors.add("username", message);
            }
            checked.is_ok()
        }),
    };
    let password = match body.get("password") {
        Some(Value::String(p)) if !p.is_empty() && p != "$encrypted$" => {
            Some(SecretString::from(p.clone()))
        }
        _ if creating => {
            errors.add("password", "This field is required.");
            None
        }
        _ => None,
    };
    let write = UserWrite {
        username: username.unwrap_or_default(),
        first_name: text(
            &mut errors,
            body,
            "first_name",
            current.map(|c| c.first_name.as_str()),
        ),
        last_name: text(
            &mut errors,
            body,
            "last_name",
            current.map(|c| c.last_name.as_str()),
        ),
        email: text(
            &mut errors,
            body,
            "email",
            current.map(|c| c.email.as_str()),
        ),
        is_superuser: flag(
            &mut errors,
            body,
            "is_superuser",
            current.is_some_and(|c| c.is_superuser),
        ),
        is_system_auditor: flag(
            &mut errors,
            body,
            "is_system_auditor",
            current.is_some_and(|c| c.is_system_auditor),
        ),
    };
    crate::domain::resource::USER.check_announced_lengths(body, &mut errors);
    errors.into_result()?;
    Ok(ParsedUser { write, password })
}

/// The fields the activity stream records for a user (the password as `"hidden"`).
fn recorded(w: &UserWrite) -> Map<String, Value> {
    user_fields(
        &w.username,
        &w.first_name,
        &w.last_name,
        &w.email,
        w.is_superuser,
    )
}

/// Superusers create any user; organization admins create plain users.
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let org_admin = !caller.is_superuser
        && state
            .store
            .administers_any_organization(caller.user_id)
            .await?;
    if !caller.is_superuser && !org_admin {
        return Err(ApiError::Forbidden(None));
    }
    let mut parsed = parse_user(&body, None, true)?;
    if !caller.is_superuser && (parsed.write.is_superuser || parsed.write.is_system_auditor) {
        return Err(ApiError::Forbidden(None));
    }
    let password = parsed.password.take().ok_or(ApiError::Internal(
        "password missing after validation".into(),
    ))?;
    let id = state
        .store
        .create_user(
            &parsed.write,
            &hash_password_off_runtime(password).await?,
            &ActivityRecord::create(Some(caller.user_id), "user", recorded(&parsed.write)),
        )
        .await?;
    let u = state
        .store
        .user(id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    let admin = may_admin(&state, &caller, &u).await?;
    Ok(created(
        &format!("/api/v2/users/{id}/"),
        render::detail(render::user(&u, &caller, admin || org_admin)),
    ))
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let u = load_visible(&state, &caller, id).await?;
    let admin = may_admin(&state, &caller, &u).await?;
    if !admin && caller.user_id != u.id {
        return Err(ApiError::Forbidden(None));
    }
    let current = if partial { Some(&u) } else { None };
    let mut parsed = parse_user(&body, current.or(Some(&u)), false)?;
    if !partial && !body.contains_key("username") {
        return Err(ApiError::Validation(
            FieldErrors::one("username", "This field is required.").into_json(),
        ));
    }
    let escalates = parsed.write.is_superuser != u.is_superuser
        || parsed.write.is_system_auditor != u.is_system_auditor;
    if escalates && !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let new_hash = match parsed.password.take() {
        Some(p) => Some(hash_password_off_runtime(p).await?),
        None => None,
    };
    let before = user_fields(
        &u.username,
        &u.first_name,
        &u.last_name,
        &u.email,
        u.is_superuser,
    );
    let mut changes = diff(&before, &recorded(&parsed.write));
    if new_hash.is_some() {
        changes.insert("password".into(), serde_json::json!(["hidden", "hidden"]));
    }
    let record = ActivityRecord::update_with(Some(caller.user_id), "user", u.id, changes);
    state
        .store
        .update_user(u.id, &parsed.write, new_hash.as_deref(), record.as_ref())
        .await?;
    let u = state
        .store
        .user(u.id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    Ok(Json(render::detail(render::user(&u, &caller, admin))))
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
    let u = load_visible(&state, &caller, &id).await?;
    if caller.user_id == u.id || !may_admin(&state, &caller, &u).await? {
        return Err(ApiError::Forbidden(None));
    }
    let fields = user_fields(
        &u.username,
        &u.first_name,
        &u.last_name,
        &u.email,
        u.is_superuser,
    );
    state
        .store
        .delete_user(
            u.id,
            &ActivityRecord::delete(Some(caller.user_id), "user", u.id, fields),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
