//! Users: rows, password hashes, and the list query.

use super::activity::append;
use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::WriteTx;
use super::{now, Store, StoreResult};
use crate::domain::activity::ActivityRecord;

crate::row_struct! {
    /// A user row. `password_hash` is an argon2id PHC string, never shown by the API.
    #[derive(Debug, Clone)]
    pub struct UserRow {
        pub id: i64,
        pub username: String,
        pub first_name: String,
        pub last_name: String,
        pub email: String,
        pub password_hash: String,
        pub is_superuser: bool,
        pub is_system_auditor: bool,
        pub created: String,
        pub modified: Option<String>,
        pub last_login: Option<String>,
    }
}

pub use crate::domain::user::UserWrite;

impl UserRow {
    /// The writable fields as stored.
    pub fn fields(&self) -> UserWrite {
        UserWrite {
            username: self.username.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            is_superuser: self.is_superuser,
            is_system_auditor: self.is_system_auditor,
        }
    }
}

const COLUMNS: &str = "id, username, first_name, last_name, email, password_hash, is_superuser, \
                       is_system_auditor, created, modified, last_login";

/// [`COLUMNS`] qualified by the table, for joins.
pub(super) const QUALIFIED_COLUMNS: &str = "users.id, users.username, users.first_name, \
    users.last_name, users.email, users.password_hash, users.is_superuser, \
    users.is_system_auditor, users.created, users.modified, users.last_login";

impl Store {
    /// One user by id.
    pub async fn user(&self, id: i64) -> StoreResult<Option<UserRow>> {
        query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// One user by username (for authentication).
    pub async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRow>> {
        query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
            .bind(username)
            .fetch_optional(self.pool())
            .await
    }

    /// Users by id, in the given order.
    pub async fn users_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<UserRow>> {
        let rows: Vec<UserRow> =
            fetch_by_ids(self, &format!("SELECT {COLUMNS} FROM users"), ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// Creates a user with an already computed hash.
    pub async fn create_user(
        &self,
        w: &UserWrite,
        password_hash: &str,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_user(&mut tx, w, password_hash).await?;
        append(&mut tx, activity, Some(id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Updates a user's fields, and the hash when a new password was given; a new
    /// password ends the user's login sessions (their tokens stay, as in AWX), so that a
    /// session stolen with the old password dies with it.
    pub async fn update_user(
        &self,
        id: i64,
        w: &UserWrite,
        password_hash: Option<&str>,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query(
            "UPDATE users SET username = ?, first_name = ?, last_name = ?, email = ?, is_superuser = ?, \
             is_system_auditor = ?, password_hash = COALESCE(?, password_hash), modified = ? WHERE id = ?",
        )
        .bind(&w.username)
        .bind(&w.first_name)
        .bind(&w.last_name)
        .bind(&w.email)
        .bind(w.is_superuser)
        .bind(w.is_system_auditor)
        .bind(password_hash)
        .bind(now())
        .bind(id)
        .execute(&mut tx)
        .await?;
        if password_hash.is_some() {
            query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        if let Some(a) = activity {
            append(&mut tx, a, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user; their direct grants go with them.
    pub async fn delete_user(&self, id: i64, activity: &ActivityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a successful login time.
    pub async fn touch_last_login(&self, id: i64) -> StoreResult<()> {
        query("UPDATE users SET last_login = ? WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Number of users (first start creates `admin` when zero).
    pub async fn user_count(&self) -> StoreResult<i64> {
        query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await
    }
}

/// Inserts a user inside a caller's transaction or connection.
pub async fn insert_user(
    conn: &mut WriteTx,
    w: &UserWrite,
    password_hash: &str,
) -> StoreResult<i64> {
    query_scalar(
        "INSERT INTO users (username, first_name, last_name, email, password_hash, is_superuser, \
         is_system_auditor, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&w.username)
    .bind(&w.first_name)
    .bind(&w.last_name)
    .bind(&w.email)
    .bind(password_hash)
    .bind(w.is_superuser)
    .bind(w.is_system_auditor)
    .bind(now())
    .fetch_one(&mut *conn)
    .await
}

impl Store {
    /// True when the user is a direct admin of at least one organization.
    pub async fn administers_any_organization(&self, user_id: i64) -> StoreResult<bool> {
        let n: i64 = query_scalar(
            "SELECT COUNT(*) FROM role_members m JOIN roles r ON r.id = m.role_id \
             WHERE m.user_id = ? AND r.content_type = 'organization' AND r.role_field = ?",
        )
        .bind(user_id)
        .bind(crate::domain::rbac::role::ADMIN)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }
}

impl Store {
    /// Resolves an AWX named URL to an id.
    pub async fn id_by_natural_key(
        &self,
        key: &crate::domain::named_url::NaturalKey,
    ) -> StoreResult<Option<i64>> {
        use crate::domain::named_url::NaturalKey;
        let q = match key {
            NaturalKey::Credential { name, type_name, type_kind, organization } => query_scalar(
                "SELECT c.id FROM credentials c JOIN credential_types t ON t.id = c.credential_type_id \
                 LEFT JOIN organizations o ON o.id = c.organization_id \
                 WHERE c.name = ? AND t.name = ? AND t.kind = ? AND COALESCE(o.name, '') = ? ORDER BY c.id LIMIT 1",
            )
            .bind(name.clone())
            .bind(type_name.clone())
            .bind(type_kind.clone())
            .bind(organization.clone()),
            NaturalKey::CredentialType { name, kind } => {
                query_scalar("SELECT id FROM credential_types WHERE name = ? AND kind = ?")
                    .bind(name.clone())
                    .bind(kind.clone())
            }
            NaturalKey::Organization { name } => {
                query_scalar("SELECT id FROM organizations WHERE name = ?").bind(name.clone())
            }
            NaturalKey::Team { name, organization } => query_scalar(
                "SELECT t.id FROM teams t JOIN organizations o ON o.id = t.organization_id WHERE t.name = ? AND o.name = ?",
            )
            .bind(name.clone())
            .bind(organization.clone()),
            NaturalKey::User { username } => {
                query_scalar("SELECT id FROM users WHERE username = ?").bind(username.clone())
            }
        };
        q.fetch_optional(self.pool()).await
    }
}
