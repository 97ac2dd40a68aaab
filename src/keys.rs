//! Key lifecycle shared by `serve` and the `keys` commands: opening the key ring against
//! the fingerprints the database recorded, rotating to a new key version while servers
//! keep serving, and retiring versions nothing uses any more.

use crate::config::Config;
use crate::crypto::{parse_key_file, write_key_file, CryptoError, KeyRing, MasterKey};
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
        return Ok(serde_json::from_str(&text).unwrap_or_default());
    }
    let mut map = BTreeMap::new();
    if let Some(fp) = store.meta(LEGACY_FINGERPRINT).await? {
        map.insert(1, fp);
    }
    Ok(map)
}

async fn record(store: &Store, fingerprints: &BTreeMap<u32, String>) -> Result<(), KeyError> {
    let text = serde_json::to_string(fingerprints).unwrap_or_default();
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
    MasterKey::load_or_create(&config.master_key_file)?;
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(&config.master_key_file).map_err(
        |e| CryptoError::KeyFile {
            path: file.clone(),
            reason: e.to_string(),
        },
    )?);
    let keys = parse_key_file(&text)?;
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
    Ok(KeyRing::from_file(&config.master_key_file)?)
}

/// What `credstore keys status` reports.
#[derive(Debug)]
pub struct KeyStatus {
    pub current: u32,
    /// (version, fingerprint, secrets sealed with it).
    pub versions: Vec<(u32, String, i64)>,
}

/// The versions in the key file and how many secrets each one seals.
pub async fn status(config: &Config, store: &Store) -> Result<KeyStatus, KeyError> {
    let ring = open_ring(config, store).await?;
    let counts: BTreeMap<u32, i64> = store.secret_key_versions().await?.into_iter().collect();
    let versions = ring
        .versions()
        .into_iter()
        .map(|(v, fp)| (v, fp, counts.get(&v).copied().unwrap_or(0)))
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
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&config.master_key_file).map_err(|e| CryptoError::KeyFile {
                path: config.master_key_file.display().to_string(),
                reason: e.to_string(),
            })?,
        );
        let mut keys = parse_key_file(&text)?;
        let new_version = current + 1;
        let key = MasterKey::generate();
        let mut known = recorded(store).await?;
        known.insert(new_version, key.fingerprint());
        record(store, &known).await?;
        keys.insert(new_version, key);
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

/// Removes from the key file every version older than the newest that no secret uses.
async fn retire_unused(config: &Config, store: &Store) -> Result<Vec<u32>, KeyError> {
    let path = &config.master_key_file;
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        CryptoError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    })?);
    let mut keys = parse_key_file(&text)?;
    let newest = keys.keys().next_back().copied().unwrap_or(1);
    let used: BTreeMap<u32, i64> = store.secret_key_versions().await?.into_iter().collect();
    let retired: Vec<u32> = keys
        .keys()
        .copied()
        .filter(|v| *v != newest && !used.contains_key(v))
        .collect();
    if retired.is_empty() {
        return Ok(retired);
    }
    for v in &retired {
        keys.remove(v);
    }
    write_key_file(path, &keys)?;
    Ok(retired)
}
