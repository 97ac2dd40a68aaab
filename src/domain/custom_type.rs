//! Validation of user-defined (custom) credential types: the `inputs` definition and the
//! `injectors` templates, reporting AWX's exact messages (api.md §4.8).
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
//! Invariant: nothing here panics on any JSON input; every function is pure.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, ObjectRepr, Rest, Value as JValue};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

use super::python::{py_repr, py_str, py_str_repr, py_type_name};

const DEPENDENCIES_MSG: &str = "'dependencies' is not supported for custom credentials.";
const ASK_AT_RUNTIME_MSG: &str = "'ask_at_runtime' is not supported for custom credentials.";
const MULTI_FILE_MSG: &str = "Must use multi-file syntax when injecting multiple files";
const TOWER_MSG: &str = "Cannot directly reference reserved `tower` namespace container.";
const FILENAME_MSG: &str =
    "Must define unnamed file injector in order to reference `tower.filename`.";

/// Regexes as AWX spells them; they only appear inside messages (matching is hand-written).
const IDENT_PATTERN: &str = "^[a-zA-Z_]+[a-zA-Z0-9_]*$";
const FILE_PATTERN: &str = r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$";
const EXTRA_VARS_PATTERN: &str = r"^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$";
const ENV_VALUE_PATTERN: &str = "^[\u{0}-\u{7f}]*$";

/// Keys of a `fields[]` item, in the order of AWX's schema `properties` (= error order).
const FIELD_KEYS: [&str; 10] = [
    "type",
    "format",
    "choices",
    "id",
    "label",
    "help_text",
    "multiline",
    "secret",
    "ask_at_runtime",
    "default",
];

/// Environment variables AWX reserves for itself (`awx.main.constants.ENV_BLOCKLIST`).
const ENV_BLOCKLIST: &str = "\
    VIRTUAL_ENV PATH PYTHONPATH JOB_ID INVENTORY_ID INVENTORY_SOURCE_ID \
    INVENTORY_UPDATE_ID AD_HOC_COMMAND_ID REST_API_URL REST_API_TOKEN MAX_EVENT_RES \
    CALLBACK_QUEUE CALLBACK_CONNECTION CACHE JOB_CALLBACK_DEBUG INVENTORY_HOSTVARS \
    AWX_HOST PROJECT_REVISION SUPERVISOR_CONFIG_PATH";

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

/// Compares two inputs definitions after default-filling (`type: string`), the way AWX decides
/// whether an in-use type's `inputs` changed.
///
/// Why: AWX compares the stored (normalised) value with the submitted one *after* validation
/// added the default `type`, using Python dict equality, so key order never matters and
/// resending a definition without `type` keys is not a change.
pub fn inputs_equivalent(a: &Value, b: &Value) -> bool {
    json_eq(&with_default_types(a), &with_default_types(b))
}

// ----------------------------------------------------------------------------------------
// inputs

/// AWX's `CredentialTypeInputField.validate` (without the serializer's `ask_at_runtime` rule).
fn check_inputs(inputs: &Value) -> Result<Value, Vec<String>> {
    if inputs.get("dependencies").is_some() {
        return Err(vec![DEPENDENCIES_MSG.to_string()]);
    }
    let errors = inputs_schema_errors(inputs);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut normalized = inputs.clone();
    if let Some(Value::Array(fields)) = normalized.get_mut("fields") {
        field_rules(fields).map_err(|message| vec![message])?;
    }
    Ok(normalized)
}

fn fields_of(inputs: &Value) -> &[Value] {
    match inputs.get("fields") {
        Some(Value::Array(fields)) => fields,
        _ => &[],
    }
}

/// Schema errors in jsonschema's order: top-level `type`, `additionalProperties`, then the
/// `required` and `fields` properties.
fn inputs_schema_errors(inputs: &Value) -> Vec<String> {
    let Value::Object(top) = inputs else {
        return vec![type_error(inputs, &[], "dict")];
    };
    let mut errors = Vec::new();
    let extras: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "required" && *k != "fields")
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(&[], extras, None));
    }
    if let Some(required) = top.get("required") {
        let path = [py_str_repr("required")];
        match required {
            Value::Array(items) => string_items_errors(items, &path, &mut errors),
            other => errors.push(type_error(other, &path, "array")),
        }
    }
    if let Some(fields) = top.get("fields") {
        let path = [py_str_repr("fields")];
        match fields {
            Value::Array(items) => {
                for (i, field) in items.iter().enumerate() {
                    field_schema_errors(field, &child(&path, i.to_string()), &mut errors);
                }
            }
            other => errors.push(type_error(other, &path, "array")),
        }
    }
    errors
}

fn field_schema_errors(field: &Value, path: &[String], errors: &mut Vec<String>) {
    let Value::Object(obj) = field else {
        errors.push(type_error(field, path, "dict"));
        return;
    };
    for key in FIELD_KEYS {
        let Some(value) = obj.get(key) else { continue };
        let here = child(path, py_str_repr(key));
        match key {
            "type" => errors.extend(enum_error(value, &["string", "boolean"])),
            "format" => errors.extend(enum_error(value, &["ssh_private_key", "url"])),
            "choices" => choices_errors(value, &here, errors),
            "id" => match value {
                Value::String(id) if !is_identifier(strip_final_newline(id)) => {
                    errors.push(format!("{id} is an invalid variable name"));
                }
                Value::String(_) => {}
                other => errors.push(type_error(other, &here, "string")),
            },
            "label" | "help_text" if !value.is_string() => {
                errors.push(type_error(value, &here, "string"));
            }
            "multiline" | "secret" | "ask_at_runtime" if !value.is_boolean() => {
                errors.push(type_error(value, &here, "boolean"));
            }
            _ => {}
        }
    }
    let extras: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !FIELD_KEYS.contains(k))
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(path, extras, None));
    }
    for key in ["id", "label"] {
        if !obj.contains_key(key) {
            errors.push(format!("{} is a required property", py_str_repr(key)));
        }
    }
}

/// `choices`: `type: array`, `minItems: 1`, `items: string`, `uniqueItems`, in that order.
fn choices_errors(value: &Value, path: &[String], errors: &mut Vec<String>) {
    let Value::Array(items) = value else {
        errors.push(type_error(value, path, "array"));
        return;
    };
    if items.is_empty() {
        errors.push(format!("{} should be non-empty", py_repr(value)));
    }
    string_items_errors(items, path, errors);
    let duplicated = items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| json_eq(a, b)));
    if duplicated {
        errors.push(format!("{} has non-unique elements", py_repr(value)));
    }
}

fn string_items_errors(items: &[Value], path: &[String], errors: &mut Vec<String>) {
    for (i, item) in items.iter().enumerate() {
        if !item.is_string() {
            errors.push(type_error(item, &child(path, i.to_string()), "string"));
        }
    }
}

/// AWX replaces jsonschema's `enum` message with `'<str(v)>' is not one of ['a', 'b']`.
fn enum_error(value: &Value, allowed: &[&str]) -> Option<String> {
    match value {
        Value::String(s) if allowed.contains(&s.as_str()) => None,
        other => Some(format!(
            "'{}' is not one of ['{}']",
            py_str(other),
            allowed.join("', '")
        )),
    }
}

/// The hand-written rules run once the schema passed; the first failure is the only message.
/// Also fills in the default `type`, which is what AWX stores.
fn field_rules(fields: &mut [Value]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for field in fields.iter_mut() {
        let Value::Object(obj) = field else { continue };
        let id = obj.get("id").map(py_str).unwrap_or_default();
        if id == "tower" {
            return Err("\"tower\" is a reserved field name".to_string());
        }
        if !seen.insert(id.clone()) {
            return Err(format!("field IDs must be unique ({id})"));
        }
        if !obj.contains_key("type") {
            obj.insert("type".to_string(), Value::String("string".to_string()));
        }
        let ty = obj.get("type").map(py_str).unwrap_or_default();
        if let Some(default) = obj.get("default") {
            let matches = match ty.as_str() {
                "boolean" => default.is_boolean(),
                _ => default.is_string(),
            };
            if !matches {
                return Err(format!("{} is not a {ty}", py_str(default)));
            }
        }
        for key in ["choices", "multiline", "format", "secret"] {
            if obj.contains_key(key) && ty != "string" {
                return Err(format!("{key} not allowed for {ty} type ({id})"));
            }
        }
    }
    Ok(())
}

fn with_default_types(inputs: &Value) -> Value {
    let mut out = inputs.clone();
    if let Some(Value::Array(fields)) = out.get_mut("fields") {
        for field in fields.iter_mut() {
            if let Value::Object(obj) = field {
                if !obj.contains_key("type") {
                    obj.insert("type".to_string(), Value::String("string".to_string()));
                }
            }
        }
    }
    out
}

/// Python equality of decoded JSON: dicts ignore key order, `1 == 1.0`.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64() && x.as_u64() == y.as_u64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|other| json_eq(v, other)))
        }
        _ => a == b,
    }
}

// ----------------------------------------------------------------------------------------
// injectors: schema

/// Schema errors in jsonschema's order: `type`, the `file`/`env`/`extra_vars` properties,
/// then the top-level `additionalProperties`.
fn injector_schema_errors(injectors: &Value) -> Vec<String> {
    let Value::Object(top) = injectors else {
        return vec![type_error(injectors, &[], "dict")];
    };
    let mut errors = Vec::new();
    if let Some(file) = top.get("file") {
        let key_ok = |k: &str| is_file_key(strip_final_newline(k));
        keyed_object_errors(
            file,
            "file",
            key_ok,
            FILE_PATTERN,
            file_value_errors,
            &mut errors,
        );
    }
    if let Some(env) = top.get("env") {
        let key_ok = |k: &str| is_identifier(strip_final_newline(k));
        keyed_object_errors(
            env,
            "env",
            key_ok,
            IDENT_PATTERN,
            env_value_errors,
            &mut errors,
        );
    }
    if let Some(extra_vars) = top.get("extra_vars") {
        keyed_object_errors(
            extra_vars,
            "extra_vars",
            is_extra_vars_key,
            EXTRA_VARS_PATTERN,
            extra_vars_value_errors,
            &mut errors,
        );
    }
    let extras: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "file" | "env" | "extra_vars"))
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(&[], extras, None));
    }
    errors
}

/// An object with one `patternProperties` entry and `additionalProperties: false`.
fn keyed_object_errors(
    value: &Value,
    name: &str,
    key_ok: impl Fn(&str) -> bool,
    pattern: &str,
    value_errors: fn(&Value, &[String], &mut Vec<String>),
    errors: &mut Vec<String>,
) {
    let path = [py_str_repr(name)];
    let Value::Object(obj) = value else {
        errors.push(type_error(value, &path, "dict"));
        return;
    };
    for (key, item) in obj {
        if key_ok(key) {
            value_errors(item, &child(&path, py_str_repr(key)), errors);
        }
    }
    let extras: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !key_ok(k))
        .collect();
    if !extras.is_empty() {
        errors.push(additional_properties_error(&path, extras, Some(pattern)));
    }
}

fn file_value_errors(value: &Value, path: &[String], errors: &mut Vec<String>) {
    if !value.is_string() {
        errors.push(type_error(value, path, "string"));
    }
}

/// Values must be ASCII because pexpect chokes on anything else (AWX's comment).
fn env_value_errors(value: &Value, path: &[String], errors: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.is_ascii() => errors.push(format!(
            "{} does not match {}",
            py_str_repr(s),
            py_str_repr(ENV_VALUE_PATTERN)
        )),
        Value::String(_) => {}
        other => errors.push(type_error(other, path, "string")),
    }
}

/// `anyOf: [string, array, <extra_vars schema>]`: only the `anyOf` summary is reported.
fn extra_vars_value_errors(value: &Value, _path: &[String], errors: &mut Vec<String>) {
    if !extra_vars_value_ok(value) {
        errors.push(format!(
            "{} is not valid under any of the given schemas",
            py_repr(value)
        ));
    }
}

fn extra_vars_value_ok(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Array(_) => true,
        Value::Object(obj) => obj
            .iter()
            .all(|(k, v)| is_extra_vars_key(k) && extra_vars_value_ok(v)),
        _ => false,
    }
}

// ----------------------------------------------------------------------------------------
// injectors: names and templates

/// AWX's checks after the schema: file syntax, forbidden env names, then every template in
/// the order of the submitted object. The first failure is the only message.
fn injector_rules(injectors: &Map<String, Value>, inputs: &Value) -> Result<(), String> {
    let names = NamespaceModel::new(inputs, injectors.get("file"))?;
    let env = jinja_like_environment();
    let check = |kind: &str, key: &str, source: &str| -> Result<(), String> {
        check_template(&env, &names, source).map_err(|issue| issue.message(kind, key))
    };
    for (kind, injector) in injectors {
        let Value::Object(entries) = injector else {
            continue;
        };
        if kind == "env" {
            entries.keys().try_for_each(|key| env_var_allowed(key))?;
        }
        if kind == "extra_vars" {
            walk_extra_vars(None, injector, &check)?;
        } else {
            for (key, template) in entries {
                if let Value::String(source) = template {
                    check(kind, key, source)?;
                }
            }
        }
    }
    Ok(())
}

fn env_var_allowed(name: &str) -> Result<(), String> {
    if name.starts_with("ANSIBLE_") {
        return Err(format!(
            "Environment variable {name} may affect Ansible configuration so its use is not allowed in credentials."
        ));
    }
    if listed(ENV_BLOCKLIST, name) {
        return Err(format!(
            "Environment variable {name} is not allowed to be used in credentials."
        ));
    }
    Ok(())
}

/// Keys and values are templates; keys are reported by their parent's path (`a key` at the
/// top), values by their own dotted/indexed path, exactly like AWX.
fn walk_extra_vars(
    key: Option<&str>,
    node: &Value,
    check: &dyn Fn(&str, &str, &str) -> Result<(), String>,
) -> Result<(), String> {
    match node {
        Value::Object(obj) => {
            for (k, v) in obj {
                check("extra_vars", key.unwrap_or("a key"), k)?;
                let path = match key {
                    None => k.clone(),
                    Some(parent) => format!("{parent}.{k}"),
                };
                walk_extra_vars(Some(&path), v, check)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{}[{i}]", key.unwrap_or("None"));
                walk_extra_vars(Some(&path), item, check)?;
            }
            Ok(())
        }
        Value::String(source) => check("extra_vars", key.unwrap_or("None"), source),
        // str() of a number, boolean or None never contains template syntax.
        _ => Ok(()),
    }
}

/// What rendering one template against AWX's validation namespace found wrong.
#[derive(Debug, Clone, PartialEq)]
enum TemplateIssue {
    /// Jinja2 `UndefinedError` text.
    Undefined(String),
    /// Jinja2 `SecurityError` text (sandbox).
    Unsafe(String),
    /// Jinja2 `TemplateSyntaxError` text.
    Syntax(String),
}

impl TemplateIssue {
    fn message(&self, kind: &str, key: &str) -> String {
        match self {
            TemplateIssue::Undefined(m) => format!("{key} uses an undefined field ({m})"),
            TemplateIssue::Unsafe(m) => format!("Encountered unsafe code execution: {m}"),
            TemplateIssue::Syntax(m) => {
                format!("Syntax error rendering template for {key} inside of {kind} ({m})")
            }
        }
    }
}

/// What `tower.filename` is during validation.
#[derive(Debug, Clone)]
enum Filename {
    /// An unnamed `template` file exists: a plain path string.
    Single,
    /// Only named files (possibly none): a namespace of those names that explodes when printed.
    Named(BTreeSet<String>),
}

/// The names AWX's validation namespace defines: every input id (value `EXAMPLE`) and `tower`.
#[derive(Debug)]
struct NamespaceModel {
    ids: BTreeSet<String>,
    filename: Filename,
}

impl NamespaceModel {
    fn new(inputs: &Value, file: Option<&Value>) -> Result<Self, String> {
        let ids = fields_of(inputs)
            .iter()
            .filter_map(|f| f.get("id").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        let templates: Vec<&str> = match file {
            Some(Value::Object(obj)) => obj
                .keys()
                .map(String::as_str)
                .filter(|k| k.starts_with("template"))
                .collect(),
            _ => Vec::new(),
        };
        let filename = if templates.contains(&"template") {
            if templates.len() > 1 {
                return Err(MULTI_FILE_MSG.to_string());
            }
            Filename::Single
        } else {
            let names = templates.iter().filter_map(|t| t.split('.').nth(1));
            Filename::Named(names.map(str::to_string).collect())
        };
        Ok(NamespaceModel { ids, filename })
    }

    /// The render context: fresh objects sharing `log`.
    fn root(&self, log: &Log) -> JValue {
        let filename = match &self.filename {
            Filename::Single => JValue::from(EXAMPLE_FILENAME),
            Filename::Named(names) => JValue::from_object(FilenameNamespace {
                names: names.clone(),
                log: log.clone(),
            }),
        };
        let tower = JValue::from_object(TowerNamespace {
            filename,
            log: log.clone(),
        });
        JValue::from_object(RootNamespace {
            ids: self.ids.clone(),
            tower,
            log: log.clone(),
        })
    }
}

const EXAMPLE: &str = "EXAMPLE";
const EXAMPLE_FILENAME: &str = "EXAMPLE_FILENAME";
/// Bounds the lookup log of pathological templates (loops); the culprit is found early anyway.
const MAX_EVENTS: usize = 4096;

/// Lookups that Jinja2 would have failed on, in evaluation order.
#[derive(Debug, Clone)]
enum Event {
    /// A top-level name that is not in the namespace (may still be a global).
    MissingRoot(String),
    /// An attribute missing on one of the `tower` objects.
    MissingAttr { attr: String, issue: TemplateIssue },
    /// A `tower` object was turned into a string: Jinja2 raises this message there.
    Exploded(&'static str),
}

type Log = Arc<Mutex<Vec<Event>>>;

fn record(log: &Log, event: Event) {
    if let Ok(mut events) = log.lock() {
        if events.len() < MAX_EVENTS {
            events.push(event);
        }
    }
}

#[derive(Debug)]
struct RootNamespace {
    ids: BTreeSet<String>,
    tower: JValue,
    log: Log,
}

impl Object for RootNamespace {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        if name == "tower" {
            return Some(self.tower.clone());
        }
        if self.ids.contains(name) {
            return Some(JValue::from(EXAMPLE));
        }
        record(&self.log, Event::MissingRoot(name.to_string()));
        None
    }
}

#[derive(Debug)]
struct TowerNamespace {
    filename: JValue,
    log: Log,
}

impl Object for TowerNamespace {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        if key.as_str() == Some("filename") {
            return Some(self.filename.clone());
        }
        record_missing_attr(&self.log, PyObject::Tower, key);
        None
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        record(&self.log, Event::Exploded(TOWER_MSG));
        Ok(())
    }
}

#[derive(Debug)]
struct FilenameNamespace {
    names: BTreeSet<String>,
    log: Log,
}

impl Object for FilenameNamespace {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        if key.as_str().is_some_and(|k| self.names.contains(k)) {
            return Some(JValue::from(EXAMPLE_FILENAME));
        }
        record_missing_attr(&self.log, PyObject::Filename, key);
        None
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        record(&self.log, Event::Exploded(FILENAME_MSG));
        Ok(())
    }
}

fn record_missing_attr(log: &Log, object: PyObject, key: &JValue) {
    let (attr, issue) = match key.as_str() {
        Some(attr) => (attr.to_string(), object.attribute(attr)),
        None => (
            key.to_string(),
            Some(TemplateIssue::Undefined(format!(
                "{} has no element {key}",
                object.type_repr()
            ))),
        ),
    };
    if let Some(issue) = issue {
        record(log, Event::MissingAttr { attr, issue });
    }
}

/// The Python objects of AWX's namespace, for attribute-error wording.
#[derive(Debug, Clone, Copy)]
enum PyObject {
    Str,
    Tower,
    Filename,
}

/// Attributes every Python object has (`dir(object())`); reaching one is a sandbox violation.
const OBJECT_DUNDERS: &str = "\
    __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__ \
    __getattribute__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ \
    __lt__ __module__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__ __setattr__ \
    __sizeof__ __str__ __subclasshook__ __weakref__";

const STR_DUNDERS: &str = "\
    __add__ __contains__ __getitem__ __getnewargs__ __iter__ __len__ __mod__ __mul__ \
    __rmul__";

/// Public methods of Python's `str`: Jinja2 resolves them, so they are not undefined.
const STR_METHODS: &str = "\
    capitalize casefold center count encode endswith expandtabs find format format_map \
    index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric \
    isprintable isspace istitle isupper join ljust lower lstrip maketrans partition \
    removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip split \
    splitlines startswith strip swapcase title translate upper zfill";

impl PyObject {
    /// Jinja2's `object_type_repr` of the object.
    fn type_repr(self) -> &'static str {
        match self {
            PyObject::Str => "str object",
            PyObject::Tower => "awx.main.fields.TowerNamespace object",
            PyObject::Filename => "awx.main.fields.ExplodingNamespace object",
        }
    }

    fn class_name(self) -> &'static str {
        match self {
            PyObject::Str => "str",
            PyObject::Tower => "TowerNamespace",
            PyObject::Filename => "ExplodingNamespace",
        }
    }

    /// What the sandbox does with `obj.<attr>` for an attribute our model does not define:
    /// `None` when Python has it anyway (a `str` method), else the error Jinja2 raises.
    fn attribute(self, attr: &str) -> Option<TemplateIssue> {
        let exists = listed(OBJECT_DUNDERS, attr)
            || matches!(self, PyObject::Str)
                && (listed(STR_DUNDERS, attr) || listed(STR_METHODS, attr));
        if exists && attr.starts_with('_') {
            return Some(TemplateIssue::Unsafe(format!(
                "access to attribute {} of {} object is unsafe.",
                py_str_repr(attr),
                py_str_repr(self.class_name())
            )));
        }
        if exists {
            return None;
        }
        Some(TemplateIssue::Undefined(format!(
            "{} has no attribute {}",
            py_str_repr(self.type_repr()),
            py_str_repr(attr)
        )))
    }
}

/// Filters minijinja has and Jinja2 lacks (Jinja2 rejects them at compile time).
const MINIJINJA_ONLY_FILTERS: &str = "bool chain lines split zip";
/// Filters Jinja2 has and this minijinja build lacks (stubbed so they are accepted;
/// `tojson`/`urlencode` only exist behind minijinja features this crate does not enable).
const JINJA_ONLY_FILTERS: &str = "\
    center filesizeformat forceescape random striptags tojson truncate urlencode urlize \
    wordcount wordwrap xmlattr";
const MINIJINJA_ONLY_TESTS: &str = "endingwith int safe startingwith";
/// Jinja2's default globals; `debug` is minijinja's own and is removed.
const JINJA_GLOBALS: &str = "cycler dict joiner lipsum namespace range";

fn passthrough(value: JValue, _args: Rest<JValue>) -> JValue {
    value
}

fn never(_value: JValue, _args: Rest<JValue>) -> bool {
    false
}

fn empty(_args: Rest<JValue>) -> JValue {
    JValue::from("")
}

/// Instructions a template may execute while being checked.
const TEMPLATE_FUEL: u64 = 100_000;

/// Bytes one template may render: far more than any env value, extra var or file an
/// injector writes, far less than what a hostile loop of large strings would build.
const TEMPLATE_OUTPUT_LIMIT: usize = 1 << 20;

/// A writer that refuses output past [`TEMPLATE_OUTPUT_LIMIT`], which stops rendering.
#[derive(Default)]
struct BoundedOutput {
    written: usize,
}

impl std::io::Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > TEMPLATE_OUTPUT_LIMIT {
            return Err(std::io::Error::other("template output limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// minijinja shaped like `ImmutableSandboxedEnvironment(undefined=StrictUndefined)`: the same
/// filter, test and global names, strict undefined, no debug snapshots.
#[allow(deprecated)] // `new` only warns that the `serde` feature is off; we pass minijinja values
fn jinja_like_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(false);
    // Bounds the work a client-supplied template can cause while it is checked.
    env.set_fuel(Some(TEMPLATE_FUEL));
    for name in MINIJINJA_ONLY_FILTERS.split_whitespace() {
        env.remove_filter(name);
    }
    for name in JINJA_ONLY_FILTERS.split_whitespace() {
        env.add_filter(name, passthrough);
    }
    for name in MINIJINJA_ONLY_TESTS.split_whitespace() {
        env.remove_test(name);
    }
    env.add_test("callable", never);
    env.remove_global("debug");
    for name in ["cycler", "joiner", "lipsum"] {
        env.add_function(name, empty);
    }
    env
}

/// Renders `source` like AWX does and reports the first problem Jinja2 would raise.
fn check_template(
    env: &Environment<'_>,
    names: &NamespaceModel,
    source: &str,
) -> Result<(), TemplateIssue> {
    let template = env
        .template_from_str(source)
        .map_err(|e| TemplateIssue::Syntax(syntax_message(&e)))?;
    let log = Log::default();
    let result = template
        .render_captured_to(names.root(&log), BoundedOutput::default())
        .map(drop);
    let events = log.lock().map(|e| e.clone()).unwrap_or_default();
    let exploded = events.iter().find_map(|e| match e {
        Event::Exploded(message) => Some(*message),
        _ => None,
    });
    if let Some(message) = exploded {
        return Err(TemplateIssue::Undefined(message.to_string()));
    }
    let Err(error) = result else { return Ok(()) };
    match error.kind() {
        ErrorKind::SyntaxError => Err(TemplateIssue::Syntax(syntax_message(&error))),
        ErrorKind::OutOfFuel => Err(TemplateIssue::Syntax(
            "template exceeds the evaluation budget".to_string(),
        )),
        ErrorKind::WriteFailure => Err(TemplateIssue::Syntax(format!(
            "template output exceeds {TEMPLATE_OUTPUT_LIMIT} bytes"
        ))),
        // minijinja refuses a repeated string past 100 MB, after the fact of a request
        // for it: the template is refused as one that asks for too much.
        ErrorKind::InvalidOperation if error.to_string().contains("too large") => Err(
            TemplateIssue::Syntax("template builds a string that is too large".to_string()),
        ),
        ErrorKind::UnknownFilter => Err(unknown_callable(&error, "filter")),
        ErrorKind::UnknownTest => Err(unknown_callable(&error, "test")),
        ErrorKind::UndefinedError
        | ErrorKind::UnknownFunction
        | ErrorKind::UnknownMethod
        | ErrorKind::InvalidOperation => {
            let span = error.range().and_then(|r| source.get(r)).unwrap_or("");
            let chains = ordered_chains(source, &template.undeclared_variables(true));
            match find_culprit(span, &events, &chains, names) {
                Culprit::Issue(issue) => Err(issue),
                Culprit::PythonOnly => Ok(()),
                Culprit::Unknown if error.kind() == ErrorKind::UndefinedError => Err(
                    TemplateIssue::Undefined(error.detail().unwrap_or("undefined value").into()),
                ),
                // Failures Jinja2 does not share (its str methods, other runtime errors that
                // AWX does not turn into validation messages).
                Culprit::Unknown => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Jinja2's wording for the syntax errors we can recognise; minijinja's own text otherwise.
fn syntax_message(error: &minijinja::Error) -> String {
    let detail = error.detail().map(str::to_string);
    let detail = detail.unwrap_or_else(|| error.kind().to_string());
    const END_OF_PRINT: &str = "expected end of variable block";
    if detail == format!("unexpected end of input, {END_OF_PRINT}") {
        return "unexpected end of template, expected 'end of print statement'.".to_string();
    }
    if detail == "unexpected end of variable block" {
        return "Expected an expression, got 'end of print statement'".to_string();
    }
    let token = detail
        .strip_prefix("unexpected `")
        .and_then(|rest| rest.strip_suffix(&format!("`, {END_OF_PRINT}")));
    match token {
        Some(token) => format!("expected token 'end of print statement', got '{token}'"),
        None => detail,
    }
}

/// Jinja2 checks filter and test names at compile time: `No filter named 'x'.`
fn unknown_callable(error: &minijinja::Error, what: &str) -> TemplateIssue {
    let detail = error.detail().unwrap_or_default();
    let name = detail
        .strip_prefix(&format!("{what} "))
        .and_then(|rest| rest.strip_suffix(" is unknown"));
    match name {
        Some(name) => TemplateIssue::Syntax(format!("No {what} named {}.", py_str_repr(name))),
        None => TemplateIssue::Syntax(detail.to_string()),
    }
}

enum Culprit {
    Issue(TemplateIssue),
    /// The failure comes from something Jinja2 resolves (a Python `str` method).
    PythonOnly,
    Unknown,
}

/// Which lookup made minijinja fail: logged lookups named in the failing expression first, then
/// the template's attribute chains named there, then anything logged at all.
fn find_culprit(
    span: &str,
    events: &[Event],
    chains: &[String],
    names: &NamespaceModel,
) -> Culprit {
    let in_span = |event: &&Event| match event {
        Event::MissingRoot(name) => contains_word(span, name),
        Event::MissingAttr { attr, .. } => contains_word(span, attr),
        Event::Exploded(_) => false,
    };
    if let Some(issue) = events.iter().filter(in_span).find_map(event_issue) {
        return Culprit::Issue(issue);
    }
    let named_in_span = chains
        .iter()
        .filter(|chain| chain.split('.').any(|part| contains_word(span, part)));
    for chain in named_in_span {
        match resolve_chain(chain, names) {
            Culprit::Unknown => continue,
            found => return found,
        }
    }
    match events.iter().find_map(event_issue) {
        Some(issue) => Culprit::Issue(issue),
        None => Culprit::Unknown,
    }
}

fn event_issue(event: &Event) -> Option<TemplateIssue> {
    match event {
        Event::MissingRoot(name) if !listed(JINJA_GLOBALS, name) => Some(TemplateIssue::Undefined(
            format!("{} is undefined", py_str_repr(name)),
        )),
        Event::MissingAttr { issue, .. } => Some(issue.clone()),
        _ => None,
    }
}

/// Follows `a.b.c` through AWX's namespace; `Unknown` when every step resolves.
fn resolve_chain(chain: &str, names: &NamespaceModel) -> Culprit {
    let mut parts = chain.split('.');
    let root = parts.next().unwrap_or_default();
    let mut current = if root == "tower" {
        PyObject::Tower
    } else if names.ids.contains(root) {
        PyObject::Str
    } else {
        return Culprit::Unknown;
    };
    for attr in parts {
        let next = match (current, &names.filename) {
            (PyObject::Tower, Filename::Single) if attr == "filename" => PyObject::Str,
            (PyObject::Tower, Filename::Named(_)) if attr == "filename" => PyObject::Filename,
            (PyObject::Filename, Filename::Named(files)) if files.contains(attr) => PyObject::Str,
            _ => {
                return match current.attribute(attr) {
                    Some(issue) => Culprit::Issue(issue),
                    None => Culprit::PythonOnly,
                }
            }
        };
        current = next;
    }
    Culprit::Unknown
}

/// Undeclared nested names (`a.b.c`) ordered by where they first appear in the source.
fn ordered_chains(source: &str, chains: &std::collections::HashSet<String>) -> Vec<String> {
    let mut found: Vec<(usize, String)> = chains
        .iter()
        .map(|c| (source.find(c.as_str()).unwrap_or(usize::MAX), c.clone()))
        .collect();
    found.sort();
    found.into_iter().map(|(_, chain)| chain).collect()
}

/// `word` occurs in `haystack` not as part of a longer identifier.
fn contains_word(haystack: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack.get(..at).and_then(|s| s.chars().next_back());
        let after = haystack
            .get(at + word.len()..)
            .and_then(|s| s.chars().next());
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

// ----------------------------------------------------------------------------------------
// patterns (Python `re.search` semantics: `$` also matches before one final newline)

/// `word` is one of the whitespace-separated words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

fn strip_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

fn word_matches(s: &str, first: impl Fn(char) -> bool, rest: impl Fn(char) -> bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(first) && chars.all(rest)
}

/// `^[a-zA-Z_]+[a-zA-Z0-9_]*$` on an already newline-stripped string.
fn is_identifier(s: &str) -> bool {
    word_matches(
        s,
        |c| c.is_ascii_alphabetic() || c == '_',
        |c| c.is_ascii_alphanumeric() || c == '_',
    )
}

fn is_file_key(s: &str) -> bool {
    s == "template" || s.strip_prefix("template.").is_some_and(is_identifier)
}

fn is_extra_vars_key(s: &str) -> bool {
    word_matches(
        strip_final_newline(s),
        |c| c.is_ascii_alphabetic() || matches!(c, '_' | '{' | '}'),
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '{' | '}'),
    )
}

// ----------------------------------------------------------------------------------------
// Python renderings used inside AWX's messages

fn child(path: &[String], segment: String) -> Vec<String> {
    let mut out = path.to_vec();
    out.push(segment);
    out
}

/// `list(error.path)` as Python prints it; segments are already `repr`-ed.
fn py_path(path: &[String]) -> String {
    format!("[{}]", path.join(", "))
}

/// AWX's rewrite of jsonschema's `type` errors.
fn type_error(value: &Value, path: &[String], expected: &str) -> String {
    let found = py_type_name(value);
    if path.is_empty() {
        format!("{found} provided, expected {expected}")
    } else {
        let path = py_path(path);
        format!("{found} provided in relative path {path}, expected {expected}")
    }
}

/// jsonschema's `additionalProperties` message (sorted extras), wrapped by AWX with the path.
fn additional_properties_error(
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// `inputs` of the recorded custom type (seq 33, 57, 207).
    fn dx_inputs() -> Value {
        json!({"fields": [
            {"id": "api_token", "label": "API Token", "type": "string", "secret": true},
            {"id": "endpoint", "label": "Endpoint", "type": "string", "help_text": "Base URL"},
            {"id": "insecure", "label": "Skip TLS verification", "type": "boolean"}
        ], "required": ["api_token"]})
    }

    /// `injectors` of the recorded custom type (seq 33).
    fn dx_injectors() -> Value {
        json!({
            "env": {"DX_API_TOKEN": "{{ api_token }}"},
            "extra_vars": {"dx_endpoint": "{{ endpoint }}"},
            "file": {"template": "token={{ api_token }}"}
        })
    }

    /// The single-token type most recorded failures use.
    fn token_inputs() -> Value {
        json!({"fields": [{"id": "token", "label": "Token", "secret": true}]})
    }

    fn inputs_err(inputs: Value) -> Vec<String> {
        normalize_custom_inputs(&inputs).err().unwrap_or_default()
    }

    /// Injector messages for `injectors` against the normalised `inputs`.
    fn injectors_err(injectors: Value, inputs: Value) -> Vec<String> {
        let inputs = normalize_custom_inputs(&inputs).unwrap_or(inputs);
        validate_injectors(&injectors, &inputs)
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn runaway_templates_are_stopped() {
        let inputs = serde_json::json!({"fields": [{"id": "t", "label": "T", "type": "string"}]});
        let injectors = serde_json::json!({"env": {"X": "{% for i in range(10000) %}{% for j in range(10000) %}{{ t }}{% endfor %}{% endfor %}"}});
        assert!(validate_injectors(&injectors, &inputs).is_err());
    }

    fn env_err(template: &str) -> Vec<String> {
        injectors_err(json!({"env": {"X": template}}), token_inputs())
    }

    /// The reproduction of the hardening review (13 s and 4 GB before the output bound).
    #[test]
    fn templates_that_build_huge_output_are_refused() {
        let huge = env_err(r#"{% for i in range(20) %}{{ "a" * 100000000 }}{% endfor %}"#);
        assert_eq!(huge.len(), 1, "{huge:?}");
        assert!(huge[0].contains("template output exceeds"), "{huge:?}");
        let repeated = env_err(r#"{{ "ab" * 100000000 }}"#);
        assert!(repeated[0].contains("too large"), "{repeated:?}");
        let grown = env_err(&format!(
            "{}{{{{ \"x\" * 600000 }}}}",
            "{{ \"y\" * 600000 }}"
        ));
        assert!(grown[0].contains("template output exceeds"), "{grown:?}");
        assert!(env_err(r#"{{ "a" * 1000 }}"#).is_empty());
    }

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
    fn missing_type_is_appended_after_other_keys() {
        // seq 35 (request) → body of seq 35 (response).
        let stored = normalize_custom_inputs(&token_inputs());
        let expected =
            r#"{"fields":[{"id":"token","label":"Token","secret":true,"type":"string"}]}"#;
        assert_eq!(stored.map(|v| v.to_string()), Ok(expected.to_string()));
        // seq 58
        let inputs = json!({"fields": [
            {"id": "token", "label": "Token", "secret": true}, {"id": "extra", "label": "Extra"}
        ]});
        let expected = json!({"fields": [
            {"id": "token", "label": "Token", "secret": true, "type": "string"},
            {"id": "extra", "label": "Extra", "type": "string"}
        ]});
        assert_eq!(normalize_custom_inputs(&inputs), Ok(expected));
    }

    #[test]
    fn empty_inputs_and_injectors_are_valid() {
        assert_eq!(normalize_custom_inputs(&json!({})), Ok(json!({})));
        assert_eq!(validate_injectors(&json!({}), &json!({})), Ok(()));
    }

    #[test]
    fn env_ansible_prefix_is_rejected() {
        // seq 37
        let got = injectors_err(
            json!({"env": {"ANSIBLE_FOO": "{{ token }}"}}),
            token_inputs(),
        );
        assert_eq!(got, ["Environment variable ANSIBLE_FOO may affect Ansible configuration so its use is not allowed in credentials."]);
    }

    #[test]
    fn env_block_list_is_rejected() {
        // seq 38
        let got = injectors_err(json!({"env": {"PATH": "{{ token }}"}}), token_inputs());
        assert_eq!(
            got,
            ["Environment variable PATH is not allowed to be used in credentials."]
        );
        let got = injectors_err(json!({"env": {"AWX_HOST": "x"}}), token_inputs());
        assert_eq!(
            got,
            ["Environment variable AWX_HOST is not allowed to be used in credentials."]
        );
    }

    #[test]
    fn env_names_are_checked_before_env_templates() {
        let injectors = json!({"env": {"A": "{{ nope }}", "JOB_ID": "1"}});
        let got = injectors_err(injectors, token_inputs());
        assert_eq!(
            got,
            ["Environment variable JOB_ID is not allowed to be used in credentials."]
        );
    }

    #[test]
    fn env_name_pattern_is_enforced() {
        // seq 39
        let got = injectors_err(json!({"env": {"1BAD": "{{ token }}"}}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path ['env'] ('1BAD' does not match any of the regexes: '^[a-zA-Z_]+[a-zA-Z0-9_]*$')"]);
        let got = injectors_err(json!({"env": {"B=": "x", "1A": "y"}}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path ['env'] ('1A', 'B=' do not match any of the regexes: '^[a-zA-Z_]+[a-zA-Z0-9_]*$')"]);
    }

    #[test]
    fn env_values_must_be_ascii_strings() {
        let got = injectors_err(json!({"env": {"DRAGON": "🐉"}}), token_inputs());
        assert_eq!(got, [r"'🐉' does not match '^[\x00-\x7f]*$'"]);
        let got = injectors_err(
            json!({"env": {"ENV_VAR": 123}, "mal": "formed"}),
            token_inputs(),
        );
        assert_eq!(
            got,
            [
                "int provided in relative path ['env', 'ENV_VAR'], expected string",
                "Schema validation error in relative path [] (Additional properties are not allowed ('mal' was unexpected))"
            ]
        );
    }

    #[test]
    fn template_syntax_error_uses_jinja_wording() {
        // seq 40
        assert_eq!(env_err("{{ token "), ["Syntax error rendering template for X inside of env (unexpected end of template, expected 'end of print statement'.)"]);
        let got = injectors_err(json!({"env": {"DX": "{{ token "}}), token_inputs());
        assert_eq!(got, ["Syntax error rendering template for DX inside of env (unexpected end of template, expected 'end of print statement'.)"]);
        assert_eq!(env_err("{{ }}"), ["Syntax error rendering template for X inside of env (Expected an expression, got 'end of print statement')"]);
        assert_eq!(env_err("{{ token }"), ["Syntax error rendering template for X inside of env (expected token 'end of print statement', got '}')"]);
        let got = injectors_err(json!({"file": {"template": "{{ token"}}), token_inputs());
        assert_eq!(got, ["Syntax error rendering template for template inside of file (unexpected end of template, expected 'end of print statement'.)"]);
    }

    #[test]
    fn unknown_filters_and_tests_are_syntax_errors() {
        assert_eq!(
            env_err("{{ token | nofilter }}"),
            ["Syntax error rendering template for X inside of env (No filter named 'nofilter'.)"]
        );
        // `bool` is a minijinja filter but not a Jinja2 one.
        assert_eq!(
            env_err("{{ token | bool }}"),
            ["Syntax error rendering template for X inside of env (No filter named 'bool'.)"]
        );
        assert_eq!(
            env_err("{{ token is nada }}"),
            ["Syntax error rendering template for X inside of env (No test named 'nada'.)"]
        );
        // Jinja2-only filters, tests and globals are accepted.
        assert!(env_err("{{ token | wordwrap(3) | truncate(length=2) }}").is_empty());
        assert!(env_err("{{ token is callable }}{{ lipsum() }}{{ range(2) }}").is_empty());
    }

    #[test]
    fn undefined_variable_names_the_variable() {
        // seq 41
        let got = injectors_err(json!({"env": {"DX": "{{ nope }}"}}), token_inputs());
        assert_eq!(got, ["DX uses an undefined field ('nope' is undefined)"]);
        assert_eq!(
            env_err("{{ token ~ nope }}"),
            ["X uses an undefined field ('nope' is undefined)"]
        );
        assert_eq!(
            env_err("{{ a }}{{ b }}"),
            ["X uses an undefined field ('a' is undefined)"]
        );
        assert_eq!(
            env_err("{% if nope %}x{% endif %}"),
            ["X uses an undefined field ('nope' is undefined)"]
        );
        assert_eq!(
            env_err("{{ nope() }}"),
            ["X uses an undefined field ('nope' is undefined)"]
        );
        // `debug` is a minijinja global only.
        assert_eq!(
            env_err("{{ debug() }}"),
            ["X uses an undefined field ('debug' is undefined)"]
        );
        // Not evaluated, or guarded: Jinja2 does not complain either.
        assert!(env_err("{% if false %}{{ nope }}{% endif %}{{ other is defined }}").is_empty());
    }

    #[test]
    fn attribute_errors_use_python_wording() {
        assert_eq!(
            env_err("{{ token.foo }}"),
            ["X uses an undefined field ('str object' has no attribute 'foo')"]
        );
        assert_eq!(
            env_err("{{ nope is defined }}{{ token.bar }}"),
            ["X uses an undefined field ('str object' has no attribute 'bar')"]
        );
        // Python `str` methods exist in Jinja2.
        assert!(env_err("{{ token.upper }}{{ token.upper() }}").is_empty());
    }

    #[test]
    fn sandbox_violations_are_reported() {
        assert_eq!(env_err("{{ token.__class__ }}"), ["Encountered unsafe code execution: access to attribute '__class__' of 'str' object is unsafe."]);
        assert_eq!(env_err("{{ tower.__dict__ }}"), ["Encountered unsafe code execution: access to attribute '__dict__' of 'TowerNamespace' object is unsafe."]);
    }

    #[test]
    fn injectors_unknown_key() {
        // seq 42
        let got = injectors_err(json!({"bogus": {}}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path [] (Additional properties are not allowed ('bogus' was unexpected))"]);
        let got = injectors_err(json!({"z": 1, "a": 2}), token_inputs());
        assert_eq!(got, ["Schema validation error in relative path [] (Additional properties are not allowed ('a', 'z' were unexpected))"]);
    }

    #[test]
    fn injectors_wrong_containers() {
        for (injectors, expected) in [
            (json!(true), "bool provided, expected dict"),
            (json!(100), "int provided, expected dict"),
            (json!([1, 2]), "list provided, expected dict"),
            (json!("malformed"), "str provided, expected dict"),
            (
                json!({"env": true}),
                "bool provided in relative path ['env'], expected dict",
            ),
            (
                json!({"file": [1]}),
                "list provided in relative path ['file'], expected dict",
            ),
            (
                json!({"file": ""}),
                "str provided in relative path ['file'], expected dict",
            ),
            (
                json!({"extra_vars": 1.5}),
                "float provided in relative path ['extra_vars'], expected dict",
            ),
        ] {
            assert_eq!(injectors_err(injectors, token_inputs()), [expected]);
        }
    }

    #[test]
    fn multi_file_mixing_is_rejected() {
        // seq 43
        let got = injectors_err(
            json!({"file": {"template": "a", "template.b": "b"}}),
            token_inputs(),
        );
        assert_eq!(
            got,
            ["Must use multi-file syntax when injecting multiple files"]
        );
    }

    #[test]
    fn file_key_pattern_is_enforced() {
        let pattern = r"'^template(\\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$'";
        for key in ["not_template", "template.not.valid", "template.999"] {
            let got = injectors_err(json!({"file": {key: "x"}}), token_inputs());
            let expected = format!("Schema validation error in relative path ['file'] ('{key}' does not match any of the regexes: {pattern})");
            assert_eq!(got, [expected]);
        }
        let got = injectors_err(json!({"file": {"template": 1}}), token_inputs());
        assert_eq!(
            got,
            ["int provided in relative path ['file', 'template'], expected string"]
        );
    }

    #[test]
    fn tower_namespace_references() {
        let named = json!({"template.cert": "{{ token }}"});
        let cases = [
            (json!({"env": {"F": "{{ tower.filename.cert }}"}}), "F uses an undefined field ('awx.main.fields.ExplodingNamespace object' has no attribute 'cert')"),
            (json!({"env": {"F": "{{ tower.filename }}"}}), "F uses an undefined field (Must define unnamed file injector in order to reference `tower.filename`.)"),
            (json!({"env": {"F": "{{ tower }}"}}), "F uses an undefined field (Cannot directly reference reserved `tower` namespace container.)"),
            (json!({"file": named, "env": {"F": "{{ tower.filename }}"}}), "F uses an undefined field (Must define unnamed file injector in order to reference `tower.filename`.)"),
            (json!({"env": {"F": "{{ tower.bogus }}"}}), "F uses an undefined field ('awx.main.fields.TowerNamespace object' has no attribute 'bogus')"),
            (json!({"file": {"template": "x"}, "env": {"F": "{{ tower.filename.q }}"}}), "F uses an undefined field ('str object' has no attribute 'q')"),
        ];
        for (injectors, expected) in cases {
            assert_eq!(injectors_err(injectors, token_inputs()), [expected]);
        }
        let ok = [
            json!({"file": {"template.cert": "{{ token }}"}, "env": {"F": "{{ tower.filename.cert }}"}}),
            json!({"file": {"template": "{{ token }}"}, "env": {"F": "{{ tower.filename }}"}}),
            json!({"env": {"F": "{% if tower %}{{ tower.filename is defined }}{% endif %}"}}),
        ];
        for injectors in ok {
            assert_eq!(validate_injectors(&injectors, &token_inputs()), Ok(()));
        }
    }

    #[test]
    fn extra_vars_keys_values_and_paths() {
        let pattern = r"'^[a-zA-Z_\\{\\}]+[a-zA-Z0-9_\\{\\}]*$'";
        let got = injectors_err(json!({"extra_vars": {"99=": "x"}}), token_inputs());
        let expected = format!("Schema validation error in relative path ['extra_vars'] ('99=' does not match any of the regexes: {pattern})");
        assert_eq!(got, [expected]);
        let got = injectors_err(
            json!({"extra_vars": {"a": 1, "b": {"c d": "x"}}}),
            token_inputs(),
        );
        assert_eq!(
            got,
            [
                "1 is not valid under any of the given schemas",
                "{'c d': 'x'} is not valid under any of the given schemas"
            ]
        );
        let ok = json!({"extra_vars": {"{{token}}": "x", "a": ["{{ token }}", 1, null, {"b": "c"}], "n": {"m": "{{ token }}"}}});
        assert_eq!(validate_injectors(&ok, &token_inputs()), Ok(()));
        // keys are reported by their parent's path ("a key" at the top), values by their own
        assert_eq!(
            injectors_err(json!({"extra_vars": {"{{k}}": "x"}}), token_inputs()),
            ["a key uses an undefined field ('k' is undefined)"]
        );
        assert_eq!(
            injectors_err(json!({"extra_vars": {"a": {"{{k}}": "x"}}}), token_inputs()),
            ["a uses an undefined field ('k' is undefined)"]
        );
        assert_eq!(
            injectors_err(
                json!({"extra_vars": {"a": {"b": ["x", "{{ v }}"]}}}),
                token_inputs()
            ),
            ["a.b[1] uses an undefined field ('v' is undefined)"]
        );
        assert_eq!(injectors_err(json!({"extra_vars": {"a": ["{{ v"]}}), token_inputs()), ["Syntax error rendering template for a[0] inside of extra_vars (unexpected end of template, expected 'end of print statement'.)"]);
    }

    #[test]
    fn first_failing_template_in_submitted_order_wins() {
        let injectors = json!({"file": {"template": "{{ f }}"}, "env": {"E": "{{ e }}"}});
        assert_eq!(
            injectors_err(injectors, token_inputs()),
            ["template uses an undefined field ('f' is undefined)"]
        );
        let injectors = json!({"env": {"E": "{{ e }}"}, "file": {"template": "{{ f }}"}});
        assert_eq!(
            injectors_err(injectors, token_inputs()),
            ["E uses an undefined field ('e' is undefined)"]
        );
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
    fn field_type_must_be_string_or_boolean() {
        // seq 44
        let got = inputs_err(json!({"fields": [{"id": "n", "label": "N", "type": "integer"}]}));
        assert_eq!(got, ["'integer' is not one of ['string', 'boolean']"]);
        let got = inputs_err(json!({"fields": [{"id": "n", "label": "N", "format": 1}]}));
        assert_eq!(got, ["'1' is not one of ['ssh_private_key', 'url']"]);
    }

    #[test]
    fn field_ids_must_be_unique() {
        // seq 45
        let got = inputs_err(
            json!({"fields": [{"id": "token", "label": "A"}, {"id": "token", "label": "B"}]}),
        );
        assert_eq!(got, ["field IDs must be unique (token)"]);
    }

    #[test]
    fn field_id_must_be_a_variable_name() {
        // seq 46
        let got = inputs_err(json!({"fields": [{"id": "1abc", "label": "A"}]}));
        assert_eq!(got, ["1abc is an invalid variable name"]);
        let got = inputs_err(json!({"fields": [{"id": "$invalid$", "label": "A"}]}));
        assert_eq!(got, ["$invalid$ is an invalid variable name"]);
        let got = inputs_err(json!({"fields": [{"id": 7, "label": "A"}]}));
        assert_eq!(
            got,
            ["int provided in relative path ['fields', 0, 'id'], expected string"]
        );
        // Python's `$` also matches before a final newline.
        assert!(
            normalize_custom_inputs(&json!({"fields": [{"id": "abc\n", "label": "A"}]})).is_ok()
        );
    }

    #[test]
    fn tower_is_reserved() {
        // seq 47
        let got = inputs_err(json!({"fields": [{"id": "tower", "label": "A"}]}));
        assert_eq!(got, ["\"tower\" is a reserved field name"]);
    }

    #[test]
    fn id_and_label_are_required() {
        // seq 48
        assert_eq!(
            inputs_err(json!({"fields": [{"id": "token"}]})),
            ["'label' is a required property"]
        );
        assert_eq!(
            inputs_err(json!({"fields": [{"label": "Label"}]})),
            ["'id' is a required property"]
        );
    }

    #[test]
    fn string_only_keys_on_boolean_fields() {
        // seq 49
        let got = inputs_err(
            json!({"fields": [{"id": "flag", "label": "F", "type": "boolean", "choices": ["a"]}]}),
        );
        assert_eq!(got, ["choices not allowed for boolean type (flag)"]);
        for (key, value) in [
            ("multiline", json!(true)),
            ("format", json!("url")),
            ("secret", json!(false)),
        ] {
            let field = json!({"id": "field_id", "label": "L", "type": "boolean", key: value});
            assert_eq!(
                inputs_err(json!({"fields": [field]})),
                [format!("{key} not allowed for boolean type (field_id)")]
            );
        }
    }

    #[test]
    fn ask_at_runtime_is_not_supported() {
        // seq 50
        let got =
            inputs_err(json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": true}]}));
        assert_eq!(
            got,
            ["'ask_at_runtime' is not supported for custom credentials."]
        );
        let ok = json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": false}]});
        assert!(normalize_custom_inputs(&ok).is_ok());
        let got =
            inputs_err(json!({"fields": [{"id": "token", "label": "T", "ask_at_runtime": "bad"}]}));
        assert_eq!(
            got,
            ["str provided in relative path ['fields', 0, 'ask_at_runtime'], expected boolean"]
        );
    }

    #[test]
    fn dependencies_are_not_supported() {
        // seq 51
        let got = inputs_err(
            json!({"fields": [{"id": "token", "label": "T"}], "dependencies": {"token": ["x"]}}),
        );
        assert_eq!(
            got,
            ["'dependencies' is not supported for custom credentials."]
        );
    }

    #[test]
    fn inputs_must_be_an_object() {
        // seq 52
        assert_eq!(inputs_err(json!(["x"])), ["list provided, expected dict"]);
        assert_eq!(
            inputs_err(json!("malformed")),
            ["str provided, expected dict"]
        );
        assert_eq!(inputs_err(json!(100)), ["int provided, expected dict"]);
        assert_eq!(inputs_err(json!(1.5)), ["float provided, expected dict"]);
        assert_eq!(inputs_err(json!(true)), ["bool provided, expected dict"]);
        assert_eq!(
            inputs_err(json!(null)),
            ["NoneType provided, expected dict"]
        );
    }

    #[test]
    fn inputs_unknown_keys_and_containers_collect_every_schema_error() {
        let got =
            inputs_err(json!({"metadata": [], "fields": [{"id": "one", "label": "One"}, 234]}));
        assert_eq!(
            got,
            [
                "Schema validation error in relative path [] (Additional properties are not allowed ('metadata' was unexpected))",
                "int provided in relative path ['fields', 1], expected dict"
            ]
        );
        let got = inputs_err(json!({"fields": {}, "required": [1]}));
        assert_eq!(
            got,
            [
                "int provided in relative path ['required', 0], expected string",
                "dict provided in relative path ['fields'], expected array"
            ]
        );
        let got = inputs_err(
            json!({"fields": [{"id": "u", "label": "U", "foo": "bar", "help_text": 1}]}),
        );
        assert_eq!(
            got,
            [
                "int provided in relative path ['fields', 0, 'help_text'], expected string",
                "Schema validation error in relative path ['fields', 0] (Additional properties are not allowed ('foo' was unexpected))"
            ]
        );
    }

    #[test]
    fn choices_must_be_a_non_empty_list_of_unique_strings() {
        let field =
            |choices: Value| json!({"fields": [{"id": "b", "label": "B", "choices": choices}]});
        assert_eq!(
            inputs_err(field(json!("not-a-list"))),
            ["str provided in relative path ['fields', 0, 'choices'], expected array"]
        );
        assert_eq!(inputs_err(field(json!([]))), ["[] should be non-empty"]);
        assert_eq!(
            inputs_err(field(json!(["dup", "dup"]))),
            ["['dup', 'dup'] has non-unique elements"]
        );
        assert_eq!(
            inputs_err(field(json!(["a", 1]))),
            ["int provided in relative path ['fields', 0, 'choices', 1], expected string"]
        );
        assert!(normalize_custom_inputs(&field(json!(["su", "sudo"]))).is_ok());
    }

    #[test]
    fn defaults_must_match_the_field_type() {
        let field = |ty: &str, default: Value| json!({"fields": [{"id": "a", "label": "A", "type": ty, "default": default}]});
        assert_eq!(
            inputs_err(field("string", json!(null))),
            ["None is not a string"]
        );
        assert_eq!(
            inputs_err(field("string", json!(true))),
            ["True is not a string"]
        );
        assert_eq!(
            inputs_err(field("string", json!(false))),
            ["False is not a string"]
        );
        assert_eq!(
            inputs_err(field("string", json!(["a"]))),
            ["['a'] is not a string"]
        );
        assert_eq!(
            inputs_err(field("boolean", json!("some default string"))),
            ["some default string is not a boolean"]
        );
        assert_eq!(
            inputs_err(field("boolean", json!(1))),
            ["1 is not a boolean"]
        );
        assert!(normalize_custom_inputs(&field("boolean", json!(false))).is_ok());
        assert!(normalize_custom_inputs(&field("string", json!("x"))).is_ok());
        // without `type` the default is checked against the filled-in `string`
        let untyped = json!({"fields": [{"id": "a", "label": "A", "default": 1.5}]});
        assert_eq!(inputs_err(untyped), ["1.5 is not a string"]);
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
