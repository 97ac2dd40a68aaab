//! Validation of user-defined (custom) credential types: the `inputs` definition and the
//! `injectors` templates, reporting AWX's exact messages.
//!
//! AWX checks both fields with a Draft-4 JSON schema whose messages its `JSONSchemaField`
//! rewrites, then with hand-written rules, and finally renders every injector template in a
//! sandboxed Jinja2 environment with strict undefined handling. This module follows the same
//! pipeline: the schema is walked by hand in AWX's keyword order (so the flat error lists come
//! out in AWX's order), values quoted in messages use Python's `repr`/`str` spelling, and
//! minijinja is set up to resemble Jinja2 (same filter/test/global names) and rendered against
//! a namespace that logs the lookups Jinja2 would fail on, because minijinja's own undefined
//! error does not say which name was undefined.
//!
//! Layout, in pipeline order: `inputs` (schema and field rules), `injectors` (schema,
//! names, the template walk), `sandbox` (rendering one template like Jinja2) over the
//! `namespace` it may reference; `patterns` and `messages` are shared by both schemas.
//!
//! Invariant: nothing here panics on any JSON input; every function is pure.

mod injectors;
mod inputs;
mod messages;
mod namespace;
mod patterns;
mod sandbox;

#[cfg(test)]
mod fixtures;

use serde_json::Value;

pub(crate) use injectors::env_var_allowed;
use injectors::{injector_rules, injector_schema_errors};
use inputs::{check_inputs, fields_of, json_eq, with_default_types};
pub(crate) use sandbox::{render_bounded, runtime_environment};

const ASK_AT_RUNTIME_MSG: &str = "'ask_at_runtime' is not supported for custom credentials.";

/// Checks a custom type's `inputs` and returns it as AWX stores it: each field without a
/// `type` gets `"type": "string"` appended (after its other keys); everything else verbatim.
/// Err = the flat list of messages AWX reports under the `inputs` key.
///
/// Why one call does it all: AWX raises these from its model field (schema, `tower`, unique
/// ids, defaults, boolean-only keys) and then from the serializer (`ask_at_runtime`); the
/// `ask_at_runtime` rule is checked last here, only once everything else passed.
pub fn normalize_custom_inputs(inputs: &Value) -> Result<Value, Vec<String>> {
    let normalized = check_inputs(inputs)?;
    let asks_at_runtime = fields_of(&normalized)
        .iter()
        .any(|f| f.get("ask_at_runtime") == Some(&Value::Bool(true)));
    if asks_at_runtime {
        return Err(vec![ASK_AT_RUNTIME_MSG.to_string()]);
    }
    Ok(normalized)
}

/// Checks `injectors` against already-normalised `inputs` (the ids it may reference).
/// Err = the flat list of messages reported under the `injectors` key.
///
/// Why the inputs are re-checked: AWX reports injector *schema* errors regardless, but only
/// inspects templates and variable names when the inputs are valid (it cannot know which ids
/// exist otherwise); the caller may therefore pass invalid inputs and still get schema errors.
pub fn validate_injectors(injectors: &Value, inputs: &Value) -> Result<(), Vec<String>> {
    let errors = injector_schema_errors(injectors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Value::Object(injectors), Ok(inputs)) = (injectors, check_inputs(inputs)) else {
        return Ok(());
    };
    injector_rules(injectors, &inputs).map_err(|message| vec![message])
}

/// Whether every template in `injectors` only names values between literal text, as
/// `{{ username }}` or `{{ tower.filename.key }}` do. Such a template writes what it names
/// straight into its bounded output and builds no string of its own, so it cannot take
/// more memory than that bound, and it may run in the server's process. Any other
/// template (filters, operators, loops, macros, `namespace`) can build strings far larger
/// than its output (`"a" * n ~ ...` doubled in a loop), and runs in a worker process with
/// a memory limit instead (the server's `template_worker` module).
pub fn injectors_are_plain(injectors: &Value) -> bool {
    match injectors {
        Value::String(s) => plain_template(s),
        Value::Array(items) => items.iter().all(injectors_are_plain),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| plain_template(k) && injectors_are_plain(v)),
        _ => true,
    }
}

/// Literal text and `{{ name.attr }}` placeholders only (no statements, comments,
/// filters, calls or operators).
fn plain_template(source: &str) -> bool {
    if source.contains("{%") || source.contains("{#") {
        return false;
    }
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start + 2..].find("}}") else {
            return false;
        };
        let expression = rest[start + 2..start + 2 + length].trim();
        let dotted_name = !expression.is_empty()
            && expression.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !dotted_name {
            return false;
        }
        rest = &rest[start + 2 + length + 2..];
    }
    true
}

/// Compares two inputs definitions after default-filling (`type: string`), the way AWX decides
/// whether an in-use type's `inputs` changed.
///
/// Why: AWX compares the stored (normalised) value with the submitted one *after* validation
/// added the default `type`, using Python dict equality, so key order never matters and
/// resending a definition without `type` keys is not a change.
pub fn inputs_equivalent(a: &Value, b: &Value) -> bool {
    json_eq(&with_default_types(a), &with_default_types(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_templates_that_name_values_are_plain() {
        use super::injectors_are_plain;
        use serde_json::json;
        for plain in [
            json!({"env": {"TOKEN": "{{ token }}", "URL": "https://{{host}}:{{ port }}/x"}}),
            json!({"file": {"template.cfg": "[a]\nkey={{ key }}\npath={{ tower.filename.cfg }}"}}),
            json!({"extra_vars": {"{{ name }}": ["{{ a }}", 1, true, {"b": "text"}]}}),
            json!({}),
        ] {
            assert!(injectors_are_plain(&plain), "{plain}");
        }
        for costly in [
            json!({"env": {"A": "{{ token ~ token }}"}}),
            json!({"env": {"A": "{{ \"a\" * 100000000 }}"}}),
            json!({"env": {"A": "{{ token|replace('a', 'aa') }}"}}),
            json!({"env": {"A": "{% for i in range(9) %}{{ i }}{% endfor %}"}}),
            json!({"env": {"A": "{# note #}{{ token }}"}}),
            json!({"env": {"A": "{{ token }"}}),
            json!({"env": {"A": "{{ token() }}"}}),
            json!({"env": {"A": "{{ 1 }}"}}),
            json!({"extra_vars": {"{{ a + a }}": "x"}}),
        ] {
            assert!(!injectors_are_plain(&costly), "{costly}");
        }
    }

    use super::fixtures::*;
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Map};

    #[test]
    fn recorded_valid_type_is_echoed_verbatim() {
        // seq 33: every field already has a type, so nothing changes (key order included).
        let stored = normalize_custom_inputs(&dx_inputs());
        assert_eq!(
            stored.as_ref().map(|v| v.to_string()).ok(),
            Some(dx_inputs().to_string())
        );
        assert_eq!(validate_injectors(&dx_injectors(), &dx_inputs()), Ok(()));
    }

    #[test]
    fn empty_inputs_and_injectors_are_valid() {
        assert_eq!(normalize_custom_inputs(&json!({})), Ok(json!({})));
        assert_eq!(validate_injectors(&json!({}), &json!({})), Ok(()));
    }

    #[test]
    fn templates_are_skipped_when_inputs_are_invalid() {
        // seq 44–48 carry an undefined `token` reference but only report the inputs error.
        let bad_inputs = json!({"fields": [{"id": "n", "label": "N", "type": "integer"}]});
        let injectors = json!({"env": {"DX_TOKEN": "{{ token }}"}});
        assert_eq!(validate_injectors(&injectors, &bad_inputs), Ok(()));
        // ... while injector schema errors are still reported.
        let got = validate_injectors(&json!({"bogus": 1}), &bad_inputs);
        assert_eq!(got, Err(vec!["Schema validation error in relative path [] (Additional properties are not allowed ('bogus' was unexpected))".to_string()]));
    }

    #[test]
    fn changed_inputs_break_existing_injectors() {
        // seq 206: the new inputs drop `endpoint`, still used by `extra_vars`.
        let inputs = json!({"fields": [{"id": "api_token", "label": "API Token", "secret": true}]});
        let got = injectors_err(dx_injectors(), inputs);
        assert_eq!(
            got,
            ["dx_endpoint uses an undefined field ('endpoint' is undefined)"]
        );
    }

    #[test]
    fn in_use_comparison_ignores_default_types_and_key_order() {
        let stored = normalize_custom_inputs(&dx_inputs()).unwrap_or_default();
        // seq 207: same definition → not a change.
        assert!(inputs_equivalent(&stored, &dx_inputs()));
        // the definition without `type: string` keys, keys reordered → not a change.
        let untyped = json!({"required": ["api_token"], "fields": [
            {"label": "API Token", "id": "api_token", "secret": true},
            {"id": "endpoint", "label": "Endpoint", "help_text": "Base URL"},
            {"id": "insecure", "label": "Skip TLS verification", "type": "boolean"}
        ]});
        assert!(inputs_equivalent(&stored, &untyped));
        // seq 205: an added field is a change.
        let mut added = dx_inputs();
        if let Some(Value::Array(fields)) = added.get_mut("fields") {
            fields.push(json!({"id": "region", "label": "Region", "type": "string"}));
        }
        assert!(!inputs_equivalent(&stored, &added));
        assert!(!inputs_equivalent(&stored, &json!({})));
    }

    fn text() -> impl Strategy<Value = String> {
        let fragments = prop::sample::select(vec![
            "{{ token }}",
            "{{ tower }}",
            "{{ tower.filename }}",
            "{{ tower.filename.a }}",
            "{{ nope",
            "{% if token %}",
            "{% endif %}",
            "{% for c in token %}{{ c.x }}{% endfor %}",
            "{{ token.__class__ }}",
            "{{ token | nofilter }}",
            "{{ tower[0] }}",
            "}}",
            "{%",
            "{#",
            "{{ range(3) | join }}",
            "{{ a.b.c }}",
            "{% set x = token %}{{ x.y }}",
            "{{ 'é' ~ nope }}",
        ]);
        prop_oneof![
            any::<String>(),
            "[a-zA-Z_{}%#~. '\"()|\n0-9-]{0,16}",
            (fragments.clone(), "[a-z {}]{0,6}", fragments)
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        let known = prop::sample::select(vec![
            "fields",
            "required",
            "dependencies",
            "id",
            "label",
            "type",
            "format",
            "choices",
            "default",
            "secret",
            "multiline",
            "ask_at_runtime",
            "help_text",
            "env",
            "file",
            "extra_vars",
            "template",
            "template.a",
            "tower",
            "token",
            "ANSIBLE_X",
            "PATH",
            "1bad",
        ]);
        prop_oneof![known.prop_map(str::to_string), text()]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e20f64..1e20).prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// Well-formed definitions with arbitrary template strings, to reach the renderer.
    fn custom_type() -> impl Strategy<Value = (Value, Value)> {
        let ids = prop::sample::subsequence(vec!["token", "a", "b", "flag"], 0..=4);
        let entries = |keys: &'static str| prop::collection::btree_map(keys, text(), 0..4);
        let parts = (
            ids,
            entries("[A-Z_]{1,6}"),
            entries("[a-z]{1,5}"),
            entries("[a-z_{}]{1,6}"),
        );
        parts.prop_map(|(ids, env, file, extra)| {
            let fields: Vec<Value> = ids
                .iter()
                .map(|id| json!({"id": id, "label": id}))
                .collect();
            let strings = |entries: std::collections::BTreeMap<String, String>, prefix: &str| {
                let pairs = entries.into_iter();
                pairs
                    .map(|(k, v)| (format!("{prefix}{k}"), Value::String(v)))
                    .collect::<Map<_, _>>()
            };
            let injectors = json!({
                "env": strings(env, ""),
                "file": strings(file, "template."),
                "extra_vars": strings(extra, ""),
            });
            (json!({"fields": fields}), injectors)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn arbitrary_json_never_panics(inputs in json_value(), injectors in json_value()) {
            let normalized = normalize_custom_inputs(&inputs);
            let _ = validate_injectors(&injectors, &inputs);
            prop_assert!(inputs_equivalent(&inputs, &inputs));
            if let Ok(normalized) = normalized {
                // normalising is idempotent and only adds default types
                prop_assert_eq!(normalize_custom_inputs(&normalized), Ok(normalized.clone()));
                prop_assert!(inputs_equivalent(&inputs, &normalized));
                let _ = validate_injectors(&injectors, &normalized);
            }
        }

        #[test]
        fn arbitrary_templates_never_panic((inputs, injectors) in custom_type()) {
            let _ = validate_injectors(&injectors, &inputs);
        }
    }
}
