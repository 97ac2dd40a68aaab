//! The body of AWX's association POSTs (`{"id": N}` to add, `"disassociate": true` to
//! take away), with AWX's messages.

use super::errors::DomainError;
use serde_json::{Map, Value};

/// An association request: which object, and whether to add or remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Association {
    pub id: i64,
    pub disassociate: bool,
}

impl Association {
    /// Reads the body; `model` names the associated object in the message for a missing id.
    pub fn parse(body: &Map<String, Value>, model: &str) -> Result<Self, DomainError> {
        let id = match body.get("id") {
            None | Some(Value::Null) => {
                return Err(DomainError::Message(format!(
                    "{model} 'id' field is missing."
                )))
            }
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| DomainError::Message("\"id\" field must be an integer.".into()))?,
        };
        Ok(Association {
            id,
            disassociate: is_disassociate(body),
        })
    }
}

/// True for `"disassociate": true` (or 1, "true").
fn is_disassociate(body: &Map<String, Value>) -> bool {
    match body.get("disassociate") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => super::filter::parse_bool(s).unwrap_or(false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reads_ids_as_numbers_or_text() {
        let a = Association::parse(&body(json!({"id": " 7 "})), "User").unwrap();
        assert_eq!(
            a,
            Association {
                id: 7,
                disassociate: false
            }
        );
        let b =
            Association::parse(&body(json!({"id": 3, "disassociate": "true"})), "User").unwrap();
        assert!(b.disassociate);
    }

    #[test]
    fn names_the_model_when_the_id_is_missing() {
        let err = Association::parse(&body(json!({})), "Team").unwrap_err();
        assert!(matches!(err, DomainError::Message(m) if m == "Team 'id' field is missing."));
        assert!(Association::parse(&body(json!({"id": "x"})), "Team").is_err());
    }
}
