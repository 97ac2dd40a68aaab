//! The forms that name who joins or leaves something, or gets or loses a role: a user by
//! username, or (for role grants) a team by id, and whether it is taken away. One reading
//! of them for the credential, organization and team pages.

use super::form::Fields;
use super::{error_page, Viewer};
use crate::http::AppState;
use crate::service::{roles, users};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};

/// The user a form names by username (as the API's `{"id": N}`, no right to read the
/// user is needed; the change's own rules decide).
pub(super) async fn named_user(
    state: &AppState,
    viewer: &Viewer,
    form: &Fields,
) -> Result<i64, Response> {
    let username = form.text("username").unwrap_or_default();
    users::id_by_username(&state.ctx, username)
        .await
        .map_err(|e| error_page(viewer, e))
}

/// The association body for `id`: `{"id": N}`, with `"disassociate": true` when the form's
/// action takes it away (`remove` or `revoke`).
pub(super) fn association(id: i64, form: &Fields) -> Map<String, Value> {
    let taken_away = matches!(form.get("action"), Some("remove" | "revoke"));
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    body.insert("disassociate".into(), Value::Bool(taken_away));
    body
}

/// Grants role `role` to the team (by id) or the user (by username) the form names, or
/// takes it away, through the one grant use case; then shows `back`.
pub(super) async fn change_role(
    state: &AppState,
    viewer: &Viewer,
    role: i64,
    form: &Fields,
    back: &str,
) -> Response {
    let (teams_list, grantee) = match form.text("team") {
        Some(team) => (true, team.parse::<i64>().unwrap_or_default()),
        None => match named_user(state, viewer, form).await {
            Ok(user) => (false, user),
            Err(page) => return page,
        },
    };
    let body = association(grantee, form);
    match roles::change_members(&state.ctx, &viewer.caller, role, teams_list, &body).await {
        Ok(()) => Redirect::to(back).into_response(),
        Err(e) => error_page(viewer, e),
    }
}
