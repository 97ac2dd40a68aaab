//! Which rows a list may show, as typed values. The service layer decides the scope (who
//! may see what, which sub-list is asked for); only this module turns it into SQL, so the
//! role graph's tables and the role names appear in one place.

use super::roles::held_roles_sql;
use super::sql::{and_all, marks, Bind, Sql};
use super::{StoreError, StoreResult};
use crate::domain::rbac::role;

/// A restriction on the rows of one list. Each variant names the tables it applies to;
/// another table is a programming error ([`StoreError::Unsupported`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Every row.
    All,
    /// The one row with this id.
    Id(i64),
    /// Rows on which `user` holds `role` (through any grant): credentials, organizations
    /// and teams by their own roles; input sources by their target credential's.
    Holding { user: i64, role: String },
    /// Users whom `0` may see: itself and the members and admins of organizations it
    /// may read.
    UsersSeenBy(i64),
    /// Roles `0` may see: system roles and the roles of objects it holds any role on.
    RolesSeenBy(i64),
    /// Activity entries that mention an object `0` may see.
    ActivitySeenBy(i64),
    /// Credential types `0` may see: the global ones and the organization types it reads.
    TypesSeenBy(i64),
    /// Activity entries that mention this object.
    ActivityAbout { kind: &'static str, id: i64 },
    /// Credentials of one credential type.
    OfCredentialType(i64),
    /// Credentials or teams of one organization.
    InOrganization(i64),
    /// Credentials whose use or admin role hangs under a team's member or admin role.
    GrantedToTeam(i64),
    /// Input sources that fill a credential's fields.
    FillingCredential(i64),
    /// Users granted `role` of one object directly.
    DirectHolders {
        kind: &'static str,
        object: i64,
        role: &'static str,
    },
    /// Users granted this role (by id) directly.
    MembersOfRole(i64),
    /// Teams whose members are granted this role.
    TeamsGrantedRole(i64),
    /// Teams that own this credential: a role of theirs sits directly above its admin role.
    OwnerTeamsOf(i64),
    /// The roles of one object.
    RolesOf { kind: &'static str, id: i64 },
    /// Roles granted to a user directly.
    RolesOfUser(i64),
    /// Roles granted to a team's members, except the team's own roles.
    RolesOfTeam(i64),
    /// Superusers, system auditors and these users.
    SystemWideOr(Vec<i64>),
    /// Tokens of one user.
    TokensOf(i64),
    /// Rows within every one of these scopes.
    AllOf(Vec<Scope>),
}

impl Scope {
    /// This scope and `other`.
    pub fn and(self, other: Scope) -> Scope {
        match (self, other) {
            (Scope::All, s) | (s, Scope::All) => s,
            (Scope::AllOf(mut v), s) => {
                v.push(s);
                Scope::AllOf(v)
            }
            (a, b) => Scope::AllOf(vec![a, b]),
        }
    }

    /// The condition on rows of `table`.
    pub(crate) fn sql(&self, table: &str) -> StoreResult<Sql> {
        let unsupported = || StoreError::Unsupported("a list scope on the wrong table");
        Ok(match self {
            Scope::All => Sql::raw("1=1"),
            Scope::Id(id) => Sql::with(format!("{table}.id = ?"), vec![Bind::Int(*id)]),
            Scope::Holding { user, role } => {
                let (column, kind) = role_bearer(table).ok_or_else(unsupported)?;
                holding(column, kind, role, *user)
            }
            Scope::UsersSeenBy(user) => users_seen_by(*user),
            Scope::RolesSeenBy(user) => roles_seen_by(*user),
            Scope::ActivitySeenBy(user) => activity_seen_by(*user),
            Scope::TypesSeenBy(user) => {
                let mut sql = Sql::raw("(credential_types.organization_id IS NULL OR ");
                sql.push(readable("credential_types.id", "credential_type", *user));
                sql.text.push(')');
                sql
            }
            Scope::ActivityAbout { kind, id } => Sql::with(
                "activity_stream.id IN (SELECT entry_id FROM activity_stream_objects \
                 WHERE content_type = ? AND object_id = ?)",
                vec![Bind::Text((*kind).into()), Bind::Int(*id)],
            ),
            Scope::OfCredentialType(id) => Sql::with(
                "credentials.credential_type_id = ?",
                vec![Bind::Int(*id)],
            ),
            Scope::InOrganization(id) => {
                Sql::with(format!("{table}.organization_id = ?"), vec![Bind::Int(*id)])
            }
            Scope::GrantedToTeam(team) => granted_to_team(*team),
            Scope::FillingCredential(id) => Sql::with(
                "credential_input_sources.target_credential_id = ?",
                vec![Bind::Int(*id)],
            ),
            Scope::DirectHolders { kind, object, role } => Sql::with(
                "users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
                 WHERE r.content_type = ? AND r.object_id = ? AND r.role_field = ?)",
                vec![
                    Bind::Text((*kind).into()),
                    Bind::Int(*object),
                    Bind::Text((*role).into()),
                ],
            ),
            Scope::MembersOfRole(id) => Sql::with(
                "users.id IN (SELECT user_id FROM role_members WHERE role_id = ?)",
                vec![Bind::Int(*id)],
            ),
            Scope::TeamsGrantedRole(id) => Sql::with(
                "teams.id IN (SELECT p.object_id FROM role_parents rp JOIN roles p ON p.id = rp.parent_id \
                 WHERE rp.role_id = ? AND p.content_type = 'team' AND p.role_field = ?)",
                vec![Bind::Int(*id), Bind::Text(role::MEMBER.into())],
            ),
            Scope::OwnerTeamsOf(credential) => owner_teams(*credential),
            Scope::RolesOf { kind, id } => Sql::with(
                "roles.content_type = ? AND roles.object_id = ?",
                vec![Bind::Text((*kind).into()), Bind::Int(*id)],
            ),
            Scope::RolesOfUser(user) => Sql::with(
                "roles.id IN (SELECT role_id FROM role_members WHERE user_id = ?)",
                vec![Bind::Int(*user)],
            ),
            Scope::RolesOfTeam(team) => roles_of_team(*team),
            Scope::SystemWideOr(users) => system_wide_or(users),
            Scope::TokensOf(user) => Sql::with("tokens.user_id = ?", vec![Bind::Int(*user)]),
            Scope::AllOf(parts) => and_all(
                parts
                    .iter()
                    .map(|p| p.sql(table))
                    .collect::<StoreResult<_>>()?,
            ),
        })
    }
}

/// The column whose roles decide a row's visibility, and the content type of those roles.
fn role_bearer(table: &str) -> Option<(&'static str, &'static str)> {
    match table {
        "credentials" => Some(("credentials.id", "credential")),
        "organizations" => Some(("organizations.id", "organization")),
        "teams" => Some(("teams.id", "team")),
        "credential_types" => Some(("credential_types.id", "credential_type")),
        "credential_input_sources" => Some((
            "credential_input_sources.target_credential_id",
            "credential",
        )),
        _ => None,
    }
}

/// `<column> IN (objects of `kind` on which the user holds `role_field`)`: one indexed
/// join of the user's direct grants with the closure table.
fn holding(column: &str, kind: &str, role_field: &str, user: i64) -> Sql {
    Sql::with(
        format!(
            "{column} IN (SELECT ro.object_id FROM role_members rm CROSS JOIN role_ancestors ra ON ra.ancestor_id = rm.role_id \
             CROSS JOIN roles ro ON ro.id = ra.role_id \
             WHERE ro.content_type = ? AND ro.role_field = ? AND rm.user_id = ?)"
        ),
        vec![Bind::Text(kind.into()), Bind::Text(role_field.into()), Bind::Int(user)],
    )
}

fn readable(column: &str, kind: &str, user: i64) -> Sql {
    holding(column, kind, role::READ, user)
}

fn users_seen_by(user: i64) -> Sql {
    let mut sql = Sql::with(
        "(users.id = ? OR users.id IN (SELECT m.user_id FROM role_members m JOIN roles r ON r.id = m.role_id \
         WHERE r.content_type = 'organization' AND r.role_field IN (?, ?) AND ",
        vec![
            Bind::Int(user),
            Bind::Text(role::MEMBER.into()),
            Bind::Text(role::ADMIN.into()),
        ],
    );
    sql.push(readable("r.object_id", "organization", user));
    sql.text.push_str("))");
    sql
}

fn roles_seen_by(user: i64) -> Sql {
    let mut sql = Sql::raw(
        "(roles.content_type IS NULL OR EXISTS (SELECT 1 FROM roles h WHERE h.content_type = roles.content_type \
         AND h.object_id = roles.object_id AND h.id IN (",
    );
    sql.push(held_roles_sql(user));
    sql.text.push_str(")))");
    sql
}

/// Entries mentioning an object the user may read. A credential type counts when it is
/// global, when the user reads it, or when it is gone and the entry names no organization
/// (entries about an organization's type also name the organization, whose readers see
/// them after the type is deleted).
fn activity_seen_by(user: i64) -> Sql {
    let mut sql = Sql::raw(
        "activity_stream.id IN (SELECT o.entry_id FROM activity_stream_objects o WHERE (o.content_type = 'credential_type' \
         AND (o.object_id IN (SELECT id FROM credential_types WHERE organization_id IS NULL) \
         OR (o.object_id NOT IN (SELECT id FROM credential_types) AND NOT EXISTS (SELECT 1 FROM activity_stream_objects og \
         WHERE og.entry_id = o.entry_id AND og.content_type = 'organization')) OR ",
    );
    sql.push(readable("o.object_id", "credential_type", user));
    sql.push(Sql::with(
        ")) OR (o.content_type = 'user' AND o.object_id = ?) OR (o.content_type = 'credential' AND ",
        vec![Bind::Int(user)],
    ));
    sql.push(readable("o.object_id", "credential", user));
    sql.text
        .push_str(") OR (o.content_type = 'organization' AND ");
    sql.push(readable("o.object_id", "organization", user));
    sql.text.push_str(") OR (o.content_type = 'team' AND ");
    sql.push(readable("o.object_id", "team", user));
    sql.text.push_str("))");
    sql
}

fn granted_to_team(team: i64) -> Sql {
    Sql::with(
        "credentials.id IN (SELECT r.object_id FROM roles r JOIN role_parents rp ON rp.role_id = r.id \
         JOIN roles p ON p.id = rp.parent_id WHERE r.content_type = 'credential' \
         AND r.role_field IN (?, ?) AND p.content_type = 'team' AND p.object_id = ? \
         AND p.role_field IN (?, ?))",
        vec![
            Bind::Text(role::USE.into()),
            Bind::Text(role::ADMIN.into()),
            Bind::Int(team),
            Bind::Text(role::MEMBER.into()),
            Bind::Text(role::ADMIN.into()),
        ],
    )
}

/// Teams with any role directly above the credential's admin role: the owning team's
/// admin role, or the member role of a team granted admin later (AWX lists both).
fn owner_teams(credential: i64) -> Sql {
    Sql::with(
        "teams.id IN (SELECT p.object_id FROM roles r JOIN role_parents rp ON rp.role_id = r.id \
         JOIN roles p ON p.id = rp.parent_id WHERE r.content_type = 'credential' AND r.object_id = ? \
         AND r.role_field = ? AND p.content_type = 'team')",
        vec![Bind::Int(credential), Bind::Text(role::ADMIN.into())],
    )
}

fn roles_of_team(team: i64) -> Sql {
    Sql::with(
        "roles.id IN (SELECT rp.role_id FROM role_parents rp JOIN roles p ON p.id = rp.parent_id \
         WHERE p.content_type = 'team' AND p.object_id = ? AND p.role_field = ?) \
         AND NOT (roles.content_type = 'team' AND roles.object_id = ?)",
        vec![
            Bind::Int(team),
            Bind::Text(role::MEMBER.into()),
            Bind::Int(team),
        ],
    )
}

fn system_wide_or(users: &[i64]) -> Sql {
    let mut sql = Sql::raw("(users.is_superuser = TRUE OR users.is_system_auditor = TRUE");
    if !users.is_empty() {
        sql.push(Sql::with(
            format!(" OR users.id IN ({})", marks(users.len())),
            users.iter().map(|u| Bind::Int(*u)).collect(),
        ));
    }
    sql.text.push(')');
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_the_identity_of_and() {
        assert_eq!(Scope::All.and(Scope::Id(3)), Scope::Id(3));
        assert_eq!(Scope::Id(3).and(Scope::All), Scope::Id(3));
        assert_eq!(
            Scope::Id(3).and(Scope::TokensOf(1)).and(Scope::All),
            Scope::AllOf(vec![Scope::Id(3), Scope::TokensOf(1)])
        );
    }

    #[test]
    fn a_role_scope_on_a_table_without_roles_is_refused() {
        let scope = Scope::Holding {
            user: 1,
            role: role::READ.into(),
        };
        assert!(scope.sql("users").is_err());
        assert!(scope.sql("credential_input_sources").is_ok());
    }

    #[test]
    fn every_value_is_bound() {
        let sql = Scope::Id(7)
            .and(Scope::UsersSeenBy(9))
            .sql("users")
            .unwrap();
        assert_eq!(sql.text.matches('?').count(), sql.binds.len());
        assert!(!sql.text.contains('7') && !sql.text.contains('9'));
    }
}
