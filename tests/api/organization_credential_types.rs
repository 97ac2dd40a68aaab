//! Credential types owned by an organization (issue 26, a credstore extension of AWX): who
//! sees them, who writes and uses them, where their credentials may live, sharing through
//! object roles, and that a global type's answers stay exactly AWX's. The access matrix in
//! `rbac.rs` covers every actor against each endpoint; these tests follow the rules through.

use crate::common;

use axum::http::StatusCode;
use common::{As, Reply, TestApp};
use serde_json::{json, Value};

/// Org A (admin `aadmin`, member `amember`), org B (member `bmember`, in team B).
struct World {
    org_a: i64,
    org_b: i64,
    team_b: i64,
    bmember: i64,
    amember: i64,
}

const AADMIN: As = As::Basic("aadmin", "pw-aadmin");
const AMEMBER: As = As::Basic("amember", "pw-amember");
const BMEMBER: As = As::Basic("bmember", "pw-bmember");

async fn world(app: &TestApp) -> World {
    let org_a = app.org("org-a").await;
    let org_b = app.org("org-b").await;
    let aadmin = app.user("aadmin").await;
    let amember = app.user("amember").await;
    let bmember = app.user("bmember").await;
    for (org, list, user) in [
        (org_a, "admins", aadmin),
        (org_a, "users", amember),
        (org_b, "users", bmember),
    ] {
        let path = format!("/api/v2/organizations/{org}/{list}/");
        let r = app.post(As::Admin, &path, json!({"id": user})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}: {}", r.raw);
    }
    let team_b = app
        .create(
            "/api/v2/teams/",
            json!({"name": "team-b", "organization": org_b}),
        )
        .await;
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/teams/{team_b}/users/"),
            json!({"id": bmember}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    World {
        org_a,
        org_b,
        team_b,
        bmember,
        amember,
    }
}

fn type_body(name: &str, org: Option<i64>) -> Value {
    json!({
        "name": name,
        "kind": "cloud",
        "organization": org,
        "inputs": {"fields": [{"id": "token", "label": "Token", "secret": true}]},
        "injectors": {"env": {"DX_TOKEN": "{{ token }}"}},
    })
}

/// Org A's type, created by its admin.
async fn org_type(app: &TestApp, w: &World, name: &str) -> i64 {
    let r = app
        .post(
            AADMIN,
            "/api/v2/credential_types/",
            type_body(name, Some(w.org_a)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    r.body["id"].as_i64().expect("id")
}

fn ids(r: &Reply) -> Vec<i64> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    r.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect()
}

fn credential(name: &str, ty: i64, owner: Value) -> Value {
    let mut body = json!({"name": name, "credential_type": ty, "inputs": {"token": "tok-1"}});
    for (k, v) in owner.as_object().expect("owner") {
        body[k] = v.clone();
    }
    body
}

fn message(r: &Reply, field: &str) -> String {
    r.body[field][0].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_organization_type_shows_its_organization_and_roles_and_a_global_type_stays_awx_shaped()
{
    let app = TestApp::new().await;
    let w = world(&app).await;
    let t = org_type(&app, &w, "dx-org-type").await;
    let r = app
        .get(AMEMBER, &format!("/api/v2/credential_types/{t}/"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["organization"], json!(w.org_a));
    assert_eq!(r.body["summary_fields"]["organization"]["name"], "org-a");
    let roles = &r.body["summary_fields"]["object_roles"];
    for field in ["admin_role", "use_role", "read_role"] {
        assert!(roles[field]["id"].is_i64(), "{field}: {roles}");
    }
    assert_eq!(
        r.body["summary_fields"]["user_capabilities"],
        json!({"edit": false, "delete": false}),
        "a member uses the type but does not manage it"
    );
    let r = app
        .get(AADMIN, &format!("/api/v2/credential_types/{t}/"))
        .await;
    assert_eq!(
        r.body["summary_fields"]["user_capabilities"],
        json!({"edit": true, "delete": true})
    );
    let listed = app
        .get(
            AMEMBER,
            &format!("/api/v2/credential_types/{t}/object_roles/"),
        )
        .await;
    assert_eq!(ids(&listed).len(), 3, "{}", listed.raw);

    // A global custom type: no organization key, no roles, as AWX answers.
    let global = app
        .create("/api/v2/credential_types/", type_body("dx-global", None))
        .await;
    let r = app
        .get(As::Admin, &format!("/api/v2/credential_types/{global}/"))
        .await;
    let body = r.body.as_object().expect("object");
    assert!(!body.contains_key("organization"), "{}", r.raw);
    assert!(r.body["summary_fields"].get("object_roles").is_none());
    assert!(r.body["related"].get("organization").is_none());
    let r = app
        .get(
            AADMIN,
            &format!("/api/v2/credential_types/{global}/object_roles/"),
        )
        .await;
    assert!(ids(&r).is_empty());
    // Only superusers write global types, org admins included.
    let r = app
        .patch(
            AADMIN,
            &format!("/api/v2/credential_types/{global}/"),
            json!({"description": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.raw);
    let r = app
        .post(
            AADMIN,
            "/api/v2/credential_types/",
            type_body("dx-global-2", None),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.raw);
}

#[tokio::test]
async fn outsiders_see_nothing_of_an_organization_type() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let t = org_type(&app, &w, "dx-hidden").await;
    let mine = app
        .get(
            AMEMBER,
            &format!("/api/v2/credential_types/?organization={}", w.org_a),
        )
        .await;
    assert_eq!(ids(&mine), vec![t]);
    for query in [
        "?name=dx-hidden",
        "?search=dx-hidden",
        "?kind=cloud&managed=false",
    ] {
        let r = app
            .get(BMEMBER, &format!("/api/v2/credential_types/{query}"))
            .await;
        assert!(!ids(&r).contains(&t), "{query}: {}", r.raw);
    }
    let r = app
        .get(
            BMEMBER,
            &format!("/api/v2/credential_types/?organization={}", w.org_a),
        )
        .await;
    assert!(ids(&r).is_empty(), "{}", r.raw);
    for (path, status) in [
        (
            format!("/api/v2/credential_types/{t}/"),
            StatusCode::FORBIDDEN,
        ),
        (
            "/api/v2/credential_types/dx-hidden+cloud/".to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v2/credential_types/{t}/credentials/"),
            StatusCode::FORBIDDEN,
        ),
        (
            format!("/api/v2/credential_types/{t}/activity_stream/"),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let r = app.get(BMEMBER, &path).await;
        assert_eq!(r.status, status, "{path}: {}", r.raw);
        assert!(!r.raw.contains("dx-hidden"), "{path}: {}", r.raw);
    }
    // The activity stream: the member reads the type's entries, the outsider none, also
    // once the type is gone.
    assert!(stream(&app, AMEMBER).await.contains("dx-hidden"));
    assert!(!stream(&app, BMEMBER).await.contains("dx-hidden"));
    let r = app
        .delete(AADMIN, &format!("/api/v2/credential_types/{t}/"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    assert!(stream(&app, AMEMBER).await.contains("dx-hidden"));
    assert!(!stream(&app, BMEMBER).await.contains("dx-hidden"));
}

async fn stream(app: &TestApp, who: As<'_>) -> String {
    app.get(who, "/api/v2/activity_stream/?page_size=200")
        .await
        .raw
}

#[tokio::test]
async fn credentials_of_an_organization_type_stay_in_its_organization_or_are_personal() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let t = org_type(&app, &w, "dx-placed").await;
    let in_b = app
        .post(
            As::Admin,
            "/api/v2/credentials/",
            credential("in-b", t, json!({"organization": w.org_b})),
        )
        .await;
    assert_eq!(in_b.status, StatusCode::BAD_REQUEST, "{}", in_b.raw);
    assert_eq!(
        message(&in_b, "organization"),
        "Credentials of the credential type 'dx-placed' can only belong to its organization."
    );
    let team_owned = app
        .post(
            As::Admin,
            "/api/v2/credentials/",
            credential("team-b", t, json!({"team": w.team_b})),
        )
        .await;
    assert_eq!(
        team_owned.status,
        StatusCode::BAD_REQUEST,
        "{}",
        team_owned.raw
    );

    let in_a = app
        .create(
            "/api/v2/credentials/",
            credential("in-a", t, json!({"organization": w.org_a})),
        )
        .await;
    let moved = app
        .patch(
            As::Admin,
            &format!("/api/v2/credentials/{in_a}/"),
            json!({"organization": w.org_b}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::BAD_REQUEST, "{}", moved.raw);
    assert!(message(&moved, "organization").contains("can only belong to its organization"));
    let r = app
        .get(As::Admin, &format!("/api/v2/credentials/{in_a}/"))
        .await;
    assert_eq!(
        r.body["organization"],
        json!(w.org_a),
        "the move was refused"
    );

    // A member's personal credential of the type, and the type's injectors at work.
    let r = app
        .post(
            AMEMBER,
            "/api/v2/credentials/",
            credential("mine", t, json!({"user": w.amember})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let personal = r.body["id"].as_i64().expect("id");
    let rendered = app
        .post(
            AMEMBER,
            &format!("/api/v2/credentials/{personal}/render/"),
            json!({"purpose": "test"}),
        )
        .await;
    assert_eq!(rendered.status, StatusCode::OK, "{}", rendered.raw);
    assert_eq!(rendered.body["env"]["DX_TOKEN"], "tok-1");

    // An outsider cannot name the type at all.
    let r = app
        .post(
            BMEMBER,
            "/api/v2/credentials/",
            credential("theirs", t, json!({"user": w.bmember})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(
        message(&r, "credential_type"),
        format!("Invalid pk \"{t}\" - object does not exist.")
    );

    // In use: neither deleted nor its inputs changed, as in AWX.
    let r = app
        .delete(AADMIN, &format!("/api/v2/credential_types/{t}/"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.raw);
    assert_eq!(
        r.body["detail"],
        "Credential types that are in use cannot be deleted"
    );
    // The organization is set once.
    let r = app
        .patch(
            AADMIN,
            &format!("/api/v2/credential_types/{t}/"),
            json!({"organization": w.org_b}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert!(message(&r, "organization").contains("cannot be changed"));
}

#[tokio::test]
async fn a_type_shared_with_a_team_of_another_organization_is_seen_and_used_by_its_members() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let t = org_type(&app, &w, "dx-shared").await;
    let path = format!("/api/v2/credential_types/{t}/");
    let use_role = app.get(AADMIN, &path).await.body["summary_fields"]["object_roles"]["use_role"]
        ["id"]
        .as_i64()
        .expect("use role");
    assert_eq!(app.get(BMEMBER, &path).await.status, StatusCode::FORBIDDEN);

    // An org member may not share the type; its org admin may, with any team.
    let grant = json!({"id": w.team_b});
    let roles_teams = format!("/api/v2/roles/{use_role}/teams/");
    let r = app.post(AMEMBER, &roles_teams, grant.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.raw);
    let r = app.post(AADMIN, &roles_teams, grant).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);

    let r = app.get(BMEMBER, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let r = app
        .get(BMEMBER, &format!("/api/v2/users/{}/roles/", w.bmember))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let created = app
        .post(
            BMEMBER,
            "/api/v2/credentials/",
            credential("b-personal", t, json!({"user": w.bmember})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.raw);
    // The team's members use the type, but its credentials still live in org A only.
    let r = app
        .post(
            As::Admin,
            "/api/v2/credentials/",
            credential("b-org", t, json!({"organization": w.org_b})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);

    let r = app
        .post(
            AADMIN,
            &roles_teams,
            json!({"id": w.team_b, "disassociate": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    assert_eq!(app.get(BMEMBER, &path).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn deleting_an_organization_takes_its_types_unless_a_personal_credential_uses_one() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let t = org_type(&app, &w, "dx-gone").await;
    let in_org = app
        .create(
            "/api/v2/credentials/",
            credential("in-org", t, json!({"organization": w.org_a})),
        )
        .await;
    let personal = app
        .create(
            "/api/v2/credentials/",
            credential("personal", t, json!({"user": w.amember})),
        )
        .await;
    let org_path = format!("/api/v2/organizations/{}/", w.org_a);
    let r = app.delete(As::Admin, &org_path).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert!(r.body["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("personal credentials"));
    assert_eq!(app.get(As::Admin, &org_path).await.status, StatusCode::OK);

    let r = app
        .delete(As::Admin, &format!("/api/v2/credentials/{personal}/"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    let r = app.delete(As::Admin, &org_path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    for path in [
        format!("/api/v2/credential_types/{t}/"),
        format!("/api/v2/credentials/{in_org}/"),
    ] {
        let r = app.get(As::Admin, &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.raw);
    }
}

#[tokio::test]
async fn options_announce_the_organization_to_organization_admins_only() {
    let app = TestApp::new().await;
    let _w = world(&app).await;
    let r = app
        .send(
            AADMIN,
            axum::http::Method::OPTIONS,
            "/api/v2/credential_types/",
            None,
        )
        .await;
    let post = &r.body["actions"]["POST"];
    assert_eq!(post["organization"]["type"], "id", "{}", r.raw);
    assert_eq!(post["organization"]["required"], false);
    assert!(
        post["name"].is_object(),
        "the rest of AWX's fields are there: {}",
        r.raw
    );
    // The superuser's OPTIONS are AWX's (the conformance replay compares them).
    let r = app
        .send(
            As::Admin,
            axum::http::Method::OPTIONS,
            "/api/v2/credential_types/",
            None,
        )
        .await;
    assert!(
        r.body["actions"]["POST"].get("organization").is_none(),
        "{}",
        r.raw
    );
    // A member may not create types: no POST at all.
    let r = app
        .send(
            AMEMBER,
            axum::http::Method::OPTIONS,
            "/api/v2/credential_types/",
            None,
        )
        .await;
    assert!(r.body["actions"].get("POST").is_none(), "{}", r.raw);
}
