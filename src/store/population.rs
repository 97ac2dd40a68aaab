//! What the metrics endpoint counts at scrape time: the rows AWX's own metrics count,
//! credentials by kind, and the PostgreSQL pool's state.

use super::backend::Backend;
use super::query::{query_as, query_scalar};
use super::{Store, StoreResult};

/// Row counts at one moment.
#[derive(Debug, Clone, Default)]
pub struct Population {
    pub organizations: i64,
    pub users: i64,
    pub teams: i64,
    /// Browser sessions not yet expired.
    pub sessions: i64,
    /// (kind, credentials of types of that kind)
    pub credentials_by_kind: Vec<(String, i64)>,
}

/// The PostgreSQL pool: connections open and idle.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub size: u32,
    pub idle: u32,
}

impl Store {
    /// Counts the rows AWX's metrics count.
    pub async fn population(&self, now: &str) -> StoreResult<Population> {
        let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
        Ok(Population {
            organizations: query_scalar(&count("organizations"))
                .fetch_one(self.pool())
                .await?,
            users: query_scalar(&count("users")).fetch_one(self.pool()).await?,
            teams: query_scalar(&count("teams")).fetch_one(self.pool()).await?,
            sessions: query_scalar("SELECT COUNT(*) FROM sessions WHERE expires > ?")
                .bind(now)
                .fetch_one(self.pool())
                .await?,
            credentials_by_kind: query_as::<(String, i64)>(
                "SELECT t.kind, COUNT(c.id) FROM credential_types t \
                 JOIN credentials c ON c.credential_type_id = t.id GROUP BY t.kind ORDER BY t.kind",
            )
            .fetch_all(self.pool())
            .await?,
        })
    }

    /// The PostgreSQL pool's state; `None` on SQLite (no pool to speak of).
    pub fn pool_state(&self) -> Option<PoolState> {
        match self.pool() {
            Backend::Postgres(pool) => Some(PoolState {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            }),
            Backend::Sqlite(_) => None,
        }
    }
}
