//! The running application: `run` starts the background tasks, serves a
//! bound listener until SIGTERM/SIGINT (or a test's shutdown signal), then
//! drains in-flight requests and flushes pending writes before exiting.

use crate::state::{AppState, Background};
use crate::state::{SESSION_ABSOLUTE_MS, SESSION_IDLE_MS};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serve `listener` until `shutdown` resolves; then stop accepting, let
/// in-flight requests finish, flush usage records and last-used times.
pub async fn run(
    state: AppState,
    background: Background,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = crate::http::router(state.clone());
    let usage = spawn_usage(&state, background).await?;
    let ticker = tokio::spawn(maintenance(state.clone()));
    let hooks_worker = state.settings.webhooks_deliver.then(|| {
        tokio::spawn(crate::webhooks::worker::run(
            state.store.clone(),
            Arc::clone(&state.webhooks),
            Arc::clone(&usage.notifier),
        ))
    });

    // TCP_NODELAY, timeouts, connection caps: see crate::server.
    let limits = state.settings.listener.clone().fitted_to_open_files();
    crate::server::serve(listener, app, limits, Arc::clone(state.usage.metrics()), shutdown).await;

    ticker.abort();
    let _ = ticker.await;
    // Attempts in flight are abandoned: their leases expire and they are
    // attempted again (by this node after a restart, or another).
    if let Some(worker) = hooks_worker {
        worker.abort();
        let _ = worker.await;
    }
    crate::webhooks::worker::release_claims(&state.store, &state.webhooks).await;
    usage.retention.abort();
    let _ = usage.retention.await;
    // Every request has finished; dropping the router dropped the senders'
    // clones held by it, and dropping `state` below drops the last one, so
    // the writer drains the channel and returns.
    let last_used_store = state.store.clone();
    if let Err(e) = state.last_used.flush(&last_used_store, crate::store::now_ms(), true).await {
        tracing::error!(error = ?e, "could not write last-used times at shutdown");
    }
    drop(state);
    match usage.writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = ?e, "usage writer failed"),
        Err(e) => tracing::error!(error = ?e, "usage writer panicked"),
    }
    usage.notifier.drain(Duration::from_secs(5)).await;
    if let Some(m) = usage.metrics_server {
        m.abort();
    }
    last_used_store.close().await;
    Ok(())
}

/// The usage pipeline's background tasks. None of them holds an
/// [`AppState`] (whose [`Recorder`] would keep the channel open forever).
struct UsageTasks {
    writer: tokio::task::JoinHandle<anyhow::Result<()>>,
    retention: tokio::task::JoinHandle<()>,
    notifier: Arc<crate::usage::notify::Notifier>,
    metrics_server: Option<tokio::task::JoinHandle<()>>,
}

/// Start the batch writer, the retention job and (with `--metrics-listen`)
/// the metrics listener.
async fn spawn_usage(state: &AppState, background: Background) -> anyhow::Result<UsageTasks> {
    use crate::usage::{notify, retention, Writer};
    let metrics = Arc::clone(state.usage.metrics());
    let settings = &state.settings.usage;
    let metrics_server = match state.settings.metrics_listen {
        None => None,
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
            tracing::info!(addr = %listener.local_addr()?, "Prometheus metrics on /metrics");
            let router = crate::usage::metrics::router(
                Arc::clone(&metrics),
                state.limiter.redis().cloned(),
                Arc::clone(&state.webhooks.metrics),
            );
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = ?e, "metrics listener failed");
                }
            }))
        }
    };
    let notifier = Arc::clone(&state.notifier);
    let spill_dir = &settings.spill_dir;
    let spill = crate::usage::spill::Spill::open(spill_dir, settings.spill_max_bytes, Arc::clone(&metrics))
        .map_err(|e| anyhow::anyhow!("cannot open the usage spill file in {}: {e}", spill_dir.display()))?;
    let writer = Writer {
        store: state.store.clone(),
        metrics: Arc::clone(&metrics),
        policy: settings.auto_revoke,
        notifier: Arc::clone(&notifier),
        retry: notify::Retry { attempts: 5, first_backoff: Duration::from_millis(100) },
        spill: Some(spill),
        replay_every: crate::usage::writer::REPLAY_EVERY,
    };
    let writer = tokio::spawn(crate::usage::run_writer(writer, background.usage_rx));
    let retention = tokio::spawn(retention::run_loop(state.store.clone(), settings.retention_days, metrics));
    Ok(UsageTasks { writer, retention, notifier, metrics_server })
}

/// Periodic chores: last-used flush, limiter eviction, session cleanup.
async fn maintenance(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // Every second: the WAL checkpoint. Every LAST_USED_FLUSH_EVERY_S
    // ticks: last-used times and evictions. Every 300th tick (5 minutes):
    // expired sessions.
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if let Err(e) = state.store.checkpoint().await {
            tracing::warn!(error = ?e, "WAL checkpoint failed");
        }
        n += 1;
        if n == 1 || n.is_multiple_of(crate::lifecycle::CHECK_EVERY_S) {
            crate::lifecycle::check_expiring(&state.store, crate::store::now_ms()).await;
        }
        if !n.is_multiple_of(crate::keycache::LAST_USED_FLUSH_EVERY_S) {
            continue;
        }
        if let Err(e) = state.last_used.flush(&state.store, crate::store::now_ms(), false).await {
            tracing::warn!(error = ?e, "could not write last-used times");
        }
        let now = crate::store::now_ms();
        state.limiter.evict_idle(crate::store::unsigned_ms(now));
        state.logins.evict_idle(crate::store::unsigned_ms(now));
        if n.is_multiple_of(300) {
            if let Err(e) = state.store.delete_expired_sessions(now - SESSION_IDLE_MS, now - SESSION_ABSOLUTE_MS).await
            {
                tracing::warn!(error = ?e, "could not delete expired sessions");
            }
        }
    }
}
