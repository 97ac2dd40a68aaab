//! Testing external lookups: `test_credential` (use role; stored inputs merged under the
//! body's, `$encrypted$` meaning "the stored value"; the stored secrets only go along
//! when the body changes no public input, or for an admin of the credential; every call
//! leaves an activity entry) and `test_type` (superusers; the body as is). The secret a
//! lookup fetches is never returned.

use super::{credential_types, credentials, inputs, Context, Error, Result};
use crate::domain::activity::ActivityRecord;
use crate::domain::credential::{changed_public_inputs, DESTINATION_INPUTS};
use crate::domain::rbac::{Caller, Level};
use crate::plugins::{lookup, Kwargs, LookupError};
use serde_json::{Map, Value};

/// What a lookup test found: `Ok` when the backend answered with a value.
pub type Outcome = std::result::Result<(), LookupError>;

fn object(body: &Map<String, Value>, key: &str) -> Map<String, Value> {
    body.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Runs the lookup of an external type's `namespace`; other kinds cannot be tested.
async fn run(namespace: Option<&str>, external: bool, kwargs: Kwargs) -> Outcome {
    let result = match (external, namespace) {
        (true, Some(ns)) => lookup(ns, &kwargs).await.map(|_| ()),
        _ => Err(LookupError::Kind("AttributeError")),
    };
    if let Err(e) = &result {
        tracing::info!(reason = %e, "external credential test failed");
    }
    result
}

/// Tests the lookup of the credential `raw` names with the body's `inputs` and
/// `metadata` over its stored inputs.
pub async fn test_credential(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
) -> Result<Outcome> {
    let (cred, level) = credentials::get(ctx, caller, raw).await?;
    if level < Level::Use {
        return Err(Error::Forbidden(None));
    }
    let ty = credential_types::by_id(ctx, cred.credential_type_id).await?;
    let public = cred.public_inputs()?;
    let requested = object(body, "inputs");
    let schema = ctx.schemas.schema(&ty)?;
    let changed = changed_public_inputs(&schema, &public, &requested);
    let with_stored_secrets = changed.is_empty() || level >= Level::Admin;
    let mut kwargs = Kwargs::default();
    inputs::set_public(&mut kwargs, &public);
    if with_stored_secrets {
        for (k, v) in inputs::open_secrets(ctx, &cred).await? {
            kwargs.set_secret(&k, v);
        }
    }
    inputs::set_public(&mut kwargs, &requested);
    kwargs.extend_json(&object(body, "metadata"));
    let destination = DESTINATION_INPUTS.iter().find_map(|k| kwargs.non_empty(k));
    let record = ActivityRecord::lookup_test(
        caller.user_id,
        cred.id,
        destination,
        &changed,
        with_stored_secrets,
    );
    ctx.store.record_activity(&record).await?;
    Ok(run(
        cred.type_namespace.as_deref(),
        cred.type_kind == "external",
        kwargs,
    )
    .await)
}

/// Tests the lookup of credential type `id` with the body's inputs and metadata alone
/// (superusers).
pub async fn test_type(
    ctx: &Context,
    caller: &Caller,
    id: i64,
    body: &Map<String, Value>,
) -> Result<Outcome> {
    let ty = credential_types::by_id(ctx, id).await?;
    if !caller.is_superuser {
        return Err(Error::Forbidden(None));
    }
    let mut kwargs = Kwargs::default();
    kwargs.extend_json(&object(body, "inputs"));
    kwargs.extend_json(&object(body, "metadata"));
    Ok(run(ty.namespace.as_deref(), ty.kind == "external", kwargs).await)
}
