//! The application: shared state, background tasks, and `run`, which serves
//! a bound listener until SIGTERM/SIGINT (or a test's shutdown signal) and
//! then drains in-flight requests and flushes pending writes before exiting.

use crate::auth::{KeyCache, LastUsed};
use crate::config::ServeArgs;
use crate::ratelimit::RateLimiter;
use crate::store::{Backend, Store};
use crate::usage::{Recorder, UsageRecord};
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Session idle expiry: a session unused this long ends.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// Session absolute expiry: no session lives longer, however active.
pub const SESSION_ABSOLUTE_MS: i64 = 7 * 24 * 3600 * 1000;

/// Shared state of a running keyward.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub config: ServeArgs,
    pub keys: KeyCache,
    pub limiter: RateLimiter,
    pub logins: crate::http::session::LoginThrottle,
    /// Bounds concurrent password checks (memory and CPU under a login flood).
    pub hash_gate: crate::password::HashGate,
    pub last_used: LastUsed,
    pub usage: Recorder,
    /// Webhooks: the outbound client, the secrets' master key, the schedule.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// Banner notifications and the notify webhook (automatic revocations).
    pub notifier: Arc<crate::usage::notify::Notifier>,
    /// GitHub's secret scanning keys and the public leak report throttle.
    pub leaks: crate::leaked::Leaks,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Background work that must finish before the process exits.
pub struct Background {
    usage_rx: mpsc::Receiver<UsageRecord>,
}

/// Usage records that may wait for the writer before requests wait for
/// room (about a second of full load on this machine).
const USAGE_CHANNEL_CAPACITY: usize = 65_536;

impl Background {
    /// Drain usage records without storing them (benchmarks of the request
    /// path that must not measure the writer).
    ///
    /// Like the writer it lingers after each batch, so senders rarely wake
    /// it; it takes up to a full channel at a time so that the lingering
    /// never throttles the sender being measured.
    pub async fn discard_usage(mut self) {
        let mut buf = Vec::with_capacity(USAGE_CHANNEL_CAPACITY);
        while self.usage_rx.recv_many(&mut buf, USAGE_CHANNEL_CAPACITY).await > 0 {
            buf.clear();
            tokio::time::sleep(crate::usage::writer::LINGER).await;
        }
    }
}

impl AppState {
    /// Build the state over an open store.
    pub async fn new(store: Store, config: ServeArgs) -> anyhow::Result<(AppState, Background)> {
        if let Some(url) = &config.notify_webhook_url {
            crate::usage::notify::parse_webhook_url(url)?;
        }
        let cache_enabled = store.backend() == Backend::Sqlite;
        let (usage, usage_rx) = Recorder::new(USAGE_CHANNEL_CAPACITY);
        let limiter = RateLimiter::from_config(&config).await?;
        let logins = crate::http::session::LoginThrottle::new(limiter.redis().cloned(), &config.redis_prefix);
        let webhooks = Arc::new(crate::webhooks::Webhooks::from_config(&config)?);
        let notifier = Arc::new(crate::usage::notify::Notifier::new(
            store.clone(),
            config.notify_webhook_url.as_deref(),
            crate::usage::notify::Retry::default(),
            Arc::clone(usage.metrics()),
        )?);
        let leaks = crate::leaked::Leaks::new(
            config.github_secret_scanning_keys_url.clone(),
            crate::leaked::github::default_source()?,
        );
        let state = AppState(Arc::new(Inner {
            keys: KeyCache::new(store.clone(), cache_enabled),
            limiter,
            logins,
            hash_gate: crate::password::HashGate::for_this_machine(),
            last_used: LastUsed::default(),
            usage,
            webhooks,
            notifier,
            leaks,
            store,
            config,
        }));
        Ok((state, Background { usage_rx }))
    }
}

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
    let hooks_worker = state.config.webhooks_deliver.then(|| {
        tokio::spawn(crate::webhooks::worker::run(
            state.store.clone(),
            Arc::clone(&state.webhooks),
            Arc::clone(&usage.notifier),
        ))
    });

    // TCP_NODELAY, timeouts, connection caps: see crate::server.
    let limits = crate::server::Limits::from_config(&state.config);
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
    use crate::usage::{autorevoke::AutoRevokePolicy, notify, retention, Writer};
    let metrics = Arc::clone(state.usage.metrics());
    let metrics_server = match state.config.metrics_listen {
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
    let spill_dir = state.config.usage_spill_dir();
    let spill = crate::usage::spill::Spill::open(
        &spill_dir,
        state.config.usage_spill_max_mb.saturating_mul(1 << 20),
        Arc::clone(&metrics),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the usage spill file in {}: {e}", spill_dir.display()))?;
    let writer = Writer {
        store: state.store.clone(),
        metrics: Arc::clone(&metrics),
        policy: AutoRevokePolicy::from_config(&state.config),
        notifier: Arc::clone(&notifier),
        retry: notify::Retry { attempts: 5, first_backoff: Duration::from_millis(100) },
        spill: Some(spill),
        replay_every: crate::usage::writer::REPLAY_EVERY,
    };
    let writer = tokio::spawn(crate::usage::run_writer(writer, background.usage_rx));
    let retention = tokio::spawn(retention::run_loop(state.store.clone(), state.config.usage_retention_days, metrics));
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
        if !n.is_multiple_of(crate::auth::LAST_USED_FLUSH_EVERY_S) {
            continue;
        }
        if let Err(e) = state.last_used.flush(&state.store, crate::store::now_ms(), false).await {
            tracing::warn!(error = ?e, "could not write last-used times");
        }
        let now = crate::store::now_ms();
        state.limiter.evict_idle(now as u64);
        state.logins.evict_idle(now as u64);
        if n.is_multiple_of(300) {
            if let Err(e) = state.store.delete_expired_sessions(now - SESSION_IDLE_MS, now - SESSION_ABSOLUTE_MS).await
            {
                tracing::warn!(error = ?e, "could not delete expired sessions");
            }
        }
    }
}
