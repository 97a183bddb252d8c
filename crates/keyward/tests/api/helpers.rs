//! `TestApp`: the real keyward on a real socket over a fresh store, plus
//! shortcuts to make workspaces, users, sessions and keys.
//!
//! Backends: every test runs on SQLite (a temp dir) by default. With
//! `KEYWARD_TEST_DATABASE_URL` (an admin URL, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`) each test gets a fresh
//! PostgreSQL database (`kw_test_<time>_<random>`, dropped when its last
//! node goes), and with `KEYWARD_TEST_REDIS_URL` (e.g.
//! `redis://127.0.0.1:6379/15`) the rate limiter runs in Redis under a key
//! prefix of the test's own. [`TestApp::spawn_node`] starts another node on
//! the same store and Redis.
#![allow(dead_code)]

use keyward::app;
use keyward::config::{ServeArgs, StoreArgs};
use keyward::state::AppState;
use keyward::store::{Store, StoreLocation};
use keyward_core::{Plan, Role};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running keyward.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub store: Store,
    pub config: ServeArgs,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// The PostgreSQL database of this test (shared by its nodes), if any.
    pub db: Option<Arc<TestDb>>,
    /// The node's Redis limiter, when it has one (health and fallback counters).
    pub redis_limiter: Option<keyward::ratelimit::redis::RedisLimiter>,
    /// The node's counters (usage pipeline, connections).
    pub metrics: Arc<keyward::usage::metrics::UsageMetrics>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A signed-in admin-API client: cookie + CSRF token.
#[derive(Clone)]
pub struct Session {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    pub user_id: String,
    pub email: String,
}

impl Session {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method.clone(), format!("{}{}", self.base, path)).header("cookie", &self.cookie);
        if method == Method::GET {
            rb
        } else {
            rb.header("x-csrf-token", &self.csrf)
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        body(self.request(Method::GET, path).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, v: Value) -> (StatusCode, Value) {
        body(self.request(Method::POST, path).json(&v).send().await.unwrap()).await
    }

    /// `POST path` with the JSON body `v` for something that holds a secret
    /// shown once (a new or rolled key): asserts a 201 that no cache may keep
    /// (`Cache-Control: no-store`) and returns the body.
    pub async fn post_secret(&self, path: &str, v: Value) -> Value {
        let res = self.request(Method::POST, path).json(&v).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["cache-control"], "no-store");
        res.json().await.unwrap()
    }

    pub async fn put(&self, path: &str, v: Value) -> (StatusCode, Value) {
        body(self.request(Method::PUT, path).json(&v).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        body(self.request(Method::DELETE, path).send().await.unwrap()).await
    }

    /// The first key of `ws`'s list once its `field` (a last-used time or
    /// address, which are written in the background) is set; polls for 15 s.
    pub async fn first_key_with(&self, ws: &str, field: &str) -> Value {
        eventually(15, || async {
            let (_, list) = self.get(&format!("/api/workspaces/{ws}/api-keys")).await;
            let k = list["data"][0].clone();
            k[field].is_string().then_some(k)
        })
        .await
    }

    /// The HTML of the API Keys page of `ws`.
    pub async fn page(&self, ws: &str) -> String {
        let res = self.request(Method::GET, &format!("/settings/api-keys?workspace={ws}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    /// Create a key named `name` in `ws`.
    pub async fn new_key(&self, ws: &str, name: &str) -> NewKey {
        let (s, v) = self.post(&format!("/api/workspaces/{ws}/api-keys"), json!({ "name": name })).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        NewKey { id: v["id"].as_str().unwrap().to_string(), secret: v["key"].as_str().unwrap().to_string() }
    }
}

/// Signs in at `base` (`POST /api/session`) as `email`.
pub async fn sign_in(http: &reqwest::Client, base: &str, email: &str, password: &str) -> Session {
    let res = http
        .post(format!("{base}/api/session"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
    let v: Value = res.json().await.unwrap();
    Session {
        http: http.clone(),
        base: base.to_string(),
        cookie,
        csrf: v["csrf_token"].as_str().unwrap().to_string(),
        user_id: v["user"]["id"].as_str().unwrap().to_string(),
        email: email.to_string(),
    }
}

/// Status and JSON body (Null when empty or not JSON).
pub async fn body(res: Response) -> (StatusCode, Value) {
    let s = res.status();
    let text = res.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A key as created: its id and its secret (shown once).
#[derive(Clone, Debug)]
pub struct NewKey {
    pub id: String,
    pub secret: String,
}

/// A workspace with a signed-in admin ([`TestApp::add_admin`]).
pub struct Admin {
    pub workspace_id: String,
    pub admin: Session,
}

/// A workspace with a signed-in admin and one active key named
/// "integration" ([`TestApp::add_admin_with_key`]).
pub struct AdminWithKey {
    pub workspace_id: String,
    pub admin: Session,
    pub key: NewKey,
}

/// What `TestApp::builder().with_admin().spawn()` starts.
pub struct AppWithAdmin {
    pub app: TestApp,
    pub workspace_id: String,
    pub admin: Session,
}

/// What `TestApp::builder().with_key().spawn()` starts.
pub struct AppWithKey {
    pub app: TestApp,
    pub workspace_id: String,
    pub admin: Session,
    pub key: NewKey,
}

/// Which store a [`TestAppBuilder`] starts on.
enum StoreChoice<'a> {
    /// SQLite in a temp dir, or a fresh PostgreSQL database with
    /// `KEYWARD_TEST_DATABASE_URL`.
    FromEnv,
    /// SQLite whatever the environment says.
    Sqlite,
    /// This test's database (shared with other nodes).
    Database(Arc<TestDb>),
    /// Another node of the same deployment: its store, Redis and settings.
    NodeOf(&'a TestApp),
}

/// A change to the settings before the node starts.
type Adjust<'a> = Box<dyn FnOnce(&mut ServeArgs) + 'a>;

/// How a test's keyward starts: `TestApp::builder()`, then any of
/// `.config(..)`, `.sqlite()`, `.database(..)`, `.node_of(..)`, `.plan(..)`,
/// and `.spawn()`, or `.with_admin().spawn()` / `.with_key().spawn()` for
/// a workspace (on `.plan`, pro unless said) with an admin (and a key).
pub struct TestAppBuilder<'a> {
    store: StoreChoice<'a>,
    adjust: Vec<Adjust<'a>>,
    plan: Plan,
}

impl<'a> TestAppBuilder<'a> {
    /// Adjust the settings (after the backend's: it may point the node
    /// elsewhere, e.g. through a [`TcpProxy`]); several calls apply in order.
    pub fn config(mut self, adjust: impl FnOnce(&mut ServeArgs) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// SQLite whatever the environment says, for behaviour only the
    /// embedded store has.
    pub fn sqlite(mut self) -> Self {
        self.store = StoreChoice::Sqlite;
        self
    }

    /// On this PostgreSQL database (made by the test with [`TestDb::create`]).
    pub fn database(mut self, db: Arc<TestDb>) -> Self {
        self.store = StoreChoice::Database(db);
        self
    }

    /// Another node of `other`'s deployment: same store (database or SQLite
    /// file), same Redis and key prefix, same settings, its own listener.
    pub fn node_of(mut self, other: &'a TestApp) -> Self {
        self.store = StoreChoice::NodeOf(other);
        self
    }

    /// Redis (`KEYWARD_TEST_REDIS_URL`, required) reached through `proxy`,
    /// under a key prefix of its own: the test can cut it off.
    pub fn redis_via(self, proxy: &TcpProxy) -> Self {
        let url = redis_url_via(&require_redis(), proxy.addr);
        self.config(move |c| {
            c.redis_url = Some(url);
            c.redis_prefix = format!("kwtest:{}:", ulid::Ulid::new());
        })
    }

    /// The plan of the workspace `.with_admin()`/`.with_key()` make (pro by default).
    pub fn plan(mut self, plan: Plan) -> Self {
        self.plan = plan;
        self
    }

    /// Also make a workspace with a signed-in admin.
    pub fn with_admin(self) -> WithAdminBuilder<'a> {
        WithAdminBuilder(self)
    }

    /// Also make a workspace with a signed-in admin and one active key.
    pub fn with_key(self) -> WithKeyBuilder<'a> {
        WithKeyBuilder(self)
    }

    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let (mut config, db) = match self.store {
            StoreChoice::NodeOf(other) => (other.config.clone(), other.db.clone()),
            StoreChoice::FromEnv => {
                let db = match pg_admin_url() {
                    Some(admin) => Some(TestDb::create(&admin).await),
                    None => None,
                };
                (fresh_config(dir.path(), db.as_deref()), db)
            }
            StoreChoice::Sqlite => (fresh_config(dir.path(), None), None),
            StoreChoice::Database(db) => (fresh_config(dir.path(), Some(&db)), Some(db)),
        };
        config.listen = "127.0.0.1:0".parse().unwrap();
        let (data_dir, db_url) = (config.store.data_dir.clone(), config.store.database_url.clone());
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let mut db = db;
        if config.store.data_dir != data_dir && config.store.database_url == db_url {
            // The test brought a data dir of its own (made with the CLI
            // before the server): that directory is the store.
            config.store.database_url = None;
            db = None;
        }
        TestApp::start(dir, config, db).await
    }
}

/// The settings of a first node on `dir` (and `db` when on PostgreSQL),
/// with Redis under a prefix of its own when `KEYWARD_TEST_REDIS_URL` is set.
fn fresh_config(dir: &Path, db: Option<&TestDb>) -> ServeArgs {
    let mut config =
        ServeArgs::defaults_for(StoreArgs { data_dir: dir.to_path_buf(), database_url: db.map(|d| d.url.clone()) });
    if let Some(url) = redis_test_url() {
        config.redis_url = Some(url);
        config.redis_prefix = format!("kwtest:{}:", ulid::Ulid::new());
    }
    config
}

/// [`TestAppBuilder::with_admin`].
pub struct WithAdminBuilder<'a>(TestAppBuilder<'a>);

impl<'a> WithAdminBuilder<'a> {
    /// Also make a key for the admin's workspace.
    pub fn with_key(self) -> WithKeyBuilder<'a> {
        WithKeyBuilder(self.0)
    }

    pub async fn spawn(self) -> AppWithAdmin {
        let plan = self.0.plan;
        let app = self.0.spawn().await;
        let Admin { workspace_id, admin } = app.add_admin(plan).await;
        AppWithAdmin { app, workspace_id, admin }
    }
}

/// [`TestAppBuilder::with_key`].
pub struct WithKeyBuilder<'a>(TestAppBuilder<'a>);

impl WithKeyBuilder<'_> {
    pub async fn spawn(self) -> AppWithKey {
        let plan = self.0.plan;
        let app = self.0.spawn().await;
        let AdminWithKey { workspace_id, admin, key } = app.add_admin_with_key(plan).await;
        AppWithKey { app, workspace_id, admin, key }
    }
}

impl TestApp {
    /// How to start one: see [`TestAppBuilder`].
    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder { store: StoreChoice::FromEnv, adjust: Vec::new(), plan: Plan::Pro }
    }

    /// keyward on the test backend (SQLite in a temp dir unless the
    /// `KEYWARD_TEST_*` variables say otherwise), defaults everywhere.
    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    /// Another node of `other`'s deployment with the same settings (see
    /// [`TestAppBuilder::node_of`]).
    pub async fn spawn_node(other: &TestApp) -> TestApp {
        Self::builder().node_of(other).spawn().await
    }

    async fn start(dir: tempfile::TempDir, config: ServeArgs, db: Option<Arc<TestDb>>) -> TestApp {
        if let Some(url) = &config.store.database_url {
            register_database(&config.store.data_dir, url, None);
        }
        let loc = config.store.location().unwrap();
        let store = Store::open(&loc).await.unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (state, bg) = AppState::new(store.clone(), config.clone()).await.unwrap();
        let redis_limiter = state.limiter.redis().cloned();
        let metrics = Arc::clone(state.usage.metrics());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app::run(state, bg, listener, async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            store,
            config,
            dir,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            db,
            redis_limiter,
            metrics,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stop gracefully (drain, flush) and wait for it. On PostgreSQL the
    /// database stays (the CLI can still use it, see [`admin_cli`]) until
    /// the test process ends; a later run drops it as stale.
    pub async fn stop(mut self) -> (tempfile::TempDir, ServeArgs) {
        self.stop_inner().await;
        if let Some(db) = self.db.take() {
            register_database(&self.config.store.data_dir, &db.url.clone(), Some(db));
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (dir, self.config.clone())
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    /// Stop, then start again on the same store (a restart).
    pub async fn restart(mut self) -> TestApp {
        self.stop_inner().await;
        let db = self.db.take();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start(dir, self.config.clone(), db).await
    }

    /// Client connections open on the node's listener.
    pub fn open_connections(&self) -> u64 {
        self.metrics.connections_open.load(Ordering::Relaxed)
    }

    /// Connections refused at the node's connection caps.
    pub fn connections_refused(&self) -> u64 {
        self.metrics.connections_refused.load(Ordering::Relaxed)
    }

    /// The `--data-dir` of this node (another node's, for a SQLite [`TestApp::spawn_node`]).
    pub fn data_dir(&self) -> PathBuf {
        self.config.store.data_dir.clone()
    }

    /// `keyward admin ARGS...` against this node's store (`--database-url`
    /// on PostgreSQL, `--data-dir` on SQLite): (exit ok, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        admin_cli(&self.data_dir(), args)
    }

    /// Which backend this node's store is.
    pub fn backend(&self) -> keyward::store::Backend {
        self.store.backend()
    }

    /// The node's Redis limiter health (`None` without `--redis-url`).
    pub fn redis_stats(&self) -> Option<keyward::ratelimit::redis::RedisStats> {
        self.redis_limiter.as_ref().map(|r| r.stats())
    }

    /// The Redis key prefix of this deployment, when it uses Redis.
    pub fn redis_prefix(&self) -> Option<&str> {
        self.config.redis_url.as_ref().map(|_| self.config.redis_prefix.as_str())
    }

    pub fn store_location(&self) -> StoreLocation {
        self.config.store.location().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A `/v1` request with `Authorization: Bearer <key>`.
    pub fn v1(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(key)
    }

    pub async fn v1_get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        body(self.v1(Method::GET, path, key).send().await.unwrap()).await
    }

    /// `POST path` on `/v1` with `key` and the JSON body `v`.
    pub async fn v1_post(&self, path: &str, key: &str, v: Value) -> (StatusCode, Value) {
        body(self.v1(Method::POST, path, key).json(&v).send().await.unwrap()).await
    }

    /// `GET /v1/openapi.json` (no key), asserting a 200 JSON answer: the document.
    pub async fn openapi_doc(&self) -> Value {
        let res = self.http.get(self.url("/v1/openapi.json")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        res.json().await.unwrap()
    }

    pub async fn workspace(&self, plan: Plan) -> String {
        self.store.create_workspace("Acme Research", plan).await.unwrap().id.into_string()
    }

    /// A user with `role` in `ws`, signed in.
    pub async fn user(&self, ws: &str, email: &str, role: Role) -> Session {
        let hash = keyward::password::hash(PASSWORD).unwrap();
        let user = match self.store.user_by_email(email).await.unwrap() {
            Some(u) => u,
            None => self.store.create_user(email, &hash).await.unwrap(),
        };
        self.store.upsert_member(&keyward_core::WorkspaceId::new(ws), &user.id, role).await.unwrap();
        self.login(email, PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        sign_in(&self.http, &self.base, email, password).await
    }

    /// A workspace on `plan` with a signed-in admin.
    pub async fn add_admin(&self, plan: Plan) -> Admin {
        let workspace_id = self.workspace(plan).await;
        let email = format!("admin-{}@example.com", &workspace_id[workspace_id.len() - 8..].to_lowercase());
        let admin = self.user(&workspace_id, &email, Role::Admin).await;
        Admin { workspace_id, admin }
    }

    /// A workspace on `plan` with an admin and one active key ("integration").
    pub async fn add_admin_with_key(&self, plan: Plan) -> AdminWithKey {
        let Admin { workspace_id, admin } = self.add_admin(plan).await;
        let key = admin.new_key(&workspace_id, "integration").await;
        AdminWithKey { workspace_id, admin, key }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if self.db.take().is_some() {
            // This node's hold on the database is gone; the registry keeps
            // the last one alive only for the CLI helpers.
            unregister_database(&self.config.store.data_dir);
        }
    }
}

/// Poll `f` until it returns `Some`, or panic after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {secs}s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Run the real `keyward` binary (built by cargo for this test run).
pub fn keyward_cmd() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
}

/// `keyward admin --data-dir DIR ARGS...`: (exit ok, stdout, stderr).
/// It blocks the calling thread: tests that run it while an in-process
/// server works use a multi-thread runtime, so the server keeps running.
/// When `dir` is the data dir of a node on PostgreSQL, the command gets that
/// node's `--database-url` instead, so the same test runs on either backend.
pub fn admin_cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = keyward_cmd();
    cmd.arg("admin").env_remove("KEYWARD_DATABASE_URL");
    match registered_database(dir) {
        Some(url) => cmd.arg("--database-url").arg(url),
        None => cmd.arg("--data-dir").arg(dir),
    };
    let out = cmd.args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// Backends: PostgreSQL databases and Redis prefixes per test.

/// `KEYWARD_TEST_DATABASE_URL`: where to create a database per test.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("KEYWARD_TEST_DATABASE_URL").ok().filter(|s| !s.trim().is_empty())
}

/// `KEYWARD_TEST_REDIS_URL`: the Redis (best a DB index reserved for tests,
/// e.g. `redis://127.0.0.1:6379/15`) the limiter runs in.
pub fn redis_test_url() -> Option<String> {
    std::env::var("KEYWARD_TEST_REDIS_URL").ok().filter(|s| !s.trim().is_empty())
}

/// What the backend-only tests need, for their `#[ignore = …]` and their
/// failure message when run with `--include-ignored` without it.
pub const NEEDS_PG_AND_REDIS: &str = "needs PostgreSQL and Redis (KEYWARD_TEST_DATABASE_URL, KEYWARD_TEST_REDIS_URL)";

/// `KEYWARD_TEST_DATABASE_URL`, or a failure: the test is
/// `#[ignore = "needs PostgreSQL …"]` and was asked to run anyway.
pub fn require_pg() -> String {
    pg_admin_url()
        .expect("needs PostgreSQL: set KEYWARD_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)")
}

/// `KEYWARD_TEST_REDIS_URL`, or a failure (see [`require_pg`]).
pub fn require_redis() -> String {
    redis_test_url().expect("needs Redis: set KEYWARD_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
}

/// Tests of several nodes need PostgreSQL and Redis; they are ignored by a
/// plain `cargo test` and fail here when run without them.
pub fn require_multinode_backends() {
    assert!(pg_admin_url().is_some() && redis_test_url().is_some(), "{NEEDS_PG_AND_REDIS}");
}

/// A PostgreSQL URL split into what tests change: `scheme://userinfo@` +
/// `host:port` + `/database` + `?query`.
struct PgUrl {
    head: String,
    host_port: String,
    query: String,
}

impl PgUrl {
    fn parse(url: &str) -> PgUrl {
        let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, format!("?{q}")),
            None => (rest, String::new()),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (format!("{u}@"), h.to_string()),
            None => (String::new(), authority.to_string()),
        };
        let host_port = if host_port.contains(':') { host_port } else { format!("{host_port}:5432") };
        PgUrl { head: format!("{scheme}://{userinfo}"), host_port, query }
    }

    fn with(&self, host_port: &str, db: &str) -> String {
        format!("{}{}/{}{}", self.head, host_port, db, self.query)
    }
}

/// A PostgreSQL database of one test (all its nodes share it), dropped
/// (`WITH (FORCE)`) when the last holder lets go.
pub struct TestDb {
    pub name: String,
    /// The URL nodes use.
    pub url: String,
    admin_url: String,
    parsed: PgUrl,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("name", &self.name).finish()
    }
}

static STALE_SWEEP: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Test databases older than this are leftovers of crashed or killed runs.
const STALE_AFTER_SECS: u64 = 6 * 3600;

impl TestDb {
    pub async fn create(admin_url: &str) -> Arc<TestDb> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(admin_url).await.expect("KEYWARD_TEST_DATABASE_URL connects");
        STALE_SWEEP.get_or_init(|| drop_stale_databases(admin_url)).await;
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let name = format!("kw_test_{secs}_{}", ulid::Ulid::new().to_string().to_lowercase());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
        let _ = admin.close().await;
        let parsed = PgUrl::parse(admin_url);
        Arc::new(TestDb { url: parsed.with(&parsed.host_port, &name), name, admin_url: admin_url.to_string(), parsed })
    }

    /// The database's server as `host:port`, resolved (for a [`TcpProxy`]).
    pub async fn server_addr(&self) -> SocketAddr {
        tokio::net::lookup_host(&self.parsed.host_port).await.unwrap().next().unwrap()
    }

    /// Every row of every table, as PostgreSQL's text form (`bytea` as
    /// `\x` + hex): what a copy of the database would reveal.
    pub async fn dump_text(&self) -> String {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        let mut out = String::new();
        for t in tables {
            for r in sqlx::query(&format!("SELECT t::text FROM \"{t}\" t")).fetch_all(&mut conn).await.unwrap() {
                out.push_str(&r.get::<String, _>(0));
                out.push('\n');
            }
        }
        let _ = conn.close().await;
        out
    }

    /// The same database reached through `addr` (a [`TcpProxy`]).
    pub fn url_via(&self, addr: SocketAddr) -> String {
        self.parsed.with(&addr.to_string(), &self.name)
    }
}

async fn drop_stale_databases(admin_url: &str) {
    use sqlx::{Connection, Row};
    let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await else { return };
    let rows = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'kw\\_test\\_%'")
        .fetch_all(&mut admin)
        .await
        .unwrap_or_default();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for r in rows {
        let name: String = r.get(0);
        let born = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok());
        if born.is_some_and(|b| b + STALE_AFTER_SECS < now) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
        }
    }
    let _ = admin.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which must not be blocked on
        // itself: a thread with a runtime of its own does the work.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
                    let _ = admin.close().await;
                }
            })
        });
        let _ = done.join();
    }
}

/// data dir → (database URL, the database kept alive for the CLI helpers).
type Databases = HashMap<PathBuf, (String, Option<Arc<TestDb>>)>;
static DATABASES: std::sync::OnceLock<Mutex<Databases>> = std::sync::OnceLock::new();

fn registry() -> std::sync::MutexGuard<'static, Databases> {
    DATABASES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

fn register_database(dir: &Path, url: &str, db: Option<Arc<TestDb>>) {
    let mut r = registry();
    let entry = r.entry(dir.to_path_buf()).or_insert_with(|| (url.to_string(), None));
    entry.0 = url.to_string();
    if db.is_some() {
        entry.1 = db;
    }
}

fn unregister_database(dir: &Path) {
    // Taken out under the lock, dropped after it (dropping may take a while).
    let gone = registry().remove(dir);
    drop(gone);
}

fn registered_database(dir: &Path) -> Option<String> {
    registry().get(dir).map(|(url, _)| url.clone())
}

/// Delete every Redis key under `prefix` (never `FLUSHDB`: other tests
/// share the Redis DB). Returns how many went.
pub async fn redis_delete_prefix(url: &str, prefix: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    if keys.is_empty() {
        return 0;
    }
    let n: usize = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    n
}

/// `url` (a `redis://` URL) with its `host:port` replaced by `addr`.
pub fn redis_url_via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a redis:// URL");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{userinfo}{addr}{path}")
}

/// The `host:port` of a `redis://` URL, resolved.
pub async fn redis_server_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").expect("a redis:// URL").1;
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:6379") };
    tokio::net::lookup_host(host_port).await.unwrap().next().unwrap()
}

/// A [`TcpProxy`] in front of the test Redis (`KEYWARD_TEST_REDIS_URL`,
/// required), for [`TestAppBuilder::redis_via`].
pub async fn redis_proxy() -> TcpProxy {
    TcpProxy::start(redis_server_addr(&require_redis()).await).await
}

/// Run one command against the test Redis.
pub async fn redis_query<T: redis::FromRedisValue>(url: &str, cmd: &redis::Cmd) -> T {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    cmd.query_async(&mut conn).await.unwrap()
}

// ---------------------------------------------------------------------------
// Faults: a TCP proxy the test can cut and restore.

/// A TCP proxy in front of PostgreSQL or Redis: [`TcpProxy::cut`] drops
/// every open connection and refuses new ones (as a dead server would),
/// [`TcpProxy::restore`] lets them through again.
pub struct TcpProxy {
    pub addr: SocketAddr,
    state: Arc<ProxyState>,
    accept: JoinHandle<()>,
}

struct ProxyState {
    up: AtomicBool,
    conns: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState { up: AtomicBool::new(true), conns: Mutex::new(Vec::new()) });
        let st = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                let mut conns = st.conns.lock().unwrap_or_else(|e| e.into_inner());
                if !st.up.load(Ordering::Acquire) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.retain(|h| !h.is_finished());
                conns.push(task.abort_handle());
            }
        });
        TcpProxy { addr, state, accept }
    }

    /// The server "goes away": open connections are dropped, new ones closed at once.
    pub fn cut(&self) {
        let mut conns = self.state.conns.lock().unwrap_or_else(|e| e.into_inner());
        self.state.up.store(false, Ordering::Release);
        for h in conns.drain(..) {
            h.abort();
        }
    }

    /// The server is back.
    pub fn restore(&self) {
        self.state.up.store(true, Ordering::Release);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// A `GET /v1/me` usage record answered 200, for writing batches directly.
pub fn usage_record(ws: &str, key: &str, at_ms: i64) -> keyward::usage::UsageRecord {
    keyward::usage::UsageRecord {
        at_ms,
        workspace_id: Arc::from(ws),
        key_id: Arc::from(key),
        method: "GET",
        route: Arc::from("/v1/me"),
        path: "/v1/me".into(),
        status: 200,
        code: None,
        latency_us: 800,
        ip: "127.0.0.1".parse().unwrap(),
    }
}
