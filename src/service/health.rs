//! Whether this instance can serve: what `/readyz` reports to a load balancer.

use super::Context;

/// Ready when the database answers a read of credstore's own tables (so it is reachable
/// and migrated) and the key ring holds the key new secrets are sealed with. The reason
/// otherwise names the part, never a connection string or a key.
pub async fn ready(ctx: &Context) -> Result<(), String> {
    ctx.store.meta("activity_head").await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: the database did not answer");
        "the database did not answer".to_string()
    })?;
    if !ctx
        .keys
        .versions()
        .iter()
        .any(|(v, _)| *v == ctx.keys.current_version())
    {
        return Err("no master key is loaded".into());
    }
    Ok(())
}
