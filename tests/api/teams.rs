//! `/api/v2/teams/`: representation (recorded AWX answers seq 68, 69, 73), validation,
//! permissions and membership through `/teams/{id}/users/`.

use crate::common;

use axum::http::{header, StatusCode};
use common::{As, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const LIST: &str = "/api/v2/teams/";
const BOB: As<'static> = As::Basic("bob", "pw-bob");
const FORBIDDEN: &str = "You do not have permission to perform this action.";

fn detail(id: i64) -> String {
    format!("{LIST}{id}/")
}

fn members(id: i64) -> String {
    format!("{LIST}{id}/users/")
}

fn ids(body: &Value) -> Vec<i64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

async fn admin_id(app: &TestApp) -> i64 {
    let r = app.get(As::Admin, "/api/v2/me/").await;
    r.body["results"][0]["id"].as_i64().expect("admin id")
}

/// An organization `dx-org` (description `dx`, as in seq 64) and a team `dx-team` in it.
async fn org_and_team(app: &TestApp) -> (i64, i64) {
    let org = app
        .create(
            "/api/v2/organizations/",
            json!({"name": "dx-org", "description": "dx"}),
        )
        .await;
    let team = app
        .create(LIST, json!({"name": "dx-team", "organization": org}))
        .await;
    (org, team)
}

// ---------------------------------------------------------------------------------------------
// Representation

#[tokio::test]
async fn create_returns_the_awx_shape() {
    let app = TestApp::new().await;
    let admin = admin_id(&app).await;
    let org = app
        .create(
            "/api/v2/organizations/",
            json!({"name": "dx-org", "description": "dx"}),
        )
        .await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-team", "organization": org}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.headers[header::LOCATION], detail(id).as_str());
    let b = &r.body;
    assert_eq!(b["type"], "team");
    assert_eq!(b["url"], detail(id));
    assert_eq!(b["name"], "dx-team");
    assert_eq!(b["description"], "");
    assert_eq!(b["organization"], org);
    assert!(b["created"].is_string(), "{}", b["created"]);
    assert!(b["modified"].is_string(), "{}", b["modified"]);
    let base = detail(id);
    for key in [
        "users",
        "credentials",
        "roles",
        "object_roles",
        "activity_stream",
        "access_list",
    ] {
        assert_eq!(b["related"][key], format!("{base}{key}/"), "{key}");
    }
    assert_eq!(
        b["related"]["organization"],
        format!("/api/v2/organizations/{org}/")
    );
    assert_eq!(
        b["related"]["created_by"],
        format!("/api/v2/users/{admin}/")
    );
    assert_eq!(
        b["related"]["modified_by"],
        format!("/api/v2/users/{admin}/")
    );
}

#[tokio::test]
async fn related_links_match_awx() {
    let app = TestApp::new().await;
    let admin = admin_id(&app).await;
    let (org, id) = org_and_team(&app).await;
    let base = detail(id);
    let expected = json!({
        "named_url": "/api/v2/teams/dx-team++dx-org/",
        "created_by": format!("/api/v2/users/{admin}/"),
        "modified_by": format!("/api/v2/users/{admin}/"),
        "projects": format!("{base}projects/"),
        "users": format!("{base}users/"),
        "credentials": format!("{base}credentials/"),
        "roles": format!("{base}roles/"),
        "object_roles": format!("{base}object_roles/"),
        "activity_stream": format!("{base}activity_stream/"),
        "access_list": format!("{base}access_list/"),
        "organization": format!("/api/v2/organizations/{org}/")
    });
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["related"], expected);
}

#[tokio::test]
async fn summary_fields_name_organization_creator_and_roles() {
    let app = TestApp::new().await;
    let admin = admin_id(&app).await;
    let (org, id) = org_and_team(&app).await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    let sf = &r.body["summary_fields"];
    assert_eq!(
        sf["organization"],
        json!({"id": org, "name": "dx-org", "description": "dx"})
    );
    let who = json!({"id": admin, "username": "admin", "first_name": "", "last_name": ""});
    assert_eq!(sf["created_by"], who);
    assert_eq!(sf["modified_by"], who);
    assert_eq!(
        sf["user_capabilities"],
        json!({"edit": true, "delete": true})
    );
}

#[tokio::test]
async fn object_roles_are_admin_member_read() {
    let app = TestApp::new().await;
    let (_, id) = org_and_team(&app).await;
    let r = app.get(As::Admin, &detail(id)).await;
    let roles = r.body["summary_fields"]["object_roles"]
        .as_object()
        .expect("object_roles");
    let got: BTreeSet<&str> = roles.keys().map(String::as_str).collect();
    assert_eq!(
        got,
        BTreeSet::from(["admin_role", "member_role", "read_role"])
    );
    let mut role_ids = BTreeSet::new();
    for (field, name, description) in [
        ("admin_role", "Admin", "Can manage all aspects of the team"),
        ("member_role", "Member", "User is a member of the team"),
        ("read_role", "Read", "May view settings for the team"),
    ] {
        let role = &roles[field];
        assert_eq!(role["name"], name, "{field}");
        assert_eq!(role["description"], description, "{field}");
        assert!(role.get("user_only").is_none(), "{field}: {role}");
        role_ids.insert(role["id"].as_i64().unwrap_or_else(|| panic!("{field} id")));
    }
    assert_eq!(role_ids.len(), 3, "role ids must be distinct");
}

#[tokio::test]
async fn list_and_detail_agree() {
    let app = TestApp::new().await;
    let (org, id) = org_and_team(&app).await;
    let other_org = app.org("dx-org2").await;
    let other = app
        .create(LIST, json!({"name": "dx-team2", "organization": other_org}))
        .await;
    let r = app.get(As::Admin, LIST).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 2);
    let got: BTreeSet<i64> = ids(&r.body).into_iter().collect();
    assert_eq!(got, BTreeSet::from([id, other]));
    let r = app
        .get(As::Admin, &format!("/api/v2/teams/?organization={org}"))
        .await;
    assert_eq!(ids(&r.body), [id]);
    let item = r.body["results"][0].clone();
    let d = app.get(As::Admin, &detail(id)).await;
    for key in ["id", "type", "url", "name", "description", "organization"] {
        assert_eq!(item[key], d.body[key], "{key}");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn missing_name_is_400() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let r = app
        .post(As::Admin, LIST, json!({"organization": org}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field is required."]}));
}

#[tokio::test]
async fn blank_name_is_400() {
    let app = TestApp::new().await;
    let org = app.org("dx-org").await;
    let r = app
        .post(As::Admin, LIST, json!({"name": "", "organization": org}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field may not be blank."]}));
}

#[tokio::test]
async fn organization_that_does_not_exist_is_400() {
    let app = TestApp::new().await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-team", "organization": 987654321}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"organization": ["Invalid pk \"987654321\" - object does not exist."]})
    );
    assert_eq!(app.get(As::Admin, LIST).await.body["count"], 0);
}

#[tokio::test]
async fn missing_organization_is_400() {
    let app = TestApp::new().await;
    let r = app.post(As::Admin, LIST, json!({"name": "dx-team"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["organization"].is_array(), "{}", r.raw);
    assert_eq!(app.get(As::Admin, LIST).await.body["count"], 0);
}

#[tokio::test]
async fn same_name_is_allowed_in_another_organization_only() {
    let app = TestApp::new().await;
    let (org, _) = org_and_team(&app).await;
    let org2 = app.org("dx-org2").await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-team", "organization": org2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"name": "dx-team", "organization": org}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(app.get(As::Admin, LIST).await.body["count"], 2);
}

// ---------------------------------------------------------------------------------------------
// Update and delete

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let app = TestApp::new().await;
    let (org, id) = org_and_team(&app).await;
    let r = app
        .patch(As::Admin, &detail(id), json!({"description": "changed"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["description"], "changed");
    assert_eq!(r.body["name"], "dx-team");
    assert_eq!(r.body["organization"], org);
    assert_eq!(
        app.get(As::Admin, &detail(id)).await.body["description"],
        "changed"
    );
}

#[tokio::test]
async fn put_replaces_the_team() {
    let app = TestApp::new().await;
    let (_, id) = org_and_team(&app).await;
    let org2 = app.org("dx-org2").await;
    let r = app
        .put(
            As::Admin,
            &detail(id),
            json!({"name": "dx-team-renamed", "description": "put", "organization": org2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["name"], "dx-team-renamed");
    assert_eq!(r.body["description"], "put");
    assert_eq!(r.body["organization"], org2);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["name"], "dx-team-renamed");
    assert_eq!(r.body["summary_fields"]["organization"]["id"], org2);
}

#[tokio::test]
async fn put_without_name_is_400() {
    let app = TestApp::new().await;
    let (org, id) = org_and_team(&app).await;
    let r = app
        .put(As::Admin, &detail(id), json!({"organization": org}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field is required."]}));
}

#[tokio::test]
async fn patch_to_missing_organization_is_400() {
    let app = TestApp::new().await;
    let (org, id) = org_and_team(&app).await;
    let r = app
        .patch(As::Admin, &detail(id), json!({"organization": 987654321}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"organization": ["Invalid pk \"987654321\" - object does not exist."]})
    );
    assert_eq!(
        app.get(As::Admin, &detail(id)).await.body["organization"],
        org
    );
}

#[tokio::test]
async fn delete_then_gone() {
    let app = TestApp::new().await;
    let (_, id) = org_and_team(&app).await;
    let r = app.delete(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty(), "{}", r.raw);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Team matches the given query."})
    );
}

#[tokio::test]
async fn deleting_a_team_keeps_its_members() {
    let app = TestApp::new().await;
    let (_, id) = org_and_team(&app).await;
    let u = app.user("dx-u1").await;
    app.post(As::Admin, &members(id), json!({"id": u})).await;
    assert_eq!(
        app.delete(As::Admin, &detail(id)).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.get(As::Admin, &format!("/api/v2/users/{u}/")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.get(As::Basic("dx-u1", "pw-dx-u1"), "/api/v2/me/")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn missing_team_is_404_for_every_method() {
    let app = TestApp::new().await;
    let path = "/api/v2/teams/987654321/";
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
            json!({"detail": "No Team matches the given query."})
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Who may do what

#[tokio::test]
async fn normal_user_cannot_create_teams() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let org = app.org("dx-org").await;
    let r = app
        .post(
            BOB,
            LIST,
            json!({"name": "dx-bob-team", "organization": org}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    assert_eq!(app.get(As::Admin, LIST).await.body["count"], 0);
}

#[tokio::test]
async fn normal_user_cannot_change_or_delete_teams() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let (org, id) = org_and_team(&app).await;
    for r in [
        app.patch(BOB, &detail(id), json!({"description": "bob"}))
            .await,
        app.put(
            BOB,
            &detail(id),
            json!({"name": "bob", "organization": org}),
        )
        .await,
        app.delete(BOB, &detail(id)).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    }
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["name"], "dx-team");
    assert_eq!(r.body["description"], "");
}

#[tokio::test]
async fn anonymous_gets_401() {
    let app = TestApp::new().await;
    let (org, id) = org_and_team(&app).await;
    for r in [
        app.get(As::Anon, LIST).await,
        app.get(As::Anon, &detail(id)).await,
        app.post(As::Anon, LIST, json!({"name": "x", "organization": org}))
            .await,
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
    let (_, team) = org_and_team(&app).await;
    let u = app.user("dx-u1").await;
    let r = app.get(As::Admin, &members(team)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 0);
    let r = app.post(As::Admin, &members(team), json!({"id": u})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    assert!(r.raw.is_empty(), "{}", r.raw);
    let r = app.get(As::Admin, &members(team)).await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], u);
    assert_eq!(r.body["results"][0]["type"], "user");
    assert_eq!(r.body["results"][0]["username"], "dx-u1");
    assert_eq!(r.body["results"][0]["password"], "$encrypted$");
}

#[tokio::test]
async fn associating_twice_is_still_204_and_one_member() {
    let app = TestApp::new().await;
    let (_, team) = org_and_team(&app).await;
    let u = app.user("dx-u1").await;
    for _ in 0..2 {
        let r = app.post(As::Admin, &members(team), json!({"id": u})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(ids(&app.get(As::Admin, &members(team)).await.body), [u]);
}

#[tokio::test]
async fn disassociate_removes_the_member() {
    let app = TestApp::new().await;
    let (_, team) = org_and_team(&app).await;
    let u1 = app.user("dx-u1").await;
    let u2 = app.user("dx-u2").await;
    for u in [u1, u2] {
        app.post(As::Admin, &members(team), json!({"id": u})).await;
    }
    let r = app
        .post(
            As::Admin,
            &members(team),
            json!({"id": u1, "disassociate": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    assert_eq!(ids(&app.get(As::Admin, &members(team)).await.body), [u2]);
    assert_eq!(
        app.get(As::Admin, &format!("/api/v2/users/{u1}/"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn associate_without_id_is_400() {
    let app = TestApp::new().await;
    let (_, team) = org_and_team(&app).await;
    let r = app.post(As::Admin, &members(team), json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"msg": "User 'id' field is missing."}));
}

#[tokio::test]
async fn associate_with_non_integer_id_is_400() {
    let app = TestApp::new().await;
    let (_, team) = org_and_team(&app).await;
    let r = app
        .post(As::Admin, &members(team), json!({"id": "abc"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"msg": "\"id\" field must be an integer."}));
}

#[tokio::test]
async fn associate_a_user_that_does_not_exist_is_400() {
    let app = TestApp::new().await;
    let (_, team) = org_and_team(&app).await;
    let r = app
        .post(As::Admin, &members(team), json!({"id": 987654321}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"detail": "User matching query does not exist."})
    );
}

#[tokio::test]
async fn members_of_a_missing_team_is_404() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, "/api/v2/teams/987654321/users/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No Team matches the given query."})
    );
}

#[tokio::test]
async fn normal_user_cannot_change_team_membership() {
    let app = TestApp::new().await;
    let bob = app.user("bob").await;
    let (_, team) = org_and_team(&app).await;
    let r = app.post(BOB, &members(team), json!({"id": bob})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    assert_eq!(app.get(As::Admin, &members(team)).await.body["count"], 0);
}
