//! The web interface: server-rendered pages over the same use cases as the API. A page
//! handler extracts the signed-in user, calls `service` functions, and renders a
//! template with what they return (often the very JSON the API answers, so a page shows
//! what the API shows). Templates, the stylesheet and the one script are compiled into
//! the binary; nothing is fetched from another host.
//!
//! Sessions are the API's (`awx_sessionid`); every form that changes something carries
//! the `csrftoken` cookie's value in a hidden field (double submit), checked in constant
//! time before any use case runs.

mod activity;
mod credential_types;
mod credentials;
mod form;
mod grants;
mod input_sources;
mod organizations;
mod teams;
mod users;

use super::auth::{client_address, cookie, random_secret, CSRF_COOKIE, SESSION_COOKIE};
use super::error::ApiError;
use super::AppState;
use crate::domain::rbac::Caller;
use crate::service::auth;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{context, Environment, Value};
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::OnceLock;
use subtle::ConstantTimeEq;

/// Routes of the web interface (everything outside `/api/`).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login/", get(login_page).post(login))
        .route("/logout/", post(logout))
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
        .merge(credentials::routes())
        .merge(credential_types::routes())
        .merge(activity::routes())
        .merge(input_sources::routes())
        .merge(organizations::routes())
        .merge(teams::routes())
        .merge(users::routes())
        .layer(middleware::from_fn(security_headers))
}

const STYLESHEET: &str = include_str!("static/app.css");
const SCRIPT: &str = include_str!("static/app.js");

/// The templates, parsed once. Names ending in `.html` are auto-escaped.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("login.html", include_str!("templates/login.html")),
            ("error.html", include_str!("templates/error.html")),
            ("confirm.html", include_str!("templates/confirm.html")),
            (
                "credentials.html",
                include_str!("templates/credentials.html"),
            ),
            ("credential.html", include_str!("templates/credential.html")),
            (
                "credential_form.html",
                include_str!("templates/credential_form.html"),
            ),
            (
                "choose_type.html",
                include_str!("templates/choose_type.html"),
            ),
            (
                "credential_types.html",
                include_str!("templates/credential_types.html"),
            ),
            (
                "credential_type.html",
                include_str!("templates/credential_type.html"),
            ),
            (
                "credential_type_form.html",
                include_str!("templates/credential_type_form.html"),
            ),
            ("activity.html", include_str!("templates/activity.html")),
            (
                "organizations.html",
                include_str!("templates/organizations.html"),
            ),
            (
                "organization.html",
                include_str!("templates/organization.html"),
            ),
            ("team.html", include_str!("templates/team.html")),
            (
                "source_form.html",
                include_str!("templates/source_form.html"),
            ),
            ("test_form.html", include_str!("templates/test_form.html")),
            ("users.html", include_str!("templates/users.html")),
            ("user.html", include_str!("templates/user.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a web template does not parse");
            }
        }
        env
    })
}

/// The signed-in user of a page, and the CSRF token its forms carry.
pub(super) struct Viewer {
    pub caller: Caller,
    pub username: String,
    pub csrf: String,
}

impl Viewer {
    /// What every page's frame shows: who is signed in and the token for its forms.
    fn frame(&self) -> Value {
        context! {
            username => self.username,
            csrf => self.csrf,
            superuser => self.caller.is_superuser,
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    /// A page without a live session sends the browser to the sign-in page, which
    /// brings it back afterwards.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let back = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let to_login = || {
            let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            Redirect::to(&format!("/login/?next={next}")).into_response()
        };
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let Ok(session) = auth::session(&state.ctx, secret).await else {
            return Err(to_login());
        };
        let caller = auth::session_caller(&state.ctx, session)
            .await
            .map_err(|_| to_login())?;
        let username = crate::service::users::me(&state.ctx, &caller)
            .await
            .ok()
            .and_then(|u| u.rows.into_iter().next())
            .map(|u| u.username)
            .unwrap_or_default();
        let csrf = cookie(&parts.headers, CSRF_COOKIE)
            .unwrap_or_default()
            .to_string();
        Ok(Viewer {
            caller,
            username,
            csrf,
        })
    }
}

/// The refusal of a form whose hidden token does not match the CSRF cookie (another
/// site's page can post a form here but cannot read the cookie); `None` for a good one.
pub(super) fn forged_form(headers: &HeaderMap, sent: &str) -> Option<Response> {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let matches: bool = sent.as_bytes().ct_eq(expected.as_bytes()).into();
    (expected.is_empty() || !matches).then(|| {
        message_page(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Reload the page and try again.",
        )
    })
}

/// A posted form whose hidden token matched the CSRF cookie: a handler that takes one
/// never sees a forged post (it is answered 403 first).
struct Posted(form::Fields);

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Form(fields) = Form::<form::Fields>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match forged_form(&headers, fields.token()) {
            Some(refused) => Err(refused),
            None => Ok(Posted(fields)),
        }
    }
}

/// The first 200 rows in this order: enough for the pages' short lists and selects.
fn first_rows(order: &str) -> crate::service::lists::QueryPairs {
    crate::service::lists::QueryPairs(vec![
        ("page_size".into(), "200".into()),
        ("order_by".into(), order.into()),
    ])
}

/// Renders a template as a page with this status.
pub(super) fn render(status: StatusCode, name: &str, ctx: Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a web page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown; the error has been logged.",
            )
                .into_response()
        }
    }
}

/// A page with only a message (errors, refusals).
pub(super) fn message_page(status: StatusCode, message: &str) -> Response {
    render(
        status,
        "error.html",
        context! {status => status.as_u16(), message => message},
    )
}

/// A failed use case as a page: its status and a sentence for a person.
pub(super) fn error_page(viewer: &Viewer, e: impl Into<ApiError>) -> Response {
    let e = e.into();
    let message = match &e {
        ApiError::Forbidden(Some(m)) => m.clone(),
        ApiError::Forbidden(None) => "You do not have permission to do this.".into(),
        ApiError::NotFound(_) | ApiError::Hidden => "There is nothing here.".into(),
        ApiError::BadRequest(v) | ApiError::Validation(v) => form::plain_text(v),
        ApiError::Conflict => "Someone changed this at the same time; try again.".into(),
        ApiError::TooManyRequests(s) => format!("Too many attempts; wait {s} seconds."),
        _ => "Something went wrong on the server; it has been logged.".into(),
    };
    let status = e.into_response().status();
    render(
        status,
        "error.html",
        context! {frame => viewer.frame(), status => status.as_u16(), message => message},
    )
}

/// The pager of a list page: this page, how many there are, and the links to the pages
/// before and after it (`link` makes the URL of page N with the list's own query).
fn pager(page: &crate::store::Page, size: i64, link: impl Fn(i64) -> String) -> Value {
    let current = page.page.unwrap_or(1);
    let pages = ((page.count + size - 1) / size.max(1)).max(1);
    let to = |p: i64| (p >= 1 && p <= pages).then(|| link(p));
    context! {page => current, pages => pages, previous => to(current - 1), next => to(current + 1)}
}

/// The answer to a form post: the page `done` names when the use case succeeded; the
/// form again (`again`, with the use case's messages beside their fields) when it refused
/// the input; an error page otherwise.
async fn after_post<T>(
    viewer: &Viewer,
    result: crate::service::Result<T>,
    done: impl FnOnce(T) -> String,
    again: impl AsyncFnOnce(form::FormErrors) -> Response,
) -> Response {
    match result {
        Ok(value) => Redirect::to(&done(value)).into_response(),
        Err(crate::service::Error::Validation(v) | crate::service::Error::BadRequest(v)) => {
            again(form::FormErrors::from_answer(&v)).await
        }
        Err(e) => error_page(viewer, e),
    }
}

/// Security headers of every page: no script but our own file, no framing, no sniffing,
/// and nothing cached (pages show who is signed in and what they may see).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn home() -> Redirect {
    Redirect::to("/credentials/")
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The page to go to after signing in: a path of this site, never another host.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/credentials/".into(),
    }
}

/// The sign-in form; sets the CSRF cookie its post must echo.
async fn login_page(
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    let (token, set) = csrf_token(&headers);
    let mut r = render(
        StatusCode::OK,
        "login.html",
        context! {csrf => token, next => local_path(q.next.as_deref())},
    );
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The CSRF cookie's value, and a `Set-Cookie` when the browser has none yet.
fn csrf_token(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(existing) = cookie(headers, CSRF_COOKIE).filter(|c| !c.is_empty()) {
        return (existing.to_string(), None);
    }
    let token = random_secret(32);
    let set = HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/; SameSite=Lax")).ok();
    (token, set)
}

/// Missing fields are empty (a bad form is refused by its token or its password, not by
/// the form parser's 422).
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Some(refused) = forged_form(&headers, &form.csrf_token) {
        return refused;
    }
    let next = local_path(form.next.as_deref());
    let client = client_address(&extensions).map(|a| a.ip());
    let password = SecretString::from(form.password);
    let failed = |message: &str| {
        render(
            StatusCode::UNAUTHORIZED,
            "login.html",
            context! {csrf => form.csrf_token, next => next, username => form.username, error => message},
        )
    };
    match auth::login(&state.ctx, &form.username, password, client).await {
        Ok(Some(session)) => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => {
            super::auth::log_failed_login(&form.username, &extensions);
            failed("Invalid username or password. Please try again.")
        }
        Err(crate::service::Error::Throttled(seconds)) => failed(&format!(
            "Too many failed sign-ins. Try again in {seconds} seconds."
        )),
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            failed("Signing in failed on the server; the error has been logged.")
        }
    }
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

/// Ends the session (POST with the form token, so another site cannot sign you out).
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(refused) = forged_form(&headers, &form.csrf_token) {
        return refused;
    }
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = auth::logout(&state.ctx, session).await {
            tracing::error!(error = %e, "sign-out failed");
        }
    }
    let mut r = Redirect::to("/login/").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("awx_sessionid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
    );
    r
}
