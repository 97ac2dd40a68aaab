//! Posted forms and the API's error answers, in the shapes pages need: a form's fields
//! by name, AWX's `{"field": ["message"]}` errors beside the fields they name, and the
//! input fields of a credential type as a generated form describes them.

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A posted form: every name/value pair, in order (repeated names kept).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed, or `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// The hidden CSRF token every changing form carries.
    pub fn token(&self) -> &str {
        self.get("csrf_token").unwrap_or_default()
    }

    /// An id field (a select of objects) as a JSON id, or `null` when none is chosen.
    pub fn id(&self, name: &str) -> Value {
        match self.text(name).and_then(|v| v.parse::<i64>().ok()) {
            Some(id) => Value::from(id),
            None => Value::Null,
        }
    }
}

/// Errors of a refused write, placed for a form: by field (credential inputs as
/// `input.<id>`), and the rest as general sentences.
#[derive(Debug, Default, Serialize)]
pub(super) struct FormErrors {
    pub fields: BTreeMap<String, Vec<String>>,
    pub general: Vec<String>,
}

impl FormErrors {
    /// Places AWX's error body: `{"name": [..], "inputs": {"password": [..]}, "__all__": [..]}`.
    pub fn from_answer(v: &Value) -> Self {
        let mut out = FormErrors::default();
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("inputs", Value::Object(inner)) => {
                            for (id, messages) in inner {
                                out.fields
                                    .insert(format!("input.{id}"), sentences(messages));
                            }
                        }
                        ("__all__" | "detail" | "msg" | "non_field_errors", _) => {
                            out.general.extend(sentences(value))
                        }
                        _ => {
                            out.fields.insert(key.clone(), sentences(value));
                        }
                    }
                }
            }
            other => out.general.extend(sentences(other)),
        }
        out
    }
}

/// The sentences of an error value (a string, a list of them, or nested objects).
fn sentences(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(sentences).collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| sentences(v).into_iter().map(move |s| format!("{k}: {s}")))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// An error answer as one line of text for a message page.
pub(super) fn plain_text(v: &Value) -> String {
    sentences(v).join(" ")
}

/// One input field of a credential type, as a generated form shows it.
#[derive(Debug, Serialize)]
pub(super) struct InputField {
    pub id: String,
    pub label: String,
    pub help_text: String,
    /// `text`, `password`, `textarea`, `select` or `checkbox`.
    pub control: &'static str,
    pub choices: Vec<String>,
    pub required: bool,
    pub secret: bool,
}

/// The fields a type's `inputs` declares, in order, with the controls that edit them.
pub(super) fn input_fields(inputs: &Value) -> Vec<InputField> {
    let required: Vec<&str> = inputs
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let text = |f: &Map<String, Value>, key: &str| {
        f.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    inputs
        .get("fields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .map(|f| {
            let id = text(f, "id");
            let flag = |key: &str| f.get(key).and_then(Value::as_bool).unwrap_or(false);
            let choices: Vec<String> = f
                .get("choices")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let control = if f.get("type").and_then(Value::as_str) == Some("boolean") {
                "checkbox"
            } else if !choices.is_empty() {
                "select"
            } else if flag("multiline") {
                "textarea"
            } else if flag("secret") {
                "password"
            } else {
                "text"
            };
            InputField {
                required: required.contains(&id.as_str()),
                label: text(f, "label"),
                help_text: text(f, "help_text"),
                secret: flag("secret"),
                control,
                choices,
                id,
            }
        })
        .collect()
}

/// The `inputs` of a credential write from a generated form. A secret left empty keeps
/// its stored value when there is one (`$encrypted$`, as the API reads it); other empty
/// fields are left out, which clears them on an edit.
pub(super) fn inputs_from(
    form: &Fields,
    fields: &[InputField],
    stored: &Map<String, Value>,
) -> Value {
    let mut inputs = Map::new();
    for f in fields {
        let name = format!("input.{}", f.id);
        if f.control == "checkbox" {
            inputs.insert(f.id.clone(), Value::Bool(form.get(&name).is_some()));
            continue;
        }
        // Browsers send a text area's lines ending in CR LF; keys and certificates are
        // stored with the LF line ends they were written with.
        let value = form.get(&name).unwrap_or_default().replace("\r\n", "\n");
        if !value.is_empty() {
            inputs.insert(f.id.clone(), Value::String(value));
        } else if f.secret && stored.get(&f.id).is_some_and(|v| !v.is_null()) {
            inputs.insert(f.id.clone(), Value::String("$encrypted$".into()));
        }
    }
    Value::Object(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_go_beside_their_fields_and_the_rest_is_general() {
        let e = FormErrors::from_answer(&json!({
            "name": ["This field may not be blank."],
            "inputs": {"ssh_key_data": ["Invalid certificate or key."]},
            "__all__": ["Credential with this Name already exists."],
        }));
        assert_eq!(e.fields["name"], ["This field may not be blank."]);
        assert_eq!(
            e.fields["input.ssh_key_data"],
            ["Invalid certificate or key."]
        );
        assert_eq!(e.general, ["Credential with this Name already exists."]);
        assert_eq!(FormErrors::from_answer(&json!("plain")).general, ["plain"]);
    }

    #[test]
    fn controls_follow_the_type_definition() {
        let fields = input_fields(&json!({"fields": [
            {"id": "u", "label": "U", "type": "string"},
            {"id": "p", "label": "P", "type": "string", "secret": true},
            {"id": "k", "label": "K", "type": "string", "secret": true, "multiline": true},
            {"id": "m", "label": "M", "type": "string", "choices": ["a", "b"]},
            {"id": "b", "label": "B", "type": "boolean"},
        ], "required": ["u"]}));
        let controls: Vec<_> = fields.iter().map(|f| f.control).collect();
        assert_eq!(
            controls,
            ["text", "password", "textarea", "select", "checkbox"]
        );
        assert!(fields[0].required && !fields[1].required);
        assert!(fields[2].secret);
    }

    #[test]
    fn an_empty_secret_keeps_the_stored_one_and_empty_text_is_left_out() {
        let fields = input_fields(&json!({"fields": [
            {"id": "u", "label": "U"}, {"id": "p", "label": "P", "secret": true},
            {"id": "q", "label": "Q", "secret": true}, {"id": "b", "label": "B", "type": "boolean"},
        ]}));
        let pairs = [("input.u", ""), ("input.p", ""), ("input.q", "new")];
        let form = Fields(pairs.map(|(k, v)| (k.into(), v.into())).to_vec());
        let stored = json!({"p": "$encrypted$", "u": "old"});
        let got = inputs_from(&form, &fields, stored.as_object().unwrap());
        assert_eq!(got, json!({"p": "$encrypted$", "q": "new", "b": false}));
    }
}
