//! Prometheus metrics of the usage pipeline, served as text on their own
//! listener (`--metrics-listen`), never on the public router.
//!
//! Hand-rolled atomic counters and one fixed-bucket histogram rather than a
//! metrics crate: a handful of series need no dependency, and the values live
//! in the [`UsageMetrics`] of one running app instead of a process-global
//! registry, so several apps in one process (the tests) never mix numbers.
use crate::histogram::Histogram;
use crate::ratelimit::redis::{RedisLimiter, RedisStats};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Upper bounds (seconds) of the batch-latency histogram buckets.
const BATCH_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Counters of the usage pipeline.
#[derive(Default)]
pub struct UsageMetrics {
    /// Records accepted into the channel by the request path.
    pub enqueued: AtomicU64,
    /// Records committed to storage.
    pub written: AtomicU64,
    /// Records lost (a batch that failed every retry, or no writer left).
    pub dropped: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Keys revoked automatically (auto_error_rate) by this process.
    pub auto_revocations: AtomicU64,
    /// Webhook notices delivered / given up on after every retry.
    pub webhook_delivered: AtomicU64,
    pub webhook_failed: AtomicU64,
    /// Rows deleted by the retention job (raw records and rollups).
    pub retention_deleted: AtomicU64,
    /// Client connections open now (public listener).
    pub connections_open: AtomicU64,
    /// Connections refused at a connection cap (global or per IP).
    pub connections_refused: AtomicU64,
    /// Failed accepts (e.g. EMFILE).
    pub accept_errors: AtomicU64,
    /// Logins answered 503 because every password-check slot was busy.
    pub logins_refused_busy: AtomicU64,
    /// Usage records in the spill file, waiting for the store (gauge).
    pub spilled_records: AtomicU64,
    /// Bytes of the spill file (gauge).
    pub spill_bytes: AtomicU64,
    /// `at` (unix ms) of the oldest record waiting in the spill file; 0 when none.
    pub spilled_since_ms: AtomicU64,
    batch_duration: Histogram<{ BATCH_BUCKETS.len() }>,
}

impl UsageMetrics {
    /// Record one batch's write time (commit included, retries included).
    pub fn observe_batch(&self, took: Duration) {
        self.batch_duration.observe(&BATCH_BUCKETS, took);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let (enqueued, written, dropped) = (get(&self.enqueued), get(&self.written), get(&self.dropped));
        counter("keyward_usage_records_enqueued_total", "Usage records accepted from the request path.", enqueued);
        counter("keyward_usage_records_written_total", "Usage records committed to storage.", written);
        counter("keyward_usage_records_dropped_total", "Usage records lost after every retry.", dropped);
        counter("keyward_usage_batches_total", "Usage batches committed.", get(&self.batches));
        counter("keyward_auto_revocations_total", "Keys revoked for a high 401/422 rate.", get(&self.auto_revocations));
        counter("keyward_notify_webhook_delivered_total", "Webhook notices delivered.", get(&self.webhook_delivered));
        counter("keyward_notify_webhook_failed_total", "Webhook notices given up on.", get(&self.webhook_failed));
        counter(
            "keyward_usage_retention_deleted_total",
            "Usage rows deleted by retention.",
            get(&self.retention_deleted),
        );
        counter(
            "keyward_connections_refused_total",
            "Client connections refused at the connection caps.",
            get(&self.connections_refused),
        );
        counter("keyward_accept_errors_total", "Failed accepts on the public listener.", get(&self.accept_errors));
        counter(
            "keyward_login_busy_total",
            "Logins answered 503: every password-check slot busy.",
            get(&self.logins_refused_busy),
        );
        let _ = writeln!(
            out,
            "# HELP keyward_connections_open Client connections open on the public listener.\n\
             # TYPE keyward_connections_open gauge\nkeyward_connections_open {}",
            get(&self.connections_open)
        );
        let _ = writeln!(
            out,
            "# HELP keyward_usage_spilled_records Usage records in the spill file, waiting for the store.\n\
             # TYPE keyward_usage_spilled_records gauge\nkeyward_usage_spilled_records {}\n\
             # HELP keyward_usage_spill_bytes Size of the usage spill file in bytes.\n\
             # TYPE keyward_usage_spill_bytes gauge\nkeyward_usage_spill_bytes {}",
            get(&self.spilled_records),
            get(&self.spill_bytes)
        );
        let pending = enqueued.saturating_sub(written + dropped);
        let _ = writeln!(
            out,
            "# HELP keyward_usage_records_pending Usage records accepted but not yet written.\n\
             # TYPE keyward_usage_records_pending gauge\nkeyward_usage_records_pending {pending}"
        );
        let name = "keyward_usage_batch_duration_seconds";
        self.batch_duration.render(&mut out, &BATCH_BUCKETS, name, "Time to write one usage batch.");
        out
    }
}

/// The metrics listener's router: `GET /metrics` only.
pub fn router(
    metrics: Arc<UsageMetrics>,
    redis: Option<RedisLimiter>,
    webhooks: Arc<crate::webhooks::metrics::WebhookMetrics>,
) -> Router {
    Router::new().route("/metrics", get(serve_metrics)).with_state((metrics, redis, webhooks))
}

type MetricsState = (Arc<UsageMetrics>, Option<RedisLimiter>, Arc<crate::webhooks::metrics::WebhookMetrics>);

async fn serve_metrics(State((m, redis, webhooks)): State<MetricsState>) -> impl IntoResponse {
    let mut text = m.render();
    text.push_str(&webhooks.render());
    if let Some(r) = redis {
        text.push_str(&render_redis(&r.stats()));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// The shared limiter's health: is Redis answering, and how often did this
/// node fall back to its local limiter (the "metric" of the Redis fallback).
pub fn render_redis(s: &RedisStats) -> String {
    format!(
        "# HELP keyward_redis_up Whether the last call to Redis succeeded (0: limits are enforced per node).\n\
         # TYPE keyward_redis_up gauge\nkeyward_redis_up {}\n\
         # HELP keyward_redis_errors_total Calls to Redis that failed or timed out.\n\
         # TYPE keyward_redis_errors_total counter\nkeyward_redis_errors_total {}\n\
         # HELP keyward_ratelimit_fallback_decisions_total Rate-limit decisions made by the local fallback limiter.\n\
         # TYPE keyward_ratelimit_fallback_decisions_total counter\nkeyward_ratelimit_fallback_decisions_total {}\n",
        u8::from(s.up),
        s.errors,
        s.fallback_decisions
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_redis_fallback_metrics() {
        let text = render_redis(&RedisStats { up: false, errors: 3, fallback_decisions: 7 });
        assert!(text.contains("keyward_redis_up 0\n"), "{text}");
        assert!(text.contains("keyward_redis_errors_total 3\n"));
        assert!(text.contains("keyward_ratelimit_fallback_decisions_total 7\n"));
    }

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = UsageMetrics::default();
        m.enqueued.fetch_add(5, Ordering::Relaxed);
        m.written.fetch_add(3, Ordering::Relaxed);
        m.observe_batch(Duration::from_micros(700));
        m.observe_batch(Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains("keyward_usage_records_enqueued_total 5\n"), "{text}");
        assert!(text.contains("keyward_usage_records_pending 2\n"));
        let name = "keyward_usage_batch_duration_seconds";
        crate::histogram::assert_histogram(&text, name, &[("0.001", 1), ("0.05", 2), ("+Inf", 2)], 2);
    }
}
