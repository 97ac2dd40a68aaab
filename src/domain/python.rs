//! How Python spells values: `repr` of strings and decoded JSON, `str`, and type names.
//!
//! AWX's messages are built in Python (jsonschema, `ipaddress`, Jinja2 and AWX's own
//! f-strings) and quote values with `repr`; clients compare those messages verbatim. Every
//! module that quotes a value uses this one spelling, so a quoting fix lands everywhere.
//!
//! Printability follows CPython's `str.isprintable` with one documented approximation: there
//! are no Unicode tables at hand, so control characters (Cc), separators (Z*), the format
//! characters (Cf) listed in `FORMAT_AND_PRIVATE`, private use (Co) and noncharacters are
//! escaped, while other unassigned code points (Cn) are printed as they are (CPython would
//! escape them).

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Python's `repr` of a string, which is how AWX's messages quote names, keys and values:
/// single quotes unless the text contains `'` and no `"`; the chosen quote, backslash, `\t`,
/// `\n` and `\r` escaped; other non-printable characters as `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`.
pub fn py_str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        push_escaped(&mut out, c, quote);
    }
    out.push(quote);
    out
}

/// Python's `repr` of a decoded JSON value (`None`, `True`, `1.5`, `['a']`, `{'k': 1}`), as
/// jsonschema and AWX put it in messages.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => py_number(n),
        Value::String(s) => py_str_repr(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(obj) => {
            let items: Vec<String> = obj
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `str` of a decoded JSON value (strings bare, everything else as `repr`), for the
/// messages AWX builds with f-strings rather than `repr`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's name for a decoded JSON value's type, as AWX puts it in messages.
pub fn py_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if is_printable(c) => out.push(c),
        c => {
            // Writing to a `String` cannot fail.
            let _ = match u32::from(c) {
                n @ 0..=0xff => write!(out, "\\x{n:02x}"),
                n @ 0x100..=0xffff => write!(out, "\\u{n:04x}"),
                n => write!(out, "\\U{n:08x}"),
            };
        }
    }
}

/// Format characters (Cf, Unicode 14) and private-use or noncharacter ranges (Co, Cn) that
/// `str.isprintable` rejects; Rust's `char` knows none of these categories.
const FORMAT_AND_PRIVATE: &[(u32, u32)] = &[
    (0xad, 0xad),
    (0x600, 0x605),
    (0x61c, 0x61c),
    (0x6dd, 0x6dd),
    (0x70f, 0x70f),
    (0x890, 0x891),
    (0x8e2, 0x8e2),
    (0x180e, 0x180e),
    (0x200b, 0x200f),
    (0x202a, 0x202e),
    (0x2060, 0x206f),
    (0xe000, 0xf8ff),
    (0xfdd0, 0xfdef),
    (0xfeff, 0xfeff),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x13438),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0001, 0xe0001),
    (0xe0020, 0xe007f),
    (0xf0000, 0x10ffff),
];

/// `str.isprintable` for one character, within the approximation the module doc states.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let code = u32::from(c);
    let listed = FORMAT_AND_PRIVATE
        .iter()
        .any(|&(low, high)| (low..=high).contains(&code));
    !(c.is_control() || c.is_whitespace() || code & 0xfffe == 0xfffe || listed)
}

fn py_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) => py_float(f),
        None => n.to_string(),
    }
}

/// Rust's `{:?}` and Python's `repr` pick the same shortest digits and switch to exponent
/// notation at the same thresholds; only the exponent spelling differs (`1e16` vs `1e+16`).
fn py_float(f: f64) -> String {
    let s = format!("{f:?}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn string_reprs_match_cpython() {
        for (text, expected) in [
            ("", "''"),
            ("yes", "'yes'"),
            ("it's", "\"it's\""),
            ("a\"b'c", r#"'a"b\'c'"#),
            ("a'b\"c", r#"'a\'b"c'"#),
            ("say \"hi\"", "'say \"hi\"'"),
            ("\n", r"'\n'"),
            ("\t\r", r"'\t\r'"),
            ("back\\slash", r"'back\\slash'"),
            ("it's a\\b", r#""it's a\\b""#),
            ("x\ny's", r#""x\ny's""#),
            ("t\u{0}\u{7f}é\u{a0}\n", r"'t\x00\x7fé\xa0\n'"),
            ("\u{b}\u{1b}\u{85}\u{ad}", r"'\x0b\x1b\x85\xad'"),
            ("\u{2028}\u{200b}\u{feff}", r"'\u2028\u200b\ufeff'"),
            ("\u{e000}\u{fffe}", r"'\ue000\ufffe'"),
            ("\u{e0001}\u{10ffff}", r"'\U000e0001\U0010ffff'"),
            ("🐉 ñ 中", "'🐉 ñ 中'"),
        ] {
            assert_eq!(py_str_repr(text), expected, "{text:?}");
        }
    }

    #[test]
    fn json_reprs_match_cpython() {
        for (value, expected) in [
            (json!(null), "None"),
            (json!(true), "True"),
            (json!(false), "False"),
            (json!(5), "5"),
            (json!(-7), "-7"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(0.5), "0.5"),
            (json!(2.0), "2.0"),
            (json!(1e16), "1e+16"),
            (json!(1e15), "1000000000000000.0"),
            (json!(1.5e-7), "1.5e-07"),
            (json!(0.0001), "0.0001"),
            (json!("yes"), "'yes'"),
            (json!([]), "[]"),
            (json!(["a", 1]), "['a', 1]"),
            (json!({}), "{}"),
            (
                json!({"a": [1, null, true, 2.5], "it's": {"b": "c\n"}}),
                r#"{'a': [1, None, True, 2.5], "it's": {'b': 'c\n'}}"#,
            ),
        ] {
            assert_eq!(py_repr(&value), expected, "{value}");
        }
    }

    #[test]
    fn str_and_type_names() {
        assert_eq!(py_str(&json!("bare")), "bare");
        assert_eq!(py_str(&json!(["a"])), "['a']");
        assert_eq!(py_str(&json!(1.5)), "1.5");
        for (value, name) in [
            (json!(null), "NoneType"),
            (json!(true), "bool"),
            (json!(1), "int"),
            (json!(1.0), "float"),
            (json!("x"), "str"),
            (json!([1]), "list"),
            (json!({}), "dict"),
        ] {
            assert_eq!(py_type_name(&value), name);
        }
    }

    /// Reads a repr back the way Python reads the literal; `None` on anything malformed.
    fn unrepr(repr: &str) -> Option<String> {
        let quote = repr.chars().next()?;
        let inner = repr.strip_prefix(quote)?.strip_suffix(quote)?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == quote {
                return None;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escape = chars.next()?;
            let digits = match escape {
                'x' => 2,
                'u' => 4,
                'U' => 8,
                'n' => {
                    out.push('\n');
                    continue;
                }
                'r' => {
                    out.push('\r');
                    continue;
                }
                't' => {
                    out.push('\t');
                    continue;
                }
                '\\' | '\'' | '"' => {
                    out.push(escape);
                    continue;
                }
                _ => return None,
            };
            let hex: String = chars.by_ref().take(digits).collect();
            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
        }
        Some(out)
    }

    proptest! {
        #[test]
        fn string_repr_reads_back_and_shows_only_printables(text in any::<String>()) {
            let repr = py_str_repr(&text);
            prop_assert_eq!(unrepr(&repr), Some(text.clone()));
            prop_assert!(repr.chars().all(is_printable), "{:?}", repr);
            let double = text.contains('\'') && !text.contains('"');
            prop_assert_eq!(repr.starts_with('"'), double);
            prop_assert_eq!(py_repr(&Value::String(text.clone())), repr);
        }

        #[test]
        fn float_repr_reads_back_as_a_float(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let repr = py_float(f);
            prop_assert_eq!(repr.parse::<f64>().ok(), Some(f));
            prop_assert!(repr.contains(['.', 'e']), "{}", repr);
        }
    }
}
