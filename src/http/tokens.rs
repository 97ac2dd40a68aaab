//! `/api/v2/tokens/` and personal tokens: the secret is shown once, at creation; only its
//! SHA-256 is stored. The `awx.awx` collection creates one per module run and deletes it.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject, QueryPairs};
use super::{created, method_not_allowed, page_response, AppState};
use crate::service::lists::PageRequest;
use crate::service::tokens::{self, Issued, Tokens};
use crate::store::{Page, TokenRow};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

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

/// A token. `refresh_token` is always null: personal tokens belong to no OAuth2
/// application, and AWX has a refresh token only for those.
fn render_token(tokens: &Tokens, t: &TokenRow, secret: Option<&str>) -> Value {
    let summary = tokens.owners.get(&t.user_id).map(
        |u| json!({"id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name}),
    );
    json!({
        "id": t.id, "type": "o_auth2_access_token", "url": format!("/api/v2/tokens/{}/", t.id),
        "related": {"user": format!("/api/v2/users/{}/", t.user_id), "activity_stream": format!("/api/v2/tokens/{}/activity_stream/", t.id)},
        "summary_fields": {"user": summary},
        "created": t.created, "modified": t.modified, "description": t.description, "user": t.user_id,
        "token": secret.unwrap_or("************"), "refresh_token": null,
        "application": null, "expires": t.expires, "scope": t.scope,
    })
}

fn render_page(
    path: &str,
    q: &QueryPairs,
    (page, req, tokens): (Page, PageRequest, Tokens),
) -> Json<Value> {
    let results = tokens
        .rows
        .iter()
        .map(|t| render_token(&tokens, t, None))
        .collect();
    page_response(path, q, &page, &req, results)
}

fn render_one(tokens: &Tokens) -> ApiResult<Value> {
    let t = tokens
        .rows
        .first()
        .ok_or(ApiError::NotFound("OAuth2AccessToken"))?;
    Ok(render_token(tokens, t, None))
}

/// 201 with the secret, shown this once.
fn render_issued(issued: &Issued) -> ApiResult<Response> {
    let t = issued
        .tokens
        .rows
        .first()
        .ok_or(ApiError::NotFound("OAuth2AccessToken"))?;
    Ok(created(
        &format!("/api/v2/tokens/{}/", t.id),
        render_token(&issued.tokens, t, Some(&issued.secret)),
    ))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = tokens::list(&state.ctx, &caller, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    render_issued(&tokens::issue(&state.ctx, &caller, &body).await?)
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "OAuth2AccessToken")?;
    let found = tokens::detail(&state.ctx, &caller, id).await?;
    Ok(Json(render_one(&found)?))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "OAuth2AccessToken")?;
    Ok(Json(render_one(
        &tokens::update(&state.ctx, &caller, id, &body).await?,
    )?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "OAuth2AccessToken")?;
    Ok(Json(render_one(
        &tokens::update(&state.ctx, &caller, id, &body).await?,
    )?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "OAuth2AccessToken")?;
    tokens::delete(&state.ctx, &caller, id).await?;
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
    let q = QueryPairs::parse(raw.as_deref());
    let listed = tokens::list_of_user(&state.ctx, &caller, &id, &q).await?;
    Ok(render_page(uri.path(), &q, listed))
}

/// Personal tokens are only issued to the user themselves.
async fn user_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    render_issued(&tokens::issue_personal(&state.ctx, &caller, &id, &body).await?)
}
