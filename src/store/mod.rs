//! Persistence: one `Store` API over the database. Every SQL statement of the service lives
//! under this module; values are always bound, never formatted into SQL text.

pub mod activity;
pub mod backend;
pub mod copy;
mod credential_types;
mod credentials;
mod group;
mod input_sources;
mod organizations;
mod planner;
mod population;
pub mod query;
mod roles;
mod scope;
pub mod sql;
pub mod sqlite;
mod teams;
mod tokens;
mod users;
mod value;

pub use credential_types::{CredentialTypeRow, NewCredentialType};
pub use credentials::{
    AccessPath, CredentialRow, CredentialSave, Inventory, OwnerSummary, SecretRow, TeamGrant,
};
pub use input_sources::{InputSourceRow, InputSourceWrite};
pub use organizations::OrganizationRow;
pub use population::{PoolState, Population};
pub use roles::{RoleInfo, RoleRef};
pub use scope::Scope;
pub use teams::TeamRow;
pub use tokens::{TokenCaller, TokenRow};
pub use users::{UserRow, UserWrite};

use backend::{Backend, Db};
use query::{query, query_scalar};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::Connection;

use std::str::FromStr;
use std::time::Duration;

/// Why a storage operation failed. Messages never include bound values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A uniqueness rule was violated; the payload names the rule.
    #[error("unique constraint {0} violated")]
    Unique(&'static str),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database refused a value the API let through (PostgreSQL rejects NUL
    /// characters in text and a few regular-expression forms that SQLite accepts).
    #[error("the database cannot store or match this value")]
    Unrepresentable,
    /// A row this write refers to was deleted by a concurrent request.
    #[error("a referenced row is gone")]
    Gone,
    /// PostgreSQL could not be reached; `target` is host, port and database (never the
    /// password).
    #[error(
        "cannot connect to PostgreSQL at {target}: {reason}; check --database-url \
         (CREDSTORE_DATABASE_URL), and that the server runs and accepts this user"
    )]
    Connect { target: String, reason: String },
    /// The payload is the URL's scheme (never the URL: it may carry a password).
    #[error(
        "the database URL {0} is not one credstore can open; give --database-url \
         (CREDSTORE_DATABASE_URL) as sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    )]
    UnsupportedUrl(String),
    /// The command needs the other kind of database.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A task running database work panicked or was shut down.
    #[error("database task failed: {0}")]
    Task(String),
    /// The commit that carried this write, with others, failed.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
}

/// The named uniqueness rules: SQLite names the columns in its message, PostgreSQL names
/// the constraint (named alike in `migrations/postgres`).
const UNIQUE_RULES: [(&str, &str, &str); 6] = [
    (
        "credential_input_sources.target_credential_id, credential_input_sources.input_field_name",
        "credential_input_sources_target_field_unique",
        "input_source_field",
    ),
    (
        "credentials.organization_id, credentials.name, credentials.credential_type_id",
        "credentials_org_name_type_unique",
        "credential_name",
    ),
    (
        "credential_types.name, credential_types.kind",
        "credential_types_name_kind_unique",
        "credential_type_name",
    ),
    (
        "teams.organization_id, teams.name",
        "teams_org_name_unique",
        "team_name",
    ),
    (
        "organizations.name",
        "organizations_name_unique",
        "organization_name",
    ),
    ("users.username", "users_username_unique", "username"),
];

/// PostgreSQL's data exceptions for values it cannot hold or match: NUL in text
/// (22021, 22P05) and invalid regular expressions (2201B).
const UNREPRESENTABLE_CODES: [&str; 3] = ["22021", "22P05", "2201B"];

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        classify_sqlite(e)
    }
}

/// [`classify`] for the embedded driver: SQLite's extended result codes tell the kinds
/// apart, its message names the columns of a unique rule.
fn classify_sqlite(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    if let rusqlite::Error::SqliteFailure(code, Some(msg)) = &e {
        match code.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                if let Some(rule) = unique_rule(msg, "") {
                    return StoreError::Unique(rule);
                }
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return StoreError::Gone,
            _ => {}
        }
    }
    StoreError::Sqlite(e)
}

/// The rule a unique violation broke, from SQLite's message or PostgreSQL's constraint.
fn unique_rule(message: &str, constraint: &str) -> Option<&'static str> {
    UNIQUE_RULES
        .iter()
        .find(|(cols, name, _)| message.contains(cols) || constraint == *name)
        .map(|(_, _, rule)| *rule)
}

/// Turns a unique violation into `StoreError::Unique`, a foreign-key violation (the
/// referenced row was deleted meanwhile) into `Gone`, a value the database cannot hold
/// into `Unrepresentable`, everything else into `Db`.
fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            if let Some(rule) = unique_rule(db.message(), db.constraint().unwrap_or_default()) {
                return StoreError::Unique(rule);
            }
        }
        if db.is_foreign_key_violation() {
            return StoreError::Gone;
        }
        if db
            .code()
            .is_some_and(|c| UNREPRESENTABLE_CODES.contains(&c.as_ref()))
        {
            return StoreError::Unrepresentable;
        }
    }
    StoreError::Db(e)
}

/// Decodes a JSON column. Unreadable text is [`StoreError::Corrupt`] naming the table,
/// column and row (the 500 it becomes is logged), never an empty value that a later write
/// could store over what was there. The message carries no part of the text.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    table: &str,
    column: &str,
    id: i64,
    text: &str,
) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Corrupt(format!(
            "{table}.{column} of row {id} is not readable JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database handle shared by all requests.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// SQLite has one writer at a time: writers of this process queue here instead of
    /// sleeping in SQLite's busy handler, and share commits ([`group`]). (Across
    /// PostgreSQL instances, writers also queue on an advisory lock.)
    writer: std::sync::Arc<tokio::sync::Mutex<group::Slot>>,
}

/// The advisory lock that serializes write transactions of every instance on one
/// PostgreSQL database, as SQLite's single writer does for one file: the role closure,
/// the activity chain and read-then-write checks stay consistent without retry loops.
/// Writes that only add a new object under roles that exist ([`Store::begin_addition`])
/// hold it shared, so that they run side by side, in one instance or several; every other
/// write holds it alone.
pub const PG_WRITE_LOCK: i64 = 0x6372_6564_7374_6f72; // "credstor"

/// The advisory lock that orders appends to the activity chain: taken just before the
/// chain's last entry is read and held to the commit, so that writes running side by side
/// append one after the other, in the order they commit.
const PG_CHAIN_LOCK: i64 = PG_WRITE_LOCK + 2;

/// The advisory lock held while an instance seeds the database at start-up.
const PG_SETUP_LOCK: i64 = PG_WRITE_LOCK + 1;

/// Start-up seeding in progress; [`SetupLock::release`] lets the next instance in.
pub struct SetupLock(Option<sqlx::PgConnection>);

impl SetupLock {
    /// Ends the lock by closing its connection.
    pub async fn release(self) {
        if let Some(conn) = self.0 {
            use sqlx::Connection;
            // Closing ends the session and with it the lock; if the close fails the
            // server ends the session when the socket drops.
            let _ = conn.close().await;
        }
    }
}

/// A write transaction that holds the writer slot until it ends.
pub struct WriteTx {
    tx: Backend<group::Member, PgWrite>,
}

/// A PostgreSQL transaction, with this instance's writer slot unless it is an addition.
struct PgWrite {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// This instance's writer slot, held with the write lock alone; `None` for an
    /// addition, which holds the write lock shared.
    writer: Option<tokio::sync::OwnedMutexGuard<group::Slot>>,
}

impl WriteTx {
    /// Where this transaction's statements run, for [`query::Target`].
    pub(crate) fn target(&mut self) -> query::Target<'_> {
        match &mut self.tx {
            Backend::Sqlite(member) => query::Target::SqliteTx(member.tx()),
            Backend::Postgres(pg) => query::Target::PgConn(&mut pg.tx),
        }
    }

    /// Orders this transaction's activity entry after those of writes running beside it:
    /// additions on PostgreSQL. A write holding the write lock alone has nobody beside
    /// it, and SQLite has one writer at a time.
    pub(crate) async fn lock_activity_chain(&mut self) -> StoreResult<()> {
        if let Backend::Postgres(pg @ PgWrite { writer: None, .. }) = &mut self.tx {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_CHAIN_LOCK)
                .execute(&mut *pg.tx)
                .await?;
        }
        Ok(())
    }

    /// Commits; dropping a `WriteTx` without committing rolls back. On SQLite this
    /// returns once the write's group has committed ([`group`]).
    ///
    /// On PostgreSQL it then yields, so that the next writer starts at once. Releasing
    /// the writer slot wakes the next writer into this worker's LIFO slot, which no other
    /// worker may take: without the yield it would wait until this request had also
    /// rendered its answer, and the slot would sit idle for that long after every write.
    pub async fn commit(self) -> StoreResult<()> {
        match self.tx {
            Backend::Sqlite(member) => member.commit().await,
            Backend::Postgres(PgWrite { tx, writer }) => {
                let committed = tx.commit().await.map_err(StoreError::from);
                drop(writer);
                tokio::task::yield_now().await;
                committed
            }
        }
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
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database without touching its schema.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        let db = if let Some(path) = url.strip_prefix("sqlite://") {
            Backend::Sqlite(sqlite::SqliteDb::open(path)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            check_reachable(&options).await?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(PG_CONNECT_TIMEOUT)
                .connect_with(options)
                .await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(describe_scheme(url)));
        };
        Ok(Store {
            db,
            writer: std::sync::Arc::default(),
        })
    }

    /// Applies the embedded migrations of this database kind. On PostgreSQL sqlx holds an
    /// advisory lock meanwhile, so instances starting together migrate once.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.db {
            Backend::Sqlite(db) => {
                let mut conn = migration_connection(db).await?;
                sqlx::migrate!("migrations/sqlite").run(&mut conn).await?;
                conn.close().await?;
            }
            Backend::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        self.install_planner_statistics().await
    }

    /// Gives SQLite's planner the fixed statistics of [`planner`], so that plans do not
    /// depend on how the data grew. PostgreSQL's autovacuum keeps its own statistics.
    async fn install_planner_statistics(&self) -> StoreResult<()> {
        let Backend::Sqlite(db) = &self.db else {
            return Ok(());
        };
        db.with(planner::install)?;
        // Connections already open planned with what they read before.
        db.drop_idle();
        Ok(())
    }

    /// Holds off other instances while this one seeds a fresh database (key fingerprints,
    /// `admin`, managed types, the Galaxy credential): on PostgreSQL a session advisory
    /// lock on a connection of its own, so that a crash releases it with the connection.
    /// SQLite serves one instance; there is nothing to wait for.
    pub async fn setup_lock(&self) -> StoreResult<SetupLock> {
        match &self.db {
            Backend::Sqlite(_) => Ok(SetupLock(None)),
            Backend::Postgres(pool) => {
                let mut conn = pool.acquire().await?.detach();
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(PG_SETUP_LOCK)
                    .execute(&mut conn)
                    .await?;
                Ok(SetupLock(Some(conn)))
            }
        }
    }

    /// A value that changes whenever anything commits to the database, for caches of
    /// data rendered from it; `None` where no such value is cheap to read (PostgreSQL,
    /// where other instances write), which means: do not cache.
    pub fn generation(&self) -> StoreResult<Option<i64>> {
        match &self.db {
            Backend::Sqlite(db) => Ok(Some(db.data_version()?)),
            Backend::Postgres(_) => Ok(None),
        }
    }

    /// Which kind of database this is, for messages and commands that differ.
    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Backend::Postgres(_))
    }

    /// The SQL dialect of the filter translation.
    pub fn dialect(&self) -> sql::Dialect {
        match self.db {
            Backend::Sqlite(_) => sql::Dialect::Sqlite,
            Backend::Postgres(_) => sql::Dialect::Postgres,
        }
    }
}

/// [`begin_postgres`] in a task of its own (see [`Store::begin`]).
async fn spawn_begin_postgres(
    pool: &sqlx::PgPool,
    shared: bool,
) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let pool = pool.clone();
    tokio::spawn(async move { begin_postgres(&pool, shared).await })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

/// `BEGIN` and the advisory write lock, alone or `shared`.
async fn begin_postgres(
    pool: &sqlx::PgPool,
    shared: bool,
) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    let lock = if shared {
        "SELECT pg_advisory_xact_lock_shared($1)"
    } else {
        "SELECT pg_advisory_xact_lock($1)"
    };
    sqlx::query(lock)
        .bind(PG_WRITE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// A sqlx connection to the embedded database for its migrations, which sqlx's migrator
/// runs and records (`_sqlx_migrations`); statements go through [`sqlite::SqliteDb`].
async fn migration_connection(db: &sqlite::SqliteDb) -> StoreResult<sqlx::SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(db.path())
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    Ok(sqlx::SqliteConnection::connect_with(&options).await?)
}

impl Store {
    /// Starts a write transaction; dropping it without `commit` rolls back.
    /// Writers of this process first queue on one mutex. On SQLite the transaction then
    /// starts IMMEDIATE: it takes the write lock up front (waiting on the busy timeout)
    /// instead of failing when a read snapshot must be upgraded after another writer
    /// committed; consecutive writers share it ([`group`]). On PostgreSQL it takes the
    /// advisory write lock; thanks to the mutex at most one pooled connection per
    /// instance waits for it, and reads keep the others.
    ///
    /// Waits that run outside the request (a blocking thread for SQLite's `BEGIN` when
    /// another process holds the lock, PostgreSQL's `BEGIN`) run in a task of their own,
    /// so that they complete even when the request that asked for them is cancelled (its
    /// client went away): a caller cancelled between the database's answer and the
    /// building of its transaction would leave a pooled connection inside a transaction
    /// nobody rolls back. In a task the transaction is always built; if nobody awaits
    /// it, dropping it rolls back.
    pub async fn begin(&self) -> StoreResult<WriteTx> {
        let tx = match &self.db {
            Backend::Sqlite(db) => Backend::Sqlite(group::join(&self.writer, db).await?),
            Backend::Postgres(pool) => {
                let writer = self.writer.clone().lock_owned().await;
                Backend::Postgres(PgWrite {
                    tx: spawn_begin_postgres(pool, false).await?,
                    writer: Some(writer),
                })
            }
        };
        Ok(WriteTx { tx })
    }

    /// Starts a write transaction that only adds a new object (a credential and its
    /// roles, grants, secrets, input sources and activity entry) under roles that exist.
    /// On PostgreSQL such writes hold the write lock shared and run side by side, in this
    /// instance and in others: none changes a role that another reads, and the activity
    /// chain orders their entries ([`WriteTx::lock_activity_chain`]). A write that changes
    /// what exists (role edges, a type's inputs, deletions) takes [`Store::begin`] and
    /// waits for them. On SQLite it is [`Store::begin`].
    pub async fn begin_addition(&self) -> StoreResult<WriteTx> {
        match &self.db {
            Backend::Sqlite(_) => self.begin().await,
            Backend::Postgres(pool) => Ok(WriteTx {
                tx: Backend::Postgres(PgWrite {
                    tx: spawn_begin_postgres(pool, true).await?,
                    writer: None,
                }),
            }),
        }
    }

    /// The pools: for the store's reads, and for tools and tests that inspect storage.
    pub fn pool(&self) -> &Db {
        &self.db
    }

    /// Reads a `meta` value (e.g. the master key fingerprint).
    pub async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await
    }

    /// Writes a `meta` value.
    pub async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Closes the pool, flushing SQLite's WAL.
    pub async fn close(&self) {
        match &self.db {
            Backend::Sqlite(db) => db.close(),
            Backend::Postgres(p) => p.close().await,
        }
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
        scope: &Scope,
        filter: &crate::domain::filter::Filter,
        order: &[crate::domain::filter::OrderKey],
        page_size: i64,
        page: Option<i64>,
    ) -> StoreResult<Page> {
        let mut cond = sql::and_all(vec![
            scope.sql(resource.table)?,
            sql::filter_sql(self.dialect(), resource, filter),
        ]);
        let table = resource.table;
        let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", cond.text);
        let count: i64 = query_scalar(&count_sql)
            .bind_all(&cond.binds)
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
        let ids: Vec<i64> = query_scalar(&ids_sql)
            .bind_all(&cond.binds)
            .fetch_all(self.pool())
            .await?;
        Ok(Page {
            count,
            page: Some(page),
            ids,
        })
    }
}

/// How long the first connection to PostgreSQL may take before start-up gives up.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection before the pool does: the pool retries failed connections until
/// its timeout and then reports only that it timed out, hiding the cause (refused, no
/// such host, password rejected) that an operator needs.
async fn check_reachable(options: &PgConnectOptions) -> StoreResult<()> {
    use sqlx::Connection;
    let target = format!(
        "{}:{} (database {})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    );
    let failed = |reason: String| StoreError::Connect {
        target: target.clone(),
        reason,
    };
    match tokio::time::timeout(
        PG_CONNECT_TIMEOUT,
        sqlx::PgConnection::connect_with(options),
    )
    .await
    {
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            PG_CONNECT_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// How an unusable database URL is named in an error: its scheme, or that it has none.
fn describe_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("of scheme `{scheme}://`"),
        None => "without a scheme".to_string(),
    }
}
