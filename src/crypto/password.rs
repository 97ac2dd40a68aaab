//! Password hashes: argon2id with a random salt, as PHC strings. Hashing takes tens of
//! milliseconds, so async callers use [`hash_off_runtime`].

use super::CryptoError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash(password: &SecretString) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))
}

/// [`hash`] on a blocking thread: a runtime worker must not spend the hash's time. For
/// every caller that sets a password (API, CLI).
pub async fn hash_off_runtime(password: SecretString) -> Result<String, CryptoError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| CryptoError::PasswordHash(e.to_string()))?
}

/// Whether `password` matches the PHC string `phc`; an unreadable hash matches nothing.
pub fn verify(password: &SecretString, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash(&SecretString::from("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(&SecretString::from("correct horse"), &phc));
        assert!(!verify(&SecretString::from("correct horsE"), &phc));
        assert!(!verify(&SecretString::from("correct horse"), "not a hash"));
    }
}
