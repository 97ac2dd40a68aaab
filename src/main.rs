//! The `credstore` command line: parses flags and environment, then calls the library.

use clap::{CommandFactory, Parser, Subcommand};
use credstore::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Every environment variable the program reads that is not the twin of a flag.
const ENVIRONMENT_HELP: &str = "\
Environment (besides the variable named beside each flag):
  CREDSTORE_ADMIN_PASSWORD        password of the superuser `admin` made on first start
                                  (ignored afterwards: see `credstore admin set-password`)
  CREDSTORE_LOG                   log filter, e.g. info, debug, info,credstore=debug
                                  [default: info]
  CREDSTORE_K8S_TOKEN_FILE        Kubernetes service-account token for the HashiCorp Vault
                                  lookup's kubernetes auth [default:
                                  /var/run/secrets/kubernetes.io/serviceaccount/token]
  CREDSTORE_AZURE_AUTHORITY_HOST  login host of the Azure Key Vault lookup (also
                                  AZURE_AUTHORITY_HOST) [default: from the vault's cloud]
  CREDSTORE_AZURE_MANAGED_IDENTITY=1  lets Azure Key Vault credentials without a client
                                  secret use this machine's managed identity (with
                                  AZURE_CLIENT_ID, AZURE_POD_IDENTITY_AUTHORITY_HOST)
  CREDSTORE_DSV_BASE_URL          base URL of the Delinea DSV lookup, with {tenant} and
                                  {tld} [default: https://{tenant}.secretsvaultcloud.{tld}]
  REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE  extra trusted CAs (PEM) for lookups";

/// A credential store that speaks the AWX credentials API.
#[derive(Parser)]
#[command(name = "credstore", version, about, long_about = None, after_help = ENVIRONMENT_HELP)]
struct Cli {
    /// Log lines as text, or as one JSON object per line (for a log collector).
    #[arg(
        long,
        global = true,
        env = "CREDSTORE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
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
        /// Networks external lookups may not connect to (comma-separated CIDRs or
        /// addresses; empty allows all). The default keeps cloud instance metadata out of
        /// reach; add internal networks, e.g. 127.0.0.0/8,10.0.0.0/8.
        #[arg(long, env = "CREDSTORE_LOOKUP_DENY", default_value = credstore::plugins::egress::DEFAULT_DENY)]
        lookup_deny: String,
        /// Seconds a client has to send a whole request head; also how long an idle
        /// keep-alive connection is kept waiting for its next request.
        #[arg(long, env = "CREDSTORE_HEADER_TIMEOUT", default_value_t = 30)]
        header_timeout: u64,
        /// Seconds a request body may pause before the request fails with 408.
        #[arg(long, env = "CREDSTORE_BODY_TIMEOUT", default_value_t = 30)]
        body_timeout: u64,
        /// Connections served at once; further ones wait until one ends.
        #[arg(long, env = "CREDSTORE_MAX_CONNECTIONS", default_value_t = 10_000)]
        max_connections: usize,
        /// Seconds a stop (SIGTERM, Ctrl-C) waits for requests in flight before it ends
        /// them; their writes that were acknowledged are committed either way.
        #[arg(long, env = "CREDSTORE_SHUTDOWN_TIMEOUT", default_value_t = 30)]
        shutdown_timeout: u64,
        /// Serve HTTPS with this certificate chain (PEM; with --tls-key). Read again on
        /// SIGHUP, so a renewed certificate needs no restart.
        #[arg(
            long,
            env = "CREDSTORE_TLS_CERT",
            requires = "tls_key",
            value_name = "PEM"
        )]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM).
        #[arg(
            long,
            env = "CREDSTORE_TLS_KEY",
            requires = "tls_cert",
            value_name = "PEM"
        )]
        tls_key: Option<PathBuf>,
        /// The address users reach this server at. Behind a proxy that ends TLS, an
        /// https:// address makes session cookies Secure and adds HSTS, as --tls-cert does.
        #[arg(long, env = "CREDSTORE_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
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
    /// `credstore restore FILE` puts it back; it opens with the same master key file
    /// (rotations keep the retired keys that older backups need).
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace the SQLite database with a backup made by `credstore backup`. Stop every
    /// server on the data dir first. The file must be a credstore database whose secrets
    /// the key file opens; the database it replaces is kept beside it
    /// (`credstore.db.before-restore-TIME`).
    Restore {
        /// The backup file.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Users, without the API: the way back into a locked-out installation.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Print a completion script for a shell, e.g.
    /// `credstore completions bash > /etc/bash_completion.d/credstore`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `credstore man > /usr/local/share/man/man1/credstore.1`.
    Man,
    /// Answer one injector template request read from standard input, under a memory and
    /// CPU limit: started by the server itself (`credstore::template_worker`), not by people.
    #[command(name = "template-worker", hide = true)]
    TemplateWorker {
        /// The second stage, started by the first under the limits.
        #[arg(long, hide = true)]
        limited: bool,
    },
    /// Run a command with credentials, like `op run`: render them on the server (which
    /// records the use), write their files into a private temporary directory, run
    /// COMMAND with their env (and AWX's arguments for ansible-playbook and ansible),
    /// pass its exit status on and remove the directory when it ends, also on SIGINT and
    /// SIGTERM. Connects like the `awx` CLI (CONTROLLER_HOST, CONTROLLER_OAUTH_TOKEN or
    /// CONTROLLER_USERNAME and CONTROLLER_PASSWORD). Prints no secret.
    Run {
        /// A credential id or name (repeat for several; one per type, as in AWX).
        #[arg(long = "credential", required = true, value_name = "ID_OR_NAME")]
        credentials: Vec<String>,
        /// Why, for the audit trail [default: "credstore run <command>"].
        #[arg(long)]
        purpose: Option<String>,
        #[command(flatten)]
        connection: credstore::client::ConnectionArgs,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Render credentials into an ansible-runner private data directory (env/envvars,
    /// env/extravars, env/passwords, env/cmdline, env/ssh_key and the injector files), so
    /// that `ansible-runner run DIR -p playbook.yml` runs with them as AWX would. The
    /// files hold secrets (mode 0600): remove DIR/env when the run is over.
    Render {
        /// A credential id or name (repeat for several; one per type, as in AWX).
        #[arg(long = "credential", required = true, value_name = "ID_OR_NAME")]
        credentials: Vec<String>,
        /// The private data directory to write (created if missing).
        #[arg(long, value_name = "DIR")]
        runner_dir: PathBuf,
        /// Why, for the audit trail.
        #[arg(long)]
        purpose: Option<String>,
        #[command(flatten)]
        connection: credstore::client::ConnectionArgs,
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
enum AdminAction {
    /// Set a user's password, read as one line from standard input; ends the user's
    /// login sessions. Safe while servers run.
    SetPassword {
        username: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Create a superuser whose password is read as one line from standard input.
    CreateSuperuser {
        username: String,
        #[command(flatten)]
        store: StoreArgs,
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
    /// then mark the old versions nothing uses as retired. Retired keys stay in the key
    /// file so that older backups still restore. Safe to interrupt and run again.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove the retired key versions from the key file. Backups taken before they were
    /// retired can then never be restored: without --yes it only says which.
    PurgeRetired {
        /// Remove them (without it, nothing changes).
        #[arg(long)]
        yes: bool,
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
    if let Command::TemplateWorker { limited } = cli.command {
        // No log and no runtime: the worker answers on standard output and exits.
        return credstore::template_worker::run_worker(limited);
    }
    if let Err(message) = init_logging(cli.log_format) {
        eprintln!("credstore: {message}");
        return ExitCode::from(2);
    }
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
    let result = runtime.block_on(run(cli));
    credstore::logging::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("credstore: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error, coloured only on a terminal (files and pipes get plain text).
/// A `CREDSTORE_LOG` that is not a filter is an error, not silently the default.
fn init_logging(format: LogFormat) -> Result<(), String> {
    use std::io::IsTerminal;
    let filter = match std::env::var("CREDSTORE_LOG") {
        Ok(text) if !text.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(&text)
            .map_err(|e| {
                format!(
                    "CREDSTORE_LOG={text:?} is not a log filter ({e}); give a level (error, \
                     warn, info, debug, trace) or directives such as info,credstore=debug"
                )
            })?,
        // PostgreSQL's notices (e.g. "relation already exists, skipping" from idempotent
        // migrations) are not news for an operator.
        _ => tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(credstore::logging::Sink)
        // When the reader of the log is gone (a closed pipe), tracing would report that
        // with `eprintln!`, which panics on the same closed stderr: the server would die
        // at its next log line. A lost log line must not stop the service.
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        // One object per line: time, level, target, message and the event's fields at the
        // top level (the request line's method, route, status, micros, user, request_id).
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}

/// Whether `--public-url` is an https address; anything but an http(s) URL is refused.
fn public_https(public_url: Option<&str>) -> Result<bool, String> {
    let Some(raw) = public_url else {
        return Ok(false);
    };
    let parsed = url::Url::parse(raw)
        .map_err(|e| format!("--public-url (CREDSTORE_PUBLIC_URL) {raw:?}: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(true),
        "http" => Ok(false),
        other => Err(format!(
            "--public-url (CREDSTORE_PUBLIC_URL) must be an http or https URL, not {other}:"
        )),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            bind,
            response_cache_mb,
            lookup_deny,
            header_timeout,
            body_timeout,
            max_connections,
            shutdown_timeout,
            tls_cert,
            tls_key,
            public_url,
            store,
        } => {
            let limits = credstore::server::Limits {
                header_timeout: Duration::from_secs(header_timeout.max(1)),
                body_timeout: Duration::from_secs(body_timeout.max(1)),
                max_connections: max_connections.max(1),
                shutdown_grace: Duration::from_secs(shutdown_timeout),
                public_https: public_https(public_url.as_deref())?,
            };
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(credstore::tls::Certificates::open(&cert, &key)?),
                _ => None,
            };
            credstore::plugins::egress::EgressPolicy::parse(&lookup_deny)
                .map_err(|e| format!("--lookup-deny (CREDSTORE_LOOKUP_DENY): {e}"))?
                .install();
            let mut c = config(bind, store);
            c.response_cache_mb = response_cache_mb;
            serve(c, limits, tls).await
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
        Command::Restore { file, store } => restore(config(default_bind(), store), file).await,
        Command::Admin { action } => admin(action).await,
        Command::Keys {
            action: KeysAction::PurgeRetired { yes, store },
        } => purge_retired(config(default_bind(), store), yes).await,
        // Answered in `main`, before logging and the runtime start.
        Command::TemplateWorker { .. } => Ok(()),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "credstore",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| format!("cannot write the manual page: {e}")),
        Command::MigrateData { from, to } => migrate_data(&from, &to).await,
        Command::Run {
            credentials,
            purpose,
            connection,
            command,
        } => {
            let request = credstore::client::run::RunRequest {
                credentials: &credentials,
                purpose: purpose.as_deref(),
                command: &command,
            };
            let connection =
                credstore::client::Connection::new(&connection).map_err(|e| e.to_string())?;
            let code = credstore::client::run::run(&connection, &request)
                .await
                .map_err(|e| e.to_string())?;
            // The private directory is gone already; the command's status is ours.
            credstore::logging::flush();
            std::process::exit(code)
        }
        Command::Render {
            credentials,
            runner_dir,
            purpose,
            connection,
        } => {
            let connection =
                credstore::client::Connection::new(&connection).map_err(|e| e.to_string())?;
            let files = credstore::client::runner_dir::write_runner_dir(
                &connection,
                &credentials,
                purpose.as_deref(),
                &runner_dir,
            )
            .await
            .map_err(|e| e.to_string())?;
            eprintln!(
                "credstore: wrote the credentials ({files} files) into {}/env; run `ansible-runner run {} -p PLAYBOOK`, then remove {}/env",
                runner_dir.display(),
                runner_dir.display(),
                runner_dir.display()
            );
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Fingerprint { store },
        } => {
            let c = config(default_bind(), store);
            let fingerprint = credstore::keys::current_fingerprint(&c.master_key_file)
                .map_err(|e| e.to_string())?;
            println!("{fingerprint}");
            Ok(())
        }
    }
}

/// Opens an existing store (the offline commands never create one); `flags` names the
/// options that chose the database, for the message when there is none.
async fn open_existing_with(
    database_url: &str,
    flags: &str,
) -> Result<credstore::store::Store, String> {
    if let Some(path) = credstore::backup::sqlite_file(database_url) {
        if !path.exists() {
            return Err(format!("no database at {}; check {flags}", path.display()));
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

/// [`open_existing_with`] for the commands that take the serve options.
async fn open_existing(database_url: &str) -> Result<credstore::store::Store, String> {
    open_existing_with(database_url, "--data-dir or --database-url").await
}

async fn keys_status(config: Config) -> Result<(), String> {
    let store = open_existing(&config.database_url).await?;
    let status = credstore::keys::status(&config, &store)
        .await
        .map_err(|e| e.to_string())?;
    println!("current key version: {}", status.current);
    for v in status.versions {
        let retired = v
            .retired
            .map(|when| format!(", retired {when} (kept for older backups)"))
            .unwrap_or_default();
        println!(
            "version {}: fingerprint {}, {} secrets{retired}",
            v.version, v.fingerprint, v.secrets
        );
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
        println!(
            "retired key versions {:?}: kept in {} for backups taken before now \
             (`credstore keys purge-retired` removes them)",
            report.retired,
            config.master_key_file.display()
        );
    }
    Ok(())
}

async fn purge_retired(config: Config, confirmed: bool) -> Result<(), String> {
    let store = open_existing(&config.database_url).await?;
    let report = credstore::keys::purge_retired(&config, &store, confirmed)
        .await
        .map_err(|e| e.to_string())?;
    if report.versions.is_empty() {
        println!("no retired key versions to remove");
        return Ok(());
    }
    for (version, when) in &report.versions {
        let verb = if report.removed {
            "removed"
        } else {
            "would remove"
        };
        println!(
            "{verb} key version {version}, retired {when}: backups taken before {when} \
             can no longer be restored"
        );
    }
    if !report.removed {
        return Err("nothing removed; run again with --yes to remove them".into());
    }
    Ok(())
}

async fn restore(config: Config, file: PathBuf) -> Result<(), String> {
    let report = credstore::backup::restore(&config, &file)
        .await
        .map_err(|e| e.to_string())?;
    let r = report.restored;
    println!(
        "restored {} into {}: {} credentials, {} users, {} organizations, {} teams",
        file.display(),
        report.database.display(),
        r.credentials,
        r.users,
        r.organizations,
        r.teams
    );
    if let Some(previous) = report.previous {
        println!("the database it replaced is kept as {}", previous.display());
    }
    Ok(())
}

async fn admin(action: AdminAction) -> Result<(), String> {
    let (username, store_args, create) = match action {
        AdminAction::SetPassword { username, store } => (username, store, false),
        AdminAction::CreateSuperuser { username, store } => (username, store, true),
    };
    let config = config(default_bind(), store_args);
    let password = read_password_line()?;
    let store = open_existing(&config.database_url).await?;
    let result = if create {
        credstore::admin::create_superuser(&store, &username, &password)
            .await
            .map(|_| format!("created superuser {username}"))
    } else {
        credstore::admin::set_password(&store, &username, &password)
            .await
            .map(|()| format!("password of {username} changed; their login sessions ended"))
    };
    store.close().await;
    println!("{}", result.map_err(|e| e.to_string())?);
    Ok(())
}

/// One line of standard input, without its line ending (a terminal echoes it: pipe it in
/// from a password manager or a file for anything but a rescue at the console).
fn read_password_line() -> Result<secrecy::SecretString, String> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    Ok(secrecy::SecretString::from(password.to_string()))
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
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(format!(
            "the directory {} does not exist; create it or write the backup elsewhere",
            parent.display()
        ));
    }
    let store = open_existing(&config.database_url).await?;
    store
        .backup_to(&file.display().to_string())
        .await
        .map_err(|e| e.to_string())?;
    credstore::files::restrict_to_owner(&file);
    println!("backup written to {}", file.display());
    Ok(())
}

async fn migrate_data(from: &str, to: &str) -> Result<(), String> {
    // Refused before anything is opened: opening an SQLite URL would create the file.
    if credstore::backup::sqlite_file(to).is_some() {
        return Err(
            "migrate-data copies into PostgreSQL: give --to as postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                .into(),
        );
    }
    let source = open_existing_with(from, "--from").await?;
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

async fn serve(
    config: Config,
    limits: credstore::server::Limits,
    tls: Option<std::sync::Arc<credstore::tls::Certificates>>,
) -> Result<(), String> {
    let acceptor = match &tls {
        Some(certificates) => Some(tokio_rustls::TlsAcceptor::from(
            certificates.server_config()?,
        )),
        None => None,
    };
    let listener = credstore::startup::listen(config.bind)
        .await
        .map_err(|e| e.to_string())?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = ?config, "starting credstore");
    let prepared = credstore::startup::prepare(&config)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(p) = &prepared.generated_admin_password {
        credstore::startup::announce_password(p);
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(bind = %bound, %scheme, "listening");
    let reloads = tls.map(|certificates| tokio::spawn(reload_on_sighup(certificates)));
    let store = prepared.state.ctx.store.clone();
    let restore_guard = prepared.lock;
    let app = credstore::app(prepared.state);
    credstore::server::serve(listener, app, limits, acceptor, stop_requested()).await;
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    store.close().await;
    drop(restore_guard);
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (what systemd, container runtimes and `kill` send), so
/// that both stop the server cleanly with exit status 0.
async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch for SIGTERM; stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing the requests in flight");
}

/// Reads the certificate files again on every SIGHUP; connections already open keep
/// theirs, new handshakes get the new one.
async fn reload_on_sighup(certificates: std::sync::Arc<credstore::tls::Certificates>) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("cannot watch for SIGHUP; certificates are read at start only");
        return;
    };
    while hangups.recv().await.is_some() {
        match certificates.reload() {
            Ok(()) => tracing::info!("TLS certificate reloaded"),
            Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded; the old one stays"),
        }
    }
}
