//! minijinja shaped like Jinja2's `ImmutableSandboxedEnvironment(undefined=StrictUndefined)`
//! (same filter, test and global names; bounded work and output), rendering one template
//! against the `namespace` and translating a failure into what Jinja2 would have raised.
//!
//! Apart because it is the only code that depends on how minijinja behaves and words its
//! errors.

use minijinja::value::{Rest, Value as JValue, ValueKind};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use super::namespace::{Event, Filename, Log, NamespaceModel, PyObject};
use super::patterns::listed;
use crate::domain::python::py_str_repr;

pub(super) use super::messages::TemplateIssue;

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
    /// What was written, when the caller wants it (rendering, not validating).
    kept: Vec<u8>,
}

impl std::io::Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > TEMPLATE_OUTPUT_LIMIT {
            return Err(std::io::Error::other("template output limit"));
        }
        self.kept.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// minijinja shaped like `ImmutableSandboxedEnvironment(undefined=StrictUndefined)`: the same
/// filter, test and global names, strict undefined, no debug snapshots.
#[allow(deprecated)] // `new` only warns that the `serde` feature is off; we pass minijinja values
pub(super) fn jinja_like_environment() -> Environment<'static> {
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

/// The environment a job's injectors render in: the same names and bounds, but
/// Jinja2's default (lenient) undefined, since AWX's runtime environment has no
/// `StrictUndefined`: an unset input renders as an empty string, as it does in AWX.
/// Booleans and `None` print the way Python prints them (`True`, `False`, `None`).
pub(crate) fn runtime_environment() -> Environment<'static> {
    let mut env = jinja_like_environment();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_formatter(|out, state, value| match value.kind() {
        ValueKind::Bool => out
            .write_str(if value.is_true() { "True" } else { "False" })
            .map_err(minijinja::Error::from),
        ValueKind::None => out.write_str("None").map_err(minijinja::Error::from),
        _ => minijinja::escape_formatter(out, state, value),
    });
    env
}

/// Renders one template of a job's injectors with the same output bound as validation.
pub(crate) fn render_bounded(
    env: &Environment<'_>,
    source: &str,
    context: JValue,
) -> Result<String, minijinja::Error> {
    let template = env.template_from_str(source)?;
    let mut buffer = BoundedOutput::default();
    template.render_captured_to(context, &mut buffer)?;
    Ok(String::from_utf8_lossy(&buffer.kept).into_owned())
}

/// Renders `source` like AWX does and reports the first problem Jinja2 would raise.
pub(super) fn check_template(
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::validate_injectors;
    use serde_json::json;

    #[test]
    fn runaway_templates_are_stopped() {
        let inputs = serde_json::json!({"fields": [{"id": "t", "label": "T", "type": "string"}]});
        let injectors = serde_json::json!({"env": {"X": "{% for i in range(10000) %}{% for j in range(10000) %}{{ t }}{% endfor %}{% endfor %}"}});
        assert!(validate_injectors(&injectors, &inputs).is_err());
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
}
