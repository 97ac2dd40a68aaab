//! OPTIONS as the `awx` CLI reads it: actions per method, field metadata from the one
//! field description, the `Allow` header, and answers for probed AWX resources.

use crate::common;

use axum::http::{header, Method, StatusCode};
use common::{As, TestApp};
use serde_json::json;

async fn options(app: &TestApp, who: As<'_>, path: &str) -> common::Reply {
    app.send(who, Method::OPTIONS, path, None).await
}

#[tokio::test]
async fn credential_list_options_match_awx() {
    let app = TestApp::new().await;
    let r = options(&app, As::Admin, "/api/v2/credentials/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "Credential List");
    assert_eq!(r.body["max_page_size"], 200);
    assert_eq!(
        r.body["object_roles"],
        json!(["admin_role", "use_role", "read_role"])
    );
    assert_eq!(r.body["types"], json!(["credential"]));
    let post = &r.body["actions"]["POST"];
    assert_eq!(
        post["name"],
        json!({"type": "string", "required": true, "hidden": false, "label": "Name", "max_length": 512, "help_text": "Name of this credential.", "filterable": true})
    );
    assert_eq!(post["inputs"]["type"], "json");
    assert_eq!(post["inputs"]["default"], json!({}));
    assert_eq!(post["credential_type"]["type"], "id");
    assert_eq!(post["user"]["write_only"], true);
    assert_eq!(post["user"]["filterable"], false);
    assert!(
        post.get("id").is_none() && post.get("kind").is_none(),
        "read-only fields are not writable"
    );
    let get = &r.body["actions"]["GET"];
    let keys: Vec<&str> = get
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "id",
            "type",
            "url",
            "related",
            "summary_fields",
            "created",
            "modified",
            "name",
            "description",
            "organization",
            "credential_type",
            "managed",
            "inputs",
            "kind",
            "cloud",
            "kubernetes"
        ]
    );
    assert_eq!(
        get["type"]["choices"],
        json!([["credential", "Credential"]])
    );
    assert!(get["type"].get("filterable").is_none());
    assert_eq!(get["kind"]["filterable"], false);
    assert_eq!(
        get["inputs"]["filterable"], true,
        "AWX reports inputs as filterable (api.md §13)"
    );
    assert!(get["name"].get("required").is_none(), "GET drops required");
    let only_get_and_post: Vec<&String> = r.body["actions"].as_object().unwrap().keys().collect();
    assert_eq!(only_get_and_post.len(), 2);
}

#[tokio::test]
async fn detail_options_probe_of_a_missing_object_still_answers() {
    let app = TestApp::new().await;
    let r = options(&app, As::Admin, "/api/v2/credentials/987654/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::ALLOW],
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    );
    assert!(r.body["actions"].get("PUT").is_none());
    assert!(r.body["actions"].get("GET").is_some());
    let ssh = app.type_id("ssh").await;
    let org = app.org("o").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "organization": org, "credential_type": ssh}),
        )
        .await;
    let r = options(&app, As::Admin, &format!("/api/v2/credentials/{id}/")).await;
    assert_eq!(r.body["name"], "Credential Detail");
    let put = r.body["actions"]["PUT"].as_object().unwrap();
    let keys: Vec<&str> = put.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "name",
            "description",
            "organization",
            "credential_type",
            "inputs"
        ]
    );
}

#[tokio::test]
async fn credential_type_kind_choices_depend_on_the_method() {
    let app = TestApp::new().await;
    let r = options(&app, As::Admin, "/api/v2/credential_types/").await;
    assert_eq!(
        r.body["actions"]["POST"]["kind"]["choices"],
        json!([["net", "Network"], ["cloud", "Cloud"]])
    );
    assert_eq!(
        r.body["actions"]["GET"]["kind"]["choices"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
    app.user("bob").await;
    let r = options(
        &app,
        As::Basic("bob", "pw-bob"),
        "/api/v2/credential_types/",
    )
    .await;
    assert!(
        r.body["actions"].get("POST").is_none(),
        "only superusers create types"
    );
    let r = options(&app, As::Basic("bob", "pw-bob"), "/api/v2/credentials/").await;
    assert!(
        r.body["actions"].get("POST").is_some(),
        "every user may create credentials"
    );
}

#[tokio::test]
async fn probed_awx_resources_answer_2xx() {
    let app = TestApp::new().await;
    for res in [
        "projects",
        "inventories",
        "job_templates",
        "workflow_job_templates",
        "instance_groups",
        "organizations",
        "teams",
        "credentials",
    ] {
        let r = options(&app, As::Admin, &format!("/api/v2/{res}/")).await;
        assert_eq!(r.status, StatusCode::OK, "{res}");
        assert!(r.body["actions"].is_object(), "{res}");
    }
    let r = app.get(As::Admin, "/api/v2/projects/").await;
    assert_eq!(
        r.body,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
    assert_eq!(
        options(&app, As::Anon, "/api/v2/credentials/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn users_and_organizations_options_list_their_fields() {
    let app = TestApp::new().await;
    let r = options(&app, As::Admin, "/api/v2/users/").await;
    assert_eq!(r.body["actions"]["POST"]["username"]["required"], true);
    assert_eq!(r.body["actions"]["POST"]["is_superuser"]["type"], "boolean");
    let r = options(&app, As::Admin, "/api/v2/teams/").await;
    assert_eq!(r.body["actions"]["POST"]["organization"]["type"], "id");
    let r = options(&app, As::Admin, "/api/v2/organizations/").await;
    assert_eq!(r.body["actions"]["POST"]["name"]["required"], true);
    let roles = r.body["object_roles"].as_array().unwrap();
    assert!(
        roles.contains(&json!("member_role")) && roles.contains(&json!("credential_admin_role")),
        "the CLI's grant --role choices"
    );
    let r = options(&app, As::Admin, "/api/v2/teams/").await;
    assert_eq!(
        r.body["object_roles"],
        json!(["admin_role", "member_role", "read_role"])
    );
}
