//! Metrics in the Prometheus text format, at `GET /metrics` behind a bearer token
//! (`metrics_token`; without one the route does not exist). Nothing in them names a child or
//! a person: routes are patterns (`/children/{id}`), never paths.
//!
//! - `trivsel_http_request_duration_seconds{route,method,status}`: a histogram per route
//!   pattern.
//! - `trivsel_outbox_undelivered`, `trivsel_outbox_given_up`,
//!   `trivsel_outbox_oldest_undelivered_seconds`: read from the outbox when scraped.
//! - `trivsel_job_runs_total{job}`, `trivsel_job_failures_total{job}`: the background jobs.
//! - `trivsel_db_connections{pool,state}`: the connection pools, when scraped.
//! - `trivsel_database_ready`: 1 while the readiness check passes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub pool: &'static str,
    pub state: &'static str,
}

/// This instance's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Histogram>,
    pub job_runs: Family<JobLabels, Counter>,
    pub job_failures: Family<JobLabels, Counter>,
    pub outbox_undelivered: Gauge,
    pub outbox_given_up: Gauge,
    pub outbox_oldest_seconds: Gauge,
    pub connections: Family<PoolLabels, Gauge>,
    pub database_ready: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 16 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        let mut m = Metrics {
            registry: Registry::default(),
            requests,
            job_runs: Family::default(),
            job_failures: Family::default(),
            outbox_undelivered: Gauge::default(),
            outbox_given_up: Gauge::default(),
            outbox_oldest_seconds: Gauge::default(),
            connections: Family::default(),
            database_ready: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register(
            "trivsel_http_request_duration_seconds",
            "Time to answer a request, by route pattern, method and status",
            m.requests.clone(),
        );
        r.register(
            "trivsel_job_runs",
            "Background job runs",
            m.job_runs.clone(),
        );
        r.register(
            "trivsel_job_failures",
            "Background job runs that failed",
            m.job_failures.clone(),
        );
        r.register(
            "trivsel_outbox_undelivered",
            "Emails not yet delivered (given up ones excluded)",
            m.outbox_undelivered.clone(),
        );
        r.register(
            "trivsel_outbox_given_up",
            "Emails given up after permanent refusals",
            m.outbox_given_up.clone(),
        );
        r.register(
            "trivsel_outbox_oldest_undelivered_seconds",
            "Age of the oldest email not yet delivered",
            m.outbox_oldest_seconds.clone(),
        );
        r.register(
            "trivsel_db_connections",
            "Database connections by pool and state",
            m.connections.clone(),
        );
        r.register(
            "trivsel_database_ready",
            "1 while the database answers and takes writes",
            m.database_ready.clone(),
        );
        m
    }
}

impl Metrics {
    /// Counts a run of `job`, and a failure when it failed.
    pub fn job(&self, job: &'static str, ok: bool) {
        self.job_runs.get_or_create(&JobLabels { job }).inc();
        if !ok {
            self.job_failures.get_or_create(&JobLabels { job }).inc();
        }
    }

    /// Everything in the text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
