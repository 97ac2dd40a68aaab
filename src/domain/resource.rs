//! One description per field of every resource: its type, whether it may be filtered or
//! ordered on, whether filtering is forbidden (secrets), and where it lives in storage.
//! Filtering, ordering and OPTIONS read these tables; nothing repeats them.

/// How a field is typed, for value coercion in filters and for OPTIONS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The primary key.
    Id,
    /// Free text.
    Text,
    /// `true/false`.
    Boolean,
    /// ISO timestamp.
    DateTime,
    /// A JSON document (filtered as its text).
    Json,
    /// A foreign key to the named resource.
    ForeignKey(&'static str),
}

/// One field of a resource as the query language sees it.
#[derive(Debug)]
pub struct FieldSpec {
    /// Name in the API and in query strings.
    pub name: &'static str,
    /// Column in the resource's table.
    pub column: &'static str,
    pub ty: FieldType,
    /// Filtering or ordering on it answers 403 (secrets, password hashes).
    pub forbidden: bool,
}

/// A resource: its model name (for messages), table, fields and search behaviour.
#[derive(Debug)]
pub struct Resource {
    /// Key used by `ForeignKey` references.
    pub key: &'static str,
    /// AWX model name used in error messages (`Credential has no field named ...`).
    pub model: &'static str,
    pub table: &'static str,
    pub fields: &'static [FieldSpec],
    /// Fields `search=` looks in.
    pub search_fields: &'static [&'static str],
    /// Ordering when the client gives none.
    pub default_order: &'static [&'static str],
}

impl Resource {
    /// The field called `name` (`pk` is an alias of `id`).
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        let name = if name == "pk" { "id" } else { name };
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn f(name: &'static str, column: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        column,
        ty,
        forbidden: false,
    }
}

const fn secret(name: &'static str, column: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        column,
        ty,
        forbidden: true,
    }
}

use FieldType::*;

/// `/api/v2/credentials/`.
pub static CREDENTIAL: Resource = Resource {
    key: "credential",
    model: "Credential",
    table: "credentials",
    fields: &[
        f("id", "id", Id),
        f("created", "created", DateTime),
        f("modified", "modified", DateTime),
        f("name", "name", Text),
        f("description", "description", Text),
        f(
            "organization",
            "organization_id",
            ForeignKey("organization"),
        ),
        f(
            "credential_type",
            "credential_type_id",
            ForeignKey("credential_type"),
        ),
        f("managed", "managed", Boolean),
        secret("inputs", "inputs", Json),
        f("created_by", "created_by", ForeignKey("user")),
        f("modified_by", "modified_by", ForeignKey("user")),
    ],
    search_fields: &["name", "description"],
    default_order: &["name"],
};

/// `/api/v2/credential_types/`.
pub static CREDENTIAL_TYPE: Resource = Resource {
    key: "credential_type",
    model: "CredentialType",
    table: "credential_types",
    fields: &[
        f("id", "id", Id),
        f("created", "created", DateTime),
        f("modified", "modified", DateTime),
        f("name", "name", Text),
        f("description", "description", Text),
        f("kind", "kind", Text),
        f("namespace", "namespace", Text),
        f("managed", "managed", Boolean),
        f("inputs", "inputs", Json),
        f("injectors", "injectors", Json),
        f("created_by", "created_by", ForeignKey("user")),
        f("modified_by", "modified_by", ForeignKey("user")),
    ],
    search_fields: &["name", "description"],
    default_order: &["kind", "name"],
};

/// `/api/v2/organizations/`.
pub static ORGANIZATION: Resource = Resource {
    key: "organization",
    model: "Organization",
    table: "organizations",
    fields: &[
        f("id", "id", Id),
        f("created", "created", DateTime),
        f("modified", "modified", DateTime),
        f("name", "name", Text),
        f("description", "description", Text),
        f("created_by", "created_by", ForeignKey("user")),
        f("modified_by", "modified_by", ForeignKey("user")),
    ],
    search_fields: &["name", "description"],
    default_order: &["name"],
};

/// `/api/v2/teams/`.
pub static TEAM: Resource = Resource {
    key: "team",
    model: "Team",
    table: "teams",
    fields: &[
        f("id", "id", Id),
        f("created", "created", DateTime),
        f("modified", "modified", DateTime),
        f("name", "name", Text),
        f("description", "description", Text),
        f(
            "organization",
            "organization_id",
            ForeignKey("organization"),
        ),
        f("created_by", "created_by", ForeignKey("user")),
        f("modified_by", "modified_by", ForeignKey("user")),
    ],
    search_fields: &["name", "description"],
    default_order: &["organization", "name"],
};

/// `/api/v2/users/`.
pub static USER: Resource = Resource {
    key: "user",
    model: "User",
    table: "users",
    fields: &[
        f("id", "id", Id),
        f("created", "created", DateTime),
        f("modified", "modified", DateTime),
        f("username", "username", Text),
        f("first_name", "first_name", Text),
        f("last_name", "last_name", Text),
        f("email", "email", Text),
        f("is_superuser", "is_superuser", Boolean),
        f("is_system_auditor", "is_system_auditor", Boolean),
        f("last_login", "last_login", DateTime),
        secret("password", "password_hash", Text),
    ],
    search_fields: &["username", "first_name", "last_name", "email"],
    default_order: &["username"],
};

/// `/api/v2/tokens/`.
pub static TOKEN: Resource = Resource {
    key: "token",
    model: "OAuth2AccessToken",
    table: "tokens",
    fields: &[
        f("id", "id", Id),
        f("created", "created", DateTime),
        f("modified", "modified", DateTime),
        f("description", "description", Text),
        f("user", "user_id", ForeignKey("user")),
        f("scope", "scope", Text),
        f("expires", "expires", DateTime),
        secret("token", "token_hash", Text),
    ],
    search_fields: &["description"],
    default_order: &["id"],
};

/// Looks up a resource by the key a foreign key names.
pub fn resource_by_key(key: &str) -> Option<&'static Resource> {
    [&CREDENTIAL, &CREDENTIAL_TYPE, &ORGANIZATION, &TEAM, &USER]
        .into_iter()
        .find(|r| r.key == key)
}

/// `/api/v2/roles/`.
pub static ROLE: Resource = Resource {
    key: "role",
    model: "Role",
    table: "roles",
    fields: &[
        f("id", "id", Id),
        f("role_field", "role_field", Text),
        f("content_type", "content_type", Text),
        f("object_id", "object_id", Id),
    ],
    search_fields: &["role_field", "content_type"],
    default_order: &["id"],
};
