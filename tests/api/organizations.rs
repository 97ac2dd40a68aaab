//! `/api/v2/organizations/`: representation (recorded AWX answers seq 64, 65, 72), validation,
//! permissions, membership through `/organizations/{id}/users/`, and cascading deletes.

use crate::common;

use axum::http::{header, StatusCode};
use common::{As, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const LIST: &str = "/api/v2/organizations/";
const BOB: As<'static> = As::Basic("bob", "pw-bob");
const FORBIDDEN: &str = "You do not have permission to perform this action.";

fn detail(id: i64) -> String {
    format!("{LIST}{id}/")
}

fn members(id: i64) -> String {
    format!("{LIST}{id}/users/")
}

async fn admin_id(app: &TestApp) -> i64 {
    let r = app.get(As::Admin, "/api/v2/me/").await;
    r.body["results"][0]["id"].as_i64().expect("admin id")
}

fn ids(body: &Value) -> Vec<i64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

/// `related` of an organization as AWX 24 shows it on create and detail.
fn expected_related(id: i64, name: &str, admin: i64) -> Value {
    let base = format!("/api/v2/organizations/{id}/");
    let mut related = serde_json::Map::new();
    related.insert(
        "named_url".into(),
        json!(format!("/api/v2/organizations/{name}/")),
    );
    related.insert(
        "created_by".into(),
        json!(format!("/api/v2/users/{admin}/")),
    );
    related.insert(
        "modified_by".into(),
        json!(format!("/api/v2/users/{admin}/")),
    );
    for key in [
        "execution_environments",
        "projects",
        "inventories",
        "job_templates",
        "workflow_job_templates",
        "users",
        "admins",
        "teams",
        "credentials",
        "applications",
        "activity_stream",
        "notification_templates",
        "notification_templates_started",
        "notification_templates_success",
        "notification_templates_error",
        "notification_templates_approvals",
        "object_roles",
        "access_list",
        "instance_groups",
        "galaxy_credentials",
    ] {
        related.insert(key.into(), json!(format!("{base}{key}/")));
    }
    Value::Object(related)
}

/// (role field, name, description, user_only) of the 13 organization roles (seq 64).
const ORG_ROLES: [(&str, &str, &str, bool); 13] = [
    (
        "admin_role",
        "Admin",
        "Can manage all aspects of the organization",
        true,
    ),
    (
        "execute_role",
        "Execute",
        "May run any executable resources in the organization",
        false,
    ),
    (
        "project_admin_role",
        "Project Admin",
        "Can manage all projects of the organization",
        false,
    ),
    (
        "inventory_admin_role",
        "Inventory Admin",
        "Can manage all inventories of the organization",
        false,
    ),
    (
        "credential_admin_role",
        "Credential Admin",
        "Can manage all credentials of the organization",
        false,
    ),
    (
        "workflow_admin_role",
        "Workflow Admin",
        "Can manage all workflows of the organization",
        false,
    ),
    (
        "notification_admin_role",
        "Notification Admin",
        "Can manage all notifications of the organization",
        false,
    ),
    (
        "job_template_admin_role",
        "Job Template Admin",
        "Can manage all job templates of the organization",
        false,
    ),
    (
        "execution_environment_admin_role",
        "Execution Environment Admin",
        "Can manage all execution environments of the organization",
        false,
    ),
    (
        "auditor_role",
        "Auditor",
        "Can view all aspects of the organization",
        false,
    ),
    (
        "member_role",
        "Member",
        "User is a member of the organization",
        true,
    ),
    (
        "read_role",
        "Read",
        "May view settings for the organization",
        false,
    ),
    (
        "approval_role",
        "Approve",
        "Can approve or deny a workflow approval node",
        false,
    ),
];

// ---------------------------------------------------------------------------------------------
// Representation

#[tokio::test]
async fn create_returns_the_awx_shape() {
    let app = TestApp::new().await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-org", "description": "dx"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.headers[header::LOCATION], detail(id).as_str());
    let b = &r.body;
    assert_eq!(b["type"], "organization");
    assert_eq!(b["url"], detail(id));
    assert_eq!(b["name"], "dx-org");
    assert_eq!(b["description"], "dx");
    assert_eq!(b["max_hosts"], 0);
    assert_eq!(b["custom_virtualenv"], Value::Null);
    assert_eq!(b["default_environment"], Value::Null);
    assert!(b["created"].is_string(), "{}", b["created"]);
    assert!(b["modified"].is_string(), "{}", b["modified"]);
    // The links credstore serves for an organization.
    for key in [
        "users",
        "admins",
        "teams",
        "credentials",
        "galaxy_credentials",
        "object_roles",
        "access_list",
        "activity_stream",
    ] {
        assert_eq!(b["related"][key], format!("{}{key}/", detail(id)), "{key}");
    }
}

#[tokio::test]
async fn related_links_match_awx() {
    let app = TestApp::new().await;
    let admin = admin_id(&app).await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-org", "description": "dx"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["related"], expected_related(id, "dx-org", admin));
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["related"], expected_related(id, "dx-org", admin));
}

#[tokio::test]
async fn summary_fields_name_the_creator_and_capabilities() {
    let app = TestApp::new().await;
    let admin = admin_id(&app).await;
    let r = app.post(As::Admin, LIST, json!({"name": "dx-org"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let who = json!({"id": admin, "username": "admin", "first_name": "", "last_name": ""});
    let sf = &r.body["summary_fields"];
    assert_eq!(sf["created_by"], who);
    assert_eq!(sf["modified_by"], who);
    assert_eq!(
        sf["user_capabilities"],
        json!({"edit": true, "delete": true})
    );
}

#[tokio::test]
async fn object_roles_are_the_13_awx_roles() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    let roles = r.body["summary_fields"]["object_roles"]
        .as_object()
        .expect("object_roles");
    let got: BTreeSet<&str> = roles.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = ORG_ROLES.iter().map(|r| r.0).collect();
    assert_eq!(got, want);
    let mut role_ids = BTreeSet::new();
    for (field, name, description, user_only) in ORG_ROLES {
        let role = &roles[field];
        assert_eq!(role["name"], name, "{field}");
        assert_eq!(role["description"], description, "{field}");
        let rid = role["id"].as_i64().unwrap_or_else(|| panic!("{field} id"));
        role_ids.insert(rid);
        if user_only {
            assert_eq!(role["user_only"], true, "{field}");
        } else {
            assert!(role.get("user_only").is_none(), "{field}: {role}");
        }
    }
    assert_eq!(role_ids.len(), 13, "role ids must be distinct");
}

#[tokio::test]
async fn two_organizations_have_different_role_ids() {
    let app = TestApp::new().await;
    let a = app.org("dx-org").await;
    let b = app.org("dx-org2").await;
    let ra = app.get(As::Admin, &detail(a)).await.body;
    let rb = app.get(As::Admin, &detail(b)).await.body;
    let role_a = &ra["summary_fields"]["object_roles"]["credential_admin_role"]["id"];
    let role_b = &rb["summary_fields"]["object_roles"]["credential_admin_role"]["id"];
    assert!(role_a.is_i64() && role_b.is_i64());
    assert_ne!(role_a, role_b);
}

#[tokio::test]
async fn detail_matches_the_created_object() {
    let app = TestApp::new().await;
    let created = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-org", "description": "dx"}),
        )
        .await;
    let id = created.body["id"].as_i64().unwrap();
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["id"], id);
    for key in [
        "type",
        "related",
        "url",
        "created",
        "name",
        "description",
        "max_hosts",
        "custom_virtualenv",
        "default_environment",
    ] {
        assert_eq!(r.body[key], created.body[key], "{key}");
    }
    assert_eq!(
        r.body["summary_fields"]["object_roles"],
        created.body["summary_fields"]["object_roles"]
    );
}

#[tokio::test]
async fn related_field_counts_follow_members_and_teams() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let u = app.user("dx-u1").await;
    app.create(
        "/api/v2/teams/",
        json!({"name": "dx-team", "organization": org}),
    )
    .await;
    let r = app.post(As::Admin, &members(org), json!({"id": u})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get(As::Admin, &detail(org)).await;
    let counts = &r.body["summary_fields"]["related_field_counts"];
    assert_eq!(counts["users"], 1, "{counts}");
    assert_eq!(counts["teams"], 1, "{counts}");
    assert_eq!(counts["admins"], 0, "{counts}");
}

#[tokio::test]
async fn list_shows_created_organizations() {
    let app = TestApp::new().await;
    let a = app.org("dx-a").await;
    let b = app.org("dx-b").await;
    let r = app
        .get(As::Admin, "/api/v2/organizations/?name__startswith=dx-")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["next"], Value::Null);
    assert_eq!(r.body["previous"], Value::Null);
    let got: BTreeSet<i64> = ids(&r.body).into_iter().collect();
    assert_eq!(got, BTreeSet::from([a, b]));
    for item in r.body["results"].as_array().unwrap() {
        assert_eq!(item["type"], "organization");
        let id = item["id"].as_i64().unwrap();
        assert_eq!(item["url"], detail(id));
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn missing_name_is_400() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, LIST, json!({"description": "no name"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field is required."]}));
}

#[tokio::test]
async fn blank_name_is_400() {
    let app = TestApp::new().await;
    let r = app.post(As::Admin, LIST, json!({"name": ""})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field may not be blank."]}));
}

#[tokio::test]
async fn duplicate_name_is_400() {
    let app = TestApp::new().await;
    app.org("dx-org").await;
    let r = app.post(As::Admin, LIST, json!({"name": "dx-org"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let msg = r.body["name"][0].as_str().unwrap_or_default();
    assert!(msg.to_lowercase().contains("already exists"), "{}", r.raw);
    let r = app
        .get(As::Admin, "/api/v2/organizations/?name=dx-org")
        .await;
    assert_eq!(r.body["count"], 1);
}

// ---------------------------------------------------------------------------------------------
// Update and delete

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let app = TestApp::new().await;
    let id = app
        .create(LIST, json!({"name": "dx-org", "description": "dx"}))
        .await;
    let r = app
        .patch(As::Admin, &detail(id), json!({"description": "changed"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["description"], "changed");
    assert_eq!(r.body["name"], "dx-org");
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["description"], "changed");
}

#[tokio::test]
async fn put_replaces_the_organization() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    let r = app
        .put(
            As::Admin,
            &detail(id),
            json!({"name": "dx-org-renamed", "description": "put"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["name"], "dx-org-renamed");
    assert_eq!(r.body["description"], "put");
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["name"], "dx-org-renamed");
}

#[tokio::test]
async fn named_url_follows_the_name() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/organizations/dx-org/"
    );
    let r = app
        .patch(As::Admin, &detail(id), json!({"name": "dx-org-renamed"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/organizations/dx-org-renamed/"
    );
}

#[tokio::test]
async fn put_without_name_is_400() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    let r = app
        .put(As::Admin, &detail(id), json!({"description": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field is required."]}));
}

#[tokio::test]
async fn patch_to_blank_name_is_400() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    let r = app.patch(As::Admin, &detail(id), json!({"name": ""})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field may not be blank."]}));
    assert_eq!(app.get(As::Admin, &detail(id)).await.body["name"], "dx-org");
}

#[tokio::test]
async fn delete_then_gone() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    let r = app.delete(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty(), "{}", r.raw);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Organization matches the given query."})
    );
}

#[tokio::test]
async fn missing_organization_is_404_for_every_method() {
    let app = TestApp::new().await;
    let path = "/api/v2/organizations/987654321/";
    for r in [
        app.get(As::Admin, path).await,
        app.patch(As::Admin, path, json!({"description": "x"}))
            .await,
        app.put(As::Admin, path, json!({"name": "x"})).await,
        app.delete(As::Admin, path).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body,
            json!({"detail": "No Organization matches the given query."})
        );
    }
}

#[tokio::test]
async fn deleting_an_organization_deletes_its_teams_and_credentials() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let keep = app.org("dx-keep").await;
    let team = app
        .create(
            "/api/v2/teams/",
            json!({"name": "dx-team", "organization": org}),
        )
        .await;
    let other_team = app
        .create(
            "/api/v2/teams/",
            json!({"name": "dx-team", "organization": keep}),
        )
        .await;
    let ssh = app.type_id("ssh").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "dx-ssh", "organization": org, "credential_type": ssh, "inputs": {"username": "u"}}),
        )
        .await;
    let other_cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "dx-ssh", "organization": keep, "credential_type": ssh, "inputs": {"username": "u"}}),
        )
        .await;
    assert_eq!(
        app.delete(As::Admin, &detail(org)).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.get(As::Admin, &format!("/api/v2/teams/{team}/")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Team matches the given query."})
    );
    let r = app
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Credential matches the given query."})
    );
    // The other organization's objects are untouched.
    let r = app.get(As::Admin, "/api/v2/teams/").await;
    assert_eq!(ids(&r.body), [other_team]);
    let r = app
        .get(As::Admin, &format!("/api/v2/credentials/{other_cred}/"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Who may do what

#[tokio::test]
async fn normal_user_cannot_create_organizations() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let r = app.post(BOB, LIST, json!({"name": "dx-bob-org"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    let r = app
        .get(As::Admin, "/api/v2/organizations/?name=dx-bob-org")
        .await;
    assert_eq!(r.body["count"], 0);
}

#[tokio::test]
async fn normal_user_cannot_change_or_delete_organizations() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let id = app.org("dx-org").await;
    for r in [
        app.patch(BOB, &detail(id), json!({"description": "bob"}))
            .await,
        app.put(BOB, &detail(id), json!({"name": "bob"})).await,
        app.delete(BOB, &detail(id)).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    }
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["name"], "dx-org");
    assert_eq!(r.body["description"], "");
}

#[tokio::test]
async fn anonymous_gets_401() {
    let app = TestApp::new().await;
    let id = app.org("dx-org").await;
    for r in [
        app.get(As::Anon, LIST).await,
        app.get(As::Anon, &detail(id)).await,
        app.post(As::Anon, LIST, json!({"name": "x"})).await,
        app.patch(As::Anon, &detail(id), json!({"name": "x"})).await,
        app.delete(As::Anon, &detail(id)).await,
        app.post(As::Anon, &members(id), json!({"id": 1})).await,
    ] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.body,
            json!({"detail": "Authentication credentials were not provided. To establish a login session, visit /api/login/."})
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Membership

#[tokio::test]
async fn associate_a_member_then_it_is_listed() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let u = app.user("dx-u1").await;
    let r = app.get(As::Admin, &members(org)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 0);
    let r = app.post(As::Admin, &members(org), json!({"id": u})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    assert!(r.raw.is_empty(), "{}", r.raw);
    let r = app.get(As::Admin, &members(org)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], u);
    assert_eq!(r.body["results"][0]["type"], "user");
    assert_eq!(r.body["results"][0]["username"], "dx-u1");
    assert_eq!(r.body["results"][0]["password"], "$encrypted$");
}

#[tokio::test]
async fn associating_twice_is_still_204_and_one_member() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let u = app.user("dx-u1").await;
    for _ in 0..2 {
        let r = app.post(As::Admin, &members(org), json!({"id": u})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = app.get(As::Admin, &members(org)).await;
    assert_eq!(ids(&r.body), [u]);
}

#[tokio::test]
async fn disassociate_removes_the_member() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let u1 = app.user("dx-u1").await;
    let u2 = app.user("dx-u2").await;
    for u in [u1, u2] {
        app.post(As::Admin, &members(org), json!({"id": u})).await;
    }
    let r = app
        .post(
            As::Admin,
            &members(org),
            json!({"id": u1, "disassociate": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    let r = app.get(As::Admin, &members(org)).await;
    assert_eq!(ids(&r.body), [u2]);
    // The user itself still exists.
    let r = app.get(As::Admin, &format!("/api/v2/users/{u1}/")).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn associate_without_id_is_400() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let r = app.post(As::Admin, &members(org), json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"msg": "User 'id' field is missing."}));
}

#[tokio::test]
async fn associate_with_non_integer_id_is_400() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let r = app
        .post(As::Admin, &members(org), json!({"id": "abc"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"msg": "\"id\" field must be an integer."}));
}

#[tokio::test]
async fn associate_a_user_that_does_not_exist_is_400() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let r = app
        .post(As::Admin, &members(org), json!({"id": 987654321}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"detail": "User matching query does not exist."})
    );
}

#[tokio::test]
async fn members_of_a_missing_organization_is_404() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/organizations/987654321/users/")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Organization matches the given query."})
    );
}

#[tokio::test]
async fn normal_user_cannot_change_membership() {
    let app = TestApp::new().await;
    let bob = app.user("bob").await;
    let org = app.org("dx-org").await;
    let r = app.post(BOB, &members(org), json!({"id": bob})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    let r = app.get(As::Admin, &members(org)).await;
    assert_eq!(r.body["count"], 0);
}
