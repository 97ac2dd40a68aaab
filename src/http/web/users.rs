//! User pages: the users the viewer may see (superusers and organization admins add
//! one), and one user with the roles granted to them.

use super::form::FormErrors;
use super::{error_page, first_rows, render, Posted, Viewer};
use crate::http::{roles as api_roles, users as api_users, AppState};
use crate::service::{roles, users};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde_json::{Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/", get(list).post(create))
        .route("/users/{id}/", get(detail))
}

async fn list_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    errors: FormErrors,
) -> Response {
    match users::list(&state.ctx, &viewer.caller, &first_rows("username")).await {
        Ok((page, _, found)) => render(
            status,
            "users.html",
            context! {
                frame => viewer.frame(),
                rows => api_users::render_all(&found),
                count => page.count,
                errors => errors,
            },
        ),
        Err(e) => error_page(viewer, e),
    }
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    list_page(&state, &viewer, StatusCode::OK, FormErrors::default()).await
}

async fn create(State(state): State<AppState>, viewer: Viewer, Posted(form): Posted) -> Response {
    let mut body = Map::new();
    for key in ["username", "password", "first_name", "last_name", "email"] {
        body.insert(key.into(), Value::from(form.get(key).unwrap_or_default()));
    }
    match users::create(&state.ctx, &viewer.caller, &body).await {
        Ok(created) => match created.rows.first() {
            Some(u) => Redirect::to(&format!("/users/{}/", u.id)).into_response(),
            None => Redirect::to("/users/").into_response(),
        },
        Err(crate::service::Error::Validation(v)) => {
            list_page(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                FormErrors::from_answer(&v),
            )
            .await
        }
        Err(e) => error_page(&viewer, e),
    }
}

async fn detail(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let ctx = &state.ctx;
    let user = match users::detail(ctx, &viewer.caller, &id).await {
        Ok(found) => api_users::render_all(&found).pop(),
        Err(e) => return error_page(&viewer, e),
    };
    let Some(user) = user else {
        return error_page(&viewer, crate::service::Error::NotFound("User"));
    };
    let granted = match roles::list_of_user(ctx, &viewer.caller, &id, &first_rows("id")).await {
        Ok((_, _, found)) => found
            .rows
            .iter()
            .map(|r| api_roles::render_role(r, None))
            .collect::<Vec<_>>(),
        Err(e) => return error_page(&viewer, e),
    };
    render(
        StatusCode::OK,
        "user.html",
        context! {frame => viewer.frame(), user => user, roles => granted},
    )
}
