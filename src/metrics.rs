//! The process's measurements, exposed in the Prometheus text format at
//! `/api/v2/metrics/` (`service::metrics` adds the counts read from the database at
//! scrape time). One registry for the process; each layer records what it sees: the
//! http layer requests and the answer cache, the use cases renders and failed logins,
//! the lookups their backends, the SQLite store its write queue and commits.
//!
//! A leaf module: it imports nothing of credstore's, so every layer may record into it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern (`/api/v2/credentials/{id}/`), never a path with ids or names.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LookupLabels {
    pub backend: String,
    /// `ok`, or the failure's class (`http`, `error`, `timeout`).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit` or `miss`.
    pub result: &'static str,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.25 ms to about 8 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every measurement the process keeps.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Timings<RouteLabels>,
    pub renders: Family<KindLabels, Counter>,
    pub failed_logins: Counter,
    pub lookups: Family<LookupLabels, Counter>,
    pub lookup_seconds: Timings<BackendLabels>,
    pub answer_cache: Family<CacheLabels, Counter>,
    pub write_queue: Gauge,
    pub commit_seconds: Histogram,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Timings::<RouteLabels>::new_with_constructor(latency as fn() -> _);
        let renders = Family::<KindLabels, Counter>::default();
        let failed_logins = Counter::default();
        let lookups = Family::<LookupLabels, Counter>::default();
        let lookup_seconds = Timings::<BackendLabels>::new_with_constructor(latency as fn() -> _);
        let answer_cache = Family::<CacheLabels, Counter>::default();
        let write_queue = Gauge::default();
        let commit_seconds = latency();
        let r = &mut registry;
        r.register(
            "credstore_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        r.register(
            "credstore_request_duration_seconds",
            "Time to answer a request, by route and method",
            request_seconds.clone(),
        );
        r.register(
            "credstore_renders",
            "Credentials rendered for a job, by kind",
            renders.clone(),
        );
        r.register(
            "credstore_failed_logins",
            "Password checks that failed (Basic, session login, token creation)",
            failed_logins.clone(),
        );
        r.register(
            "credstore_lookups",
            "External secret lookups, by backend and outcome",
            lookups.clone(),
        );
        r.register(
            "credstore_lookup_duration_seconds",
            "Time an external lookup took, by backend",
            lookup_seconds.clone(),
        );
        r.register(
            "credstore_answer_cache",
            "Credential reads answered from the answer cache (hit) or rendered (miss)",
            answer_cache.clone(),
        );
        r.register(
            "credstore_write_queue_depth",
            "Writers of this process waiting for the SQLite write slot",
            write_queue.clone(),
        );
        r.register(
            "credstore_commit_duration_seconds",
            "Time a SQLite group commit took",
            commit_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            renders,
            failed_logins,
            lookups,
            lookup_seconds,
            answer_cache,
            write_queue,
            commit_seconds,
        }
    }

    /// Records one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_string(), route.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// Records one lookup and its outcome class.
    pub fn lookup(&self, backend: &str, outcome: &'static str, took: Duration) {
        let backend = backend.to_string();
        self.lookups
            .get_or_create(&LookupLabels {
                backend: backend.clone(),
                outcome,
            })
            .inc();
        self.lookup_seconds
            .get_or_create(&BackendLabels { backend })
            .observe(took.as_secs_f64());
    }

    /// Records an answer-cache hit (true) or miss.
    pub fn cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.answer_cache
            .get_or_create(&CacheLabels { result })
            .inc();
    }

    /// The registry in the text format, with `scraped` (the values read at scrape time)
    /// in front.
    pub fn encode(&self, scraped: &Registry) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode_registry(&mut out, scraped)?;
        prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)?;
        prometheus_client::encoding::text::encode_eof(&mut out)?;
        Ok(out)
    }
}

/// The process's measurements.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Adds a wait to the write queue for as long as the guard lives.
pub struct Queued;

impl Queued {
    pub fn enter() -> Self {
        metrics().write_queue.inc();
        Queued
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        metrics().write_queue.dec();
    }
}
