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
}

#[derive(Subcommand)]
enum KeysAction {
    /// Print the master key's fingerprint (safe to share; it reveals nothing of the key).
    Fingerprint {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CREDSTORE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
        Command::Serve { bind, store } => serve(config(bind, store)).await,
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
    let app = credstore::app(prepared.state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok(())
}
