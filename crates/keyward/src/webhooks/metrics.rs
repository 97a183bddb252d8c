//! Prometheus metrics of webhook delivery, rendered on the metrics
//! listener next to the usage pipeline's.
use crate::histogram::Histogram;
use crate::store::DeliveryOutcome;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the attempt-latency histogram buckets.
const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0];

/// Counters and gauges of webhook delivery in this process.
#[derive(Default)]
pub struct WebhookMetrics {
    delivered: AtomicU64,
    failed: AtomicU64,
    given_up: AtomicU64,
    gone: AtomicU64,
    skipped: AtomicU64,
    pending: AtomicI64,
    disabled: AtomicI64,
    attempt_duration: Histogram<{ BUCKETS.len() }>,
}

impl WebhookMetrics {
    /// Count one finished attempt (or skip).
    pub fn observe(&self, o: &DeliveryOutcome) {
        let (counter, ms) = match o {
            DeliveryOutcome::Delivered { duration_ms, .. } => (&self.delivered, Some(*duration_ms)),
            DeliveryOutcome::Failed { retry_at: Some(_), duration_ms, .. } => (&self.failed, Some(*duration_ms)),
            DeliveryOutcome::Failed { retry_at: None, duration_ms, .. } => (&self.given_up, Some(*duration_ms)),
            DeliveryOutcome::Gone { duration_ms } => (&self.gone, Some(*duration_ms)),
            DeliveryOutcome::Skipped { .. } => (&self.skipped, None),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(ms) = ms {
            self.attempt_duration.observe(&BUCKETS, Duration::from_millis(crate::store::unsigned_ms(ms)));
        }
    }

    /// Pending deliveries and disabled hooks, as last counted in the store.
    pub fn set_gauges(&self, pending: i64, disabled: i64) {
        self.pending.store(pending, Ordering::Relaxed);
        self.disabled.store(disabled, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of these series.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::with_capacity(1024);
        let name = "keyward_webhook_deliveries_total";
        let _ = writeln!(out, "# HELP {name} Webhook attempts by outcome.\n# TYPE {name} counter");
        for (outcome, c) in [
            ("delivered", &self.delivered),
            ("failed", &self.failed),
            ("given_up", &self.given_up),
            ("gone", &self.gone),
            ("skipped", &self.skipped),
        ] {
            let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {}", get(c));
        }
        let _ = writeln!(
            out,
            "# HELP keyward_webhook_pending_deliveries Webhook deliveries waiting for an attempt.\n\
             # TYPE keyward_webhook_pending_deliveries gauge\nkeyward_webhook_pending_deliveries {}\n\
             # HELP keyward_webhook_disabled_hooks Hooks disabled (failing or their key revoked).\n\
             # TYPE keyward_webhook_disabled_hooks gauge\nkeyward_webhook_disabled_hooks {}",
            self.pending.load(Ordering::Relaxed),
            self.disabled.load(Ordering::Relaxed)
        );
        let name = "keyward_webhook_attempt_duration_seconds";
        self.attempt_duration.render(&mut out, &BUCKETS, name, "Time of one webhook attempt.");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_outcomes_gauges_and_latency() {
        let m = WebhookMetrics::default();
        m.observe(&DeliveryOutcome::Delivered { status: 200, duration_ms: 20 });
        m.observe(&DeliveryOutcome::Failed { status: Some(500), error: None, duration_ms: 3000, retry_at: Some(1) });
        m.observe(&DeliveryOutcome::Skipped { reason: "plan_required" });
        m.set_gauges(4, 1);
        let t = m.render();
        assert!(t.contains("keyward_webhook_deliveries_total{outcome=\"delivered\"} 1\n"), "{t}");
        assert!(t.contains("keyward_webhook_deliveries_total{outcome=\"failed\"} 1\n"));
        assert!(t.contains("keyward_webhook_deliveries_total{outcome=\"skipped\"} 1\n"));
        assert!(t.contains("keyward_webhook_pending_deliveries 4\n"));
        assert!(t.contains("keyward_webhook_disabled_hooks 1\n"));
        crate::histogram::assert_histogram(&t, "keyward_webhook_attempt_duration_seconds", &[("0.025", 1)], 2);
    }
}
