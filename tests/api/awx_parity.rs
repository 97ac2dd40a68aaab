//! Answers that follow what a real AWX 24.6 answers where credstore used to differ: the
//! order and the members of `summary_fields.owners`, `owner_teams` for teams granted a
//! credential later, the bare 404 for a name the caller may not see, tokens without a
//! refresh token, and OPTIONS on an input source.

use crate::common;

use axum::http::StatusCode;
use common::{As, Reply, TestApp};
use serde_json::{json, Value};

/// An organization with a team, and a user `name` (password `pw-<name>`) in it.
struct Org {
    id: i64,
    team: i64,
}

async fn org_with_team(app: &TestApp, name: &str) -> Org {
    let id = app.org(name).await;
    let team = app
        .create(
            "/api/v2/teams/",
            json!({"name": format!("{name}-team"), "organization": id}),
        )
        .await;
    Org { id, team }
}

async fn associate(app: &TestApp, path: &str, id: i64) {
    let r = app.post(As::Admin, path, json!({ "id": id })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}: {}", r.raw);
}

/// The id of one of an object's roles, from its `summary_fields.object_roles`.
async fn role_of(app: &TestApp, path: &str, field: &str) -> i64 {
    let r = app.get(As::Admin, path).await;
    r.body["summary_fields"]["object_roles"][field]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{path} has no {field}: {}", r.raw))
}

fn owner_kinds(credential: &Value) -> Vec<String> {
    credential["summary_fields"]["owners"]
        .as_array()
        .map(|owners| {
            owners
                .iter()
                .map(|o| o["type"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn created(r: &Reply) -> &Value {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    &r.body
}

#[tokio::test]
async fn owners_list_the_organization_before_the_team() {
    let app = TestApp::new().await;
    let org = org_with_team(&app, "acme").await;
    let ty = app.type_id("ssh").await;
    let r = app
        .post(
            As::Admin,
            "/api/v2/credentials/",
            json!({"name": "t", "credential_type": ty, "team": org.team}),
        )
        .await;
    assert_eq!(owner_kinds(created(&r)), ["organization", "team"]);
    assert_eq!(r.body["summary_fields"]["owners"][0]["id"], org.id);
}

#[tokio::test]
async fn a_team_admin_creating_for_the_team_is_not_an_owner() {
    let app = TestApp::new().await;
    let org = org_with_team(&app, "acme").await;
    let admin = app.user("ta").await;
    associate(
        &app,
        &format!("/api/v2/organizations/{}/users/", org.id),
        admin,
    )
    .await;
    let team_admin = role_of(&app, &format!("/api/v2/teams/{}/", org.team), "admin_role").await;
    associate(&app, &format!("/api/v2/roles/{team_admin}/users/"), admin).await;
    let ty = app.type_id("ssh").await;
    let r = app
        .post(
            As::Basic("ta", "pw-ta"),
            &format!("/api/v2/teams/{}/credentials/", org.team),
            json!({"name": "t", "credential_type": ty}),
        )
        .await;
    assert_eq!(owner_kinds(created(&r)), ["organization", "team"]);
    let id = r.body["id"].as_i64().unwrap();
    let owners = app
        .get(As::Admin, &format!("/api/v2/credentials/{id}/owner_users/"))
        .await;
    assert_eq!(owners.body["count"], 0, "{}", owners.raw);
    // The team admin still reaches it, through the team.
    let mine = app
        .get(
            As::Basic("ta", "pw-ta"),
            &format!("/api/v2/credentials/{id}/"),
        )
        .await;
    assert_eq!(
        mine.body["summary_fields"]["user_capabilities"]["edit"],
        true
    );
}

#[tokio::test]
async fn a_copy_by_an_organization_admin_has_no_user_owner() {
    let app = TestApp::new().await;
    let org = org_with_team(&app, "acme").await;
    let admin = app.user("oa").await;
    associate(
        &app,
        &format!("/api/v2/organizations/{}/admins/", org.id),
        admin,
    )
    .await;
    let ty = app.type_id("ssh").await;
    let original = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "credential_type": ty, "organization": org.id}),
        )
        .await;
    let r = app
        .post(
            As::Basic("oa", "pw-oa"),
            &format!("/api/v2/credentials/{original}/copy/"),
            json!({"name": "c-copy"}),
        )
        .await;
    assert_eq!(owner_kinds(created(&r)), ["organization"]);
}

#[tokio::test]
async fn owner_teams_lists_a_team_granted_admin_later() {
    let app = TestApp::new().await;
    let org = org_with_team(&app, "acme").await;
    let ty = app.type_id("ssh").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "credential_type": ty, "organization": org.id}),
        )
        .await;
    let path = format!("/api/v2/credentials/{id}/owner_teams/");
    assert_eq!(app.get(As::Admin, &path).await.body["count"], 0);
    let admin_role = role_of(&app, &format!("/api/v2/credentials/{id}/"), "admin_role").await;
    associate(
        &app,
        &format!("/api/v2/roles/{admin_role}/teams/"),
        org.team,
    )
    .await;
    let r = app.get(As::Admin, &path).await;
    assert_eq!(r.body["count"], 1, "{}", r.raw);
    assert_eq!(r.body["results"][0]["id"], org.team);
    let detail = app
        .get(As::Admin, &format!("/api/v2/credentials/{id}/"))
        .await;
    assert_eq!(owner_kinds(&detail.body), ["organization", "team"]);
}

#[tokio::test]
async fn a_name_the_caller_may_not_see_is_a_bare_404() {
    let app = TestApp::new().await;
    let org = org_with_team(&app, "acme").await;
    app.user("outsider").await;
    let ty = app.type_id("ssh").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "credential_type": ty, "organization": org.id}),
        )
        .await;
    let outsider = As::Basic("outsider", "pw-outsider");
    let r = app
        .get(outsider, "/api/v2/credentials/c++Machine+ssh++acme/")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    for header in ["allow", "x-api-product-name", "x-api-product-version"] {
        assert!(r.headers.get(header).is_none(), "{header} sent");
    }
    let by_id = app
        .get(outsider, &format!("/api/v2/credentials/{id}/"))
        .await;
    assert_eq!(by_id.status, StatusCode::FORBIDDEN, "by number: still 403");
    let team = app.get(outsider, "/api/v2/teams/acme-team++acme/").await;
    assert_eq!(team.body, json!({"detail": "Not found."}));
}

#[tokio::test]
async fn tokens_have_no_refresh_token() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, "/api/v2/tokens/", json!({"scope": "read"}))
        .await;
    assert_eq!(created(&r)["refresh_token"], Value::Null);
    let id = r.body["id"].as_i64().unwrap();
    let list = app.get(As::Admin, "/api/v2/tokens/").await;
    assert_eq!(list.body["results"][0]["refresh_token"], Value::Null);
    let detail = app.get(As::Admin, &format!("/api/v2/tokens/{id}/")).await;
    assert_eq!(detail.body["refresh_token"], Value::Null);
    assert_eq!(detail.body["token"], "************");
}

#[tokio::test]
async fn options_on_an_input_source_offers_put_to_its_admins() {
    let app = TestApp::new().await;
    let ssh = app.type_id("ssh").await;
    let hv = app.type_id("hashivault_kv").await;
    let target = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "t", "credential_type": ssh, "user": 1}),
        )
        .await;
    let source = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "s", "credential_type": hv, "user": 1,
                   "inputs": {"url": "https://vault.example.com", "token": "t", "api_version": "v2"}}),
        )
        .await;
    let link = app
        .create(
            "/api/v2/credential_input_sources/",
            json!({"target_credential": target, "source_credential": source,
                   "input_field_name": "password",
                   "metadata": {"secret_path": "/kv/app", "secret_key": "password"}}),
        )
        .await;
    let r = app
        .send(
            As::Admin,
            axum::http::Method::OPTIONS,
            &format!("/api/v2/credential_input_sources/{link}/"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert!(r.body["actions"]["PUT"].is_object(), "{}", r.raw);
}

#[tokio::test]
async fn a_credential_created_under_its_type() {
    let app = TestApp::new().await;
    let org = app.org("acme").await;
    let ty = app.type_id("ssh").await;
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/credential_types/{ty}/credentials/"),
            json!({"name": "under-type", "organization": org, "credential_type": 999_999,
                   "inputs": {"username": "u"}}),
        )
        .await;
    assert_eq!(
        created(&r)["credential_type"],
        ty,
        "the type comes from the URL"
    );
    let listed = app
        .get(
            As::Admin,
            &format!("/api/v2/credential_types/{ty}/credentials/"),
        )
        .await;
    assert_eq!(listed.body["count"], 1, "{}", listed.raw);
    let missing = app
        .post(
            As::Admin,
            "/api/v2/credential_types/999999/credentials/",
            json!({"name": "x", "organization": org}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_int_filter_suffix() {
    let app = TestApp::new().await;
    let org = app.org("acme").await;
    let ty = app.type_id("ssh").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "credential_type": ty, "organization": org}),
        )
        .await;
    let r = app
        .get(As::Admin, &format!("/api/v2/credentials/?id__int={id}"))
        .await;
    assert_eq!(r.body["count"], 1, "{}", r.raw);
    let r = app
        .get(As::Admin, "/api/v2/credentials/?organization__int=x")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"detail": "invalid literal for int() with base 10: 'x'"})
    );
}

#[tokio::test]
async fn credentials_filter_through_their_input_sources() {
    let app = TestApp::new().await;
    let ssh = app.type_id("ssh").await;
    let hv = app.type_id("hashivault_kv").await;
    let target = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "target", "credential_type": ssh, "user": 1}),
        )
        .await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": "unlinked", "credential_type": ssh, "user": 1}),
    )
    .await;
    let source = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "source", "credential_type": hv, "user": 1,
                   "inputs": {"url": "https://vault.example.com", "token": "t", "api_version": "v2"}}),
        )
        .await;
    let link = app
        .create(
            "/api/v2/credential_input_sources/",
            json!({"target_credential": target, "source_credential": source,
                   "input_field_name": "password", "description": "from vault",
                   "metadata": {"secret_path": "/kv/app", "secret_key": "password"}}),
        )
        .await;
    let names = |r: Reply| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        r.body["results"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        names(list(&app, "input_sources__input_field_name=password".into()).await),
        ["target"]
    );
    assert_eq!(
        names(list(&app, format!("input_sources={link}")).await),
        ["target"]
    );
    assert_eq!(
        names(
            list(
                &app,
                "target_input_sources__input_field_name=password".into()
            )
            .await
        ),
        ["source"]
    );
    assert_eq!(
        names(list(&app, "input_sources__search=vault".into()).await),
        ["target"]
    );
    let r = list(&app, "order_by=input_sources".into()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
}

async fn list(app: &TestApp, query: String) -> Reply {
    app.get(As::Admin, &format!("/api/v2/credentials/?{query}"))
        .await
}

#[tokio::test]
async fn moving_a_credential_records_the_organization_links_it_loses_and_gains() {
    let app = TestApp::new().await;
    let (from, to) = (app.org("from").await, app.org("to").await);
    let ty = app.type_id("ssh").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "credential_type": ty, "organization": from}),
        )
        .await;
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{id}/"),
            json!({ "organization": to }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let entries = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{id}/activity_stream/?order_by=id"),
        )
        .await;
    let ops: Vec<(String, Value)> = entries.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or_default().to_string(),
                e["changes"]["object2_pk"].clone(),
            )
        })
        .collect();
    let kinds: Vec<&str> = ops.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "create",
            "update",
            "disassociate",
            "associate",
            "disassociate",
            "associate"
        ],
        "{}",
        entries.raw
    );
    let from_admin = role_of(
        &app,
        &format!("/api/v2/organizations/{from}/"),
        "credential_admin_role",
    )
    .await;
    let to_admin = role_of(
        &app,
        &format!("/api/v2/organizations/{to}/"),
        "credential_admin_role",
    )
    .await;
    assert_eq!(ops[2].1, from_admin);
    assert_eq!(ops[3].1, to_admin);
    let relation = &entries.body["results"][2]["changes"]["relationship"];
    assert_eq!(relation, "awx.main.models.rbac.Role_parents");
    // Still one organization's credential, reachable through the new one only.
    let owners = app
        .get(As::Admin, &format!("/api/v2/credentials/{id}/"))
        .await;
    assert_eq!(owners.body["summary_fields"]["owners"][0]["id"], to);
}

#[tokio::test]
async fn the_access_list_names_the_team_a_role_is_held_through() {
    let app = TestApp::new().await;
    let org = org_with_team(&app, "acme").await;
    let member = app.user("m").await;
    associate(
        &app,
        &format!("/api/v2/organizations/{}/users/", org.id),
        member,
    )
    .await;
    associate(&app, &format!("/api/v2/teams/{}/users/", org.team), member).await;
    let ty = app.type_id("ssh").await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "credential_type": ty, "organization": org.id}),
        )
        .await;
    let use_role = role_of(&app, &format!("/api/v2/credentials/{id}/"), "use_role").await;
    associate(&app, &format!("/api/v2/roles/{use_role}/teams/"), org.team).await;
    let r = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{id}/access_list/?username=m"),
        )
        .await;
    assert_eq!(r.body["count"], 1, "{}", r.raw);
    let summary = &r.body["results"][0]["summary_fields"];
    assert_eq!(summary["indirect_access"], json!([]), "{}", r.raw);
    let entry = &summary["direct_access"][0];
    assert_eq!(entry["descendant_roles"], json!(["use_role", "read_role"]));
    assert_eq!(
        entry["role"],
        json!({
            "id": use_role, "name": "Use", "description": "Can use the credential in a job template",
            "team_id": org.team, "team_name": "acme-team", "team_organization_name": "acme",
            "resource_name": "c", "resource_type": "credential",
            "related": {"credential": format!("/api/v2/credentials/{id}/")},
            "user_capabilities": {"unattach": true},
        })
    );
}
