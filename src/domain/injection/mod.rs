//! Using a credential: what a job gets from it, rendered the way AWX's job run renders it
//! (`CredentialType.inject_credential`, the built-in injectors of the managed cloud types,
//! and the arguments and password prompts `RunJob` builds for Machine, Vault, Network and
//! Source Control credentials).
//!
//! Pure: the caller passes the effective input values (secrets opened, external input
//! sources already fetched) and gets a [`Rendered`] back. File paths are not known here
//! (the client writes the files where it likes), so every file has a placeholder path
//! ([`file_placeholder`]) that env values, extra vars, arguments and other files name; the
//! client replaces it with the real path.
//!
//! Layout: `custom` (a type's own injector templates), `builtin` (AWX's Python injectors
//! of the managed cloud types), `job` (arguments, prompts and private keys of the kinds a
//! job's command line takes), `safe_env` (the env with secrets masked, for logs) and
//! `merge` (several credentials for one job).

mod builtin;
mod custom;
mod job;
mod merge;
mod safe_env;
mod yaml;

use crate::domain::credential_type::InputSchema;
use serde_json::{Map, Value};
use zeroize::Zeroize;

pub use merge::{check_distinct, merge, Conflict, Slot};
pub use safe_env::build_safe_env;

/// One credential to render, with its effective input values.
pub struct Subject<'a> {
    pub id: i64,
    pub type_name: &'a str,
    pub namespace: Option<&'a str>,
    pub managed: bool,
    pub schema: &'a InputSchema,
    /// The type's `injectors` definition.
    pub injectors: &'a Value,
    /// Input values by field: public values as stored, secrets opened, fields with an
    /// input source replaced by what the source returned. Never logged.
    pub values: &'a Map<String, Value>,
}

impl Subject<'_> {
    /// `credential.get_input(field, default='')` for string inputs.
    fn text(&self, field: &str) -> String {
        match self.values.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => python_bool(*b).to_string(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// `credential.has_input(field)`: set, and not an empty string.
    fn has(&self, field: &str) -> bool {
        match self.values.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    /// A boolean input (`default` when unset).
    fn flag(&self, field: &str, default: bool) -> bool {
        match self.values.get(field) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.is_empty(),
            _ => default,
        }
    }

    /// The path placeholder of this credential's file `file`.
    fn placeholder(&self, file: &str) -> String {
        file_placeholder(self.id, file)
    }
}

/// A credential's effective input values, secrets in the clear: zeroed when dropped and
/// never printed.
#[derive(Default)]
pub struct InputValues(pub Map<String, Value>);

impl std::fmt::Debug for InputValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("InputValues")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Drop for InputValues {
    fn drop(&mut self) {
        self.0.values_mut().for_each(zeroize_value);
    }
}

/// Python's spelling of a boolean, as AWX's templates and `str()` print it.
pub fn python_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

/// The path a rendered file stands under until the client writes it:
/// `@@CREDSTORE_FILE(<credential id>.<file id>)@@`. File ids are `template`,
/// `template.<name>` or a built-in name (`[a-z_.]`), so the closing `)@@` is unambiguous.
pub fn file_placeholder(credential: i64, file: &str) -> String {
    format!("@@CREDSTORE_FILE({credential}.{file})@@")
}

/// One file a job needs written (mode 0600) before it starts.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RenderedFile {
    /// `template`, `template.<name>`, or the built-in injector's name for it.
    pub id: String,
    /// The credential it comes from.
    pub credential: i64,
    /// The placeholder to replace with the real path wherever it appears.
    pub path: String,
    pub content: String,
    /// The env variable that carries its path, when one does.
    pub env_var: Option<String>,
}

/// A password prompt (a Python regex, as AWX gives pexpect) and its answer.
#[derive(Clone)]
pub struct Prompt {
    pub prompt: String,
    pub value: String,
}

/// What a job gets from its credentials. Secret values are zeroed when it is dropped;
/// `Debug` names keys only.
#[derive(Default)]
pub struct Rendered {
    pub env: Map<String, Value>,
    pub safe_env: Map<String, Value>,
    pub extra_vars: Map<String, Value>,
    pub files: Vec<RenderedFile>,
    pub args: Vec<String>,
    pub passwords: Vec<Prompt>,
    /// What this credential's own injection says its env shows in logs (AWX's
    /// `safe_cred_env`), laid over the masked env.
    safe_overrides: Map<String, Value>,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("extra_vars", &self.extra_vars.keys().collect::<Vec<_>>())
            .field(
                "files",
                &self.files.iter().map(|x| &x.id).collect::<Vec<_>>(),
            )
            .field("args", &self.args.len())
            .field("passwords", &self.passwords.len())
            .finish()
    }
}

impl Drop for Rendered {
    fn drop(&mut self) {
        for value in self.env.values_mut().chain(self.extra_vars.values_mut()) {
            zeroize_value(value);
        }
        for file in &mut self.files {
            file.content.zeroize();
        }
        for prompt in &mut self.passwords {
            prompt.value.zeroize();
        }
        self.args.iter_mut().for_each(Zeroize::zeroize);
    }
}

fn zeroize_value(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(zeroize_value),
        Value::Object(map) => map.values_mut().for_each(zeroize_value),
        _ => {}
    }
}

/// Why a credential could not be rendered. Messages name a template, never a value.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum RenderError {
    /// An injector template failed while rendering (`kind` is env, file or extra_vars).
    #[error("the {kind} injector {key} of credential type {type_name} failed to render: {reason}")]
    Template {
        type_name: String,
        kind: String,
        key: String,
        reason: String,
    },
    /// The worker process that renders templates apart ended without an answer: out of
    /// its memory or time, as a template that builds huge strings makes it.
    #[error("the injectors of credential type {type_name} need more memory or time than a rendering may take")]
    TooCostly { type_name: String },
}

/// What a type's own injector templates produce for one credential: the part of a
/// rendering that may run apart from the server (the server's `template_worker` module), and so crosses a
/// process boundary as JSON. Secret values are zeroed when it is dropped.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct CustomInjection {
    env: Map<String, Value>,
    safe_overrides: Map<String, Value>,
    extra_vars: Map<String, Value>,
    files: Vec<RenderedFile>,
}

impl Drop for CustomInjection {
    fn drop(&mut self) {
        for value in self.env.values_mut().chain(self.extra_vars.values_mut()) {
            zeroize_value(value);
        }
        for file in &mut self.files {
            file.content.zeroize();
        }
    }
}

/// Renders the type's own injector templates of `subject`, in this process. The caller
/// decides where this runs: templates that can build large strings are run by a worker
/// process with a memory limit (the server's `template_worker` module).
pub fn render_custom(subject: &Subject<'_>) -> Result<CustomInjection, RenderError> {
    let mut out = Rendered::default();
    custom::inject(subject, &mut out)?;
    Ok(CustomInjection {
        env: std::mem::take(&mut out.env),
        safe_overrides: std::mem::take(&mut out.safe_overrides),
        extra_vars: std::mem::take(&mut out.extra_vars),
        files: std::mem::take(&mut out.files),
    })
}

/// Renders one credential as AWX's job run would; `custom` renders the type's own
/// injectors ([`render_custom`], in this process or another).
pub fn render(
    subject: &Subject<'_>,
    custom: &dyn Fn(&Subject<'_>) -> Result<CustomInjection, RenderError>,
) -> Result<Rendered, RenderError> {
    let mut out = Rendered::default();
    let has_own_injectors = subject.injectors.as_object().is_some_and(|i| !i.is_empty());
    if has_own_injectors {
        let mut own = custom(subject)?;
        out.env = std::mem::take(&mut own.env);
        out.safe_overrides = std::mem::take(&mut own.safe_overrides);
        out.extra_vars = std::mem::take(&mut own.extra_vars);
        out.files = std::mem::take(&mut own.files);
    } else if subject.managed {
        if let Some(namespace) = subject.namespace {
            builtin::inject(namespace, subject, &mut out);
            out.safe_overrides = build_safe_env(&out.env);
        }
    }
    job::inject(subject, &mut out);
    out.mask_env();
    Ok(out)
}

impl Rendered {
    fn set_env(&mut self, name: &str, value: impl Into<String>) {
        self.env.insert(name.to_string(), Value::from(value.into()));
    }

    /// Adds `subject`'s file `id` and returns its placeholder path.
    fn add_file(&mut self, subject: &Subject<'_>, id: &str, content: String) -> String {
        let path = subject.placeholder(id);
        self.files.push(RenderedFile {
            id: id.to_string(),
            credential: subject.id,
            path: path.clone(),
            content,
            env_var: None,
        });
        path
    }

    /// Adds a file whose path the env variable `var` carries; returns the path.
    fn add_env_file(
        &mut self,
        subject: &Subject<'_>,
        id: &str,
        content: String,
        var: &str,
    ) -> String {
        let path = self.add_file(subject, id, content);
        self.set_env(var, path.clone());
        if let Some(file) = self.files.last_mut() {
            file.env_var = Some(var.to_string());
        }
        path
    }

    /// `safe_env` as AWX's `build_safe_env(env)` updated with the credentials' own.
    fn mask_env(&mut self) {
        self.safe_env = build_safe_env(&self.env);
        self.safe_env.extend(
            self.safe_overrides
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
}

/// The env variable whose value is exactly `path`, for a file's `env_var`.
fn env_var_naming(env: &Map<String, Value>, path: &str) -> Option<String> {
    env.iter()
        .find(|(_, v)| v.as_str() == Some(path))
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
mod tests;
