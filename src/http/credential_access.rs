//! Who holds a credential: `owner_users`, `owner_teams`, `object_roles`, `access_list`,
//! the users and roles that give access to a credential.

use super::auth::Auth;
use super::error::ApiResult;
use super::extract::QueryPairs;
use super::{method_not_allowed, AppState};
use crate::domain::rbac::role_display;
use crate::service::credential_access::{self, AccessList};
use crate::service::{roles, teams};
use crate::store::UserRow;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
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
    let (page, req, access) = credential_access::list_access(&state.ctx, &caller, &id, &q).await?;
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
    Ok(super::page_response(uri.path(), &q, &page, &req, results))
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
    for (via, fields) in by_via {
        let Some(role) = via_roles.get(&via) else {
            continue;
        };
        let (name, description) = role_display(role.content_type.as_deref(), &role.role_field);
        let ct = role.content_type.clone().unwrap_or_default();
        let entry = json!({
            "role": {
                "id": role.id, "name": name, "description": description,
                "resource_name": role.resource_name, "resource_type": ct,
                "related": {ct.clone(): format!("/api/v2/{ct}s/{}/", role.object_id.unwrap_or_default())},
                "user_capabilities": {"unattach": access.may_unattach(&ct)},
            },
            "descendant_roles": fields,
        });
        if ct == "credential" && role.object_id == Some(credential_id) {
            direct.push(entry);
        } else {
            indirect.push(entry);
        }
    }
    (direct, indirect)
}
