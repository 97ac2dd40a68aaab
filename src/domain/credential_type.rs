//! Credential types: the input schema a type declares, and the rules for writing custom
//! types. Managed types come from `managed_types`; custom ones are checked here and in
//! `custom_type` (schema and injector templates).

use super::custom_type;
use super::errors::{DomainError, FieldErrors};
use super::pk::{parse_pk, PkValue};
use serde_json::{Map, Value};

/// The twelve kinds, in AWX's display order, with their labels.
pub const KINDS: [(&str, &str); 12] = [
    ("ssh", "Machine"),
    ("vault", "Vault"),
    ("net", "Network"),
    ("scm", "Source Control"),
    ("cloud", "Cloud"),
    ("registry", "Container Registry"),
    ("token", "Personal Access Token"),
    ("insights", "Insights"),
    ("external", "External"),
    ("kubernetes", "Kubernetes"),
    ("galaxy", "Galaxy/Automation Hub"),
    ("cryptography", "Cryptography"),
];

/// Kinds that API clients may give to the types they create.
pub const WRITABLE_KINDS: [(&str, &str); 2] = [("net", "Network"), ("cloud", "Cloud")];

/// Maximum length of a type's (and a credential's) name.
pub const NAME_MAX: usize = 512;

/// How an input value is typed in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InputKind {
    /// `"type": "string"`.
    String,
    /// `"type": "boolean"`.
    Boolean,
    /// No `type` key (some managed fields): only `choices` are checked.
    Untyped,
}

/// One declared input field of a credential type.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InputField {
    pub id: String,
    pub label: String,
    pub kind: InputKind,
    pub secret: bool,
    pub format: Option<String>,
    pub choices: Option<Vec<String>>,
    pub ask_at_runtime: bool,
}

impl InputField {
    /// The value AWX substitutes for `null`, `""` or `false` on a non-secret field.
    pub fn falsy_default(&self) -> Value {
        if let Some(first) = self.choices.as_ref().and_then(|c| c.first()) {
            return Value::String(first.clone());
        }
        match self.kind {
            InputKind::Boolean => Value::Bool(false),
            _ => Value::String(String::new()),
        }
    }
}

/// The parsed schema of a type: what `inputs` of its credentials may hold.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct InputSchema {
    pub fields: Vec<InputField>,
    /// `dependencies` of managed types: field → fields it needs present.
    pub dependencies: Vec<(String, Vec<String>)>,
}

impl InputSchema {
    /// Reads a stored (already validated) `inputs` definition; malformed parts are skipped.
    pub fn parse(inputs: &Value) -> Self {
        let fields = inputs
            .get("fields")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(parse_field).collect())
            .unwrap_or_default();
        let dependencies = inputs
            .get("dependencies")
            .and_then(Value::as_object)
            .map(|deps| {
                deps.iter()
                    .map(|(k, v)| (k.clone(), string_list(v)))
                    .collect()
            })
            .unwrap_or_default();
        InputSchema {
            fields,
            dependencies,
        }
    }

    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&InputField> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// True when `id` is a secret field.
    pub fn is_secret(&self, id: &str) -> bool {
        self.field(id).is_some_and(|f| f.secret)
    }
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_field(v: &Value) -> Option<InputField> {
    let obj = v.as_object()?;
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some("boolean") => InputKind::Boolean,
        Some(_) => InputKind::String,
        None => InputKind::Untyped,
    };
    Some(InputField {
        id: obj.get("id")?.as_str()?.to_string(),
        label: obj
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        kind,
        secret: flag("secret"),
        format: obj
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string),
        choices: obj.get("choices").map(string_list),
        ask_at_runtime: flag("ask_at_runtime"),
    })
}

/// A type as the rules need it: identity plus schema.
#[derive(Debug, Clone)]
pub struct CredentialTypeInfo {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub managed: bool,
    pub schema: InputSchema,
}

/// The writable fields of a credential type request, after parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeWrite {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub inputs: Value,
    pub injectors: Value,
}

/// How a type's injectors are checked against its inputs: [`custom_type::validate_injectors`]
/// in this process or, for templates that can build large strings, in a worker process
/// with a memory limit (the server's `template_worker` module).
pub type InjectorCheck<'a> = &'a dyn Fn(&Value, &Value) -> Result<(), Vec<String>>;

/// Checks a POST/PUT/PATCH body for a custom type. `current` is the stored type for
/// updates (PATCH fills missing keys from it; PUT requires `name` and `kind`).
/// `in_use` says whether credentials of this type exist.
pub fn validate_type_write(
    body: &Map<String, Value>,
    current: Option<&TypeWrite>,
    partial: bool,
    in_use: bool,
    check_injectors: InjectorCheck<'_>,
) -> Result<TypeWrite, DomainError> {
    let mut errors = FieldErrors::new();
    let from_current = |key: &str| -> Option<Value> {
        let c = current?;
        if !partial {
            return None;
        }
        Some(match key {
            "name" => Value::String(c.name.clone()),
            "description" => Value::String(c.description.clone()),
            "kind" => Value::String(c.kind.clone()),
            "inputs" => c.inputs.clone(),
            _ => c.injectors.clone(),
        })
    };
    let value = |key: &str| body.get(key).cloned().or_else(|| from_current(key));

    let name = required_string(&mut errors, "name", value("name"));
    let description = optional_string(&mut errors, "description", value("description"));
    let kind = match value("kind") {
        None => {
            errors.add("kind", "This field is required.");
            None
        }
        Some(Value::String(k)) if KINDS.iter().any(|(v, _)| *v == k) => Some(k),
        Some(other) => {
            let shown = match &other {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            errors.add("kind", format!("\"{shown}\" is not a valid choice."));
            None
        }
    };
    let raw_inputs = value("inputs").unwrap_or_else(|| Value::Object(Map::new()));
    let raw_injectors = value("injectors").unwrap_or_else(|| Value::Object(Map::new()));
    if raw_inputs.is_null() {
        errors.add("inputs", "This field may not be null.");
    }
    if raw_injectors.is_null() {
        errors.add("injectors", "This field may not be null.");
    }
    errors.into_result()?;
    let (Some(name), Some(kind)) = (name, kind) else {
        return Err(DomainError::Validation(FieldErrors::new()));
    };

    let in_use_refusal = || {
        DomainError::forbidden(
            "Modifications to inputs are not allowed for credential types that are in use",
        )
    };
    let frozen = current.filter(|_| in_use);
    // A type in use refuses an inputs definition that does not parse as a change, before
    // saying what is wrong with it (AWX); injectors that the new inputs would break are
    // still reported first (recorded: 400 before the 403).
    let inputs = match custom_type::normalize_custom_inputs(&raw_inputs) {
        Ok(v) => v,
        Err(_) if frozen.is_some() => return Err(in_use_refusal()),
        Err(messages) => return Err(list_error("inputs", messages)),
    };
    if let Err(messages) = check_injectors(&raw_injectors, &inputs) {
        return Err(list_error("injectors", messages));
    }
    if frozen.is_some_and(|c| !custom_type::inputs_equivalent(&c.inputs, &inputs)) {
        return Err(in_use_refusal());
    }
    if !WRITABLE_KINDS.iter().any(|(k, _)| *k == kind) {
        return Err(DomainError::Validation(FieldErrors::one(
            "kind",
            format!("Must be 'cloud' or 'net', not {kind}"),
        )));
    }
    Ok(TypeWrite {
        name,
        description: description.unwrap_or_default(),
        kind,
        inputs,
        injectors: raw_injectors,
    })
}

/// The organization a type write names (a credstore extension): any organization on
/// creation, none for a global type; afterwards it cannot change, since the type's roles
/// and its credentials' placement hang on it. `current` is the stored value on updates.
pub fn type_organization(
    body: &Map<String, Value>,
    current: Option<Option<i64>>,
) -> Result<Option<i64>, DomainError> {
    let mut errors = FieldErrors::new();
    let sent = match parse_pk(&mut errors, "organization", body.get("organization")) {
        PkValue::Id(id) => Some(id),
        PkValue::None => None,
    };
    errors.into_result()?;
    match current {
        Some(stored) if body.contains_key("organization") && sent != stored => {
            Err(DomainError::Validation(FieldErrors::one(
                "organization",
                "The organization of a credential type cannot be changed.",
            )))
        }
        Some(stored) => Ok(stored),
        None => Ok(sent),
    }
}

/// Where a credential of an organization's type may live: in that organization, or as a
/// personal credential (no organization). Global types go anywhere.
pub fn check_credential_placement(
    type_name: &str,
    type_organization: Option<i64>,
    credential_organization: Option<i64>,
) -> Result<(), DomainError> {
    match (type_organization, credential_organization) {
        (Some(owner), Some(org)) if owner != org => Err(DomainError::Validation(FieldErrors::one(
            "organization",
            format!(
                "Credentials of the credential type '{type_name}' can only belong to its organization."
            ),
        ))),
        _ => Ok(()),
    }
}

fn list_error(field: &str, messages: Vec<String>) -> DomainError {
    let mut e = FieldErrors::new();
    for m in messages {
        e.add(field, m);
    }
    DomainError::Validation(e)
}

/// DRF CharField rules for a required name: present, a string, not blank, ≤ 512.
pub fn required_string(errors: &mut FieldErrors, field: &str, v: Option<Value>) -> Option<String> {
    match v {
        None => {
            errors.add(field, "This field is required.");
            None
        }
        Some(Value::Null)
        | Some(Value::String(_))
        | Some(Value::Number(_))
        | Some(Value::Bool(_)) => {
            let s = scalar_to_string(v.as_ref());
            if s.trim().is_empty() {
                errors.add(field, "This field may not be blank.");
                None
            } else if s.contains('\0') {
                errors.add(field, NULL_CHARACTERS);
                None
            } else if s.chars().count() > NAME_MAX {
                errors.add(
                    field,
                    format!("Ensure this field has no more than {NAME_MAX} characters."),
                );
                None
            } else {
                Some(s)
            }
        }
        Some(_) => {
            errors.add(field, "Not a valid string.");
            None
        }
    }
}

/// DRF CharField rules for an optional text such as `description` (`null` reads as "").
pub fn optional_string(errors: &mut FieldErrors, field: &str, v: Option<Value>) -> Option<String> {
    match v {
        None => None,
        Some(Value::Array(_)) | Some(Value::Object(_)) => {
            errors.add(field, "Not a valid string.");
            None
        }
        other => {
            let s = scalar_to_string(other.as_ref());
            if s.contains('\0') {
                errors.add(field, NULL_CHARACTERS);
                return None;
            }
            Some(s)
        }
    }
}

/// DRF's message for a NUL in a text field (which PostgreSQL could not store either).
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// DRF renders scalars sent for a string field as their text (`5` → "5", null → "").
fn scalar_to_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Bool(false)) => "False".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn field_error(r: Result<impl std::fmt::Debug, DomainError>) -> Value {
        match r {
            Err(DomainError::Validation(e)) => e.into_json(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_type_organization_is_set_on_creation_and_never_changes() {
        assert_eq!(type_organization(&obj(json!({})), None).unwrap(), None);
        assert_eq!(
            type_organization(&obj(json!({"organization": 4})), None).unwrap(),
            Some(4)
        );
        assert_eq!(
            type_organization(&obj(json!({"organization": "4"})), None).unwrap(),
            Some(4)
        );
        let wrong = field_error(type_organization(&obj(json!({"organization": "x"})), None));
        assert!(wrong["organization"][0]
            .as_str()
            .unwrap()
            .contains("Expected pk value"));
        // Updates keep the stored organization; sending it unchanged is fine.
        assert_eq!(
            type_organization(&obj(json!({})), Some(Some(4))).unwrap(),
            Some(4)
        );
        assert_eq!(
            type_organization(&obj(json!({"organization": 4})), Some(Some(4))).unwrap(),
            Some(4)
        );
        for (body, stored) in [
            (json!({"organization": 5}), Some(4)),
            (json!({"organization": null}), Some(4)),
            (json!({"organization": 4}), None),
        ] {
            let e = field_error(type_organization(&obj(body), Some(stored)));
            assert!(e["organization"][0]
                .as_str()
                .unwrap()
                .contains("cannot be changed"));
        }
    }

    #[test]
    fn credentials_of_an_organization_type_stay_in_its_organization() {
        assert!(check_credential_placement("t", None, Some(3)).is_ok());
        assert!(check_credential_placement("t", Some(3), Some(3)).is_ok());
        assert!(
            check_credential_placement("t", Some(3), None).is_ok(),
            "personal credentials"
        );
        let e = field_error(check_credential_placement("t", Some(3), Some(4)));
        assert_eq!(
            e,
            json!({"organization": ["Credentials of the credential type 't' can only belong to its organization."]})
        );
    }

    #[test]
    fn missing_name_and_kind_reported_together() {
        let err = validate_type_write(
            &obj(json!({"inputs": {}})),
            None,
            false,
            false,
            &custom_type::validate_injectors,
        )
        .unwrap_err();
        let DomainError::Validation(e) = err else {
            panic!()
        };
        assert_eq!(
            e.into_json(),
            json!({"name": ["This field is required."], "kind": ["This field is required."]})
        );
    }

    #[test]
    fn kind_rules() {
        let bad = validate_type_write(
            &obj(json!({"name": "x", "kind": "bogus"})),
            None,
            false,
            false,
            &custom_type::validate_injectors,
        );
        let Err(DomainError::Validation(e)) = bad else {
            panic!()
        };
        assert_eq!(
            e.into_json(),
            json!({"kind": ["\"bogus\" is not a valid choice."]})
        );
        let ssh = validate_type_write(
            &obj(json!({"name": "x", "kind": "ssh"})),
            None,
            false,
            false,
            &custom_type::validate_injectors,
        );
        let Err(DomainError::Validation(e)) = ssh else {
            panic!()
        };
        assert_eq!(
            e.into_json(),
            json!({"kind": ["Must be 'cloud' or 'net', not ssh"]})
        );
        assert!(validate_type_write(
            &obj(json!({"name": "x", "kind": "net"})),
            None,
            false,
            false,
            &custom_type::validate_injectors
        )
        .is_ok());
    }

    #[test]
    fn in_use_inputs_frozen_but_equivalent_resend_allowed() {
        let current = TypeWrite {
            name: "t".into(),
            description: String::new(),
            kind: "cloud".into(),
            inputs: json!({"fields": [{"id": "a", "label": "A", "type": "string"}]}),
            injectors: json!({}),
        };
        let same = obj(json!({"inputs": {"fields": [{"id": "a", "label": "A"}]}}));
        assert!(validate_type_write(
            &same,
            Some(&current),
            true,
            true,
            &custom_type::validate_injectors
        )
        .is_ok());
        let changed = obj(json!({"inputs": {"fields": [{"id": "b", "label": "B"}]}}));
        assert!(matches!(
            validate_type_write(
                &changed,
                Some(&current),
                true,
                true,
                &custom_type::validate_injectors
            ),
            Err(DomainError::Forbidden(Some(_)))
        ));
        assert!(validate_type_write(
            &changed,
            Some(&current),
            true,
            false,
            &custom_type::validate_injectors
        )
        .is_ok());
        // Refused as a change before the new definition is checked at all.
        let invalid = obj(json!({"inputs": {"fields": [{"id": "b"}]}}));
        assert!(matches!(
            validate_type_write(
                &invalid,
                Some(&current),
                true,
                true,
                &custom_type::validate_injectors
            ),
            Err(DomainError::Forbidden(Some(_)))
        ));
        assert!(matches!(
            validate_type_write(
                &invalid,
                Some(&current),
                true,
                false,
                &custom_type::validate_injectors
            ),
            Err(DomainError::Validation(_))
        ));
    }

    #[test]
    fn schema_parse_reads_flags() {
        let s = InputSchema::parse(&json!({"fields": [
            {"id": "p", "label": "P", "type": "string", "secret": true, "ask_at_runtime": true},
            {"id": "v", "label": "V", "choices": ["v1", "v2"]},
            {"id": "b", "label": "B", "type": "boolean"}
        ], "dependencies": {"p": ["b"]}}));
        assert!(s.is_secret("p"));
        assert_eq!(s.field("v").unwrap().falsy_default(), json!("v1"));
        assert_eq!(s.field("b").unwrap().falsy_default(), json!(false));
        assert_eq!(
            s.dependencies,
            vec![("p".to_string(), vec!["b".to_string()])]
        );
    }
}
