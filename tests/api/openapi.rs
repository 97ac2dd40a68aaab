//! `GET /api/v2/openapi.json`: every route of the router is described, and the answers of
//! a small scenario validate against the document's schemas.

use crate::common::{As, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

fn source(file: &str) -> String {
    std::fs::read_to_string(format!("{}/src/http/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The literal paths of every `.route(` call in `src/http/`, and the activity-stream
/// lists built from `OBJECT_LISTS`.
fn router_paths() -> Vec<String> {
    let mut paths = Vec::new();
    let dir = std::fs::read_dir(format!("{}/src/http", env!("CARGO_MANIFEST_DIR"))).unwrap();
    // Files of `src/http` itself: the web interface's pages (`src/http/web/`) are not API.
    for entry in dir {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for piece in text.split(".route(").skip(1) {
            let literal = piece.trim_start();
            if let Some(rest) = literal.strip_prefix('"') {
                paths.push(rest.split('"').next().unwrap().to_string());
            }
        }
    }
    let activity = source("activity_stream.rs");
    let lists = activity.split("const OBJECT_LISTS").nth(1).unwrap();
    let lists = lists.split("];").next().unwrap();
    for plural in lists.split('"').skip(1).step_by(2) {
        paths.push(format!("/api/v2/{plural}/{{id}}/activity_stream/"));
    }
    paths
}

#[tokio::test]
async fn every_route_of_the_router_is_described() {
    let app = TestApp::new().await;
    let doc = app.get(As::Anon, "/api/v2/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let root = app.get(As::Anon, "/api/v2/").await;
    assert_eq!(root.body["openapi"], "/api/v2/openapi.json");
    let paths = doc.body["paths"].as_object().unwrap();
    let served = router_paths();
    assert!(
        served.len() > 40,
        "the scan found too few routes: {served:?}"
    );
    let missing: Vec<&String> = served
        .iter()
        .filter(|p| !paths.contains_key(p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a description: {missing:?}"
    );
    for absent in [
        "/api/v2/projects/",
        "/api/v2/inventories/",
        "/api/v2/job_templates/",
    ] {
        assert!(
            paths.contains_key(absent),
            "{absent} is served (as an empty list) but not described"
        );
    }
    for name in ["basic", "token", "session"] {
        assert!(
            doc.body["components"]["securitySchemes"][name].is_object(),
            "{name}"
        );
    }
    let filters = doc.body["paths"]["/api/v2/credentials/"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for name in [
        "page",
        "page_size",
        "order_by",
        "search",
        "name__icontains",
        "organization__isnull",
    ] {
        assert!(
            filters.iter().any(|p| p["name"] == name),
            "no {name} parameter"
        );
    }
}

/// Checks `value` against the subset of JSON Schema the document uses: `$ref`, `type`
/// (one or several), `properties`, `items`, `oneOf`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.rsplit('/').next().unwrap();
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        return options
            .iter()
            .find_map(|o| check(doc, o, value, at).ok())
            .ok_or_else(|| format!("{at}: matches none of oneOf"));
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !allowed.is_empty() && !allowed.contains(&kind) {
        return Err(format!("{at}: {kind} where the document says {allowed:?}"));
    }
    if let (Some(props), Value::Object(obj)) = (schema["properties"].as_object(), value) {
        for (key, item) in obj {
            if let Some(sub) = props.get(key) {
                check(doc, sub, item, &format!("{at}.{key}"))?;
            }
        }
    }
    if let (Some(items), Value::Array(list)) = (schema.get("items"), value) {
        for (i, item) in list.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_answers_of_a_scenario_validate_against_the_document() {
    let app = TestApp::new().await;
    let doc = app.get(As::Anon, "/api/v2/openapi.json").await.body;
    let org = app.org("o").await;
    let user = app.user("u").await;
    let team = app
        .create("/api/v2/teams/", json!({"name": "t", "organization": org}))
        .await;
    let ssh = app.type_id("ssh").await;
    let cred = app
        .create("/api/v2/credentials/", json!({"name": "c", "organization": org, "credential_type": ssh, "inputs": {"username": "x", "password": "y"}}))
        .await;
    let token = app
        .post(As::Admin, "/api/v2/tokens/", json!({"scope": "read"}))
        .await;
    assert_eq!(token.status, StatusCode::CREATED);
    let token = token.body["id"].as_i64().unwrap();
    for path in [
        "/api/v2/organizations/".to_string(),
        format!("/api/v2/organizations/{org}/"),
        "/api/v2/users/".to_string(),
        format!("/api/v2/users/{user}/"),
        "/api/v2/teams/".to_string(),
        format!("/api/v2/teams/{team}/"),
        "/api/v2/credential_types/".to_string(),
        format!("/api/v2/credential_types/{ssh}/"),
        "/api/v2/credentials/".to_string(),
        format!("/api/v2/credentials/{cred}/"),
        format!("/api/v2/credentials/{cred}/object_roles/"),
        format!("/api/v2/credentials/{cred}/owner_teams/"),
        "/api/v2/tokens/".to_string(),
        format!("/api/v2/tokens/{token}/"),
        "/api/v2/roles/".to_string(),
        "/api/v2/activity_stream/".to_string(),
        "/api/v2/credential_input_sources/".to_string(),
    ] {
        let r = app.get(As::Admin, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.raw);
        let template = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .find(|t| {
                let (a, b): (Vec<&str>, Vec<&str>) =
                    (t.split('/').collect(), path.split('/').collect());
                a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || *x == "{id}")
            })
            .unwrap_or_else(|| panic!("{path} is not described"))
            .clone();
        let schema = &doc["paths"][&template]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"];
        check(&doc, schema, &r.body, &path).unwrap();
    }
}
