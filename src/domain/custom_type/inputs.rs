//! The `inputs` definition of a custom type: AWX's Draft-4 schema walked by hand in its
//! keyword order (so the flat error list comes out in AWX's order), then its hand-written
//! field rules, which also fill in the default `type`.
//!
//! Apart from the injectors because AWX checks the inputs first, and the injectors only
//! need the normalised result (the ids a template may reference).

use std::collections::BTreeSet;

use serde_json::Value;

use super::messages::{additional_properties_error, child, type_error};
use super::patterns::{is_identifier, strip_final_newline};
use crate::domain::python::{py_repr, py_str, py_str_repr};

const DEPENDENCIES_MSG: &str = "'dependencies' is not supported for custom credentials.";

/// Keys of a `fields[]` item, in the order of AWX's schema `properties` (= error order).
const FIELD_KEYS: [&str; 10] = [
    "type",
    "format",
    "choices",
    "id",
    "label",
    "help_text",
    "multiline",
    "secret",
    "ask_at_runtime",
    "default",
];

/// AWX's `CredentialTypeInputField.validate` (without the serializer's `ask_at_runtime` rule).
pub(super) fn check_inputs(inputs: &Value) -> Result<Value, Vec<String>> {
    if inputs.get("dependencies").is_some() {
        return Err(vec![DEPENDENCIES_MSG.to_string()]);
    }
    let errors = inputs_schema_errors(inputs);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut normalized = inputs.clone();
    if let Some(Value::Array(fields)) = normalized.get_mut("fields") {
        field_rules(fields).map_err(|message| vec![message])?;
    }
    Ok(normalized)
}

pub(super) fn fields_of(inputs: &Value) -> &[Value] {
    match inputs.get("fields") {
        Some(Value::Array(fields)) => fields,
        _ => &[],
    }
}

/// Schema errors in jsonschema's order: top-level `type`, `additionalProperties`, then the
/// `required` and `fields` properties.
fn inputs_schema_errors(inputs: &Value) -> Vec<String> {
    let Value::Object(top) = inputs else {
        return vec![type_error(inputs, &[], "dict")];
    };
    let mut errors = Vec::new();
    let extras: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "required" && *k != "fields")
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(&[], extras, None));
    }
    if let Some(required) = top.get("required") {
        let path = [py_str_repr("required")];
        match required {
            Value::Array(items) => string_items_errors(items, &path, &mut errors),
            other => errors.push(type_error(other, &path, "array")),
        }
    }
    if let Some(fields) = top.get("fields") {
        let path = [py_str_repr("fields")];
        match fields {
            Value::Array(items) => {
                for (i, field) in items.iter().enumerate() {
                    field_schema_errors(field, &child(&path, i.to_string()), &mut errors);
                }
            }
            other => errors.push(type_error(other, &path, "array")),
        }
    }
    errors
}

fn field_schema_errors(field: &Value, path: &[String], errors: &mut Vec<String>) {
    let Value::Object(obj) = field else {
        errors.push(type_error(field, path, "dict"));
        return;
    };
    for key in FIELD_KEYS {
        let Some(value) = obj.get(key) else { continue };
        let here = child(path, py_str_repr(key));
        match key {
            "type" => errors.extend(enum_error(value, &["string", "boolean"])),
            "format" => errors.extend(enum_error(value, &["ssh_private_key", "url"])),
            "choices" => choices_errors(value, &here, errors),
            "id" => match value {
                Value::String(id) if !is_identifier(strip_final_newline(id)) => {
                    errors.push(format!("{id} is an invalid variable name"));
                }
                Value::String(_) => {}
                other => errors.push(type_error(other, &here, "string")),
            },
            "label" | "help_text" if !value.is_string() => {
                errors.push(type_error(value, &here, "string"));
            }
            "multiline" | "secret" | "ask_at_runtime" if !value.is_boolean() => {
                errors.push(type_error(value, &here, "boolean"));
            }
            _ => {}
        }
    }
    let extras: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !FIELD_KEYS.contains(k))
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(path, extras, None));
    }
    for key in ["id", "label"] {
        if !obj.contains_key(key) {
            errors.push(format!("{} is a required property", py_str_repr(key)));
        }
    }
}

/// `choices`: `type: array`, `minItems: 1`, `items: string`, `uniqueItems`, in that order.
fn choices_errors(value: &Value, path: &[String], errors: &mut Vec<String>) {
    let Value::Array(items) = value else {
        errors.push(type_error(value, path, "array"));
        return;
    };
    if items.is_empty() {
        errors.push(format!("{} should be non-empty", py_repr(value)));
    }
    string_items_errors(items, path, errors);
    let duplicated = items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| json_eq(a, b)));
    if duplicated {
        errors.push(format!("{} has non-unique elements", py_repr(value)));
    }
}

fn string_items_errors(items: &[Value], path: &[String], errors: &mut Vec<String>) {
    for (i, item) in items.iter().enumerate() {
        if !item.is_string() {
            errors.push(type_error(item, &child(path, i.to_string()), "string"));
        }
    }
}

/// AWX replaces jsonschema's `enum` message with `'<str(v)>' is not one of ['a', 'b']`.
fn enum_error(value: &Value, allowed: &[&str]) -> Option<String> {
    match value {
        Value::String(s) if allowed.contains(&s.as_str()) => None,
        other => Some(format!(
            "'{}' is not one of ['{}']",
            py_str(other),
            allowed.join("', '")
        )),
    }
}

/// The hand-written rules run once the schema passed; the first failure is the only message.
/// Also fills in the default `type`, which is what AWX stores.
fn field_rules(fields: &mut [Value]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for field in fields.iter_mut() {
        let Value::Object(obj) = field else { continue };
        let id = obj.get("id").map(py_str).unwrap_or_default();
        if id == "tower" {
            return Err("\"tower\" is a reserved field name".to_string());
        }
        if !seen.insert(id.clone()) {
            return Err(format!("field IDs must be unique ({id})"));
        }
        if !obj.contains_key("type") {
            obj.insert("type".to_string(), Value::String("string".to_string()));
        }
        let ty = obj.get("type").map(py_str).unwrap_or_default();
        if let Some(default) = obj.get("default") {
            let matches = match ty.as_str() {
                "boolean" => default.is_boolean(),
                _ => default.is_string(),
            };
            if !matches {
                return Err(format!("{} is not a {ty}", py_str(default)));
            }
        }
        for key in ["choices", "multiline", "format", "secret"] {
            if obj.contains_key(key) && ty != "string" {
                return Err(format!("{key} not allowed for {ty} type ({id})"));
            }
        }
    }
    Ok(())
}

pub(super) fn with_default_types(inputs: &Value) -> Value {
    let mut out = inputs.clone();
    if let Some(Value::Array(fields)) = out.get_mut("fields") {
        for field in fields.iter_mut() {
            if let Value::Object(obj) = field {
                if !obj.contains_key("type") {
                    obj.insert("type".to_string(), Value::String("string".to_string()));
                }
            }
        }
    }
    out
}

/// Python equality of decoded JSON: dicts ignore key order, `1 == 1.0`.
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64() && x.as_u64() == y.as_u64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|other| json_eq(v, other)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::normalize_custom_inputs;
    use serde_json::{json, Value};

    #[test]
    fn missing_type_is_appended_after_other_keys() {
        // seq 35 (request) → body of seq 35 (response).
        let stored = normalize_custom_inputs(&token_inputs());
        let expected =
            r#"{"fields":[{"id":"token","label":"Token","secret":true,"type":"string"}]}"#;
        assert_eq!(stored.map(|v| v.to_string()), Ok(expected.to_string()));
        // seq 58
        let inputs = json!({"fields": [
            {"id": "token", "label": "Token", "secret": true}, {"id": "extra", "label": "Extra"}
        ]});
        let expected = json!({"fields": [
            {"id": "token", "label": "Token", "secret": true, "type": "string"},
            {"id": "extra", "label": "Extra", "type": "string"}
        ]});
        assert_eq!(normalize_custom_inputs(&inputs), Ok(expected));
    }

    #[test]
    fn field_type_must_be_string_or_boolean() {
        // seq 44
        let got = inputs_err(json!({"fields": [{"id": "n", "label": "N", "type": "integer"}]}));
        assert_eq!(got, ["'integer' is not one of ['string', 'boolean']"]);
        let got = inputs_err(json!({"fields": [{"id": "n", "label": "N", "format": 1}]}));
        assert_eq!(got, ["'1' is not one of ['ssh_private_key', 'url']"]);
    }

    #[test]
    fn field_ids_must_be_unique() {
        // seq 45
        let got = inputs_err(
            json!({"fields": [{"id": "token", "label": "A"}, {"id": "token", "label": "B"}]}),
        );
        assert_eq!(got, ["field IDs must be unique (token)"]);
    }

    #[test]
    fn field_id_must_be_a_variable_name() {
        // seq 46
        let got = inputs_err(json!({"fields": [{"id": "1abc", "label": "A"}]}));
        assert_eq!(got, ["1abc is an invalid variable name"]);
        let got = inputs_err(json!({"fields": [{"id": "$invalid$", "label": "A"}]}));
        assert_eq!(got, ["$invalid$ is an invalid variable name"]);
        let got = inputs_err(json!({"fields": [{"id": 7, "label": "A"}]}));
        assert_eq!(
            got,
            ["int provided in relative path ['fields', 0, 'id'], expected string"]
        );
        // Python's `$` also matches before a final newline.
        assert!(
            normalize_custom_inputs(&json!({"fields": [{"id": "abc\n", "label": "A"}]})).is_ok()
        );
    }

    #[test]
    fn tower_is_reserved() {
        // seq 47
        let got = inputs_err(json!({"fields": [{"id": "tower", "label": "A"}]}));
        assert_eq!(got, ["\"tower\" is a reserved field name"]);
    }

    #[test]
    fn id_and_label_are_required() {
        // seq 48
        assert_eq!(
            inputs_err(json!({"fields": [{"id": "token"}]})),
            ["'label' is a required property"]
        );
        assert_eq!(
            inputs_err(json!({"fields": [{"label": "Label"}]})),
            ["'id' is a required property"]
        );
    }

    #[test]
    fn string_only_keys_on_boolean_fields() {
        // seq 49
        let got = inputs_err(
            json!({"fields": [{"id": "flag", "label": "F", "type": "boolean", "choices": ["a"]}]}),
        );
        assert_eq!(got, ["choices not allowed for boolean type (flag)"]);
        for (key, value) in [
            ("multiline", json!(true)),
            ("format", json!("url")),
            ("secret", json!(false)),
        ] {
            let field = json!({"id": "field_id", "label": "L", "type": "boolean", key: value});
            assert_eq!(
                inputs_err(json!({"fields": [field]})),
                [format!("{key} not allowed for boolean type (field_id)")]
            );
        }
    }

    #[test]
    fn ask_at_runtime_is_not_supported() {
        // seq 50
        let got =
            inputs_err(json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": true}]}));
        assert_eq!(
            got,
            ["'ask_at_runtime' is not supported for custom credentials."]
        );
        let ok = json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": false}]});
        assert!(normalize_custom_inputs(&ok).is_ok());
        let got =
            inputs_err(json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": "bad"}]}));
        assert_eq!(
            got,
            ["str provided in relative path ['fields', 0, 'ask_at_runtime'], expected boolean"]
        );
    }

    #[test]
    fn dependencies_are_not_supported() {
        // seq 51
        let got = inputs_err(
            json!({"fields": [{"id": "token", "label": "T"}], "dependencies": {"token": ["x"]}}),
        );
        assert_eq!(
            got,
            ["'dependencies' is not supported for custom credentials."]
        );
    }

    #[test]
    fn inputs_must_be_an_object() {
        // seq 52
        assert_eq!(inputs_err(json!(["x"])), ["list provided, expected dict"]);
        assert_eq!(
            inputs_err(json!("malformed")),
            ["str provided, expected dict"]
        );
        assert_eq!(inputs_err(json!(100)), ["int provided, expected dict"]);
        assert_eq!(inputs_err(json!(1.5)), ["float provided, expected dict"]);
        assert_eq!(inputs_err(json!(true)), ["bool provided, expected dict"]);
        assert_eq!(
            inputs_err(json!(null)),
            ["NoneType provided, expected dict"]
        );
    }

    #[test]
    fn inputs_unknown_keys_and_containers_collect_every_schema_error() {
        let got =
            inputs_err(json!({"metadata": [], "fields": [{"id": "one", "label": "One"}, 234]}));
        assert_eq!(
            got,
            [
                "Schema validation error in relative path [] (Additional properties are not allowed ('metadata' was unexpected))",
                "int provided in relative path ['fields', 1], expected dict"
            ]
        );
        let got = inputs_err(json!({"fields": {}, "required": [1]}));
        assert_eq!(
            got,
            [
                "int provided in relative path ['required', 0], expected string",
                "dict provided in relative path ['fields'], expected array"
            ]
        );
        let got = inputs_err(
            json!({"fields": [{"id": "u", "label": "U", "foo": "bar", "help_text": 1}]}),
        );
        assert_eq!(
            got,
            [
                "int provided in relative path ['fields', 0, 'help_text'], expected string",
                "Schema validation error in relative path ['fields', 0] (Additional properties are not allowed ('foo' was unexpected))"
            ]
        );
    }

    #[test]
    fn choices_must_be_a_non_empty_list_of_unique_strings() {
        let field =
            |choices: Value| json!({"fields": [{"id": "b", "label": "B", "choices": choices}]});
        assert_eq!(
            inputs_err(field(json!("not-a-list"))),
            ["str provided in relative path ['fields', 0, 'choices'], expected array"]
        );
        assert_eq!(inputs_err(field(json!([]))), ["[] should be non-empty"]);
        assert_eq!(
            inputs_err(field(json!(["dup", "dup"]))),
            ["['dup', 'dup'] has non-unique elements"]
        );
        assert_eq!(
            inputs_err(field(json!(["a", 1]))),
            ["int provided in relative path ['fields', 0, 'choices', 1], expected string"]
        );
        assert!(normalize_custom_inputs(&field(json!(["su", "sudo"]))).is_ok());
    }

    #[test]
    fn defaults_must_match_the_field_type() {
        let field = |ty: &str, default: Value| json!({"fields": [{"id": "a", "label": "A", "type": ty, "default": default}]});
        assert_eq!(
            inputs_err(field("string", json!(null))),
            ["None is not a string"]
        );
        assert_eq!(
            inputs_err(field("string", json!(true))),
            ["True is not a string"]
        );
        assert_eq!(
            inputs_err(field("string", json!(false))),
            ["False is not a string"]
        );
        assert_eq!(
            inputs_err(field("string", json!(["a"]))),
            ["['a'] is not a string"]
        );
        assert_eq!(
            inputs_err(field("boolean", json!("some default string"))),
            ["some default string is not a boolean"]
        );
        assert_eq!(
            inputs_err(field("boolean", json!(1))),
            ["1 is not a boolean"]
        );
        assert!(normalize_custom_inputs(&field("boolean", json!(false))).is_ok());
        assert!(normalize_custom_inputs(&field("string", json!("x"))).is_ok());
        // without `type` the default is checked against the filled-in `string`
        let untyped = json!({"fields": [{"id": "a", "label": "A", "default": 1.5}]});
        assert_eq!(inputs_err(untyped), ["1.5 is not a string"]);
    }
}
