//! The test endpoints of external lookups: `POST /credentials/{id}/test/` (use role; stored
//! inputs merged under the body's, `$encrypted$` meaning "the stored value"; the stored
//! secrets only go along when the body changes no public input, or for an admin of the
//! credential; every call leaves an activity entry) and
//! `POST /credential_types/{id}/test/` (superusers; the body as is). Success is `202 {}`:
//! the secret itself is never returned. Failures are `400 {"inputs": "<reason>"}`.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, JsonObject};
use super::{method_not_allowed, AppState};
use crate::domain::activity::ActivityRecord;
use crate::domain::credential::{changed_public_inputs, DESTINATION_INPUTS, ENCRYPTED};
use crate::domain::rbac::Level;
use crate::plugins::{lookup, Kwargs};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

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
    super::credentials::load(&state, &caller, &id).await?;
    Ok(Json(json!({})))
}

async fn type_get(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "CredentialType")?;
    state
        .store
        .credential_type(id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))?;
    Ok(Json(json!({})))
}

fn object(body: &Map<String, Value>, key: &str) -> Map<String, Value> {
    body.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Runs the lookup and answers in AWX's shape.
async fn answer(namespace: Option<&str>, external: bool, kwargs: Kwargs) -> Response {
    let result = match (external, namespace) {
        (true, Some(ns)) => lookup(ns, &kwargs).await.map(|_| ()),
        _ => Err(crate::plugins::LookupError::Kind("AttributeError")),
    };
    match result {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({}))).into_response(),
        Err(e) => {
            tracing::info!(reason = %e, "external credential test failed");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"inputs": e.to_string()})),
            )
                .into_response()
        }
    }
}

async fn credential_test(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let (cred, level) = super::credentials::load(&state, &caller, &id).await?;
    if level < Level::Use {
        return Err(ApiError::Forbidden(None));
    }
    let ty = state
        .store
        .credential_type(cred.credential_type_id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))?;
    let public: Map<String, Value> = serde_json::from_str(&cred.inputs).unwrap_or_default();
    let requested = object(&body, "inputs");
    let changed = changed_public_inputs(&state.schemas.schema(&ty.inputs), &public, &requested);
    let with_stored_secrets = changed.is_empty() || level >= Level::Admin;
    let mut kwargs = Kwargs::default();
    for (k, v) in public.iter().filter(|(_, v)| v.as_str() != Some(ENCRYPTED)) {
        kwargs.set_json(k, v);
    }
    if with_stored_secrets {
        for (k, v) in super::credentials::stored_secrets(&state, &cred).await? {
            kwargs.set_secret(&k, v);
        }
    }
    for (k, v) in requested
        .iter()
        .filter(|(_, v)| v.as_str() != Some(ENCRYPTED))
    {
        kwargs.set_json(k, v);
    }
    kwargs.extend_json(&object(&body, "metadata"));
    let destination = DESTINATION_INPUTS.iter().find_map(|k| kwargs.non_empty(k));
    let record = ActivityRecord::lookup_test(
        caller.user_id,
        cred.id,
        destination,
        &changed,
        with_stored_secrets,
    );
    state.store.record_activity(&record).await?;
    Ok(answer(
        cred.type_namespace.as_deref(),
        cred.type_kind == "external",
        kwargs,
    )
    .await)
}

async fn type_test(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = parse_id(&id, "CredentialType")?;
    let ty = state
        .store
        .credential_type(id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))?;
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let mut kwargs = Kwargs::default();
    kwargs.extend_json(&object(&body, "inputs"));
    kwargs.extend_json(&object(&body, "metadata"));
    Ok(answer(ty.namespace.as_deref(), ty.kind == "external", kwargs).await)
}
