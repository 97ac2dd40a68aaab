//! DRF's primary-key fields: how a write request names another object.

use super::errors::FieldErrors;
use super::python::py_type_name;
use serde_json::Value;

/// A primary-key field of a write request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkValue {
    /// Not sent, or sent as `null`.
    None,
    /// A pk that still has to be checked for existence.
    Id(i64),
}

/// Parses a pk the way DRF does: integers and integer strings; `null` is no value.
pub fn parse_pk(errors: &mut FieldErrors, field: &str, v: Option<&Value>) -> PkValue {
    match v {
        None | Some(Value::Null) => PkValue::None,
        Some(Value::Number(n)) if n.as_i64().is_some() => {
            PkValue::Id(n.as_i64().unwrap_or_default())
        }
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
            PkValue::Id(s.trim().parse().unwrap_or_default())
        }
        Some(other) => {
            errors.add(
                field,
                format!(
                    "Incorrect type. Expected pk value, received {}.",
                    py_type_name(other)
                ),
            );
            PkValue::None
        }
    }
}

/// DRF's message for a pk that names no object (or one the caller may not see, which
/// must read the same).
pub fn does_not_exist(id: i64) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}
