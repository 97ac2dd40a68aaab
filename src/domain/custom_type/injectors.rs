//! The `injectors` definition: its schema (`file`, `env` and `extra_vars` keyed by pattern),
//! the environment names AWX forbids, and the walk that hands every template to the
//! sandbox in the submitted order.
//!
//! Apart from the sandbox so the rules about *which* strings are templates, and how each
//! is named in a message, read without minijinja's details.

use serde_json::{Map, Value};

use super::messages::{additional_properties_error, child, type_error};
use super::namespace::NamespaceModel;
use super::patterns::{
    is_extra_vars_key, is_file_key, is_identifier, listed, strip_final_newline, ENV_VALUE_PATTERN,
    EXTRA_VARS_PATTERN, FILE_PATTERN, IDENT_PATTERN,
};
use super::sandbox::{check_template, jinja_like_environment};
use crate::domain::python::{py_repr, py_str_repr};

/// Environment variables AWX reserves for itself (`awx.main.constants.ENV_BLOCKLIST`).
const ENV_BLOCKLIST: &str = "\
    VIRTUAL_ENV PATH PYTHONPATH JOB_ID INVENTORY_ID INVENTORY_SOURCE_ID \
    INVENTORY_UPDATE_ID AD_HOC_COMMAND_ID REST_API_URL REST_API_TOKEN MAX_EVENT_RES \
    CALLBACK_QUEUE CALLBACK_CONNECTION CACHE JOB_CALLBACK_DEBUG INVENTORY_HOSTVARS \
    AWX_HOST PROJECT_REVISION SUPERVISOR_CONFIG_PATH";

/// Schema errors in jsonschema's order: `type`, the `file`/`env`/`extra_vars` properties,
/// then the top-level `additionalProperties`.
pub(super) fn injector_schema_errors(injectors: &Value) -> Vec<String> {
    let Value::Object(top) = injectors else {
        return vec![type_error(injectors, &[], "dict")];
    };
    let mut errors = Vec::new();
    if let Some(file) = top.get("file") {
        let key_ok = |k: &str| is_file_key(strip_final_newline(k));
        keyed_object_errors(
            file,
            "file",
            key_ok,
            FILE_PATTERN,
            file_value_errors,
            &mut errors,
        );
    }
    if let Some(env) = top.get("env") {
        let key_ok = |k: &str| is_identifier(strip_final_newline(k));
        keyed_object_errors(
            env,
            "env",
            key_ok,
            IDENT_PATTERN,
            env_value_errors,
            &mut errors,
        );
    }
    if let Some(extra_vars) = top.get("extra_vars") {
        keyed_object_errors(
            extra_vars,
            "extra_vars",
            is_extra_vars_key,
            EXTRA_VARS_PATTERN,
            extra_vars_value_errors,
            &mut errors,
        );
    }
    let extras: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "file" | "env" | "extra_vars"))
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(&[], extras, None));
    }
    errors
}

/// An object with one `patternProperties` entry and `additionalProperties: false`.
fn keyed_object_errors(
    value: &Value,
    name: &str,
    key_ok: impl Fn(&str) -> bool,
    pattern: &str,
    value_errors: fn(&Value, &[String], &mut Vec<String>),
    errors: &mut Vec<String>,
) {
    let path = [py_str_repr(name)];
    let Value::Object(obj) = value else {
        errors.push(type_error(value, &path, "dict"));
        return;
    };
    for (key, item) in obj {
        if key_ok(key) {
            value_errors(item, &child(&path, py_str_repr(key)), errors);
        }
    }
    let extras: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !key_ok(k))
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(&path, extras, Some(pattern)));
    }
}

fn file_value_errors(value: &Value, path: &[String], errors: &mut Vec<String>) {
    if !value.is_string() {
        errors.push(type_error(value, path, "string"));
    }
}

/// Values must be ASCII because pexpect chokes on anything else (AWX's comment).
fn env_value_errors(value: &Value, path: &[String], errors: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.is_ascii() => errors.push(format!(
            "{} does not match {}",
            py_str_repr(s),
            py_str_repr(ENV_VALUE_PATTERN)
        )),
        Value::String(_) => {}
        other => errors.push(type_error(other, path, "string")),
    }
}

/// `anyOf: [string, array, <extra_vars schema>]`: only the `anyOf` summary is reported.
fn extra_vars_value_errors(value: &Value, _path: &[String], errors: &mut Vec<String>) {
    if !extra_vars_value_ok(value) {
        errors.push(format!(
            "{} is not valid under any of the given schemas",
            py_repr(value)
        ));
    }
}

fn extra_vars_value_ok(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Array(_) => true,
        Value::Object(obj) => obj
            .iter()
            .all(|(k, v)| is_extra_vars_key(k) && extra_vars_value_ok(v)),
        _ => false,
    }
}

/// AWX's checks after the schema: file syntax, forbidden env names, then every template in
/// the order of the submitted object. The first failure is the only message.
pub(super) fn injector_rules(injectors: &Map<String, Value>, inputs: &Value) -> Result<(), String> {
    let names = NamespaceModel::new(inputs, injectors.get("file"))?;
    let env = jinja_like_environment();
    let check = |kind: &str, key: &str, source: &str| -> Result<(), String> {
        check_template(&env, &names, source).map_err(|issue| issue.message(kind, key))
    };
    for (kind, injector) in injectors {
        let Value::Object(entries) = injector else {
            continue;
        };
        if kind == "env" {
            entries.keys().try_for_each(|key| env_var_allowed(key))?;
        }
        if kind == "extra_vars" {
            walk_extra_vars(None, injector, &check)?;
        } else {
            for (key, template) in entries {
                if let Value::String(source) = template {
                    check(kind, key, source)?;
                }
            }
        }
    }
    Ok(())
}

/// AWX's rule on the env names an injector may set (also applied when rendering).
pub(crate) fn env_var_allowed(name: &str) -> Result<(), String> {
    if name.starts_with("ANSIBLE_") {
        return Err(format!(
            "Environment variable {name} may affect Ansible configuration so its use is not allowed in credentials."
        ));
    }
    if listed(ENV_BLOCKLIST, name) {
        return Err(format!(
            "Environment variable {name} is not allowed to be used in credentials."
        ));
    }
    Ok(())
}

/// Keys and values are templates; keys are reported by their parent's path (`a key` at the
/// top), values by their own dotted/indexed path, exactly like AWX.
fn walk_extra_vars(
    key: Option<&str>,
    node: &Value,
    check: &dyn Fn(&str, &str, &str) -> Result<(), String>,
) -> Result<(), String> {
    match node {
        Value::Object(obj) => {
            for (k, v) in obj {
                check("extra_vars", key.unwrap_or("a key"), k)?;
                let path = match key {
                    None => k.clone(),
                    Some(parent) => format!("{parent}.{k}"),
                };
                walk_extra_vars(Some(&path), v, check)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{}[{i}]", key.unwrap_or("None"));
                walk_extra_vars(Some(&path), item, check)?;
            }
            Ok(())
        }
        Value::String(source) => check("extra_vars", key.unwrap_or("None"), source),
        // str() of a number, boolean or None never contains template syntax.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::validate_injectors;
    use serde_json::json;

    #[test]
    fn env_ansible_prefix_is_rejected() {
        // seq 37
        let got = injectors_err(
            json!({"env": {"ANSIBLE_FOO": "{{ token }}"}}),
            token_inputs(),
        );
        assert_eq!(got, ["Environment variable ANSIBLE_FOO may affect Ansible configuration so its use is not allowed in credentials."]);
    }

    #[test]
    fn env_block_list_is_rejected() {
        // seq 38
        let got = injectors_err(json!({"env": {"PATH": "{{ token }}"}}), token_inputs());
        assert_eq!(
            got,
            ["Environment variable PATH is not allowed to be used in credentials."]
        );
        let got = injectors_err(json!({"env": {"AWX_HOST": "x"}}), token_inputs());
        assert_eq!(
            got,
            ["Environment variable AWX_HOST is not allowed to be used in credentials."]
        );
    }

    #[test]
    fn env_names_are_checked_before_env_templates() {
        let injectors = json!({"env": {"A": "{{ nope }}", "JOB_ID": "1"}});
        let got = injectors_err(injectors, token_inputs());
        assert_eq!(
            got,
            ["Environment variable JOB_ID is not allowed to be used in credentials."]
        );
    }

    #[test]
    fn env_name_pattern_is_enforced() {
        // seq 39
        let got = injectors_err(json!({"env": {"1BAD": "{{ token }}"}}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path ['env'] ('1BAD' does not match any of the regexes: '^[a-zA-Z_]+[a-zA-Z0-9_]*$')"]);
        let got = injectors_err(json!({"env": {"B=": "x", "1A": "y"}}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path ['env'] ('1A', 'B=' do not match any of the regexes: '^[a-zA-Z_]+[a-zA-Z0-9_]*$')"]);
    }

    #[test]
    fn env_values_must_be_ascii_strings() {
        let got = injectors_err(json!({"env": {"DRAGON": "🐉"}}), token_inputs());
        assert_eq!(got, [r"'🐉' does not match '^[\x00-\x7f]*$'"]);
        let got = injectors_err(
            json!({"env": {"ENV_VAR": 123}, "mal": "formed"}),
            token_inputs(),
        );
        assert_eq!(
            got,
            [
                "int provided in relative path ['env', 'ENV_VAR'], expected string",
                "Schema validation error in relative path [] (Additional properties are not allowed ('mal' was unexpected))"
            ]
        );
    }

    #[test]
    fn injectors_unknown_key() {
        // seq 42
        let got = injectors_err(json!({"bogus": {}}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path [] (Additional properties are not allowed ('bogus' was unexpected))"]);
        let got = injectors_err(json!({"z": 1, "a": 2}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path [] (Additional properties are not allowed ('a', 'z' were unexpected))"]);
    }

    #[test]
    fn injectors_wrong_containers() {
        for (injectors, expected) in [
            (json!(true), "bool provided, expected dict"),
            (json!(100), "int provided, expected dict"),
            (json!([1, 2]), "list provided, expected dict"),
            (json!("malformed"), "str provided, expected dict"),
            (
                json!({"env": true}),
                "bool provided in relative path ['env'], expected dict",
            ),
            (
                json!({"file": [1]}),
                "list provided in relative path ['file'], expected dict",
            ),
            (
                json!({"file": ""}),
                "str provided in relative path ['file'], expected dict",
            ),
            (
                json!({"extra_vars": 1.5}),
                "float provided in relative path ['extra_vars'], expected dict",
            ),
        ] {
            assert_eq!(injectors_err(injectors, token_inputs()), [expected]);
        }
    }

    #[test]
    fn multi_file_mixing_is_rejected() {
        // seq 43
        let got = injectors_err(
            json!({"file": {"template": "a", "template.b": "b"}}),
            token_inputs(),
        );
        assert_eq!(
            got,
            ["Must use multi-file syntax when injecting multiple files"]
        );
    }

    #[test]
    fn file_key_pattern_is_enforced() {
        let pattern = r"'^template(\\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$'";
        for key in ["not_template", "template.not.valid", "template.999"] {
            let got = injectors_err(json!({"file": {key: "x"}}), token_inputs());
            let expected = format!("Schema validation error in relative path ['file'] ('{key}' does not match any of the regexes: {pattern})");
            assert_eq!(got, [expected]);
        }
        let got = injectors_err(json!({"file": {"template": 1}}), token_inputs());
        assert_eq!(
            got,
            ["int provided in relative path ['file', 'template'], expected string"]
        );
    }

    #[test]
    fn extra_vars_keys_values_and_paths() {
        let pattern = r"'^[a-zA-Z_\\{\\}]+[a-zA-Z0-9_\\{\\}]*$'";
        let got = injectors_err(json!({"extra_vars": {"99=": "x"}}), token_inputs());
        let expected = format!("Schema validation error in relative path ['extra_vars'] ('99=' does not match any of the regexes: {pattern})");
        assert_eq!(got, [expected]);
        let got = injectors_err(
            json!({"extra_vars": {"a": 1, "b": {"c d": "x"}}}),
            token_inputs(),
        );
        assert_eq!(
            got,
            [
                "1 is not valid under any of the given schemas",
                "{'c d': 'x'} is not valid under any of the given schemas"
            ]
        );
        let ok = json!({"extra_vars": {"{{token}}": "x", "a": ["{{ token }}", 1, null, {"b": "c"}], "n": {"m": "{{ token }}"}}});
        assert_eq!(validate_injectors(&ok, &token_inputs()), Ok(()));
        // keys are reported by their parent's path ("a key" at the top), values by their own
        assert_eq!(
            injectors_err(json!({"extra_vars": {"{{k}}": "x"}}), token_inputs()),
            ["a key uses an undefined field ('k' is undefined)"]
        );
        assert_eq!(
            injectors_err(json!({"extra_vars": {"a": {"{{k}}": "x"}}}), token_inputs()),
            ["a uses an undefined field ('k' is undefined)"]
        );
        assert_eq!(
            injectors_err(
                json!({"extra_vars": {"a": {"b": ["x", "{{ v }}"]}}}),
                token_inputs()
            ),
            ["a.b[1] uses an undefined field ('v' is undefined)"]
        );
        assert_eq!(injectors_err(json!({"extra_vars": {"a": ["{{ v"]}}), token_inputs()), ["Syntax error rendering template for a[0] inside of extra_vars (unexpected end of template, expected 'end of print statement'.)"]);
    }

    #[test]
    fn first_failing_template_in_submitted_order_wins() {
        let injectors = json!({"file": {"template": "{{ f }}"}, "env": {"E": "{{ e }}"}});
        assert_eq!(
            injectors_err(injectors, token_inputs()),
            ["template uses an undefined field ('f' is undefined)"]
        );
        let injectors = json!({"env": {"E": "{{ e }}"}, "file": {"template": "{{ f }}"}});
        assert_eq!(
            injectors_err(injectors, token_inputs()),
            ["E uses an undefined field ('e' is undefined)"]
        );
    }
}
