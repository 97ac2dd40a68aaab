//! Master key and the AEAD envelope for secret credential inputs.
//!
//! Invariant: a secret is only ever written to storage as an envelope produced here, and an
//! envelope only opens for the exact (credential uid, field) it was sealed for.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

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
    #[error("the master key is not 32 bytes of base64")]
    BadKey,
    #[error("unknown key version {0}")]
    UnknownKeyVersion(u32),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext does not authenticate for this credential and field")]
    Unauthentic,
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

    /// Parses the base64 text of a key file or environment variable.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes =
            zeroize::Zeroizing::new(B64.decode(text.trim()).map_err(|_| CryptoError::BadKey)?);
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadKey)?;
        Ok(MasterKey(SecretBox::new(Box::new(arr))))
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

    /// Reads the key file, or creates it with mode 0600 when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let err = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let keys = parse_key_file(&zeroize::Zeroizing::new(text))?;
                let (_, newest) = keys.into_iter().next_back().ok_or(CryptoError::BadKey)?;
                Ok((newest, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private_file(path, key.to_base64().as_bytes())
                    .map_err(|e| err(e.to_string()))?;
                Ok((key, true))
            }
            Err(e) => Err(err(e.to_string())),
        }
    }
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

/// Parses a key file: `<version>:<base64>` per line, or a single bare base64 key (version 1).
pub fn parse_key_file(text: &str) -> Result<BTreeMap<u32, MasterKey>, CryptoError> {
    let mut keys = BTreeMap::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.split_once(':') {
            Some((v, k)) => {
                let version: u32 = v.trim().parse().map_err(|_| CryptoError::BadKey)?;
                keys.insert(version, MasterKey::from_base64(k)?);
            }
            None => {
                keys.insert(1, MasterKey::from_base64(line)?);
            }
        }
    }
    if keys.is_empty() {
        return Err(CryptoError::BadKey);
    }
    Ok(keys)
}

/// Writes a key file atomically (temp file, fsync, rename), readable only by its owner.
pub fn write_key_file(path: &Path, keys: &BTreeMap<u32, MasterKey>) -> Result<(), CryptoError> {
    let err = |reason: String| CryptoError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    let mut text = zeroize::Zeroizing::new(String::new());
    for (v, k) in keys {
        text.push_str(&format!("{v}:{}\n", k.to_base64().as_str()));
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    write_private_file(&tmp, text.as_bytes()).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
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
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            CryptoError::KeyFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })?);
        Ok(Self::from_keys(
            parse_key_file(&text)?,
            Some(path.to_path_buf()),
        ))
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
        let Ok(text) = std::fs::read_to_string(path).map(zeroize::Zeroizing::new) else {
            return;
        };
        if let (Ok(keys), Ok(mut ring)) = (parse_key_file(&text), self.ring.write()) {
            ring.current = keys.keys().next_back().copied().unwrap_or(ring.current);
            ring.keys = keys;
            ring.stamp = now;
        }
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
        let again = MasterKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(k.fingerprint(), again.fingerprint());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
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
        let keys = parse_key_file(&text).unwrap();
        assert_eq!(keys.len(), 2);
        let legacy = parse_key_file(a.to_base64().as_str()).unwrap();
        assert_eq!(legacy.get(&1).unwrap().fingerprint(), a.fingerprint());
        assert!(parse_key_file("").is_err());
        assert!(parse_key_file("x:abc").is_err());
    }

    #[test]
    fn a_ring_reloads_its_file_and_seals_with_the_newest_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let mut keys = BTreeMap::new();
        keys.insert(1, MasterKey::generate());
        write_key_file(&path, &keys).unwrap();
        let ring = KeyRing::from_file(&path).unwrap();
        let (v1, env1) = ring
            .seal("u", "f", &SecretString::from("s".to_string()))
            .unwrap();
        assert_eq!(v1, 1);
        keys.insert(2, MasterKey::generate());
        write_key_file(&path, &keys).unwrap();
        let (v2, env2) = ring
            .seal("u", "f", &SecretString::from("s".to_string()))
            .unwrap();
        assert_eq!(v2, 2, "the rewritten file is picked up");
        assert_eq!(KeyRing::version_of(&env2), Some(2));
        assert_eq!(ring.open("u", "f", &env1).unwrap().expose_secret(), "s");
        assert_eq!(ring.open("u", "f", &env2).unwrap().expose_secret(), "s");
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
