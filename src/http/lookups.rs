//! The test endpoints of external lookups: `POST /credentials/{id}/test/` and
//! `POST /credential_types/{id}/test/` (rules in `service::lookups`). Success is `202 {}`:
//! the secret itself is never returned. Failures are `400 {"inputs": "<reason>"}`.

use super::auth::Auth;
use super::error::ApiResult;
use super::extract::{parse_id, JsonObject};
use super::{method_not_allowed, AppState};
use crate::service::lookups::{self, Outcome};
use crate::service::{credential_types, credentials};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credentials/{id}/test/",
            get(credential_get)
                .post(credential_test)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_types/{id}/test/",
            get(type_get).post(type_test).fallback(method_not_allowed),
        )
}

async fn credential_get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    credentials::get(&state.ctx, &caller, &id).await?;
    Ok(Json(json!({})))
}

async fn type_get(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "CredentialType")?;
    credential_types::by_id(&state.ctx, id).await?;
    Ok(Json(json!({})))
}

/// A test's answer in AWX's shape: `202 {}`, or `400 {"inputs": "<reason>"}`.
fn answer(outcome: Outcome) -> Response {
    match outcome {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({}))).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"inputs": e.to_string()})),
        )
            .into_response(),
    }
}

async fn credential_test(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let outcome = lookups::test_credential(&state.ctx, &caller, &id, &body).await?;
    Ok(answer(outcome))
}

async fn type_test(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = parse_id(&id, "CredentialType")?;
    Ok(answer(
        lookups::test_type(&state.ctx, &caller, id, &body).await?,
    ))
}
