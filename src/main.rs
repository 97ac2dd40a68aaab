//! The `credstore` command line: parses flags and environment, then calls the library.

use clap::{Parser, Subcommand};
use credstore::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// A credential store that speaks the AWX credentials API.
#[derive(Parser)]
#[command(name = "credstore", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data is; shared by every command that opens the store.
#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// Directory for the embedded database and the master key.
    #[arg(long, env = "CREDSTORE_DATA_DIR", default_value = "./credstore-data")]
    data_dir: PathBuf,
    /// Database URL [default: sqlite://<data-dir>/credstore.db].
    #[arg(long, env = "CREDSTORE_DATABASE_URL")]
    database_url: Option<String>,
    /// Master key file (base64, created with mode 0600 on first start)
    /// [default: <data-dir>/master.key].
    #[arg(long, env = "CREDSTORE_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API; creates the data dir, database, master key and the superuser
    /// `admin` (password from CREDSTORE_ADMIN_PASSWORD, or generated and printed once).
    Serve {
        /// Address and port to listen on.
        #[arg(long, env = "CREDSTORE_BIND", default_value = "127.0.0.1:8052")]
        bind: SocketAddr,
        /// Megabytes of rendered credential answers kept for repeated reads (SQLite only;
        /// 0 turns the cache off).
        #[arg(long, env = "CREDSTORE_RESPONSE_CACHE_MB", default_value_t = credstore::config::DEFAULT_RESPONSE_CACHE_MB)]
        response_cache_mb: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Key lifecycle.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Write a consistent copy of the SQLite database to FILE while the service runs.
    /// Restore by stopping the server and putting FILE in place of the database; it only
    /// opens with the same master key file.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Copy every row (users with their password hashes, organizations, teams, roles,
    /// credential types, credentials with their ciphertexts, input sources, tokens and the
    /// activity stream) from one database into a fresh PostgreSQL database, then compare
    /// the row counts of every table. Stop the servers first. The copy serves under the
    /// same master key file.
    MigrateData {
        /// Source database, e.g. sqlite://./credstore-data/credstore.db
        #[arg(long)]
        from: String,
        /// Target database, e.g. postgres://credstore:PASSWORD@db:5432/credstore
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Walk the activity stream's hash chain and report the first entry that was changed,
    /// removed or reordered. Exits non-zero when the chain is broken.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Print the master key's fingerprint (safe to share; it reveals nothing of the key).
    Fingerprint {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the key versions in the key file and how many secrets each one seals.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Add a new key version, re-encrypt every secret with it while servers keep serving,
    /// then retire the old versions nothing uses. Safe to interrupt and run again.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn config(bind: SocketAddr, s: StoreArgs) -> Config {
    let admin_password = std::env::var("CREDSTORE_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    Config::resolve(
        bind,
        s.data_dir,
        s.database_url,
        s.master_key_file,
        admin_password,
    )
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8052))
}

/// Every allocation, Rust's and SQLite's (the `override` feature replaces `malloc` and
/// `free`), goes to mimalloc: per-thread free lists without locks. glibc's malloc and
/// free took a fifth of the instructions of a credential create (callgrind). The price
/// is memory: mimalloc keeps freed pages a while, and the benchmark's peak RSS rose
/// from 64 to about 77 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CREDSTORE_LOG")
                // PostgreSQL's notices (e.g. "relation already exists, skipping" from
                // idempotent migrations) are not news for an operator.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn")
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("credstore: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("credstore: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            bind,
            response_cache_mb,
            store,
        } => {
            let mut c = config(bind, store);
            c.response_cache_mb = response_cache_mb;
            serve(c).await
        }
        Command::Migrate { store } => {
            let c = config(default_bind(), store);
            std::fs::create_dir_all(&c.data_dir).map_err(|e| e.to_string())?;
            credstore::store::Store::open(&c.database_url)
                .await
                .map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Status { store },
        } => keys_status(config(default_bind(), store)).await,
        Command::Keys {
            action: KeysAction::Rotate { store },
        } => keys_rotate(config(default_bind(), store)).await,
        Command::Audit {
            action: AuditAction::Verify { store },
        } => audit_verify(config(default_bind(), store)).await,
        Command::Backup { file, store } => backup(config(default_bind(), store), file).await,
        Command::MigrateData { from, to } => migrate_data(&from, &to).await,
        Command::Keys {
            action: KeysAction::Fingerprint { store },
        } => {
            let c = config(default_bind(), store);
            let text = std::fs::read_to_string(&c.master_key_file)
                .map_err(|e| format!("{}: {e}", c.master_key_file.display()))?;
            let key =
                credstore::crypto::MasterKey::from_base64(&text).map_err(|e| e.to_string())?;
            println!("{}", key.fingerprint());
            Ok(())
        }
    }
}

/// Opens an existing store (the offline commands never create one).
async fn open_existing(database_url: &str) -> Result<credstore::store::Store, String> {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            return Err(format!(
                "no database at {path}; check --data-dir or --database-url"
            ));
        }
    }
    let store = credstore::store::Store::connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    if store.meta("install_uuid").await.is_err() {
        return Err(
            "no credstore database there yet; run `credstore migrate` or `serve` first".into(),
        );
    }
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

async fn keys_status(config: Config) -> Result<(), String> {
    let store = open_existing(&config.database_url).await?;
    let status = credstore::keys::status(&config, &store)
        .await
        .map_err(|e| e.to_string())?;
    println!("current key version: {}", status.current);
    for (version, fingerprint, secrets) in status.versions {
        println!("version {version}: fingerprint {fingerprint}, {secrets} secrets");
    }
    Ok(())
}

async fn keys_rotate(config: Config) -> Result<(), String> {
    let store = open_existing(&config.database_url).await?;
    let report = credstore::keys::rotate(&config, &store, None)
        .await
        .map_err(|e| e.to_string())?;
    let how = if report.resumed {
        "resumed rotation to"
    } else {
        "rotated to"
    };
    println!(
        "{how} key version {}: {} secrets re-encrypted",
        report.new_version, report.reencrypted
    );
    if !report.retired.is_empty() {
        println!("retired key versions: {:?}", report.retired);
    }
    Ok(())
}

async fn audit_verify(config: Config) -> Result<(), String> {
    use credstore::store::activity::ChainBreak;
    let store = open_existing(&config.database_url).await?;
    let (checked, broken) = store
        .verify_activity_chain()
        .await
        .map_err(|e| e.to_string())?;
    match broken {
        None => {
            println!("activity stream intact: {checked} entries verified");
            Ok(())
        }
        Some(ChainBreak::Altered { id }) => Err(format!("activity entry {id} was changed after it was written")),
        Some(ChainBreak::Unlinked { id, previous_id }) => Err(format!(
            "activity entry {id} does not follow entry {}: entries were removed or reordered",
            previous_id.map_or_else(|| "(start)".to_string(), |p| p.to_string())
        )),
        Some(ChainBreak::Truncated { head_id, last_id }) => Err(format!(
            "the activity stream ends at entry {} but entry {head_id} was written: entries were removed from the end",
            last_id.map_or_else(|| "(none)".to_string(), |p| p.to_string())
        )),
    }
}

async fn backup(config: Config, file: PathBuf) -> Result<(), String> {
    if file.exists() {
        return Err(format!(
            "{} already exists; choose a new file",
            file.display()
        ));
    }
    let store = open_existing(&config.database_url).await?;
    store
        .backup_to(&file.display().to_string())
        .await
        .map_err(|e| e.to_string())?;
    println!("backup written to {}", file.display());
    Ok(())
}

async fn migrate_data(from: &str, to: &str) -> Result<(), String> {
    let source = open_existing(from).await?;
    let target = credstore::store::Store::open(to)
        .await
        .map_err(|e| e.to_string())?;
    let report = credstore::store::copy::copy_all(&source, &target)
        .await
        .map_err(|e| e.to_string())?;
    let mut mismatched = Vec::new();
    for row in &report {
        println!("{:<26} {:>9} -> {:>9}", row.table, row.source, row.target);
        if row.source != row.target {
            mismatched.push(row.table);
        }
    }
    if !mismatched.is_empty() {
        return Err(format!(
            "row counts differ in {}: was the source written to during the copy?",
            mismatched.join(", ")
        ));
    }
    println!("all row counts match");
    Ok(())
}

async fn serve(config: Config) -> Result<(), String> {
    tracing::info!(config = ?config, "starting credstore");
    let prepared = credstore::startup::prepare(&config)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(p) = &prepared.generated_admin_password {
        credstore::startup::announce_password(p);
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    tracing::info!(bind = %config.bind, "listening");
    let store = prepared.state.store.clone();
    let statistics = tokio::spawn(refresh_statistics_hourly(store.clone()));
    let app = credstore::app(prepared.state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())?;
    statistics.abort();
    store.close().await;
    Ok(())
}

/// Keeps the planner's statistics current as the data grows without restarts.
async fn refresh_statistics_hourly(store: credstore::store::Store) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    // The first tick is immediate; start-up has just refreshed them.
    every_hour.tick().await;
    loop {
        every_hour.tick().await;
        if let Err(e) = store.refresh_statistics().await {
            tracing::warn!(error = %e, "refreshing the query planner's statistics failed");
        }
    }
}
