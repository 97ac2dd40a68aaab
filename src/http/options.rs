//! OPTIONS in AWX's shape, generated from the resource field tables: the `awx` CLI builds
//! its sub-commands and flags from these answers. Also the placeholders for AWX resources
//! credstore does not have (projects, inventories, ...), which clients probe.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::domain::credential_type::{KINDS, WRITABLE_KINDS};
use crate::domain::rbac::Caller;
use crate::domain::resource::{
    Access, ApiMeta, Choices, DefaultValue, FieldSpec, Help, Resource, ACTIVITY, CREDENTIAL,
    CREDENTIAL_TYPE, CREDENTIAL_TYPE_ORGANIZATION, INPUT_SOURCE, ORGANIZATION, ROLE, TEAM, TOKEN,
    USER,
};
use crate::service::capabilities;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

/// AWX resources that clients probe but credstore does not hold: they list as empty.
pub const ABSENT_RESOURCES: [&str; 20] = [
    "projects",
    "inventories",
    "job_templates",
    "workflow_job_templates",
    "instance_groups",
    "instances",
    "execution_environments",
    "schedules",
    "notification_templates",
    "applications",
    "labels",
    "hosts",
    "groups",
    "inventory_sources",
    "jobs",
    "ad_hoc_commands",
    "system_job_templates",
    "workflow_jobs",
    "unified_job_templates",
    "unified_jobs",
];

/// What an OPTIONS answer describes.
struct View {
    resource: &'static Resource,
    name: String,
    detail: bool,
    post: bool,
    put: bool,
}

fn resource_of(segment: &str) -> Option<&'static Resource> {
    Some(match segment {
        "credentials" | "galaxy_credentials" => &CREDENTIAL,
        "credential_types" => &CREDENTIAL_TYPE,
        "organizations" => &ORGANIZATION,
        "teams" | "owner_teams" => &TEAM,
        "users" | "admins" | "owner_users" | "access_list" => &USER,
        "roles" | "object_roles" => &ROLE,
        "tokens" | "personal_tokens" => &TOKEN,
        "credential_input_sources" | "input_sources" => &INPUT_SOURCE,
        "activity_stream" => &ACTIVITY,
        _ => return None,
    })
}

fn title(resource: &Resource) -> String {
    resource
        .verbose
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn view_for(state: &AppState, caller: &Caller, path: &str) -> ApiResult<Option<View>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    Ok(match segments.as_slice() {
        ["api", "v2", res] => match resource_of(res) {
            Some(r) => Some(View {
                resource: r,
                name: if r.key == "credential_input_source" {
                    "Credential Input Sources".to_string()
                } else {
                    format!("{} List", title(r))
                },
                detail: false,
                post: capabilities::may_create(&state.ctx, caller, r).await?,
                put: false,
            }),
            None => None,
        },
        ["api", "v2", res, id] => match resource_of(res) {
            Some(r) => Some(View {
                resource: r,
                name: format!("{} Detail", title(r)),
                detail: true,
                post: false,
                put: capabilities::may_change(&state.ctx, caller, r, id).await?,
            }),
            None => None,
        },
        ["api", "v2", parent, _, sub] => {
            let special = match (*parent, *sub) {
                ("credentials", "copy") => Some("Credential Copy"),
                ("credentials", "test") => Some("External Credential Test"),
                ("credentials", "render") => Some("Credential Render"),
                ("credential_types", "test") => Some("External Credential Type Test"),
                _ => None,
            };
            match (special, resource_of(sub)) {
                (Some(name), _) => Some(View {
                    resource: &CREDENTIAL,
                    name: name.into(),
                    detail: true,
                    post: false,
                    put: false,
                }),
                (None, Some(r)) => Some(View {
                    resource: r,
                    name: format!(
                        "{} {} List",
                        title(resource_of(parent).unwrap_or(r)),
                        title(r)
                    ),
                    detail: false,
                    post: r.key == "credential" && resource_of(parent).is_some(),
                    put: false,
                }),
                _ => None,
            }
        }
        _ => None,
    })
}

fn choices_json(resource: &Resource, choices: Choices, writing: bool) -> Option<Value> {
    let pairs: Vec<(String, String)> = match choices {
        Choices::None => return None,
        Choices::TypeName => vec![(resource.key.to_string(), title(resource))],
        Choices::Kinds if writing => WRITABLE_KINDS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
        Choices::Kinds => KINDS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
        Choices::Scopes => vec![
            ("read".into(), "read".into()),
            ("write".into(), "write".into()),
        ],
    };
    Some(Value::Array(
        pairs.into_iter().map(|(k, l)| json!([k, l])).collect(),
    ))
}

fn help_text(
    resource: &Resource,
    field: &FieldSpec,
    meta: &ApiMeta,
    detail: bool,
) -> Option<String> {
    let v = resource.verbose;
    match meta.help {
        Help::None => None,
        Help::Text(t) => Some(t.to_string()),
        Help::ListOnly(t) => (!detail).then(|| t.to_string()),
        Help::Standard => Some(match field.name {
            "id" => format!("Database ID for this {v}."),
            "type" => format!("Data type for this {v}."),
            "url" => format!("URL for this {v}."),
            "related" => "Data structure with URLs of related resources.".into(),
            "summary_fields" => "Data structure with name/description for related resources.  The output for some objects may be limited for performance reasons.".into(),
            "created" => format!("Timestamp when this {v} was created."),
            "modified" => format!("Timestamp when this {v} was last modified."),
            "name" => format!("Name of this {v}."),
            "description" => format!("Optional description of this {v}."),
            _ => return None,
        }),
    }
}

/// Per-field metadata for one method, in AWX's key order.
fn field_json(
    resource: &Resource,
    field: &FieldSpec,
    meta: &ApiMeta,
    writing: bool,
    detail: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(meta.kind));
    if writing {
        m.insert("required".into(), json!(meta.required));
    }
    m.insert("hidden".into(), json!(false));
    m.insert("label".into(), json!(meta.label));
    if let (true, Some(n)) = (writing, meta.max_length) {
        m.insert("max_length".into(), json!(n));
    }
    if let Some(h) = help_text(resource, field, meta, detail) {
        m.insert("help_text".into(), json!(h));
    }
    if field.name != "type" {
        m.insert("filterable".into(), json!(!field.column.is_empty()));
    }
    if writing {
        match meta.default {
            DefaultValue::None => {}
            DefaultValue::Null => {
                m.insert("default".into(), Value::Null);
            }
            DefaultValue::EmptyString => {
                m.insert("default".into(), json!(""));
            }
            DefaultValue::EmptyObject => {
                m.insert("default".into(), json!({}));
            }
            DefaultValue::Text(text) => {
                m.insert("default".into(), json!(text));
            }
        }
    }
    if let Some(c) = choices_json(resource, meta.choices, writing) {
        m.insert("choices".into(), c);
    }
    if writing && meta.access == Access::CreateOnly {
        m.insert("write_only".into(), json!(true));
    }
    Value::Object(m)
}

fn method_fields(resource: &Resource, method: &str, detail: bool) -> Value {
    let mut out = Map::new();
    for field in resource.fields {
        let Some(meta) = &field.api else { continue };
        let include = match (method, meta.access) {
            ("GET", Access::CreateOnly) => false,
            ("GET", _) => true,
            ("POST", Access::ReadOnly)
            | ("PUT", Access::ReadOnly)
            | ("PUT", Access::CreateOnly) => false,
            _ => true,
        };
        if include {
            out.insert(
                field.name.into(),
                field_json(resource, field, meta, method != "GET", detail),
            );
        }
    }
    Value::Object(out)
}

fn body(view: &View) -> Value {
    let r = view.resource;
    let mut actions = Map::new();
    if view.put {
        actions.insert("PUT".into(), method_fields(r, "PUT", view.detail));
    }
    if view.post {
        actions.insert("POST".into(), method_fields(r, "POST", view.detail));
    }
    actions.insert("GET".into(), method_fields(r, "GET", view.detail));
    let mut out = Map::new();
    out.insert("name".into(), json!(view.name));
    out.insert("description".into(), json!(format!("# {}\n", view.name)));
    out.insert("renders".into(), json!(["application/json", "text/html"]));
    out.insert("parses".into(), json!(["application/json"]));
    out.insert("actions".into(), Value::Object(actions));
    out.insert("types".into(), json!([r.key]));
    if !view.detail {
        out.insert("search_fields".into(), json!(r.search_fields));
        out.insert("related_search_fields".into(), json!(r.related_search));
    }
    // The awx CLI collects `--role` choices for grants from these lists.
    let roles: &[crate::domain::rbac::RoleDef] = match r.key {
        "credential" => &crate::domain::rbac::CREDENTIAL_ROLES,
        "organization" => &crate::domain::rbac::ORGANIZATION_ROLES,
        "team" => &crate::domain::rbac::TEAM_ROLES,
        _ => &[],
    };
    if !roles.is_empty() {
        out.insert(
            "object_roles".into(),
            json!(roles.iter().map(|(f, _, _)| *f).collect::<Vec<_>>()),
        );
    }
    if !view.detail {
        out.insert(
            "max_page_size".into(),
            json!(crate::service::lists::MAX_PAGE_SIZE),
        );
    }
    Value::Object(out)
}

/// An organization admin may create credential types only in an organization, so its
/// OPTIONS announce credstore's `organization` field, and the awx CLI offers
/// `--organization` (a superuser's OPTIONS stay AWX's).
fn announce_type_organization(out: &mut Value) {
    let Some(field) = CREDENTIAL_TYPE.field("organization") else {
        return;
    };
    for (method, writing) in [("POST", true), ("GET", false)] {
        if let Some(fields) = out["actions"]
            .get_mut(method)
            .and_then(Value::as_object_mut)
        {
            let meta = &CREDENTIAL_TYPE_ORGANIZATION;
            let described = field_json(&CREDENTIAL_TYPE, field, meta, writing, false);
            fields.insert("organization".into(), described);
        }
    }
}

/// Answers OPTIONS for any API path.
pub async fn respond(state: &AppState, caller: &Caller, path: &str) -> ApiResult<Response> {
    if let Some(view) = view_for(state, caller, path).await? {
        let mut out = body(&view);
        if view.resource.key == CREDENTIAL_TYPE.key && view.post && !caller.is_superuser {
            announce_type_organization(&mut out);
        }
        return Ok(Json(out).into_response());
    }
    let name = path
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(Json(json!({
        "name": name, "description": "", "renders": ["application/json", "text/html"],
        "parses": ["application/json"], "actions": {},
    }))
    .into_response())
}

/// GET and OPTIONS on AWX resources credstore does not hold: an empty list, so clients
/// that probe them keep working. Anything else: 405.
pub async fn absent(
    State(state): State<AppState>,
    Auth(caller): Auth,
    method: Method,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let _ = raw;
    match method {
        Method::GET | Method::HEAD => Ok(Json(
            json!({"count": 0, "next": null, "previous": null, "results": []}),
        )
        .into_response()),
        Method::OPTIONS => respond(&state, &caller, uri.path()).await,
        other => Err(ApiError::MethodNotAllowed(other.to_string())),
    }
}
