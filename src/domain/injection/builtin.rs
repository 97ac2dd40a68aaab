//! AWX's built-in injectors (`awx/main/models/credential/injectors.py`): the managed cloud
//! types whose definitions have no `injectors` of their own and whose namespace names a
//! Python function there. Other managed types with empty injectors (registry, galaxy,
//! the token and lookup types, ...) inject nothing into a job, as in AWX.

use super::{yaml, Rendered, Subject};
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

fn aws(s: &Subject<'_>, out: &mut Rendered) {
    out.set_env("AWS_ACCESS_KEY_ID", s.text("username"));
    out.set_env("AWS_SECRET_ACCESS_KEY", s.text("password"));
    if s.has("security_token") {
        out.set_env("AWS_SECURITY_TOKEN", s.text("security_token"));
        // AWX's later injector (awx-plugins) adds the name today's AWS tools read.
        out.set_env("AWS_SESSION_TOKEN", s.text("security_token"));
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
    out.set_env("GCE_EMAIL", username);
    out.set_env("GCE_PROJECT", project.clone());
    let content = serde_json::to_string_pretty(&service_account).unwrap_or_default();
    let path = out.add_env_file(s, "gce_credentials", content, "GCE_CREDENTIALS_FILE_PATH");
    out.set_env("GCP_SERVICE_ACCOUNT_FILE", path);
    out.set_env("GCP_AUTH_KIND", "serviceaccount");
    out.set_env("GCP_PROJECT", project);
    out.set_env("GCP_ENV_TYPE", "tower");
}

fn azure_rm(s: &Subject<'_>, out: &mut Rendered) {
    let client = s.text("client");
    let tenant = s.text("tenant");
    out.set_env("AZURE_SUBSCRIPTION_ID", s.text("subscription"));
    if !client.is_empty() && !tenant.is_empty() {
        out.set_env("AZURE_CLIENT_ID", client);
        out.set_env("AZURE_TENANT", tenant);
        out.set_env("AZURE_SECRET", s.text("secret"));
    } else {
        out.set_env("AZURE_AD_USER", s.text("username"));
        out.set_env("AZURE_PASSWORD", s.text("password"));
    }
    if s.has("cloud_environment") {
        out.set_env("AZURE_CLOUD_ENVIRONMENT", s.text("cloud_environment"));
    }
}

/// `VMWARE_VALIDATE_CERTS` is `str(settings.VMWARE_VALIDATE_CERTS)`, False by default.
fn vmware(s: &Subject<'_>, out: &mut Rendered) {
    out.set_env("VMWARE_USER", s.text("username"));
    out.set_env("VMWARE_PASSWORD", s.text("password"));
    out.set_env("VMWARE_HOST", s.text("host"));
    out.set_env("VMWARE_VALIDATE_CERTS", super::python_bool(false));
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
    out.add_env_file(
        s,
        "openstack_clouds",
        yaml::block(&data),
        "OS_CLIENT_CONFIG_FILE",
    );
}

fn kubernetes_bearer_token(s: &Subject<'_>, out: &mut Rendered) {
    out.set_env("K8S_AUTH_HOST", s.text("host"));
    out.set_env("K8S_AUTH_API_KEY", s.text("bearer_token"));
    if s.flag("verify_ssl", false) && s.values.contains_key("ssl_ca_cert") {
        out.set_env("K8S_AUTH_VERIFY_SSL", "True");
        let ca = s.text("ssl_ca_cert");
        out.add_env_file(s, "kubernetes_ca_cert", ca, "K8S_AUTH_SSL_CA_CERT");
    } else {
        out.set_env("K8S_AUTH_VERIFY_SSL", "False");
    }
}

fn terraform(s: &Subject<'_>, out: &mut Rendered) {
    let config = s.text("configuration");
    out.add_env_file(
        s,
        "terraform_backend_config",
        config,
        "TF_BACKEND_CONFIG_FILE",
    );
    if s.has("gce_credentials") {
        let gce = s.text("gce_credentials");
        out.add_env_file(
            s,
            "terraform_gce_credentials",
            gce,
            "GOOGLE_BACKEND_CREDENTIALS",
        );
    }
}
