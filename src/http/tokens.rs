//! `/api/v2/tokens/` and personal tokens: the secret is shown once, at creation; only its
//! SHA-256 is stored. The `awx.awx` collection creates one per module run and deletes it.

use super::auth::{digest, random_secret, Auth};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::errors::FieldErrors;
use crate::domain::rbac::Caller;
use crate::domain::resource::TOKEN;
use crate::store::sql::{Bind, Sql};
use crate::store::TokenRow;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

/// How long a token lives.
const TOKEN_LIFETIME_DAYS: i64 = 365;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/tokens/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/tokens/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/users/{id}/tokens/",
            get(user_tokens)
                .post(user_create)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/users/{id}/personal_tokens/",
            get(user_tokens)
                .post(user_create)
                .fallback(method_not_allowed),
        )
}

fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        Sql::raw("1=1")
    } else {
        Sql::with("tokens.user_id = ?", vec![Bind::Int(caller.user_id)])
    }
}

async fn render(state: &AppState, t: &TokenRow, secret: Option<&str>) -> ApiResult<Value> {
    let user = state.store.user(t.user_id).await?;
    let summary = user
        .as_ref()
        .map(|u| json!({"id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name}));
    Ok(json!({
        "id": t.id, "type": "o_auth2_access_token", "url": format!("/api/v2/tokens/{}/", t.id),
        "related": {"user": format!("/api/v2/users/{}/", t.user_id), "activity_stream": format!("/api/v2/tokens/{}/activity_stream/", t.id)},
        "summary_fields": {"user": summary},
        "created": t.created, "modified": t.modified, "description": t.description, "user": t.user_id,
        "token": secret.unwrap_or("************"), "refresh_token": if secret.is_some() { Value::Null } else { json!("************") },
        "application": null, "expires": t.expires, "scope": t.scope,
    }))
}

fn parse_scope(errors: &mut FieldErrors, v: Option<&Value>, default: &str) -> String {
    match v {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::String(s)) if s == "read" || s == "write" => s.clone(),
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            errors.add(
                "scope",
                format!("Invalid scope: {shown}. Must be one of: ['read', 'write']"),
            );
            default.to_string()
        }
    }
}

fn parse_description(errors: &mut FieldErrors, v: Option<&Value>, default: &str) -> String {
    crate::domain::credential_type::optional_string(errors, "description", v.cloned())
        .unwrap_or_else(|| default.to_string())
}

/// Issues a token for `user_id` and answers 201 with the secret, shown this once.
async fn issue(state: &AppState, user_id: i64, body: &Map<String, Value>) -> ApiResult<Response> {
    let mut errors = FieldErrors::new();
    let description = parse_description(&mut errors, body.get("description"), "");
    let scope = parse_scope(&mut errors, body.get("scope"), "write");
    errors.into_result()?;
    let secret = random_secret(40);
    let expires = (chrono::Utc::now() + chrono::Duration::days(TOKEN_LIFETIME_DAYS))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let id = state
        .store
        .create_token(user_id, &description, &scope, &digest(&secret), &expires)
        .await?;
    let row = state
        .store
        .token(id)
        .await?
        .ok_or(ApiError::NotFound("OAuth2AccessToken"))?;
    Ok(created(
        &format!("/api/v2/tokens/{id}/"),
        render(state, &row, Some(&secret)).await?,
    ))
}

async fn list_tokens(
    state: &AppState,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let (page, req) = list_ids(state, &TOKEN, scope, q).await?;
    let mut results = Vec::new();
    for t in state.store.tokens_by_ids(&page.ids).await? {
        results.push(render(state, &t, None).await?);
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
    list_tokens(&state, uri.path(), &q, visibility(&caller)).await
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    issue(&state, caller.user_id, &body).await
}

async fn load(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<TokenRow> {
    let t = state
        .store
        .token(parse_id(raw, "OAuth2AccessToken")?)
        .await?
        .ok_or(ApiError::NotFound("OAuth2AccessToken"))?;
    if t.user_id != caller.user_id && !caller.sees_everything() {
        return Err(ApiError::Forbidden(None));
    }
    Ok(t)
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = load(&state, &caller, &id).await?;
    Ok(Json(render(&state, &t, None).await?))
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
) -> ApiResult<Json<Value>> {
    let t = load(&state, &caller, id).await?;
    if t.user_id != caller.user_id && !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let mut errors = FieldErrors::new();
    let description = parse_description(&mut errors, body.get("description"), &t.description);
    let scope = parse_scope(&mut errors, body.get("scope"), &t.scope);
    errors.into_result()?;
    state.store.update_token(t.id, &description, &scope).await?;
    let t = state
        .store
        .token(t.id)
        .await?
        .ok_or(ApiError::NotFound("OAuth2AccessToken"))?;
    Ok(Json(render(&state, &t, None).await?))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body).await
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body).await
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = load(&state, &caller, &id).await?;
    if t.user_id != caller.user_id && !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    state.store.delete_token(t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's tokens: the user themselves, superusers and auditors.
async fn user_tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let user = super::users::load_visible(&state, &caller, &id).await?;
    if user.id != caller.user_id && !caller.sees_everything() {
        return Err(ApiError::Forbidden(None));
    }
    let q = QueryPairs::parse(raw.as_deref());
    list_tokens(
        &state,
        uri.path(),
        &q,
        Sql::with("tokens.user_id = ?", vec![Bind::Int(user.id)]),
    )
    .await
}

/// Personal tokens are only issued to the user themselves.
async fn user_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let user = super::users::load_visible(&state, &caller, &id).await?;
    if user.id != caller.user_id {
        return Err(ApiError::Forbidden(None));
    }
    issue(&state, user.id, &body).await
}
