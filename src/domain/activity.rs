//! The activity stream's content rules and its hash chain. Secret values
//! never reach an entry: `inputs` and passwords are recorded as `"hidden"`.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// What a change recorded in the stream says; written in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct ActivityRecord {
    pub actor: Option<i64>,
    pub operation: &'static str,
    pub object1: &'static str,
    pub object2: &'static str,
    pub object_association: &'static str,
    pub object_type: &'static str,
    pub changes: Map<String, Value>,
    /// Objects the entry is linked to (content type, id).
    pub objects: Vec<(&'static str, i64)>,
    /// For creates: the new row's id is added to `changes` and linked once it exists.
    pub link_new: bool,
}

impl ActivityRecord {
    /// A create entry for `object1` with the given field values.
    pub fn create(actor: Option<i64>, object1: &'static str, changes: Map<String, Value>) -> Self {
        ActivityRecord {
            actor,
            operation: "create",
            object1,
            object2: "",
            object_association: "",
            object_type: "",
            changes,
            objects: Vec::new(),
            link_new: true,
        }
    }

    /// An update entry with only the fields that changed; `None` when nothing did.
    pub fn update(
        actor: Option<i64>,
        object1: &'static str,
        id: i64,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
    ) -> Option<Self> {
        Self::update_with(actor, object1, id, diff(before, after))
    }

    /// An update entry with the given `[old, new]` changes; `None` when there are none.
    pub fn update_with(
        actor: Option<i64>,
        object1: &'static str,
        id: i64,
        changes: Map<String, Value>,
    ) -> Option<Self> {
        (!changes.is_empty()).then(|| ActivityRecord {
            actor,
            operation: "update",
            object1,
            object2: "",
            object_association: "",
            object_type: "",
            changes,
            objects: vec![(object1, id)],
            link_new: false,
        })
    }

    /// A `/test/` call on an external credential: who (the actor), which credential,
    /// where it connected, which public inputs the request changed and whether the stored
    /// secrets went along. Names of inputs only, never a value of a secret.
    pub fn lookup_test(
        actor: i64,
        credential: i64,
        destination: Option<&str>,
        changed_inputs: &[String],
        stored_secrets_used: bool,
    ) -> Self {
        let mut changes = Map::new();
        changes.insert("destination".into(), json!(destination));
        changes.insert("changed_inputs".into(), json!(changed_inputs));
        changes.insert("stored_secrets_used".into(), json!(stored_secrets_used));
        Self::on_credential(actor, "test", credential, changes)
    }

    /// A credential rendered for use (`operation` `use`): who (the actor), for what
    /// (the caller's purpose), from where (the client address) and which credentials were
    /// rendered together. Never a value.
    pub fn credential_use(
        actor: i64,
        credential: i64,
        purpose: &str,
        client: Option<&str>,
        rendered_with: &[i64],
    ) -> Self {
        let mut changes = Map::new();
        changes.insert("purpose".into(), json!(purpose));
        changes.insert("client".into(), json!(client));
        changes.insert("credentials".into(), json!(rendered_with));
        Self::on_credential(actor, "use", credential, changes)
    }

    /// Something a user did with one credential that changed nothing in it (a lookup
    /// test, a render), linked to the credential.
    fn on_credential(
        actor: i64,
        operation: &'static str,
        credential: i64,
        changes: Map<String, Value>,
    ) -> Self {
        ActivityRecord {
            actor: Some(actor),
            operation,
            object1: "credential",
            object2: "",
            object_association: "",
            object_type: "",
            changes,
            objects: vec![("credential", credential)],
            link_new: false,
        }
    }

    /// A delete entry: the full field values, not linked to the vanished object.
    pub fn delete(
        actor: Option<i64>,
        object1: &'static str,
        id: i64,
        mut fields: Map<String, Value>,
    ) -> Self {
        fields.insert("id".into(), json!(id));
        ActivityRecord {
            actor,
            operation: "delete",
            object1,
            object2: "",
            object_association: "",
            object_type: "",
            changes: fields,
            objects: Vec::new(),
            link_new: false,
        }
    }

    /// A role grant or revoke (`associate`/`disassociate`), linked to both ends and the role.
    #[allow(clippy::too_many_arguments)]
    pub fn role_change(
        actor: Option<i64>,
        grant: bool,
        object1: (&'static str, i64),
        object2: (&'static str, i64),
        relationship: &str,
        object_type: &'static str,
        role: i64,
    ) -> Self {
        let mut record = Self::association(actor, grant, object1, object2, relationship, "role");
        record.object_type = object_type;
        record.objects.push(("role", role));
        record
    }

    /// An object added to (`grant`) or taken from a many-to-many relation of another, as
    /// AWX records it: `relationship` is the Django through model's dotted name,
    /// `association` the name AWX derives from it.
    pub fn association(
        actor: Option<i64>,
        grant: bool,
        object1: (&'static str, i64),
        object2: (&'static str, i64),
        relationship: &str,
        association: &'static str,
    ) -> Self {
        let action = if grant { "associate" } else { "disassociate" };
        let mut changes = Map::new();
        changes.insert("object1".into(), json!(object1.0));
        changes.insert("object1_pk".into(), json!(object1.1));
        changes.insert("object2".into(), json!(object2.0));
        changes.insert("object2_pk".into(), json!(object2.1));
        changes.insert("action".into(), json!(action));
        changes.insert("relationship".into(), json!(relationship));
        ActivityRecord {
            actor,
            operation: action,
            object1: object1.0,
            object2: object2.0,
            object_association: association,
            object_type: object2.0,
            changes,
            objects: vec![object1, object2],
            link_new: false,
        }
    }
}

/// `[old, new]` for every key whose value differs.
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                k.clone(),
                json!([before.get(k).cloned().unwrap_or(Value::Null), v]),
            )
        })
        .collect()
}

/// AWX renders a related object in `changes` as `"<name>-<id>"`.
pub fn related(name: Option<&str>, id: Option<i64>) -> Value {
    match (name, id) {
        (Some(n), Some(i)) => json!(format!("{n}-{i}")),
        _ => Value::Null,
    }
}

/// The content one entry's hash covers, in a fixed order.
pub struct HashInput<'a> {
    pub prev_hash: &'a str,
    pub id: i64,
    pub timestamp: &'a str,
    pub actor: &'a str,
    pub operation: &'a str,
    pub object1: &'a str,
    pub object2: &'a str,
    pub object_association: &'a str,
    pub object_type: &'a str,
    pub changes: &'a str,
    pub objects: &'a str,
}

/// The chain hash of an entry: SHA-256 over its content and the previous hash, each field
/// length-prefixed so that no two entries can be made to collide by shifting text.
pub fn entry_hash(e: &HashInput<'_>) -> String {
    let mut h = Sha256::new();
    h.update(b"credstore-activity-v1");
    let id = e.id.to_string();
    for part in [
        e.prev_hash,
        &id,
        e.timestamp,
        e.actor,
        e.operation,
        e.object1,
        e.object2,
        e.object_association,
        e.object_type,
        e.changes,
        e.objects,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The recorded fields of a credential; secrets are never recorded, `inputs` is `"hidden"`.
pub fn credential_fields(
    name: &str,
    description: &str,
    organization: Option<(&str, i64)>,
    ty: (&str, i64),
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("description".into(), json!(description));
    m.insert(
        "organization".into(),
        related(organization.map(|o| o.0), organization.map(|o| o.1)),
    );
    m.insert("credential_type".into(), related(Some(ty.0), Some(ty.1)));
    m.insert("inputs".into(), json!("hidden"));
    m
}

/// A JSON document as Python's `json.dumps` writes it (`", "` and `": "` separators),
/// the form AWX records JSON fields in.
pub fn python_json(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The recorded fields of a credential type (managed types leave out their schema).
pub fn credential_type_fields(
    name: &str,
    description: &str,
    kind: &str,
    schema: Option<(&str, &str)>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("description".into(), json!(description));
    m.insert("kind".into(), json!(kind));
    if let Some((inputs, injectors)) = schema {
        m.insert("inputs".into(), json!(inputs));
        m.insert("injectors".into(), json!(injectors));
    }
    m
}

/// The recorded fields of an organization.
pub fn organization_fields(name: &str, description: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("description".into(), json!(description));
    m.insert("max_hosts".into(), json!(0));
    m.insert("default_environment".into(), Value::Null);
    m
}

/// The recorded fields of a team.
pub fn team_fields(name: &str, description: &str, organization: (&str, i64)) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("description".into(), json!(description));
    m.insert(
        "organization".into(),
        related(Some(organization.0), Some(organization.1)),
    );
    m
}

/// The recorded fields of a user; the password is `"hidden"`.
pub fn user_fields(
    username: &str,
    first_name: &str,
    last_name: &str,
    email: &str,
    is_superuser: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("username".into(), json!(username));
    m.insert("first_name".into(), json!(first_name));
    m.insert("last_name".into(), json!(last_name));
    m.insert("email".into(), json!(email));
    m.insert("is_superuser".into(), json!(is_superuser));
    m.insert("password".into(), json!("hidden"));
    m
}

/// The recorded fields of an input source (credstore records these; AWX does not).
pub fn input_source_fields(
    field: &str,
    target: i64,
    source: i64,
    description: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("description".into(), json!(description));
    m.insert("input_field_name".into(), json!(field));
    m.insert("target_credential".into(), json!(target));
    m.insert("source_credential".into(), json!(source));
    m
}

impl ActivityRecord {
    /// Drops the links to one kind of object (AWX does not link the role of team grants).
    pub fn without(mut self, ct: &str) -> Self {
        self.objects.retain(|(c, _)| *c != ct);
        self
    }

    /// Links the entry to more objects.
    pub fn linked(mut self, ct: &'static str, id: i64) -> Self {
        self.objects.push((ct, id));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_keeps_only_changes() {
        let before = json!({"name": "a", "description": "x"})
            .as_object()
            .cloned()
            .unwrap();
        let after = json!({"name": "b", "description": "x"})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(
            Value::Object(diff(&before, &after)),
            json!({"name": ["a", "b"]})
        );
        assert!(ActivityRecord::update(None, "credential", 1, &before, &before).is_none());
    }

    #[test]
    fn hash_depends_on_every_field_and_the_previous_hash() {
        let base = HashInput {
            prev_hash: GENESIS,
            id: 1,
            timestamp: "t",
            actor: "1",
            operation: "create",
            object1: "credential",
            object2: "",
            object_association: "",
            object_type: "",
            changes: "{}",
            objects: "[]",
        };
        let h = entry_hash(&base);
        assert_eq!(h.len(), 64);
        assert_ne!(h, entry_hash(&HashInput { id: 2, ..base }));
        assert_ne!(
            h,
            entry_hash(&HashInput {
                prev_hash: "x",
                ..base
            })
        );
        assert_ne!(
            h,
            entry_hash(&HashInput {
                changes: "{\"a\":1}",
                ..base
            })
        );
        // Shifting text between fields changes the hash (length prefixes).
        assert_ne!(
            entry_hash(&HashInput {
                object1: "ab",
                object2: "",
                ..base
            }),
            entry_hash(&HashInput {
                object1: "a",
                object2: "b",
                ..base
            })
        );
    }
}
