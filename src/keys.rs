//! Key lifecycle shared by `serve` and the `keys` commands: opening the key ring against
//! the fingerprints the database recorded, rotating to a new key version while servers
//! keep serving, and retiring versions nothing uses any more.

use crate::config::Config;
use crate::crypto::{read_key_file, write_key_file, CryptoError, KeyRing, MasterKey};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// Why keys could not be opened or rotated. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(
        "the master key in {file} does not match this database (key version {version}: fingerprint {found}, \
         database expects {expected}); start with the key the database was created with"
    )]
    Mismatch {
        file: String,
        version: u32,
        found: String,
        expected: String,
    },
    #[error("master key file {0} is missing but the database holds encrypted data; restore the key file")]
    MissingFile(String),
    #[error(
        "key version {version} is used by {count} stored secrets but is not in the key file {file}"
    )]
    MissingVersion {
        file: String,
        version: u32,
        count: i64,
    },
}

const FINGERPRINTS: &str = "key_fingerprints";
const LEGACY_FINGERPRINT: &str = "master_key_fingerprint";

/// The fingerprints the database has recorded, per key version.
async fn recorded(store: &Store) -> Result<BTreeMap<u32, String>, KeyError> {
    if let Some(text) = store.meta(FINGERPRINTS).await? {
        return serde_json::from_str(&text).map_err(|_| {
            KeyError::Store(StoreError::Corrupt(format!(
                "meta.{FINGERPRINTS} is not readable JSON"
            )))
        });
    }
    let mut map = BTreeMap::new();
    if let Some(fp) = store.meta(LEGACY_FINGERPRINT).await? {
        map.insert(1, fp);
    }
    Ok(map)
}

async fn record(store: &Store, fingerprints: &BTreeMap<u32, String>) -> Result<(), KeyError> {
    let text = serde_json::to_string(fingerprints)
        .map_err(|e| StoreError::Corrupt(format!("key fingerprints: {e}")))?;
    store.set_meta(FINGERPRINTS, &text).await?;
    Ok(())
}

/// Opens (creating on first start) the key file and checks it against the database: every
/// version the database knows must match, and every version a secret uses must be there.
pub async fn open_ring(config: &Config, store: &Store) -> Result<KeyRing, KeyError> {
    let file = config.master_key_file.display().to_string();
    let mut known = recorded(store).await?;
    if !known.is_empty() && !config.master_key_file.exists() {
        return Err(KeyError::MissingFile(file));
    }
    MasterKey::create_file_if_missing(&config.master_key_file)?;
    // Whoever may read the key file may open every secret.
    crate::files::warn_if_others_may_read(&config.master_key_file, "master key file", "600");
    let keys = read_key_file(&config.master_key_file)?.keys;
    for (version, key) in &keys {
        let found = key.fingerprint();
        match known.get(version) {
            Some(expected) if *expected != found => {
                return Err(KeyError::Mismatch {
                    file,
                    version: *version,
                    found,
                    expected: expected.clone(),
                })
            }
            Some(_) => {}
            None => {
                known.insert(*version, found);
            }
        }
    }
    for (version, count) in store.secret_key_versions().await? {
        if !keys.contains_key(&version) {
            return Err(KeyError::MissingVersion {
                file,
                version,
                count,
            });
        }
    }
    record(store, &known).await?;
    Ok(KeyRing::backed_by(keys, &config.master_key_file))
}

/// The fingerprint of the key that new secrets are sealed with (the newest version in the
/// file), read without opening the database.
pub fn current_fingerprint(path: &std::path::Path) -> Result<String, CryptoError> {
    let ring = KeyRing::from_file(path)?;
    let current = ring.current_version();
    Ok(ring
        .versions()
        .into_iter()
        .find(|(version, _)| *version == current)
        .map(|(_, fingerprint)| fingerprint)
        .unwrap_or_default())
}

/// What `credstore keys status` reports.
#[derive(Debug)]
pub struct KeyStatus {
    pub current: u32,
    pub versions: Vec<VersionStatus>,
}

/// One version of the key file.
#[derive(Debug)]
pub struct VersionStatus {
    pub version: u32,
    pub fingerprint: String,
    /// Stored secrets sealed with it.
    pub secrets: i64,
    /// When a rotation retired it (kept for older backups), if it did.
    pub retired: Option<String>,
}

/// The versions in the key file and how many secrets each one seals.
pub async fn status(config: &Config, store: &Store) -> Result<KeyStatus, KeyError> {
    let ring = open_ring(config, store).await?;
    let retired = read_key_file(&config.master_key_file)?.retired;
    let counts: BTreeMap<u32, i64> = store.secret_key_versions().await?.into_iter().collect();
    let versions = ring
        .versions()
        .into_iter()
        .map(|(version, fingerprint)| VersionStatus {
            version,
            fingerprint,
            secrets: counts.get(&version).copied().unwrap_or(0),
            retired: retired.get(&version).cloned(),
        })
        .collect();
    Ok(KeyStatus {
        current: ring.current_version(),
        versions,
    })
}

/// What one `credstore keys rotate` run did.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub new_version: u32,
    pub resumed: bool,
    pub reencrypted: u64,
    pub retired: Vec<u32>,
}

/// Rotates to a new key version: adds it to the key file (servers reload the file and seal
/// with it from then on), re-encrypts every older secret in small batches (each row is
/// swapped only if unchanged, so concurrent writes are never lost), then retires the old
/// versions nothing uses. Interrupted runs resume: when older secrets remain, the newest
/// version is reused instead of adding another. `batch_limit` stops early (for tests).
pub async fn rotate(
    config: &Config,
    store: &Store,
    batch_limit: Option<usize>,
) -> Result<RotationReport, KeyError> {
    let ring = open_ring(config, store).await?;
    let mut report = RotationReport::default();
    let current = ring.current_version();
    let pending = store.secrets_older_than(current, 1).await?;
    if pending.is_empty() {
        let mut keys = read_key_file(&config.master_key_file)?;
        let new_version = current + 1;
        let key = MasterKey::generate();
        let mut known = recorded(store).await?;
        known.insert(new_version, key.fingerprint());
        record(store, &known).await?;
        keys.keys.insert(new_version, key);
        write_key_file(&config.master_key_file, &keys)?;
        report.new_version = new_version;
    } else {
        report.resumed = true;
        report.new_version = current;
    }
    let ring = KeyRing::from_file(&config.master_key_file)?;
    let mut batches = 0;
    loop {
        if batch_limit.is_some_and(|limit| batches >= limit) {
            return Ok(report);
        }
        let batch = store.secrets_older_than(report.new_version, 100).await?;
        if batch.is_empty() {
            break;
        }
        for s in batch {
            let plain = ring.open(&s.uid, &s.field, &s.ciphertext)?;
            let (version, sealed) = ring.seal(&s.uid, &s.field, &plain)?;
            if store
                .swap_secret(s.credential_id, &s.field, &s.ciphertext, version, &sealed)
                .await?
            {
                report.reencrypted += 1;
            }
        }
        batches += 1;
    }
    report.retired = retire_unused(config, store).await?;
    Ok(report)
}

/// Marks as retired every version older than the newest that no secret uses (and clears
/// the mark of one that secrets use again, after a restore). Retired keys stay in the file:
/// backups taken before the rotation hold secrets sealed with them.
async fn retire_unused(config: &Config, store: &Store) -> Result<Vec<u32>, KeyError> {
    let path = &config.master_key_file;
    let mut file = read_key_file(path)?;
    let newest = file.keys.keys().next_back().copied().unwrap_or(1);
    let used: BTreeMap<u32, i64> = store.secret_key_versions().await?.into_iter().collect();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut retired = Vec::new();
    let mut changed = false;
    for version in file.keys.keys().copied() {
        if used.contains_key(&version) {
            changed |= file.retired.remove(&version).is_some();
        } else if version != newest && !file.retired.contains_key(&version) {
            file.retired.insert(version, now.clone());
            retired.push(version);
            changed = true;
        }
    }
    if changed {
        write_key_file(path, &file)?;
    }
    Ok(retired)
}

/// The retired versions `keys purge-retired` would remove, and whether it did.
#[derive(Debug)]
pub struct PurgeReport {
    /// (version, when it was retired).
    pub versions: Vec<(u32, String)>,
    pub removed: bool,
}

/// Removes the retired versions from the key file, only when `confirmed`; otherwise only
/// reports them. A version that stored secrets use again (a restored backup) is kept.
/// Backups taken before a removed version was retired can no longer be restored.
pub async fn purge_retired(
    config: &Config,
    store: &Store,
    confirmed: bool,
) -> Result<PurgeReport, KeyError> {
    open_ring(config, store).await?;
    let path = &config.master_key_file;
    let mut file = read_key_file(path)?;
    let used: BTreeMap<u32, i64> = store.secret_key_versions().await?.into_iter().collect();
    let versions: Vec<(u32, String)> = file
        .retired
        .iter()
        .filter(|(version, _)| !used.contains_key(version))
        .map(|(version, when)| (*version, when.clone()))
        .collect();
    let removed = confirmed && !versions.is_empty();
    if removed {
        for (version, _) in &versions {
            file.keys.remove(version);
            file.retired.remove(version);
        }
        write_key_file(path, &file)?;
    }
    Ok(PurgeReport { versions, removed })
}
