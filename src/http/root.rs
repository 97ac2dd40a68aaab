//! Discovery: `/` (to the API root until there is a web interface), `/api/`, `/api/v2/`,
//! ping, config and `me`.

use super::auth::Auth;
use super::error::ApiResult;
use super::extract::QueryPairs;
use super::{render, AppState, AWX_VERSION};
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

/// The resources listed by `/api/v2/`: the CLI turns these keys into sub-commands.
const V2_RESOURCES: [(&str, &str); 13] = [
    ("ping", "ping"),
    ("config", "config"),
    ("me", "me"),
    ("organizations", "organizations"),
    ("users", "users"),
    ("teams", "teams"),
    ("credentials", "credentials"),
    ("credential_types", "credential_types"),
    ("credential_input_sources", "credential_input_sources"),
    ("tokens", "tokens"),
    ("inventory", "inventories"),
    ("roles", "roles"),
    ("metrics", "metrics"),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/", get(api_root))
        .route("/api/v2/", get(v2_root))
        .route("/api/v2/ping/", get(ping))
        .route("/api/v2/metrics/", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v2/config/", get(config))
        .route("/api/v2/me/", get(me))
}

/// Anonymous: the API versions.
async fn api_root() -> Json<Value> {
    Json(json!({
        "description": "AWX REST API",
        "current_version": "/api/v2/",
        "available_versions": {"v2": "/api/v2/"},
        "oauth2": "/api/o/",
        "custom_logo": "",
        "custom_login_info": "",
        "login_redirect_override": "",
        "swagger": "/api/swagger/"
    }))
}

/// Anonymous: resource name → relative URL.
async fn v2_root() -> Json<Value> {
    let mut map: Map<String, Value> = V2_RESOURCES
        .iter()
        .map(|(k, path)| (k.to_string(), Value::String(format!("/api/v2/{path}/"))))
        .collect();
    // A document, not a resource: no trailing slash.
    map.insert("openapi".into(), json!("/api/v2/openapi.json"));
    Json(Value::Object(map))
}

/// Anonymous readiness check.
async fn ping(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "ha": false,
        "version": AWX_VERSION,
        "active_node": "credstore",
        "install_uuid": &*state.install_uuid,
        "instances": [],
        "instance_groups": []
    }))
}

/// Prometheus metrics for superusers and system auditors (OpenMetrics text).
async fn metrics(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> super::error::ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let text =
        crate::service::metrics::scrape(&state.ctx, &caller, &state.install_uuid, AWX_VERSION)
            .await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Liveness for orchestrators: the process answers. Anonymous, says nothing else.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness for load balancers: the database answers a read of credstore's own tables
/// (so migrations ran) and the key ring is loaded. 503 with the reason otherwise.
async fn readyz(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match crate::service::health::ready(&state.ctx).await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(reason) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        )
            .into_response(),
    }
}

/// A minimal `/config/` for clients that read the version and license type.
async fn config(_auth: Auth) -> Json<Value> {
    Json(json!({
        "time_zone": "UTC",
        "license_info": {"license_type": "open", "valid_key": true, "subscription_name": "OPEN", "product_name": "AWX"},
        "version": AWX_VERSION,
        "eula": "",
        "analytics_status": "off",
        "become_methods": [["sudo", "Sudo"], ["su", "Su"], ["pbrun", "Pbrun"], ["pfexec", "Pfexec"],
            ["dzdo", "DZDO"], ["pmrun", "Pmrun"], ["runas", "Runas"], ["enable", "Enable"], ["doas", "Doas"],
            ["ksu", "Ksu"], ["machinectl", "Machinectl"], ["sesu", "Sesu"]],
        "project_base_dir": "/var/lib/awx/projects/",
        "project_local_paths": [],
        "custom_virtualenvs": []
    }))
}

/// The caller, as a one-item list page.
async fn me(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let _ = QueryPairs::parse(raw.as_deref());
    let me = crate::service::users::me(&state.ctx, &caller).await?;
    let results: Vec<Value> = me
        .rows
        .iter()
        .zip(&me.capabilities)
        .map(|(u, caps)| render::user(u, *caps))
        .collect();
    Ok(Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}
