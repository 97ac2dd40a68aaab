//! `/api/v2/users/`. Superusers create and change users; users may change themselves.

use super::auth::{hash_password, Auth};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::render;
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::credential_type::{optional_string, required_string};
use crate::domain::errors::FieldErrors;
use crate::domain::rbac::Caller;
use crate::domain::resource::USER;
use crate::store::sql::Sql;
use crate::store::{UserRow, UserWrite};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{json, Map, Value};

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

/// A page of users within `scope`.
pub(super) async fn list_users(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let (page, req) = list_ids(state, &USER, scope, q).await?;
    let rows = state.store.users_by_ids(&page.ids).await?;
    let results = rows.iter().map(|u| render::user(u, caller)).collect();
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

async fn load(state: &AppState, raw: &str) -> ApiResult<UserRow> {
    let id = parse_id(raw, "User")?;
    state
        .store
        .user(id)
        .await?
        .ok_or(ApiError::NotFound("User"))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = load(&state, &id).await?;
    Ok(Json(render::user(&u, &caller)))
}

/// Reads `{"id": N}` of an association POST with AWX's messages.
pub(super) fn association_id(body: &Map<String, Value>, model: &str) -> ApiResult<i64> {
    match body.get("id") {
        None => Err(ApiError::Validation(
            json!({"msg": format!("{model} 'id' field is missing.")}),
        )),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| {
                ApiError::Validation(json!({"msg": "\"id\" field must be an integer."}))
            }),
    }
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

fn flag(body: &Map<String, Value>, key: &str, current: bool) -> bool {
    match body.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => crate::domain::filter::parse_bool(s).unwrap_or(current),
        _ => current,
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
        (v, _) => required_string(&mut errors, "username", v.cloned()),
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
            body,
            "is_superuser",
            current.is_some_and(|c| c.is_superuser),
        ),
        is_system_auditor: flag(
            body,
            "is_system_auditor",
            current.is_some_and(|c| c.is_system_auditor),
        ),
    };
    errors.into_result()?;
    Ok(ParsedUser { write, password })
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let parsed = parse_user(&body, None, true)?;
    let password = parsed.password.ok_or(ApiError::Internal(
        "password missing after validation".into(),
    ))?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let id = state.store.create_user(&parsed.write, &hash).await?;
    let u = state
        .store
        .user(id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    Ok(created(
        &format!("/api/v2/users/{id}/"),
        render::user(&u, &caller),
    ))
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let u = load(&state, id).await?;
    if !caller.is_superuser && caller.user_id != u.id {
        return Err(ApiError::Forbidden(None));
    }
    let mut parsed = parse_user(&body, Some(&u).filter(|_| partial).or(Some(&u)), false)?;
    if !caller.is_superuser {
        parsed.write.is_superuser = u.is_superuser;
        parsed.write.is_system_auditor = u.is_system_auditor;
    }
    let hash = match parsed.password {
        Some(p) => Some(
            tokio::task::spawn_blocking(move || hash_password(&p))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))??,
        ),
        None => None,
    };
    state
        .store
        .update_user(u.id, &parsed.write, hash.as_deref())
        .await?;
    let u = state
        .store
        .user(u.id)
        .await?
        .ok_or(ApiError::NotFound("User"))?;
    Ok(Json(render::user(&u, &caller)))
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
    let u = load(&state, &id).await?;
    if !caller.is_superuser || caller.user_id == u.id {
        return Err(ApiError::Forbidden(None));
    }
    state.store.delete_user(u.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
