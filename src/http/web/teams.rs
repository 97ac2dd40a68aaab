//! Team pages: one team with its members (changed here by the team's admins) and the
//! roles its members hold through it.

use super::{error_page, first_rows, render, Posted, Viewer};
use crate::http::{roles as api_roles, teams as api_teams, users as api_users, AppState};
use crate::service::{roles, teams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/teams/{id}/", get(detail))
        .route("/teams/{id}/members/", post(change_members))
}

async fn detail(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let ctx = &state.ctx;
    let caller = &viewer.caller;
    let team = match teams::detail(ctx, caller, &id).await {
        Ok(found) => api_teams::render_all(&found).pop(),
        Err(e) => return error_page(&viewer, e),
    };
    let Some(team) = team else {
        return error_page(&viewer, crate::service::Error::NotFound("Team"));
    };
    let members = teams::list_members(ctx, caller, &id, &first_rows("username")).await;
    let granted = roles::list_of_team(ctx, caller, &id, &first_rows("id")).await;
    let (members, granted) = match (members, granted) {
        (Ok(m), Ok(g)) => (
            api_users::render_all(&m.2),
            g.2.rows
                .iter()
                .map(|r| api_roles::render_role(r, None))
                .collect::<Vec<_>>(),
        ),
        (Err(e), _) | (_, Err(e)) => return error_page(&viewer, e),
    };
    render(
        StatusCode::OK,
        "team.html",
        context! {frame => viewer.frame(), team => team, members => members, roles => granted},
    )
}

/// Adds or removes a member, named by username.
async fn change_members(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let user = match super::grants::named_user(&state, &viewer, &form).await {
        Ok(user) => user,
        Err(page) => return page,
    };
    let body = super::grants::association(user, &form);
    match teams::change_member(&state.ctx, &viewer.caller, &id, &body).await {
        Ok(()) => Redirect::to(&format!("/teams/{id}/")).into_response(),
        Err(e) => error_page(&viewer, e),
    }
}
