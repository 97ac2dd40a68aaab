//! Server configuration: flags and environment variables resolved into one value that is
//! passed down explicitly (no global singleton).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the data lives and how to reach it. Built by `main` from clap arguments.
#[derive(Clone)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub bind: SocketAddr,
    /// Directory for the embedded database and the master key.
    pub data_dir: PathBuf,
    /// `sqlite://...` URL; defaults to `<data-dir>/credstore.db`.
    pub database_url: String,
    /// File holding the base64 master key; created with mode 0600 when absent.
    pub master_key_file: PathBuf,
    /// Password for the first superuser `admin`, used on first start only.
    pub admin_password: Option<String>,
    /// Budget of the cache of rendered credential answers (`http::cache`), in MiB.
    pub response_cache_mb: usize,
    /// The `credstore` executable whose `template-worker` subcommand runs costly injector
    /// templates (`crate::template_worker`): this one, unless a test runs the server in-process.
    pub template_worker: PathBuf,
}

/// Enough for every page a busy installation's automation repeats, well inside the
/// service's memory target.
pub const DEFAULT_RESPONSE_CACHE_MB: usize = 16;

/// The executable of this process. On Linux `/proc/self/exe`, which still starts this
/// very binary after a package upgrade replaced or removed its file (a path would then
/// name the new version, or nothing).
fn running_executable() -> PathBuf {
    let own = PathBuf::from("/proc/self/exe");
    if own.exists() {
        return own;
    }
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("credstore"))
}

impl Config {
    /// Applies the documented defaults that depend on the data directory.
    pub fn resolve(
        bind: SocketAddr,
        data_dir: PathBuf,
        database_url: Option<String>,
        master_key_file: Option<PathBuf>,
        admin_password: Option<String>,
    ) -> Self {
        let database_url = database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("credstore.db").display()));
        let master_key_file = master_key_file.unwrap_or_else(|| data_dir.join("master.key"));
        Config {
            bind,
            data_dir,
            database_url,
            master_key_file,
            admin_password,
            response_cache_mb: DEFAULT_RESPONSE_CACHE_MB,
            template_worker: running_executable(),
        }
    }
}

/// Hides the admin password and any password inside the database URL.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url))
            .field("master_key_file", &self.master_key_file)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "REDACTED"),
            )
            .field("response_cache_mb", &self.response_cache_mb)
            .finish()
    }
}

/// Replaces the password part of a database URL so it can be logged.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // set_password only fails for URLs that cannot carry credentials.
            // Plain letters: `<` and `>` would come out percent-encoded.
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_password_is_redacted() {
        let shown = redact_url("postgres://u:hunter2@db:5432/x");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("u:"));
    }

    #[test]
    fn defaults_follow_data_dir() {
        let c = Config::resolve(
            "127.0.0.1:8052".parse().unwrap(),
            PathBuf::from("/d"),
            None,
            None,
            Some("pw".into()),
        );
        assert_eq!(c.database_url, "sqlite:///d/credstore.db");
        assert_eq!(c.master_key_file, PathBuf::from("/d/master.key"));
        assert!(!format!("{c:?}").contains("pw\""));
    }
}
