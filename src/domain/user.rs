//! Rules for user bodies: which fields a write sets, and how they are checked.

use super::credential_type::{optional_string, required_string};
use super::errors::{DomainError, FieldErrors};
use super::username::check_username;
use secrecy::SecretString;
use serde_json::{Map, Value};

/// The writable fields of a user.
#[derive(Debug, Clone)]
pub struct UserWrite {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_superuser: bool,
    pub is_system_auditor: bool,
}

/// A checked user body: the fields to write and a new password, if one was given.
pub struct ParsedUser {
    pub write: UserWrite,
    pub password: Option<SecretString>,
}

fn text(
    errors: &mut FieldErrors,
    body: &Map<String, Value>,
    key: &str,
    current: Option<&str>,
) -> String {
    optional_string(errors, key, body.get(key).cloned())
        .or_else(|| current.map(str::to_string))
        .unwrap_or_default()
}

fn flag(errors: &mut FieldErrors, body: &Map<String, Value>, key: &str, current: bool) -> bool {
    match body.get(key) {
        None | Some(Value::Null) => current,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) if n.as_i64() == Some(1) || n.as_i64() == Some(0) => {
            n.as_i64() == Some(1)
        }
        Some(Value::String(s)) => match super::filter::parse_bool(s) {
            Ok(b) => b,
            Err(_) => {
                errors.add(key, "Must be a valid boolean.");
                current
            }
        },
        Some(_) => {
            errors.add(key, "Must be a valid boolean.");
            current
        }
    }
}

/// Reads a user body over the current values (`None` when creating, which requires a
/// password).
pub fn parse_user(
    body: &Map<String, Value>,
    current: Option<&UserWrite>,
    creating: bool,
) -> Result<ParsedUser, DomainError> {
    let mut errors = FieldErrors::new();
    let username = match (body.get("username"), current) {
        (None, Some(c)) => Some(c.username.clone()),
        (v, _) => required_string(&mut errors, "username", v.cloned()).filter(|name| {
            let checked = check_username(name);
            if let Err(message) = checked {
                errors.add("username", message);
            }
            checked.is_ok()
        }),
    };
    let password = match body.get("password") {
        Some(Value::String(p)) if !p.is_empty() && p != "$encrypted$" => {
            Some(SecretString::from(p.clone()))
        }
        _ if creating => {
            errors.add("password", "This field is required.");
            None
        }
        _ => None,
    };
    let write = UserWrite {
        username: username.unwrap_or_default(),
        first_name: text(
            &mut errors,
            body,
            "first_name",
            current.map(|c| c.first_name.as_str()),
        ),
        last_name: text(
            &mut errors,
            body,
            "last_name",
            current.map(|c| c.last_name.as_str()),
        ),
        email: text(
            &mut errors,
            body,
            "email",
            current.map(|c| c.email.as_str()),
        ),
        is_superuser: flag(
            &mut errors,
            body,
            "is_superuser",
            current.is_some_and(|c| c.is_superuser),
        ),
        is_system_auditor: flag(
            &mut errors,
            body,
            "is_system_auditor",
            current.is_some_and(|c| c.is_system_auditor),
        ),
    };
    super::resource::USER.check_announced_lengths(body, &mut errors);
    errors.into_result()?;
    Ok(ParsedUser { write, password })
}
