//! jsonschema's `type` and `additionalProperties` messages as AWX's `JSONSchemaField`
//! rewrites them, with the path quoted the way Python prints a list.
//!
//! Shared by the inputs and injectors schemas, whose errors must read alike.

use serde_json::Value;

use crate::domain::python::{py_str_repr, py_type_name};

pub(super) fn child(path: &[String], segment: String) -> Vec<String> {
    let mut out = path.to_vec();
    out.push(segment);
    out
}

/// `list(error.path)` as Python prints it; segments are already `repr`-ed.
fn py_path(path: &[String]) -> String {
    format!("[{}]", path.join(", "))
}

/// AWX's rewrite of jsonschema's `type` errors.
pub(super) fn type_error(value: &Value, path: &[String], expected: &str) -> String {
    let found = py_type_name(value);
    if path.is_empty() {
        format!("{found} provided, expected {expected}")
    } else {
        let path = py_path(path);
        format!("{found} provided in relative path {path}, expected {expected}")
    }
}

/// jsonschema's `additionalProperties` message (sorted extras), wrapped by AWX with the path.
pub(super) fn additional_properties_error(
    path: &[String],
    mut extras: Vec<&str>,
    pattern: Option<&str>,
) -> String {
    extras.sort_unstable();
    let many = extras.len() > 1;
    let joined: Vec<String> = extras.iter().map(|e| py_str_repr(e)).collect();
    let joined = joined.join(", ");
    let inner = match pattern {
        Some(pattern) => format!(
            "{joined} {} not match any of the regexes: {}",
            if many { "do" } else { "does" },
            py_str_repr(pattern)
        ),
        None => format!(
            "Additional properties are not allowed ({joined} {} unexpected)",
            if many { "were" } else { "was" }
        ),
    };
    format!(
        "Schema validation error in relative path {} ({inner})",
        py_path(path)
    )
}

/// What rendering one template against AWX's validation namespace found wrong.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TemplateIssue {
    /// Jinja2 `UndefinedError` text.
    Undefined(String),
    /// Jinja2 `SecurityError` text (sandbox).
    Unsafe(String),
    /// Jinja2 `TemplateSyntaxError` text.
    Syntax(String),
}

impl TemplateIssue {
    pub(super) fn message(&self, kind: &str, key: &str) -> String {
        match self {
            TemplateIssue::Undefined(m) => format!("{key} uses an undefined field ({m})"),
            TemplateIssue::Unsafe(m) => format!("Encountered unsafe code execution: {m}"),
            TemplateIssue::Syntax(m) => {
                format!("Syntax error rendering template for {key} inside of {kind} ({m})")
            }
        }
    }
}
