//! Who holds a credential: `owner_users`, `owner_teams`, `object_roles`, `access_list`,
//! the users and roles that give access to a credential.

use super::auth::Auth;
use super::error::ApiResult;
use super::extract::QueryPairs;
use super::{method_not_allowed, AppState};
use crate::domain::rbac::role_display;
use crate::service::credential_access::{self, AccessList};
use crate::service::lists::PageRequest;
use crate::service::{roles, teams};
use crate::store::{Page, UserRow};
use crate::store::{RoleInfo, TeamGrant};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credentials/{id}/owner_users/",
            get(owner_users).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/owner_teams/",
            get(owner_teams).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/object_roles/",
            get(object_roles).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/access_list/",
            get(access_list).fallback(method_not_allowed),
        )
}

/// Appends AWX's view default (`username`) after the client's ordering.
fn with_username_order(mut q: QueryPairs) -> QueryPairs {
    let given = q
        .get("order_by")
        .or_else(|| q.get("order"))
        .map(str::to_string);
    q.0.retain(|(k, _)| k != "order_by" && k != "order");
    let order = match given {
        Some(o) if !o.trim().is_empty() => format!("{o},username"),
        _ => "username".to_string(),
    };
    q.0.push(("order_by".into(), order));
    q
}

/// Users holding the credential's admin role directly.
async fn owner_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = with_username_order(QueryPairs::parse(raw.as_deref()));
    let listed = credential_access::list_owner_users(&state.ctx, &caller, &id, &q).await?;
    Ok(super::users::render_page(uri.path(), &q, listed))
}

/// Teams whose admin role owns the credential.
async fn owner_teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = teams::list_owning_credential(&state.ctx, &caller, &id, &q).await?;
    Ok(super::teams::render_page(uri.path(), &q, listed))
}

/// The credential's three roles.
async fn object_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let listed = roles::list_of_credential(&state.ctx, &caller, &id, &q).await?;
    Ok(super::roles::render_page(uri.path(), &q, listed))
}

const CREDENTIAL_FIELDS: [&str; 3] = ["admin_role", "use_role", "read_role"];

/// Everyone with any access: superusers, system auditors, and holders of a credential role,
/// each with the grants that give it (`direct_access` on the credential itself,
/// `indirect_access` through teams and organizations).
async fn access_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = with_username_order(QueryPairs::parse(raw.as_deref()));
    let (page, req, results) = access_items(&state, &caller, &id, &q).await?;
    Ok(super::page_response(uri.path(), &q, &page, &req, results))
}

/// One page of the access list as the API shows its items (also the web page's).
pub(super) async fn access_items(
    state: &AppState,
    caller: &crate::domain::rbac::Caller,
    id: &str,
    q: &QueryPairs,
) -> ApiResult<(Page, PageRequest, Vec<Value>)> {
    let (page, req, access) = credential_access::list_access(&state.ctx, caller, id, q).await?;
    let mut results = Vec::with_capacity(access.users.rows.len());
    for (u, caps) in access.users.rows.iter().zip(&access.users.capabilities) {
        let mut item = super::render::user(u, *caps);
        let (direct, indirect) = access_entries(u, &access);
        if let Some(summary) = item
            .get_mut("summary_fields")
            .and_then(Value::as_object_mut)
        {
            summary.remove("user_capabilities");
            summary.insert("direct_access".into(), Value::Array(direct));
            summary.insert("indirect_access".into(), Value::Array(indirect));
        }
        results.push(item);
    }
    Ok((page, req, results))
}

fn access_entries(u: &UserRow, access: &AccessList) -> (Vec<Value>, Vec<Value>) {
    let (credential_id, paths, via_roles) =
        (access.credential_id, &access.paths, &access.via_roles);
    let mut direct = Vec::new();
    let mut indirect = Vec::new();
    for system in [
        (
            u.is_superuser,
            "system_administrator",
            &CREDENTIAL_FIELDS[..],
        ),
        (
            u.is_system_auditor,
            "system_auditor",
            &CREDENTIAL_FIELDS[2..],
        ),
    ] {
        if system.0 {
            let (name, description) = role_display(None, system.1);
            indirect.push(json!({
                "role": {"id": null, "name": name, "description": description, "user_capabilities": {"unattach": false}},
                "descendant_roles": system.2,
            }));
        }
    }
    let mut by_via: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for p in paths.iter().filter(|p| p.user_id == u.id) {
        by_via
            .entry(p.via_role)
            .or_default()
            .push(p.role_field.as_str());
    }
    let (mut through_teams, mut through_teams_indirectly) = (Vec::new(), Vec::new());
    for (via, fields) in by_via {
        let Some(role) = via_roles.get(&via) else {
            continue;
        };
        if let Some(grant) = access.team_grants.get(&via) {
            let entries = team_entries(access, grant);
            if grant.direct {
                through_teams.extend(entries);
            } else {
                through_teams_indirectly.extend(entries);
            }
            continue;
        }
        let entry = json!({"role": role_json(access, role, None), "descendant_roles": fields});
        if role.content_type.as_deref() == Some("credential")
            && role.object_id == Some(credential_id)
        {
            direct.push(entry);
        } else {
            indirect.push(entry);
        }
    }
    // AWX lists a user's own roles on the credential, then the roles held through teams.
    direct.extend(through_teams);
    direct.extend(through_teams_indirectly);
    (direct, indirect)
}

/// A role as the access list shows it; `team` adds the team it is held through.
fn role_json(access: &AccessList, role: &RoleInfo, team: Option<&TeamGrant>) -> Value {
    let (name, description) = role_display(role.content_type.as_deref(), &role.role_field);
    let ct = role.content_type.clone().unwrap_or_default();
    let mut out = Map::new();
    out.insert("id".into(), json!(role.id));
    out.insert("name".into(), json!(name));
    out.insert("description".into(), json!(description));
    if let Some(team) = team {
        out.insert("team_id".into(), json!(team.team_id));
        out.insert("team_name".into(), json!(team.team_name));
        out.insert(
            "team_organization_name".into(),
            json!(team.team_organization_name),
        );
    }
    out.insert("resource_name".into(), json!(role.resource_name));
    out.insert("resource_type".into(), json!(ct));
    out.insert(
        "related".into(),
        json!({ct.clone(): format!("/api/v2/{ct}s/{}/", role.object_id.unwrap_or_default())}),
    );
    out.insert(
        "user_capabilities".into(),
        json!({"unattach": access.may_unattach(&ct)}),
    );
    Value::Object(out)
}

/// The entries of a role held through a team: one per role of the team's member role that
/// leads to the credential, each naming the team.
fn team_entries(access: &AccessList, grant: &TeamGrant) -> Vec<Value> {
    grant
        .shown
        .iter()
        .filter_map(|id| access.shown_roles.get(id))
        .map(|role| json!({"role": role_json(access, role, Some(grant)), "descendant_roles": grant.implied}))
        .collect()
}
