//! `/api/v2/activity_stream/` and the per-object activity lists. Entries are read-only;
//! callers see the entries linked to objects they may see (superusers and auditors: all).

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_id, QueryPairs};
use super::{method_not_allowed, page_response, AppState};
use crate::service::activity::{self, About, Entries};
use crate::store::activity::ActivityRow;
use crate::store::Scope;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

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
    for plural in OBJECT_LISTS {
        r = r.route(
            &format!("/api/v2/{plural}/{{id}}/activity_stream/"),
            get(object_list).fallback(method_not_allowed),
        );
    }
    r
}

/// The URL segments of the objects with an activity list.
const OBJECT_LISTS: [&str; 5] = [
    "credentials",
    "credential_types",
    "users",
    "teams",
    "organizations",
];

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req, entries) = activity::list(&state.ctx, &caller, Scope::All, &q).await?;
    Ok(page_response(
        uri.path(),
        &q,
        &page,
        &req,
        render(&entries)?,
    ))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "ActivityStream")?;
    let entries = activity::get(&state.ctx, &caller, id).await?;
    render(&entries)?
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
    let plural = uri.path().trim_matches('/').split('/').nth(2);
    let about = match plural {
        Some("credentials") => About::Credential(&id),
        // Credential types are looked up by number only here, as in AWX.
        Some("credential_types") => {
            parse_id(&id, "CredentialType")?;
            About::CredentialType(&id)
        }
        Some("users") => About::User(&id),
        Some("teams") => About::Team(&id),
        _ => About::Organization(&id),
    };
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req, entries) = activity::list_about(&state.ctx, &caller, about, &q).await?;
    Ok(page_response(
        uri.path(),
        &q,
        &page,
        &req,
        render(&entries)?,
    ))
}

/// The summary of one mentioned object, if it still exists.
fn summary_of(entries: &Entries, kind: &str, id: i64) -> Option<Value> {
    Some(match kind {
        "credential" => {
            let c = entries.credentials.get(&id)?;
            json!({
                "id": c.id, "name": c.name, "description": c.description, "kind": c.type_namespace,
                "cloud": c.type_kind == "cloud", "kubernetes": c.type_kind == "kubernetes",
                "credential_type_id": c.credential_type_id,
            })
        }
        "credential_type" => {
            let t = entries.credential_types.get(&id)?;
            json!({"id": t.id, "name": t.name, "description": t.description, "kind": t.kind, "managed": t.managed})
        }
        "user" => {
            let u = entries.users.get(&id)?;
            json!({"id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name})
        }
        "organization" => {
            let o = entries.organizations.get(&id)?;
            json!({"id": o.id, "name": o.name, "description": o.description})
        }
        "team" => {
            let t = entries.teams.get(&id)?;
            json!({"id": t.id, "name": t.name, "description": t.description})
        }
        "role" => {
            let r = entries.roles.get(&id)?;
            json!({"id": r.id, "role_field": r.role_field})
        }
        "credential_input_source" => {
            let s = entries.input_sources.get(&id)?;
            json!({"id": s.id, "input_field_name": s.input_field_name})
        }
        _ => return None,
    })
}

fn url_of(ct: &str, id: i64) -> String {
    match ct {
        "credential_input_source" => format!("/api/v2/credential_input_sources/{id}/"),
        other => format!("/api/v2/{other}s/{id}/"),
    }
}

pub(super) fn render(entries: &Entries) -> ApiResult<Vec<Value>> {
    entries
        .rows
        .iter()
        .map(|row| render_entry(entries, row))
        .collect()
}

fn render_entry(entries: &Entries, row: &ActivityRow) -> ApiResult<Value> {
    let mut related = Map::new();
    let mut summary = Map::new();
    let actor_alive = row.actor_id.is_some_and(|a| entries.users.contains_key(&a));
    if let (true, Some(a)) = (actor_alive, row.actor_id) {
        related.insert("actor".into(), json!(format!("/api/v2/users/{a}/")));
    }
    for (kind, id) in row.mentioned()? {
        let Some(s) = summary_of(entries, &kind, id) else {
            continue;
        };
        push(&mut related, &kind, json!(url_of(&kind, id)));
        push(&mut summary, &kind, s);
    }
    if let Some(mut snapshot) = row.actor()? {
        if let (false, Some(actor)) = (actor_alive, snapshot.as_object_mut()) {
            actor.insert("id".into(), Value::Null);
        }
        summary.insert("actor".into(), snapshot);
    }
    Ok(json!({
        "id": row.id, "type": "activity_stream", "url": format!("/api/v2/activity_stream/{}/", row.id),
        "related": related, "summary_fields": summary, "timestamp": row.timestamp,
        "operation": row.operation, "changes": row.changes()?, "object1": row.object1, "object2": row.object2,
        "object_association": row.object_association, "action_node": "credstore", "object_type": row.object_type,
    }))
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
