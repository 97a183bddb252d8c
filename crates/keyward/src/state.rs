//! The application's shared state, handed to every handler: the store, the
//! key cache, the limiters, the usage recorder and the outbound parts, built
//! once from [`Settings`] (which start-up derives from the flags).

use crate::keycache::{KeyCache, LastUsed};
use crate::ratelimit::login::LoginThrottle;
use crate::ratelimit::{LimiterConfig, RateLimiter};
use crate::store::{Backend, Store};
use crate::usage::autorevoke::AutoRevokePolicy;
use crate::usage::{Recorder, UsageRecord};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Session idle expiry: a session unused this long ends.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// Session absolute expiry: no session lives longer, however active.
pub const SESSION_ABSOLUTE_MS: i64 = 7 * 24 * 3600 * 1000;

/// What the running application needs to know, as plain values. Built from
/// the serve flags at start-up (`config.rs`), so nothing below the command
/// line depends on clap. No `Debug`: the notify webhook and Redis URLs may
/// carry credentials.
#[derive(Clone)]
pub struct Settings {
    /// `--public-url`: links, problem `type` URLs, `Secure` cookies.
    pub public_url: Option<String>,
    /// `--trusted-proxy`: whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub limiter: LimiterConfig,
    /// The public listener's limits, before they are fitted to the open-file limit.
    pub listener: crate::server::Limits,
    pub metrics_listen: Option<SocketAddr>,
    pub notify_webhook_url: Option<String>,
    pub github_secret_scanning_keys_url: String,
    pub usage: UsageSettings,
    /// `--webhooks-deliver`: this node runs the delivery worker.
    pub webhooks_deliver: bool,
    pub webhooks: crate::webhooks::WebhooksConfig,
}

/// The usage pipeline's settings.
#[derive(Debug, Clone)]
pub struct UsageSettings {
    /// Days to keep usage records and rollups.
    pub retention_days: u32,
    pub spill_dir: PathBuf,
    pub spill_max_bytes: u64,
    pub auto_revoke: AutoRevokePolicy,
}

impl Settings {
    /// Whether cookies must be `Secure`.
    pub fn https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }

    /// `--public-url` without a trailing `/`, or empty (then problem `type`
    /// URLs and links are relative to the server).
    pub fn base_url(&self) -> String {
        self.public_url.as_deref().map(|u| u.trim_end_matches('/').to_string()).unwrap_or_default()
    }
}

/// Shared state of a running keyward.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub settings: Settings,
    pub keys: KeyCache,
    pub limiter: RateLimiter,
    pub logins: LoginThrottle,
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
    pub(crate) usage_rx: mpsc::Receiver<UsageRecord>,
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
    pub async fn new(store: Store, settings: impl Into<Settings>) -> anyhow::Result<(AppState, Background)> {
        let settings = settings.into();
        if let Some(url) = &settings.notify_webhook_url {
            crate::usage::notify::parse_webhook_url(url)?;
        }
        let cache_enabled = store.backend() == Backend::Sqlite;
        let (usage, usage_rx) = Recorder::new(USAGE_CHANNEL_CAPACITY);
        let limiter = RateLimiter::connect(&settings.limiter).await?;
        let logins = LoginThrottle::new(limiter.redis().cloned(), &settings.limiter.redis_prefix);
        let webhooks = Arc::new(crate::webhooks::Webhooks::new(&settings.webhooks)?);
        let notifier = Arc::new(crate::usage::notify::Notifier::new(
            store.clone(),
            settings.notify_webhook_url.as_deref(),
            crate::usage::notify::Retry::default(),
            Arc::clone(usage.metrics()),
        )?);
        let leaks = crate::leaked::Leaks::new(
            settings.github_secret_scanning_keys_url.clone(),
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
            settings,
        }));
        Ok((state, Background { usage_rx }))
    }
}
