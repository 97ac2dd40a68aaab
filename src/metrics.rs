//! The process's measurements, exposed in the Prometheus text format at
//! `/api/v2/metrics/` (`service::metrics` adds the counts read from the database at
//! scrape time). One registry for the process; each layer records what it sees: the
//! http layer requests and the answer cache, the use cases renders and failed logins,
//! the lookups their backends, the SQLite store its write queue and commits.
//!
//! A leaf module: it imports nothing of credstore's, so every layer may record into it.

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
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

type Timings<L> = Family<L, Latency, fn() -> Latency>;

/// Upper bounds of the latency buckets, in microseconds: 250 µs doubling to about 8 s.
const BOUNDS_MICROS: [u64; 16] = {
    let mut bounds = [0u64; 16];
    let mut i = 0;
    while i < 16 {
        bounds[i] = 250 << i;
        i += 1;
    }
    bounds
};

/// A latency histogram of atomic counters. prometheus-client's own histogram takes a
/// write lock per observation; with every request observing the same few histograms,
/// that lock cost a third of the cached-read throughput at 64 connections.
/// Shared, as prometheus-client's metrics are: the registry holds a clone.
#[derive(Debug, Default, Clone)]
pub struct Latency(Arc<LatencyCounts>);

#[derive(Debug, Default)]
struct LatencyCounts {
    /// Observations per bucket (not cumulative), the last one above every bound.
    buckets: [AtomicU64; 17],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Latency {
    fn new() -> Self {
        Self::default()
    }

    pub fn observe(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(BOUNDS_MICROS.len());
        let counts = &self.0;
        counts.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        counts.count.fetch_add(1, Ordering::Relaxed);
        counts.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = BOUNDS_MICROS
            .iter()
            .map(|b| *b as f64 / 1e6)
            .chain(std::iter::once(f64::MAX))
            .zip(&self.0.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        let sum = self.0.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let count = self.0.count.load(Ordering::Relaxed);
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
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
    pub commit_seconds: Latency,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds =
            Timings::<RouteLabels>::new_with_constructor(Latency::new as fn() -> _);
        let renders = Family::<KindLabels, Counter>::default();
        let failed_logins = Counter::default();
        let lookups = Family::<LookupLabels, Counter>::default();
        let lookup_seconds =
            Timings::<BackendLabels>::new_with_constructor(Latency::new as fn() -> _);
        let answer_cache = Family::<CacheLabels, Counter>::default();
        let write_queue = Gauge::default();
        let commit_seconds = Latency::new();
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
            .observe(took);
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
            .observe(took);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_their_buckets_and_encode_cumulatively() {
        let latency = Latency::new();
        for micros in [100, 250, 251, 20_000_000] {
            latency.observe(Duration::from_micros(micros));
        }
        let mut registry = Registry::default();
        registry.register("t", "test", latency);
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &registry).unwrap();
        assert!(text.contains("t_bucket{le=\"0.00025\"} 2"), "{text}");
        assert!(text.contains("t_bucket{le=\"0.0005\"} 3"), "{text}");
        assert!(text.contains("t_bucket{le=\"+Inf\"} 4"), "{text}");
        assert!(text.contains("t_count 4"), "{text}");
    }
}
