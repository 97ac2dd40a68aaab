//! A credential's effective inputs: its stored values, with every field that has an input
//! source replaced by the value fetched from the external secret store (AWX fetches on
//! every use, without caching). Lookups run concurrently, each bounded by a timeout; a
//! failure names the field and the backend, never a secret.

use super::{inputs, Context, Error};
use crate::domain::credential::ENCRYPTED;
use crate::domain::injection::InputValues;
use crate::plugins::{lookup, Kwargs, LookupError};
use crate::store::CredentialRow;
use secrecy::ExposeSecret;
use serde_json::Value;

/// Why effective inputs could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Service(#[from] Error),
    #[error("credential {0} does not exist")]
    Missing(i64),
    /// A lookup failed: which field, through which backend, and AWX's reason.
    #[error("input {field} could not be fetched from {backend}: {error}")]
    Lookup {
        field: String,
        backend: String,
        error: LookupError,
    },
    /// The task running a lookup panicked or was cancelled.
    #[error("the lookup of input {0} did not finish")]
    Task(String),
}

/// Stored values of a credential: public inputs and decrypted secrets.
async fn stored_values(ctx: &Context, cred: &CredentialRow) -> Result<Kwargs, ResolveError> {
    let opened = inputs::open(ctx, cred).await?;
    let mut values = Kwargs::default();
    inputs::set_public(&mut values, &opened.public);
    for (field, secret) in opened.secrets {
        values.set_secret(&field, secret);
    }
    Ok(values)
}

/// The effective input values of `cred`: public values as stored (booleans stay
/// booleans), secrets opened, and every field with an input source replaced by what its
/// source returns now. Lookups run concurrently; the first failure is the answer.
pub async fn effective_values(
    ctx: &Context,
    cred: &CredentialRow,
) -> Result<InputValues, ResolveError> {
    let store = &ctx.store;
    let opened = inputs::open(ctx, cred).await?;
    let mut values = InputValues::default();
    for (field, value) in opened
        .public
        .iter()
        .filter(|(_, v)| v.as_str() != Some(ENCRYPTED))
    {
        values.0.insert(field.clone(), value.clone());
    }
    for (field, secret) in &opened.secrets {
        values
            .0
            .insert(field.clone(), Value::from(secret.expose_secret()));
    }
    let mut lookups = tokio::task::JoinSet::new();
    for link in store.input_sources_of(cred.id).await.map_err(Error::from)? {
        let source = store
            .credential(link.source_credential_id)
            .await
            .map_err(Error::from)?
            .ok_or(ResolveError::Missing(link.source_credential_id))?;
        let mut kwargs = stored_values(ctx, &source).await?;
        kwargs.extend_json(&link.metadata_json().map_err(Error::from)?);
        let namespace = source.type_namespace.clone().unwrap_or_default();
        let backend = source.type_name.clone();
        let field = link.input_field_name.clone();
        lookups.spawn(async move {
            let result = lookup(&namespace, &kwargs).await;
            (field, backend, result)
        });
    }
    while let Some(done) = lookups.join_next().await {
        let (field, backend, result) = done.map_err(|e| ResolveError::Task(e.to_string()))?;
        match result {
            Ok(value) => {
                values.0.insert(field, Value::from(value.expose_secret()));
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
    Ok(values)
}
