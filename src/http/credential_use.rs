//! Rendering credentials for a job: `POST /api/v2/credentials/{id}/render/` and
//! `POST /api/v2/credentials/render/` (rules in `service::render`). The answer carries
//! secrets by design, so it is never cached anywhere (`Cache-Control: no-store`) and
//! never enters the answer cache; GET is refused.

use super::auth::{client_address, Auth};
use super::error::ApiResult;
use super::extract::JsonObject;
use super::{method_not_allowed, AppState};
use crate::domain::injection::{Prompt, RenderedFile};
use crate::service::render::{self, Outcome, Request, Used};
use axum::extract::{Path, State};
use axum::http::{header, Extensions, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credentials/render/",
            post(render_many).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/render/",
            post(render_one).fallback(method_not_allowed),
        )
}

fn request(body: &serde_json::Map<String, Value>, extensions: &Extensions) -> ApiResult<Request> {
    let client = client_address(extensions).map(|a| a.ip().to_string());
    Ok(Request::from_body(body, client)?)
}

async fn render_one(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extensions: Extensions,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let request = request(&body, &extensions)?;
    let outcome = render::render_one(&state.ctx, &caller, &id, request).await?;
    Ok(answer(&outcome, true))
}

async fn render_many(
    State(state): State<AppState>,
    Auth(caller): Auth,
    extensions: Extensions,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let request = request(&body, &extensions)?;
    let outcome = render::render_many(&state.ctx, &caller, &body, request).await?;
    Ok(answer(&outcome, false))
}

fn used(c: &Used) -> Value {
    json!({"id": c.id, "name": c.name, "kind": c.kind, "type": c.type_id, "type_name": c.type_name})
}

fn file(f: &RenderedFile) -> Value {
    json!({"id": f.id, "credential": f.credential, "path": f.path, "content": f.content, "env_var": f.env_var})
}

fn prompt(p: &Prompt) -> Value {
    json!({"prompt": p.prompt, "value": p.value})
}

/// The rendered job view; `credential` names the one credential of a single render.
fn answer(outcome: &Outcome, single: bool) -> Response {
    let r = &outcome.rendered;
    let mut body = json!({
        "env": r.env,
        "safe_env": r.safe_env,
        "extra_vars": r.extra_vars,
        "files": r.files.iter().map(file).collect::<Vec<_>>(),
        "args": r.args,
        "passwords": r.passwords.iter().map(prompt).collect::<Vec<_>>(),
        "credentials": outcome.credentials.iter().map(used).collect::<Vec<_>>(),
    });
    if single {
        if let (Some(first), Some(map)) = (outcome.credentials.first(), body.as_object_mut()) {
            map.insert("credential".into(), used(first));
        }
    }
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
