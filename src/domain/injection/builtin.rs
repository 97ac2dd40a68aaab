//! AWX's built-in injectors (`awx/main/models/credential/injectors.py`): the managed cloud
//! types whose definitions have no `injectors` of their own and whose namespace names a
//! Python function there. Other managed types with empty injectors (registry, galaxy,
//! the token and lookup types, ...) inject nothing into a job, as in AWX.

use super::{yaml, Rendered, RenderedFile, Subject};
use serde_json::{json, Map, Value};

/// Runs the built-in injector of `namespace`, if AWX has one.
pub(super) fn inject(namespace: &str, subject: &Subject<'_>, out: &mut Rendered) {
    match namespace {
        "aws" => aws(subject, out),
        "gce" => gce(subject, out),
        "azure_rm" => azure_rm(subject, out),
        "vmware" => vmware(subject, out),
        "openstack" => openstack(subject, out),
        "kubernetes_bearer_token" => kubernetes_bearer_token(subject, out),
        "terraform" => terraform(subject, out),
        _ => {}
    }
}

fn set(out: &mut Rendered, name: &str, value: impl Into<String>) {
    out.env.insert(name.to_string(), Value::from(value.into()));
}

/// Adds a file and returns its placeholder path.
fn file(subject: &Subject<'_>, out: &mut Rendered, id: &str, content: String) -> String {
    let path = subject.placeholder(id);
    out.files.push(RenderedFile {
        id: id.to_string(),
        credential: subject.id,
        path: path.clone(),
        content,
        env_var: None,
    });
    path
}

/// Names the env variable that carries the last file's path.
fn carried_by(out: &mut Rendered, name: &str) {
    if let Some(last) = out.files.last_mut() {
        last.env_var = Some(name.to_string());
    }
}

fn aws(s: &Subject<'_>, out: &mut Rendered) {
    set(out, "AWS_ACCESS_KEY_ID", s.text("username"));
    set(out, "AWS_SECRET_ACCESS_KEY", s.text("password"));
    if s.has("security_token") {
        set(out, "AWS_SECURITY_TOKEN", s.text("security_token"));
        // AWX's later injector (awx-plugins) adds the name today's AWS tools read.
        set(out, "AWS_SESSION_TOKEN", s.text("security_token"));
    }
}

fn gce(s: &Subject<'_>, out: &mut Rendered) {
    let project = s.text("project");
    let username = s.text("username");
    let service_account = json!({
        "type": "service_account",
        "private_key": s.text("ssh_key_data"),
        "client_email": username,
        "project_id": project,
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    set(out, "GCE_EMAIL", username);
    set(out, "GCE_PROJECT", project.clone());
    let content = serde_json::to_string_pretty(&service_account).unwrap_or_default();
    let path = file(s, out, "gce_credentials", content);
    set(out, "GCE_CREDENTIALS_FILE_PATH", path.clone());
    carried_by(out, "GCE_CREDENTIALS_FILE_PATH");
    set(out, "GCP_SERVICE_ACCOUNT_FILE", path);
    set(out, "GCP_AUTH_KIND", "serviceaccount");
    set(out, "GCP_PROJECT", project);
    set(out, "GCP_ENV_TYPE", "tower");
}

fn azure_rm(s: &Subject<'_>, out: &mut Rendered) {
    let client = s.text("client");
    let tenant = s.text("tenant");
    set(out, "AZURE_SUBSCRIPTION_ID", s.text("subscription"));
    if !client.is_empty() && !tenant.is_empty() {
        set(out, "AZURE_CLIENT_ID", client);
        set(out, "AZURE_TENANT", tenant);
        set(out, "AZURE_SECRET", s.text("secret"));
    } else {
        set(out, "AZURE_AD_USER", s.text("username"));
        set(out, "AZURE_PASSWORD", s.text("password"));
    }
    if s.has("cloud_environment") {
        set(out, "AZURE_CLOUD_ENVIRONMENT", s.text("cloud_environment"));
    }
}

/// `VMWARE_VALIDATE_CERTS` is `str(settings.VMWARE_VALIDATE_CERTS)`, False by default.
fn vmware(s: &Subject<'_>, out: &mut Rendered) {
    set(out, "VMWARE_USER", s.text("username"));
    set(out, "VMWARE_PASSWORD", s.text("password"));
    set(out, "VMWARE_HOST", s.text("host"));
    set(out, "VMWARE_VALIDATE_CERTS", super::python_bool(false));
}

/// `clouds.yaml` with one cloud, `devstack`, as AWX's `_openstack_data` builds it.
fn openstack(s: &Subject<'_>, out: &mut Rendered) {
    let mut auth = Map::new();
    auth.insert("auth_url".into(), s.text("host").into());
    auth.insert("username".into(), s.text("username").into());
    auth.insert("password".into(), s.text("password").into());
    auth.insert("project_name".into(), s.text("project").into());
    if s.has("project_domain_name") {
        auth.insert(
            "project_domain_name".into(),
            s.text("project_domain_name").into(),
        );
    }
    if s.has("domain") {
        auth.insert("domain_name".into(), s.text("domain").into());
    }
    let mut cloud = Map::new();
    cloud.insert("auth".into(), Value::Object(auth));
    cloud.insert("verify".into(), Value::Bool(s.flag("verify_ssl", true)));
    if s.has("region") {
        cloud.insert("region_name".into(), s.text("region").into());
    }
    let data = json!({"clouds": {"devstack": Value::Object(cloud)}});
    let path = file(s, out, "openstack_clouds", yaml::block(&data));
    set(out, "OS_CLIENT_CONFIG_FILE", path);
    carried_by(out, "OS_CLIENT_CONFIG_FILE");
}

fn kubernetes_bearer_token(s: &Subject<'_>, out: &mut Rendered) {
    set(out, "K8S_AUTH_HOST", s.text("host"));
    set(out, "K8S_AUTH_API_KEY", s.text("bearer_token"));
    if s.flag("verify_ssl", false) && s.values.contains_key("ssl_ca_cert") {
        set(out, "K8S_AUTH_VERIFY_SSL", "True");
        let path = file(s, out, "kubernetes_ca_cert", s.text("ssl_ca_cert"));
        set(out, "K8S_AUTH_SSL_CA_CERT", path);
        carried_by(out, "K8S_AUTH_SSL_CA_CERT");
    } else {
        set(out, "K8S_AUTH_VERIFY_SSL", "False");
    }
}

fn terraform(s: &Subject<'_>, out: &mut Rendered) {
    let path = file(s, out, "terraform_backend_config", s.text("configuration"));
    set(out, "TF_BACKEND_CONFIG_FILE", path);
    carried_by(out, "TF_BACKEND_CONFIG_FILE");
    if s.has("gce_credentials") {
        let path = file(
            s,
            out,
            "terraform_gce_credentials",
            s.text("gce_credentials"),
        );
        set(out, "GOOGLE_BACKEND_CREDENTIALS", path);
        carried_by(out, "GOOGLE_BACKEND_CREDENTIALS");
    }
}
