//! Restoring the embedded database from a `credstore backup` file, and the lock that keeps
//! a restore and a running server apart.
//!
//! Every process that serves an SQLite database holds a shared lock on `<database>.lock`;
//! `credstore restore` takes it exclusively, so it never replaces a file under a server
//! and a server never starts on a half-restored one.

use crate::config::Config;
use crate::files::{restrict_to_owner, sibling};
use crate::keys::{open_ring, KeyError};
use crate::store::{Inventory, Store, StoreError};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Why a restore (or taking the serve lock) failed. Names files, never secrets.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "restore replaces an SQLite database, and this installation uses PostgreSQL \
         (--database-url): restore PostgreSQL with pg_restore"
    )]
    NotSqlite,
    #[error("there is no backup file at {0}")]
    NoBackup(String),
    #[error("{0} is not a credstore backup (not a credstore SQLite database)")]
    NotABackup(String),
    #[error(
        "a credstore server is using {0}; stop it (every server on this data dir), then run \
         the command again"
    )]
    InUse(String),
    #[error("a restore is replacing {0} right now; start the server once it has finished")]
    Restoring(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the backup cannot be opened with the key file: {0}")]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.display().to_string();
    move |source| BackupError::Io { what, path, source }
}

/// The SQLite file a database URL names, or `None` for PostgreSQL.
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    database_url.strip_prefix("sqlite://").map(PathBuf::from)
}

fn open_lock_file(database: &Path) -> Result<(File, PathBuf), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = sibling(database, ".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("cannot open the lock file", &path))?;
    Ok((file, path))
}

/// The shared lock a server holds on its SQLite database while it runs.
#[derive(Debug)]
pub struct ServeLock {
    _held: File,
}

impl ServeLock {
    /// Takes the shared lock of the database `database_url` names; `None` for PostgreSQL,
    /// where restores go through pg_restore.
    pub fn acquire(database_url: &str) -> Result<Option<ServeLock>, BackupError> {
        let Some(database) = sqlite_file(database_url) else {
            return Ok(None);
        };
        let (file, path) = open_lock_file(&database)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(ServeLock { _held: file })),
            Err(TryLockError::WouldBlock) => {
                Err(BackupError::Restoring(database.display().to_string()))
            }
            Err(TryLockError::Error(e)) => Err(io("cannot lock", &path)(e)),
        }
    }
}

/// What `credstore restore` did.
#[derive(Debug)]
pub struct RestoreReport {
    pub database: PathBuf,
    /// Where the database it replaced was moved, if there was one.
    pub previous: Option<PathBuf>,
    pub restored: Inventory,
}

/// Replaces the SQLite database with a backup: only while no server runs, only a file that
/// is a credstore database whose secrets the key file opens, and without a stale WAL (the
/// database it replaces is folded into one file and kept beside it).
pub async fn restore(config: &Config, backup: &Path) -> Result<RestoreReport, BackupError> {
    let database = sqlite_file(&config.database_url).ok_or(BackupError::NotSqlite)?;
    if !backup.is_file() {
        return Err(BackupError::NoBackup(backup.display().to_string()));
    }
    check_sqlite_header(backup)?;
    let (lock, _) = open_lock_file(&database)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(BackupError::InUse(database.display().to_string()))
        }
        Err(TryLockError::Error(e)) => return Err(io("cannot lock", &database)(e)),
    }
    let staged = sibling(&database, ".restoring");
    remove_with_journal(&staged)?;
    std::fs::copy(backup, &staged).map_err(io("cannot copy the backup to", &staged))?;
    restrict_to_owner(&staged);
    let restored = match check_staged(config, backup, &staged).await {
        Ok(inventory) => inventory,
        Err(e) => {
            let _ = remove_with_journal(&staged);
            return Err(e);
        }
    };
    let previous = set_aside(&database).await?;
    std::fs::rename(&staged, &database).map_err(io("cannot move the backup to", &database))?;
    Ok(RestoreReport {
        database,
        previous,
        restored,
    })
}

fn check_sqlite_header(file: &Path) -> Result<(), BackupError> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let read = File::open(file)
        .and_then(|mut f| f.read_exact(&mut header))
        .map(|()| header == *b"SQLite format 3\0");
    match read {
        Ok(true) => Ok(()),
        _ => Err(BackupError::NotABackup(file.display().to_string())),
    }
}

/// Opens the staged copy: a credstore database (brought to this version's schema) whose
/// key fingerprints match the key file and whose secrets' key versions are all in it.
async fn check_staged(
    config: &Config,
    backup: &Path,
    staged: &Path,
) -> Result<Inventory, BackupError> {
    let url = format!("sqlite://{}", staged.display());
    let store = Store::connect(&url).await?;
    let result = async {
        if !matches!(store.meta("install_uuid").await, Ok(Some(_))) {
            return Err(BackupError::NotABackup(backup.display().to_string()));
        }
        store.migrate().await?;
        let staged_config = Config {
            database_url: url.clone(),
            ..config.clone()
        };
        open_ring(&staged_config, &store).await?;
        Ok(store.inventory().await?)
    }
    .await;
    store.close().await;
    result
}

/// Folds the current database's WAL into its file and moves it aside, so the restore
/// never mixes a stale WAL with the restored file.
async fn set_aside(database: &Path) -> Result<Option<PathBuf>, BackupError> {
    if !database.exists() {
        remove_with_journal(database)?;
        return Ok(None);
    }
    let current = Store::connect(&format!("sqlite://{}", database.display())).await?;
    current.close().await;
    drop(current);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = sibling(database, &format!(".before-restore-{stamp}"));
    std::fs::rename(database, &aside).map_err(io("cannot move the current database to", &aside))?;
    for suffix in ["-wal", "-shm"] {
        let journal = sibling(database, suffix);
        if journal.exists() {
            std::fs::rename(&journal, sibling(&aside, suffix))
                .map_err(io("cannot move", &journal))?;
        }
    }
    Ok(Some(aside))
}

/// Removes a database file and its WAL and shared-memory files, where they exist.
fn remove_with_journal(file: &Path) -> Result<(), BackupError> {
    for path in [
        file.to_path_buf(),
        sibling(file, "-wal"),
        sibling(file, "-shm"),
    ] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove", &path)(e)),
        }
    }
    Ok(())
}
