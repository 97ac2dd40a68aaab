//! Rules for organization bodies.

use super::credential_type::{optional_string, required_string};
use super::errors::{DomainError, FieldErrors};
use super::resource::ORGANIZATION;
use serde_json::{Map, Value};

/// Reads `name` and `description` over the current values (`None` when creating or
/// replacing, where `name` is required).
pub fn parse_organization(
    body: &Map<String, Value>,
    current: Option<(&str, &str)>,
) -> Result<(String, String), DomainError> {
    let mut errors = FieldErrors::new();
    let name = match (body.get("name"), current) {
        (None, Some((name, _))) => Some(name.to_string()),
        (v, _) => required_string(&mut errors, "name", v.cloned()),
    };
    let description = optional_string(&mut errors, "description", body.get("description").cloned())
        .or_else(|| current.map(|(_, d)| d.to_string()))
        .unwrap_or_default();
    ORGANIZATION.check_announced_lengths(body, &mut errors);
    errors.into_result()?;
    Ok((name.unwrap_or_default(), description))
}
