//! A type's own injectors (`file`, `env`, `extra_vars` templates), rendered as AWX's
//! `CredentialType.inject_credential` renders them: over a namespace of the inputs (empty
//! strings left out, unset booleans false, private keys ending in a newline) and, for the
//! log-safe env, over the same namespace with secrets masked.

use super::{env_var_naming, RenderError, Rendered, Subject};
use crate::domain::credential_type::InputKind;
use crate::domain::custom_type::{env_var_allowed, render_bounded, runtime_environment};
use minijinja::value::Value as JValue;
use minijinja::Environment;
use serde_json::{Map, Value};

/// What AWX shows in place of a secret.
const HIDDEN: &str = "**********";

/// The two namespaces AWX renders with: real values, and secrets masked.
fn namespaces(subject: &Subject<'_>) -> (Map<String, Value>, Map<String, Value>) {
    let mut real = Map::new();
    let mut safe = Map::new();
    for (field, value) in subject.values {
        if let Value::Bool(_) = value {
            real.insert(field.clone(), value.clone());
            safe.insert(field.clone(), value.clone());
            continue;
        }
        let empty = value.is_null() || value.as_str() == Some("");
        if subject.schema.is_secret(field) {
            safe.insert(field.clone(), Value::from(HIDDEN));
        } else if !empty {
            safe.insert(field.clone(), value.clone());
        }
        if !empty {
            real.insert(field.clone(), value.clone());
        }
    }
    for field in &subject.schema.fields {
        if field.kind == InputKind::Boolean && !subject.values.contains_key(&field.id) {
            real.insert(field.id.clone(), Value::Bool(false));
            safe.insert(field.id.clone(), Value::Bool(false));
        }
        if field.format.as_deref() == Some("ssh_private_key") {
            if let Some(Value::String(key)) = real.get_mut(&field.id) {
                if !key.ends_with('\n') {
                    key.push('\n');
                }
            }
        }
    }
    (real, safe)
}

/// serde_json to minijinja (this build has no serde bridge).
fn to_jinja(value: &Value) -> JValue {
    match value {
        Value::Null => JValue::from(()),
        Value::Bool(b) => JValue::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => JValue::from(i),
            None => JValue::from(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => JValue::from(s.as_str()),
        Value::Array(items) => items.iter().map(to_jinja).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.as_str(), to_jinja(v))).collect(),
    }
}

/// `tower.filename`: one path for an unnamed `template`, a namespace of names otherwise.
/// Every path is known before any file renders, so a file may name another.
fn tower(subject: &Subject<'_>, files: &Map<String, Value>) -> JValue {
    let single = files.contains_key("template");
    let filename = if single {
        JValue::from(subject.placeholder("template"))
    } else {
        files
            .keys()
            .filter_map(|k| k.strip_prefix("template."))
            .map(|name| {
                (
                    name,
                    JValue::from(subject.placeholder(&format!("template.{name}"))),
                )
            })
            .collect()
    };
    [("filename", filename)].into_iter().collect()
}

fn context(namespace: &Map<String, Value>, tower: &JValue) -> JValue {
    namespace
        .iter()
        .map(|(k, v)| (k.as_str(), to_jinja(v)))
        .chain([("tower", tower.clone())])
        .collect()
}

/// One template, with a failure that names where it is and never what it held.
struct Renderer<'a> {
    env: Environment<'static>,
    type_name: &'a str,
}

impl Renderer<'_> {
    fn render(
        &self,
        kind: &'static str,
        key: &str,
        source: &str,
        context: &JValue,
    ) -> Result<String, RenderError> {
        render_bounded(&self.env, source, context.clone()).map_err(|e| RenderError::Template {
            type_name: self.type_name.to_string(),
            kind: kind.to_string(),
            key: key.to_string(),
            reason: e.kind().to_string(),
        })
    }

    /// `build_extra_vars`: keys and string leaves are templates; other leaves render as
    /// Python's `str()` of them.
    fn extra_vars(&self, path: &str, node: &Value, ctx: &JValue) -> Result<Value, RenderError> {
        Ok(match node {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let key = self.render("extra_vars", path, k, ctx)?;
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.insert(key, self.extra_vars(&child, v, ctx)?);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.extra_vars(&format!("{path}[{i}]"), v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Value::String(s) => Value::String(self.render("extra_vars", path, s, ctx)?),
            Value::Bool(b) => Value::from(super::python_bool(*b)),
            Value::Null => Value::from("None"),
            Value::Number(n) => Value::from(n.to_string()),
        })
    }
}

/// Renders the type's injectors into `out`.
pub(super) fn inject(subject: &Subject<'_>, out: &mut Rendered) -> Result<(), RenderError> {
    let empty = Map::new();
    let section = |name: &str| {
        subject
            .injectors
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or(&empty)
    };
    let (real, safe) = namespaces(subject);
    let tower = tower(subject, section("file"));
    let (real, safe) = (context(&real, &tower), context(&safe, &tower));
    let renderer = Renderer {
        env: runtime_environment(),
        type_name: subject.type_name,
    };
    for (key, source) in section("file") {
        let content = renderer.render("file", key, source.as_str().unwrap_or(""), &real)?;
        out.add_file(subject, key, content);
    }
    for (name, source) in section("env") {
        if let Err(reason) = env_var_allowed(name) {
            tracing::warn!(variable = %name, %reason, "ignoring a prohibited injector env variable");
            continue;
        }
        let source = source.as_str().unwrap_or("");
        let value = renderer.render("env", name, source, &real)?;
        let shown = renderer.render("env", name, source, &safe)?;
        out.env.insert(name.clone(), Value::from(value));
        out.safe_overrides.insert(name.clone(), Value::from(shown));
    }
    if let Value::Object(vars) =
        renderer.extra_vars("", &Value::Object(section("extra_vars").clone()), &real)?
    {
        out.extra_vars.extend(vars);
    }
    for file in &mut out.files {
        file.env_var = env_var_naming(&out.env, &file.path);
    }
    Ok(())
}
