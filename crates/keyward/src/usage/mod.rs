//! The usage log (SPEC §6): every `/v1` request made with a key that exists
//! is recorded off the request path.
//!
//! - [`Recorder`]: the request path's end of a bounded channel (waits for
//!   room, never drops);
//! - [`writer`]: the batch writer (raw records + hourly rollups + auto-revocation
//!   counters in one transaction per batch; drains everything at shutdown);
//! - [`autorevoke`]: the error-rate rule and the revocation;
//! - [`notify`]: the banner notification and the webhook;
//! - [`stats`]: the API Usage report;
//! - [`spill`]: the local file that holds batches while the store is down;
//! - [`retention`]: the 90-day clean-up job;
//! - [`metrics`]: Prometheus counters for all of the above.
pub mod autorevoke;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod spill;
pub mod stats;
pub mod writer;

pub use metrics::UsageMetrics;
pub use writer::{run_writer, Writer};

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One `/v1` request, as the usage log keeps it.
#[derive(Debug, Clone)]
pub struct UsageRecord {
    pub at_ms: i64,
    pub workspace_id: Arc<str>,
    pub key_id: Arc<str>,
    pub method: &'static str,
    /// The matched route template, e.g. `/v1/studies/{id}`.
    pub route: Arc<str>,
    /// The path without query string.
    pub path: String,
    pub status: u16,
    pub code: Option<&'static str>,
    pub latency_us: u64,
    pub ip: IpAddr,
}

/// The request path's handle on the usage log: a bounded channel into the
/// batch writer. When the writer falls behind, `record` waits for room
/// (backpressure) rather than dropping.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<UsageRecord>,
    metrics: Arc<UsageMetrics>,
}

impl Recorder {
    /// A recorder with room for `capacity` records, and the writer's end.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<UsageRecord>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Recorder { tx, metrics: Arc::default() }, rx)
    }

    /// The usage pipeline's metrics (shared with the writer and `/metrics`).
    pub fn metrics(&self) -> &Arc<UsageMetrics> {
        &self.metrics
    }

    /// Queue a record, waiting while the channel is full.
    pub async fn record(&self, r: UsageRecord) {
        // Room in the channel (the usual case): no permit to wait for.
        let r = match self.tx.try_send(r) {
            Ok(()) => {
                self.metrics.enqueued.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r)) => r,
        };
        if self.tx.send(r).await.is_ok() {
            self.metrics.enqueued.fetch_add(1, Ordering::Relaxed);
        } else {
            // Only at shutdown, after the writer stopped: counted, never silent.
            self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!(dropped = 1, "usage writer is gone; a usage record was dropped");
        }
    }
}

/// A `GET` record of workspace `ws_1` from localhost (unit tests).
/// A request's method as a usage record stores it (no allocation; any
/// other method is `OTHER`).
pub(crate) fn static_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
pub(crate) fn test_record(at_ms: i64, key: &str, route: &str, status: u16, code: Option<&'static str>) -> UsageRecord {
    UsageRecord {
        at_ms,
        workspace_id: Arc::from("ws_1"),
        key_id: Arc::from(key),
        method: "GET",
        route: Arc::from(route),
        path: route.to_string(),
        status,
        code,
        latency_us: 1500,
        ip: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    }
}
