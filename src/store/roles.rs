//! The role graph: object roles, parent edges, direct user grants, and the recursive
//! query that answers "which roles does this user hold".

use super::activity::append;
use super::query::{query, query_as, query_scalar};
use super::sql::{marks, Bind, Sql};
use super::WriteTx;
use super::{Store, StoreResult};
use crate::domain::activity::ActivityRecord;
use crate::domain::rbac::{level_of_role, role, Level, RoleDef};
use std::collections::HashMap;

crate::row_struct! {
    /// A role of some object, as `summary_fields.object_roles` shows it.
    #[derive(Debug, Clone)]
    pub struct RoleRef {
        pub id: i64,
        pub object_id: i64,
        pub role_field: String,
    }
}

/// SQL selecting the ids of every role the user holds, directly or by implication: one
/// indexed join of direct grants with the closure table.
pub(super) fn held_roles_sql(user_id: i64) -> Sql {
    Sql::with(
        "SELECT a.role_id FROM role_members m CROSS JOIN role_ancestors a ON a.ancestor_id = m.role_id \
         WHERE m.user_id = ?",
        vec![Bind::Int(user_id)],
    )
}

/// The role ids of an object just created, by field.
pub type NewRoles = HashMap<&'static str, i64>;

/// Where the roles of a new object hang: each (own role, parent role) pair of `pairs`
/// links to a role of `parent`, or to one of the object's own roles when `parent` is
/// `None`. A pair whose parent role does not exist links nothing.
pub struct ParentLinks<'a> {
    pub parent: Option<(&'a str, i64)>,
    pub pairs: &'a [(&'a str, &'a str)],
}

/// Creates the roles of a new object, links them under their parents and fills in their
/// ancestors, in three statements whatever the number of roles and links: writes hold the
/// database's only writer slot, and each statement costs more than the rows it writes.
/// A new object's roles have no descendants but each other, so their ancestors are a walk
/// up the parent edges.
pub async fn create_object_roles(
    conn: &mut WriteTx,
    content_type: &str,
    object_id: i64,
    defs: &[RoleDef],
    links: &[ParentLinks<'_>],
) -> StoreResult<NewRoles> {
    let ids = insert_roles(conn, content_type, object_id, defs).await?;
    let own = &ids;
    let edges: Vec<(i64, (&str, i64), &str)> = links
        .iter()
        .flat_map(|link| {
            let parent = link.parent.unwrap_or((content_type, object_id));
            link.pairs.iter().filter_map(move |(child, parent_field)| {
                Some((*own.get(child)?, parent, *parent_field))
            })
        })
        .collect();
    insert_parent_edges(conn, &edges).await?;
    let new: Vec<i64> = ids.values().copied().collect();
    insert_ancestors(conn, &new).await?;
    Ok(ids)
}

/// Roles per closure statement: well under the bind-parameter limits of both databases.
const ANCESTOR_CHUNK: usize = 500;

/// The closure rule, in the one place it is written: a role's ancestors are itself and
/// every role reached by walking up `role_parents`. Inserts them for `roles`, which must
/// have none yet; one statement per chunk of roles.
async fn insert_ancestors(conn: &mut WriteTx, roles: &[i64]) -> StoreResult<()> {
    for chunk in roles.chunks(ANCESTOR_CHUNK) {
        query(&ancestors_sql(chunk.len()))
            .bind_ids(chunk)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The statement of [`insert_ancestors`] for `roles` role ids.
pub(super) fn ancestors_sql(roles: usize) -> String {
    format!(
        "INSERT INTO role_ancestors (role_id, ancestor_id) \
         WITH RECURSIVE up(role_id, ancestor_id) AS ( \
             SELECT id, id FROM roles WHERE id IN ({}) \
             UNION SELECT up.role_id, rp.parent_id FROM up JOIN role_parents rp ON rp.role_id = up.ancestor_id) \
         SELECT role_id, ancestor_id FROM up",
        marks(roles)
    )
}

/// Inserts (child role id, parent object, parent role field) edges in one statement, the
/// parents' ids looked up in the same join.
async fn insert_parent_edges(
    conn: &mut WriteTx,
    edges: &[(i64, (&str, i64), &str)],
) -> StoreResult<()> {
    if !edges.is_empty() {
        let edges_sql = format!(
            "INSERT INTO role_parents (role_id, parent_id) SELECT e.column1, p.id FROM (VALUES {}) AS e \
             JOIN roles p ON p.content_type = e.column2 AND p.object_id = e.column3 AND p.role_field = e.column4 \
             WHERE TRUE ON CONFLICT DO NOTHING",
            vec!["(?, ?, ?, ?)"; edges.len()].join(", ")
        );
        let mut insert = query(&edges_sql);
        for (child, (parent_type, parent_id), parent_field) in edges {
            insert = insert
                .bind(*child)
                .bind(*parent_type)
                .bind(*parent_id)
                .bind(*parent_field);
        }
        insert.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts the roles of a new object in one statement; their ids by field.
async fn insert_roles(
    conn: &mut WriteTx,
    content_type: &str,
    object_id: i64,
    defs: &[RoleDef],
) -> StoreResult<NewRoles> {
    let roles_sql = format!(
        "INSERT INTO roles (role_field, content_type, object_id) VALUES {} RETURNING id, role_field",
        vec!["(?, ?, ?)"; defs.len()].join(", ")
    );
    let mut insert = query_as::<(i64, String)>(&roles_sql);
    for (field, _, _) in defs {
        insert = insert.bind(*field).bind(content_type).bind(object_id);
    }
    let created = insert.fetch_all(&mut *conn).await?;
    defs.iter()
        .map(|(field, _, _)| {
            created
                .iter()
                .find(|(_, f)| f == field)
                .map(|(id, _)| (*field, *id))
                .ok_or_else(|| super::StoreError::Corrupt(format!("role {field} was not created")))
        })
        .collect()
}

const ROLE_ID: &str =
    "SELECT id FROM roles WHERE content_type = ? AND object_id = ? AND role_field = ?";

/// Looks up one role of an object.
pub async fn role_id(
    conn: &mut WriteTx,
    content_type: &str,
    object_id: i64,
    field: &str,
) -> StoreResult<Option<i64>> {
    query_scalar(ROLE_ID)
        .bind(content_type)
        .bind(object_id)
        .bind(field)
        .fetch_optional(&mut *conn)
        .await
}

/// The object a role belongs to, as the activity stream names it.
async fn role_object(conn: &mut WriteTx, role: i64) -> StoreResult<Option<(&'static str, i64)>> {
    let row: Option<(Option<String>, Option<i64>)> =
        query_as("SELECT content_type, object_id FROM roles WHERE id = ?")
            .bind(role)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.and_then(|(ct, oid)| {
        let ct: &'static str = match ct.as_deref()? {
            "credential" => "credential",
            "organization" => "organization",
            "team" => "team",
            _ => return None,
        };
        Some((ct, oid?))
    }))
}

/// Makes `parent` imply `role`, and extends the closure: every descendant of `role` gains
/// every ancestor of `parent`.
pub async fn add_parent(conn: &mut WriteTx, role: i64, parent: i64) -> StoreResult<()> {
    query("INSERT INTO role_parents (role_id, parent_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(role)
        .bind(parent)
        .execute(&mut *conn)
        .await?;
    query(
        "INSERT INTO role_ancestors (role_id, ancestor_id) \
         SELECT d.role_id, a.ancestor_id FROM role_ancestors d, role_ancestors a \
         WHERE d.ancestor_id = ? AND a.role_id = ? ON CONFLICT DO NOTHING",
    )
    .bind(role)
    .bind(parent)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes one implication edge and repairs the closure below it.
pub async fn remove_parent(conn: &mut WriteTx, role: i64, parent: i64) -> StoreResult<()> {
    query("DELETE FROM role_parents WHERE role_id = ? AND parent_id = ?")
        .bind(role)
        .bind(parent)
        .execute(&mut *conn)
        .await?;
    rebuild_below(conn, role).await
}

/// Recomputes the ancestors of `root` and of everything below it from the edges.
async fn rebuild_below(conn: &mut WriteTx, root: i64) -> StoreResult<()> {
    let mut affected: Vec<i64> =
        query_scalar("SELECT role_id FROM role_ancestors WHERE ancestor_id = ?")
            .bind(root)
            .fetch_all(&mut *conn)
            .await?;
    affected.push(root);
    affected.sort_unstable();
    affected.dedup();
    for chunk in affected.chunks(ANCESTOR_CHUNK) {
        let sql = format!(
            "DELETE FROM role_ancestors WHERE role_id IN ({})",
            marks(chunk.len())
        );
        query(&sql).bind_ids(chunk).execute(&mut *conn).await?;
    }
    insert_ancestors(conn, &affected).await
}

/// Removes every parent of `role` that belongs to objects of `content_type`, and repairs
/// the closure below it.
pub async fn remove_parents_of_type(
    conn: &mut WriteTx,
    role: i64,
    content_type: &str,
) -> StoreResult<()> {
    query(
        "DELETE FROM role_parents WHERE role_id = ? AND parent_id IN (SELECT id FROM roles WHERE content_type = ?)",
    )
    .bind(role)
    .bind(content_type)
    .execute(&mut *conn)
    .await?;
    rebuild_below(conn, role).await
}

/// Links each (child field of the object, parent field of the other object) pair.
pub async fn link_parents(
    conn: &mut WriteTx,
    child: (&str, i64),
    parent: (&str, i64),
    pairs: &[(&str, &str)],
) -> StoreResult<()> {
    for (child_field, parent_field) in pairs {
        let c = role_id(conn, child.0, child.1, child_field).await?;
        let p = role_id(conn, parent.0, parent.1, parent_field).await?;
        if let (Some(c), Some(p)) = (c, p) {
            add_parent(conn, c, p).await?;
        }
    }
    Ok(())
}

/// Grants a role to a user directly.
pub async fn grant_user(conn: &mut WriteTx, role: i64, user_id: i64) -> StoreResult<()> {
    query("INSERT INTO role_members (role_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(role)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Revokes a direct grant.
pub async fn revoke_user(conn: &mut WriteTx, role: i64, user_id: i64) -> StoreResult<()> {
    query("DELETE FROM role_members WHERE role_id = ? AND user_id = ?")
        .bind(role)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes an object's roles (edges and grants go with them by cascade).
pub async fn delete_object_roles(
    conn: &mut WriteTx,
    content_type: &str,
    object_id: i64,
) -> StoreResult<()> {
    query("DELETE FROM roles WHERE content_type = ? AND object_id = ?")
        .bind(content_type)
        .bind(object_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// The roles of the given objects.
    pub async fn object_roles(&self, content_type: &str, ids: &[i64]) -> StoreResult<Vec<RoleRef>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, object_id, role_field FROM roles WHERE content_type = ? AND object_id IN ({}) ORDER BY id",
            marks(ids.len())
        );
        query_as::<RoleRef>(&sql)
            .bind(content_type.to_string())
            .bind_ids(ids)
            .fetch_all(self.pool())
            .await
    }

    /// The strongest credential role `user_id` holds on each of `ids`.
    pub async fn credential_levels(
        &self,
        user_id: i64,
        ids: &[i64],
    ) -> StoreResult<HashMap<i64, Level>> {
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let held = held_roles_sql(user_id);
        let sql = format!(
            "SELECT id, object_id, role_field FROM roles WHERE content_type = 'credential' AND object_id IN ({}) AND id IN ({})",
            marks(ids.len()),
            held.text
        );
        let q = query_as::<RoleRef>(&sql).bind_ids(ids).bind(user_id);
        for r in q.fetch_all(self.pool()).await? {
            let level = level_of_role(&r.role_field);
            let e = out.entry(r.object_id).or_insert(Level::None);
            *e = (*e).max(level);
        }
        Ok(out)
    }

    /// True when the user holds `field` on the object (directly or by implication).
    pub async fn holds_role(
        &self,
        user_id: i64,
        content_type: &str,
        object_id: i64,
        field: &str,
    ) -> StoreResult<bool> {
        let held = held_roles_sql(user_id);
        let sql = format!(
            "SELECT COUNT(*) FROM roles WHERE content_type = ? AND object_id = ? AND role_field = ? AND id IN ({})",
            held.text
        );
        let n: i64 = query_scalar(&sql)
            .bind(content_type)
            .bind(object_id)
            .bind(field)
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }
}

crate::row_struct! {
    /// A role with the name of the object it belongs to.
    #[derive(Debug, Clone)]
    pub struct RoleInfo {
        pub id: i64,
        pub role_field: String,
        pub content_type: Option<String>,
        pub object_id: Option<i64>,
        pub resource_name: Option<String>,
        /// The organization of the role's object (credential, team or credential type), for
        /// the grant rules.
        pub object_organization: Option<i64>,
    }
}

const ROLE_INFO: &str = "SELECT r.id, r.role_field, r.content_type, r.object_id, \
    COALESCE(c.name, o.name, t.name, ct.name) AS resource_name, \
    COALESCE(c.organization_id, t.organization_id, ct.organization_id) AS object_organization \
    FROM roles r \
    LEFT JOIN credentials c ON r.content_type = 'credential' AND c.id = r.object_id \
    LEFT JOIN organizations o ON r.content_type = 'organization' AND o.id = r.object_id \
    LEFT JOIN teams t ON r.content_type = 'team' AND t.id = r.object_id \
    LEFT JOIN credential_types ct ON r.content_type = 'credential_type' AND ct.id = r.object_id";

impl Store {
    /// Roles by id, in the given order.
    pub async fn roles_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<RoleInfo>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{ROLE_INFO} WHERE r.id IN ({})", marks(ids.len()));
        let rows = query_as::<RoleInfo>(&sql)
            .bind_ids(ids)
            .fetch_all(self.pool())
            .await?;
        Ok(super::query::order_like(rows, ids, |r| r.id))
    }

    /// One role.
    pub async fn role(&self, id: i64) -> StoreResult<Option<RoleInfo>> {
        Ok(self.roles_by_ids(&[id]).await?.pop())
    }

    /// The organizations a user is a direct member of.
    pub async fn user_organizations(&self, user_id: i64) -> StoreResult<Vec<i64>> {
        query_scalar(
            "SELECT r.object_id FROM role_members m JOIN roles r ON r.id = m.role_id \
             WHERE m.user_id = ? AND r.content_type = 'organization' AND r.role_field IN (?, ?)",
        )
        .bind(user_id)
        .bind(role::MEMBER)
        .bind(role::ADMIN)
        .fetch_all(self.pool())
        .await
    }

    /// Grants or revokes a role for a user directly.
    pub async fn set_user_role(
        &self,
        role: i64,
        user_id: i64,
        grant: bool,
        actor: Option<i64>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if grant {
            grant_user(&mut tx, role, user_id).await?;
        } else {
            revoke_user(&mut tx, role, user_id).await?;
        }
        if let Some((ct, oid)) = role_object(&mut tx, role).await? {
            let record = ActivityRecord::role_change(
                actor,
                grant,
                (ct, oid),
                ("user", user_id),
                "awx.main.models.rbac.Role_members",
                ct,
                role,
            );
            append(&mut tx, &record, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Grants or revokes a role for a team: the team's member role becomes (or stops
    /// being) a parent of the role, so every member holds it.
    pub async fn set_team_role(
        &self,
        role: i64,
        team: i64,
        grant: bool,
        actor: Option<i64>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(member) = role_id(&mut tx, "team", team, "member_role").await? {
            if grant {
                add_parent(&mut tx, role, member).await?;
            } else {
                remove_parent(&mut tx, role, member).await?;
            }
            if let Some((ct, oid)) = role_object(&mut tx, role).await? {
                let record = ActivityRecord::role_change(
                    actor,
                    grant,
                    ("team", team),
                    (ct, oid),
                    "awx.main.models.rbac.Role_parents",
                    ct,
                    role,
                )
                .without("role");
                append(&mut tx, &record, None).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The role id of one object role.
    pub async fn object_role_id(
        &self,
        content_type: &str,
        object_id: i64,
        field: &str,
    ) -> StoreResult<Option<i64>> {
        query_scalar(ROLE_ID)
            .bind(content_type)
            .bind(object_id)
            .bind(field)
            .fetch_optional(self.pool())
            .await
    }
}
