//! The AWX role model as data, and the decisions built on it.
//!
//! Each object owns a set of roles; roles imply each other through parent edges (a
//! parent role implies its children). A caller's level on a credential is the strongest
//! credential role they hold, directly, through a team, or through an organization role.

/// The role fields the rules and queries name, written once.
pub mod role {
    pub const ADMIN: &str = "admin_role";
    pub const USE: &str = "use_role";
    pub const READ: &str = "read_role";
    pub const MEMBER: &str = "member_role";
    pub const AUDITOR: &str = "auditor_role";
    pub const CREDENTIAL_ADMIN: &str = "credential_admin_role";
}

/// A role an object type carries: field name, display name, description.
pub type RoleDef = (&'static str, &'static str, &'static str);

/// The three roles of every credential.
pub const CREDENTIAL_ROLES: [RoleDef; 3] = [
    (
        "admin_role",
        "Admin",
        "Can manage all aspects of the credential",
    ),
    (
        "use_role",
        "Use",
        "Can use the credential in a job template",
    ),
    ("read_role", "Read", "May view settings for the credential"),
];

/// Implications inside one credential: (child, parent).
pub const CREDENTIAL_PARENTS: [(&str, &str); 2] =
    [("use_role", "admin_role"), ("read_role", "use_role")];

/// Organization roles that imply credential roles: (credential role, organization role).
pub const CREDENTIAL_ORG_PARENTS: [(&str, &str); 2] = [
    ("admin_role", "credential_admin_role"),
    ("read_role", "auditor_role"),
];

/// Team roles that a team-owned credential hangs under: (credential role, team role).
pub const CREDENTIAL_TEAM_PARENTS: [(&str, &str); 2] =
    [("admin_role", "admin_role"), ("use_role", "member_role")];

/// The roles of an organization's credential type (a credstore extension: AWX's types are
/// global and have no roles). Admins change and share the type; users create credentials
/// of it; readers see it.
pub const CREDENTIAL_TYPE_ROLES: [RoleDef; 3] = [
    (
        "admin_role",
        "Admin",
        "Can manage all aspects of the credential type",
    ),
    (
        "use_role",
        "Use",
        "Can create credentials of the credential type",
    ),
    ("read_role", "Read", "May view the credential type"),
];

/// Implications inside one credential type: (child, parent).
pub const CREDENTIAL_TYPE_PARENTS: [(&str, &str); 2] =
    [("use_role", "admin_role"), ("read_role", "use_role")];

/// Organization roles that imply roles of the organization's types: its admins manage
/// them, its members and credential admins use them, its auditors read them.
pub const CREDENTIAL_TYPE_ORG_PARENTS: [(&str, &str); 4] = [
    ("admin_role", "admin_role"),
    ("use_role", "member_role"),
    ("use_role", "credential_admin_role"),
    ("read_role", "auditor_role"),
];

/// The roles of an organization, in AWX's `summary_fields.object_roles` order.
pub const ORGANIZATION_ROLES: [RoleDef; 13] = [
    (
        "admin_role",
        "Admin",
        "Can manage all aspects of the organization",
    ),
    (
        "execute_role",
        "Execute",
        "May run any executable resources in the organization",
    ),
    (
        "project_admin_role",
        "Project Admin",
        "Can manage all projects of the organization",
    ),
    (
        "inventory_admin_role",
        "Inventory Admin",
        "Can manage all inventories of the organization",
    ),
    (
        "credential_admin_role",
        "Credential Admin",
        "Can manage all credentials of the organization",
    ),
    (
        "workflow_admin_role",
        "Workflow Admin",
        "Can manage all workflows of the organization",
    ),
    (
        "notification_admin_role",
        "Notification Admin",
        "Can manage all notifications of the organization",
    ),
    (
        "job_template_admin_role",
        "Job Template Admin",
        "Can manage all job templates of the organization",
    ),
    (
        "execution_environment_admin_role",
        "Execution Environment Admin",
        "Can manage all execution environments of the organization",
    ),
    (
        "auditor_role",
        "Auditor",
        "Can view all aspects of the organization",
    ),
    (
        "member_role",
        "Member",
        "User is a member of the organization",
    ),
    (
        "read_role",
        "Read",
        "May view settings for the organization",
    ),
    (
        "approval_role",
        "Approve",
        "Can approve or deny a workflow approval node",
    ),
];

/// Implications inside one organization: (child, parent).
pub const ORGANIZATION_PARENTS: [(&str, &str); 13] = [
    ("execute_role", "admin_role"),
    ("project_admin_role", "admin_role"),
    ("inventory_admin_role", "admin_role"),
    ("credential_admin_role", "admin_role"),
    ("workflow_admin_role", "admin_role"),
    ("notification_admin_role", "admin_role"),
    ("job_template_admin_role", "admin_role"),
    ("execution_environment_admin_role", "admin_role"),
    ("approval_role", "admin_role"),
    ("member_role", "admin_role"),
    ("read_role", "member_role"),
    ("read_role", "auditor_role"),
    ("auditor_role", "admin_role"),
];

/// The roles of a team.
pub const TEAM_ROLES: [RoleDef; 3] = [
    ("admin_role", "Admin", "Can manage all aspects of the team"),
    ("member_role", "Member", "User is a member of the team"),
    ("read_role", "Read", "May view settings for the team"),
];

/// Implications inside one team: (child, parent).
pub const TEAM_PARENTS: [(&str, &str); 2] =
    [("member_role", "admin_role"), ("read_role", "member_role")];

/// Team roles implied by roles of the team's organization: (team role, organization role).
pub const TEAM_ORG_PARENTS: [(&str, &str); 2] =
    [("admin_role", "admin_role"), ("read_role", "auditor_role")];

/// Organization roles that show `user_only: true` (never granted to teams).
pub const USER_ONLY_ORG_ROLES: [&str; 2] = ["admin_role", "member_role"];

/// Who is asking, as far as decisions need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub is_superuser: bool,
    pub is_system_auditor: bool,
}

impl Caller {
    /// Superusers and system auditors see every object.
    pub fn sees_everything(&self) -> bool {
        self.is_superuser || self.is_system_auditor
    }
}

/// A caller's level on one credential; `Admin ⊃ Use ⊃ Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    None,
    Read,
    Use,
    Admin,
}

/// The credential role field a level corresponds to.
pub fn level_of_role(role_field: &str) -> Level {
    match role_field {
        "admin_role" => Level::Admin,
        "use_role" => Level::Use,
        "read_role" => Level::Read,
        _ => Level::None,
    }
}

/// The effective level of a caller given the roles they hold on the credential.
pub fn effective_level(caller: &Caller, held: Level) -> Level {
    if caller.is_superuser {
        Level::Admin
    } else if caller.is_system_auditor {
        held.max(Level::Read)
    } else {
        held
    }
}

/// `summary_fields.user_capabilities` of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCapabilities {
    pub edit: bool,
    pub delete: bool,
}

/// A user's administrators and the user itself edit it; administrators delete it, but
/// nobody deletes themselves.
pub fn user_capabilities(caller: &Caller, user_id: i64, administers: bool) -> UserCapabilities {
    let itself = caller.user_id == user_id;
    UserCapabilities {
        edit: administers || itself,
        delete: administers && !itself,
    }
}

/// Whether the caller may take away a role shown in an access list: superusers any, others
/// the credential's own roles (a team's or an organization's role is managed there).
pub fn may_unattach_in_access_list(caller: &Caller, role_content_type: &str) -> bool {
    caller.is_superuser || role_content_type == "credential"
}

/// `summary_fields.user_capabilities` of a credential: copy is a superuser
/// privilege in the capability flags, managed credentials are never editable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialCapabilities {
    pub edit: bool,
    pub delete: bool,
    pub copy: bool,
    pub use_: bool,
}

/// Computes the capability flags for one credential.
pub fn credential_capabilities(
    caller: &Caller,
    level: Level,
    managed: bool,
) -> CredentialCapabilities {
    let admin = level >= Level::Admin && !managed;
    CredentialCapabilities {
        edit: admin,
        delete: admin,
        copy: caller.is_superuser,
        use_: level >= Level::Use,
    }
}

/// Whether the caller may write a credential type (its `user_capabilities` too):
/// superusers any, holders of an organization type's admin role that type. Managed types
/// are refused later with AWX's own message, so superusers see them as editable, as in AWX.
pub fn may_change_credential_type(caller: &Caller, administers: bool) -> bool {
    caller.is_superuser || administers
}

/// Only superusers write credential types, organizations, users and teams (until the
/// access-control work lands finer rules).
pub fn may_administer_system(caller: &Caller) -> bool {
    caller.is_superuser
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(user_id: i64) -> Caller {
        Caller {
            user_id,
            is_superuser: false,
            is_system_auditor: false,
        }
    }

    #[test]
    fn users_edit_themselves_but_only_administrators_delete_and_never_themselves() {
        let me = plain(7);
        assert_eq!(
            user_capabilities(&me, 7, false),
            UserCapabilities {
                edit: true,
                delete: false
            }
        );
        assert_eq!(
            user_capabilities(&me, 7, true),
            UserCapabilities {
                edit: true,
                delete: false
            }
        );
        assert_eq!(
            user_capabilities(&me, 8, true),
            UserCapabilities {
                edit: true,
                delete: true
            }
        );
        assert_eq!(
            user_capabilities(&me, 8, false),
            UserCapabilities {
                edit: false,
                delete: false
            }
        );
    }

    #[test]
    fn only_superusers_unattach_roles_held_through_teams_or_organizations() {
        let superuser = Caller {
            is_superuser: true,
            ..plain(1)
        };
        assert!(may_unattach_in_access_list(&plain(2), "credential"));
        assert!(!may_unattach_in_access_list(&plain(2), "team"));
        assert!(may_unattach_in_access_list(&superuser, "organization"));
    }

    const SU: Caller = Caller {
        user_id: 1,
        is_superuser: true,
        is_system_auditor: false,
    };
    const AUDITOR: Caller = Caller {
        user_id: 2,
        is_superuser: false,
        is_system_auditor: true,
    };
    const USER: Caller = Caller {
        user_id: 3,
        is_superuser: false,
        is_system_auditor: false,
    };

    #[test]
    fn levels() {
        assert_eq!(effective_level(&SU, Level::None), Level::Admin);
        assert_eq!(effective_level(&AUDITOR, Level::None), Level::Read);
        assert_eq!(effective_level(&USER, Level::Use), Level::Use);
    }

    #[test]
    fn capabilities_follow_awx_table() {
        let su = credential_capabilities(&SU, Level::Admin, false);
        assert!(su.edit && su.delete && su.copy && su.use_);
        let managed = credential_capabilities(&SU, Level::Admin, true);
        assert!(!managed.edit && !managed.delete);
        let admin = credential_capabilities(&USER, Level::Admin, false);
        assert!(admin.edit && admin.delete && !admin.copy && admin.use_);
        let user = credential_capabilities(&USER, Level::Use, false);
        assert!(!user.edit && user.use_);
        let auditor = credential_capabilities(&AUDITOR, Level::Read, false);
        assert!(!auditor.edit && !auditor.use_ && !auditor.copy);
    }
}

/// What a role belongs to, as far as the grant rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleOwner {
    /// `system_administrator` / `system_auditor`.
    System,
    Credential {
        organization: Option<i64>,
    },
    Organization(i64),
    Team {
        organization: i64,
    },
    /// An organization's credential type: shared with anyone, in any organization.
    CredentialType,
}

/// Who receives (or loses) a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// A user and the organizations they are a member of.
    User { member_of: Vec<i64> },
    /// A team and its organization.
    Team { organization: i64 },
}

fn msg(text: &str) -> super::errors::DomainError {
    let mut e = super::errors::FieldErrors::new();
    e.set("msg", serde_json::Value::String(text.to_string()));
    super::errors::DomainError::Validation(e)
}

/// The rules AWX checks on role grants before the permission test, with its
/// exact messages.
pub fn check_grant(
    caller: &Caller,
    role_field: &str,
    owner: RoleOwner,
    grantee: &Grantee,
    revoke: bool,
) -> Result<(), super::errors::DomainError> {
    match (owner, grantee) {
        (RoleOwner::System, Grantee::Team { .. }) => {
            Err(msg("You cannot grant system-level permissions to a team."))
        }
        (RoleOwner::Organization(_), Grantee::Team { .. })
            if USER_ONLY_ORG_ROLES.contains(&role_field) =>
        {
            Err(msg(
                "You cannot assign an Organization participation role as a child role for a Team.",
            ))
        }
        (
            RoleOwner::Credential { organization },
            Grantee::Team {
                organization: team_org,
            },
        ) => {
            if organization != Some(*team_org) {
                return Err(msg(
                    "You cannot grant credential access to a team when the Organization field isn't set, or belongs to a different organization",
                ));
            }
            Ok(())
        }
        (RoleOwner::Credential { organization: None }, Grantee::User { .. })
            if !caller.is_superuser =>
        {
            Err(msg(
                "You cannot grant private credential access to another user",
            ))
        }
        (
            RoleOwner::Credential {
                organization: Some(org),
            },
            Grantee::User { member_of },
        ) => {
            if !revoke && !member_of.contains(&org) {
                return Err(msg("You cannot grant credential access to a user not in the credentials' organization"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The role whose holders may grant or revoke a role of this owner (besides superusers):
/// admin of the credential, organization or team. System roles: superusers only.
pub fn granting_role(owner: RoleOwner) -> Option<(&'static str, &'static str)> {
    match owner {
        RoleOwner::System => None,
        RoleOwner::Credential { .. } => Some(("credential", "admin_role")),
        RoleOwner::Organization(_) => Some(("organization", "admin_role")),
        RoleOwner::Team { .. } => Some(("team", "admin_role")),
        RoleOwner::CredentialType => Some(("credential_type", "admin_role")),
    }
}

/// Display name and description of a role field for an object type.
pub fn role_display(content_type: Option<&str>, role_field: &str) -> (&'static str, &'static str) {
    let defs: &[RoleDef] = match content_type {
        Some("credential") => &CREDENTIAL_ROLES,
        Some("organization") => &ORGANIZATION_ROLES,
        Some("team") => &TEAM_ROLES,
        Some("credential_type") => &CREDENTIAL_TYPE_ROLES,
        _ => &SYSTEM_ROLES,
    };
    defs.iter()
        .find(|(f, _, _)| *f == role_field)
        .map(|(_, n, d)| (*n, *d))
        .unwrap_or(("", ""))
}

/// The two system singleton roles.
pub const SYSTEM_ROLES: [RoleDef; 2] = [
    (
        "system_administrator",
        "System Administrator",
        "Can manage all aspects of the system",
    ),
    (
        "system_auditor",
        "System Auditor",
        "Can view all aspects of the system",
    ),
];

#[cfg(test)]
mod grant_tests {
    use super::*;

    const SU: Caller = Caller {
        user_id: 1,
        is_superuser: true,
        is_system_auditor: false,
    };
    const USER: Caller = Caller {
        user_id: 3,
        is_superuser: false,
        is_system_auditor: false,
    };

    fn text(r: Result<(), crate::domain::errors::DomainError>) -> String {
        match r {
            Err(crate::domain::errors::DomainError::Validation(e)) => e.into_json()["msg"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn organization_membership_rules() {
        let cred = RoleOwner::Credential {
            organization: Some(7),
        };
        let outsider = Grantee::User { member_of: vec![8] };
        assert!(text(check_grant(&SU, "use_role", cred, &outsider, false))
            .contains("not in the credentials' organization"));
        assert!(
            check_grant(&SU, "use_role", cred, &outsider, true).is_ok(),
            "revoke is allowed"
        );
        assert!(check_grant(
            &USER,
            "use_role",
            cred,
            &Grantee::User { member_of: vec![7] },
            false
        )
        .is_ok());
    }

    #[test]
    fn private_and_team_rules() {
        let private = RoleOwner::Credential { organization: None };
        let u = Grantee::User { member_of: vec![] };
        assert!(text(check_grant(&USER, "read_role", private, &u, false))
            .contains("private credential"));
        assert!(check_grant(&SU, "read_role", private, &u, false).is_ok());
        let team = Grantee::Team { organization: 7 };
        assert!(text(check_grant(&SU, "use_role", private, &team, false)).contains("to a team"));
        assert!(text(check_grant(
            &SU,
            "use_role",
            RoleOwner::Credential {
                organization: Some(8)
            },
            &team,
            true
        ))
        .contains("to a team"));
        assert!(check_grant(
            &SU,
            "use_role",
            RoleOwner::Credential {
                organization: Some(7)
            },
            &team,
            false
        )
        .is_ok());
        assert!(text(check_grant(
            &SU,
            "system_auditor",
            RoleOwner::System,
            &team,
            false
        ))
        .contains("system-level"));
    }
}

/// Role names `?role_level=` accepts (AWX answers 500 for others; credstore 400).
pub fn is_role_field(name: &str) -> bool {
    CREDENTIAL_ROLES
        .iter()
        .chain(ORGANIZATION_ROLES.iter())
        .chain(TEAM_ROLES.iter())
        .any(|(f, _, _)| *f == name)
        || matches!(name, "update_role" | "adhoc_role")
}
