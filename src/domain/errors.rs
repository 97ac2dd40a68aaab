//! The domain's failure vocabulary. The HTTP layer maps each variant to AWX's response
//! shapes in one place (`http::error`).

use serde_json::{Map, Value};

/// Validation messages in AWX's 400 shape: each key maps to a list of strings, or to a
/// nested object of per-key lists (used for `inputs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A single message for one field.
    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// Appends a message to `field`'s list.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    /// Appends a message under `field.key` (the nested shape AWX uses for `inputs`).
    pub fn add_nested(&mut self, field: &str, key: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = entry {
            let list = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(Value::String(message.into()));
            }
        }
    }

    /// Sets `field` to an arbitrary JSON value (AWX's test endpoints use a bare string).
    pub fn set(&mut self, field: &str, value: Value) {
        self.0.insert(field.to_string(), value);
    }

    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `field` has a message.
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// True when `field.key` has a nested message.
    pub fn has_nested(&self, field: &str, key: &str) -> bool {
        self.0.get(field).and_then(|v| v.get(key)).is_some()
    }

    /// Folds another set of errors into this one.
    pub fn merge(&mut self, other: FieldErrors) {
        for (k, v) in other.0 {
            self.0.insert(k, v);
        }
    }

    /// `Ok(())` when empty, so validators can end with `errors.into_result()`.
    pub fn into_result(self) -> Result<(), DomainError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self))
        }
    }

    /// The JSON body of the 400 response.
    pub fn into_json(self) -> Value {
        Value::Object(self.0)
    }
}

/// A rule said no. Carries only messages meant for the client; never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// 400 with a field → messages body.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 400 with `{"detail": ...}`; the value may be a string or a list, as AWX sends it.
    #[error("bad request")]
    BadRequest(Value),
    /// 403 with a specific `detail`, or the generic message when `None`.
    #[error("forbidden")]
    Forbidden(Option<String>),
    /// 404 naming the model, e.g. `Credential`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 400 with `{"msg": ...}`, the shape of AWX's association views.
    #[error("{0}")]
    Message(String),
}

impl DomainError {
    /// `{"detail": "<msg>"}` 400.
    pub fn detail(msg: impl Into<String>) -> Self {
        DomainError::BadRequest(Value::String(msg.into()))
    }

    /// 403 with AWX's specific message.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        DomainError::Forbidden(Some(msg.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_flat_shapes() {
        let mut e = FieldErrors::new();
        e.add("name", "This field is required.");
        e.add_nested("inputs", "url", "bad");
        assert_eq!(
            e.into_json(),
            json!({"name": ["This field is required."], "inputs": {"url": ["bad"]}})
        );
    }
}
