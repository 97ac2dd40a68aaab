//! Input-source rules: the source must be an external lookup, the target
//! must not be, the field must exist on the target's type, and the metadata must fit the
//! source type's metadata schema.

use super::credential_type::optional_string;
use super::credential_type::{InputKind, InputSchema};
use super::errors::{DomainError, FieldErrors};
use super::pk::{parse_pk, PkValue};
use super::python::{py_repr, py_str_repr, py_type_name};
use serde_json::{json, Map, Value};

/// What the rules need to know about each end of the link.
pub struct LinkEnds<'a> {
    pub target_kind: &'a str,
    pub target_schema: &'a InputSchema,
    pub source_kind: &'a str,
    pub source_type_name: &'a str,
    /// The source type's full `inputs` definition (`metadata` and `required`).
    pub source_inputs: &'a Value,
}

/// Checks a link; per-key metadata errors are reported alone, before the other checks,
/// which are reported together (as AWX does).
pub fn validate_link(
    ends: &LinkEnds<'_>,
    input_field_name: &str,
    metadata: &Value,
) -> Result<(), DomainError> {
    let Value::Object(meta) = metadata else {
        return Err(DomainError::Validation(FieldErrors::one(
            "metadata",
            format!("{} provided, expected dict", py_type_name(metadata)),
        )));
    };
    let schema = metadata_schema(ends.source_inputs);
    let per_key = check_metadata_values(&schema, ends, meta);
    if !per_key.is_empty() {
        return Err(DomainError::Validation(per_key));
    }
    let mut errors = FieldErrors::new();
    let unknown: Vec<String> = meta
        .keys()
        .filter(|k| schema.field(k).is_none())
        .map(|k| py_str_repr(k))
        .collect();
    if !unknown.is_empty() {
        let verb = if unknown.len() == 1 { "was" } else { "were" };
        errors.add(
            "metadata",
            format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                unknown.join(", ")
            ),
        );
    }
    if ends.target_kind == "external" {
        errors.add(
            "target_credential",
            "Target must be a non-external credential",
        );
    }
    if ends.source_kind != "external" {
        errors.add("source_credential", "Source must be an external credential");
    }
    if ends.target_schema.field(input_field_name).is_none() {
        let mut ids: Vec<&str> = ends
            .target_schema
            .fields
            .iter()
            .map(|f| f.id.as_str())
            .collect();
        ids.sort_unstable();
        errors.add(
            "input_field_name",
            format!(
                "Input field must be defined on target credential (options are {}).",
                ids.join(", ")
            ),
        );
    }
    errors.into_result()
}

fn metadata_schema(source_inputs: &Value) -> InputSchema {
    let fields = source_inputs
        .get("metadata")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    InputSchema::parse(&serde_json::json!({ "fields": fields }))
}

fn check_metadata_values(
    schema: &InputSchema,
    ends: &LinkEnds<'_>,
    meta: &Map<String, Value>,
) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let required: Vec<&str> = ends
        .source_inputs
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for field in &schema.fields {
        match meta.get(&field.id) {
            Some(v) if !v.is_null() => {
                let wrong_type = match field.kind {
                    InputKind::String => !v.is_string(),
                    InputKind::Boolean => !v.is_boolean(),
                    InputKind::Untyped => false,
                };
                if wrong_type {
                    let ty = if field.kind == InputKind::Boolean {
                        "boolean"
                    } else {
                        "string"
                    };
                    errors.add_nested(
                        "metadata",
                        &field.id,
                        format!("{} is not of type '{ty}'", py_repr(v)),
                    );
                } else if let Some(choices) = &field.choices {
                    if !v.as_str().is_some_and(|s| choices.iter().any(|c| c == s)) {
                        let shown: Vec<String> = choices.iter().map(|c| py_str_repr(c)).collect();
                        errors.add_nested(
                            "metadata",
                            &field.id,
                            format!("{} is not one of [{}]", py_repr(v), shown.join(", ")),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    for id in required.iter().filter(|id| schema.field(id).is_some()) {
        let present = meta
            .get(*id)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        if !present && !errors.has_nested("metadata", id) {
            errors.add_nested(
                "metadata",
                id,
                format!("required for {}", ends.source_type_name),
            );
        }
    }
    errors
}

/// The stored values an update starts from.
pub struct CurrentSource {
    pub input_field_name: String,
    pub target: i64,
    pub source: i64,
    pub metadata: Map<String, Value>,
    pub description: String,
}

/// A parsed input-source body; `None` marks a field that failed (and was reported).
pub struct ParsedSource {
    pub field_name: Option<String>,
    pub target: Option<i64>,
    pub source: Option<i64>,
    pub metadata: Value,
    pub description: String,
}

/// Reads an input-source body over the current values (`None` on create; PATCH keeps what is absent).
pub fn parse_body(
    body: &Map<String, Value>,
    current: Option<&CurrentSource>,
) -> Result<ParsedSource, DomainError> {
    let mut errors = FieldErrors::new();
    let field_name = match (body.get("input_field_name"), current) {
        (None, Some(c)) => Some(c.input_field_name.clone()),
        (None, None) | (Some(Value::Null), _) => {
            errors.add(
                "input_field_name",
                if body.contains_key("input_field_name") {
                    "This field may not be null."
                } else {
                    "This field is required."
                },
            );
            None
        }
        (Some(Value::String(s)), _) if s.trim().is_empty() => {
            errors.add("input_field_name", "This field may not be blank.");
            None
        }
        (Some(Value::String(s)), _) if s.chars().count() > 1024 => {
            errors.add(
                "input_field_name",
                "Ensure this field has no more than 1024 characters.",
            );
            None
        }
        (Some(Value::String(s)), _) => Some(s.clone()),
        (Some(_), _) => {
            errors.add("input_field_name", "Not a valid string.");
            None
        }
    };
    let mut pk = |key: &str, current: Option<i64>| -> Option<i64> {
        match (body.get(key), current) {
            (None, Some(c)) => Some(c),
            (None, None) => {
                errors.add(key, "This field is required.");
                None
            }
            (Some(v), _) => match parse_pk(&mut errors, key, Some(v)) {
                PkValue::Id(id) => Some(id),
                PkValue::None => {
                    if !errors.has(key) {
                        errors.add(key, "This field may not be null.");
                    }
                    None
                }
            },
        }
    };
    let target = pk("target_credential", current.map(|c| c.target));
    let source = pk("source_credential", current.map(|c| c.source));
    let metadata = match (body.get("metadata"), current) {
        (None, Some(c)) => Value::Object(c.metadata.clone()),
        (None, None) => json!({}),
        (Some(Value::Null), _) => {
            errors.add("metadata", "This field may not be null.");
            json!({})
        }
        (Some(v), _) => v.clone(),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    errors.into_result()?;
    Ok(ParsedSource {
        field_name,
        target,
        source,
        metadata,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::managed_types::managed_types;
    use serde_json::json;

    fn inputs_of(ns: &str) -> Value {
        managed_types()
            .into_iter()
            .find(|t| t.namespace == ns)
            .map(|t| t.inputs)
            .unwrap_or_default()
    }

    fn check(target: &str, source: &str, field: &str, meta: Value) -> Result<(), DomainError> {
        let target_inputs = inputs_of(target);
        let source_inputs = inputs_of(source);
        let target_schema = InputSchema::parse(&target_inputs);
        let source_kind = if source.starts_with("hashivault") {
            "external"
        } else {
            "scm"
        };
        let ends = LinkEnds {
            target_kind: if target.starts_with("hashivault") {
                "external"
            } else {
                "ssh"
            },
            target_schema: &target_schema,
            source_kind,
            source_type_name: "HashiCorp Vault Secret Lookup",
            source_inputs: &source_inputs,
        };
        validate_link(&ends, field, &meta)
    }

    fn body(r: Result<(), DomainError>) -> Value {
        match r {
            Err(DomainError::Validation(e)) => e.into_json(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn valid_link() {
        assert!(check(
            "ssh",
            "hashivault_kv",
            "password",
            json!({"secret_path": "/a", "secret_key": "k"})
        )
        .is_ok());
    }

    #[test]
    fn metadata_rules_match_awx() {
        assert_eq!(
            body(check("ssh", "hashivault_kv", "username", json!({}))),
            json!({"metadata": {"secret_path": ["required for HashiCorp Vault Secret Lookup"], "secret_key": ["required for HashiCorp Vault Secret Lookup"]}})
        );
        assert_eq!(
            body(check(
                "ssh",
                "hashivault_kv",
                "username",
                json!({"secret_path": 123, "secret_key": "k"})
            )),
            json!({"metadata": {"secret_path": ["123 is not of type 'string'"]}})
        );
        assert_eq!(
            body(check(
                "ssh",
                "hashivault_kv",
                "username",
                json!({"secret_path": "/a", "secret_key": "k", "bogus": "x"})
            )),
            json!({"metadata": ["Additional properties are not allowed ('bogus' was unexpected)"]})
        );
    }

    #[test]
    fn ends_and_field_rules() {
        let meta = json!({"secret_path": "/a", "secret_key": "k"});
        assert_eq!(
            body(check(
                "hashivault_kv",
                "hashivault_kv",
                "token",
                meta.clone()
            )),
            json!({"target_credential": ["Target must be a non-external credential"]})
        );
        let e = body(check("ssh", "hashivault_kv", "nope", meta));
        assert!(e["input_field_name"][0].as_str().unwrap().starts_with(
            "Input field must be defined on target credential (options are become_method, "
        ));
    }
}
