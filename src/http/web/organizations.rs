//! Organization pages: the list (superusers add one), and one organization with its
//! members, admins and teams, which its admins change here.

use super::form::Fields;
use super::{error_page, first_rows, grants, render, Posted, Viewer};
use crate::http::{organizations as api_orgs, teams as api_teams, users as api_users, AppState};
use crate::service::organizations::{self, Membership};
use crate::service::{teams, users};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/organizations/", get(list).post(create))
        .route("/organizations/{id}/", get(detail))
        .route("/organizations/{id}/members/", post(change_members))
        .route("/organizations/{id}/teams/", post(create_team))
        .route("/organizations/{id}/roles/", post(change_role))
}

/// The organization roles granted from the page (members and admins have their lists).
const GRANTED_HERE: [&str; 4] = [
    "auditor_role",
    "credential_admin_role",
    "execute_role",
    "read_role",
];

/// The organizations the viewer sees, as a select offers them.
pub(super) async fn options(state: &AppState, viewer: &Viewer) -> crate::service::Result<Value> {
    let (_, _, orgs) = organizations::list(&state.ctx, &viewer.caller, &first_rows("name")).await?;
    Ok(orgs
        .rows
        .iter()
        .map(|o| json!({"id": o.id, "name": o.name}))
        .collect())
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    match organizations::list(&state.ctx, &viewer.caller, &first_rows("name")).await {
        Ok((page, _, orgs)) => render(
            StatusCode::OK,
            "organizations.html",
            context! {frame => viewer.frame(), rows => api_orgs::render_all(&orgs), count => page.count},
        ),
        Err(e) => error_page(&viewer, e),
    }
}

/// A body of one form: `name` and `description`.
fn named(form: &Fields) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert(
        "name".into(),
        Value::from(form.get("name").unwrap_or_default()),
    );
    body.insert(
        "description".into(),
        Value::from(form.get("description").unwrap_or_default()),
    );
    body
}

async fn create(State(state): State<AppState>, viewer: Viewer, Posted(form): Posted) -> Response {
    match organizations::create(&state.ctx, &viewer.caller, &named(&form)).await {
        Ok(orgs) => match orgs.rows.first() {
            Some(o) => Redirect::to(&format!("/organizations/{}/", o.id)).into_response(),
            None => Redirect::to("/organizations/").into_response(),
        },
        Err(e) => error_page(&viewer, e),
    }
}

async fn detail(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let ctx = &state.ctx;
    let caller = &viewer.caller;
    let orgs = match organizations::detail(ctx, caller, &id).await {
        Ok(orgs) => orgs,
        Err(e) => return error_page(&viewer, e),
    };
    let Some(org) = api_orgs::render_all(&orgs).pop() else {
        return error_page(&viewer, crate::service::Error::NotFound("Organization"));
    };
    let q = first_rows("username");
    let members = organizations::list_members(ctx, caller, &id, Membership::Members, &q).await;
    let admins = organizations::list_members(ctx, caller, &id, Membership::Admins, &q).await;
    let org_teams = teams::list_of_organization(ctx, caller, &id, &first_rows("name")).await;
    let (members, admins, org_teams) = match (members, admins, org_teams) {
        (Ok(m), Ok(a), Ok(t)) => (
            api_users::render_all(&m.2),
            api_users::render_all(&a.2),
            api_teams::render_all(&t.2),
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(&viewer, e),
    };
    let roles = match role_holders(&state, &viewer, &org).await {
        Ok(roles) => roles,
        Err(e) => return error_page(&viewer, e),
    };
    render(
        StatusCode::OK,
        "organization.html",
        context! {
            frame => viewer.frame(),
            org => org,
            members => members,
            admins => admins,
            teams => org_teams,
            roles => roles,
        },
    )
}

/// Who holds each role granted from the page: users directly, and teams.
async fn role_holders(
    state: &AppState,
    viewer: &Viewer,
    org: &Value,
) -> crate::service::Result<Vec<Value>> {
    let mut out = Vec::new();
    for field in GRANTED_HERE {
        let role = &org["summary_fields"]["object_roles"][field];
        let Some(id) = role["id"].as_i64() else {
            continue;
        };
        let q = first_rows("id");
        let (_, _, holders) = users::list_granted_role(&state.ctx, &viewer.caller, id, &q).await?;
        let (_, _, granted) = teams::list_granted_role(&state.ctx, &viewer.caller, id, &q).await?;
        out.push(json!({
            "field": field,
            "name": role["name"],
            "description": role["description"],
            "users": holders.rows.iter().map(|u| u.username.clone()).collect::<Vec<_>>(),
            "teams": granted.rows.iter().map(|t| json!({"id": t.id, "name": t.name})).collect::<Vec<_>>(),
        }));
    }
    Ok(out)
}

/// Grants or takes away an organization role, to a user (by name) or a team of it.
async fn change_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let ctx = &state.ctx;
    let field = form.get("role").unwrap_or_default();
    let orgs = match organizations::detail(ctx, &viewer.caller, &id).await {
        Ok(orgs) => orgs,
        Err(e) => return error_page(&viewer, e),
    };
    let role = orgs
        .roles
        .values()
        .flatten()
        .find(|r| r.role_field == field && GRANTED_HERE.contains(&field));
    let Some(role) = role else {
        return error_page(
            &viewer,
            crate::service::Error::BadRequest(json!("Choose a role.")),
        );
    };
    let back = format!("/organizations/{id}/#roles");
    grants::change_role(&state, &viewer, role.id, &form, &back).await
}

/// Adds or removes a member or an admin, named by username.
async fn change_members(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let ctx = &state.ctx;
    let which = match form.get("list") {
        Some("admins") => Membership::Admins,
        _ => Membership::Members,
    };
    let user = match grants::named_user(&state, &viewer, &form).await {
        Ok(user) => user,
        Err(page) => return page,
    };
    let body = grants::association(user, &form);
    match organizations::change_member(ctx, &viewer.caller, &id, which, &body).await {
        Ok(()) => Redirect::to(&format!("/organizations/{id}/")).into_response(),
        Err(e) => error_page(&viewer, e),
    }
}

async fn create_team(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    match teams::create_in_organization(&state.ctx, &viewer.caller, &id, named(&form)).await {
        Ok(created) => match created.rows.first() {
            Some(t) => Redirect::to(&format!("/teams/{}/", t.id)).into_response(),
            None => Redirect::to(&format!("/organizations/{id}/")).into_response(),
        },
        Err(e) => error_page(&viewer, e),
    }
}
