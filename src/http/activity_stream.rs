//! `/api/v2/activity_stream/` and the per-object activity lists. Entries are read-only;
//! callers see the entries linked to objects they may see (superusers and auditors: all).

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, QueryPairs};
use super::{list_ids, method_not_allowed, page_response, AppState};
use crate::domain::rbac::Caller;
use crate::domain::resource::ACTIVITY;
use crate::store::activity::ActivityRow;
use crate::store::sql::{and_all, Bind, Sql};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

pub(super) fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route(
            "/api/v2/activity_stream/",
            get(list).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/activity_stream/{id}/",
            get(detail).fallback(method_not_allowed),
        );
    for (plural, _) in OBJECT_LISTS {
        r = r.route(
            &format!("/api/v2/{plural}/{{id}}/activity_stream/"),
            get(object_list).fallback(method_not_allowed),
        );
    }
    r
}

/// URL segment → content type of the objects with an activity list.
const OBJECT_LISTS: [(&str, &str); 5] = [
    ("credentials", "credential"),
    ("credential_types", "credential_type"),
    ("users", "user"),
    ("teams", "team"),
    ("organizations", "organization"),
];

/// Entries linked to at least one object the caller may see.
fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        return Sql::raw("1=1");
    }
    let u = caller.user_id;
    let mut sql = Sql::raw(
        "activity_stream.id IN (SELECT o.entry_id FROM activity_stream_objects o WHERE o.content_type = 'credential_type' \
         OR (o.content_type = 'user' AND o.object_id = ?) OR (o.content_type = 'credential' AND ",
    );
    sql.binds.push(Bind::Int(u));
    sql.push(crate::store::readable_sql("o.object_id", "credential", u));
    sql.text
        .push_str(") OR (o.content_type = 'organization' AND ");
    sql.push(crate::store::readable_sql("o.object_id", "organization", u));
    sql.text.push_str(") OR (o.content_type = 'team' AND ");
    sql.push(crate::store::readable_sql("o.object_id", "team", u));
    sql.text.push_str("))");
    sql
}

async fn list_entries(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let scope = and_all(vec![scope, visibility(caller)]);
    let (page, req) = list_ids(state, &ACTIVITY, scope, q).await?;
    let rows = state.store.activity_by_ids(&page.ids).await?;
    let results = render(state, &rows).await?;
    Ok(page_response(path, q, &page, &req, results))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    list_entries(&state, &caller, uri.path(), &q, Sql::raw("1=1")).await
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "ActivityStream")?;
    let row = state
        .store
        .activity(id)
        .await?
        .ok_or(ApiError::NotFound("ActivityStream"))?;
    let scope = and_all(vec![
        Sql::with("activity_stream.id = ?", vec![Bind::Int(id)]),
        visibility(&caller),
    ]);
    let (page, _) = list_ids(&state, &ACTIVITY, scope, &QueryPairs(Vec::new())).await?;
    if page.count == 0 {
        return Err(ApiError::Forbidden(None));
    }
    render(&state, &[row])
        .await?
        .pop()
        .map(Json)
        .ok_or(ApiError::NotFound("ActivityStream"))
}

/// `/api/v2/<objects>/{id}/activity_stream/`: the object must be visible to the caller.
async fn object_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let plural = uri
        .path()
        .trim_matches('/')
        .split('/')
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let content_type = OBJECT_LISTS
        .iter()
        .find(|(p, _)| *p == plural)
        .map(|(_, ct)| *ct)
        .unwrap_or_default();
    let object_id = match content_type {
        "credential" => super::credentials::load(&state, &caller, &id).await?.0.id,
        "credential_type" => {
            let id = parse_id(&id, "CredentialType")?;
            state
                .store
                .credential_type(id)
                .await?
                .ok_or(ApiError::NotFound("CredentialType"))?
                .id
        }
        "user" => super::users::load_visible(&state, &caller, &id).await?.id,
        "team" => super::teams::load_visible(&state, &caller, &id).await?.id,
        _ => {
            super::organizations::load_visible(&state, &caller, &id)
                .await?
                .id
        }
    };
    let q = QueryPairs::parse(raw.as_deref());
    let scope = Sql::with(
        "activity_stream.id IN (SELECT entry_id FROM activity_stream_objects WHERE content_type = ? AND object_id = ?)",
        vec![Bind::Text(content_type.to_string()), Bind::Int(object_id)],
    );
    list_entries(&state, &caller, uri.path(), &q, scope).await
}

/// The objects of each entry, as `(content type, id)` pairs.
fn objects_of(row: &ActivityRow) -> Vec<(String, i64)> {
    serde_json::from_str::<Vec<(String, i64)>>(&row.objects).unwrap_or_default()
}

/// Current summaries of every object the entries mention, loaded per type in batches.
async fn summaries(
    state: &AppState,
    rows: &[ActivityRow],
) -> ApiResult<HashMap<(String, i64), Value>> {
    let mut wanted: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in rows {
        for (ct, id) in objects_of(row) {
            wanted.entry(ct).or_default().push(id);
        }
    }
    let mut out = HashMap::new();
    let store = &state.store;
    for (ct, ids) in wanted {
        let items: Vec<(i64, Value)> = match ct.as_str() {
            "credential" => store.credentials_by_ids(&ids).await?.into_iter().map(|c| (c.id, json!({
                "id": c.id, "name": c.name, "description": c.description, "kind": c.type_namespace,
                "cloud": c.type_kind == "cloud", "kubernetes": c.type_kind == "kubernetes", "credential_type_id": c.credential_type_id,
            }))).collect(),
            "credential_type" => store.credential_types_by_ids(&ids).await?.into_iter().map(|t| (t.id, json!({
                "id": t.id, "name": t.name, "description": t.description, "kind": t.kind, "managed": t.managed,
            }))).collect(),
            "user" => store.users_by_ids(&ids).await?.into_iter().map(|u| (u.id, json!({
                "id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name,
            }))).collect(),
            "organization" => store.organizations_by_ids(&ids).await?.into_iter().map(|o| (o.id, json!({
                "id": o.id, "name": o.name, "description": o.description,
            }))).collect(),
            "team" => store.teams_by_ids(&ids).await?.into_iter().map(|t| (t.id, json!({
                "id": t.id, "name": t.name, "description": t.description,
            }))).collect(),
            "role" => store.roles_by_ids(&ids).await?.into_iter().map(|r| (r.id, json!({"id": r.id, "role_field": r.role_field}))).collect(),
            "credential_input_source" => store.input_sources_by_ids(&ids).await?.into_iter().map(|s| (s.id, json!({
                "id": s.id, "input_field_name": s.input_field_name,
            }))).collect(),
            _ => Vec::new(),
        };
        for (id, v) in items {
            out.insert((ct.clone(), id), v);
        }
    }
    Ok(out)
}

fn url_of(ct: &str, id: i64) -> String {
    match ct {
        "credential_input_source" => format!("/api/v2/credential_input_sources/{id}/"),
        other => format!("/api/v2/{other}s/{id}/"),
    }
}

async fn render(state: &AppState, rows: &[ActivityRow]) -> ApiResult<Vec<Value>> {
    let known = summaries(state, rows).await?;
    let actor_ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
    let actors: HashMap<i64, ()> = state
        .store
        .users_by_ids(&actor_ids)
        .await?
        .into_iter()
        .map(|u| (u.id, ()))
        .collect();
    Ok(rows
        .iter()
        .map(|row| {
            let mut related = Map::new();
            let mut summary = Map::new();
            let actor_alive = row.actor_id.is_some_and(|a| actors.contains_key(&a));
            if let (true, Some(a)) = (actor_alive, row.actor_id) {
                related.insert("actor".into(), json!(format!("/api/v2/users/{a}/")));
            }
            for (ct, id) in objects_of(row) {
                let Some(s) = known.get(&(ct.clone(), id)) else { continue };
                push(&mut related, &ct, json!(url_of(&ct, id)));
                push(&mut summary, &ct, s.clone());
            }
            if let Some(snapshot) = row.actor_snapshot.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
                let mut snapshot = snapshot;
                if !actor_alive {
                    snapshot["id"] = Value::Null;
                }
                summary.insert("actor".into(), snapshot);
            }
            let changes: Value = serde_json::from_str(&row.changes).unwrap_or_else(|_| json!({}));
            json!({
                "id": row.id, "type": "activity_stream", "url": format!("/api/v2/activity_stream/{}/", row.id),
                "related": related, "summary_fields": summary, "timestamp": row.timestamp,
                "operation": row.operation, "changes": changes, "object1": row.object1, "object2": row.object2,
                "object_association": row.object_association, "action_node": "credstore", "object_type": row.object_type,
            })
        })
        .collect())
}

fn push(map: &mut Map<String, Value>, key: &str, value: Value) {
    let entry = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        if !list.contains(&value) {
            list.push(value);
        }
    }
}
