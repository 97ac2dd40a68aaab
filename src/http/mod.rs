//! HTTP: routing, extractors, authentication, error mapping and pagination. Handlers are
//! thin: they extract, call one `service` function, and render its answer.

mod activity_stream;
pub mod auth;
pub mod cache;
mod credential_access;
mod credential_sublists;
mod credential_types;
mod credential_use;
mod credentials;
pub mod error;
pub mod extract;
mod input_sources;
mod lookups;
pub mod openapi;
mod options;
mod organizations;
pub mod pagination;
mod render;
mod roles;
mod root;
mod session;
mod teams;
mod tokens;
mod users;
mod web;

use crate::service::lists::PageRequest;
use crate::service::Context;
use crate::store::Page;
use auth::Auth;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::{ApiError, ApiResult};
use extract::QueryPairs;
use std::sync::Arc;

/// The AWX version credstore reports; clients check its major number.
pub const AWX_VERSION: &str = "24.6.1";

/// Everything a request handler needs; cloned per request (all fields are shared).
#[derive(Clone, Debug)]
pub struct AppState {
    /// What the use cases need; handlers pass it to `service` functions.
    pub ctx: Context,
    /// Rendered credential answers for repeated reads.
    pub responses: Arc<cache::ResponseCache>,
    /// Identifies this installation in `/api/v2/ping/`.
    pub install_uuid: Arc<str>,
}

/// Builds the whole API router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(root::routes())
        .merge(organizations::routes())
        .merge(users::routes())
        .merge(teams::routes())
        .merge(credential_types::routes())
        .merge(credentials::routes())
        .merge(roles::routes())
        .merge(lookups::routes())
        .merge(activity_stream::routes())
        .merge(input_sources::routes())
        .merge(tokens::routes())
        .merge(session::routes())
        .merge(credential_sublists::routes())
        .merge(credential_access::routes())
        .merge(credential_use::routes())
        .merge(openapi::routes())
        .merge(absent_routes())
        .merge(web::routes())
        .fallback(fallback)
        .layer(middleware::from_fn(awx_headers))
        .with_state(state)
}

/// Routes for the AWX resources credstore does not hold.
fn absent_routes() -> Router<AppState> {
    let mut r = Router::new();
    for res in options::ABSENT_RESOURCES {
        r = r.route(
            &format!("/api/v2/{res}/"),
            axum::routing::any(options::absent),
        );
    }
    r
}

/// Paths without a trailing slash are redirected (301) to the slashed path, as Django
/// does; anything else unknown is a 404 in AWX's shape.
async fn fallback(OriginalUri(uri): OriginalUri) -> Response {
    let path = uri.path();
    if path.starts_with("/api") && !path.ends_with('/') {
        let target = match uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, target)]).into_response();
    }
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"detail": "Not found."})),
    )
        .into_response()
}

/// The longest query string served: room for the 100 conditions a filter may have
/// (`domain::filter::MAX_CONDITIONS`), never megabytes of them to parse.
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Adds the product headers and `Allow` to every response, and logs one line per request.
async fn awx_headers(mut req: Request, next: Next) -> Response {
    if req.uri().query().is_some_and(|q| q.len() > MAX_QUERY_BYTES) {
        return ApiError::BadRequest(
            format!("The query string is too long: at most {MAX_QUERY_BYTES} bytes.").into(),
        )
        .into_response();
    }
    let authenticated = req.headers().contains_key(header::AUTHORIZATION)
        || auth::cookie(req.headers(), auth::SESSION_COOKIE).is_some();
    let csrf = if req.uri().path() == "/api/" {
        session::csrf_cookie_if_missing(req.headers())
    } else {
        None
    };
    let allow = allow_for(req.uri().path());
    let deprecated = is_deprecated(req.uri().path());
    let started = std::time::Instant::now();
    let method = req.method().clone();
    // Shared, not copied: the text is only needed when the request line is logged.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let client = auth::client_address(req.extensions());
    let request_id = request_id(req.headers());
    let caller = auth::CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let mut response = next.run(req).await;
    let status = response.status();
    let elapsed = started.elapsed();
    let route_name = route
        .as_ref()
        .map_or("-", axum::extract::MatchedPath::as_str);
    crate::metrics::metrics().request(method.as_str(), route_name, status.as_u16(), elapsed);
    // The route pattern, not the path: no ids, names, query strings, bodies or credentials.
    tracing::info!(
        target: "credstore::request",
        %method,
        route = %route_name,
        status = status.as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        user = caller.user_id(),
        client = client.map(|a| a.ip().to_string()).as_deref(),
        request_id = %request_id,
        "request"
    );
    let bare = response
        .extensions()
        .get::<error::WithoutApiHeaders>()
        .is_some();
    let headers = response.headers_mut();
    if !bare {
        headers.insert("x-api-product-name", HeaderValue::from_static("AWX"));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}s", elapsed.as_secs_f64())) {
        headers.insert("x-api-time", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if authenticated && status != StatusCode::UNAUTHORIZED && !bare {
        headers.insert(
            "x-api-product-version",
            HeaderValue::from_static(AWX_VERSION),
        );
    }
    if let Some(c) = csrf {
        headers.append(header::SET_COOKIE, c);
    }
    if deprecated {
        headers.insert(
            header::WARNING,
            HeaderValue::from_static("299 awx \"This resource has been deprecated and will be removed in a future release.\""),
        );
    }
    if let (Some(allow), false) = (allow, bare) {
        headers
            .entry(header::ALLOW)
            .or_insert(HeaderValue::from_static(allow));
    }
    response
}

/// The header that names a request in the client's, the proxy's and credstore's logs.
const REQUEST_ID: &str = "x-request-id";

/// The request's id: the one a client or proxy sent, when it is a plausible id (at most
/// 128 visible ASCII characters, so it can go into a header and a log line unescaped),
/// else a new random one.
fn request_id(headers: &axum::http::HeaderMap) -> String {
    let sent = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
    match sent {
        Some(id) => id.to_string(),
        None => {
            // An id, not a secret: the thread's generator, no system call per request.
            let id: u128 = rand::random();
            format!("{:024x}", id >> 32)
        }
    }
}

/// The legacy role endpoints AWX marks deprecated (its answers carry a `Warning: 299`).
fn is_deprecated(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        ["api", "v2", "roles", ..]
            | ["api", "v2", "users" | "teams", _, "roles"]
            | [
                "api",
                "v2",
                "credentials" | "organizations" | "teams" | "credential_types",
                _,
                "object_roles" | "access_list"
            ]
    )
}

/// The methods a path supports, for the `Allow` header.
fn allow_for(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api"] | ["api", "v2"] | ["api", "v2", "ping" | "me" | "activity_stream" | "roles"] => {
            Some("GET, HEAD, OPTIONS")
        }
        ["api", "v2", "config"] => Some("GET, POST, DELETE, HEAD, OPTIONS"),
        ["api", "v2", "credentials", "render"] | ["api", "v2", "credentials", _, "render"] => {
            Some("POST, OPTIONS")
        }
        ["api", "v2", _] => Some("GET, POST, HEAD, OPTIONS"),
        ["api", "v2", "roles" | "activity_stream", _] => Some("GET, HEAD, OPTIONS"),
        ["api", "v2", _, _] => Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS"),
        ["api", "v2", "credentials", _, "copy"] => Some("GET, POST, HEAD, OPTIONS"),
        ["api", "v2", "credential_types", _, "credentials"] => Some("GET, POST, HEAD, OPTIONS"),
        ["api", "v2", "credentials", _, "owner_users" | "owner_teams" | "object_roles" | "access_list" | "activity_stream"]
        | ["api", "v2", "credential_types", _, "object_roles"] => Some("GET, HEAD, OPTIONS"),
        ["api", "v2", _, _, "activity_stream"] => Some("GET, HEAD, OPTIONS"),
        ["api", "v2", _, _, _] => Some("GET, POST, HEAD, OPTIONS"),
        _ => None,
    }
}

/// Answers methods a route does not support: 401 before 405, as AWX does. OPTIONS on
/// any route is answered here, from the resource field tables.
async fn method_not_allowed(
    State(state): State<AppState>,
    Auth(caller): Auth,
    method: Method,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    if method == Method::OPTIONS {
        return options::respond(&state, &caller, uri.path()).await;
    }
    Err(ApiError::MethodNotAllowed(method.to_string()))
}

/// Wraps rendered rows into the pagination envelope.
pub(crate) fn page_response(
    path: &str,
    q: &QueryPairs,
    page: &Page,
    req: &PageRequest,
    results: Vec<serde_json::Value>,
) -> axum::Json<serde_json::Value> {
    axum::Json(pagination::envelope(
        path,
        q,
        req,
        page.page.unwrap_or(1),
        page.count,
        results,
    ))
}

/// 201 with `Location`, as AWX answers creates.
pub(crate) fn created(url: &str, body: serde_json::Value) -> Response {
    let mut r = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
