//! Master key and the AEAD envelope for secret credential inputs.
//!
//! Invariant: a secret is only ever written to storage as an envelope produced here, and an
//! envelope only opens for the exact (credential uid, field) it was sealed for.

pub mod bearer;
pub mod password;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use subtle::ConstantTimeEq;

/// Envelope format byte; bumped if the layout ever changes.
const ENVELOPE_FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// Why a key could not be loaded or a value could not be sealed or opened. Never carries
/// plaintext or key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("master key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("unknown key version {0}")]
    UnknownKeyVersion(u32),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext does not authenticate for this credential and field")]
    Unauthentic,
    /// Hashing a password failed (the reason never includes the password).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}

/// One 256-bit key; zeroized on drop, never printed.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint())
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        MasterKey(SecretBox::new(Box::new(key.into())))
    }

    /// The base64 form written to the key file.
    pub fn to_base64(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(B64.encode(self.0.expose_secret()))
    }

    /// A public identifier of the key, stored in the database so that a server started
    /// with another key refuses to run instead of failing on every decrypt.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"credstore master key fingerprint v1\0");
        h.update(self.0.expose_secret());
        let digest = h.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.expose_secret()))
    }

    /// Creates the key file with one fresh key, readable only by its owner, when there is
    /// none (a first start).
    pub fn create_file_if_missing(path: &Path) -> Result<(), CryptoError> {
        if path.exists() {
            return Ok(());
        }
        write_private_file(path, Self::generate().to_base64().as_bytes())
            .map_err(|e| key_file_error(path, io_reason(&e)))
    }
}

/// What every key-file problem ends with: the flag that names the file, and the way out.
const KEY_FILE_HINT: &str = "point --master-key-file (CREDSTORE_MASTER_KEY_FILE) at the key \
    file this database was created with, or restore that file from your backup";

fn key_file_error(path: &Path, reason: String) -> CryptoError {
    CryptoError::KeyFile {
        path: path.display().to_string(),
        reason,
    }
}

/// An I/O failure on the key file, said so that the operator knows what to change.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("the file does not exist; {KEY_FILE_HINT}"),
        std::io::ErrorKind::PermissionDenied => "permission denied; run credstore as the user \
            that owns the file, or give that user read and write access to it (mode 0600)"
            .to_string(),
        _ => format!("cannot be read or written: {e}"),
    }
}

/// Reads and parses the key file. The one place the file is read (start-up, the ring's
/// reload, rotation and the `keys` commands), so that a bad file is reported the same
/// way everywhere, naming the file and what to do; the text never leaves this function.
pub fn read_key_file(path: &Path) -> Result<KeyFile, CryptoError> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| key_file_error(path, io_reason(&e)))?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        key_file_error(
            path,
            format!(
                "this is not a credstore key file: it holds binary data, where a key file \
                 holds lines of `VERSION:BASE64-KEY` text as credstore writes them; {KEY_FILE_HINT}"
            ),
        )
    })?;
    parse_key_file(text)
        .map_err(|reason| key_file_error(path, format!("{reason}; {KEY_FILE_HINT}")))
}

/// Writes a file readable only by its owner.
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// What identifies a version of the key file on disk, to notice a rewrite cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

#[derive(Debug)]
struct Ring {
    keys: BTreeMap<u32, MasterKey>,
    current: u32,
    stamp: Option<FileStamp>,
}

/// The keys this process can open envelopes with, and the one it seals new ones with (the
/// highest version). Several versions exist while a rotation is in progress. When backed
/// by a key file, the ring reloads itself when the file changes, so a server keeps working
/// while `credstore keys rotate` runs beside it.
#[derive(Debug)]
pub struct KeyRing {
    ring: std::sync::RwLock<Ring>,
    file: Option<std::path::PathBuf>,
}

/// What a key file holds: every key version, and which of them are retired. A rotation
/// retires the versions that no stored secret uses any more instead of deleting them, so
/// that backups taken before it still open; only `credstore keys purge-retired` drops them.
#[derive(Debug, Default)]
pub struct KeyFile {
    pub keys: BTreeMap<u32, MasterKey>,
    /// Retired versions, with when they were retired (RFC 3339).
    pub retired: BTreeMap<u32, String>,
}

/// Marks a retired version on its line: `VERSION:BASE64 retired=TIME`.
const RETIRED_MARK: &str = "retired=";

/// Parses a key file: `<version>:<base64>[ retired=<time>]` per line, or a single bare
/// base64 key (version 1). The error says which line is wrong and how, never what it holds.
fn parse_key_file(text: &str) -> Result<KeyFile, String> {
    let mut file = KeyFile::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let number = index + 1;
        let mut words = line.split_whitespace();
        let key_word = words.next().unwrap_or_default();
        let (version, encoded) = match key_word.split_once(':') {
            Some((v, k)) => {
                let version: u32 = v.parse().map_err(|_| {
                    format!("line {number} does not start with a key version number")
                })?;
                (version, k)
            }
            None => (1, key_word),
        };
        for word in words {
            let when = word
                .strip_prefix(RETIRED_MARK)
                .ok_or_else(|| format!("line {number} has unexpected text after its key"))?;
            file.retired.insert(version, when.to_string());
        }
        file.keys.insert(version, decode_key(encoded, number)?);
    }
    if file.keys.is_empty() {
        return Err("the file holds no key".to_string());
    }
    Ok(file)
}

/// One key of a key file: 32 bytes in standard base64.
fn decode_key(encoded: &str, line: usize) -> Result<MasterKey, String> {
    let bytes = zeroize::Zeroizing::new(
        B64.decode(encoded.trim())
            .map_err(|_| format!("line {line} is not base64 text"))?,
    );
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "the key on line {line} is {} bytes long; a master key is 32 bytes \
             (44 characters of base64)",
            bytes.len()
        )
    })?;
    Ok(MasterKey(SecretBox::new(Box::new(key))))
}

/// Writes a key file atomically (temp file, fsync, rename), readable only by its owner.
pub fn write_key_file(path: &Path, file: &KeyFile) -> Result<(), CryptoError> {
    let mut text = zeroize::Zeroizing::new(String::new());
    for (v, k) in &file.keys {
        text.push_str(&format!("{v}:{}", k.to_base64().as_str()));
        if let Some(when) = file.retired.get(v) {
            text.push_str(&format!(" {RETIRED_MARK}{when}"));
        }
        text.push('\n');
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    write_private_file(&tmp, text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| key_file_error(path, io_reason(&e)))
}

impl KeyRing {
    /// A ring holding one key as the given version, not backed by a file.
    pub fn single(version: u32, key: MasterKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(version, key);
        Self::from_keys(keys, None)
    }

    fn from_keys(keys: BTreeMap<u32, MasterKey>, file: Option<std::path::PathBuf>) -> Self {
        let current = keys.keys().next_back().copied().unwrap_or(1);
        let stamp = file.as_deref().and_then(stamp);
        KeyRing {
            ring: std::sync::RwLock::new(Ring {
                keys,
                current,
                stamp,
            }),
            file,
        }
    }

    /// Loads the key file.
    pub fn from_file(path: &Path) -> Result<Self, CryptoError> {
        Ok(Self::backed_by(read_key_file(path)?.keys, path))
    }

    /// A ring of the keys just read from `path` (and checked by the caller), reloading
    /// the file when it changes, so that the file is not read again to build it.
    pub fn backed_by(keys: BTreeMap<u32, MasterKey>, path: &Path) -> Self {
        Self::from_keys(keys, Some(path.to_path_buf()))
    }

    /// Re-reads the key file when it changed on disk (a rotation added or retired a key).
    fn refresh(&self, force: bool) {
        let Some(path) = &self.file else { return };
        let now = stamp(path);
        let stale = self
            .ring
            .read()
            .map(|r| force || r.stamp != now)
            .unwrap_or(false);
        if !stale {
            return;
        }
        let (Ok(KeyFile { keys, .. }), Ok(mut ring)) = (read_key_file(path), self.ring.write())
        else {
            return;
        };
        ring.stamp = now;
        if let Some(version) = changed_key(&ring.keys, &keys) {
            // Sealing under a key the database does not know would make those secrets
            // unreadable once the right file is back: keep the keys already checked.
            tracing::error!(
                file = %path.display(),
                version,
                "the key file now holds another key for a version this server uses; \
                 keeping the keys checked at start-up (put the right key file back)"
            );
            return;
        }
        ring.current = keys.keys().next_back().copied().unwrap_or(ring.current);
        ring.keys = keys;
    }

    /// The version that new envelopes are sealed with.
    pub fn current_version(&self) -> u32 {
        self.refresh(false);
        self.ring.read().map(|r| r.current).unwrap_or(0)
    }

    /// (version, fingerprint) of every key in the ring.
    pub fn versions(&self) -> Vec<(u32, String)> {
        self.ring
            .read()
            .map(|r| r.keys.iter().map(|(v, k)| (*v, k.fingerprint())).collect())
            .unwrap_or_default()
    }

    /// Seals one secret input value for (credential uid, field) with the current key;
    /// returns the key version used.
    pub fn seal(
        &self,
        uid: &str,
        field: &str,
        plaintext: &SecretString,
    ) -> Result<(u32, Vec<u8>), CryptoError> {
        self.refresh(false);
        let ring = self.ring.read().map_err(|_| CryptoError::Malformed)?;
        let current = ring.current;
        let key = ring
            .keys
            .get(&current)
            .ok_or(CryptoError::UnknownKeyVersion(current))?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(uid, field);
        let ct = key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Malformed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
        out.push(ENVELOPE_FORMAT);
        out.extend_from_slice(&current.to_be_bytes());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        Ok((current, out))
    }

    /// The key version an envelope was sealed with.
    pub fn version_of(envelope: &[u8]) -> Option<u32> {
        let bytes = envelope.get(1..5)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    /// Opens an envelope sealed for (credential uid, field); fails for any other pair.
    pub fn open(
        &self,
        uid: &str,
        field: &str,
        envelope: &[u8],
    ) -> Result<SecretString, CryptoError> {
        match self.open_once(uid, field, envelope) {
            Err(CryptoError::UnknownKeyVersion(_)) => {
                self.refresh(true);
                self.open_once(uid, field, envelope)
            }
            other => other,
        }
    }

    fn open_once(
        &self,
        uid: &str,
        field: &str,
        envelope: &[u8],
    ) -> Result<SecretString, CryptoError> {
        let (header, ct) = envelope
            .split_at_checked(HEADER_LEN)
            .ok_or(CryptoError::Malformed)?;
        let (format, rest) = header.split_first().ok_or(CryptoError::Malformed)?;
        if *format != ENVELOPE_FORMAT {
            return Err(CryptoError::Malformed);
        }
        let (version_bytes, nonce_bytes) = rest.split_at(4);
        let version = u32::from_be_bytes(
            version_bytes
                .try_into()
                .map_err(|_| CryptoError::Malformed)?,
        );
        let ring = self.ring.read().map_err(|_| CryptoError::Malformed)?;
        let key = ring
            .keys
            .get(&version)
            .ok_or(CryptoError::UnknownKeyVersion(version))?;
        let aad = associated_data(uid, field);
        let plain = key
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce_bytes),
                Payload { msg: ct, aad: &aad },
            )
            .map_err(|_| CryptoError::Unauthentic)?;
        let text = String::from_utf8(plain).map_err(|_| CryptoError::Malformed)?;
        Ok(SecretString::from(text))
    }
}

/// The first version whose key differs between the ring and a reloaded file. A reload
/// may add versions (a rotation, which records their fingerprints first) and drop retired
/// ones, never swap a key: what start-up checked against the database stays true.
fn changed_key(held: &BTreeMap<u32, MasterKey>, loaded: &BTreeMap<u32, MasterKey>) -> Option<u32> {
    held.iter().find_map(|(version, key)| {
        let other = loaded.get(version)?;
        let same: bool = key.0.expose_secret().ct_eq(other.0.expose_secret()).into();
        (!same).then_some(*version)
    })
}

/// Binds a ciphertext to its credential and field, so that moving it elsewhere fails.
fn associated_data(uid: &str, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(40 + uid.len() + field.len());
    aad.extend_from_slice(b"credstore/credential-input/v1\0");
    aad.extend_from_slice(uid.as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> KeyRing {
        KeyRing::single(1, MasterKey::generate())
    }

    #[test]
    fn round_trip_and_fresh_nonces() {
        let r = ring();
        let s = SecretString::from("hunter2".to_string());
        let (_, a) = r.seal("u1", "password", &s).unwrap();
        let (_, b) = r.seal("u1", "password", &s).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            r.open("u1", "password", &a).unwrap().expose_secret(),
            "hunter2"
        );
    }

    #[test]
    fn moved_ciphertext_does_not_open() {
        let r = ring();
        let (_, env) = r
            .seal("u1", "password", &SecretString::from("x".to_string()))
            .unwrap();
        assert!(matches!(
            r.open("u2", "password", &env),
            Err(CryptoError::Unauthentic)
        ));
        assert!(matches!(
            r.open("u1", "token", &env),
            Err(CryptoError::Unauthentic)
        ));
    }

    #[test]
    fn other_key_does_not_open() {
        let (_, env) = ring()
            .seal("u", "f", &SecretString::from("x".to_string()))
            .unwrap();
        assert!(ring().open("u", "f", &env).is_err());
    }

    #[test]
    fn key_text_round_trips_and_fingerprint_is_stable() {
        let k = MasterKey::generate();
        let again = decode_key(&k.to_base64(), 1).unwrap();
        assert_eq!(k.fingerprint(), again.fingerprint());
        assert!(decode_key("c2hvcnQ=", 1).is_err());
        assert!(!format!("{k:?}").contains(k.to_base64().as_str()));
    }

    #[test]
    fn key_files_with_versions() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        let text = format!(
            "1:{}\n2:{}\n",
            a.to_base64().as_str(),
            b.to_base64().as_str()
        );
        let file = parse_key_file(&text).unwrap();
        assert_eq!(file.keys.len(), 2);
        assert!(file.retired.is_empty());
        let legacy = parse_key_file(a.to_base64().as_str()).unwrap();
        assert_eq!(legacy.keys.get(&1).unwrap().fingerprint(), a.fingerprint());
        assert!(parse_key_file("").is_err());
        assert!(parse_key_file("x:abc").is_err());
        let marked = format!("1:{} retired=2026-01-01T00:00:00Z", a.to_base64().as_str());
        let file = parse_key_file(&marked).unwrap();
        assert_eq!(
            file.retired.get(&1).map(String::as_str),
            Some("2026-01-01T00:00:00Z")
        );
        let wrong = format!("1:{} junk", a.to_base64().as_str());
        assert!(parse_key_file(&wrong).unwrap_err().contains("line 1"));
    }

    #[test]
    fn retired_marks_survive_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let mut file = KeyFile::default();
        file.keys.insert(1, MasterKey::generate());
        file.keys.insert(2, MasterKey::generate());
        file.retired.insert(1, "2026-01-01T00:00:00Z".into());
        write_key_file(&path, &file).unwrap();
        let again = read_key_file(&path).unwrap();
        assert_eq!(again.keys.len(), 2);
        assert_eq!(again.retired, file.retired);
        assert_eq!(KeyRing::from_file(&path).unwrap().current_version(), 2);
    }

    #[test]
    fn a_ring_reloads_its_file_and_seals_with_the_newest_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let mut keys = KeyFile::default();
        keys.keys.insert(1, MasterKey::generate());
        write_key_file(&path, &keys).unwrap();
        let ring = KeyRing::from_file(&path).unwrap();
        let (v1, env1) = ring
            .seal("u", "f", &SecretString::from("s".to_string()))
            .unwrap();
        assert_eq!(v1, 1);
        keys.keys.insert(2, MasterKey::generate());
        write_key_file(&path, &keys).unwrap();
        let (v2, env2) = ring
            .seal("u", "f", &SecretString::from("s".to_string()))
            .unwrap();
        assert_eq!(v2, 2, "the rewritten file is picked up");
        assert_eq!(KeyRing::version_of(&env2), Some(2));
        assert_eq!(ring.open("u", "f", &env1).unwrap().expose_secret(), "s");
        assert_eq!(ring.open("u", "f", &env2).unwrap().expose_secret(), "s");
    }

    #[test]
    fn a_reloaded_file_may_add_keys_but_never_swap_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let mut file = KeyFile::default();
        file.keys.insert(1, MasterKey::generate());
        write_key_file(&path, &file).unwrap();
        let ring = KeyRing::from_file(&path).unwrap();
        let secret = SecretString::from("s".to_string());
        let (_, before) = ring.seal("u", "f", &secret).unwrap();
        let mut foreign = KeyFile::default();
        foreign.keys.insert(1, MasterKey::generate());
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_key_file(&path, &foreign).unwrap();
        let (version, during) = ring.seal("u", "f", &secret).unwrap();
        assert_eq!(version, 1);
        write_key_file(&path, &file).unwrap();
        let fresh = KeyRing::from_file(&path).unwrap();
        assert!(
            fresh.open("u", "f", &during).is_ok(),
            "sealed under the foreign key"
        );
        assert!(fresh.open("u", "f", &before).is_ok());
        file.keys.insert(2, MasterKey::generate());
        write_key_file(&path, &file).unwrap();
        assert_eq!(
            ring.current_version(),
            2,
            "a rotation's new version is taken"
        );
    }

    proptest! {
        #[test]
        fn tampering_never_panics_and_never_opens(bytes in proptest::collection::vec(any::<u8>(), 0..64), flip in 0usize..64) {
            let r = ring();
            let _ = r.open("u", "f", &bytes);
            let (_, mut env) = r.seal("u", "f", &SecretString::from("v".to_string())).unwrap();
            let i = flip % env.len();
            env[i] ^= 0x01;
            prop_assert!(r.open("u", "f", &env).is_err());
        }
    }
}
