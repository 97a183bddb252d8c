//! Storage: the only place in keyward that speaks SQL.
//!
//! One [`Store`] over sqlx's `Any` driver serves both backends: embedded
//! SQLite (the default, one process) and PostgreSQL (several nodes). The SQL
//! is written once in the common dialect (`$n` placeholders, BIGINT unix-ms
//! times, TEXT ids, `ON CONFLICT`, `RETURNING`), each backend has its own
//! migrations under `migrations/{sqlite,postgres}` (links into
//! `migrations/shared` where the SQL is the same), and the few places where
//! the backends differ ask [`Backend`]. Handlers never write SQL; they call the
//! methods in the submodules, and every method that touches tenant data takes
//! the workspace id, so forgetting the tenant does not compile.

mod accounts;
mod audit;
mod hooks;
mod keys;
mod leaked;
mod lifecycle;
mod migrations;
mod notifications;
mod sessions;
mod sql;
mod studies;
mod support;
mod usage;

pub use accounts::*;
pub use audit::*;
pub use hooks::*;
pub use keys::*;
pub use leaked::*;
pub use lifecycle::*;
pub use notifications::*;
pub use sessions::*;
pub use studies::*;
pub use support::*;
pub use usage::*;

use crate::changes::ChangeCounter;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Storage errors. Client-caused ones carry what the API needs to answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// A per-workspace limit; the text is the sentence the client is shown.
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    /// The key is revoked, expired or already rolled (the detail says which).
    #[error("key not active: {0}")]
    KeyNotActive(String),
    #[error("database error")]
    Db(#[source] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    /// Unique-constraint violations become [`StoreError::Conflict`] here, once,
    /// instead of at every call site.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return StoreError::Conflict("unique");
            }
        }
        StoreError::Db(e)
    }
}

impl StoreError {
    /// The database could not be reached or dropped the connection (pool
    /// timeout, I/O error, server shutting down or refusing connections): a
    /// 503, not a 500, and nothing may be authenticated on its account.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => true,
            StoreError::Db(sqlx::Error::Database(d)) => d.code().is_some_and(|c| {
                // PostgreSQL: class 08 connection exception, 57P01..57P03
                // admin/crash shutdown and cannot-connect-now, 53300 too many
                // connections.
                c.starts_with("08") || c.starts_with("57P0") || c == "53300"
            }),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store: a connection pool, the backend it talks to, and the change
/// counter that tells every process sharing an SQLite file that auth-relevant
/// state (keys, plans, overrides, allowlists, memberships) changed.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    changes: Arc<ChangeCounter>,
    /// Wakes this process's webhook worker after a commit that enqueued events.
    webhooks_wake: Arc<tokio::sync::Notify>,
    /// The usage log's dictionaries as this process knows them.
    usage_dict: Arc<usage::UsageDict>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// Where the store lives, from `--data-dir` / `--database-url`.
#[derive(Clone)]
pub struct StoreLocation {
    pub url: String,
    /// The SQLite file, when the store is SQLite.
    pub sqlite_path: Option<PathBuf>,
}

impl std::fmt::Debug for StoreLocation {
    /// Redacts the URL: a PostgreSQL URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreLocation")
            .field("url", &redact_url(&self.url))
            .field("sqlite_path", &self.sqlite_path)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl StoreLocation {
    /// `--database-url` wins over `--data-dir` (SPEC §8).
    pub fn resolve(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(StoreLocation { url: url.to_string(), sqlite_path: None })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
                let path = rest.split('?').next().unwrap_or_default();
                if path.is_empty() || path == ":memory:" {
                    anyhow::bail!("an in-memory SQLite database cannot be shared; give a file path");
                }
                Ok(StoreLocation { url: url.to_string(), sqlite_path: Some(PathBuf::from(path)) })
            }
            Some(other) => {
                anyhow::bail!("unsupported --database-url {:?}: use sqlite://PATH or postgres://…", redact_url(other))
            }
            None => {
                // Nothing is created here: `serve` binds its listener first and
                // [`Store::open`] makes the directory; admin commands never do.
                let path = data_dir.join("keyward.db");
                Ok(StoreLocation { url: format!("sqlite://{}", path.display()), sqlite_path: Some(path) })
            }
        }
    }
}

/// Create `dir` (and missing parents) readable by this user only (0700):
/// the store holds password hashes and session CSRF tokens. An existing
/// directory keeps its mode (the operator chose it).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Create the SQLite file, if missing, as 0600 (SQLite gives its -wal and
/// -shm files the database file's mode).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// How long a request waits for a PostgreSQL connection before it is
/// answered 503 (and `/readyz` fails).
pub const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// An admin command pointed at a place that holds no keyward store (SPEC §8:
/// only `serve` creates one).
#[derive(Debug, thiserror::Error)]
#[error("no keyward store at {0}: check --data-dir / --database-url (only `keyward serve` creates a store)")]
pub struct NoStore(pub String);

impl Store {
    /// Connect (creating the store when there is none: `serve`), apply the
    /// embedded migrations, and map the change counter.
    pub async fn open(loc: &StoreLocation) -> anyhow::Result<Store> {
        Self::connect(loc, true).await
    }

    /// Like [`Store::open`], but only onto a store that exists: a missing
    /// SQLite file, or a database without keyward's migrations table, is
    /// [`NoStore`] and nothing is created (admin commands). Pending
    /// migrations of an existing store are applied.
    pub async fn open_existing(loc: &StoreLocation) -> anyhow::Result<Store> {
        Self::connect(loc, false).await
    }

    async fn connect(loc: &StoreLocation, create: bool) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = match &loc.sqlite_path {
            Some(path) if create => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir)
                        .map_err(|e| anyhow::anyhow!("cannot create data dir {}: {e}", dir.display()))?;
                }
                create_private_file(path)?;
                (Backend::Sqlite, format!("sqlite://{}?mode=rwc", path.display()))
            }
            Some(path) => {
                if !path.is_file() {
                    return Err(NoStore(path.display().to_string()).into());
                }
                (Backend::Sqlite, format!("sqlite://{}?mode=rw", path.display()))
            }
            None => (Backend::Postgres, loc.url.clone()),
        };
        let opts = AnyConnectOptions::from_str(&url)
            .map_err(|e| anyhow::anyhow!("bad database URL {}: {e}", redact_url(&url)))?;
        // SQLite waits for the CLI's short write transactions; PostgreSQL
        // fails fast when the server is gone, so `/v1` answers 503 within
        // seconds instead of hanging (and recovers once it answers again:
        // the pool tests connections before handing them out).
        let acquire_timeout = match backend {
            Backend::Sqlite => Duration::from_secs(5),
            Backend::Postgres => PG_ACQUIRE_TIMEOUT,
        };
        let pool_opts = AnyPoolOptions::new().acquire_timeout(acquire_timeout).test_before_acquire(true);
        let pool = match backend {
            Backend::Sqlite => {
                pool_opts
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL: readers never block the writer. busy_timeout: the CLI
                            // and the server share the file and wait for each other's
                            // short write transactions instead of failing.
                            // Switching to WAL needs an exclusive lock, so only the first
                            // opener of a new file does it; WAL then persists in the file
                            // (a concurrent `PRAGMA journal_mode = WAL` from the CLI while
                            // the server writes would fail with "database is locked").
                            let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await?;
                            if !mode.eq_ignore_ascii_case("wal") {
                                conn.execute("PRAGMA journal_mode = WAL").await?;
                            }
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            // No checkpoint inside a commit: the usage writer would wait
                            // on its fsync and the request path on the full channel. The
                            // server checkpoints in the background instead
                            // ([`Store::checkpoint`]); closing the last connection
                            // checkpoints too (the CLI).
                            conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                            // Statement journals (every multi-row INSERT of the usage
                            // writer inside its transaction keeps one) and the rollups'
                            // GROUP BY sorters in memory, not in temporary files:
                            // a write system call per page was ~9% of the writer's time.
                            conn.execute("PRAGMA temp_store = MEMORY").await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?
            }
            Backend::Postgres => pool_opts.max_connections(16).connect_with(opts).await?,
        };
        if !create && !has_migrations_table(&pool, backend).await? {
            pool.close().await;
            let at = match &loc.sqlite_path {
                Some(path) => path.display().to_string(),
                None => redact_url(&loc.url),
            };
            return Err(NoStore(at).into());
        }
        migrations::run(&pool, backend).await?;
        let changes = match &loc.sqlite_path {
            Some(path) => ChangeCounter::open(&path.with_extension("changes"))?,
            None => ChangeCounter::in_process(),
        };
        Ok(Store {
            pool,
            backend,
            changes: Arc::new(changes),
            webhooks_wake: Arc::default(),
            usage_dict: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The change counter shared by every process using this store (SQLite),
    /// or local to this process (PostgreSQL, where nothing is cached).
    pub fn changes(&self) -> &ChangeCounter {
        &self.changes
    }

    pub(crate) fn usage_dict(&self) -> &usage::UsageDict {
        &self.usage_dict
    }

    /// The pool, for submodules (and only them: no SQL outside `store`).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Copy the SQLite WAL back into the database without blocking writers
    /// (PASSIVE); a no-op on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// `/readyz`: does the database answer?
    pub async fn ping(&self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(tokio::time::timeout(PG_ACQUIRE_TIMEOUT + Duration::from_secs(1), ping).await, Ok(Ok(_)))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether the database holds sqlx's migrations table (a keyward store).
async fn has_migrations_table(pool: &AnyPool, backend: Backend) -> Result<bool> {
    use sqlx::Row;
    let sql = match backend {
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let n: i64 = sqlx::query(sql).fetch_one(pool).await?.try_get("n")?;
    Ok(n > 0)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix milliseconds as the limiters count them: unsigned (a clock before
/// 1970 reads 0).
pub fn unsigned_ms(ms: i64) -> u64 {
    ms.max(0).unsigned_abs()
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A stored integer that must fit `T` (an rpm override, a count): anything
/// else is a corrupt row, never a silent 0 or a wrapped number.
pub(crate) fn stored<T: TryFrom<i64>>(column: &str, v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| corrupt(format!("{column} = {v} is out of range")))
}

/// A stored JSON text; one that does not parse is a corrupt row.
pub(crate) fn stored_json(column: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{column} is not JSON: {e}")))
}
