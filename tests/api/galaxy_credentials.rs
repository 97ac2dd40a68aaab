//! `/api/v2/organizations/{id}/galaxy_credentials/`: the ordered Galaxy credentials an
//! organization installs content with, attached and detached by organization admins.

use crate::common;

use axum::http::StatusCode;
use common::{As, TestApp};
use serde_json::{json, Value};

async fn galaxy(app: &TestApp, org: i64, name: &str) -> i64 {
    let ty = app.type_id("galaxy_api_token").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": name, "credential_type": ty, "organization": org,
               "inputs": {"url": "https://galaxy.example.com/"}}),
    )
    .await
}

fn names(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn attach_keeps_the_order_and_detach_removes() {
    let app = TestApp::new().await;
    let org = app.org("acme").await;
    let path = format!("/api/v2/organizations/{org}/galaxy_credentials/");
    let (b, a) = (galaxy(&app, org, "b").await, galaxy(&app, org, "a").await);
    for id in [b, a, b] {
        let r = app.post(As::Admin, &path, json!({ "id": id })).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    }
    let r = app.get(As::Admin, &path).await;
    assert_eq!(r.body["count"], 2);
    assert_eq!(names(&r.body), ["b", "a"], "attachment order, once each");
    assert_eq!(r.body["results"][0]["kind"], "galaxy_api_token");
    let r = app
        .post(As::Admin, &path, json!({"id": b, "disassociate": true}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
    assert_eq!(names(&app.get(As::Admin, &path).await.body), ["a"]);
    let entries = app
        .get(
            As::Admin,
            &format!("/api/v2/organizations/{org}/activity_stream/?operation=disassociate"),
        )
        .await;
    assert_eq!(entries.body["count"], 1, "{}", entries.raw);
    assert_eq!(entries.body["results"][0]["object2"], "credential");
}

#[tokio::test]
async fn only_galaxy_credentials_and_only_organization_admins() {
    let app = TestApp::new().await;
    let org = app.org("acme").await;
    let path = format!("/api/v2/organizations/{org}/galaxy_credentials/");
    let ssh = app.type_id("ssh").await;
    let machine = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "m", "credential_type": ssh, "organization": org}),
        )
        .await;
    let r = app.post(As::Admin, &path, json!({ "id": machine })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"msg": "Credential must be a Galaxy credential, not Machine."})
    );
    let r = app.post(As::Admin, &path, json!({"id": 987_654})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"detail": "Credential matching query does not exist."})
    );
    let member = app.user("member").await;
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/organizations/{org}/users/"),
            json!({ "id": member }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let token = galaxy(&app, org, "g").await;
    let r = app
        .post(
            As::Basic("member", "pw-member"),
            &path,
            json!({ "id": token }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Members read the list (every attached credential, as AWX shows it).
    app.post(As::Admin, &path, json!({ "id": token })).await;
    let r = app.get(As::Basic("member", "pw-member"), &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(names(&r.body), ["g"]);
    let outsider = app.user("outsider").await;
    assert!(outsider > 0);
    let r = app.get(As::Basic("outsider", "pw-outsider"), &path).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
