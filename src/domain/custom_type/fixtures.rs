//! Recorded custom types (the seq numbers refer to the recorded AWX traffic) and shortcuts
//! to their messages, shared by the unit tests of every concern.

use serde_json::{json, Value};

use super::{normalize_custom_inputs, validate_injectors};

/// `inputs` of the recorded custom type (seq 33, 57, 207).
pub(super) fn dx_inputs() -> Value {
    json!({"fields": [
        {"id": "api_token", "label": "API Token", "type": "string", "secret": true},
        {"id": "endpoint", "label": "Endpoint", "type": "string", "help_text": "Base URL"},
        {"id": "insecure", "label": "Skip TLS verification", "type": "boolean"}
    ], "required": ["api_token"]})
}

/// `injectors` of the recorded custom type (seq 33).
pub(super) fn dx_injectors() -> Value {
    json!({
        "env": {"DX_API_TOKEN": "{{ api_token }}"},
        "extra_vars": {"dx_endpoint": "{{ endpoint }}"},
        "file": {"template": "token={{ api_token }}"}
    })
}

/// The single-token type most recorded failures use.
pub(super) fn token_inputs() -> Value {
    json!({"fields": [{"id": "token", "label": "Token", "secret": true}]})
}

pub(super) fn inputs_err(inputs: Value) -> Vec<String> {
    normalize_custom_inputs(&inputs).err().unwrap_or_default()
}

/// Injector messages for `injectors` against the normalised `inputs`.
pub(super) fn injectors_err(injectors: Value, inputs: Value) -> Vec<String> {
    let inputs = normalize_custom_inputs(&inputs).unwrap_or(inputs);
    validate_injectors(&injectors, &inputs)
        .err()
        .unwrap_or_default()
}

pub(super) fn env_err(template: &str) -> Vec<String> {
    injectors_err(json!({"env": {"X": template}}), token_inputs())
}
