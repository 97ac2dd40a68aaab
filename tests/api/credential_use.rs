//! Using a credential: `POST /api/v2/credentials/{id}/render/` and
//! `POST /api/v2/credentials/render/` — who may, what a job gets (custom injectors,
//! managed cloud types, Machine arguments and prompts), several credentials for one job,
//! the audit entry every render leaves, and bad input.

use crate::common::{self, As, TestApp};
use axum::http::StatusCode;
use serde_json::{json, Value};

const SECRET: &str = "render-secret-7c1d";

/// A custom type with env, a file and extra vars.
async fn custom_type(app: &TestApp) -> i64 {
    app.create(
        "/api/v2/credential_types/",
        json!({"name": "Service", "kind": "cloud",
               "inputs": {"fields": [
                   {"id": "user", "label": "User", "type": "string"},
                   {"id": "token", "label": "Token", "type": "string", "secret": true},
                   {"id": "tls", "label": "TLS", "type": "boolean"}]},
               "injectors": {
                   "file": {"template": "token={{ token }}\n"},
                   "env": {"SVC_USER": "{{ user }}", "SVC_TOKEN": "{{ token }}", "SVC_CONF": "{{ tower.filename }}", "SVC_TLS": "{{ tls }}"},
                   "extra_vars": {"svc_user": "{{ user }}", "svc_token": "{{ token }}"}}}),
    )
    .await
}

async fn custom_credential(app: &TestApp, org: i64) -> i64 {
    let ty = custom_type(app).await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": "svc", "organization": org, "credential_type": ty,
               "inputs": {"user": "alice", "token": SECRET}}),
    )
    .await
}

fn render_path(id: i64) -> String {
    format!("/api/v2/credentials/{id}/render/")
}

#[tokio::test]
async fn a_custom_type_renders_env_file_and_extra_vars() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = custom_credential(&app, org).await;
    let r = app
        .post(
            As::Admin,
            &render_path(id),
            json!({"purpose": "deploy", "extra_vars": {"job_var": 1, "svc_user": "overridden"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.headers["cache-control"], "no-store");
    let body = &r.body;
    assert_eq!(body["env"]["SVC_USER"], "alice");
    assert_eq!(body["env"]["SVC_TOKEN"], SECRET);
    assert_eq!(body["env"]["SVC_TLS"], "False");
    assert_eq!(body["safe_env"]["SVC_TOKEN"], "**********");
    assert_eq!(body["safe_env"]["SVC_USER"], "alice");
    let file = &body["files"][0];
    assert_eq!(file["id"], "template");
    // As in Jinja2, one trailing newline of a template is not kept.
    assert_eq!(file["content"], format!("token={SECRET}"));
    assert_eq!(file["env_var"], "SVC_CONF");
    assert_eq!(body["env"]["SVC_CONF"], file["path"]);
    assert_eq!(file["path"], format!("@@CREDSTORE_FILE({id}.template)@@"));
    assert_eq!(
        body["extra_vars"],
        json!({"job_var": 1, "svc_user": "alice", "svc_token": SECRET}),
        "the credential's extra vars are laid over the job's"
    );
    assert_eq!(body["credential"]["id"], id);
    assert_eq!(body["credential"]["kind"], "cloud");
    assert_eq!(body["args"], json!([]));
}

#[tokio::test]
async fn get_is_refused_and_the_answer_is_never_cached() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = custom_credential(&app, org).await;
    let get = app.get(As::Admin, &render_path(id)).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers["allow"], "POST, OPTIONS");
    let many = app.get(As::Admin, "/api/v2/credentials/render/").await;
    assert_eq!(many.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(many.headers["allow"], "POST, OPTIONS");
    assert!(!get.raw.contains(SECRET));
    let first = app.post(As::Admin, &render_path(id), json!({})).await;
    app.patch(
        As::Admin,
        &format!("/api/v2/credentials/{id}/"),
        json!({"inputs": {"user": "bob", "token": "$encrypted$"}}),
    )
    .await;
    let second = app.post(As::Admin, &render_path(id), json!({})).await;
    assert_eq!(first.body["env"]["SVC_USER"], "alice");
    assert_eq!(second.body["env"]["SVC_USER"], "bob");
}

#[tokio::test]
async fn use_role_renders_read_is_forbidden_and_strangers_see_nothing() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = custom_credential(&app, org).await;
    for name in ["reader", "user", "stranger"] {
        let uid = app.user(name).await;
        if name != "stranger" {
            let r = app
                .post(
                    As::Admin,
                    &format!("/api/v2/organizations/{org}/users/"),
                    json!({"id": uid}),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
        }
    }
    let grant = |user: &'static str, role: &'static str| {
        let app = &app;
        async move {
            let roles = app
                .get(
                    As::Admin,
                    &format!("/api/v2/credentials/{id}/object_roles/"),
                )
                .await;
            let role_id = roles.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == role)
                .unwrap()["id"]
                .as_i64()
                .unwrap();
            let users = app
                .get(As::Admin, &format!("/api/v2/users/?username={user}"))
                .await;
            let uid = users.body["results"][0]["id"].as_i64().unwrap();
            let r = app
                .post(
                    As::Admin,
                    &format!("/api/v2/users/{uid}/roles/"),
                    json!({"id": role_id}),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.raw);
        }
    };
    grant("reader", "Read").await;
    grant("user", "Use").await;
    let reader = app
        .post(
            As::Basic("reader", "pw-reader"),
            &render_path(id),
            json!({}),
        )
        .await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN, "{}", reader.raw);
    let stranger = app
        .post(
            As::Basic("stranger", "pw-stranger"),
            &render_path(id),
            json!({}),
        )
        .await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{}", stranger.raw);
    let user = app
        .post(
            As::Basic("user", "pw-user"),
            &render_path(id),
            json!({"purpose": "nightly"}),
        )
        .await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.raw);
    for refused in [&reader, &stranger] {
        assert!(!refused.raw.contains(SECRET));
    }
    let anon = app.post(As::Anon, &render_path(id), json!({})).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_render_is_audited_without_a_value() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = custom_credential(&app, org).await;
    let r = app
        .post(
            As::Admin,
            &render_path(id),
            json!({"purpose": "release 1.2 to prod"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let stream = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{id}/activity_stream/?operation=use&order_by=-timestamp"),
        )
        .await;
    assert_eq!(stream.body["count"], 1, "{}", stream.raw);
    let entry = &stream.body["results"][0];
    assert_eq!(entry["operation"], "use");
    assert_eq!(entry["object1"], "credential");
    assert_eq!(entry["changes"]["purpose"], "release 1.2 to prod");
    assert_eq!(entry["summary_fields"]["actor"]["username"], "admin");
    assert!(entry["timestamp"].is_string());
    assert!(!stream.raw.contains(SECRET) && !stream.raw.contains("alice"));
    let global = app
        .get(As::Admin, "/api/v2/activity_stream/?operation=use")
        .await;
    assert_eq!(global.body["count"], 1);
    assert!(!global.raw.contains(SECRET));
}

#[tokio::test]
async fn managed_cloud_types_render_as_awx_builtin_injectors() {
    let app = TestApp::new().await;
    let aws = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "aws", "credential_type": app.type_id("aws").await, "user": 1,
                   "inputs": {"username": "AKIAEXAMPLE", "password": SECRET}}),
        )
        .await;
    let r = common::render(&app, aws).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(
        r.body["env"],
        json!({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET})
    );
    assert_eq!(r.body["safe_env"]["AWS_SECRET_ACCESS_KEY"], "**********");
    let gce = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "gce", "credential_type": app.type_id("gce").await, "user": 1,
                   "inputs": {"username": "sa@proj.iam.gserviceaccount.com", "project": "proj", "ssh_key_data": common::rsa_private_key()}}),
        )
        .await;
    let r = common::render(&app, gce).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let file = &r.body["files"][0];
    let parsed: Value = serde_json::from_str(file["content"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["client_email"], "sa@proj.iam.gserviceaccount.com");
    assert!(parsed["private_key"]
        .as_str()
        .unwrap()
        .contains("PRIVATE KEY"));
    assert_eq!(r.body["env"]["GCE_CREDENTIALS_FILE_PATH"], file["path"]);
}

#[tokio::test]
async fn machine_credentials_give_arguments_prompts_and_a_key() {
    let app = TestApp::new().await;
    let ssh = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "m", "credential_type": app.type_id("ssh").await, "user": 1,
                   "inputs": {"username": "deploy", "password": SECRET, "become_method": "sudo",
                              "ssh_key_data": common::rsa_private_key()}}),
        )
        .await;
    let r = common::render(&app, ssh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(
        r.body["args"],
        json!(["-u", "deploy", "--ask-pass", "--become-method", "sudo"])
    );
    assert_eq!(
        common::answer(&r, common::SSH_PASSWORD_PROMPT).as_deref(),
        Some(SECRET)
    );
    assert_eq!(r.body["files"][0]["id"], "ssh_key");
    assert_eq!(r.body["files"][0]["env_var"], Value::Null);
}

#[tokio::test]
async fn several_credentials_merge_and_conflicts_use_awx_message() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let custom = custom_credential(&app, org).await;
    let ssh_type = app.type_id("ssh").await;
    let vault_type = app.type_id("vault").await;
    let machine = |name: &'static str| {
        let app = &app;
        async move {
            app.create("/api/v2/credentials/", json!({"name": name, "credential_type": ssh_type, "organization": org, "inputs": {"username": name}}))
                .await
        }
    };
    let (m1, m2) = (machine("m1").await, machine("m2").await);
    let vault = |name: &'static str, id: &'static str| {
        let app = &app;
        async move {
            app.create("/api/v2/credentials/", json!({"name": name, "credential_type": vault_type, "organization": org, "inputs": {"vault_password": "vp", "vault_id": id}}))
                .await
        }
    };
    let (va, vb, va2) = (
        vault("va", "a").await,
        vault("vb", "b").await,
        vault("va2", "a").await,
    );
    let ok = app
        .post(
            As::Admin,
            "/api/v2/credentials/render/",
            json!({"credentials": [va, custom, m1, vb], "purpose": "job 9"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.raw);
    assert_eq!(
        ok.body["args"],
        json!([
            "-u",
            "m1",
            "--vault-id",
            "a@prompt",
            "--vault-id",
            "b@prompt"
        ])
    );
    assert_eq!(ok.body["env"]["SVC_USER"], "alice");
    assert_eq!(ok.body["credentials"].as_array().unwrap().len(), 4);
    let two_machines = app
        .post(
            As::Admin,
            "/api/v2/credentials/render/",
            json!({"credentials": [m1, m2]}),
        )
        .await;
    assert_eq!(two_machines.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        two_machines.body,
        json!({"credentials": ["Cannot assign multiple Machine credentials."]})
    );
    let same_vault_id = app
        .post(
            As::Admin,
            "/api/v2/credentials/render/",
            json!({"credentials": [va, va2]}),
        )
        .await;
    assert_eq!(
        same_vault_id.body,
        json!({"credentials": ["Cannot assign multiple Vault (id=a) credentials."]})
    );
    let audited = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{m1}/activity_stream/?operation=use"),
        )
        .await;
    assert_eq!(
        audited.body["count"], 1,
        "refused renders leave no entry: {}",
        audited.raw
    );
    assert_eq!(audited.body["results"][0]["changes"]["purpose"], "job 9");
}

#[tokio::test]
async fn bad_input_gets_clear_answers() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = custom_credential(&app, org).await;
    let missing = app.post(As::Admin, &render_path(99999), json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let purpose = app
        .post(As::Admin, &render_path(id), json!({"purpose": 5}))
        .await;
    assert_eq!(purpose.status, StatusCode::BAD_REQUEST);
    assert!(purpose.body["purpose"].is_array(), "{}", purpose.raw);
    let vars = app
        .post(As::Admin, &render_path(id), json!({"extra_vars": [1]}))
        .await;
    assert_eq!(vars.status, StatusCode::BAD_REQUEST);
    assert!(vars.body["extra_vars"].is_array(), "{}", vars.raw);
    for body in [
        json!({}),
        json!({"credentials": []}),
        json!({"credentials": "x"}),
        json!({"credentials": [true]}),
        json!({"credentials": [99999]}),
    ] {
        let r = app
            .post(As::Admin, "/api/v2/credentials/render/", body.clone())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.raw);
        assert!(r.body["credentials"].is_array(), "{body}: {}", r.raw);
    }
    let not_json = app
        .call(
            axum::http::Request::post(render_path(id))
                .header("authorization", format!("Basic {}", base64_admin()))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{nope"))
                .unwrap(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
}

fn base64_admin() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", common::ADMIN_PASSWORD))
}

#[tokio::test]
async fn a_template_that_fails_only_at_render_time_names_the_injector() {
    let app = TestApp::new().await;
    // Valid for AWX's validation (`EXAMPLE` has a length); an unset `user` has none.
    let ty = app
        .create(
            "/api/v2/credential_types/",
            json!({"name": "Divides", "kind": "cloud",
                   "inputs": {"fields": [{"id": "user", "label": "User", "type": "string"},
                                         {"id": "token", "label": "Token", "type": "string", "secret": true}]},
                   "injectors": {"env": {"SHARE": "{{ 100 // (user | length) }}{{ token }}"}}}),
        )
        .await;
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "d", "credential_type": ty, "user": 1, "inputs": {"token": SECRET}}),
        )
        .await;
    let r = common::render(&app, id).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("env injector SHARE") && detail.contains("Divides"),
        "{detail}"
    );
    assert!(!r.raw.contains(SECRET));
    let audited = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{id}/activity_stream/?operation=use"),
        )
        .await;
    assert_eq!(audited.body["count"], 0, "a failed render is not a use");
}

#[tokio::test]
async fn options_describe_the_render_endpoints() {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let id = custom_credential(&app, org).await;
    for path in [render_path(id), "/api/v2/credentials/render/".to_string()] {
        let r = app
            .send(As::Admin, axum::http::Method::OPTIONS, &path, None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.raw);
        assert!(!r.raw.contains(SECRET));
    }
}

/// A template that passes validation (its placeholder values are short) but doubles a
/// secret twenty times at render: with a 4 KB secret that is 4 GB, which the worker's
/// memory limit stops. The answer is a 400 naming the type, with no value in it, and the
/// server goes on; a template that only names values still renders in the server.
#[tokio::test]
async fn a_template_that_outgrows_its_memory_at_render_is_refused() {
    let app = TestApp::new().await;
    let ty = app
        .create(
            "/api/v2/credential_types/",
            json!({"name": "Doubler", "kind": "cloud",
                   "inputs": {"fields": [{"id": "token", "label": "Token", "type": "string", "secret": true}]},
                   "injectors": {"env": {
                       "LONG": "{% set ns = namespace(s=token) %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
                       "PLAIN": "{{ token }}"}}}),
        )
        .await;
    let secret = format!("{SECRET}{}", "x".repeat(4096));
    let id = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "big", "credential_type": ty, "user": 1, "inputs": {"token": secret}}),
        )
        .await;
    let r = common::render(&app, id).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Doubler") && detail.contains("more memory or time"),
        "{detail}"
    );
    assert!(!r.raw.contains(SECRET));
    let ping = app.get(As::Anon, "/api/v2/ping/").await;
    assert_eq!(ping.status, StatusCode::OK);

    let short = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "small", "credential_type": ty, "user": 1, "inputs": {"token": "abc"}}),
        )
        .await;
    let r = common::render(&app, short).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["env"]["LONG"], json!((3 << 20).to_string()));
    assert_eq!(r.body["env"]["PLAIN"], "abc");
}
