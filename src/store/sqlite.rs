//! The embedded database, driven in the calling thread. SQLite answers a point select in a
//! few microseconds; handing each statement to a connection's own worker thread and back
//! (as sqlx's SQLite driver does) cost ten to twenty times that, and under load most of the
//! server's time went into those thread switches. Here a statement runs where it is asked
//! for, on a pooled connection taken and returned around it, so no connection is ever held
//! across an `await` except by a write transaction, which owns its connection.
//!
//! A statement blocks its runtime worker while it runs. Reads take microseconds to a few
//! milliseconds; writes never wait for each other (the store queues writers before
//! `BEGIN`), only for another process writing the same file (`busy_timeout`).

use super::value::{Kind, Value};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle connections kept for reuse; more are opened when more threads read at once.
const MAX_IDLE: usize = 16;

/// How long a write waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a WAL restart waits for readers of older pages.
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL pages past which the next commit restarts the WAL (64 MiB of 4 KiB pages; 1 MiB in
/// unit tests, to see restarts quickly). The WAL file then keeps reusing its blocks. When
/// it ran to 1 GiB, each cycle allocated a gigabyte of new ones, and writes stalled for
/// 300–500 ms now and then, most likely on that allocation (runtime workers were seen
/// waiting in ext4's delayed allocation).
const RESTART_WAL_PAGES: i64 = if cfg!(test) { 256 } else { 16_384 };

/// WAL pages not yet copied back past which a due restart waits for the checkpoint thread
/// to catch up (8 MiB): the restart copies what is left while holding the writer slot,
/// and every write waits for it.
const RESTART_LAG_PAGES: i64 = if cfg!(test) { 16 } else { 2_048 };

/// Passive checkpoints run back to back, at most, to catch up before a restart; a reader
/// of old pages can hold the copy back, and then the restart goes ahead anyway.
const CATCH_UP_ROUNDS: usize = 20;

/// The size the WAL file is cut back to when it restarts.
const WAL_SIZE_LIMIT: i64 = if cfg!(test) { 1 << 20 } else { 64 << 20 };

/// Prepared statements kept per connection: the fixed statements of the store plus the
/// most recent list queries.
const STATEMENT_CACHE: usize = 128;

/// A pool of connections to one database file.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Pool>,
}

struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Set by the checkpoint thread when the WAL has grown past [`RESTART_WAL_PAGES`].
    restart_due: AtomicBool,
    /// Never writes, so its `data_version` moves exactly when someone else commits.
    /// `None` once the pool is closed.
    watcher: Mutex<Option<Connection>>,
    /// Set by [`SqliteDb::close`]: the checkpoint thread ends and drops its connection.
    closing: AtomicBool,
    checkpointer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteDb {
    /// Opens (creating if missing) the file and switches it to WAL, so readers never
    /// wait for the writer.
    pub fn open(path: &str) -> rusqlite::Result<SqliteDb> {
        let path = PathBuf::from(path);
        let conn = connect(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let checkpointer = connect(&path)?;
        let db = SqliteDb {
            inner: Arc::new(Pool {
                watcher: Mutex::new(Some(connect(&path)?)),
                path,
                idle: Mutex::new(vec![conn]),
                restart_due: AtomicBool::new(false),
                closing: AtomicBool::new(false),
                checkpointer: Mutex::new(None),
            }),
        };
        let pool = Arc::downgrade(&db.inner);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_while_open(&pool, &checkpointer))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        *lock(&db.inner.checkpointer) = Some(thread);
        Ok(db)
    }

    /// A number that changes whenever any connection, of this process or another,
    /// commits to the file: what caches of rendered data are validated against.
    pub fn data_version(&self) -> rusqlite::Result<i64> {
        let watcher = lock(&self.inner.watcher);
        let watcher = watcher.as_ref().ok_or(rusqlite::Error::InvalidQuery)?;
        let mut statement = watcher.prepare_cached("PRAGMA data_version")?;
        statement.query_row([], |row| row.get(0))
    }

    /// The file, for tools that open it by other means (migrations).
    pub fn path(&self) -> &std::path::Path {
        &self.inner.path
    }

    /// Runs `f` on a pooled connection.
    pub fn with<R, E: From<rusqlite::Error>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, E>,
    ) -> Result<R, E> {
        let conn = self.take()?;
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    /// Closes the idle connections, so that the next statements run on connections that
    /// read the schema (and the planner's statistics) afresh.
    pub fn drop_idle(&self) {
        self.idle().clear();
    }

    /// A connection of its own, for a write transaction; [`SqliteDb::give_back`] returns it.
    pub fn take(&self) -> rusqlite::Result<Connection> {
        let idle = self.idle().pop();
        match idle {
            Some(conn) => Ok(conn),
            None => connect(&self.inner.path),
        }
    }

    /// Returns a connection that is outside any transaction.
    pub fn give_back(&self, conn: Connection) {
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Closes the idle connections; the last one to close checkpoints the WAL.
    /// Called once every request has ended: copies the WAL back into the database file,
    /// then closes every connection of this process, so that SQLite removes the WAL and
    /// the database file alone holds the data (what a restore or a file copy relies on).
    pub fn close(&self) {
        if let Err(e) =
            self.with(|conn| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())))
        {
            tracing::warn!(error = %e, "the final WAL checkpoint failed");
        }
        self.inner.closing.store(true, Ordering::Relaxed);
        if let Some(thread) = lock(&self.inner.checkpointer).take() {
            let _ = thread.join();
        }
        lock(&self.inner.watcher).take();
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        lock(&self.inner.idle)
    }
}

/// A panic elsewhere cannot leave these values half-changed (each is replaced or taken
/// whole), so a poisoned lock still guards a valid value.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copies committed pages from the WAL into the database file, off the request path.
/// SQLite would otherwise checkpoint inside whichever commit crosses 1,000 WAL pages,
/// and that commit (with every write queued behind it) waits for the copy and its fsync:
/// tens of milliseconds, once every few dozen writes. A passive checkpoint never blocks
/// readers or the writer. Stops once the pool is gone.
///
/// A passive checkpoint never starts the WAL over either: that needs a moment with no
/// writer and no reader of older pages, which a steady write load never leaves (the WAL
/// grew by 100 MB a second under the load benchmark). So once it is long, and once the
/// passive checkpoints have copied nearly all of it back, the next commit restarts it
/// ([`SqliteTx::commit`]).
fn checkpoint_while_open(pool: &std::sync::Weak<Pool>, conn: &Connection) {
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(pool) = pool.upgrade() else {
            return;
        };
        if pool.closing.load(Ordering::Relaxed) {
            return;
        }
        for round in 1..=CATCH_UP_ROUNDS {
            let checkpoint = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            });
            let (wal_pages, copied) = match checkpoint {
                Ok(pages) => pages,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                    break;
                }
            };
            match after_checkpoint(wal_pages, copied) {
                NextStep::Wait => break,
                NextStep::CatchUp if round < CATCH_UP_ROUNDS => continue,
                NextStep::CatchUp | NextStep::Restart => {
                    pool.restart_due.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// What the checkpoint thread does after a passive checkpoint.
#[derive(Debug, PartialEq)]
enum NextStep {
    /// The WAL is short enough: wait for the next period.
    Wait,
    /// The WAL is due to restart but much of it is not copied back yet: copy more first.
    CatchUp,
    /// Have the next commit restart the WAL.
    Restart,
}

fn after_checkpoint(wal_pages: i64, copied: i64) -> NextStep {
    if wal_pages <= RESTART_WAL_PAGES {
        NextStep::Wait
    } else if wal_pages - copied > RESTART_LAG_PAGES {
        NextStep::CatchUp
    } else {
        NextStep::Restart
    }
}

fn connect(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Checkpoints run on their own thread (checkpoint_while_open).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    add_regexp(&conn)?;
    Ok(conn)
}

/// `x REGEXP pattern` for the `__regex`/`__iregex` lookups, with the regex crate (the
/// syntax PostgreSQL's `~` shares for what the filter parser admits). The compiled pattern
/// is kept for the statement's lifetime.
fn add_regexp(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("regexp", 2, flags, |ctx| {
        let pattern = ctx.get_or_create_aux(0, |v| -> Result<regex::Regex, BoxError> {
            Ok(regex::Regex::new(v.as_str()?)?)
        })?;
        let subject = match ctx.get_raw(1) {
            ValueRef::Null | ValueRef::Blob(_) => return Ok(None),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            ValueRef::Integer(i) => i.to_string(),
            ValueRef::Real(r) => r.to_string(),
        };
        Ok(Some(pattern.is_match(&subject)))
    })
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Int(Some(i)) => ValueRef::Integer(*i),
            Value::Bool(Some(b)) => ValueRef::Integer(i64::from(*b)),
            Value::Text(Some(t)) => ValueRef::Text(t.as_bytes()),
            Value::Bytes(Some(b)) => ValueRef::Blob(b),
            Value::Int(None) | Value::Bool(None) | Value::Text(None) | Value::Bytes(None) => {
                ValueRef::Null
            }
        }))
    }
}

/// A row type decoded from a SQLite row by column name (structs) or position (tuples).
pub trait FromSqlite: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! tuple_rows {
    ($(($($t:ident : $i:tt),+))*) => {
        $(impl<$($t: rusqlite::types::FromSql),+> FromSqlite for ($($t,)+) {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $t>($i)?,)+))
            }
        })*
    };
}

tuple_rows! {
    (A: 0)
    (A: 0, B: 1)
    (A: 0, B: 1, C: 2)
    (A: 0, B: 1, C: 2, D: 3)
    (A: 0, B: 1, C: 2, D: 3, E: 4)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6)
}

/// Declares a row struct once and derives both decoders from it: sqlx's `FromRow` for
/// PostgreSQL and [`FromSqlite`] by column name.
#[macro_export]
macro_rules! row_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(sqlx::FromRow)]
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $ty),*
        }

        impl $crate::store::sqlite::FromSqlite for $name {
            fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok($name {
                    $($field: row.get(stringify!($field))?),*
                })
            }
        }
    };
}

/// Every row of a statement as typed values, for copying tables whose columns are only
/// known at run time.
pub(crate) fn read_values(
    conn: &Connection,
    sql: &str,
    kinds: &[Kind],
) -> rusqlite::Result<Vec<Vec<Value>>> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| {
        kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                Ok(match kind {
                    Kind::Int => Value::Int(row.get(i)?),
                    Kind::Text => Value::Text(row.get(i)?),
                    Kind::Bool => Value::Bool(row.get(i)?),
                    Kind::Bytes => Value::Bytes(row.get(i)?),
                })
            })
            .collect()
    })?;
    rows.collect()
}

/// A write transaction on a connection of its own. Dropped without [`SqliteTx::commit`],
/// it rolls back; a connection whose rollback failed is closed rather than pooled, so no
/// pooled connection can sit inside a transaction.
pub struct SqliteTx {
    conn: Option<Connection>,
    db: SqliteDb,
}

impl SqliteTx {
    /// `BEGIN IMMEDIATE`: takes the write lock up front, waiting on the busy timeout for
    /// another process, instead of failing later when a read must become a write. This
    /// blocks the thread while it waits; see [`SqliteTx::try_begin`].
    pub fn begin(db: &SqliteDb) -> rusqlite::Result<SqliteTx> {
        let conn = db.take()?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTx {
            conn: Some(conn),
            db: db.clone(),
        })
    }

    /// `BEGIN IMMEDIATE` without waiting: `None` when another process holds the write
    /// lock, so that the caller can wait for it off the runtime's workers.
    pub fn try_begin(db: &SqliteDb) -> rusqlite::Result<Option<SqliteTx>> {
        let conn = db.take()?;
        conn.busy_timeout(Duration::ZERO)?;
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        conn.busy_timeout(BUSY_TIMEOUT)?;
        match begun {
            Ok(()) => Ok(Some(SqliteTx {
                conn: Some(conn),
                db: db.clone(),
            })),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                db.give_back(conn);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The transaction's connection; `None` only once it has ended.
    pub fn connection(&self) -> Option<&Connection> {
        self.conn.as_ref()
    }

    /// Commits and returns the connection to the pool. When the WAL is due to start over,
    /// checkpoints it in full first (still holding this process's writer slot, so no
    /// writer of ours can interfere; readers hold their snapshots only for a statement).
    pub fn commit(mut self) -> rusqlite::Result<()> {
        if let Some(conn) = self.conn.take() {
            match conn.execute_batch("COMMIT") {
                Ok(()) => {
                    if self.db.inner.restart_due.swap(false, Ordering::Relaxed) {
                        restart_wal(&conn);
                    }
                    self.db.give_back(conn)
                }
                Err(e) => {
                    self.conn = Some(conn);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Copies the whole WAL into the database file and has the next write start it over.
/// It waits for readers of older pages, briefly: every write waits with it, so a long
/// reader (a backup, another process) only postpones the restart to a later commit.
fn restart_wal(conn: &Connection) {
    let restarted = conn
        .busy_timeout(RESTART_WAIT)
        .and_then(|()| conn.execute_batch("PRAGMA wal_checkpoint(RESTART)"));
    let restored = conn.busy_timeout(BUSY_TIMEOUT);
    if let Err(e) = restarted.and(restored) {
        tracing::warn!(error = %e, "WAL restart failed; retrying later");
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.execute_batch("ROLLBACK").is_ok() {
                self.db.give_back(conn);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// With writes back to back and readers coming and going, SQLite never finds the
    /// moment to start the WAL over by itself, and the WAL grows with every write (to
    /// all the bytes written, here). The store makes that moment, so the WAL holds only
    /// what was written since the last restart: a checkpoint period or two.
    #[test]
    fn the_wal_starts_over_under_a_steady_write_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let db = SqliteDb::open(path.to_str().unwrap()).unwrap();
        db.with(|c| {
            c.execute_batch(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64) \
                 INSERT INTO t SELECT i, randomblob(16384) FROM n",
            )
        })
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    db.with(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)))
                        .unwrap();
                }
            })
        };
        let wal = dir.path().join("wal.db-wal");
        let started = Instant::now();
        let mut written = 0_u64;
        while started.elapsed() < Duration::from_secs(3) {
            let tx = SqliteTx::begin(&db).unwrap();
            let conn = tx.connection().unwrap();
            conn.execute(
                "UPDATE t SET b = randomblob(16384) WHERE id = ?",
                [written % 64 + 1],
            )
            .unwrap();
            tx.commit().unwrap();
            written += 1;
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        let size = std::fs::metadata(&wal).unwrap().len();
        let written_bytes = written * 16384;
        assert!(
            size < written_bytes / 2,
            "WAL of {size} bytes after {written_bytes} bytes written"
        );
    }

    /// A long WAL is restarted only once the checkpoint thread has copied nearly all of
    /// it back: the restart copies the rest while every write waits.
    #[test]
    fn a_restart_waits_until_the_wal_is_nearly_copied_back() {
        let long = RESTART_WAL_PAGES + 1;
        assert_eq!(after_checkpoint(RESTART_WAL_PAGES, 0), NextStep::Wait);
        assert_eq!(after_checkpoint(long, 0), NextStep::CatchUp);
        assert_eq!(
            after_checkpoint(long, long - RESTART_LAG_PAGES - 1),
            NextStep::CatchUp
        );
        assert_eq!(
            after_checkpoint(long, long - RESTART_LAG_PAGES),
            NextStep::Restart
        );
        assert_eq!(after_checkpoint(long, long), NextStep::Restart);
    }

    /// The write path's costs assume SQLite built with the options of
    /// `.cargo/config.toml`; a build that lost them still works, but every write pays for
    /// a temporary file and every allocation for a mutex again.
    #[test]
    fn sqlite_is_built_with_the_options_of_the_cargo_config() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(dir.path().join("o.db").to_str().unwrap()).unwrap();
        let options: Vec<String> = db
            .with(|c| {
                let mut statement = c.prepare("PRAGMA compile_options")?;
                let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
            })
            .unwrap();
        for wanted in ["DEFAULT_MEMSTATUS=0", "STMTJRNL_SPILL=-1"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} in {options:?}"
            );
        }
    }
}
