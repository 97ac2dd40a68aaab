//! `/api/v2/users/`: representation (recorded AWX answers seq 66, 67, 74), the password rules,
//! validation, who may change whom, and 404s.

use crate::common;

use axum::http::{header, StatusCode};
use common::{As, TestApp};
use serde_json::{json, Value};

const LIST: &str = "/api/v2/users/";
const BOB: As<'static> = As::Basic("bob", "pw-bob");
const FORBIDDEN: &str = "You do not have permission to perform this action.";

fn detail(id: i64) -> String {
    format!("{LIST}{id}/")
}

/// `related` of a user in a list (seq 74); create and detail add `named_url` (seq 66).
fn expected_related(id: i64) -> Value {
    let base = detail(id);
    let mut related = serde_json::Map::new();
    for key in [
        "teams",
        "organizations",
        "admin_of_organizations",
        "projects",
        "credentials",
        "roles",
        "activity_stream",
        "access_list",
        "tokens",
        "authorized_tokens",
        "personal_tokens",
    ] {
        related.insert(key.into(), json!(format!("{base}{key}/")));
    }
    Value::Object(related)
}

/// The body of seq 66.
fn u1_body() -> Value {
    json!({
        "username": "dx-u1",
        "password": "Dx-user-Pa55word!",
        "first_name": "Dx",
        "last_name": "One",
        "email": "u1@example.com"
    })
}

// ---------------------------------------------------------------------------------------------
// Representation

#[tokio::test]
async fn create_returns_the_awx_shape() {
    let app = TestApp::new().await;
    let r = app.post(As::Admin, LIST, u1_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.headers[header::LOCATION], detail(id).as_str());
    let b = &r.body;
    assert_eq!(b["type"], "user");
    assert_eq!(b["url"], detail(id));
    assert_eq!(b["username"], "dx-u1");
    assert_eq!(b["first_name"], "Dx");
    assert_eq!(b["last_name"], "One");
    assert_eq!(b["email"], "u1@example.com");
    assert_eq!(b["is_superuser"], false);
    assert_eq!(b["is_system_auditor"], false);
    assert_eq!(b["password"], "$encrypted$");
    assert_eq!(b["last_login"], Value::Null);
    assert!(b["created"].is_string(), "{}", b["created"]);
    assert_eq!(
        b["summary_fields"]["user_capabilities"],
        json!({"edit": true, "delete": true})
    );
    for key in [
        "teams",
        "organizations",
        "credentials",
        "roles",
        "activity_stream",
        "access_list",
    ] {
        assert_eq!(b["related"][key], format!("{}{key}/", detail(id)), "{key}");
    }
}

#[tokio::test]
async fn related_links_match_awx() {
    let app = TestApp::new().await;
    let r = app.post(As::Admin, LIST, u1_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().expect("id");
    let mut with_named = expected_related(id);
    with_named["named_url"] = json!("/api/v2/users/dx-u1/");
    assert_eq!(r.body["related"], with_named);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["related"], with_named);
    // List items carry no named_url (seq 74).
    let r = app.get(As::Admin, "/api/v2/users/?username=dx-u1").await;
    assert_eq!(r.body["results"][0]["related"], expected_related(id));
}

#[tokio::test]
async fn list_items_have_the_user_fields_and_masked_password() {
    let app = TestApp::new().await;
    let u1 = app.create(LIST, u1_body()).await;
    let u2 = app
        .create(
            LIST,
            json!({"username": "dx-u2", "password": "Dx-user-Pa55word!"}),
        )
        .await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/users/?username__startswith=dx-&order_by=username",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["next"], Value::Null);
    let items = r.body["results"].as_array().unwrap();
    assert_eq!(items[0]["id"], u1);
    assert_eq!(items[1]["id"], u2);
    assert_eq!(items[1]["username"], "dx-u2");
    assert_eq!(items[1]["first_name"], "");
    assert_eq!(items[1]["last_name"], "");
    assert_eq!(items[1]["email"], "");
    for item in items {
        assert_eq!(item["type"], "user");
        assert_eq!(item["password"], "$encrypted$");
        assert_eq!(item["is_superuser"], false);
        assert_eq!(item["is_system_auditor"], false);
    }
}

#[tokio::test]
async fn detail_matches_the_created_user() {
    let app = TestApp::new().await;
    let created = app.post(As::Admin, LIST, u1_body()).await;
    let id = created.body["id"].as_i64().unwrap();
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    for key in [
        "id",
        "type",
        "url",
        "related",
        "created",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_superuser",
        "is_system_auditor",
        "password",
    ] {
        assert_eq!(r.body[key], created.body[key], "{key}");
    }
}

#[tokio::test]
async fn a_created_user_can_log_in() {
    let app = TestApp::new().await;
    let id = app.create(LIST, u1_body()).await;
    let r = app
        .get(As::Basic("dx-u1", "Dx-user-Pa55word!"), "/api/v2/me/")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["results"][0]["id"], id);
    assert_eq!(r.body["results"][0]["is_superuser"], false);
    let r = app.get(As::Basic("dx-u1", "wrong"), "/api/v2/me/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_may_create_a_superuser() {
    let app = TestApp::new().await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"username": "root2", "password": "pw-root2", "is_superuser": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["is_superuser"], true);
    let r = app
        .post(
            As::Basic("root2", "pw-root2"),
            "/api/v2/organizations/",
            json!({"name": "dx-org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

// ---------------------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn password_is_required_on_create() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, LIST, json!({"username": "dx-nopw"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let msgs = r.body["password"].as_array().expect("password errors");
    assert!(
        !msgs.is_empty() && msgs.iter().all(Value::is_string),
        "{}",
        r.raw
    );
    let r = app.get(As::Admin, "/api/v2/users/?username=dx-nopw").await;
    assert_eq!(r.body["count"], 0);
}

#[tokio::test]
async fn blank_password_is_refused_on_create() {
    let app = TestApp::new().await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"username": "dx-nopw", "password": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["password"].is_array(), "{}", r.raw);
}

#[tokio::test]
async fn missing_username_is_400() {
    let app = TestApp::new().await;
    let r = app.post(As::Admin, LIST, json!({"password": "pw"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"username": ["This field is required."]}));
}

#[tokio::test]
async fn blank_username_is_400() {
    let app = TestApp::new().await;
    let r = app
        .post(As::Admin, LIST, json!({"username": "", "password": "pw"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"username": ["This field may not be blank."]})
    );
}

#[tokio::test]
async fn duplicate_username_is_400() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"username": "bob", "password": "other"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"username": ["A user with that username already exists."]})
    );
    // The first bob keeps his password.
    assert_eq!(app.get(BOB, "/api/v2/me/").await.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Update and delete

#[tokio::test]
async fn admin_patches_a_user() {
    let app = TestApp::new().await;
    let id = app.user("bob").await;
    let r = app
        .patch(
            As::Admin,
            &detail(id),
            json!({"first_name": "Bob", "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["first_name"], "Bob");
    assert_eq!(r.body["email"], "bob@example.com");
    assert_eq!(r.body["username"], "bob");
    assert_eq!(r.body["password"], "$encrypted$");
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["first_name"], "Bob");
}

#[tokio::test]
async fn password_change_answers_encrypted_placeholder() {
    let app = TestApp::new().await;
    let id = app.user("bob").await;
    let r = app
        .patch(As::Admin, &detail(id), json!({"password": "new-secret"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["password"], "$encrypted$");
    assert!(!r.raw.contains("new-secret"), "{}", r.raw);
    let r = app.get(As::Basic("bob", "new-secret"), "/api/v2/me/").await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn put_without_password_keeps_the_password() {
    let app = TestApp::new().await;
    let id = app.user("bob").await;
    let r = app
        .put(
            As::Admin,
            &detail(id),
            json!({"username": "bob", "first_name": "Robert"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["first_name"], "Robert");
    assert_eq!(app.get(BOB, "/api/v2/me/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn put_without_username_is_400() {
    let app = TestApp::new().await;
    let id = app.user("bob").await;
    let r = app
        .put(As::Admin, &detail(id), json!({"first_name": "Robert"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"username": ["This field is required."]}));
}

#[tokio::test]
async fn delete_then_gone_and_cannot_log_in() {
    let app = TestApp::new().await;
    let id = app.user("bob").await;
    assert_eq!(app.get(BOB, "/api/v2/me/").await.status, StatusCode::OK);
    let r = app.delete(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty(), "{}", r.raw);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No User matches the given query."})
    );
    assert_eq!(
        app.get(BOB, "/api/v2/me/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn missing_user_is_404_for_every_method() {
    let app = TestApp::new().await;
    let path = "/api/v2/users/987654321/";
    for r in [
        app.get(As::Admin, path).await,
        app.patch(As::Admin, path, json!({"first_name": "x"})).await,
        app.put(As::Admin, path, json!({"username": "x"})).await,
        app.delete(As::Admin, path).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body,
            json!({"detail": "No User matches the given query."})
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Who may do what

#[tokio::test]
async fn normal_user_cannot_create_users() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let r = app
        .post(BOB, LIST, json!({"username": "eve", "password": "pw-eve"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    let r = app.get(As::Admin, "/api/v2/users/?username=eve").await;
    assert_eq!(r.body["count"], 0);
}

#[tokio::test]
async fn normal_user_cannot_change_or_delete_another_user() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let ann = app.user("ann").await;
    for r in [
        app.patch(BOB, &detail(ann), json!({"first_name": "x"}))
            .await,
        app.put(
            BOB,
            &detail(ann),
            json!({"username": "ann", "first_name": "x"}),
        )
        .await,
        app.delete(BOB, &detail(ann)).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    }
    let r = app.get(As::Admin, &detail(ann)).await;
    assert_eq!(r.body["first_name"], "");
}

#[tokio::test]
async fn normal_user_cannot_change_the_superuser() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let admin = app.get(As::Admin, "/api/v2/me/").await.body["results"][0]["id"]
        .as_i64()
        .unwrap();
    let r = app
        .patch(BOB, &detail(admin), json!({"password": "taken-over"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(As::Admin, "/api/v2/me/").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_user_may_patch_themselves() {
    let app = TestApp::new().await;
    let bob = app.user("bob").await;
    let r = app
        .patch(
            BOB,
            &detail(bob),
            json!({"first_name": "Bob", "last_name": "Builder"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["first_name"], "Bob");
    assert_eq!(r.body["last_name"], "Builder");
    assert_eq!(r.body["is_superuser"], false);
    let r = app.get(As::Admin, &detail(bob)).await;
    assert_eq!(r.body["last_name"], "Builder");
}

#[tokio::test]
async fn a_user_cannot_make_themselves_superuser() {
    let app = TestApp::new().await;
    let bob = app.user("bob").await;
    let r = app
        .patch(BOB, &detail(bob), json!({"is_superuser": true}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, json!({"detail": FORBIDDEN}));
    let r = app.get(As::Admin, &detail(bob)).await;
    assert_eq!(r.body["is_superuser"], false);
    // Still no superuser powers.
    let r = app
        .post(BOB, "/api/v2/organizations/", json!({"name": "dx-org"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admin_may_promote_a_user_to_superuser() {
    let app = TestApp::new().await;
    let bob = app.user("bob").await;
    let r = app
        .patch(As::Admin, &detail(bob), json!({"is_superuser": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["is_superuser"], true);
    let r = app
        .post(BOB, "/api/v2/organizations/", json!({"name": "dx-org"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
}

#[tokio::test]
async fn anonymous_gets_401() {
    let app = TestApp::new().await;
    let id = app.user("bob").await;
    for r in [
        app.get(As::Anon, LIST).await,
        app.get(As::Anon, &detail(id)).await,
        app.post(As::Anon, LIST, json!({"username": "x", "password": "y"}))
            .await,
        app.patch(As::Anon, &detail(id), json!({"first_name": "x"}))
            .await,
        app.delete(As::Anon, &detail(id)).await,
    ] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.body,
            json!({"detail": "Authentication credentials were not provided. To establish a login session, visit /api/login/."})
        );
    }
}

/// What OPTIONS announces for `username` ("letters, digits and @/./+/-/_ only", 150
/// characters) is enforced, and no name anywhere may hold a NUL (PostgreSQL cannot store
/// one, so `migrate-data` would fail on it).
#[tokio::test]
async fn names_are_checked_as_announced() {
    let app = TestApp::new().await;
    let invalid = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
    for bad in ["two words", "semi;colon", "nul\u{0}here", "new\nline"] {
        let r = app
            .post(As::Admin, LIST, json!({"username": bad, "password": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.raw);
        assert!(r.body["username"].is_array(), "{bad:?}: {}", r.raw);
    }
    let r = app
        .post(As::Admin, LIST, json!({"username": "a b", "password": "x"}))
        .await;
    assert_eq!(r.body["username"][0], invalid);
    let long = "u".repeat(151);
    let r = app
        .post(As::Admin, LIST, json!({"username": long, "password": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    let ok = app
        .post(
            As::Admin,
            LIST,
            json!({"username": "ann.lee+ops@example.com", "password": "x"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.raw);
    let r = app
        .post(
            As::Admin,
            LIST,
            json!({"username": "longnames", "password": "x", "first_name": "f".repeat(151)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(
        r.body["first_name"][0],
        "Ensure this field has no more than 150 characters."
    );
    let options = app
        .send(As::Admin, axum::http::Method::OPTIONS, LIST, None)
        .await;
    assert_eq!(
        options.body["actions"]["POST"]["first_name"]["max_length"],
        150
    );
    let id = ok.body["id"].as_i64().unwrap();
    let r = app
        .patch(
            As::Admin,
            &format!("{LIST}{id}/"),
            json!({"username": "bad name"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);

    let r = app
        .post(
            As::Admin,
            "/api/v2/organizations/",
            json!({"name": "org\u{0}x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(r.body["name"][0], "Null characters are not allowed.");
    let org = app.org("fine").await;
    let r = app
        .post(
            As::Admin,
            "/api/v2/teams/",
            json!({"name": "t", "organization": org, "description": "a\u{0}b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(r.body["description"][0], "Null characters are not allowed.");
}
