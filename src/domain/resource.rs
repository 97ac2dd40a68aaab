//! One description per field of every resource: its type, whether and how it may be
//! filtered (storage column, forbidden), and what OPTIONS says about it (label, help,
//! access, required, default, choices). Filtering, ordering and OPTIONS all read these
//! tables; nothing repeats them.

/// How a field is typed, for value coercion in filters.
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
    /// The named resource's rows whose column (`FieldSpec::column`, on that resource's
    /// table) points at this row: a reverse relation, for filters only
    /// (`input_sources__input_field_name=password`).
    Reverse(&'static str),
    /// Computed for output only; never filtered.
    Computed,
}

/// Who may send a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
    /// Accepted on create only and never shown (credential `user`/`team`).
    CreateOnly,
}

/// The default OPTIONS announces for a writable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    None,
    Null,
    EmptyString,
    EmptyObject,
    /// The model's default text, which AWX's serializers pass on to writable fields.
    Text(&'static str),
}

/// Where a field's `choices` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choices {
    None,
    /// The resource's own `type` value.
    TypeName,
    /// Credential type kinds (all on GET, `net`/`cloud` on writes).
    Kinds,
    /// Token scopes.
    Scopes,
}

/// Help text: AWX's templated sentences for the standard fields, or a fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Help {
    None,
    Standard,
    Text(&'static str),
    /// Only on list views, whose serializer is the create one (credential `organization`).
    ListOnly(&'static str),
}

/// What OPTIONS shows about an API field.
#[derive(Debug, Clone, Copy)]
pub struct ApiMeta {
    pub label: &'static str,
    /// The OPTIONS `type`: integer, choice, string, datetime, object, id, json, boolean, field.
    pub kind: &'static str,
    pub access: Access,
    pub required: bool,
    pub max_length: Option<u32>,
    pub default: DefaultValue,
    pub choices: Choices,
    pub help: Help,
}

/// One field of a resource.
#[derive(Debug)]
pub struct FieldSpec {
    /// Name in the API and in query strings.
    pub name: &'static str,
    /// Column in the resource's table; empty for computed fields.
    pub column: &'static str,
    pub ty: FieldType,
    /// Filtering or ordering on it answers 403 (secrets, password hashes).
    pub forbidden: bool,
    /// `None` for fields that exist only for filtering (e.g. `created_by`).
    pub api: Option<ApiMeta>,
}

/// A resource: its model name (for messages), table, fields and search behaviour.
#[derive(Debug)]
pub struct Resource {
    /// Key used by `ForeignKey` references and the `type` field.
    pub key: &'static str,
    /// AWX model name used in error messages (`Credential has no field named ...`).
    pub model: &'static str,
    /// Human name used in help texts ("credential type").
    pub verbose: &'static str,
    pub table: &'static str,
    /// API fields in representation order, then filter-only fields.
    pub fields: &'static [FieldSpec],
    /// Fields `search=` looks in.
    pub search_fields: &'static [&'static str],
    /// `related_search_fields` announced by OPTIONS.
    pub related_search: &'static [&'static str],
    /// Ordering when the client gives none.
    pub default_order: &'static [&'static str],
}

impl Resource {
    /// Adds DRF's message for every string in `body` longer than the `max_length` OPTIONS
    /// announces for its field: the announcement and the rule are one description. Fields
    /// that already have an error (from their own parser) are left alone.
    pub fn check_announced_lengths(
        &self,
        body: &serde_json::Map<String, serde_json::Value>,
        errors: &mut super::errors::FieldErrors,
    ) {
        for field in self.fields {
            let Some(max) = field.api.and_then(|api| api.max_length) else {
                continue;
            };
            let Some(text) = body.get(field.name).and_then(serde_json::Value::as_str) else {
                continue;
            };
            if text.chars().count() > max as usize && !errors.has(field.name) {
                errors.add(
                    field.name,
                    format!("Ensure this field has no more than {max} characters."),
                );
            }
        }
    }

    /// The stored field called `name` (`pk` is an alias of `id`); computed fields are not
    /// fields for the query language.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        let name = if name == "pk" { "id" } else { name };
        self.fields
            .iter()
            .find(|f| f.name == name && !f.column.is_empty())
    }
}

use FieldType::*;

const fn meta(label: &'static str, kind: &'static str, access: Access) -> ApiMeta {
    ApiMeta {
        label,
        kind,
        access,
        required: false,
        max_length: None,
        default: DefaultValue::None,
        choices: Choices::None,
        help: Help::None,
    }
}

const fn ro(label: &'static str, kind: &'static str) -> ApiMeta {
    meta(label, kind, Access::ReadOnly)
}

const fn rw(label: &'static str, kind: &'static str) -> ApiMeta {
    meta(label, kind, Access::ReadWrite)
}

impl ApiMeta {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn max(mut self, n: u32) -> Self {
        self.max_length = Some(n);
        self
    }
    const fn default(mut self, d: DefaultValue) -> Self {
        self.default = d;
        self
    }
    const fn choices(mut self, c: Choices) -> Self {
        self.choices = c;
        self
    }
    const fn standard(mut self) -> Self {
        self.help = Help::Standard;
        self
    }
    const fn help(mut self, text: &'static str) -> Self {
        self.help = Help::Text(text);
        self
    }
    const fn list_help(mut self, text: &'static str) -> Self {
        self.help = Help::ListOnly(text);
        self
    }
    const fn create_only(mut self) -> Self {
        self.access = Access::CreateOnly;
        self
    }
}

const fn field(name: &'static str, column: &'static str, ty: FieldType, api: ApiMeta) -> FieldSpec {
    FieldSpec {
        name,
        column,
        ty,
        forbidden: false,
        api: Some(api),
    }
}

const fn hidden(name: &'static str, column: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        column,
        ty,
        forbidden: false,
        api: None,
    }
}

const fn secret(
    name: &'static str,
    column: &'static str,
    ty: FieldType,
    api: Option<ApiMeta>,
) -> FieldSpec {
    FieldSpec {
        name,
        column,
        ty,
        forbidden: true,
        api,
    }
}

const ID: FieldSpec = field("id", "id", Id, ro("ID", "integer").standard());
const TYPE: FieldSpec = field(
    "type",
    "",
    Computed,
    ro("Type", "choice").standard().choices(Choices::TypeName),
);
const URL: FieldSpec = field("url", "", Computed, ro("Url", "string").standard());
const RELATED: FieldSpec = field("related", "", Computed, ro("Related", "object").standard());
const SUMMARY: FieldSpec = field(
    "summary_fields",
    "",
    Computed,
    ro("Summary fields", "object").standard(),
);
const CREATED: FieldSpec = field(
    "created",
    "created",
    DateTime,
    ro("Created", "datetime").standard(),
);
const MODIFIED: FieldSpec = field(
    "modified",
    "modified",
    DateTime,
    ro("Modified", "datetime").standard(),
);
const NAME: FieldSpec = field(
    "name",
    "name",
    Text,
    rw("Name", "string").required().max(512).standard(),
);
const DESCRIPTION: FieldSpec = field(
    "description",
    "description",
    Text,
    rw("Description", "string")
        .standard()
        .default(DefaultValue::EmptyString),
);
const CREATED_BY: FieldSpec = hidden("created_by", "created_by", ForeignKey("user"));
const MODIFIED_BY: FieldSpec = hidden("modified_by", "modified_by", ForeignKey("user"));
const JSON_HELP: &str =
    "Enter inputs using either JSON or YAML syntax. Refer to the documentation for example syntax.";

/// `/api/v2/credentials/`.
pub static CREDENTIAL: Resource = Resource {
    key: "credential",
    model: "Credential",
    verbose: "credential",
    table: "credentials",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        NAME,
        DESCRIPTION,
        field(
            "organization",
            "organization_id",
            ForeignKey("organization"),
            rw("Organization", "id")
                .default(DefaultValue::Null)
                .list_help("Inherit permissions from organization roles. If provided on creation, do not give either user or team."),
        ),
        field(
            "credential_type",
            "credential_type_id",
            ForeignKey("credential_type"),
            rw("Credential Type", "id").required().help(
                "Specify the type of credential you want to create. Refer to the documentation for details on each type.",
            ),
        ),
        field("managed", "managed", Boolean, ro("Managed", "boolean")),
        secret("inputs", "inputs", Json, Some(rw("Inputs", "json").default(DefaultValue::EmptyObject).help(JSON_HELP))),
        field("kind", "", Computed, ro("Kind", "field")),
        field("cloud", "", Computed, ro("Cloud", "field")),
        field("kubernetes", "", Computed, ro("Kubernetes", "field")),
        field(
            "user",
            "",
            Computed,
            rw("User", "id").create_only().default(DefaultValue::Null).help(
                "Write-only field used to add user to owner role. If provided, do not give either team or organization. Only valid for creation.",
            ),
        ),
        field(
            "team",
            "",
            Computed,
            rw("Team", "id").create_only().default(DefaultValue::Null).help(
                "Write-only field used to add team to owner role. If provided, do not give either user or organization. Only valid for creation.",
            ),
        ),
        CREATED_BY,
        MODIFIED_BY,
        hidden(
            "input_sources",
            "target_credential_id",
            Reverse("credential_input_source"),
        ),
        hidden(
            "target_input_sources",
            "source_credential_id",
            Reverse("credential_input_source"),
        ),
    ],
    search_fields: &["description", "name"],
    // AWX lists every reverse relation of its Credential model, including the job and
    // project ones credstore does not have; clients only display these names.
    related_search: &[
        "created_by__search",
        "modified_by__search",
        "organization__search",
        "credential_type__search",
        "input_sources__search",
        "target_input_sources__search",
        "projectupdates__search",
        "organization_galaxy_credentials__search",
        "unifiedjobs__search",
        "projects_signature_validation__search",
        "workflowjobs__search",
        "jobs__search",
        "ad_hoc_commands__search",
        "workflowjobtemplates__search",
        "projects__search",
        "workflowjobtemplatenodes__search",
        "schedules__search",
        "instancegroups__search",
        "executionenvironments__search",
        "jobtemplates__search",
        "workflowjobnodes__search",
        "unifiedjobtemplates__search",
        "joblaunchconfigs__search",
    ],
    default_order: &["name"],
};

/// `/api/v2/credential_types/`.
pub static CREDENTIAL_TYPE: Resource = Resource {
    key: "credential_type",
    model: "CredentialType",
    verbose: "credential type",
    table: "credential_types",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        NAME,
        DESCRIPTION,
        field("kind", "kind", Text, rw("Kind", "choice").required().choices(Choices::Kinds)),
        field("namespace", "namespace", Text, ro("Namespace", "string")),
        field("managed", "managed", Boolean, ro("Managed", "boolean")),
        field("inputs", "inputs", Json, rw("Inputs", "json").default(DefaultValue::EmptyObject).help(JSON_HELP)),
        field(
            "injectors",
            "injectors",
            Json,
            rw("Injectors", "json").default(DefaultValue::EmptyObject).help(
                "Enter injectors using either JSON or YAML syntax. Refer to the documentation for example syntax.",
            ),
        ),
        CREATED_BY,
        MODIFIED_BY,
        // credstore's extension: filterable, but not announced in OPTIONS, so that AWX
        // clients see AWX's schema (answers show it only when set).
        hidden("organization", "organization_id", ForeignKey("organization")),
    ],
    search_fields: &["description", "name"],
    related_search: &["credentials__search", "created_by__search", "modified_by__search"],
    default_order: &["kind", "name"],
};

/// credstore's `organization` of a credential type (the filter is the hidden field of
/// [`CREDENTIAL_TYPE`]), as OPTIONS announces it to callers who may create types only in
/// an organization; a superuser's OPTIONS stay AWX's, where every type is global.
pub const CREDENTIAL_TYPE_ORGANIZATION: ApiMeta = rw("Organization", "id")
    .default(DefaultValue::Null)
    .help("The organization that owns this credential type; its admins manage it and its members use it. Set once, at creation.");

/// `/api/v2/organizations/`.
pub static ORGANIZATION: Resource = Resource {
    key: "organization",
    model: "Organization",
    verbose: "organization",
    table: "organizations",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        NAME,
        DESCRIPTION,
        CREATED_BY,
        MODIFIED_BY,
    ],
    search_fields: &["description", "name"],
    related_search: &[
        "created_by__search",
        "modified_by__search",
        "teams__search",
        "credentials__search",
    ],
    default_order: &["name"],
};

/// `/api/v2/teams/`.
pub static TEAM: Resource = Resource {
    key: "team",
    model: "Team",
    verbose: "team",
    table: "teams",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        NAME,
        DESCRIPTION,
        field(
            "organization",
            "organization_id",
            ForeignKey("organization"),
            rw("Organization", "id").required(),
        ),
        CREATED_BY,
        MODIFIED_BY,
    ],
    search_fields: &["description", "name"],
    related_search: &[
        "created_by__search",
        "modified_by__search",
        "organization__search",
    ],
    default_order: &["organization", "name"],
};

/// `/api/v2/users/`.
pub static USER: Resource = Resource {
    key: "user",
    model: "User",
    verbose: "user",
    table: "users",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        field(
            "username",
            "username",
            Text,
            rw("Username", "string")
                .required()
                .max(150)
                .help("Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."),
        ),
        field(
            "first_name",
            "first_name",
            Text,
            rw("First name", "string")
                .max(150)
                .default(DefaultValue::EmptyString),
        ),
        field(
            "last_name",
            "last_name",
            Text,
            rw("Last name", "string")
                .max(150)
                .default(DefaultValue::EmptyString),
        ),
        field(
            "email",
            "email",
            Text,
            rw("Email address", "string")
                .max(254)
                .default(DefaultValue::EmptyString),
        ),
        field(
            "is_superuser",
            "is_superuser",
            Boolean,
            rw("Superuser status", "boolean").help(
                "Designates that this user has all permissions without explicitly assigning them.",
            ),
        ),
        field(
            "is_system_auditor",
            "is_system_auditor",
            Boolean,
            rw("Is system auditor", "boolean"),
        ),
        secret(
            "password",
            "password_hash",
            Text,
            Some(
                rw("Password", "string")
                    .help("Field used to change the password.")
                    .default(DefaultValue::EmptyString),
            ),
        ),
        field(
            "last_login",
            "last_login",
            DateTime,
            ro("Last login", "datetime"),
        ),
    ],
    search_fields: &["username", "first_name", "last_name", "email"],
    related_search: &["teams__search", "organizations__search", "roles__search"],
    default_order: &["username"],
};

/// `/api/v2/roles/`.
pub static ROLE: Resource = Resource {
    key: "role",
    model: "Role",
    verbose: "role",
    table: "roles",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        field("name", "", Computed, ro("Name", "string")),
        field("description", "", Computed, ro("Description", "string")),
        hidden("role_field", "role_field", Text),
        hidden("content_type", "content_type", Text),
        hidden("object_id", "object_id", Id),
    ],
    search_fields: &["role_field", "content_type"],
    related_search: &[],
    default_order: &["id"],
};

/// `/api/v2/tokens/`.
pub static TOKEN: Resource = Resource {
    key: "o_auth2_access_token",
    model: "OAuth2AccessToken",
    verbose: "access token",
    table: "tokens",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        field(
            "description",
            "description",
            Text,
            rw("Description", "string")
                .standard()
                .default(DefaultValue::EmptyString),
        ),
        field(
            "user",
            "user_id",
            ForeignKey("user"),
            ro("User", "id").help("The user representing the token owner"),
        ),
        secret("token", "token_hash", Text, Some(ro("Token", "string"))),
        field("refresh_token", "", Computed, ro("Refresh token", "field")),
        field(
            "application",
            "",
            Computed,
            rw("Application", "id").default(DefaultValue::Null),
        ),
        field("expires", "expires", DateTime, ro("Expires", "datetime")),
        field(
            "scope",
            "scope",
            Text,
            rw("Scope", "string")
                .default(DefaultValue::Text("write"))
                .choices(Choices::Scopes)
                .help("Allowed scopes, further restricts user's permissions. Must be a simple space-separated string with allowed scopes ['read', 'write']."),
        ),
    ],
    search_fields: &["description"],
    related_search: &["user__search"],
    default_order: &["id"],
};

/// `/api/v2/credential_input_sources/`.
pub static INPUT_SOURCE: Resource = Resource {
    key: "credential_input_source",
    model: "CredentialInputSource",
    verbose: "credential input source",
    table: "credential_input_sources",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        CREATED,
        MODIFIED,
        DESCRIPTION,
        field(
            "input_field_name",
            "input_field_name",
            Text,
            rw("Input field name", "string").required().max(1024),
        ),
        field(
            "metadata",
            "metadata",
            Json,
            rw("Metadata", "json").default(DefaultValue::EmptyObject),
        ),
        field(
            "target_credential",
            "target_credential_id",
            ForeignKey("credential"),
            rw("Target credential", "id").required(),
        ),
        field(
            "source_credential",
            "source_credential_id",
            ForeignKey("credential"),
            rw("Source credential", "id").required(),
        ),
        CREATED_BY,
        MODIFIED_BY,
    ],
    search_fields: &["description"],
    related_search: &[
        "target_credential__search",
        "created_by__search",
        "modified_by__search",
        "source_credential__search",
    ],
    default_order: &[
        "target_credential__id",
        "source_credential__id",
        "input_field_name",
    ],
};

/// `/api/v2/activity_stream/`.
pub static ACTIVITY: Resource = Resource {
    key: "activity_stream",
    model: "ActivityStream",
    verbose: "activity stream",
    table: "activity_stream",
    fields: &[
        ID,
        TYPE,
        URL,
        RELATED,
        SUMMARY,
        field(
            "timestamp",
            "timestamp",
            DateTime,
            ro("Timestamp", "datetime"),
        ),
        field("operation", "operation", Text, ro("Operation", "choice")),
        field("changes", "changes", Json, ro("Changes", "field")),
        field("object1", "object1", Text, ro("Object1", "string")),
        field("object2", "object2", Text, ro("Object2", "string")),
        field(
            "object_association",
            "object_association",
            Text,
            ro("Object association", "field"),
        ),
        field("action_node", "", Computed, ro("Action node", "string")),
        field(
            "object_type",
            "object_type",
            Text,
            ro("Object type", "field"),
        ),
        hidden("actor", "actor_id", ForeignKey("user")),
    ],
    search_fields: &["changes"],
    related_search: &["actor__search"],
    default_order: &["id"],
};

/// Looks up a resource by the key a foreign key names.
pub fn resource_by_key(key: &str) -> Option<&'static Resource> {
    [
        &CREDENTIAL,
        &CREDENTIAL_TYPE,
        &ORGANIZATION,
        &TEAM,
        &USER,
        &ROLE,
        &TOKEN,
        &INPUT_SOURCE,
    ]
    .into_iter()
    .find(|r| r.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computed_fields_are_not_filterable() {
        assert!(CREDENTIAL.field("kind").is_none());
        assert!(CREDENTIAL.field("url").is_none());
        assert!(CREDENTIAL.field("name").is_some());
        assert!(CREDENTIAL.field("pk").is_some());
        assert!(CREDENTIAL.field("created_by").is_some());
    }

    #[test]
    fn every_foreign_key_names_a_resource() {
        for r in [
            &CREDENTIAL,
            &CREDENTIAL_TYPE,
            &ORGANIZATION,
            &TEAM,
            &USER,
            &ROLE,
            &TOKEN,
        ] {
            for f in r.fields {
                if let ForeignKey(k) = f.ty {
                    assert!(resource_by_key(k).is_some(), "{}.{}", r.key, f.name);
                }
            }
        }
    }
}
