//! Parsed input schemas of credential types, shared by every use case that validates
//! credential inputs.

use crate::domain::credential_type::InputSchema;
use crate::store::{CredentialTypeRow, StoreResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries the schema cache keeps before it starts over: 31 managed types, and a key more
/// for each custom type and each edit of one.
const SCHEMA_ENTRIES: usize = 256;

/// Parsed input schemas of credential types, by the type's stored `inputs` text. Parsing
/// one on every create and update was about a twentieth of a create's instructions.
/// Keyed by the text itself, an entry can never be stale: an edited type is a new key.
#[derive(Debug, Default)]
pub struct SchemaCache {
    parsed: Mutex<HashMap<String, Arc<InputSchema>>>,
}

impl SchemaCache {
    /// The input schema of a stored credential type; unreadable stored JSON is an error.
    pub fn schema(&self, ty: &CredentialTypeRow) -> StoreResult<Arc<InputSchema>> {
        let parse = || Ok(Arc::new(InputSchema::parse(&ty.inputs_json()?)));
        let Ok(mut parsed) = self.parsed.lock() else {
            return parse();
        };
        if let Some(schema) = parsed.get(&ty.inputs) {
            return Ok(schema.clone());
        }
        if parsed.len() >= SCHEMA_ENTRIES {
            parsed.clear();
        }
        let schema: Arc<InputSchema> = parse()?;
        parsed.insert(ty.inputs.clone(), schema.clone());
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_with(inputs: &str) -> CredentialTypeRow {
        CredentialTypeRow {
            id: 7,
            name: "t".into(),
            description: String::new(),
            kind: "cloud".into(),
            namespace: None,
            managed: false,
            inputs: inputs.into(),
            injectors: "{}".into(),
            created: String::new(),
            modified: String::new(),
            created_by: None,
            modified_by: None,
            organization_id: None,
            org_name: None,
            org_description: None,
        }
    }

    #[test]
    fn parses_a_schema_once_per_definition() {
        let cache = SchemaCache::default();
        let one = type_with(r#"{"fields": [{"id": "token", "label": "Token", "secret": true}]}"#);
        let edited = type_with(r#"{"fields": [{"id": "key", "label": "Key"}]}"#);
        let first = cache.schema(&one).unwrap();
        assert!(
            Arc::ptr_eq(&first, &cache.schema(&one).unwrap()),
            "parsed again"
        );
        assert_eq!(first.fields.len(), 1);
        assert_eq!(first.fields[0].id, "token");
        assert_eq!(cache.schema(&edited).unwrap().fields[0].id, "key");
    }

    #[test]
    fn an_unreadable_definition_is_an_error_naming_the_row() {
        let err = SchemaCache::default()
            .schema(&type_with("{not json"))
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("credential_types.inputs of row 7"),
            "{message}"
        );
    }
}
