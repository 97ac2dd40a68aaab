//! `/api/v2/credential_input_sources/` and `/credentials/{id}/input_sources/`: the link
//! rules of api.md §6.2 with AWX's messages, permissions, cascades and copies.

use crate::common;

use axum::http::StatusCode;
use common::{As, TestApp};
use serde_json::{json, Value};

struct World {
    app: TestApp,
    org: i64,
    ssh: i64,
    hv: i64,
    vault: i64,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let ssh_type = app.type_id("ssh").await;
    let hv_type = app.type_id("hashivault_kv").await;
    let vault_type = app.type_id("vault").await;
    let ssh = app.create("/api/v2/credentials/", json!({"name": "ssh", "organization": org, "credential_type": ssh_type, "inputs": {"username": "u"}})).await;
    let hv = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "hv", "organization": org, "credential_type": hv_type,
               "inputs": {"url": "https://vault.example.com", "token": "t", "api_version": "v2"}}),
        )
        .await;
    let vault = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "vault", "organization": org, "credential_type": vault_type}),
        )
        .await;
    World {
        app,
        org,
        ssh,
        hv,
        vault,
    }
}

fn link(target: i64, source: i64, field: &str) -> Value {
    json!({"target_credential": target, "source_credential": source, "input_field_name": field,
           "metadata": {"secret_path": "/kv/app", "secret_key": "password"}, "description": "pw"})
}

#[tokio::test]
async fn create_read_list_patch_delete() {
    let w = world().await;
    let r = w
        .app
        .post(
            As::Admin,
            "/api/v2/credential_input_sources/",
            link(w.ssh, w.hv, "password"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["type"], "credential_input_source");
    assert_eq!(
        r.body["summary_fields"]["source_credential"]["kind"],
        "hashivault_kv"
    );
    assert_eq!(r.body["summary_fields"]["target_credential"]["name"], "ssh");
    assert_eq!(
        r.body["summary_fields"]["user_capabilities"]["delete"],
        true
    );
    assert_eq!(
        r.body["related"]["target_credential"],
        format!("/api/v2/credentials/{}/", w.ssh)
    );
    let by_target = w
        .app
        .get(
            As::Admin,
            &format!(
                "/api/v2/credential_input_sources/?target_credential={}",
                w.ssh
            ),
        )
        .await;
    assert_eq!(by_target.body["count"], 1);
    let sub = w
        .app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{}/input_sources/", w.ssh),
        )
        .await;
    assert_eq!(sub.body["results"][0]["id"], id);
    let p = w
        .app
        .patch(
            As::Admin,
            &format!("/api/v2/credential_input_sources/{id}/"),
            json!({"description": "changed"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.body["description"], "changed");
    assert_eq!(p.body["metadata"]["secret_key"], "password");
    assert_eq!(
        w.app
            .delete(
                As::Admin,
                &format!("/api/v2/credential_input_sources/{id}/")
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = w
        .app
        .get(
            As::Admin,
            &format!("/api/v2/credential_input_sources/{id}/"),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["detail"],
        "No CredentialInputSource matches the given query."
    );
}

#[tokio::test]
async fn validation_messages_match_awx() {
    let w = world().await;
    let post = |b: Value| {
        w.app
            .post(As::Admin, "/api/v2/credential_input_sources/", b)
    };
    assert_eq!(
        post(link(w.ssh, w.hv, "password")).await.status,
        StatusCode::CREATED
    );
    let dup = post(link(w.ssh, w.hv, "password")).await;
    assert_eq!(
        dup.body,
        json!({"__all__": ["Credential input source with this Target credential and Input field name already exists."]})
    );
    let ext = post(link(w.hv, w.hv, "token")).await;
    assert_eq!(
        ext.body,
        json!({"target_credential": ["Target must be a non-external credential"]})
    );
    let mut non_ext = link(w.ssh, w.vault, "username");
    non_ext["metadata"] = json!({});
    assert_eq!(
        post(non_ext).await.body,
        json!({"source_credential": ["Source must be an external credential"]})
    );
    let unknown = post(link(w.vault, w.hv, "nope")).await;
    assert_eq!(
        unknown.body,
        json!({"input_field_name": ["Input field must be defined on target credential (options are vault_id, vault_password)."]})
    );
    let mut missing = link(w.ssh, w.hv, "username");
    missing["metadata"] = json!({});
    assert_eq!(
        post(missing).await.body,
        json!({"metadata": {"secret_path": ["required for HashiCorp Vault Secret Lookup"], "secret_key": ["required for HashiCorp Vault Secret Lookup"]}})
    );
    let mut extra = link(w.ssh, w.hv, "username");
    extra["metadata"]["bogus"] = json!("x");
    assert_eq!(
        post(extra).await.body,
        json!({"metadata": ["Additional properties are not allowed ('bogus' was unexpected)"]})
    );
    let mut wrong = link(w.ssh, w.hv, "username");
    wrong["metadata"]["secret_path"] = json!(123);
    assert_eq!(
        post(wrong).await.body,
        json!({"metadata": {"secret_path": ["123 is not of type 'string'"]}})
    );
    assert_eq!(
        post(json!({})).await.body,
        json!({"input_field_name": ["This field is required."], "target_credential": ["This field is required."], "source_credential": ["This field is required."]})
    );
    let bad_pk = post(link(987654, w.hv, "password")).await;
    assert_eq!(
        bad_pk.body,
        json!({"target_credential": ["Invalid pk \"987654\" - object does not exist."]})
    );
}

#[tokio::test]
async fn sub_list_create_takes_the_target_from_the_url() {
    let w = world().await;
    let r = w
        .app
        .post(As::Admin, &format!("/api/v2/credentials/{}/input_sources/", w.ssh),
              json!({"source_credential": w.hv, "input_field_name": "password", "metadata": {"secret_path": "/a", "secret_key": "k"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["target_credential"], w.ssh);
}

#[tokio::test]
async fn permissions_need_admin_on_target_and_use_on_source() {
    let w = world().await;
    let ann = w.app.user("ann").await;
    w.app
        .post(
            As::Admin,
            &format!("/api/v2/organizations/{}/users/", w.org),
            json!({"id": ann}),
        )
        .await;
    let role = |cred: i64, field: &str| {
        let app = &w.app;
        let field = field.to_string();
        async move {
            let c = app
                .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
                .await;
            c.body["summary_fields"]["object_roles"][format!("{field}_role")]["id"]
                .as_i64()
                .unwrap()
        }
    };
    let ann_as = As::Basic("ann", "pw-ann");
    let attempt = || {
        w.app.post(
            ann_as,
            "/api/v2/credential_input_sources/",
            link(w.ssh, w.hv, "password"),
        )
    };
    assert_eq!(attempt().await.status, StatusCode::FORBIDDEN);
    w.app
        .post(
            As::Admin,
            &format!("/api/v2/roles/{}/users/", role(w.ssh, "admin").await),
            json!({"id": ann}),
        )
        .await;
    assert_eq!(
        attempt().await.status,
        StatusCode::FORBIDDEN,
        "use on the source is still missing"
    );
    w.app
        .post(
            As::Admin,
            &format!("/api/v2/roles/{}/users/", role(w.hv, "use").await),
            json!({"id": ann}),
        )
        .await;
    let ok = attempt().await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.raw);
    w.app.user("bob").await;
    let id = ok.body["id"].as_i64().unwrap();
    assert_eq!(
        w.app
            .get(
                As::Basic("bob", "pw-bob"),
                &format!("/api/v2/credential_input_sources/{id}/")
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        w.app
            .get(
                As::Basic("bob", "pw-bob"),
                "/api/v2/credential_input_sources/"
            )
            .await
            .body["count"],
        0
    );
}

#[tokio::test]
async fn deleting_either_credential_removes_the_link_and_copies_keep_it() {
    let w = world().await;
    let r = w
        .app
        .post(
            As::Admin,
            "/api/v2/credential_input_sources/",
            link(w.ssh, w.hv, "password"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let copy = w
        .app
        .post(
            As::Admin,
            &format!("/api/v2/credentials/{}/copy/", w.ssh),
            json!({"name": "ssh-copy"}),
        )
        .await;
    let copy_id = copy.body["id"].as_i64().unwrap();
    let copied = w
        .app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{copy_id}/input_sources/"),
        )
        .await;
    assert_eq!(copied.body["count"], 1);
    assert_eq!(copied.body["results"][0]["source_credential"], w.hv);
    assert_eq!(
        w.app
            .delete(As::Admin, &format!("/api/v2/credentials/{}/", w.hv))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        w.app
            .get(As::Admin, "/api/v2/credential_input_sources/")
            .await
            .body["count"],
        0
    );
}
