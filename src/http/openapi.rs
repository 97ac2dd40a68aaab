//! `GET /api/v2/openapi.json`: an OpenAPI 3.1 description of the API, generated from the
//! resource field tables (`domain::resource`) that drive OPTIONS, filtering and ordering:
//! each model's properties, which are read-only, which may be filtered and with which
//! lookups, how lists page and order, AWX's error shapes and the three ways to
//! authenticate. The paths come from [`ROUTES`]; a test holds them to the router's
//! routes, so a route cannot be added without being described.

use super::AppState;
use crate::domain::filter::LOOKUP_NAMES;
use crate::domain::resource::{
    Access, FieldSpec, FieldType, Resource, ACTIVITY, CREDENTIAL, CREDENTIAL_TYPE, INPUT_SOURCE,
    ORGANIZATION, ROLE, TEAM, TOKEN, USER,
};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/v2/openapi.json", get(document))
}

async fn document() -> Json<Value> {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(build);
    Json(DOCUMENT.clone())
}

/// What a path serves.
#[derive(Clone, Copy)]
enum Shape {
    /// GET a page of the resource; POST creates one (when `create`).
    List(&'static Resource, bool),
    /// GET one; PUT, PATCH and DELETE when `write`.
    Detail(&'static Resource, bool),
    /// GET a page of related objects; POST `{"id": N}` associates (or
    /// `{"id": N, "disassociate": true}` removes), or creates one when `create`.
    SubList(&'static Resource, bool),
    /// GET a page of the resource, read only.
    ReadList(&'static Resource),
    /// A POST-only action with a free-form body and answer.
    Action(&'static str),
    /// A GET of a free-form document.
    Document(&'static str),
}

/// Every path the router serves with a handler of its own (the empty lists of AWX
/// resources credstore does not hold are added from `options::ABSENT_RESOURCES`; paths
/// without a trailing slash only redirect).
const ROUTES: &[(&str, Shape)] = &[
    ("/api/", Shape::Document("The API's versions")),
    ("/api/v2/", Shape::Document("The resources of version 2")),
    (
        "/api/v2/ping/",
        Shape::Document("Instance information (anonymous)"),
    ),
    ("/api/v2/config/", Shape::Document("Version and license")),
    ("/api/v2/me/", Shape::ReadList(&USER)),
    (
        "/api/v2/metrics/",
        Shape::Document("Prometheus metrics (OpenMetrics text; superusers and system auditors)"),
    ),
    ("/api/v2/openapi.json", Shape::Document("This document")),
    ("/healthz", Shape::Document("Liveness (anonymous)")),
    (
        "/readyz",
        Shape::Document("Readiness: database and key (anonymous)"),
    ),
    (
        "/api/login/",
        Shape::Action("Log in with a form (username, password); sets the session cookie"),
    ),
    (
        "/api/logout/",
        Shape::Action("Log out (session and CSRF cookie)"),
    ),
    ("/api/v2/organizations/", Shape::List(&ORGANIZATION, true)),
    (
        "/api/v2/organizations/{id}/",
        Shape::Detail(&ORGANIZATION, true),
    ),
    (
        "/api/v2/organizations/{id}/users/",
        Shape::SubList(&USER, true),
    ),
    (
        "/api/v2/organizations/{id}/admins/",
        Shape::SubList(&USER, true),
    ),
    (
        "/api/v2/organizations/{id}/teams/",
        Shape::SubList(&TEAM, true),
    ),
    (
        "/api/v2/organizations/{id}/credentials/",
        Shape::SubList(&CREDENTIAL, true),
    ),
    (
        "/api/v2/organizations/{id}/galaxy_credentials/",
        Shape::SubList(&CREDENTIAL, false),
    ),
    (
        "/api/v2/organizations/{id}/activity_stream/",
        Shape::ReadList(&ACTIVITY),
    ),
    ("/api/v2/users/", Shape::List(&USER, true)),
    ("/api/v2/users/{id}/", Shape::Detail(&USER, true)),
    (
        "/api/v2/users/{id}/credentials/",
        Shape::SubList(&CREDENTIAL, true),
    ),
    ("/api/v2/users/{id}/roles/", Shape::SubList(&ROLE, false)),
    ("/api/v2/users/{id}/tokens/", Shape::SubList(&TOKEN, true)),
    (
        "/api/v2/users/{id}/personal_tokens/",
        Shape::SubList(&TOKEN, true),
    ),
    (
        "/api/v2/users/{id}/activity_stream/",
        Shape::ReadList(&ACTIVITY),
    ),
    ("/api/v2/teams/", Shape::List(&TEAM, true)),
    ("/api/v2/teams/{id}/", Shape::Detail(&TEAM, true)),
    ("/api/v2/teams/{id}/users/", Shape::SubList(&USER, false)),
    (
        "/api/v2/teams/{id}/credentials/",
        Shape::SubList(&CREDENTIAL, true),
    ),
    ("/api/v2/teams/{id}/roles/", Shape::SubList(&ROLE, false)),
    (
        "/api/v2/teams/{id}/activity_stream/",
        Shape::ReadList(&ACTIVITY),
    ),
    (
        "/api/v2/credential_types/",
        Shape::List(&CREDENTIAL_TYPE, true),
    ),
    (
        "/api/v2/credential_types/{id}/",
        Shape::Detail(&CREDENTIAL_TYPE, true),
    ),
    (
        "/api/v2/credential_types/{id}/credentials/",
        Shape::SubList(&CREDENTIAL, true),
    ),
    (
        "/api/v2/credential_types/{id}/test/",
        Shape::Action("Test an external lookup type with the body's inputs and metadata"),
    ),
    (
        "/api/v2/credential_types/{id}/activity_stream/",
        Shape::ReadList(&ACTIVITY),
    ),
    ("/api/v2/credentials/", Shape::List(&CREDENTIAL, true)),
    (
        "/api/v2/credentials/{id}/",
        Shape::Detail(&CREDENTIAL, true),
    ),
    (
        "/api/v2/credentials/{id}/copy/",
        Shape::Action("Copy the credential under a new name"),
    ),
    (
        "/api/v2/credentials/{id}/test/",
        Shape::Action("Test the credential's external lookup"),
    ),
    (
        "/api/v2/credentials/{id}/render/",
        Shape::Action(
            "Render the credential for a job (use role; audited; the answer holds secrets)",
        ),
    ),
    (
        "/api/v2/credentials/render/",
        Shape::Action("Render several credentials for one job ({\"credentials\": [ids]})"),
    ),
    (
        "/api/v2/credentials/{id}/input_sources/",
        Shape::SubList(&INPUT_SOURCE, true),
    ),
    (
        "/api/v2/credentials/{id}/owner_users/",
        Shape::ReadList(&USER),
    ),
    (
        "/api/v2/credentials/{id}/owner_teams/",
        Shape::ReadList(&TEAM),
    ),
    (
        "/api/v2/credentials/{id}/object_roles/",
        Shape::ReadList(&ROLE),
    ),
    (
        "/api/v2/credentials/{id}/access_list/",
        Shape::ReadList(&USER),
    ),
    (
        "/api/v2/credential_types/{id}/object_roles/",
        Shape::ReadList(&ROLE),
    ),
    (
        "/api/v2/credentials/{id}/activity_stream/",
        Shape::ReadList(&ACTIVITY),
    ),
    (
        "/api/v2/credential_input_sources/",
        Shape::List(&INPUT_SOURCE, true),
    ),
    (
        "/api/v2/credential_input_sources/{id}/",
        Shape::Detail(&INPUT_SOURCE, true),
    ),
    ("/api/v2/tokens/", Shape::List(&TOKEN, true)),
    ("/api/v2/tokens/{id}/", Shape::Detail(&TOKEN, true)),
    ("/api/v2/roles/", Shape::ReadList(&ROLE)),
    ("/api/v2/roles/{id}/", Shape::Detail(&ROLE, false)),
    ("/api/v2/roles/{id}/users/", Shape::SubList(&USER, false)),
    ("/api/v2/roles/{id}/teams/", Shape::SubList(&TEAM, false)),
    ("/api/v2/activity_stream/", Shape::ReadList(&ACTIVITY)),
    (
        "/api/v2/activity_stream/{id}/",
        Shape::Detail(&ACTIVITY, false),
    ),
];

/// The paths [`ROUTES`] describes, for the test that holds them to the router.
pub fn described_paths() -> impl Iterator<Item = &'static str> {
    ROUTES.iter().map(|(path, _)| *path)
}

fn schema_name(r: &Resource) -> String {
    r.model.replace(' ', "")
}

fn reference(r: &Resource) -> Value {
    json!({"$ref": format!("#/components/schemas/{}", schema_name(r))})
}

/// A property's JSON type, from the OPTIONS type; values may be null except ids and
/// booleans (AWX sends null for unset references and texts alike).
fn property(field: &FieldSpec) -> Option<Value> {
    let api = field.api?;
    let mut schema = match (field.ty, api.kind) {
        (FieldType::Id, _) => json!({"type": "integer"}),
        (_, "id" | "integer") => json!({"type": ["integer", "null"]}),
        (_, "boolean") => json!({"type": "boolean"}),
        (_, "datetime") => json!({"type": ["string", "null"], "format": "date-time"}),
        (_, "string" | "choice") => json!({"type": ["string", "null"]}),
        // `object`, `json`, `field`: free-form documents.
        _ => json!({}),
    };
    if let Value::Object(map) = &mut schema {
        map.insert("title".into(), json!(api.label));
        if api.access == Access::ReadOnly {
            map.insert("readOnly".into(), json!(true));
        }
        if api.access == Access::CreateOnly {
            map.insert("writeOnly".into(), json!(true));
        }
        if let Some(max) = api.max_length {
            map.insert("maxLength".into(), json!(max));
        }
    }
    Some(schema)
}

fn model(r: &Resource) -> Value {
    let properties: Map<String, Value> = r
        .fields
        .iter()
        .filter_map(|f| property(f).map(|p| (f.name.to_string(), p)))
        .collect();
    let required: Vec<&str> = r
        .fields
        .iter()
        .filter(|f| {
            f.api
                .is_some_and(|a| a.required && a.access != Access::ReadOnly)
        })
        .map(|f| f.name)
        .collect();
    json!({"type": "object", "properties": properties, "x-required-on-create": required})
}

fn page_of(r: &Resource) -> Value {
    json!({
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"]},
            "previous": {"type": ["string", "null"]},
            "results": {"type": "array", "items": reference(r)},
        },
    })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

/// Paging, ordering, search and a filter per filterable field and lookup.
fn list_parameters(r: &Resource) -> Vec<Value> {
    let mut out = vec![
        query(
            "page",
            "Page number, from 1",
            json!({"type": "integer", "minimum": 1}),
        ),
        query(
            "page_size",
            "Results per page (at most 200)",
            json!({"type": "integer", "minimum": 1, "maximum": 200}),
        ),
        query(
            "order_by",
            "Fields to order by, comma-separated; `-` for descending",
            json!({"type": "string"}),
        ),
        query(
            "search",
            &format!("Substring of any of: {}", r.search_fields.join(", ")),
            json!({"type": "string"}),
        ),
    ];
    for field in r
        .fields
        .iter()
        .filter(|f| !f.forbidden && f.ty != FieldType::Computed)
    {
        out.push(query(
            field.name,
            &format!("{} equals", field.name),
            json!({"type": "string"}),
        ));
        for lookup in LOOKUP_NAMES {
            out.push(query(
                &format!("{}__{lookup}", field.name),
                &format!("{} {lookup}", field.name),
                json!({"type": "string"}),
            ));
        }
    }
    out
}

fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn errors() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "400".into(),
        json!({"$ref": "#/components/responses/BadRequest"}),
    );
    out.insert(
        "401".into(),
        json!({"$ref": "#/components/responses/Unauthorized"}),
    );
    out.insert(
        "403".into(),
        json!({"$ref": "#/components/responses/Forbidden"}),
    );
    out.insert(
        "404".into(),
        json!({"$ref": "#/components/responses/NotFound"}),
    );
    out
}

fn operation(summary: &str, params: Vec<Value>, body: Option<Value>, ok: (&str, Value)) -> Value {
    let mut responses = errors();
    responses.insert(ok.0.into(), ok.1);
    let mut op = json!({"summary": summary, "parameters": params, "responses": responses});
    if let (Some(body), Value::Object(map)) = (body, &mut op) {
        map.insert(
            "requestBody".into(),
            json!({"required": false, "content": {"application/json": {"schema": body}}}),
        );
    }
    op
}

fn id_parameter(path: &str) -> Vec<Value> {
    if path.contains("{id}") {
        vec![json!({"name": "id", "in": "path", "required": true,
                    "description": "The object's id, or its named URL",
                    "schema": {"type": "string"}})]
    } else {
        Vec::new()
    }
}

fn with(mut a: Vec<Value>, b: Vec<Value>) -> Vec<Value> {
    a.extend(b);
    a
}

fn path_item(path: &str, shape: Shape) -> Value {
    let ids = id_parameter(path);
    let free = json!({"type": "object"});
    let mut item = Map::new();
    match shape {
        Shape::List(r, create) | Shape::SubList(r, create) => {
            let name = schema_name(r);
            item.insert(
                "get".into(),
                operation(
                    &format!("A page of {name}"),
                    with(ids.clone(), list_parameters(r)),
                    None,
                    ("200", answer("A page", page_of(r))),
                ),
            );
            let sub = matches!(shape, Shape::SubList(..));
            let body = match (sub, create) {
                (true, true) => {
                    json!({"oneOf": [reference(r), {"$ref": "#/components/schemas/Association"}]})
                }
                (true, false) => json!({"$ref": "#/components/schemas/Association"}),
                _ => reference(r),
            };
            if create || sub {
                let mut post = operation(
                    &format!("Create or associate a {name}"),
                    ids,
                    Some(body),
                    ("201", answer("Created", reference(r))),
                );
                if sub {
                    post["responses"]["204"] =
                        json!({"description": "Associated or disassociated"});
                }
                item.insert("post".into(), post);
            }
        }
        Shape::ReadList(r) => {
            item.insert(
                "get".into(),
                operation(
                    &format!("A page of {}", schema_name(r)),
                    with(ids, list_parameters(r)),
                    None,
                    ("200", answer("A page", page_of(r))),
                ),
            );
        }
        Shape::Detail(r, write) => {
            let name = schema_name(r);
            item.insert(
                "get".into(),
                operation(
                    &format!("One {name}"),
                    ids.clone(),
                    None,
                    ("200", answer("The object", reference(r))),
                ),
            );
            if write {
                item.insert(
                    "put".into(),
                    operation(
                        &format!("Replace a {name}"),
                        ids.clone(),
                        Some(reference(r)),
                        ("200", answer("The object", reference(r))),
                    ),
                );
                item.insert(
                    "patch".into(),
                    operation(
                        &format!("Update a {name}"),
                        ids.clone(),
                        Some(reference(r)),
                        ("200", answer("The object", reference(r))),
                    ),
                );
                let mut delete = operation(
                    &format!("Delete a {name}"),
                    ids,
                    None,
                    ("204", json!({"description": "Deleted"})),
                );
                delete["responses"]["409"] = json!({"$ref": "#/components/responses/BadRequest"});
                item.insert("delete".into(), delete);
            }
        }
        Shape::Action(summary) => {
            item.insert(
                "post".into(),
                operation(
                    summary,
                    ids,
                    Some(free.clone()),
                    ("200", answer("The outcome", free)),
                ),
            );
        }
        Shape::Document(summary) => {
            item.insert(
                "get".into(),
                operation(summary, ids, None, ("200", json!({"description": summary}))),
            );
        }
    }
    Value::Object(item)
}

/// AWX resources credstore does not hold: clients probe them, and they list as empty.
fn absent_item() -> Value {
    let page = json!({"type": "object", "required": ["count", "results"],
                      "properties": {"count": {"type": "integer"}, "results": {"type": "array"}}});
    json!({"get": operation(
        "An AWX resource credstore does not hold: always an empty page",
        Vec::new(),
        None,
        ("200", answer("An empty page", page)),
    )})
}

fn build() -> Value {
    let mut paths: Map<String, Value> = ROUTES
        .iter()
        .map(|(path, shape)| (path.to_string(), path_item(path, *shape)))
        .collect();
    for resource in super::options::ABSENT_RESOURCES {
        paths.insert(format!("/api/v2/{resource}/"), absent_item());
    }
    let mut schemas: Map<String, Value> = [
        &ORGANIZATION,
        &USER,
        &TEAM,
        &CREDENTIAL_TYPE,
        &CREDENTIAL,
        &INPUT_SOURCE,
        &TOKEN,
        &ROLE,
        &ACTIVITY,
    ]
    .iter()
    .map(|r| (schema_name(r), model(r)))
    .collect();
    schemas.insert(
        "Association".into(),
        json!({
            "type": "object", "required": ["id"],
            "properties": {"id": {"type": "integer"}, "disassociate": {"type": "boolean"}},
        }),
    );
    schemas.insert(
        "Detail".into(),
        json!({"type": "object", "properties": {"detail": {"type": "string"}}}),
    );
    schemas.insert(
        "FieldErrors".into(),
        json!({
            "type": "object",
            "description": "AWX's field errors: each field with its messages, or `detail`",
            "additionalProperties": {},
        }),
    );
    let detail =
        |description: &str| answer(description, json!({"$ref": "#/components/schemas/Detail"}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "credstore",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A credential store that speaks the AWX credentials API (/api/v2/). \
                Every id in a path may also be the object's named URL.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "BadRequest": answer("Invalid input", json!({"$ref": "#/components/schemas/FieldErrors"})),
                "Unauthorized": detail("Not logged in"),
                "Forbidden": detail("Not allowed"),
                "NotFound": detail("No such object"),
            },
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "token": {"type": "http", "scheme": "bearer", "description": "An OAuth2 token from /api/v2/tokens/"},
                "session": {"type": "apiKey", "in": "cookie", "name": "awx_sessionid",
                            "description": "From /api/login/; writes also need the X-CSRFToken header"},
            },
        },
        "security": [{"basic": []}, {"token": []}, {"session": []}],
    })
}
