//! The application: shared state, background tasks, and `run`, which serves
//! a bound listener until SIGTERM/SIGINT (or a test's shutdown signal) and
//! then drains in-flight requests and flushes pending writes before exiting.

use crate::auth::{KeyCache, LastUsed};
use crate::config::ServeArgs;
use crate::ratelimit::RateLimiter;
use crate::store::{Backend, Store};
use crate::usage::{Recorder, UsageRecord};
use std::future::Future;
use std::net::SocketAddr;
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
    pub last_used: LastUsed,
    pub usage: Recorder,
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

impl AppState {
    /// Build the state over an open store.
    pub async fn new(store: Store, config: ServeArgs) -> anyhow::Result<(AppState, Background)> {
        let cache_enabled = store.backend() == Backend::Sqlite;
        let (usage, usage_rx) = Recorder::new(65_536);
        let state = AppState(Arc::new(Inner {
            keys: KeyCache::new(store.clone(), cache_enabled),
            limiter: RateLimiter::from_config(&config).await?,
            logins: Default::default(),
            last_used: LastUsed::default(),
            usage,
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
    let writer = tokio::spawn(crate::usage::run_writer(state.store.clone(), background.usage_rx));
    let ticker = tokio::spawn(maintenance(state.clone()));

    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;

    ticker.abort();
    // Every request has finished; dropping the router dropped the senders'
    // clones held by it, and dropping `state` below drops the last one, so
    // the writer drains the channel and returns.
    let last_used_store = state.store.clone();
    if let Err(e) = state.last_used.flush(&last_used_store).await {
        tracing::error!(error = ?e, "could not write last-used times at shutdown");
    }
    drop(state);
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = ?e, "usage writer failed"),
        Err(e) => tracing::error!(error = ?e, "usage writer panicked"),
    }
    last_used_store.close().await;
    Ok(())
}

/// Periodic chores: last-used flush, limiter eviction, session cleanup.
async fn maintenance(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        if let Err(e) = state.last_used.flush(&state.store).await {
            tracing::warn!(error = ?e, "could not write last-used times");
        }
        let now = crate::store::now_ms();
        state.limiter.evict_idle(now as u64);
        state.logins.evict_idle(now as u64);
        if n % 60 == 0 {
            if let Err(e) = state.store.delete_expired_sessions(now - SESSION_IDLE_MS, now - SESSION_ABSOLUTE_MS).await
            {
                tracing::warn!(error = ?e, "could not delete expired sessions");
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: draining requests");
}
