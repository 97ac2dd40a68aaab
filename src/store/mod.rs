//! Persistence: one `Store` API over the database. Every SQL statement of the service lives
//! under this module; values are always bound, never formatted into SQL text.

pub mod activity;
mod credential_types;
mod credentials;
mod input_sources;
mod organizations;
mod roles;
pub mod sql;
mod teams;
mod tokens;
mod users;

pub use credential_types::{CredentialTypeRow, NewCredentialType};
pub use credentials::{AccessPath, CredentialRow, CredentialSave, OwnerSummary, SecretRow};
pub use input_sources::{InputSourceRow, InputSourceWrite};
pub use organizations::OrganizationRow;
pub use roles::{held_roles_sql as roles_held_sql, holding_sql, readable_sql, RoleInfo, RoleRef};
pub use teams::TeamRow;
pub use tokens::TokenRow;
pub use users::{UserRow, UserWrite};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Why a storage operation failed. Messages never include bound values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A uniqueness rule was violated; the payload names the rule.
    #[error("unique constraint {0} violated")]
    Unique(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (expected sqlite://...)")]
    UnsupportedUrl,
}

/// The named uniqueness rules, recognised from the database's error text.
const UNIQUE_RULES: [(&str, &str); 6] = [
    (
        "credential_input_sources.target_credential_id, credential_input_sources.input_field_name",
        "input_source_field",
    ),
    (
        "credentials.organization_id, credentials.name, credentials.credential_type_id",
        "credential_name",
    ),
    (
        "credential_types.name, credential_types.kind",
        "credential_type_name",
    ),
    ("teams.organization_id, teams.name", "team_name"),
    ("organizations.name", "organization_name"),
    ("users.username", "username"),
];

/// Turns a unique violation into `StoreError::Unique`, everything else into `Db`.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let msg = db.message();
            for (cols, rule) in UNIQUE_RULES {
                if msg.contains(cols) {
                    return StoreError::Unique(rule);
                }
            }
        }
    }
    StoreError::Db(e)
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database handle shared by all requests.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// SQLite has one writer at a time: writers of this process queue here instead of
    /// sleeping in SQLite's busy handler.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction that holds this process's writer slot until it ends. It derefs to
/// the connection, so store helpers take `&mut tx` like any connection.
pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _writer: tokio::sync::OwnedMutexGuard<()>,
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl WriteTx {
    /// Commits; dropping a `WriteTx` without committing rolls back.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back explicitly.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// The current time in AWX's format (UTC, microseconds, `Z`). Stored as text so that
/// lexical order is time order.
pub fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

impl Store {
    /// Opens (creating if needed) the database and applies the embedded migrations.
    pub async fn open(url: &str) -> StoreResult<Store> {
        let path = url
            .strip_prefix("sqlite://")
            .ok_or(StoreError::UnsupportedUrl)?;
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Makes LIKE case-sensitive, as `contains`/`startswith` are in AWX;
            // the case-insensitive lookups lower both sides explicitly.
            .pragma("case_sensitive_like", "ON")
            // `__regex`/`__iregex` lookups: SQLite's REGEXP backed by the regex crate.
            .with_regexp();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A liveness ping before every statement costs a round trip to SQLite's
            // worker thread; local file connections do not go stale.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        // Statistics let the planner start visibility joins from the user's few grants.
        sqlx::query("PRAGMA optimize").execute(&pool).await?;
        Ok(Store {
            pool,
            writer: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Starts a transaction; dropping it without `commit` rolls back.
    /// Write transactions start IMMEDIATE: they take the write lock up front (waiting on
    /// the busy timeout) instead of failing when a read snapshot must be upgraded after
    /// another writer committed.
    pub async fn begin(&self) -> StoreResult<WriteTx> {
        let writer = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    /// The pool, for read-only queries.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Reads a `meta` value (e.g. the master key fingerprint).
    pub async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Writes a `meta` value.
    pub async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool, flushing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One page of a list: the total, the page number served, and the ids on the page.
#[derive(Debug, Clone)]
pub struct Page {
    pub count: i64,
    /// `None` when the requested page does not exist.
    pub page: Option<i64>,
    pub ids: Vec<i64>,
}

impl Store {
    /// Counts and pages the ids of `resource` rows matching the visibility restriction and
    /// the filter, in the requested order. `page = None` asks for the last page.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_ids(
        &self,
        resource: &crate::domain::resource::Resource,
        scope: sql::Sql,
        filter: &crate::domain::filter::Filter,
        order: &[crate::domain::filter::OrderKey],
        page_size: i64,
        page: Option<i64>,
    ) -> StoreResult<Page> {
        let mut cond = sql::and_all(vec![scope, sql::filter_sql(resource, filter)]);
        let table = resource.table;
        let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", cond.text);
        let count: i64 = sqlx::query_scalar_with(&count_sql, cond.arguments())
            .fetch_one(self.pool())
            .await?;
        let pages = ((count + page_size - 1) / page_size).max(1);
        let page = page.unwrap_or(pages);
        if page > pages {
            return Ok(Page {
                count,
                page: None,
                ids: Vec::new(),
            });
        }
        let order_by = sql::order_sql(resource, order);
        cond.binds.push(sql::Bind::Int(page_size));
        cond.binds.push(sql::Bind::Int((page - 1) * page_size));
        let ids_sql = format!(
            "SELECT {table}.id FROM {table} WHERE {} ORDER BY {order_by} LIMIT ? OFFSET ?",
            cond.text
        );
        let ids: Vec<i64> = sqlx::query_scalar_with(&ids_sql, cond.arguments())
            .fetch_all(self.pool())
            .await?;
        Ok(Page {
            count,
            page: Some(page),
            ids,
        })
    }
}
