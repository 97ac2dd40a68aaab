//! Bearer secrets (API tokens, session ids, CSRF values): random text handed to a client
//! once, stored only as its SHA-256 digest.

use sha2::{Digest, Sha256};

/// A fresh random secret of `len` alphanumeric characters.
pub fn random_secret(len: usize) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

/// The stored form of a bearer secret.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}
