//! Credential rules: parsing a write request, the owner rules of creation, validation of
//! `inputs` against the credential type, and every `$encrypted$` rule.
//!
//! Invariant: `PreparedInputs::public` never holds a secret value, only the `$encrypted$`
//! marker (or `ASK` for askable fields); plaintext secrets travel as `SecretString`.

use super::credential_type::{
    optional_string, required_string, InputField, InputKind, InputSchema,
};
use super::errors::{DomainError, FieldErrors};
use super::formats;
use super::pk::{parse_pk, PkValue};
use super::python::{py_repr, py_str_repr, py_type_name};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The placeholder AWX shows instead of every secret, and accepts back as "keep it".
pub const ENCRYPTED: &str = "$encrypted$";
/// The value of an askable field meaning "prompt at launch"; stored unencrypted.
pub const ASK: &str = "ASK";

/// What happens to one secret field on save.
pub enum SecretAction {
    /// Keep the stored ciphertext unchanged.
    Keep,
    /// Encrypt and store this new value.
    Set(SecretString),
}

/// Inputs ready to store: public JSON (secrets replaced by the marker) and secret actions.
pub struct PreparedInputs {
    pub public: Map<String, Value>,
    pub secrets: Vec<(String, SecretAction)>,
}

/// What is stored today, for updates: public values and decrypted secrets.
pub struct StoredInputs<'a> {
    pub public: &'a Map<String, Value>,
    pub secrets: &'a BTreeMap<String, SecretString>,
}

/// Validates `raw` inputs against the type and splits them into public and secret parts.
/// `stored` is `None` on create. `managed_type` enables the SSH passphrase rule.
pub fn prepare_inputs(
    schema: &InputSchema,
    managed_type: bool,
    raw: &Value,
    stored: Option<&StoredInputs<'_>>,
) -> Result<PreparedInputs, DomainError> {
    let obj = match raw {
        Value::Object(o) => o,
        Value::Null => return Err(flat("This field may not be null.")),
        other => {
            return Err(flat(format!(
                "{} provided, expected dict",
                py_type_name(other)
            )))
        }
    };
    let normalized = normalize_falsy(schema, obj)?;
    if let Some(stored) = stored {
        check_vault_id_unchanged(stored, &normalized)?;
        check_secret_types_on_update(schema, &normalized)?;
    } else {
        check_no_reserved_keyword(schema, &normalized)?;
    }
    let mut errors = FieldErrors::new();
    for (key, value) in &normalized {
        if let Some(field) = schema.field(key) {
            if let Err(msg) = check_value(field, value, stored.is_some()) {
                errors.add_nested("inputs", key, redact_secret(field, value, msg));
            }
        }
    }
    check_dependencies(schema, &normalized, &mut errors);
    if managed_type {
        check_passphrase_rule(&normalized, stored, &mut errors);
    }
    errors.into_result()?;
    split_secrets(schema, normalized, stored)
}

fn flat(msg: impl Into<String>) -> DomainError {
    DomainError::Validation(FieldErrors::one("inputs", msg))
}

/// Rejects unknown keys (alone, as AWX does) and maps falsy values to field defaults;
/// falsy secrets are dropped so that no empty secret is ever stored.
fn normalize_falsy(
    schema: &InputSchema,
    obj: &Map<String, Value>,
) -> Result<Map<String, Value>, DomainError> {
    let unknown: Vec<String> = obj
        .keys()
        .filter(|k| schema.field(k).is_none())
        .map(|k| py_str_repr(k))
        .collect();
    match unknown.len() {
        0 => {}
        1 => {
            return Err(flat(format!(
                "Additional properties are not allowed ({} was unexpected)",
                unknown.join(", ")
            )))
        }
        _ => {
            return Err(flat(format!(
                "Additional properties are not allowed ({} were unexpected)",
                unknown.join(", ")
            )))
        }
    }
    let mut out = Map::new();
    for (key, value) in obj {
        let Some(field) = schema.field(key) else {
            continue;
        };
        let falsy = matches!(value, Value::Null | Value::Bool(false)) || value.as_str() == Some("");
        if !falsy {
            out.insert(key.clone(), value.clone());
        } else if !field.secret {
            out.insert(key.clone(), field.falsy_default());
        }
    }
    Ok(out)
}

fn check_no_reserved_keyword(
    schema: &InputSchema,
    inputs: &Map<String, Value>,
) -> Result<(), DomainError> {
    for (key, value) in inputs {
        if schema.is_secret(key) && value.as_str() == Some(ENCRYPTED) {
            return Err(flat(format!(
                "$encrypted$ is a reserved keyword, and cannot be used for {key}."
            )));
        }
    }
    Ok(())
}

fn check_secret_types_on_update(
    schema: &InputSchema,
    inputs: &Map<String, Value>,
) -> Result<(), DomainError> {
    for (key, value) in inputs {
        if schema.is_secret(key) && !value.is_string() {
            return Err(flat(format!(
                "secret values must be of type string, not {}",
                py_type_name(value)
            )));
        }
    }
    Ok(())
}

fn check_vault_id_unchanged(
    stored: &StoredInputs<'_>,
    inputs: &Map<String, Value>,
) -> Result<(), DomainError> {
    let before = stored
        .public
        .get("vault_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    match inputs.get("vault_id").and_then(Value::as_str) {
        Some(after) if !before.is_empty() && after != before => Err(flat(
            "Vault IDs cannot be changed once they have been created.",
        )),
        _ => Ok(()),
    }
}

/// Messages about a secret field never quote its value (AWX echoes the first 100
/// characters of a bad key; credstore shows a placeholder instead).
fn redact_secret(field: &InputField, value: &Value, msg: String) -> String {
    if !field.secret {
        return msg;
    }
    if msg.starts_with("Invalid certificate or key: ") {
        return "Invalid certificate or key: <secret value not shown>...".to_string();
    }
    let shown = py_repr(value);
    if shown.len() > 2 && msg.contains(&shown) {
        return msg.replace(&shown, "<secret value>");
    }
    msg
}

/// One field's type, choices and format. `$encrypted$` on update means "keep" and is not
/// checked here. As in AWX, the marker is special only as the whole value of a secret
/// field: a secret that merely starts with it is a secret like any other, and a public
/// field may hold it literally.
fn check_value(field: &InputField, value: &Value, updating: bool) -> Result<(), String> {
    if let Some(s) = value.as_str() {
        if s == ENCRYPTED && updating && field.secret {
            return Ok(());
        }
        if s == ASK && field.ask_at_runtime {
            return Ok(());
        }
    }
    match (field.kind, value) {
        (InputKind::String, Value::String(_))
        | (InputKind::Boolean, Value::Bool(_))
        | (InputKind::Untyped, _) => {}
        (InputKind::String, v) => return Err(format!("{} is not of type 'string'", py_repr(v))),
        (InputKind::Boolean, v) => return Err(format!("{} is not of type 'boolean'", py_repr(v))),
    }
    if let Some(choices) = &field.choices {
        if !value
            .as_str()
            .is_some_and(|s| choices.iter().any(|c| c == s))
        {
            let shown: Vec<String> = choices.iter().map(|c| py_str_repr(c)).collect();
            return Err(format!(
                "{} is not one of [{}]",
                py_repr(value),
                shown.join(", ")
            ));
        }
    }
    let Some(text) = value.as_str() else {
        return Ok(());
    };
    match field.format.as_deref() {
        Some("ssh_private_key") => formats::validate_ssh_private_key(text).map(|_| ()),
        Some("url") => formats::validate_url(text),
        Some("vault_id") => formats::validate_vault_id(text),
        _ => Ok(()),
    }
}

fn check_dependencies(schema: &InputSchema, inputs: &Map<String, Value>, errors: &mut FieldErrors) {
    for (field, needs) in &schema.dependencies {
        if !inputs.contains_key(field) {
            continue;
        }
        for need in needs.iter().filter(|n| !inputs.contains_key(n.as_str())) {
            let label = schema
                .field(need)
                .map_or(need.as_str(), |f| f.label.as_str());
            errors.add_nested(
                "inputs",
                field,
                format!("cannot be set unless \"{label}\" is set"),
            );
        }
    }
}

/// The SSH passphrase rule of managed ssh/scm/net types: an encrypted key needs a
/// passphrase and an unencrypted one must not have one. `$encrypted$` means the stored key.
fn check_passphrase_rule(
    inputs: &Map<String, Value>,
    stored: Option<&StoredInputs<'_>>,
    errors: &mut FieldErrors,
) {
    let key_text: Option<String> = match inputs.get("ssh_key_data").and_then(Value::as_str) {
        Some(ENCRYPTED) => stored
            .and_then(|s| s.secrets.get("ssh_key_data"))
            .map(|k| k.expose_secret().to_string()),
        Some(text) => Some(text.to_string()),
        None => None,
    };
    let Some(key_text) = key_text else { return };
    let Ok(info) = formats::validate_ssh_private_key(&key_text) else {
        return;
    };
    let passphrase_given = inputs.contains_key("ssh_key_unlock");
    if info.encrypted && !passphrase_given {
        errors.add_nested(
            "inputs",
            "ssh_key_unlock",
            "must be set when SSH key is encrypted.",
        );
    } else if !info.encrypted && passphrase_given {
        errors.add_nested(
            "inputs",
            "ssh_key_unlock",
            "should not be set when SSH key is not encrypted.",
        );
    }
}

fn split_secrets(
    schema: &InputSchema,
    normalized: Map<String, Value>,
    stored: Option<&StoredInputs<'_>>,
) -> Result<PreparedInputs, DomainError> {
    let mut public = Map::new();
    let mut secrets = Vec::new();
    let mut errors = FieldErrors::new();
    for (key, value) in normalized {
        let Some(field) = schema.field(&key).filter(|f| f.secret) else {
            public.insert(key, value);
            continue;
        };
        let text = value.as_str().unwrap_or_default();
        if text == ASK && field.ask_at_runtime {
            public.insert(key, value);
        } else if text == ENCRYPTED {
            match stored {
                Some(s) if s.secrets.contains_key(&key) => {
                    public.insert(key.clone(), Value::String(ENCRYPTED.into()));
                    secrets.push((key, SecretAction::Keep));
                }
                Some(s) if s.public.get(&key).and_then(Value::as_str) == Some(ASK) => {
                    public.insert(key, Value::String(ASK.into()));
                }
                _ => errors.add_nested("inputs", &key, "no stored value to keep"),
            }
        } else {
            public.insert(key.clone(), Value::String(ENCRYPTED.into()));
            secrets.push((key, SecretAction::Set(SecretString::from(text.to_string()))));
        }
    }
    errors.into_result()?;
    Ok(PreparedInputs { public, secrets })
}

/// AWX's own ciphertexts (`$encrypted$UTF8$AESCBC$...`, `$encrypted$AESCBC$...`), which
/// an import from AWX could carry into public inputs.
const AWX_CIPHERTEXT: [&str; 2] = ["$encrypted$UTF8$", "$encrypted$AES"];

/// Replaces anything that looks like AWX's stored ciphertext with the placeholder, for
/// output. Stored public inputs hold only markers for secrets; this guards the rule in
/// one place. Other values, `$encrypted$...` in a public field included, are shown as
/// they were sent, as AWX shows them.
pub fn mask_inputs(public: &mut Map<String, Value>) {
    for value in public.values_mut() {
        let looks_sealed = value
            .as_str()
            .is_some_and(|s| AWX_CIPHERTEXT.iter().any(|p| s.starts_with(p)));
        if looks_sealed {
            *value = Value::String(ENCRYPTED.into());
        }
    }
}

/// A parsed credential write body (create, PUT or PATCH).
#[derive(Debug, Clone)]
pub struct CredentialBody {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(PkValue)` when the body carried the key (PUT treats absence as null).
    pub organization: Option<PkValue>,
    pub credential_type: Option<PkValue>,
    pub inputs: Option<Value>,
    pub user: PkValue,
    pub team: PkValue,
}

/// How a body is read: creation needs everything, PUT replaces, PATCH merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Put,
    Patch,
}

/// Field-level parsing of a credential body (DRF's first step): all errors together.
pub fn parse_credential_body(
    body: &Map<String, Value>,
    mode: WriteMode,
) -> Result<CredentialBody, DomainError> {
    let mut errors = FieldErrors::new();
    let name = match (mode, body.get("name")) {
        (WriteMode::Patch, None) => None,
        (_, v) => required_string(&mut errors, "name", v.cloned()),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned());
    let organization = match (mode, body.get("organization")) {
        (WriteMode::Patch, None) => None,
        (_, v) => Some(parse_pk(&mut errors, "organization", v)),
    };
    let credential_type = match (mode, body.get("credential_type")) {
        (WriteMode::Patch, None) => None,
        (_, None) | (_, Some(Value::Null)) => {
            let msg = if body.contains_key("credential_type") {
                "This field may not be null."
            } else {
                "This field is required."
            };
            errors.add("credential_type", msg);
            None
        }
        (_, v) => Some(parse_pk(&mut errors, "credential_type", v)),
    };
    let inputs = match body.get("inputs") {
        None => None,
        Some(Value::Null) => {
            errors.add("inputs", "This field may not be null.");
            None
        }
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(other) => {
            errors.add(
                "inputs",
                format!("{} provided, expected dict", py_type_name(other)),
            );
            None
        }
    };
    let (user, team) = if mode == WriteMode::Create {
        (
            parse_pk(&mut errors, "user", body.get("user")),
            parse_pk(&mut errors, "team", body.get("team")),
        )
    } else {
        (PkValue::None, PkValue::None)
    };
    errors.into_result()?;
    Ok(CredentialBody {
        name,
        description,
        organization,
        credential_type,
        inputs,
        user,
        team,
    })
}

/// Who owns a new credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User(i64),
    Team(i64),
    Organization(i64),
}

/// Exactly one of `user`, `team`, `organization` must be given on create.
pub fn creation_owner(body: &CredentialBody) -> Result<Owner, DomainError> {
    let mut given: Vec<(&str, Owner)> = Vec::new();
    if let Some(PkValue::Id(o)) = body.organization {
        given.push(("organization", Owner::Organization(o)));
    }
    if let PkValue::Id(t) = body.team {
        given.push(("team", Owner::Team(t)));
    }
    if let PkValue::Id(u) = body.user {
        given.push(("user", Owner::User(u)));
    }
    match given.as_slice() {
        [] => Err(DomainError::BadRequest(Value::Array(vec![Value::String(
            "Missing 'user', 'team', or 'organization'.".into(),
        )]))),
        [(_, owner)] => Ok(*owner),
        many => {
            let names: Vec<&str> = many.iter().map(|(n, _)| *n).collect();
            Err(DomainError::BadRequest(Value::Array(vec![Value::String(format!(
                "Only one of 'user', 'team', or 'organization' should be provided, received {} fields.",
                names.join(", ")
            ))])))
        }
    }
}

/// Galaxy credentials must belong to an organization (on create and on update).
pub fn check_galaxy_owner(type_kind: &str, organization: Option<i64>) -> Result<(), DomainError> {
    if type_kind == "galaxy" && organization.is_none() {
        return Err(DomainError::Validation(FieldErrors::one(
            "organization",
            "Galaxy credentials must be owned by an Organization.",
        )));
    }
    Ok(())
}

/// The `{"name": ...}` rule of `POST /credentials/{id}/copy/`.
pub fn copy_name(body: &Map<String, Value>, original: &str) -> Result<String, DomainError> {
    let mut errors = FieldErrors::new();
    let name = required_string(&mut errors, "name", body.get("name").cloned());
    errors.into_result()?;
    let name = name.unwrap_or_default();
    if name == original {
        return Err(DomainError::Validation(FieldErrors::one(
            "__all__",
            format!("The original object is already named {original}, a copy from it cannot have the same name."),
        )));
    }
    Ok(name)
}

/// AWX's answer to a copy onto a name that the organization already has for the type:
/// its exception handler passes PostgreSQL's unique-violation text through as a 400
/// `detail`, naming the constraint as Django named it (table and columns cut to fit,
/// then a digest of them and `_uniq`). Personal credentials (no organization) never
/// collide: PostgreSQL's unique rule treats each null organization as distinct.
pub fn copy_name_taken(organization: i64, name: &str, credential_type: i64) -> String {
    format!(
        "duplicate key value violates unique constraint \"main_credential_organization_id_name_cre_55ee19c5_uniq\"\n\
         DETAIL:  Key (organization_id, name, credential_type_id)=({organization}, {name}, {credential_type}) already exists."
    )
}

#[cfg(test)]
mod tests;

/// The non-secret inputs a `/test/` request sets to something other than what is stored
/// (a new destination, auth path, namespace...). With any of them changed, the stored
/// secrets may only travel for a caller who could change the credential itself (admin):
/// otherwise a `use` holder could send them to a host of their choice.
pub fn changed_public_inputs(
    schema: &InputSchema,
    stored: &Map<String, Value>,
    requested: &Map<String, Value>,
) -> Vec<String> {
    requested
        .iter()
        .filter(|(key, value)| {
            !schema.is_secret(key)
                && value.as_str() != Some(ENCRYPTED)
                && stored.get(key.as_str()) != Some(value)
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// The inputs that name where an external lookup connects, first found wins: what the
/// activity entry of a `/test/` call records as its destination.
pub const DESTINATION_INPUTS: [&str; 6] = [
    "url",
    "server_url",
    "github_api_url",
    "tenant",
    "host",
    "region",
];

#[cfg(test)]
mod test_request_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_public_inputs_that_differ_count_as_changed() {
        let schema = InputSchema::parse(&json!({"fields": [
            {"id": "url", "label": "URL", "type": "string"},
            {"id": "token", "label": "Token", "type": "string", "secret": true},
            {"id": "namespace", "label": "NS", "type": "string"}
        ]}));
        let stored = json!({"url": "https://vault", "token": ENCRYPTED})
            .as_object()
            .cloned()
            .unwrap();
        let same = json!({"url": "https://vault", "token": "mine"})
            .as_object()
            .cloned()
            .unwrap();
        assert!(changed_public_inputs(&schema, &stored, &same).is_empty());
        let moved = json!({"url": "http://attacker:9", "namespace": "x", "token": ENCRYPTED})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(
            changed_public_inputs(&schema, &stored, &moved),
            vec!["url", "namespace"]
        );
    }
}
