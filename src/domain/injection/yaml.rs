//! Block-style YAML of nested maps, as PyYAML's `safe_dump(default_flow_style=False)`
//! lays out the one file AWX writes as YAML (OpenStack's `clouds.yaml`). Strings are
//! double-quoted with JSON escapes, which YAML reads the same; nothing here needs more.

use serde_json::Value;

/// `data` (maps of maps, strings, booleans, numbers) as block YAML.
pub(super) fn block(data: &Value) -> String {
    let mut out = String::new();
    write(data, 0, &mut out);
    out
}

fn write(value: &Value, indent: usize, out: &mut String) {
    let Value::Object(map) = value else {
        return;
    };
    for (key, item) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(key);
        out.push(':');
        match item {
            Value::Object(_) => {
                out.push('\n');
                write(item, indent + 2, out);
            }
            Value::Null => out.push_str(" null\n"),
            other => {
                out.push(' ');
                out.push_str(&other.to_string());
                out.push('\n');
            }
        }
    }
}
