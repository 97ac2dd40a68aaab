//! `/api/v2/metrics/`: the process's measurements (`crate::metrics`) with what the
//! database holds now, under AWX's names where they mean the same (`awx_system_info`,
//! `awx_organizations_total`, `awx_users_total`, `awx_teams_total`,
//! `awx_sessions_total`) and credstore's own otherwise. Superusers and system auditors
//! only, as in AWX.

use super::{Context, Error, Result};
use crate::domain::rbac::Caller;
use crate::metrics::metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// AWX's system info labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemInfo {
    install_uuid: String,
    license_type: &'static str,
    tower_version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionType {
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolPart {
    state: &'static str,
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g = Gauge::<i64>::default();
    g.set(value);
    registry.register(name, help, g);
}

/// The metrics text for a caller allowed to read it.
pub async fn scrape(
    ctx: &Context,
    caller: &Caller,
    install_uuid: &str,
    version: &'static str,
) -> Result<String> {
    if !caller.sees_everything() {
        return Err(Error::Forbidden(None));
    }
    let counts = ctx.store.population(&crate::store::now()).await?;
    let mut scraped = Registry::default();
    let info = Family::<SystemInfo, Gauge>::default();
    info.get_or_create(&SystemInfo {
        install_uuid: install_uuid.to_string(),
        license_type: "open",
        tower_version: version,
    })
    .set(1);
    scraped.register("awx_system_info", "System information", info);
    gauge(
        &mut scraped,
        "awx_organizations_total",
        "Number of organizations",
        counts.organizations,
    );
    gauge(
        &mut scraped,
        "awx_users_total",
        "Number of users",
        counts.users,
    );
    gauge(
        &mut scraped,
        "awx_teams_total",
        "Number of teams",
        counts.teams,
    );
    let sessions = Family::<SessionType, Gauge>::default();
    for kind in ["all", "user"] {
        sessions
            .get_or_create(&SessionType { r#type: kind })
            .set(counts.sessions);
    }
    scraped.register("awx_sessions_total", "Number of sessions", sessions);
    let by_kind = Family::<Kind, Gauge>::default();
    for (kind, n) in &counts.credentials_by_kind {
        by_kind.get_or_create(&Kind { kind: kind.clone() }).set(*n);
    }
    scraped.register(
        "credstore_credentials",
        "Credentials, by kind of their type",
        by_kind,
    );
    gauge(
        &mut scraped,
        "credstore_key_version",
        "Version of the master key new secrets are sealed with",
        i64::from(ctx.keys.current_version()),
    );
    if let Some(pool) = ctx.store.pool_state() {
        let parts = Family::<PoolPart, Gauge>::default();
        parts
            .get_or_create(&PoolPart { state: "open" })
            .set(i64::from(pool.size));
        parts
            .get_or_create(&PoolPart { state: "idle" })
            .set(i64::from(pool.idle));
        scraped.register(
            "credstore_database_connections",
            "PostgreSQL pool connections",
            parts,
        );
    }
    metrics()
        .encode(&scraped)
        .map_err(|e| Error::Internal(format!("cannot encode metrics: {e}")))
}
