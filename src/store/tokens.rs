//! API tokens and login sessions, stored as SHA-256 digests of their secret values.

use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::{now, Store, StoreResult};

crate::row_struct! {
    /// A token row; the secret itself is never stored.
    #[derive(Debug, Clone)]
    pub struct TokenRow {
        pub id: i64,
        pub user_id: i64,
        pub description: String,
        pub scope: String,
        pub created: String,
        pub modified: String,
        pub expires: String,
    }
}

const SELECT: &str =
    "SELECT id, user_id, description, scope, created, modified, expires FROM tokens";

/// The user a bearer token authenticates, with the token's scope.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenCaller {
    pub scope: String,
    /// When the token stops working, in the stored time format.
    pub expires: String,
    #[sqlx(flatten)]
    pub user: super::UserRow,
}

impl super::sqlite::FromSqlite for TokenCaller {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TokenCaller {
            scope: row.get("scope")?,
            expires: row.get("expires")?,
            user: super::sqlite::FromSqlite::from_sqlite(row)?,
        })
    }
}

impl Store {
    /// Stores a new token's digest.
    pub async fn create_token(
        &self,
        user_id: i64,
        description: &str,
        scope: &str,
        digest: &[u8],
        expires: &str,
    ) -> StoreResult<i64> {
        let ts = now();
        // A write transaction, as every write: see store::group.
        let mut tx = self.begin().await?;
        let id = query_scalar(
            "INSERT INTO tokens (user_id, description, scope, token_hash, created, modified, expires) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(user_id)
        .bind(description)
        .bind(scope)
        .bind(digest)
        .bind(&ts)
        .bind(&ts)
        .bind(expires)
        .fetch_one(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The user of the unexpired token with this digest, in one statement: every bearer
    /// request starts here.
    pub async fn token_caller(&self, digest: &[u8]) -> StoreResult<Option<TokenCaller>> {
        let sql = format!(
            "SELECT t.scope, t.expires, {} FROM tokens t JOIN users ON users.id = t.user_id \
             WHERE t.token_hash = ? AND t.expires > ?",
            super::users::QUALIFIED_COLUMNS
        );
        query_as(&sql)
            .bind(digest)
            .bind(now())
            .fetch_optional(self.pool())
            .await
    }

    /// One token.
    pub async fn token(&self, id: i64) -> StoreResult<Option<TokenRow>> {
        query_as(&format!("{SELECT} WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Tokens by id, in the given order.
    pub async fn tokens_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<TokenRow>> {
        let rows: Vec<TokenRow> = fetch_by_ids(self, SELECT, ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// Changes a token's description and scope.
    pub async fn update_token(&self, id: i64, description: &str, scope: &str) -> StoreResult<()> {
        query("UPDATE tokens SET description = ?, scope = ?, modified = ? WHERE id = ?")
            .bind(description)
            .bind(scope)
            .bind(now())
            .bind(id)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Revokes a token.
    pub async fn delete_token(&self, id: i64) -> StoreResult<()> {
        query("DELETE FROM tokens WHERE id = ?")
            .bind(id)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Starts a login session.
    pub async fn create_session(
        &self,
        digest: &[u8],
        user_id: i64,
        expires: &str,
    ) -> StoreResult<()> {
        query("INSERT INTO sessions (session_hash, user_id, created, expires) VALUES (?, ?, ?, ?)")
            .bind(digest)
            .bind(user_id)
            .bind(now())
            .bind(expires)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn session_user(&self, digest: &[u8]) -> StoreResult<Option<i64>> {
        query_scalar("SELECT user_id FROM sessions WHERE session_hash = ? AND expires > ?")
            .bind(digest)
            .bind(now())
            .fetch_optional(self.pool())
            .await
    }

    /// Ends a session.
    pub async fn delete_session(&self, digest: &[u8]) -> StoreResult<()> {
        query("DELETE FROM sessions WHERE session_hash = ?")
            .bind(digest)
            .execute_write(self)
            .await?;
        Ok(())
    }
}
