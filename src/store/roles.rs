//! The role graph: object roles, parent edges, direct user grants, and the recursive
//! query that answers "which roles does this user hold".

use super::sql::{Bind, Sql};
use super::{Store, StoreResult};
use crate::domain::rbac::{level_of_role, Level, RoleDef};
use sqlx::SqliteConnection;
use std::collections::HashMap;

/// A role of some object, as `summary_fields.object_roles` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRef {
    pub id: i64,
    pub object_id: i64,
    pub role_field: String,
}

/// SQL selecting the ids of every role the user holds, directly or by implication.
pub fn held_roles_sql(user_id: i64) -> Sql {
    Sql::with(
        "WITH RECURSIVE held(id) AS (\
            SELECT role_id FROM role_members WHERE user_id = ? \
            UNION SELECT rp.role_id FROM role_parents rp JOIN held h ON rp.parent_id = h.id\
         ) SELECT id FROM held",
        vec![Bind::Int(user_id)],
    )
}

/// Creates the roles of a new object; returns field → role id.
pub async fn create_object_roles(
    conn: &mut SqliteConnection,
    content_type: &str,
    object_id: i64,
    defs: &[RoleDef],
) -> StoreResult<HashMap<&'static str, i64>> {
    let mut ids = HashMap::new();
    for (field, _, _) in defs {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO roles (role_field, content_type, object_id) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(*field)
        .bind(content_type)
        .bind(object_id)
        .fetch_one(&mut *conn)
        .await?;
        ids.insert(*field, id);
    }
    Ok(ids)
}

/// Looks up one role of an object.
pub async fn role_id(
    conn: &mut SqliteConnection,
    content_type: &str,
    object_id: i64,
    field: &str,
) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM roles WHERE content_type = ? AND object_id = ? AND role_field = ?",
    )
    .bind(content_type)
    .bind(object_id)
    .bind(field)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Makes `parent` imply `role`.
pub async fn add_parent(conn: &mut SqliteConnection, role: i64, parent: i64) -> StoreResult<()> {
    sqlx::query("INSERT OR IGNORE INTO role_parents (role_id, parent_id) VALUES (?, ?)")
        .bind(role)
        .bind(parent)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes every parent of `role` that belongs to objects of `content_type`.
pub async fn remove_parents_of_type(
    conn: &mut SqliteConnection,
    role: i64,
    content_type: &str,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM role_parents WHERE role_id = ? AND parent_id IN (SELECT id FROM roles WHERE content_type = ?)",
    )
    .bind(role)
    .bind(content_type)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Links each (child field of the object, parent field of the other object) pair.
pub async fn link_parents(
    conn: &mut SqliteConnection,
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
pub async fn grant_user(conn: &mut SqliteConnection, role: i64, user_id: i64) -> StoreResult<()> {
    sqlx::query("INSERT OR IGNORE INTO role_members (role_id, user_id) VALUES (?, ?)")
        .bind(role)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Revokes a direct grant.
pub async fn revoke_user(conn: &mut SqliteConnection, role: i64, user_id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM role_members WHERE role_id = ? AND user_id = ?")
        .bind(role)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes an object's roles (edges and grants go with them by cascade).
pub async fn delete_object_roles(
    conn: &mut SqliteConnection,
    content_type: &str,
    object_id: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM roles WHERE content_type = ? AND object_id = ?")
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
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT id, object_id, role_field FROM roles WHERE content_type = ? AND object_id IN ({marks}) ORDER BY id"
        );
        let mut q = sqlx::query_as::<_, RoleRef>(&sql).bind(content_type.to_string());
        for id in ids {
            q = q.bind(*id);
        }
        Ok(q.fetch_all(self.pool()).await?)
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
        let marks = vec!["?"; ids.len()].join(", ");
        let held = held_roles_sql(user_id);
        let sql = format!(
            "SELECT id, object_id, role_field FROM roles WHERE content_type = 'credential' AND object_id IN ({marks}) AND id IN ({})",
            held.text
        );
        let mut q = sqlx::query_as::<_, RoleRef>(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q = q.bind(user_id);
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
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(content_type)
            .bind(object_id)
            .bind(field)
            .bind(user_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }
}
