//! What a job's command line gets from the kinds AWX does not inject through templates:
//! Machine (`-u`, become options, `--ask-*` flags, the key for ssh-agent), Vault
//! (`--ask-vault-pass` or `--vault-id <id>@prompt`), Network (`ANSIBLE_NET_*`) and Source
//! Control (the key and the prompts of a project update). Passwords are answers to the
//! prompts AWX lists (`RunJob.get_password_prompts`), given only where a value is set;
//! `ASK` (prompt on launch) has no value here.

use super::{Prompt, Rendered, Subject};

/// AWX's `PRIVILEGE_ESCALATION_METHODS`, whose prompts carry the become password.
const BECOME_METHODS: [&str; 12] = [
    "sudo",
    "su",
    "pbrun",
    "pfexec",
    "dzdo",
    "pmrun",
    "runas",
    "enable",
    "doas",
    "ksu",
    "machinectl",
    "sesu",
];

const KEY_UNLOCK_PROMPT: &str = r"Enter passphrase for .*:\s*?$";

/// Adds what `subject`'s kind puts on a job's command line.
pub(super) fn inject(subject: &Subject<'_>, out: &mut Rendered) {
    match subject.namespace {
        Some("ssh") => machine(subject, out),
        Some("vault") => vault(subject, out),
        Some("net") => network(subject, out),
        Some("scm") => source_control(subject, out),
        _ => {}
    }
}

/// A password value AWX would answer with: set, and not `ASK`.
fn answer(subject: &Subject<'_>, field: &str) -> Option<String> {
    let value = subject.text(field);
    (!value.is_empty() && value != "ASK").then_some(value)
}

fn prompt(out: &mut Rendered, regex: String, value: &str) {
    out.passwords.push(Prompt {
        prompt: regex,
        value: value.to_string(),
    });
}

/// A private key for ssh-agent (`env/ssh_key` under ansible-runner), with the newline
/// OpenSSH keys need, and its certificate when there is one.
fn agent_key(subject: &Subject<'_>, out: &mut Rendered) {
    if subject.has("ssh_key_data") {
        let mut key = subject.text("ssh_key_data");
        if key.contains("OPENSSH PRIVATE") && !key.ends_with('\n') {
            key.push('\n');
        }
        out.add_file(subject, "ssh_key", key);
    }
    if subject.has("ssh_public_key_data") {
        out.add_file(subject, "ssh_key_cert", subject.text("ssh_public_key_data"));
    }
}

fn machine(s: &Subject<'_>, out: &mut Rendered) {
    let username = s.text("username");
    let user = if username.is_empty() {
        "root".to_string()
    } else {
        username
    };
    out.args.extend(["-u".to_string(), user]);
    let ssh_password = answer(s, "password");
    let become_password = answer(s, "become_password");
    if ssh_password.is_some() {
        out.args.push("--ask-pass".into());
    }
    for (field, flag) in [
        ("become_method", "--become-method"),
        ("become_username", "--become-user"),
    ] {
        if s.has(field) {
            out.args.extend([flag.to_string(), s.text(field)]);
        }
    }
    if become_password.is_some() {
        out.args.push("--ask-become-pass".into());
    }
    if let Some(unlock) = answer(s, "ssh_key_unlock") {
        prompt(out, KEY_UNLOCK_PROMPT.into(), &unlock);
    }
    if let Some(password) = &become_password {
        for method in BECOME_METHODS {
            prompt(out, format!(r"{method} password.*:\s*?$"), password);
            prompt(
                out,
                format!(r"{} password.*:\s*?$", method.to_uppercase()),
                password,
            );
        }
        prompt(out, r"BECOME password.*:\s*?$".into(), password);
    }
    if let Some(password) = &ssh_password {
        prompt(out, r"SSH password:\s*?$".into(), password);
        prompt(out, r"Password:\s*?$".into(), password);
    }
    agent_key(s, out);
}

fn vault(s: &Subject<'_>, out: &mut Rendered) {
    let Some(password) = answer(s, "vault_password") else {
        return;
    };
    if s.has("vault_id") {
        let id = s.text("vault_id");
        out.args
            .extend(["--vault-id".to_string(), format!("{id}@prompt")]);
        prompt(out, format!(r"Vault password \({id}\):\s*?$"), &password);
    } else {
        out.args.push("--ask-vault-pass".into());
        prompt(out, r"Vault password:\s*?$".into(), &password);
    }
}

/// `RunJob.build_env` for network credentials; the key is a file named by
/// `ANSIBLE_NET_SSH_KEYFILE` (network modules do not use ssh-agent).
fn network(s: &Subject<'_>, out: &mut Rendered) {
    out.set_env("ANSIBLE_NET_USERNAME", s.text("username"));
    out.set_env("ANSIBLE_NET_PASSWORD", s.text("password"));
    if s.has("ssh_key_data") {
        let key = s.text("ssh_key_data");
        out.add_env_file(s, "net_ssh_key", key, "ANSIBLE_NET_SSH_KEYFILE");
    }
    let authorize = s.flag("authorize", false);
    out.set_env("ANSIBLE_NET_AUTHORIZE", if authorize { "1" } else { "0" });
    if authorize {
        out.set_env("ANSIBLE_NET_AUTH_PASS", s.text("authorize_password"));
    }
    if let Some(unlock) = answer(s, "ssh_key_unlock") {
        prompt(out, KEY_UNLOCK_PROMPT.into(), &unlock);
    }
}

/// A project update's prompts (`RunProjectUpdate.get_password_prompts`) and its key.
fn source_control(s: &Subject<'_>, out: &mut Rendered) {
    if let Some(username) = answer(s, "username") {
        prompt(out, r"Username for.*:\s*?$".into(), &username);
    }
    if let Some(password) = answer(s, "password") {
        for regex in [
            r"Password for.*:\s*?$",
            r"Password:\s*?$",
            r"\S+?@\S+?'s\s+?password:\s*?$",
        ] {
            prompt(out, regex.into(), &password);
        }
    }
    if let Some(unlock) = answer(s, "ssh_key_unlock") {
        prompt(out, KEY_UNLOCK_PROMPT.into(), &unlock);
    }
    agent_key(s, out);
}
