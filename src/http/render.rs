//! JSON representations of every resource, in AWX's field order. All URLs are relative.

use crate::domain::credential::mask_inputs;
use crate::domain::named_url::escape;
use crate::domain::rbac::{
    Caller, RoleDef, UserCapabilities, CREDENTIAL_ROLES, CREDENTIAL_TYPE_ROLES, ORGANIZATION_ROLES,
    TEAM_ROLES, USER_ONLY_ORG_ROLES,
};
use crate::service::organizations::Counts;
use crate::service::related::{Credentials, People};
use crate::store::{
    CredentialRow, CredentialTypeRow, OrganizationRow, OwnerSummary, RoleRef, StoreError, TeamRow,
    UserRow,
};
use serde_json::{json, Map, Value};

/// `{id, username, first_name, last_name}` of a referenced user that still exists.
fn person(people: &People, id: Option<i64>) -> Option<Value> {
    let u = people.get(id)?;
    Some(
        json!({"id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name}),
    )
}

/// Adds `created_by`/`modified_by` links and summaries when set.
pub(super) fn audit_fields(
    related: &mut Map<String, Value>,
    summary: &mut Map<String, Value>,
    people: &People,
    created_by: Option<i64>,
    modified_by: Option<i64>,
) {
    for (key, id) in [("created_by", created_by), ("modified_by", modified_by)] {
        if let Some(s) = person(people, id) {
            related.insert(
                key.into(),
                Value::String(format!("/api/v2/users/{}/", s["id"])),
            );
            summary.insert(key.into(), s);
        }
    }
}

fn object_roles(defs: &[RoleDef], roles: &[RoleRef], user_only: &[&str]) -> Value {
    let mut out = Map::new();
    for (field, name, description) in defs {
        if let Some(r) = roles.iter().find(|r| r.role_field == *field) {
            let mut entry = json!({"description": description, "name": name, "id": r.id});
            if user_only.contains(field) {
                entry["user_only"] = Value::Bool(true);
            }
            out.insert(field.to_string(), entry);
        }
    }
    Value::Object(out)
}

/// A user; the password is always shown as `$encrypted$`.
pub fn user(u: &UserRow, caps: UserCapabilities) -> Value {
    let base = format!("/api/v2/users/{}/", u.id);
    let related: Map<String, Value> = [
        "teams",
        "organizations",
        "admin_of_organizations",
        "projects",
        "credentials",
        "roles",
        "activity_stream",
        "access_list",
        "tokens",
        "authorized_tokens",
        "personal_tokens",
    ]
    .iter()
    .map(|k| (k.to_string(), Value::String(format!("{base}{k}/"))))
    .collect();
    json!({
        "id": u.id, "type": "user", "url": base, "related": related,
        "summary_fields": {
            "resource": {"ansible_id": resource_uuid("user", u.id, &u.created), "resource_type": "shared.user"},
            "user_capabilities": {"edit": caps.edit, "delete": caps.delete},
        },
        // AWX shows a user's `modified` as its last login (null until the first one).
        "created": u.created, "modified": u.last_login,
        "username": u.username, "first_name": u.first_name, "last_name": u.last_name, "email": u.email,
        "is_superuser": u.is_superuser, "is_system_auditor": u.is_system_auditor,
        "password": "$encrypted$", "last_login": u.last_login,
    })
}

/// A stable identifier in UUID form for `summary_fields.resource.ansible_id`, derived
/// from the object's type, id and creation time.
pub fn resource_uuid(kind: &str, id: i64, created: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("credstore-resource\0{kind}\0{id}\0{created}").as_bytes());
    let h: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The sub-resources AWX links from an organization, in its order.
const ORGANIZATION_RELATED: [&str; 20] = [
    "execution_environments",
    "projects",
    "inventories",
    "job_templates",
    "workflow_job_templates",
    "users",
    "admins",
    "teams",
    "credentials",
    "applications",
    "activity_stream",
    "notification_templates",
    "notification_templates_started",
    "notification_templates_success",
    "notification_templates_error",
    "notification_templates_approvals",
    "object_roles",
    "access_list",
    "instance_groups",
    "galaxy_credentials",
];

/// An organization.
pub fn organization(
    o: &OrganizationRow,
    people: &People,
    roles: &[RoleRef],
    counts: Counts,
    edit: bool,
    delete: bool,
) -> Value {
    let base = format!("/api/v2/organizations/{}/", o.id);
    let mut related = Map::new();
    let mut summary = Map::new();
    summary.insert(
        "resource".into(),
        json!({"ansible_id": resource_uuid("organization", o.id, &o.created), "resource_type": "shared.organization"}),
    );
    audit_fields(
        &mut related,
        &mut summary,
        people,
        o.created_by,
        o.modified_by,
    );
    for k in ORGANIZATION_RELATED {
        related.insert(k.into(), Value::String(format!("{base}{k}/")));
    }
    summary.insert(
        "object_roles".into(),
        object_roles(&ORGANIZATION_ROLES, roles, &USER_ONLY_ORG_ROLES),
    );
    summary.insert(
        "user_capabilities".into(),
        json!({"edit": edit, "delete": delete}),
    );
    summary.insert(
        "related_field_counts".into(),
        json!({"inventories": 0, "teams": counts.teams, "users": counts.users, "job_templates": 0,
               "admins": counts.admins, "projects": 0}),
    );
    json!({
        "id": o.id, "type": "organization", "url": base, "related": related, "summary_fields": summary,
        "created": o.created, "modified": o.modified, "name": o.name, "description": o.description,
        "max_hosts": 0, "custom_virtualenv": null, "default_environment": null,
    })
}

/// A team.
pub fn team(
    t: &TeamRow,
    org: Option<&OrganizationRow>,
    people: &People,
    roles: &[RoleRef],
    admin: bool,
) -> Value {
    let base = format!("/api/v2/teams/{}/", t.id);
    let mut related = Map::new();
    let mut summary = Map::new();
    if let Some(o) = org {
        summary.insert(
            "organization".into(),
            json!({"id": o.id, "name": o.name, "description": o.description}),
        );
    }
    audit_fields(
        &mut related,
        &mut summary,
        people,
        t.created_by,
        t.modified_by,
    );
    for k in [
        "projects",
        "users",
        "credentials",
        "roles",
        "object_roles",
        "activity_stream",
        "access_list",
    ] {
        related.insert(k.into(), Value::String(format!("{base}{k}/")));
    }
    related.insert(
        "organization".into(),
        Value::String(format!("/api/v2/organizations/{}/", t.organization_id)),
    );
    summary.insert(
        "resource".into(),
        json!({"ansible_id": resource_uuid("team", t.id, &t.created), "resource_type": "shared.team"}),
    );
    summary.insert("object_roles".into(), object_roles(&TEAM_ROLES, roles, &[]));
    summary.insert(
        "user_capabilities".into(),
        json!({"edit": admin, "delete": admin}),
    );
    json!({
        "id": t.id, "type": "team", "url": base, "related": related, "summary_fields": summary,
        "created": t.created, "modified": t.modified, "name": t.name, "description": t.description,
        "organization": t.organization_id,
    })
}

/// A credential type. `detail` adds `related.named_url`.
pub fn credential_type(
    t: &CredentialTypeRow,
    people: &People,
    roles: &[RoleRef],
    changeable: bool,
    detail: bool,
) -> Result<Value, StoreError> {
    let base = format!("/api/v2/credential_types/{}/", t.id);
    let mut related = Map::new();
    let mut summary = Map::new();
    if detail {
        related.insert(
            "named_url".into(),
            Value::String(format!(
                "/api/v2/credential_types/{}+{}/",
                escape(&t.name),
                escape(&t.kind)
            )),
        );
    }
    audit_fields(
        &mut related,
        &mut summary,
        people,
        t.created_by,
        t.modified_by,
    );
    related.insert(
        "credentials".into(),
        Value::String(format!("{base}credentials/")),
    );
    related.insert(
        "activity_stream".into(),
        Value::String(format!("{base}activity_stream/")),
    );
    if let Some(org) = t.organization_id {
        owned_type_fields(t, org, roles, &mut related, &mut summary);
    }
    summary.insert(
        "user_capabilities".into(),
        json!({"edit": changeable, "delete": changeable}),
    );
    let inputs = t.inputs_json()?;
    let injectors = t.injectors_json()?;
    let mut out = json!({
        "id": t.id, "type": "credential_type", "url": base, "related": related, "summary_fields": summary,
        "created": t.created, "modified": t.modified, "name": t.name, "description": t.description,
        "kind": t.kind, "namespace": t.namespace, "managed": t.managed, "inputs": inputs, "injectors": injectors,
    });
    // Only an organization's type shows the field: a global type's answer stays AWX's.
    if let (Some(org), Some(fields)) = (t.organization_id, out.as_object_mut()) {
        fields.insert("organization".into(), json!(org));
    }
    Ok(out)
}

/// What an organization's type adds to its answer: the organization and the type's roles.
fn owned_type_fields(
    t: &CredentialTypeRow,
    org: i64,
    roles: &[RoleRef],
    related: &mut Map<String, Value>,
    summary: &mut Map<String, Value>,
) {
    related.insert(
        "organization".into(),
        Value::String(format!("/api/v2/organizations/{org}/")),
    );
    related.insert(
        "object_roles".into(),
        Value::String(format!("/api/v2/credential_types/{}/object_roles/", t.id)),
    );
    summary.insert(
        "organization".into(),
        json!({"id": org, "name": t.org_name, "description": t.org_description}),
    );
    summary.insert(
        "object_roles".into(),
        object_roles(&CREDENTIAL_TYPE_ROLES, roles, &[]),
    );
}

/// A credential. `detail` adds `related.named_url`; `with_org` is false on the user and
/// team sub-lists, which AWX renders without the top-level `organization`.
pub fn credential(
    c: &CredentialRow,
    ctx: &Credentials,
    caller: &Caller,
    detail: bool,
) -> Result<Value, StoreError> {
    let base = format!("/api/v2/credentials/{}/", c.id);
    let mut related = Map::new();
    let mut summary = Map::new();
    if detail {
        related.insert(
            "named_url".into(),
            Value::String(format!(
                "/api/v2/credentials/{}++{}+{}++{}/",
                escape(&c.name),
                escape(&c.type_name),
                escape(&c.type_kind),
                escape(c.org_name.as_deref().unwrap_or_default())
            )),
        );
    }
    if let (Some(id), Some(name)) = (c.organization_id, &c.org_name) {
        summary.insert(
            "organization".into(),
            json!({"id": id, "name": name, "description": c.org_description}),
        );
    }
    summary.insert(
        "credential_type".into(),
        json!({"id": c.credential_type_id, "name": c.type_name, "description": c.type_description}),
    );
    audit_fields(
        &mut related,
        &mut summary,
        &ctx.people,
        c.created_by,
        c.modified_by,
    );
    if let Some(org) = c.organization_id {
        related.insert(
            "organization".into(),
            Value::String(format!("/api/v2/organizations/{org}/")),
        );
    }
    for k in [
        "activity_stream",
        "access_list",
        "object_roles",
        "owner_users",
        "owner_teams",
        "copy",
        "input_sources",
    ] {
        related.insert(k.into(), Value::String(format!("{base}{k}/")));
    }
    related.insert(
        "credential_type".into(),
        Value::String(format!(
            "/api/v2/credential_types/{}/",
            c.credential_type_id
        )),
    );
    let owners = ctx.owners.get(&c.id).map(Vec::as_slice).unwrap_or_default();
    add_owner_link(&mut related, owners);
    let roles = ctx.roles.get(&c.id).map(Vec::as_slice).unwrap_or_default();
    summary.insert(
        "object_roles".into(),
        object_roles(&CREDENTIAL_ROLES, roles, &[]),
    );
    let caps = ctx.capabilities(caller, c);
    summary.insert(
        "user_capabilities".into(),
        json!({"edit": caps.edit, "delete": caps.delete, "copy": caps.copy, "use": caps.use_}),
    );
    summary.insert(
        "owners".into(),
        Value::Array(owners.iter().map(owner_json).collect()),
    );
    let mut inputs = c.public_inputs()?;
    mask_inputs(&mut inputs);
    let kind = c.type_namespace.clone();
    // The nested maps are moved in after the fact: `json!` would serialize a deep copy of
    // each (a tenth of a credential's rendering cost). Replacing a key keeps its place.
    let mut out = json!({
        "id": c.id, "type": "credential", "url": base, "related": null, "summary_fields": null,
        "created": c.created, "modified": c.modified, "name": c.name, "description": c.description,
        "organization": c.organization_id, "credential_type": c.credential_type_id, "managed": c.managed,
        "inputs": null, "kind": kind, "cloud": c.type_kind == "cloud", "kubernetes": c.type_kind == "kubernetes",
    });
    out["related"] = Value::Object(related);
    out["summary_fields"] = Value::Object(summary);
    out["inputs"] = Value::Object(inputs);
    Ok(out)
}

/// AWX's one "owner link": the first owning organization or team, else the first user.
fn add_owner_link(related: &mut Map<String, Value>, owners: &[OwnerSummary]) {
    // Organizations sort before teams (content type order in AWX), so a team-owned
    // credential links its organization, never the team.
    let object = owners
        .iter()
        .find(|o| o.kind == "organization")
        .or_else(|| owners.iter().find(|o| o.kind == "team"));
    if let Some(o) = object {
        related.insert(
            o.kind.clone(),
            Value::String(format!("/api/v2/{}s/{}/", o.kind, o.id)),
        );
    } else if let Some(u) = owners.first() {
        related.insert(
            "user".into(),
            Value::String(format!("/api/v2/users/{}/", u.id)),
        );
    }
}

fn owner_json(o: &OwnerSummary) -> Value {
    json!({"id": o.id, "type": o.kind, "name": o.name, "description": o.description, "url": format!("/api/v2/{}s/{}/", o.kind, o.id)})
}

/// Puts `related.named_url` first, as AWX does on detail and create responses.
pub fn add_named_url(item: &mut Value, url: String) {
    if let Some(related) = item.get_mut("related").and_then(Value::as_object_mut) {
        let mut rebuilt = Map::new();
        rebuilt.insert("named_url".into(), Value::String(url));
        for (k, v) in std::mem::take(related) {
            rebuilt.insert(k, v);
        }
        *related = rebuilt;
    }
}

/// `related.named_url` of a user, organization or team detail.
pub fn named_url_of(item: &Value) -> Option<String> {
    use crate::domain::named_url::escape;
    let name = |k: &str| item.get(k).and_then(Value::as_str).map(escape);
    match item.get("type").and_then(Value::as_str)? {
        "user" => Some(format!("/api/v2/users/{}/", name("username")?)),
        "organization" => Some(format!("/api/v2/organizations/{}/", name("name")?)),
        "team" => {
            let org = item
                .pointer("/summary_fields/organization/name")
                .and_then(Value::as_str)
                .map(escape)?;
            Some(format!("/api/v2/teams/{}++{org}/", name("name")?))
        }
        _ => None,
    }
}

/// Adds the named URL to a detail representation.
pub fn detail(mut item: Value) -> Value {
    if let Some(url) = named_url_of(&item) {
        add_named_url(&mut item, url);
    }

    item
}
