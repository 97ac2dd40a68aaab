use super::*;
use crate::domain::credential_type::InputSchema;
use serde_json::json;

fn schema(fields: Value) -> InputSchema {
    InputSchema::parse(&json!({ "fields": fields }))
}

struct Case {
    schema: InputSchema,
    injectors: Value,
    values: Map<String, Value>,
    namespace: Option<&'static str>,
    managed: bool,
}

impl Case {
    fn custom(fields: Value, injectors: Value, values: Value) -> Self {
        Case {
            schema: schema(fields),
            injectors,
            values: values.as_object().cloned().unwrap_or_default(),
            namespace: None,
            managed: false,
        }
    }

    fn managed(namespace: &'static str, values: Value) -> Self {
        let types = crate::domain::managed_types::managed_types();
        let def = types
            .iter()
            .find(|t| t.namespace == namespace)
            .expect("managed type");
        Case {
            schema: InputSchema::parse(&def.inputs),
            injectors: def.injectors.clone(),
            values: values.as_object().cloned().unwrap_or_default(),
            namespace: Some(namespace),
            managed: true,
        }
    }

    fn render(&self) -> Result<Rendered, RenderError> {
        render(
            &Subject {
                id: 7,
                type_name: "T",
                namespace: self.namespace,
                managed: self.managed,
                schema: &self.schema,
                injectors: &self.injectors,
                values: &self.values,
            },
            &render_custom,
        )
    }
}

fn token_fields() -> Value {
    json!([
        {"id": "user", "label": "U", "type": "string"},
        {"id": "token", "label": "T", "type": "string", "secret": true},
        {"id": "flag", "label": "F", "type": "boolean"},
        {"id": "key", "label": "K", "type": "string", "format": "ssh_private_key", "secret": true, "multiline": true}
    ])
}

#[test]
fn custom_env_extra_vars_and_files_render_over_the_inputs() {
    let case = Case::custom(
        token_fields(),
        json!({
            "file": {"template.cfg": "user={{ user }}\ntoken={{ token }}\nother={{ tower.filename.key }}", "template.key": "{{ key }}"},
            "env": {"MY_TOKEN": "{{ token }}", "MY_USER": "{{ user }}", "CFG": "{{ tower.filename.cfg }}", "FLAG": "{{ flag }}"},
            "extra_vars": {"svc": {"{{ user }}_name": ["{{ token }}", 3, true, null]}}
        }),
        json!({"user": "alice", "token": "s3cret", "key": "-----BEGIN KEY-----\nabc"}),
    );
    let out = case.render().unwrap();
    assert_eq!(out.env["MY_TOKEN"], "s3cret");
    assert_eq!(out.env["MY_USER"], "alice");
    assert_eq!(
        out.env["FLAG"], "False",
        "an unset boolean is Python's False"
    );
    let cfg = file_placeholder(7, "template.cfg");
    let key = file_placeholder(7, "template.key");
    assert_eq!(out.env["CFG"], cfg.as_str());
    assert_eq!(out.files.len(), 2);
    let cfg_file = out.files.iter().find(|f| f.id == "template.cfg").unwrap();
    assert_eq!(
        cfg_file.content,
        format!("user=alice\ntoken=s3cret\nother={key}")
    );
    assert_eq!(cfg_file.env_var.as_deref(), Some("CFG"));
    let key_file = out.files.iter().find(|f| f.id == "template.key").unwrap();
    assert!(
        key_file.content.ends_with("abc\n"),
        "private keys end in a newline"
    );
    assert_eq!(key_file.env_var, None);
    assert_eq!(
        out.extra_vars["svc"],
        json!({"alice_name": ["s3cret", "3", "True", "None"]})
    );
    assert_eq!(out.safe_env["MY_TOKEN"], "**********");
    assert_eq!(out.safe_env["MY_USER"], "alice");
}

#[test]
fn unset_and_empty_inputs_render_empty_and_booleans_print_like_python() {
    let case = Case::custom(
        token_fields(),
        json!({"env": {"A": "[{{ user }}]", "B": "{% if flag %}yes{% else %}no{% endif %}", "C": "{{ flag }}"}}),
        json!({"user": "", "flag": true}),
    );
    let out = case.render().unwrap();
    assert_eq!(out.env["A"], "[]");
    assert_eq!(out.env["B"], "yes");
    assert_eq!(out.env["C"], "True");
}

#[test]
fn single_file_is_tower_filename() {
    let case = Case::custom(
        token_fields(),
        json!({"file": {"template": "{{ token }}"}, "env": {"TOKEN_FILE": "{{ tower.filename }}"}}),
        json!({"token": "x"}),
    );
    let out = case.render().unwrap();
    assert_eq!(
        out.env["TOKEN_FILE"],
        file_placeholder(7, "template").as_str()
    );
    assert_eq!(out.files[0].env_var.as_deref(), Some("TOKEN_FILE"));
}

#[test]
fn prohibited_env_names_are_ignored_as_awx_does() {
    let case = Case::custom(
        token_fields(),
        json!({"env": {"PATH": "/evil", "ANSIBLE_X": "y", "OK": "1"}}),
        json!({}),
    );
    let out = case.render().unwrap();
    assert_eq!(out.env.keys().collect::<Vec<_>>(), ["OK"]);
}

#[test]
fn a_template_failing_at_render_time_names_the_template_not_the_value() {
    let case = Case::custom(
        token_fields(),
        json!({"env": {"BAD": "{{ token.nope.deeper }}"}}),
        json!({"token": "hunter2"}),
    );
    let err = case.render().unwrap_err().to_string();
    assert!(err.contains("env injector BAD"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn aws_and_gce_render_as_awx_builtin_injectors() {
    let aws = Case::managed(
        "aws",
        json!({"username": "AKIA1", "password": "sec", "security_token": "tok"}),
    )
    .render()
    .unwrap();
    assert_eq!(aws.env["AWS_ACCESS_KEY_ID"], "AKIA1");
    assert_eq!(aws.env["AWS_SECRET_ACCESS_KEY"], "sec");
    assert_eq!(aws.env["AWS_SECURITY_TOKEN"], "tok");
    assert_eq!(aws.safe_env["AWS_ACCESS_KEY_ID"], "AKIA1");
    assert_eq!(aws.safe_env["AWS_SECRET_ACCESS_KEY"], "**********");
    let gce = Case::managed("gce",
        json!({"username": "sa@p.iam", "project": "p1", "ssh_key_data": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"}),
    )
    .render()
    .unwrap();
    let file = &gce.files[0];
    let parsed: Value = serde_json::from_str(&file.content).unwrap();
    assert_eq!(parsed["type"], "service_account");
    assert_eq!(parsed["client_email"], "sa@p.iam");
    assert_eq!(parsed["project_id"], "p1");
    assert_eq!(gce.env["GCE_CREDENTIALS_FILE_PATH"], file.path.as_str());
    assert_eq!(gce.env["GCP_AUTH_KIND"], "serviceaccount");
    assert_eq!(file.env_var.as_deref(), Some("GCE_CREDENTIALS_FILE_PATH"));
}

#[test]
fn azure_picks_service_principal_or_user() {
    let sp = Case::managed(
        "azure_rm",
        json!({"subscription": "s", "client": "c", "tenant": "t", "secret": "x", "username": "u"}),
    )
    .render()
    .unwrap();
    assert_eq!(sp.env["AZURE_CLIENT_ID"], "c");
    assert!(!sp.env.contains_key("AZURE_AD_USER"));
    let user = Case::managed(
        "azure_rm",
        json!({"subscription": "s", "username": "u", "password": "p"}),
    )
    .render()
    .unwrap();
    assert_eq!(user.env["AZURE_AD_USER"], "u");
    assert_eq!(user.env["AZURE_PASSWORD"], "p");
}

#[test]
fn openstack_writes_clouds_yaml_and_kubernetes_its_ca_file() {
    let os = Case::managed("openstack",
        json!({"host": "https://ks", "username": "u", "password": "p", "project": "pr", "region": "r1"}),
    )
    .render()
    .unwrap();
    let yaml = &os.files[0].content;
    assert!(
        yaml.starts_with("clouds:\n  devstack:\n    auth:\n"),
        "{yaml}"
    );
    assert!(yaml.contains("      auth_url: \"https://ks\"\n"), "{yaml}");
    assert!(yaml.contains("    verify: true\n"), "{yaml}");
    assert!(yaml.contains("    region_name: \"r1\"\n"), "{yaml}");
    assert_eq!(os.env["OS_CLIENT_CONFIG_FILE"], os.files[0].path.as_str());
    let k8s = Case::managed(
        "kubernetes_bearer_token",
        json!({"host": "https://k", "bearer_token": "b", "verify_ssl": true, "ssl_ca_cert": "CA"}),
    )
    .render()
    .unwrap();
    assert_eq!(k8s.env["K8S_AUTH_VERIFY_SSL"], "True");
    assert_eq!(k8s.files[0].content, "CA");
    let unverified = Case::managed(
        "kubernetes_bearer_token",
        json!({"host": "h", "bearer_token": "b"}),
    )
    .render()
    .unwrap();
    assert_eq!(unverified.env["K8S_AUTH_VERIFY_SSL"], "False");
    assert!(unverified.files.is_empty());
}

#[test]
fn managed_types_with_their_own_injectors_render_them() {
    let out = Case::managed(
        "controller",
        json!({"host": "h", "username": "u", "password": "p", "verify_ssl": false}),
    )
    .render()
    .unwrap();
    assert_eq!(out.env["TOWER_HOST"], "h");
    assert_eq!(out.env["TOWER_VERIFY_SSL"], "False");
    assert_eq!(out.safe_env["TOWER_PASSWORD"], "**********");
}

#[test]
fn machine_gives_args_prompts_and_an_agent_key() {
    let out = Case::managed("ssh",
        json!({"username": "deploy", "password": "pw", "become_method": "sudo", "become_username": "root", "become_password": "bpw", "ssh_key_data": "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----", "ssh_key_unlock": "un"}),
    )
    .render()
    .unwrap();
    assert_eq!(
        out.args,
        [
            "-u",
            "deploy",
            "--ask-pass",
            "--become-method",
            "sudo",
            "--become-user",
            "root",
            "--ask-become-pass"
        ]
    );
    let answer = |p: &str| {
        out.passwords
            .iter()
            .find(|x| x.prompt == p)
            .map(|x| x.value.clone())
    };
    assert_eq!(answer(r"SSH password:\s*?$").as_deref(), Some("pw"));
    assert_eq!(answer(r"sudo password.*:\s*?$").as_deref(), Some("bpw"));
    assert_eq!(answer(r"DZDO password.*:\s*?$").as_deref(), Some("bpw"));
    assert_eq!(
        answer(r"Enter passphrase for .*:\s*?$").as_deref(),
        Some("un")
    );
    assert_eq!(out.files[0].id, "ssh_key");
    assert!(out.files[0].content.ends_with("KEY-----\n"));
    let bare = Case::managed("ssh", json!({"password": "ASK"}))
        .render()
        .unwrap();
    assert_eq!(
        bare.args,
        ["-u", "root"],
        "ASK is no password and no user is root"
    );
    assert!(bare.passwords.is_empty());
}

#[test]
fn vault_prompts_by_id() {
    let with_id = Case::managed("vault", json!({"vault_password": "v", "vault_id": "prod"}))
        .render()
        .unwrap();
    assert_eq!(with_id.args, ["--vault-id", "prod@prompt"]);
    assert_eq!(
        with_id.passwords[0].prompt,
        r"Vault password \(prod\):\s*?$"
    );
    let plain = Case::managed("vault", json!({"vault_password": "v"}))
        .render()
        .unwrap();
    assert_eq!(plain.args, ["--ask-vault-pass"]);
}

#[test]
fn network_sets_ansible_net_env_and_masks_it() {
    let out = Case::managed("net",
        json!({"username": "n", "password": "p", "authorize": true, "authorize_password": "e", "ssh_key_data": "K"}),
    )
    .render()
    .unwrap();
    assert_eq!(out.env["ANSIBLE_NET_AUTHORIZE"], "1");
    assert_eq!(out.env["ANSIBLE_NET_AUTH_PASS"], "e");
    assert_eq!(
        out.env["ANSIBLE_NET_SSH_KEYFILE"],
        out.files[0].path.as_str()
    );
    assert_eq!(out.safe_env["ANSIBLE_NET_PASSWORD"], "**********");
    assert_eq!(out.safe_env["ANSIBLE_NET_USERNAME"], "n");
}

#[test]
fn safe_env_masks_names_and_url_passwords() {
    let env = json!({"DB_URL": "postgres://u:pw@h/db", "PLAIN": "x", "MY_API_HOST": "h", "ANSIBLE_TIMEOUT": "key", "ANSIBLE_NET_PASSWORD": "p"});
    let safe = build_safe_env(env.as_object().unwrap());
    assert_eq!(safe["DB_URL"], "**********");
    assert_eq!(safe["PLAIN"], "x");
    assert_eq!(safe["MY_API_HOST"], "**********");
    assert_eq!(safe["ANSIBLE_TIMEOUT"], "key");
    assert_eq!(safe["ANSIBLE_NET_PASSWORD"], "**********");
}

#[test]
fn one_credential_per_type_except_vaults_with_distinct_ids() {
    let slot = |type_id, name, kind, vault_id| Slot {
        type_id,
        type_name: name,
        kind,
        vault_id,
    };
    assert!(check_distinct(&[
        slot(1, "Machine", "ssh", None),
        slot(2, "Vault", "vault", Some("a")),
        slot(2, "Vault", "vault", Some("b"))
    ])
    .is_ok());
    let twice = check_distinct(&[
        slot(1, "Machine", "ssh", None),
        slot(1, "Machine", "ssh", None),
    ]);
    assert_eq!(
        twice.unwrap_err().to_string(),
        "Cannot assign multiple Machine credentials."
    );
    let vaults = check_distinct(&[
        slot(2, "Vault", "vault", Some("a")),
        slot(2, "Vault", "vault", Some("a")),
    ]);
    assert_eq!(
        vaults.unwrap_err().to_string(),
        "Cannot assign multiple Vault (id=a) credentials."
    );
}

#[test]
fn merging_puts_machine_args_first_and_later_env_wins() {
    let vault = Case::managed("vault", json!({"vault_password": "v"}))
        .render()
        .unwrap();
    let machine = Case::managed("ssh", json!({"username": "u"}))
        .render()
        .unwrap();
    let custom = Case::custom(token_fields(), json!({"env": {"X": "1"}}), json!({}))
        .render()
        .unwrap();
    let merged = merge(vec![(false, vault), (true, machine), (false, custom)]);
    assert_eq!(merged.args, ["-u", "u", "--ask-vault-pass"]);
    assert_eq!(merged.env["X"], "1");
}

#[test]
fn debug_output_names_no_value() {
    let out = Case::custom(
        token_fields(),
        json!({"env": {"T": "{{ token }}"}}),
        json!({"token": "hunter2"}),
    )
    .render()
    .unwrap();
    assert!(!format!("{out:?}").contains("hunter2"));
}
