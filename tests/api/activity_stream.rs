//! The activity stream: entries for every change with AWX's `changes`, secrets only ever
//! `hidden`, visibility, per-object lists, and the tamper-evident hash chain.

use crate::common;

use axum::http::StatusCode;
use common::{As, TestApp};
use credstore::store::activity::ChainBreak;
use credstore::store::query::{query, query_scalar};
use serde_json::{json, Value};

const PLANTED: &str = "PLANTED-activity-91ac";

async fn world() -> (TestApp, i64, i64) {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let ssh = app.type_id("ssh").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "c", "description": "first", "organization": org, "credential_type": ssh,
                "inputs": {"username": "u", "password": PLANTED}}),
        )
        .await;
    (app, org, cred)
}

fn entries(r: &common::Reply) -> Vec<Value> {
    r.body["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn credential_changes_are_recorded_as_awx_shows_them() {
    let (app, org, cred) = world().await;
    let url = format!("/api/v2/credentials/{cred}/");
    app.patch(As::Admin, &url, json!({"description": "second"}))
        .await;
    app.patch(
        As::Admin,
        &url,
        json!({"inputs": {"username": "u", "password": format!("{PLANTED}-2")}}),
    )
    .await;
    app.patch(
        As::Admin,
        &url,
        json!({"inputs": {"username": "u", "password": "$encrypted$"}}),
    )
    .await;
    let r = app.get(As::Admin, &format!("{url}activity_stream/")).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = entries(&r);
    assert_eq!(
        list.len(),
        3,
        "a save that keeps everything writes no entry: {}",
        r.raw
    );
    let create = &list[0];
    assert_eq!(create["operation"], "create");
    assert_eq!(create["object1"], "credential");
    assert_eq!(create["changes"]["inputs"], "hidden");
    assert_eq!(create["changes"]["organization"], format!("o-{org}"));
    assert_eq!(
        create["changes"]["credential_type"]
            .as_str()
            .unwrap()
            .split('-')
            .next(),
        Some("Machine")
    );
    assert_eq!(create["changes"]["id"], cred);
    assert_eq!(create["summary_fields"]["actor"]["username"], "admin");
    assert_eq!(create["summary_fields"]["credential"][0]["id"], cred);
    assert_eq!(
        list[1]["changes"],
        json!({"description": ["first", "second"]})
    );
    assert_eq!(list[2]["changes"], json!({"inputs": ["hidden", "hidden"]}));
    assert!(!r.raw.contains(PLANTED));
    app.delete(As::Admin, &url).await;
    let all = app
        .get(As::Admin, "/api/v2/activity_stream/?operation=delete")
        .await;
    let del = entries(&all)
        .into_iter()
        .find(|e| e["object1"] == "credential")
        .expect("delete entry");
    assert_eq!(del["changes"]["name"], "c");
    assert!(
        del["summary_fields"].get("credential").is_none(),
        "not linked to the deleted object"
    );
    assert!(!all.raw.contains(PLANTED));
}

#[tokio::test]
async fn grants_and_memberships_are_associations() {
    let (app, org, cred) = world().await;
    let ann = app.user("ann").await;
    app.post(
        As::Admin,
        &format!("/api/v2/organizations/{org}/users/"),
        json!({"id": ann}),
    )
    .await;
    let c = app
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    let use_role = c.body["summary_fields"]["object_roles"]["use_role"]["id"]
        .as_i64()
        .unwrap();
    app.post(
        As::Admin,
        &format!("/api/v2/roles/{use_role}/users/"),
        json!({"id": ann}),
    )
    .await;
    app.post(
        As::Admin,
        &format!("/api/v2/roles/{use_role}/users/"),
        json!({"id": ann, "disassociate": true}),
    )
    .await;
    let r = app
        .get(
            As::Admin,
            &format!(
                "/api/v2/credentials/{cred}/activity_stream/?operation__in=associate,disassociate"
            ),
        )
        .await;
    let list = entries(&r);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["operation"], "associate");
    assert_eq!(list[0]["object_association"], "role");
    assert_eq!(list[0]["object_type"], "credential");
    assert_eq!(
        list[0]["changes"]["relationship"],
        "awx.main.models.rbac.Role_members"
    );
    assert_eq!(list[0]["summary_fields"]["user"][0]["id"], ann);
    assert_eq!(list[1]["operation"], "disassociate");
    let members = app
        .get(
            As::Admin,
            &format!("/api/v2/organizations/{org}/activity_stream/?operation=associate"),
        )
        .await;
    assert_eq!(
        members.body["count"], 1,
        "joining the organization is recorded"
    );
}

#[tokio::test]
async fn users_see_only_entries_about_what_they_may_see() {
    let (app, _org, cred) = world().await;
    app.user("bob").await;
    let bob = As::Basic("bob", "pw-bob");
    let r = app.get(bob, "/api/v2/activity_stream/").await;
    assert!(
        entries(&r).iter().all(|e| e["object1"] != "credential"),
        "bob sees no credential entries"
    );
    assert_eq!(
        app.get(bob, &format!("/api/v2/credentials/{cred}/activity_stream/"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mine = app.post(bob, "/api/v2/credentials/", json!({"name": "b", "user": app.get(bob, "/api/v2/me/").await.body["results"][0]["id"], "credential_type": app.type_id("ssh").await})).await;
    assert_eq!(mine.status, StatusCode::CREATED);
    let r = app
        .get(bob, "/api/v2/activity_stream/?object1=credential")
        .await;
    assert_eq!(r.body["count"], 1, "his own credential's entry");
    let any = app.get(As::Admin, "/api/v2/activity_stream/").await;
    let id = entries(&any)
        .into_iter()
        .find(|e| e["summary_fields"]["credential"][0]["id"] == cred)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        app.get(bob, &format!("/api/v2/activity_stream/{id}/"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(As::Admin, &format!("/api/v2/activity_stream/{id}/"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(As::Admin, "/api/v2/activity_stream/", json!({}))
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn the_chain_reveals_edited_removed_and_truncated_entries() {
    let (app, _org, cred) = world().await;
    for d in ["a", "b", "c"] {
        app.patch(
            As::Admin,
            &format!("/api/v2/credentials/{cred}/"),
            json!({"description": d}),
        )
        .await;
    }
    let store = &app.state.ctx.store;
    let (checked, broken) = store.verify_activity_chain().await.unwrap();
    assert!(checked >= 5);
    assert_eq!(broken, None);
    let ids: Vec<i64> = {
        let conn = app.state.ctx.store.pool();
        query_scalar("SELECT id FROM activity_stream ORDER BY id")
            .fetch_all(conn)
            .await
            .unwrap()
    };
    let conn = app.state.ctx.store.pool();
    query("UPDATE activity_stream SET changes = '{\"description\": [\"x\", \"y\"]}' WHERE id = ?")
        .bind(ids[3])
        .execute(conn)
        .await
        .unwrap();
    assert_eq!(
        store.verify_activity_chain().await.unwrap().1,
        Some(ChainBreak::Altered { id: ids[3] })
    );
    query("DELETE FROM activity_stream WHERE id = ?")
        .bind(ids[3])
        .execute(conn)
        .await
        .unwrap();
    assert_eq!(
        store.verify_activity_chain().await.unwrap().1,
        Some(ChainBreak::Unlinked {
            id: ids[4],
            previous_id: Some(ids[2])
        })
    );
}

#[tokio::test]
async fn removing_the_newest_entries_is_detected() {
    let (app, _org, cred) = world().await;
    app.patch(
        As::Admin,
        &format!("/api/v2/credentials/{cred}/"),
        json!({"description": "z"}),
    )
    .await;
    let conn = app.state.ctx.store.pool();
    let last: i64 = query_scalar("SELECT MAX(id) FROM activity_stream")
        .fetch_one(conn)
        .await
        .unwrap();
    query("DELETE FROM activity_stream WHERE id = ?")
        .bind(last)
        .execute(conn)
        .await
        .unwrap();
    assert!(matches!(
        app.state.ctx.store.verify_activity_chain().await.unwrap().1,
        Some(ChainBreak::Truncated { .. })
    ));
}
