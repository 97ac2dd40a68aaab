//! `/api/v2/credential_types/`: the managed catalogue, listing rules, custom types and their
//! validation, the in-use rules, permissions and pagination. Expected values come from the
//! recorded AWX answers (awx-recorded.jsonl, seq 13–63 and 205–210) and api.md §1.2, §2.6, §4.8,
//! §5, §7.

use crate::common;

use axum::http::{header, StatusCode};
use common::{As, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const LIST: &str = "/api/v2/credential_types/";
const BOB: As<'static> = As::Basic("bob", "pw-bob");

/// The managed namespaces in AWX's default order (kind, then name): the 30 recorded in
/// seq 13, plus awx-plugins-core 0.2.0a0's GitHub App lookup (docs/decisions.md).
const MANAGED_IN_ORDER: [&str; 31] = [
    "aws",
    "gce",
    "azure_rm",
    "openstack",
    "controller",
    "satellite6",
    "rhv",
    "terraform",
    "vmware",
    "gpg_public_key",
    "aws_secretsmanager_credential",
    "centrify_vault_kv",
    "aim",
    "conjur",
    "github_app_lookup",
    "hashivault_kv",
    "hashivault_ssh",
    "azure_kv",
    "thycotic_dsv",
    "thycotic_tss",
    "galaxy_api_token",
    "insights",
    "kubernetes_bearer_token",
    "net",
    "registry",
    "scm",
    "ssh",
    "bitbucket_dc_token",
    "github_token",
    "gitlab_token",
    "vault",
];

fn detail(id: i64) -> String {
    format!("{LIST}{id}/")
}

fn namespaces(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["namespace"].as_str().unwrap_or("<null>").to_string())
        .collect()
}

/// A `next`/`previous` link with its percent-escapes decoded.
fn decoded(link: &Value) -> String {
    let link = link.as_str().expect("link");
    percent_encoding::percent_decode_str(link)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

fn names(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_string())
        .collect()
}

/// The custom type of seq 33.
fn custom_type_body() -> Value {
    json!({
        "name": "dx-type",
        "description": "dx custom type",
        "kind": "cloud",
        "inputs": {
            "fields": [
                {"id": "api_token", "label": "API Token", "type": "string", "secret": true},
                {"id": "endpoint", "label": "Endpoint", "type": "string", "help_text": "Base URL"},
                {"id": "insecure", "label": "Skip TLS verification", "type": "boolean"}
            ],
            "required": ["api_token"]
        },
        "injectors": {
            "env": {"DX_API_TOKEN": "{{ api_token }}"},
            "extra_vars": {"dx_endpoint": "{{ endpoint }}"},
            "file": {"template": "token={{ api_token }}"}
        }
    })
}

/// The custom type of seq 35 (posted with `managed: true` and a namespace).
fn custom_type2_body() -> Value {
    json!({
        "name": "dx-type2",
        "description": "dx custom type",
        "kind": "net",
        "inputs": {"fields": [{"id": "token", "label": "Token", "secret": true}]},
        "injectors": {"env": {"DX_TOKEN": "{{ token }}"}},
        "managed": true,
        "namespace": "x"
    })
}

async fn admin_id(app: &TestApp) -> i64 {
    let r = app.get(As::Admin, "/api/v2/me/").await;
    r.body["results"][0]["id"].as_i64().expect("admin id")
}

/// A custom type (seq 33) that has one credential (seq 100), in organization `dx-org`.
async fn custom_type_in_use(app: &TestApp) -> (i64, i64, i64) {
    let ct = app.create(LIST, custom_type_body()).await;
    let org = app.org("dx-org").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({
                "name": "dx-custom",
                "organization": org,
                "credential_type": ct,
                "inputs": {"api_token": "tok", "endpoint": "https://api.example.com", "insecure": true}
            }),
        )
        .await;
    (ct, cred, org)
}

/// Asserts that a POST of `body` is refused with exactly `expected`.
async fn assert_create_rejected(app: &TestApp, body: Value, expected: Value) {
    let r = app.post(As::Admin, LIST, body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.raw);
    assert_eq!(r.body, expected);
}

/// A body like the invalid ones of seq 37–54: a valid `token` input and the given injectors.
fn with_injectors(name: &str, injectors: Value) -> Value {
    json!({
        "name": name,
        "description": "dx custom type",
        "kind": "cloud",
        "inputs": {"fields": [{"id": "token", "label": "Token", "secret": true}]},
        "injectors": injectors
    })
}

/// A body like seq 44–51: the given inputs and an injector that uses `token`.
fn with_inputs(name: &str, inputs: Value) -> Value {
    json!({
        "name": name,
        "description": "dx custom type",
        "kind": "cloud",
        "inputs": inputs,
        "injectors": {"env": {"DX_TOKEN": "{{ token }}"}}
    })
}

// ---------------------------------------------------------------------------------------------
// The managed catalogue

#[tokio::test]
async fn managed_list_has_the_30_awx_types() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?managed=true&page_size=200",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], MANAGED_IN_ORDER.len());
    assert_eq!(r.body["next"], Value::Null);
    assert_eq!(r.body["previous"], Value::Null);
    let got: BTreeSet<String> = namespaces(&r.body).into_iter().collect();
    let want: BTreeSet<String> = MANAGED_IN_ORDER.iter().map(|s| s.to_string()).collect();
    assert_eq!(got, want);
    for item in r.body["results"].as_array().unwrap() {
        assert_eq!(item["managed"], true, "{}", item["name"]);
        assert_eq!(item["type"], "credential_type");
        let id = item["id"].as_i64().expect("id");
        assert_eq!(item["url"], format!("/api/v2/credential_types/{id}/"));
    }
}

#[tokio::test]
async fn default_ordering_is_kind_then_name() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?managed=true&page_size=200",
        )
        .await;
    assert_eq!(namespaces(&r.body), MANAGED_IN_ORDER);
    // The unfiltered first page starts the same way.
    let r = app.get(As::Admin, LIST).await;
    assert_eq!(namespaces(&r.body)[..3], ["aws", "gce", "azure_rm"]);
}

#[tokio::test]
async fn machine_type_matches_awx() {
    let app = TestApp::new().await;
    let id = app.type_id("ssh").await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    assert_eq!(b["id"], id);
    assert_eq!(b["type"], "credential_type");
    assert_eq!(b["url"], format!("/api/v2/credential_types/{id}/"));
    assert_eq!(
        b["related"],
        json!({
            "named_url": "/api/v2/credential_types/Machine+ssh/",
            "credentials": format!("/api/v2/credential_types/{id}/credentials/"),
            "activity_stream": format!("/api/v2/credential_types/{id}/activity_stream/")
        })
    );
    assert_eq!(
        b["summary_fields"],
        json!({"user_capabilities": {"edit": true, "delete": true}})
    );
    assert_eq!(b["name"], "Machine");
    assert_eq!(b["description"], "");
    assert_eq!(b["kind"], "ssh");
    assert_eq!(b["namespace"], "ssh");
    assert_eq!(b["managed"], true);
    assert_eq!(b["injectors"], json!({}));
    assert_eq!(
        b["inputs"],
        json!({
            "fields": [
                {"id": "username", "label": "Username", "type": "string"},
                {"id": "password", "label": "Password", "type": "string", "secret": true, "ask_at_runtime": true},
                {"id": "ssh_key_data", "label": "SSH Private Key", "type": "string", "format": "ssh_private_key", "secret": true, "multiline": true},
                {"id": "ssh_public_key_data", "label": "Signed SSH Certificate", "type": "string", "multiline": true, "secret": true},
                {"id": "ssh_key_unlock", "label": "Private Key Passphrase", "type": "string", "secret": true, "ask_at_runtime": true},
                {"id": "become_method", "label": "Privilege Escalation Method", "type": "string", "help_text": "Specify a method for \"become\" operations. This is equivalent to specifying the --become-method Ansible parameter."},
                {"id": "become_username", "label": "Privilege Escalation Username", "type": "string"},
                {"id": "become_password", "label": "Privilege Escalation Password", "type": "string", "secret": true, "ask_at_runtime": true}
            ]
        })
    );
}

#[tokio::test]
async fn hashivault_kv_has_metadata_and_required() {
    let app = TestApp::new().await;
    let id = app.type_id("hashivault_kv").await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "HashiCorp Vault Secret Lookup");
    assert_eq!(r.body["kind"], "external");
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/credential_types/HashiCorp Vault Secret Lookup+external/"
    );
    assert_eq!(
        r.body["inputs"]["metadata"],
        json!([
            {"id": "secret_backend", "label": "Name of Secret Backend", "type": "string", "help_text": "The name of the kv secret backend (if left empty, the first segment of the secret path will be used)."},
            {"id": "secret_path", "label": "Path to Secret", "type": "string", "help_text": "The path to the secret stored in the secret backend e.g, /some/secret/. It is recommended that you use the secret backend field to identify the storage backend and to use this field for locating a specific secret within that store. However, if you prefer to fully identify both the secret backend and one of its secrets using only this field, join their locations into a single path without any additional separators, e.g, /location/of/backend/some/secret."},
            {"id": "auth_path", "label": "Path to Auth", "type": "string", "multiline": false, "help_text": "The path where the Authentication method is mounted e.g, approle"},
            {"id": "secret_key", "label": "Key Name", "type": "string", "help_text": "The name of the key to look up in the secret."},
            {"id": "secret_version", "label": "Secret Version (v2 only)", "type": "string", "help_text": "Used to specify a specific secret version (if left empty, the latest version will be used)."}
        ])
    );
    assert_eq!(
        r.body["inputs"]["required"],
        json!(["url", "secret_path", "api_version", "secret_key"])
    );
    // `api_version` has choices and a default but no `type` key.
    let fields = r.body["inputs"]["fields"].as_array().unwrap();
    let api_version = fields.iter().find(|f| f["id"] == "api_version").unwrap();
    assert_eq!(api_version["choices"], json!(["v1", "v2"]));
    assert_eq!(api_version["default"], "v1");
    assert!(api_version.get("type").is_none(), "{api_version}");
}

#[tokio::test]
async fn kubernetes_type_matches_awx() {
    let app = TestApp::new().await;
    let id = app.type_id("kubernetes_bearer_token").await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "OpenShift or Kubernetes API Bearer Token");
    assert_eq!(r.body["kind"], "kubernetes");
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/credential_types/OpenShift or Kubernetes API Bearer Token+kubernetes/"
    );
    assert_eq!(
        r.body["inputs"],
        json!({
            "fields": [
                {"id": "host", "label": "OpenShift or Kubernetes API Endpoint", "type": "string", "help_text": "The OpenShift or Kubernetes API Endpoint to authenticate with."},
                {"id": "bearer_token", "label": "API authentication bearer token", "type": "string", "secret": true},
                {"id": "verify_ssl", "label": "Verify SSL", "type": "boolean", "default": true},
                {"id": "ssl_ca_cert", "label": "Certificate Authority data", "type": "string", "secret": true, "multiline": true}
            ],
            "required": ["host", "bearer_token"]
        })
    );
    assert_eq!(r.body["injectors"], json!({}));
}

#[tokio::test]
async fn insights_type_exposes_its_injectors() {
    let app = TestApp::new().await;
    let id = app.type_id("insights").await;
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "Insights");
    assert_eq!(
        r.body["inputs"],
        json!({
            "fields": [
                {"id": "username", "label": "Username", "type": "string"},
                {"id": "password", "label": "Password", "type": "string", "secret": true}
            ],
            "required": ["username", "password"]
        })
    );
    assert_eq!(
        r.body["injectors"],
        json!({
            "extra_vars": {"scm_username": "{{username}}", "scm_password": "{{password}}"},
            "env": {"INSIGHTS_USER": "{{username}}", "INSIGHTS_PASSWORD": "{{password}}"}
        })
    );
}

#[tokio::test]
async fn named_url_finds_a_type() {
    let app = TestApp::new().await;
    let id = app.type_id("ssh").await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/Machine+ssh/")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["url"], format!("/api/v2/credential_types/{id}/"));
}

#[tokio::test]
async fn missing_type_is_404() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/987654321/")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No CredentialType matches the given query."})
    );
}

// ---------------------------------------------------------------------------------------------
// Filtering, searching, ordering

#[tokio::test]
async fn filter_by_kind_and_managed() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?kind=cloud&managed=true&page_size=50",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 9);
    assert_eq!(
        namespaces(&r.body),
        [
            "aws",
            "gce",
            "azure_rm",
            "openstack",
            "controller",
            "satellite6",
            "rhv",
            "terraform",
            "vmware"
        ]
    );
}

#[tokio::test]
async fn filter_by_namespace() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?namespace=aws")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["name"], "Amazon Web Services");
    assert_eq!(r.body["results"][0]["kind"], "cloud");
}

#[tokio::test]
async fn filter_name_icontains() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?name__icontains=vault&managed=true",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 6);
    assert_eq!(
        namespaces(&r.body),
        [
            "centrify_vault_kv",
            "hashivault_kv",
            "hashivault_ssh",
            "azure_kv",
            "thycotic_dsv",
            "vault"
        ]
    );
}

#[tokio::test]
async fn filter_managed_false_lists_only_custom_types() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?managed=false&name__startswith=dx-",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 0);
    assert_eq!(r.body["results"], json!([]));
    let id = app.create(LIST, custom_type_body()).await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?managed=false")
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], id);
}

#[tokio::test]
async fn search_matches_names() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?search=hashicorp&managed=true",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 2);
    assert_eq!(namespaces(&r.body), ["hashivault_kv", "hashivault_ssh"]);
}

#[tokio::test]
async fn order_by_name() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?managed=true&order_by=name&page_size=5",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], MANAGED_IN_ORDER.len());
    assert_eq!(
        r.body["next"],
        "/api/v2/credential_types/?managed=true&order_by=name&page=2&page_size=5"
    );
    assert_eq!(
        names(&r.body),
        [
            "AWS Secrets Manager lookup",
            "Amazon Web Services",
            "Ansible Galaxy/Automation Hub API Token",
            "Bitbucket Data Center HTTP Access Token",
            "Centrify Vault Credential Provider Lookup"
        ]
    );
}

#[tokio::test]
async fn order_by_name_descending() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?managed=true&order_by=-name&page_size=5",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["next"],
        "/api/v2/credential_types/?managed=true&order_by=-name&page=2&page_size=5"
    );
    assert_eq!(
        namespaces(&r.body),
        [
            "vault",
            "vmware",
            "thycotic_tss",
            "thycotic_dsv",
            "terraform"
        ]
    );
}

#[tokio::test]
async fn order_by_several_fields() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?managed=true&order_by=-kind,name&page_size=5",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // AWX's recording shows the comma literally; a percent-encoded comma means the same.
    assert_eq!(
        decoded(&r.body["next"]),
        "/api/v2/credential_types/?managed=true&order_by=-kind,name&page=2&page_size=5"
    );
    assert_eq!(
        namespaces(&r.body),
        [
            "vault",
            "bitbucket_dc_token",
            "github_token",
            "gitlab_token",
            "ssh"
        ]
    );
}

#[tokio::test]
async fn order_by_unknown_field_is_400() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?order_by=nosuchfield")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"detail": "CredentialType has no field named 'nosuchfield'"})
    );
}

#[tokio::test]
async fn filter_on_unknown_field_is_400() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?nosuchfield=1")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"detail": "CredentialType has no field named 'nosuchfield'"})
    );
}

// ---------------------------------------------------------------------------------------------
// Creating custom types

#[tokio::test]
async fn create_custom_type_echoes_inputs_and_injectors() {
    let app = TestApp::new().await;
    let admin = admin_id(&app).await;
    let posted = custom_type_body();
    let r = app.post(As::Admin, LIST, posted.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/api/v2/credential_types/{id}/").as_str()
    );
    let b = &r.body;
    assert_eq!(b["type"], "credential_type");
    assert_eq!(b["url"], format!("/api/v2/credential_types/{id}/"));
    assert_eq!(
        b["related"],
        json!({
            "named_url": "/api/v2/credential_types/dx-type+cloud/",
            "created_by": format!("/api/v2/users/{admin}/"),
            "modified_by": format!("/api/v2/users/{admin}/"),
            "credentials": format!("/api/v2/credential_types/{id}/credentials/"),
            "activity_stream": format!("/api/v2/credential_types/{id}/activity_stream/")
        })
    );
    let who = json!({"id": admin, "username": "admin", "first_name": "", "last_name": ""});
    assert_eq!(
        b["summary_fields"],
        json!({
            "created_by": who,
            "modified_by": who,
            "user_capabilities": {"edit": true, "delete": true}
        })
    );
    assert_eq!(b["name"], "dx-type");
    assert_eq!(b["description"], "dx custom type");
    assert_eq!(b["kind"], "cloud");
    assert_eq!(b["namespace"], Value::Null);
    assert_eq!(b["managed"], false);
    assert_eq!(b["inputs"], posted["inputs"]);
    assert_eq!(b["injectors"], posted["injectors"]);
}

#[tokio::test]
async fn created_custom_type_reads_back_the_same() {
    let app = TestApp::new().await;
    let created = app.post(As::Admin, LIST, custom_type_body()).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_i64().unwrap();
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    for key in [
        "id",
        "type",
        "url",
        "related",
        "summary_fields",
        "created",
        "name",
        "description",
        "kind",
        "namespace",
        "managed",
        "inputs",
        "injectors",
    ] {
        assert_eq!(r.body[key], created.body[key], "{key}");
    }
}

#[tokio::test]
async fn posted_managed_and_namespace_are_ignored_and_type_defaults_to_string() {
    let app = TestApp::new().await;
    let r = app.post(As::Admin, LIST, custom_type2_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
    assert_eq!(r.body["managed"], false);
    assert_eq!(r.body["namespace"], Value::Null);
    assert_eq!(r.body["kind"], "net");
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/credential_types/dx-type2+net/"
    );
    assert_eq!(
        r.body["inputs"],
        json!({"fields": [{"id": "token", "label": "Token", "secret": true, "type": "string"}]})
    );
    assert_eq!(
        r.body["injectors"],
        json!({"env": {"DX_TOKEN": "{{ token }}"}})
    );
}

// ---------------------------------------------------------------------------------------------
// Validation (seq 36–55)

#[tokio::test]
async fn duplicate_name_and_kind_is_400() {
    let app = TestApp::new().await;
    app.create(LIST, custom_type_body()).await;
    assert_create_rejected(
        &app,
        json!({"name": "dx-type", "kind": "cloud"}),
        json!({"__all__": ["Credential type with this Name and Kind already exists."]}),
    )
    .await;
}

#[tokio::test]
async fn env_injector_with_ansible_prefix_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors("dx-bad1", json!({"env": {"ANSIBLE_FOO": "{{ token }}"}})),
        json!({"injectors": ["Environment variable ANSIBLE_FOO may affect Ansible configuration so its use is not allowed in credentials."]}),
    )
    .await;
}

#[tokio::test]
async fn env_injector_with_reserved_name_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors("dx-bad2", json!({"env": {"PATH": "{{ token }}"}})),
        json!({"injectors": ["Environment variable PATH is not allowed to be used in credentials."]}),
    )
    .await;
}

#[tokio::test]
async fn env_injector_with_bad_name_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors("dx-bad3", json!({"env": {"1BAD": "{{ token }}"}})),
        json!({"injectors": ["Schema validation error in relative path ['env'] ('1BAD' does not match any of the regexes: '^[a-zA-Z_]+[a-zA-Z0-9_]*$')"]}),
    )
    .await;
}

#[tokio::test]
async fn template_syntax_error_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors("dx-bad4", json!({"env": {"DX": "{{ token "}})),
        json!({"injectors": ["Syntax error rendering template for DX inside of env (unexpected end of template, expected 'end of print statement'.)"]}),
    )
    .await;
}

#[tokio::test]
async fn template_with_undefined_variable_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors("dx-bad5", json!({"env": {"DX": "{{ nope }}"}})),
        json!({"injectors": ["DX uses an undefined field ('nope' is undefined)"]}),
    )
    .await;
}

#[tokio::test]
async fn unknown_injector_key_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors("dx-bad6", json!({"bogus": {}})),
        json!({"injectors": ["Schema validation error in relative path [] (Additional properties are not allowed ('bogus' was unexpected))"]}),
    )
    .await;
}

#[tokio::test]
async fn mixing_single_and_named_files_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_injectors(
            "dx-bad7",
            json!({"file": {"template": "a", "template.b": "b"}}),
        ),
        json!({"injectors": ["Must use multi-file syntax when injecting multiple files"]}),
    )
    .await;
}

#[tokio::test]
async fn field_with_unknown_type_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad8",
            json!({"fields": [{"id": "n", "label": "N", "type": "integer"}]}),
        ),
        json!({"inputs": ["'integer' is not one of ['string', 'boolean']"]}),
    )
    .await;
}

#[tokio::test]
async fn duplicate_field_ids_are_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad9",
            json!({"fields": [{"id": "token", "label": "A"}, {"id": "token", "label": "B"}]}),
        ),
        json!({"inputs": ["field IDs must be unique (token)"]}),
    )
    .await;
}

#[tokio::test]
async fn invalid_field_id_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad10",
            json!({"fields": [{"id": "1abc", "label": "A"}]}),
        ),
        json!({"inputs": ["1abc is an invalid variable name"]}),
    )
    .await;
}

#[tokio::test]
async fn field_named_tower_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad11",
            json!({"fields": [{"id": "tower", "label": "A"}]}),
        ),
        json!({"inputs": ["\"tower\" is a reserved field name"]}),
    )
    .await;
}

#[tokio::test]
async fn field_without_label_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs("dx-bad12", json!({"fields": [{"id": "token"}]})),
        json!({"inputs": ["'label' is a required property"]}),
    )
    .await;
}

#[tokio::test]
async fn boolean_field_with_choices_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad13",
            json!({"fields": [{"id": "flag", "label": "F", "type": "boolean", "choices": ["a"]}]}),
        ),
        json!({"inputs": ["choices not allowed for boolean type (flag)"]}),
    )
    .await;
}

#[tokio::test]
async fn ask_at_runtime_is_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad14",
            json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": true}]}),
        ),
        json!({"inputs": ["'ask_at_runtime' is not supported for custom credentials."]}),
    )
    .await;
}

#[tokio::test]
async fn dependencies_are_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs(
            "dx-bad15",
            json!({"fields": [{"id": "token", "label": "T"}], "dependencies": {"token": ["x"]}}),
        ),
        json!({"inputs": ["'dependencies' is not supported for custom credentials."]}),
    )
    .await;
}

#[tokio::test]
async fn inputs_that_are_not_an_object_are_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        with_inputs("dx-bad16", json!(["x"])),
        json!({"inputs": ["list provided, expected dict"]}),
    )
    .await;
}

#[tokio::test]
async fn kind_other_than_cloud_or_net_is_400() {
    let app = TestApp::new().await;
    let mut body = with_injectors("dx-bad17", json!({"env": {"DX_TOKEN": "{{ token }}"}}));
    body["kind"] = json!("ssh");
    assert_create_rejected(
        &app,
        body,
        json!({"kind": ["Must be 'cloud' or 'net', not ssh"]}),
    )
    .await;
}

#[tokio::test]
async fn invalid_kind_choice_is_400() {
    let app = TestApp::new().await;
    let mut body = with_injectors("dx-bad18", json!({"env": {"DX_TOKEN": "{{ token }}"}}));
    body["kind"] = json!("bogus");
    assert_create_rejected(
        &app,
        body,
        json!({"kind": ["\"bogus\" is not a valid choice."]}),
    )
    .await;
}

#[tokio::test]
async fn missing_name_and_kind_are_400() {
    let app = TestApp::new().await;
    assert_create_rejected(
        &app,
        json!({"inputs": {}}),
        json!({"name": ["This field is required."], "kind": ["This field is required."]}),
    )
    .await;
}

#[tokio::test]
async fn rejected_creates_leave_nothing_behind() {
    let app = TestApp::new().await;
    let r = app
        .post(
            As::Admin,
            LIST,
            with_injectors("dx-bad2", json!({"env": {"PATH": "{{ token }}"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?managed=false")
        .await;
    assert_eq!(r.body["count"], 0);
}

// ---------------------------------------------------------------------------------------------
// Updating and deleting

#[tokio::test]
async fn patch_custom_description() {
    let app = TestApp::new().await;
    let id = app.create(LIST, custom_type_body()).await;
    let r = app
        .patch(As::Admin, &detail(id), json!({"description": "changed"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["description"], "changed");
    assert_eq!(r.body["name"], "dx-type");
    assert_eq!(r.body["inputs"], custom_type_body()["inputs"]);
    assert_eq!(r.body["injectors"], custom_type_body()["injectors"]);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["description"], "changed");
}

#[tokio::test]
async fn put_custom_type() {
    let app = TestApp::new().await;
    let id = app.create(LIST, custom_type_body()).await;
    let mut body = custom_type_body();
    body["description"] = json!("put");
    let r = app.put(As::Admin, &detail(id), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["name"], "dx-type");
    assert_eq!(r.body["description"], "put");
    assert_eq!(r.body["kind"], "cloud");
    assert_eq!(r.body["managed"], false);
    assert_eq!(r.body["namespace"], Value::Null);
    assert_eq!(r.body["inputs"], body["inputs"]);
    assert_eq!(r.body["injectors"], body["injectors"]);
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/credential_types/dx-type+cloud/"
    );
}

#[tokio::test]
async fn patch_inputs_of_unused_type_fills_default_type() {
    let app = TestApp::new().await;
    let id = app.create(LIST, custom_type2_body()).await;
    let r = app
        .patch(
            As::Admin,
            &detail(id),
            json!({"inputs": {"fields": [{"id": "token", "label": "Token", "secret": true}, {"id": "extra", "label": "Extra"}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(
        r.body["inputs"],
        json!({"fields": [
            {"id": "token", "label": "Token", "secret": true, "type": "string"},
            {"id": "extra", "label": "Extra", "type": "string"}
        ]})
    );
    assert_eq!(
        r.body["injectors"],
        json!({"env": {"DX_TOKEN": "{{ token }}"}})
    );
}

#[tokio::test]
async fn managed_type_cannot_be_modified() {
    let app = TestApp::new().await;
    let id = app.type_id("ssh").await;
    let r = app
        .patch(As::Admin, &detail(id), json!({"description": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "Modifications not allowed for managed credential types"})
    );
    let r = app
        .put(
            As::Admin,
            &detail(id),
            json!({"name": "Machine", "kind": "ssh", "description": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "Modifications not allowed for managed credential types"})
    );
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.body["description"], "");
}

#[tokio::test]
async fn managed_type_cannot_be_deleted() {
    let app = TestApp::new().await;
    let id = app.type_id("ssh").await;
    let r = app.delete(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "Deletion not allowed for managed credential types"})
    );
    assert_eq!(app.get(As::Admin, &detail(id)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn delete_custom_type_then_it_is_gone() {
    let app = TestApp::new().await;
    let id = app.create(LIST, custom_type2_body()).await;
    let r = app.delete(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty(), "{}", r.raw);
    let r = app.get(As::Admin, &detail(id)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body,
        json!({"detail": "No CredentialType matches the given query."})
    );
}

#[tokio::test]
async fn delete_on_the_list_is_405() {
    let app = TestApp::new().await;
    let r = app.delete(As::Admin, LIST).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method \"DELETE\" not allowed."}));
}

#[tokio::test]
async fn write_to_missing_type_is_404() {
    let app = TestApp::new().await;
    let path = "/api/v2/credential_types/987654321/";
    for r in [
        app.patch(As::Admin, path, json!({"description": "x"}))
            .await,
        app.delete(As::Admin, path).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.body,
            json!({"detail": "No CredentialType matches the given query."})
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Types in use (seq 205–210)

#[tokio::test]
async fn changing_inputs_of_type_in_use_is_403() {
    let app = TestApp::new().await;
    let (ct, _, _) = custom_type_in_use(&app).await;
    let r = app
        .patch(
            As::Admin,
            &detail(ct),
            json!({"inputs": {"fields": [
                {"id": "api_token", "label": "API Token", "type": "string", "secret": true},
                {"id": "endpoint", "label": "Endpoint", "type": "string", "help_text": "Base URL"},
                {"id": "insecure", "label": "Skip TLS verification", "type": "boolean"},
                {"id": "region", "label": "Region", "type": "string"}
            ], "required": ["api_token"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "Modifications to inputs are not allowed for credential types that are in use"})
    );
    let r = app.get(As::Admin, &detail(ct)).await;
    assert_eq!(r.body["inputs"], custom_type_body()["inputs"]);
}

#[tokio::test]
async fn inputs_that_break_injectors_are_400_before_the_in_use_check() {
    let app = TestApp::new().await;
    let (ct, _, _) = custom_type_in_use(&app).await;
    let r = app
        .patch(
            As::Admin,
            &detail(ct),
            json!({"inputs": {"fields": [{"id": "api_token", "label": "API Token", "secret": true}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"injectors": ["dx_endpoint uses an undefined field ('endpoint' is undefined)"]})
    );
}

#[tokio::test]
async fn resending_the_same_inputs_of_type_in_use_is_200() {
    let app = TestApp::new().await;
    let (ct, _, _) = custom_type_in_use(&app).await;
    let r = app
        .patch(
            As::Admin,
            &detail(ct),
            json!({"inputs": custom_type_body()["inputs"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["inputs"], custom_type_body()["inputs"]);
}

#[tokio::test]
async fn resending_inputs_without_default_type_keys_is_not_a_change() {
    let app = TestApp::new().await;
    let (ct, _, _) = custom_type_in_use(&app).await;
    let r = app
        .patch(
            As::Admin,
            &detail(ct),
            json!({"inputs": {"fields": [
                {"id": "api_token", "label": "API Token", "secret": true},
                {"id": "endpoint", "label": "Endpoint", "help_text": "Base URL"},
                {"id": "insecure", "label": "Skip TLS verification", "type": "boolean"}
            ], "required": ["api_token"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["inputs"], custom_type_body()["inputs"]);
}

#[tokio::test]
async fn renaming_type_in_use_is_allowed() {
    let app = TestApp::new().await;
    let (ct, _, _) = custom_type_in_use(&app).await;
    let r = app
        .patch(As::Admin, &detail(ct), json!({"name": "dx-type-renamed"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["name"], "dx-type-renamed");
    assert_eq!(
        r.body["related"]["named_url"],
        "/api/v2/credential_types/dx-type-renamed+cloud/"
    );
    assert_eq!(r.body["inputs"], custom_type_body()["inputs"]);
}

#[tokio::test]
async fn changing_injectors_and_description_of_type_in_use_is_allowed() {
    let app = TestApp::new().await;
    let (ct, _, _) = custom_type_in_use(&app).await;
    let injectors = json!({"env": {"DX_API_TOKEN": "{{ api_token }}", "DX_URL": "{{ endpoint }}"}});
    let r = app
        .patch(
            As::Admin,
            &detail(ct),
            json!({"description": "new", "injectors": injectors}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert_eq!(r.body["description"], "new");
    assert_eq!(r.body["injectors"], injectors);
}

#[tokio::test]
async fn deleting_type_in_use_is_403() {
    let app = TestApp::new().await;
    let (ct, cred, _) = custom_type_in_use(&app).await;
    let r = app.delete(As::Admin, &detail(ct)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "Credential types that are in use cannot be deleted"})
    );
    assert_eq!(app.get(As::Admin, &detail(ct)).await.status, StatusCode::OK);
    // Once its last credential is gone, the type can be deleted.
    let r = app
        .delete(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.delete(As::Admin, &detail(ct)).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn type_credentials_sublist_lists_only_that_types_credentials() {
    let app = TestApp::new().await;
    let (ct, cred, org) = custom_type_in_use(&app).await;
    let ssh = app.type_id("ssh").await;
    app.create(
        "/api/v2/credentials/",
        json!({"name": "dx-ssh", "organization": org, "credential_type": ssh, "inputs": {"username": "u"}}),
    )
    .await;
    let r = app
        .get(
            As::Admin,
            &format!("/api/v2/credential_types/{ct}/credentials/"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], cred);
    assert_eq!(r.body["results"][0]["credential_type"], ct);
    assert_eq!(r.body["results"][0]["inputs"]["api_token"], "$encrypted$");
    let r = app
        .get(
            As::Admin,
            &format!("/api/v2/credential_types/{ssh}/credentials/"),
        )
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["name"], "dx-ssh");
    // An unused type has an empty list.
    let vault = app.type_id("vault").await;
    let r = app
        .get(
            As::Admin,
            &format!("/api/v2/credential_types/{vault}/credentials/"),
        )
        .await;
    assert_eq!(r.body["count"], 0);
}

#[tokio::test]
async fn credentials_sublist_of_missing_type_is_404() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/987654321/credentials/")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Who may do what

#[tokio::test]
async fn normal_user_may_list_and_read_types() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let r = app.get(BOB, LIST).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], MANAGED_IN_ORDER.len());
    let id = app.type_id("ssh").await;
    let r = app.get(BOB, &detail(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "Machine");
    assert_eq!(
        r.body["summary_fields"]["user_capabilities"],
        json!({"edit": false, "delete": false})
    );
}

#[tokio::test]
async fn normal_user_cannot_create_types() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let r = app.post(BOB, LIST, custom_type_body()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        json!({"detail": "You do not have permission to perform this action."})
    );
    // The permission check comes before validation.
    let r = app.post(BOB, LIST, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?managed=false")
        .await;
    assert_eq!(r.body["count"], 0);
}

#[tokio::test]
async fn normal_user_cannot_change_or_delete_types() {
    let app = TestApp::new().await;
    app.user("bob").await;
    let custom = app.create(LIST, custom_type_body()).await;
    let managed = app.type_id("ssh").await;
    for id in [custom, managed] {
        let r = app
            .patch(BOB, &detail(id), json!({"description": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.body,
            json!({"detail": "You do not have permission to perform this action."})
        );
        let r = app.delete(BOB, &detail(id)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.body,
            json!({"detail": "You do not have permission to perform this action."})
        );
    }
    assert_eq!(
        app.get(As::Admin, &detail(custom)).await.body["description"],
        "dx custom type"
    );
}

#[tokio::test]
async fn anonymous_gets_401() {
    let app = TestApp::new().await;
    let id = app.type_id("ssh").await;
    let expected = json!({"detail": "Authentication credentials were not provided. To establish a login session, visit /api/login/."});
    for r in [
        app.get(As::Anon, LIST).await,
        app.get(As::Anon, &detail(id)).await,
        app.post(As::Anon, LIST, custom_type_body()).await,
        app.patch(As::Anon, &detail(id), json!({"description": "x"}))
            .await,
        app.delete(As::Anon, &detail(id)).await,
    ] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Pagination

#[tokio::test]
async fn first_page_has_25_and_a_relative_next() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, LIST).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], MANAGED_IN_ORDER.len());
    assert_eq!(r.body["results"].as_array().unwrap().len(), 25);
    assert_eq!(r.body["next"], "/api/v2/credential_types/?page=2");
    assert_eq!(r.body["previous"], Value::Null);
}

#[tokio::test]
async fn second_page_has_the_rest_and_previous_names_page_1() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, "/api/v2/credential_types/?page=2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], MANAGED_IN_ORDER.len());
    assert_eq!(namespaces(&r.body), MANAGED_IN_ORDER[25..]);
    assert_eq!(r.body["next"], Value::Null);
    assert_eq!(r.body["previous"], "/api/v2/credential_types/?page=1");
}

#[tokio::test]
async fn next_and_previous_keep_the_query_sorted() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?page_size=5&page=2&managed=true&order_by=name",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["next"],
        "/api/v2/credential_types/?managed=true&order_by=name&page=3&page_size=5"
    );
    assert_eq!(
        r.body["previous"],
        "/api/v2/credential_types/?managed=true&order_by=name&page=1&page_size=5"
    );
}

#[tokio::test]
async fn page_last_is_accepted() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?page=last")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(namespaces(&r.body), MANAGED_IN_ORDER[25..]);
}

#[tokio::test]
async fn page_out_of_range_is_404() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, "/api/v2/credential_types/?page=3").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Invalid page."}));
}

#[tokio::test]
async fn page_not_a_number_is_404() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?page=abc")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Invalid page."}));
}

#[tokio::test]
async fn page_zero_is_404() {
    let app = TestApp::new().await;
    let r = app.get(As::Admin, "/api/v2/credential_types/?page=0").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Invalid page."}));
}

#[tokio::test]
async fn empty_first_page_is_fine() {
    let app = TestApp::new().await;
    let r = app
        .get(
            As::Admin,
            "/api/v2/credential_types/?name=nothing-like-this",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
}

#[tokio::test]
async fn page_size_zero_falls_back_to_25() {
    let app = TestApp::new().await;
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?page_size=0")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 25);
    assert_eq!(
        r.body["next"],
        "/api/v2/credential_types/?page=2&page_size=0"
    );
}

#[tokio::test]
async fn page_size_is_capped_at_200_and_rewritten_in_links() {
    let app = TestApp::new().await;
    // 31 managed + 180 custom = 211 types: more than one capped page.
    for i in 0..180 {
        app.create(
            LIST,
            json!({"name": format!("dx-many-{i:03}"), "kind": "cloud"}),
        )
        .await;
    }
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?page_size=500")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 211);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 200);
    assert_eq!(
        r.body["next"],
        "/api/v2/credential_types/?page=2&page_size=200"
    );
    let r = app
        .get(As::Admin, "/api/v2/credential_types/?page_size=500&page=2")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 11);
    assert_eq!(
        r.body["previous"],
        "/api/v2/credential_types/?page=1&page_size=200"
    );
    assert_eq!(r.body["next"], Value::Null);
}

/// Strings that grow without bound (a `~` chain of 100 MB strings, a string doubled in a
/// `namespace()` loop or by a recursive macro) are built in a worker process with a
/// memory limit: the type is refused with 400 and the server goes on answering. In the
/// server's own process each of these asked for gigabytes or more, and an allocation
/// that fails aborts the process.
#[tokio::test]
async fn templates_that_build_huge_strings_are_refused_and_the_server_stays_up() {
    let app = TestApp::new().await;
    let costly = [
        r#"{% set a = "a" * 100000000 %}{{ (a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a)|length }}"#,
        r#"{% set ns = namespace(s="ab") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"#,
        r#"{% macro grow(s, n) %}{% if n %}{{ grow(s + s, n - 1) }}{% endif %}{% endmacro %}{{ grow("ab", 40) }}"#,
    ];
    for (i, template) in costly.iter().enumerate() {
        let body = with_injectors(&format!("costly {i}"), json!({"env": {"BIG": template}}));
        let r = app.post(As::Admin, LIST, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{template}: {}", r.raw);
        let messages = r.body["injectors"].to_string();
        assert!(
            messages.contains("more memory or time"),
            "{template}: {messages}"
        );
        let ping = app.get(As::Anon, "/api/v2/ping/").await;
        assert_eq!(ping.status, StatusCode::OK);
    }
    // The same kinds of templates within bounds still pass, through the worker.
    let modest = r#"{% set ns = namespace(s=token) %}{% for i in range(3) %}{% set ns.s = ns.s ~ "-" %}{% endfor %}{{ ns.s|upper }}"#;
    let r = app
        .post(
            As::Admin,
            LIST,
            with_injectors("modest", json!({"env": {"T": modest}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.raw);
}
