//! The public listener's accept loop: HTTP/1.1 connections served by hyper
//! with a header-read timeout, capped globally and per client IP, drained
//! gracefully on shutdown.
//!
//! `axum::serve` has none of the limits, so a socket that sent half a
//! request stayed open forever and a flood of them ran the process out of
//! file descriptors. Here:
//!
//! - **Header-read timeout** (`--header-read-timeout-secs`, 10 s): a request's
//!   headers must arrive within it, else the connection is closed. hyper
//!   starts the same timer whenever a keep-alive connection waits for its
//!   next request, so it is also the idle timeout.
//! - **Connection caps**: at most `--max-connections` open (lowered to fit
//!   the process' open-file limit, keeping room for the store and Redis),
//!   at most `--max-connections-per-ip` per client address (IPv6 per /64;
//!   trusted proxies are exempt, they carry many clients). The newest
//!   connection over a cap gets a one-line `503` with `Retry-After: 1` and is
//!   closed at once; the loop keeps accepting. The first refusal is logged
//!   (then at most every 30 s, with the count); `/metrics` counts them.
//! - **Accept errors** (EMFILE, ENFILE, ENOBUFS, ENOMEM) are counted, logged
//!   at most every 30 s, and followed by a 50 ms pause, so the loop neither
//!   spins nor stops; per-connection errors (ECONNABORTED, …) are skipped.
//!
//! Every connection gets `TCP_NODELAY` and the peer address as axum's
//! `ConnectInfo<SocketAddr>`. On shutdown the listener closes, every
//! connection finishes its in-flight request and closes, and `serve` returns
//! when the last one is gone.

use crate::usage::metrics::UsageMetrics;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Room kept below the open-file limit for the store, Redis, logs.
const FD_RESERVE: u64 = 128;
/// Repeat a refusal or accept-error warning at most this often.
const WARN_EVERY_MS: u64 = 30_000;
/// The answer to a connection over a cap.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 126\r\n\r\n\
{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\"code\":\"service_unavailable\",\"detail\":\"too many connections\"}";

/// The listener's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: u64,
    pub max_per_ip: u64,
    /// Peers exempt from the per-IP cap (`--trusted-proxy`).
    pub trusted_proxies: Vec<IpNet>,
}

impl Limits {
    /// These limits with `max_connections` lowered to fit the open-file
    /// limit (logged when it is).
    pub fn fitted_to_open_files(self) -> Self {
        let wanted = self.max_connections;
        let max_connections = match open_file_limit() {
            Some(n) if n.saturating_sub(FD_RESERVE) < wanted => {
                let fit = n.saturating_sub(FD_RESERVE).max(1);
                tracing::info!(
                    wanted,
                    open_file_limit = n,
                    using = fit,
                    "--max-connections lowered to fit the open-file limit (raise `ulimit -n` for more)"
                );
                fit
            }
            _ => wanted,
        };
        Limits { max_connections, ..self }
    }
}

/// The soft open-file limit (`Max open files` of /proc/self/limits).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Open connections per client address.
#[derive(Default)]
struct Counts {
    total: u64,
    per_ip: HashMap<IpAddr, u64>,
}

struct Shared {
    counts: Mutex<Counts>,
    metrics: Arc<UsageMetrics>,
    last_warn: AtomicU64,
}

/// One admitted connection; leaving gives its slots back.
struct Slot {
    shared: Arc<Shared>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.shared.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total -= 1;
        if let Some(ip) = self.ip {
            if let Some(n) = c.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    c.per_ip.remove(&ip);
                }
            }
        }
        self.shared.metrics.connections_open.store(c.total, Ordering::Relaxed);
    }
}

impl Shared {
    fn admit(self: &Arc<Self>, ip: Option<IpAddr>, limits: &Limits) -> Result<Slot, &'static str> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.total >= limits.max_connections {
            return Err("the connection limit (--max-connections)");
        }
        if let Some(ip) = ip {
            let n = c.per_ip.entry(ip).or_insert(0);
            if *n >= limits.max_per_ip {
                return Err("the per-client-IP connection limit (--max-connections-per-ip)");
            }
            *n += 1;
        }
        c.total += 1;
        self.metrics.connections_open.store(c.total, Ordering::Relaxed);
        Ok(Slot { shared: Arc::clone(self), ip })
    }

    /// Whether a warning is due now (first one, then every 30 s).
    fn warn_due(&self) -> bool {
        let now = crate::store::unsigned_ms(crate::store::now_ms());
        let last = self.last_warn.load(Ordering::Acquire);
        (last == 0 || now >= last + WARN_EVERY_MS)
            && self.last_warn.compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// Answer 503 and close, without waiting on the client.
fn refuse(tcp: TcpStream) {
    let _ = tcp.try_write(REFUSAL);
    // Read what already arrived, so closing sends FIN rather than RST and
    // the client gets to read the answer.
    let mut sink = [0u8; 4096];
    let _ = tcp.try_read(&mut sink);
    drop(tcp);
}

fn is_per_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted)
}

/// Serve `app` on `listener` until `shutdown` resolves, then drain.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<UsageMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let shared = Arc::new(Shared { counts: Default::default(), metrics, last_warn: AtomicU64::new(0) });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    // The signal is awaited in a task of its own, as axum::serve does: if
    // it panics (e.g. its log line cannot be written to a closed stderr),
    // the sender goes and that is a shutdown too, not a crash of the loop.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stop_rx => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_per_connection_error(&e) => continue,
            Err(e) => {
                shared.metrics.accept_errors.fetch_add(1, Ordering::Relaxed);
                if shared.warn_due() {
                    tracing::warn!(
                        error = %e,
                        errors = shared.metrics.accept_errors.load(Ordering::Relaxed),
                        "cannot accept connections (pausing 50 ms each time)"
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let ip = keyward_core::allowlist::canonical_ip(peer.ip());
        let capped_ip = (!limits.trusted_proxies.iter().any(|n| n.contains(&ip)))
            .then(|| keyward_core::ratelimit::throttle_key(ip));
        let slot = match shared.admit(capped_ip, &limits) {
            Ok(s) => s,
            Err(which) => {
                let refused = shared.metrics.connections_refused.fetch_add(1, Ordering::Relaxed) + 1;
                if shared.warn_due() {
                    tracing::warn!(refused, client = %ip, "connection refused with 503: {which} is reached");
                }
                refuse(tcp);
                continue;
            }
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_is_well_formed() {
        let text = std::str::from_utf8(super::REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
        assert_eq!(len, body.len());
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["status"], 503);
    }

    #[test]
    fn the_open_file_limit_is_read() {
        assert!(super::open_file_limit().is_some_and(|n| n > 0));
    }
}
