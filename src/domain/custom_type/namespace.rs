//! The names an injector template may reference while AWX validates it: every input id
//! (value `EXAMPLE`), `tower` and `tower.filename`.
//!
//! They are minijinja objects that log the lookups Jinja2 would fail on, because
//! minijinja's own undefined error does not say which name was undefined; the Python
//! objects behind them (`str`, AWX's namespaces) decide the attribute-error wording.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, ObjectRepr, Value as JValue};
use serde_json::Value;

use super::inputs::fields_of;
use super::messages::TemplateIssue;
use super::patterns::listed;
use crate::domain::python::py_str_repr;

const MULTI_FILE_MSG: &str = "Must use multi-file syntax when injecting multiple files";
const TOWER_MSG: &str = "Cannot directly reference reserved `tower` namespace container.";
const FILENAME_MSG: &str =
    "Must define unnamed file injector in order to reference `tower.filename`.";

/// What `tower.filename` is during validation.
#[derive(Debug, Clone)]
pub(super) enum Filename {
    /// An unnamed `template` file exists: a plain path string.
    Single,
    /// Only named files (possibly none): a namespace of those names that explodes when printed.
    Named(BTreeSet<String>),
}

/// The names AWX's validation namespace defines: every input id (value `EXAMPLE`) and `tower`.
#[derive(Debug)]
pub(super) struct NamespaceModel {
    pub(super) ids: BTreeSet<String>,
    pub(super) filename: Filename,
}

impl NamespaceModel {
    pub(super) fn new(inputs: &Value, file: Option<&Value>) -> Result<Self, String> {
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
    pub(super) fn root(&self, log: &Log) -> JValue {
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
pub(super) enum Event {
    /// A top-level name that is not in the namespace (may still be a global).
    MissingRoot(String),
    /// An attribute missing on one of the `tower` objects.
    MissingAttr { attr: String, issue: TemplateIssue },
    /// A `tower` object was turned into a string: Jinja2 raises this message there.
    Exploded(&'static str),
}

pub(super) type Log = Arc<Mutex<Vec<Event>>>;

fn record(log: &Log, event: Event) {
    if let Ok(mut events) = log.lock() {
        if events.len() < MAX_EVENTS {
            events.push(event);
        }
    }
}

#[derive(Debug)]
struct RootNamespace {
    pub(super) ids: BTreeSet<String>,
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
pub(super) enum PyObject {
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
    pub(super) fn attribute(self, attr: &str) -> Option<TemplateIssue> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::validate_injectors;
    use serde_json::json;

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
}
