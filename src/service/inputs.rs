//! The one place where a credential's inputs are opened (public values decoded, secrets
//! decrypted) and sealed (secrets encrypted for the credential's uid and field). Every use
//! case that needs stored values (update, copy, lookups, the test endpoint) comes here.

use super::{Context, Result};
use crate::domain::credential::{PreparedInputs, SecretAction, ENCRYPTED};
use crate::plugins::Kwargs;
use crate::store::CredentialRow;
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A credential's stored inputs, opened.
pub struct Opened {
    /// Public inputs; secret fields appear as the `$encrypted$` marker.
    pub public: Map<String, Value>,
    /// Decrypted secrets by field.
    pub secrets: BTreeMap<String, SecretString>,
}

/// Opens a credential's inputs. Unreadable stored JSON or an envelope that does not open
/// is an error naming the row, never an empty value.
pub async fn open(ctx: &Context, row: &CredentialRow) -> Result<Opened> {
    Ok(Opened {
        public: row.public_inputs()?,
        secrets: open_secrets(ctx, row).await?,
    })
}

/// Decrypts a credential's secrets alone, for a caller that needs them only sometimes.
pub async fn open_secrets(
    ctx: &Context,
    row: &CredentialRow,
) -> Result<BTreeMap<String, SecretString>> {
    let mut secrets = BTreeMap::new();
    for s in ctx.store.credential_secrets(row.id).await? {
        let value = ctx.keys.open(&row.uid, &s.field, &s.ciphertext)?;
        secrets.insert(s.field, value);
    }
    Ok(secrets)
}

/// Sets public input values as lookup arguments, leaving out `$encrypted$` markers (they
/// stand for a stored secret, not a value).
pub fn set_public(kwargs: &mut Kwargs, public: &Map<String, Value>) {
    for (key, value) in public.iter().filter(|(_, v)| v.as_str() != Some(ENCRYPTED)) {
        kwargs.set_json(key, value);
    }
}

/// Public inputs as stored, new envelopes, and the secret fields kept as they are.
pub struct Sealed {
    pub inputs: String,
    /// (field, key version, envelope)
    pub new_secrets: Vec<(String, u32, Vec<u8>)>,
    pub kept_secrets: Vec<String>,
}

/// Seals every new secret of `prepared` for `uid`; lists the kept ones.
pub fn seal(ctx: &Context, uid: &str, prepared: PreparedInputs) -> Result<Sealed> {
    let mut new_secrets = Vec::new();
    let mut kept_secrets = Vec::new();
    for (field, action) in prepared.secrets {
        match action {
            SecretAction::Keep => kept_secrets.push(field),
            SecretAction::Set(value) => {
                let (version, envelope) = ctx.keys.seal(uid, &field, &value)?;
                new_secrets.push((field, version, envelope));
            }
        }
    }
    Ok(Sealed {
        inputs: Value::Object(prepared.public).to_string(),
        new_secrets,
        kept_secrets,
    })
}

/// A credential's inputs sealed anew for another uid (a copy): envelopes are bound to
/// their credential, so a copy cannot share them.
pub async fn reseal(ctx: &Context, row: &CredentialRow, uid: &str) -> Result<Sealed> {
    let opened = open(ctx, row).await?;
    let mut new_secrets = Vec::new();
    for (field, value) in &opened.secrets {
        let (version, envelope) = ctx.keys.seal(uid, field, value)?;
        new_secrets.push((field.clone(), version, envelope));
    }
    Ok(Sealed {
        inputs: row.inputs.clone(),
        new_secrets,
        kept_secrets: Vec::new(),
    })
}

/// A credential's permanent identity, which its secrets are sealed for: 48 bits of
/// milliseconds then 80 random bits. Starting with the time puts new ids at the end of
/// the unique index, on the page the previous create already wrote, instead of on a
/// random page of it.
pub fn new_uid() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    let millis = chrono::Utc::now().timestamp_millis().to_be_bytes();
    bytes[..6].copy_from_slice(&millis[2..]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[6..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::new_uid;

    #[test]
    fn uids_sort_in_creation_order_and_stay_unique() {
        let first = new_uid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_uid();
        let same_millisecond = [new_uid(), new_uid()];
        assert!(first < second, "{first} then {second}");
        assert_ne!(same_millisecond[0], same_millisecond[1]);
        for uid in [&first, &second] {
            assert_eq!(uid.len(), 32);
            assert!(uid.bytes().all(|b| b.is_ascii_hexdigit()), "{uid}");
        }
    }
}
