//! The name rules AWX writes as Python regexes, matched by hand with `re.search` semantics
//! (`$` also matches before one final newline); the regex text only appears in messages.
//!
//! Shared by the inputs (field ids), the injectors (env, file and extra_vars keys) and the
//! sandbox (the word lists of Python and Jinja2 names).

/// Regexes as AWX spells them; they only appear inside messages (matching is hand-written).
pub(super) const IDENT_PATTERN: &str = "^[a-zA-Z_]+[a-zA-Z0-9_]*$";
pub(super) const FILE_PATTERN: &str = r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$";
pub(super) const EXTRA_VARS_PATTERN: &str = r"^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$";
pub(super) const ENV_VALUE_PATTERN: &str = "^[\u{0}-\u{7f}]*$";

/// `word` is one of the whitespace-separated words of `list`.
pub(super) fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

pub(super) fn strip_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

fn word_matches(s: &str, first: impl Fn(char) -> bool, rest: impl Fn(char) -> bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(first) && chars.all(rest)
}

/// `^[a-zA-Z_]+[a-zA-Z0-9_]*$` on an already newline-stripped string.
pub(super) fn is_identifier(s: &str) -> bool {
    word_matches(
        s,
        |c| c.is_ascii_alphabetic() || c == '_',
        |c| c.is_ascii_alphanumeric() || c == '_',
    )
}

pub(super) fn is_file_key(s: &str) -> bool {
    s == "template" || s.strip_prefix("template.").is_some_and(is_identifier)
}

pub(super) fn is_extra_vars_key(s: &str) -> bool {
    word_matches(
        strip_final_newline(s),
        |c| c.is_ascii_alphabetic() || matches!(c, '_' | '{' | '}'),
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '{' | '}'),
    )
}
