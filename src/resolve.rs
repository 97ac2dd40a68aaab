//! A credential's effective inputs: its stored values, with every field that has an input
//! source replaced by the value fetched from the external secret store (AWX fetches on
//! every use, without caching). Lookups run concurrently, each bounded by a timeout; a
//! failure names the field and the backend, never a secret.

use crate::crypto::{CryptoError, KeyRing};
use crate::domain::credential::ENCRYPTED;
use crate::plugins::{lookup, Kwargs, LookupError};
use crate::store::{CredentialRow, Store, StoreError};
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why effective inputs could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("credential {0} does not exist")]
    Missing(i64),
    /// A lookup failed: which field, through which backend, and AWX's reason.
    #[error("input {field} could not be fetched from {backend}: {error}")]
    Lookup {
        field: String,
        backend: String,
        error: LookupError,
    },
}

/// Stored values of a credential: public inputs and decrypted secrets.
async fn stored_values(
    store: &Store,
    keys: &KeyRing,
    cred: &CredentialRow,
) -> Result<Kwargs, ResolveError> {
    let mut values = Kwargs::default();
    let public: Map<String, Value> = serde_json::from_str(&cred.inputs).unwrap_or_default();
    for (k, v) in public.iter().filter(|(_, v)| v.as_str() != Some(ENCRYPTED)) {
        values.set_json(k, v);
    }
    for s in store.credential_secrets(cred.id).await? {
        values.set_secret(&s.field, keys.open(&cred.uid, &s.field, &s.ciphertext)?);
    }
    Ok(values)
}

/// Computes the effective inputs of credential `id`.
pub async fn effective_inputs(
    store: &Store,
    keys: &KeyRing,
    id: i64,
) -> Result<BTreeMap<String, SecretString>, ResolveError> {
    let cred = store
        .credential(id)
        .await?
        .ok_or(ResolveError::Missing(id))?;
    let stored = stored_values(store, keys, &cred).await?;
    let mut lookups = tokio::task::JoinSet::new();
    for link in store.input_sources_of(id).await? {
        let source = store
            .credential(link.source_credential_id)
            .await?
            .ok_or(ResolveError::Missing(link.source_credential_id))?;
        let mut kwargs = stored_values(store, keys, &source).await?;
        kwargs.extend_json(&serde_json::from_str(&link.metadata).unwrap_or_default());
        let namespace = source.type_namespace.clone().unwrap_or_default();
        let backend = source.type_name.clone();
        let field = link.input_field_name.clone();
        lookups.spawn(async move { (field, backend, lookup(&namespace, &kwargs).await) });
    }
    let mut out: BTreeMap<String, SecretString> = stored.into_inner();
    while let Some(done) = lookups.join_next().await {
        let (field, backend, result) = done.map_err(|_| ResolveError::Missing(id))?;
        match result {
            Ok(value) => {
                out.insert(field, value);
            }
            Err(error) => {
                return Err(ResolveError::Lookup {
                    field,
                    backend,
                    error,
                })
            }
        }
    }
    Ok(out)
}
