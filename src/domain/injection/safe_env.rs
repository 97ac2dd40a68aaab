//! AWX's `build_safe_env`: the env as job output and logs may show it.

use serde_json::{Map, Value};
use std::sync::LazyLock;

/// What AWX shows in place of a hidden value (`HIDDEN_PASSWORD`).
pub const HIDDEN_PASSWORD: &str = "**********";

static HIDDEN_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"(?i)API|TOKEN|KEY|SECRET|PASS").expect("static regex"));
static URL_WITH_PASSWORD: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^.*?://[^:]+:(.*?)@.*?$").expect("static regex"));

/// Masks variables whose names suggest a secret, and URLs carrying a password (the whole
/// value, as AWX's substitution of its whole-string pattern does). `AWS_ACCESS_KEY_ID`
/// and Ansible's own settings (except network and Galaxy server ones) are shown.
pub fn build_safe_env(env: &Map<String, Value>) -> Map<String, Value> {
    env.iter()
        .map(|(name, value)| (name.clone(), masked(name, value)))
        .collect()
}

fn masked(name: &str, value: &Value) -> Value {
    let ansible_setting = name.starts_with("ANSIBLE_")
        && !name.starts_with("ANSIBLE_NET")
        && !name.starts_with("ANSIBLE_GALAXY_SERVER");
    if name == "AWS_ACCESS_KEY_ID" || ansible_setting {
        return value.clone();
    }
    if HIDDEN_NAME.is_match(name) {
        return Value::from(HIDDEN_PASSWORD);
    }
    match value.as_str() {
        Some(text) if URL_WITH_PASSWORD.is_match(text) => Value::from(
            URL_WITH_PASSWORD
                .replace(text, HIDDEN_PASSWORD)
                .into_owned(),
        ),
        _ => value.clone(),
    }
}
