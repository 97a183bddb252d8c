//! Command-line flags and their `KEYWARD_*` environment variables: the one
//! documented place for every setting and its default (README mirrors it).

use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;

/// keyward: API keys for User Evaluation.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of `Serve` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: /v1, the admin API and the API Keys page.
    Serve(ServeArgs),
    /// Operator commands ("support"): workspaces, users, members, keys.
    Admin(crate::cli::AdminArgs),
}

/// Where the store is. `--database-url` wins when both are given.
#[derive(Clone, Args)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite store (created if missing).
    #[arg(long, env = "KEYWARD_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`; overrides --data-dir.
    #[arg(long, env = "KEYWARD_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(crate::store::redact_url))
            .finish()
    }
}

impl StoreArgs {
    pub fn location(&self) -> anyhow::Result<crate::store::StoreLocation> {
        crate::store::StoreLocation::resolve(&self.data_dir, self.database_url.as_deref())
    }
}

/// `keyward serve` settings.
#[derive(Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Redis for rate limits shared by several nodes (`redis://127.0.0.1:6379`).
    #[arg(long, env = "KEYWARD_REDIS_URL")]
    pub redis_url: Option<String>,
    /// While Redis is unreachable, each node limits every key on its own at
    /// this share of the key's limit: 1 = the full limit on every node (a
    /// client spread over N nodes may get up to N times its limit during the
    /// outage); 1/N for N nodes keeps the whole cluster within the limit.
    #[arg(long, env = "KEYWARD_REDIS_FALLBACK_SHARE", default_value_t = 1.0, value_parser = parse_share)]
    pub redis_fallback_share: f64,
    /// Prefix of every key keyward writes to Redis (tests give each run its own).
    #[arg(long, env = "KEYWARD_REDIS_PREFIX", default_value = "keyward:", hide = true)]
    pub redis_prefix: String,
    /// A proxy/load balancer whose X-Forwarded-For is believed (repeatable;
    /// env: comma-separated).
    #[arg(long = "trusted-proxy", env = "KEYWARD_TRUSTED_PROXY", value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<IpNet>,
    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection stays open.
    #[arg(long, env = "KEYWARD_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,
    /// Open client connections at most (lowered to fit the open-file limit);
    /// newer ones get 503 and are closed.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Open connections at most per client IP (IPv6 per /64; trusted
    /// proxies are exempt, the global cap still applies).
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS_PER_IP", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_ip: u64,
    /// On an empty store, create a demo workspace, admin and sample data.
    #[arg(long, env = "KEYWARD_DEMO")]
    pub demo: bool,
    /// The public URL (e.g. `https://keys.example.com`); https makes cookies Secure.
    #[arg(long, env = "KEYWARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Separate address for Prometheus `/metrics` (off when unset).
    #[arg(long, env = "KEYWARD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Where to POST notices of automatic revocations (error rate, leaked
    /// keys) as JSON, retried with backoff.
    #[arg(long, env = "KEYWARD_NOTIFY_WEBHOOK_URL")]
    pub notify_webhook_url: Option<String>,
    /// GitHub's secret scanning public keys (`{"public_keys": [...]}`), which
    /// verify the signed reports of `POST /v1/secret-scanning/github`.
    #[arg(
        long,
        env = "KEYWARD_GITHUB_SECRET_SCANNING_KEYS_URL",
        default_value = "https://api.github.com/meta/public_keys/secret_scanning"
    )]
    pub github_secret_scanning_keys_url: String,
    /// Days to keep usage records and rollups.
    #[arg(long, env = "KEYWARD_USAGE_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub usage_retention_days: u32,
    /// Directory of the usage spill file, which holds usage records while
    /// the store cannot take them (default: `<data-dir>/usage-spill`).
    #[arg(long, env = "KEYWARD_USAGE_SPILL_DIR")]
    pub usage_spill_dir: Option<PathBuf>,
    /// Largest size of the usage spill file in MiB; records past it are dropped (counted, logged).
    #[arg(long, env = "KEYWARD_USAGE_SPILL_MAX_MB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub usage_spill_max_mb: u64,
    /// Auto-revocation: sliding window in seconds.
    #[arg(long, env = "KEYWARD_AUTO_REVOKE_WINDOW_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub auto_revoke_window_secs: u64,
    /// Auto-revocation: minimum 401/422 answers in the window.
    #[arg(long, env = "KEYWARD_AUTO_REVOKE_MIN_ERRORS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub auto_revoke_min_errors: u64,
    /// Auto-revocation: minimum share of 401/422 among the key's requests.
    #[arg(long, env = "KEYWARD_AUTO_REVOKE_MIN_RATIO", default_value_t = 0.5, value_parser = parse_ratio)]
    pub auto_revoke_min_ratio: f64,
    /// Webhooks may target loopback, private, link-local… addresses (tests, on-premises).
    #[arg(long, env = "KEYWARD_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Webhooks may target `http://` URLs besides `https://`.
    #[arg(long, env = "KEYWARD_WEBHOOKS_ALLOW_HTTP")]
    pub webhooks_allow_http: bool,
    /// Delays before each retry of a failed webhook delivery; then it is given up.
    #[arg(long, env = "KEYWARD_WEBHOOKS_RETRY_SCHEDULE", default_value = crate::webhooks::DEFAULT_RETRY_SCHEDULE,
          value_parser = crate::webhooks::parse_retry_schedule)]
    pub webhooks_retry_schedule: crate::webhooks::RetrySchedule,
    /// This node delivers webhooks (`true`, the default). `false`: it only
    /// writes the events, in the transactions that cause them, and another
    /// node sharing the store delivers them (API nodes that keep their CPU
    /// for requests; also how docs/benchmarks.md §7 isolates the request path).
    #[arg(long, env = "KEYWARD_WEBHOOKS_DELIVER", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub webhooks_deliver: bool,
    /// 32 bytes (64 hex digits or base64) that encrypt webhook secrets at
    /// rest. Required on PostgreSQL; SQLite generates `webhooks.key` beside
    /// the database when unset.
    #[arg(long, env = "KEYWARD_WEBHOOKS_SECRET_KEY", hide_env_values = true)]
    pub webhooks_secret_key: Option<String>,
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("store", &self.store)
            .field("listen", &self.listen)
            .field("redis_url", &self.redis_url.as_deref().map(crate::store::redact_url))
            .field("redis_fallback_share", &self.redis_fallback_share)
            .field("redis_prefix", &self.redis_prefix)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("header_read_timeout_secs", &self.header_read_timeout_secs)
            .field("max_connections", &self.max_connections)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("demo", &self.demo)
            .field("public_url", &self.public_url)
            .field("metrics_listen", &self.metrics_listen)
            .field("notify_webhook_url", &self.notify_webhook_url.is_some())
            .field("github_secret_scanning_keys_url", &self.github_secret_scanning_keys_url)
            .field("usage_retention_days", &self.usage_retention_days)
            .field("usage_spill_dir", &self.usage_spill_dir)
            .field("usage_spill_max_mb", &self.usage_spill_max_mb)
            .field("auto_revoke_window_secs", &self.auto_revoke_window_secs)
            .field("auto_revoke_min_errors", &self.auto_revoke_min_errors)
            .field("auto_revoke_min_ratio", &self.auto_revoke_min_ratio)
            .field("webhooks_allow_private", &self.webhooks_allow_private)
            .field("webhooks_allow_http", &self.webhooks_allow_http)
            .field("webhooks_retry_schedule", &self.webhooks_retry_schedule)
            .field("webhooks_deliver", &self.webhooks_deliver)
            .field("webhooks_secret_key", &self.webhooks_secret_key.is_some())
            .finish()
    }
}

impl ServeArgs {
    /// Where the usage spill file lives.
    pub fn usage_spill_dir(&self) -> PathBuf {
        self.usage_spill_dir.clone().unwrap_or_else(|| self.store.data_dir.join("usage-spill"))
    }

    /// Defaults for tests and embedding: every flag at its documented default.
    pub fn defaults_for(store: StoreArgs) -> Self {
        let mut args = ServeArgs::try_parse_from(["serve"]).expect("defaults parse");
        args.store = store;
        args
    }

    /// Whether cookies must be `Secure`.
    pub fn https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

impl ServeArgs {
    fn try_parse_from<I, T>(it: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            args: ServeArgs,
        }
        Wrap::try_parse_from(it).map(|w| w.args)
    }
}

/// A `--trusted-proxies` entry: a CIDR or a single address (trimmed). A pure
/// function, public for the fuzz targets in `fuzz/`.
pub fn parse_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR (e.g. 10.0.0.0/8) or an IP address"))
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1.0 => Ok(r),
        _ => Err(format!("{s:?} is not a share greater than 0 and at most 1 (e.g. 0.5 for two nodes)")),
    }
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{s:?} is not a ratio between 0 and 1")),
    }
}
