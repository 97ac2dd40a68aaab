//! First start and every start: data dir, database, master key check, managed types,
//! the `admin` superuser and the managed Galaxy credential.

use crate::config::Config;
use crate::crypto::CryptoError;
use crate::domain::activity::{user_fields, ActivityRecord};
use crate::domain::managed_types::managed_types;
use crate::http::AppState;
use crate::service::auth::Authenticator;
use crate::store::{CredentialSave, Store, StoreError, UserWrite};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// Why the service cannot start. Printed to the operator; never contains secrets.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "the data directory {dir} cannot be used: {reason}; run credstore as a user who may \
         write there, or choose another directory with --data-dir (CREDSTORE_DATA_DIR)"
    )]
    DataDir { dir: String, reason: std::io::Error },
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        addr: std::net::SocketAddr,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Lock(#[from] crate::backup::BackupError),
    #[error("{0}")]
    Other(String),
}

/// What `prepare` hands back: the state to serve with, and a generated admin password to
/// print once (when the operator did not provide one).
pub struct Prepared {
    pub state: AppState,
    pub generated_admin_password: Option<SecretString>,
    /// Keeps `credstore restore` away from the SQLite database while this process runs.
    pub lock: Option<crate::backup::ServeLock>,
}

/// Opens everything `serve` needs, creating what is missing.
pub async fn prepare(config: &Config) -> Result<Prepared, StartupError> {
    ensure_data_dir(&config.data_dir)?;
    let lock = crate::backup::ServeLock::acquire(&config.database_url)?;
    let store = Store::open(&config.database_url).await?;
    if let Some(database) = crate::backup::sqlite_file(&config.database_url) {
        crate::files::restrict_to_owner(&database);
    }
    let setup = store.setup_lock().await?;
    let seeded = seed(config, &store).await;
    setup.release().await;
    let (keys, generated, install_uuid) = seeded?;
    let auth = Authenticator::new().map_err(|e| StartupError::Other(e.to_string()))?;
    Ok(Prepared {
        state: AppState {
            ctx: crate::service::Context {
                store,
                keys,
                schemas: Arc::default(),
                auth: Arc::new(auth),
                templates: Arc::new(crate::template_worker::Templates::new(
                    config.template_worker.clone(),
                )),
            },
            responses: Arc::new(crate::http::cache::ResponseCache::new(
                config.response_cache_mb * 1024 * 1024,
            )),
            install_uuid: install_uuid.into(),
        },
        generated_admin_password: generated,
        lock,
    })
}

/// Creates the data directory (0700: it holds password hashes, token digests and
/// ciphertexts) and proves it writable before anything goes there, so that an unusable
/// directory is named as such instead of surfacing as a database error. An existing one
/// that others may read is kept as it is, with a warning.
fn ensure_data_dir(dir: &std::path::Path) -> Result<(), StartupError> {
    use std::os::unix::fs::DirBuilderExt;
    let failed = |reason| StartupError::DataDir {
        dir: dir.display().to_string(),
        reason,
    };
    if dir.is_dir() {
        crate::files::warn_if_others_may_read(dir, "data directory", "700");
    } else {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(failed)?;
    }
    let probe = dir.join(format!(".credstore-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(failed)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Takes the listening socket. `serve` does this before anything else, so that a busy port
/// stops a first start before a one-time admin password is generated and printed.
pub async fn listen(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, StartupError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartupError::Listen {
            addr,
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => "the address is already in use (another \
                    credstore, or another program, listens there); stop it, or choose another \
                    address with --bind (CREDSTORE_BIND)"
                    .to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 \
                    need privileges); choose a port above 1023 with --bind (CREDSTORE_BIND)"
                    .to_string(),
                std::io::ErrorKind::AddrNotAvailable => "this machine has no such address; \
                    choose one of its addresses with --bind (CREDSTORE_BIND)"
                    .to_string(),
                _ => format!("{e}; choose another address with --bind (CREDSTORE_BIND)"),
            },
        })
}

/// What a fresh database needs before serving, done by one instance at a time.
async fn seed(
    config: &Config,
    store: &Store,
) -> Result<(Arc<crate::crypto::KeyRing>, Option<SecretString>, String), StartupError> {
    let keys = Arc::new(crate::keys::open_ring(config, store).await?);
    store.sync_managed_types(&managed_types()).await?;
    let generated = ensure_admin(store, config).await?;
    ensure_galaxy_credential(store).await?;
    let install_uuid = match store.meta("install_uuid").await? {
        Some(u) => u,
        None => {
            let u = random_uuid();
            store.set_meta("install_uuid", &u).await?;
            u
        }
    };
    Ok((keys, generated, install_uuid))
}

async fn ensure_admin(
    store: &Store,
    config: &Config,
) -> Result<Option<SecretString>, StartupError> {
    if store.user_count().await? > 0 {
        if config.admin_password.is_some() {
            tracing::warn!(
                "CREDSTORE_ADMIN_PASSWORD is ignored: it sets the password of `admin` on the \
                 first start only, and this installation has users; to change a password run \
                 `credstore admin set-password USERNAME` (the password on standard input)"
            );
        }
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (SecretString::from(p.clone()), false),
        None => (SecretString::from(random_password()), true),
    };
    let hash =
        crate::crypto::password::hash(&password).map_err(|e| StartupError::Other(e.to_string()))?;
    let admin = UserWrite {
        username: "admin".into(),
        first_name: String::new(),
        last_name: String::new(),
        email: "admin@example.com".into(),
        is_superuser: true,
        is_system_auditor: false,
    };
    let record = ActivityRecord::create(
        None,
        "user",
        user_fields(
            &admin.username,
            &admin.first_name,
            &admin.last_name,
            &admin.email,
            true,
        ),
    );
    store.create_user(&admin, &hash, &record).await?;
    Ok(generated.then_some(password))
}

/// AWX creates a managed "Ansible Galaxy" credential on install; so do we.
async fn ensure_galaxy_credential(store: &Store) -> Result<(), StartupError> {
    if store.meta("galaxy_credential_created").await?.is_some() {
        return Ok(());
    }
    let ty = store
        .credential_type_by_name("Ansible Galaxy/Automation Hub API Token", "galaxy")
        .await?
        .ok_or_else(|| StartupError::Other("managed galaxy type missing".into()))?;
    let save = CredentialSave {
        uid: random_uuid(),
        name: "Ansible Galaxy".into(),
        description: String::new(),
        organization_id: None,
        credential_type_id: ty.id,
        managed: true,
        inputs: serde_json::json!({"url": "https://galaxy.ansible.com/"}).to_string(),
        new_secrets: Vec::new(),
        kept_secrets: Vec::new(),
    };
    store
        .create_credential(&save, None, None, None, None)
        .await?;
    store.set_meta("galaxy_credential_created", "1").await?;
    Ok(())
}

fn random_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 24)
}

/// A random version-4 UUID in text form.
pub fn random_uuid() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Prints the generated admin password once, on standard error.
pub fn announce_password(p: &SecretString) {
    eprintln!(
        "credstore: created superuser 'admin' with password: {}",
        p.expose_secret()
    );
    eprintln!(
        "credstore: this password is shown only once; set CREDSTORE_ADMIN_PASSWORD to choose it."
    );
}
