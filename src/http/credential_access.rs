//! Who holds a credential: `owner_users`, `owner_teams`, `object_roles`, `access_list`,
//! the users and roles that give access to a credential.

use super::auth::Auth;
use super::credentials::load;
use super::error::ApiResult;
use super::extract::QueryPairs;
use super::roles::render_role;
use super::{method_not_allowed, AppState};
use crate::domain::rbac::role_display;
use crate::domain::resource::{ROLE, USER};
use crate::store::sql::{and_all, marks, Bind, Sql};
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
    let (cred, _) = load(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE r.content_type = 'credential' AND r.object_id = ? AND r.role_field = 'admin_role')",
        vec![Bind::Int(cred.id)],
    );
    let page =
        super::users::list_users(&state, &caller, uri.path(), &with_username_order(q), scope)
            .await?;
    Ok(page)
}

/// Teams whose admin role owns the credential.
async fn owner_teams(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (cred, _) = load(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "teams.id IN (SELECT p.object_id FROM roles r JOIN role_parents rp ON rp.role_id = r.id \
         JOIN roles p ON p.id = rp.parent_id WHERE r.content_type = 'credential' AND r.object_id = ? \
         AND r.role_field = 'admin_role' AND p.content_type = 'team' AND p.role_field = 'admin_role')",
        vec![Bind::Int(cred.id)],
    );
    super::teams::list_teams(&state, &caller, uri.path(), &q, scope).await
}

/// The credential's three roles.
async fn object_roles(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (cred, _) = load(&state, &caller, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "roles.content_type = 'credential' AND roles.object_id = ?",
        vec![Bind::Int(cred.id)],
    );
    let (page, req) = super::list_ids(&state, &ROLE, scope, &q).await?;
    let rows = state.store.roles_by_ids(&page.ids).await?;
    let results = rows.iter().map(|r| render_role(r, None)).collect();
    Ok(super::page_response(uri.path(), &q, &page, &req, results))
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
    let (cred, _) = load(&state, &caller, &id).await?;
    let q = with_username_order(QueryPairs::parse(raw.as_deref()));
    let paths = state.store.credential_access(cred.id).await?;
    let mut holders: Vec<i64> = paths.iter().map(|p| p.user_id).collect();
    holders.sort_unstable();
    holders.dedup();
    let mut ids_sql = Sql::raw("(users.is_superuser = TRUE OR users.is_system_auditor = TRUE");
    if !holders.is_empty() {
        ids_sql.push(Sql::with(
            format!(" OR users.id IN ({})", marks(holders.len())),
            holders.iter().map(|h| Bind::Int(*h)).collect(),
        ));
    }
    ids_sql.text.push(')');
    let scope = and_all(vec![ids_sql, super::users::visibility(&caller)]);
    let (page, req) = super::list_ids(&state, &USER, scope, &q).await?;
    let users = state.store.users_by_ids(&page.ids).await?;
    let mut via_ids: Vec<i64> = paths.iter().map(|p| p.via_role).collect();
    via_ids.sort_unstable();
    via_ids.dedup();
    let via_roles: BTreeMap<i64, crate::store::RoleInfo> = state
        .store
        .roles_by_ids(&via_ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut results = Vec::with_capacity(users.len());
    for u in &users {
        let admin = super::users::may_admin(&state, &caller, u).await?;
        let mut item = super::render::user(u, &caller, admin);
        let (direct, indirect) =
            access_entries(u, cred.id, &paths, &via_roles, caller.is_superuser);
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

fn access_entries(
    u: &crate::store::UserRow,
    credential_id: i64,
    paths: &[crate::store::AccessPath],
    via_roles: &BTreeMap<i64, crate::store::RoleInfo>,
    caller_is_superuser: bool,
) -> (Vec<Value>, Vec<Value>) {
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
                "user_capabilities": {"unattach": caller_is_superuser || ct == "credential"},
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
