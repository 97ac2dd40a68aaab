//! File modes of what credstore keeps on disk (the database and its WAL, the key file, the
//! data directory): created private, and a warning when a copy or an old install is not.

use std::path::{Path, PathBuf};

/// `file` with `suffix` appended to its name (`credstore.db-wal`, `credstore.db.lock`).
pub fn sibling(file: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", file.display()))
}

/// Makes an SQLite database and its WAL and shared-memory files readable by their owner
/// only, whatever the umask made them (they hold password hashes, token digests and
/// ciphertexts; SQLite creates the WAL and shared-memory files with the database's mode).
pub fn restrict_to_owner(database: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let file = sibling(database, suffix);
        if file.exists() {
            if let Err(e) = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            {
                tracing::warn!(file = %file.display(), error = %e, "cannot make the file private");
            }
        }
    }
}

/// Warns when others than the owner may read `path` (the key file, the data dir), which
/// credstore creates private but a copy, a restore or an old install may not have kept;
/// `private_mode` is what to `chmod` it to.
pub fn warn_if_others_may_read(path: &Path, what: &str, private_mode: &str) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "the {what} may be read by other users; run `chmod {private_mode}` on it"
        );
    }
}
