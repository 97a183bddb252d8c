//! `TestApp`: the real keyward on a real socket over a fresh store, plus
//! shortcuts to make workspaces, users, sessions and keys.
#![allow(dead_code)]

use keyward::app::{self, AppState};
use keyward::config::{ServeArgs, StoreArgs};
use keyward::store::{Store, StoreLocation};
use keyward_core::{Plan, Role};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
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

    pub async fn put(&self, path: &str, v: Value) -> (StatusCode, Value) {
        body(self.request(Method::PUT, path).json(&v).send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        body(self.request(Method::DELETE, path).send().await.unwrap()).await
    }

    /// Create a key; returns (key id, secret).
    pub async fn create_key(&self, ws: &str, name: &str) -> (String, String) {
        let (s, v) = self.post(&format!("/api/workspaces/{ws}/api-keys"), json!({ "name": name })).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        (v["id"].as_str().unwrap().to_string(), v["key"].as_str().unwrap().to_string())
    }
}

/// Status and JSON body (Null when empty or not JSON).
pub async fn body(res: Response) -> (StatusCode, Value) {
    let s = res.status();
    let text = res.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// keyward on SQLite in a temp dir, defaults everywhere.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// keyward with adjusted settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeArgs::defaults_for(StoreArgs { data_dir: dir.path().to_path_buf(), database_url: None });
        config.listen = "127.0.0.1:0".parse().unwrap();
        adjust(&mut config);
        Self::start(dir, config).await
    }

    async fn start(dir: tempfile::TempDir, config: ServeArgs) -> TestApp {
        let loc = config.store.location().unwrap();
        let store = Store::open(&loc).await.unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (state, bg) = AppState::new(store.clone(), config.clone()).await.unwrap();
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
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stop gracefully (drain, flush) and wait for it.
    pub async fn stop(mut self) -> (tempfile::TempDir, ServeArgs) {
        self.stop_inner().await;
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

    /// Stop, then start again on the same data dir (a restart).
    pub async fn restart(self) -> TestApp {
        let (dir, config) = self.stop().await;
        Self::start(dir, config).await
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
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

    pub async fn workspace(&self, plan: Plan) -> String {
        self.store.create_workspace("Acme Research", plan).await.unwrap().id
    }

    /// A user with `role` in `ws`, signed in.
    pub async fn user(&self, ws: &str, email: &str, role: Role) -> Session {
        let hash = keyward::password::hash(PASSWORD).unwrap();
        let user = match self.store.user_by_email(email).await.unwrap() {
            Some(u) => u,
            None => self.store.create_user(email, &hash).await.unwrap(),
        };
        self.store.upsert_member(ws, &user.id, role).await.unwrap();
        self.login(email, PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let res = self
            .http
            .post(self.url("/api/session"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
        let v: Value = res.json().await.unwrap();
        Session {
            http: self.http.clone(),
            base: self.base.clone(),
            cookie,
            csrf: v["csrf_token"].as_str().unwrap().to_string(),
            user_id: v["user"]["id"].as_str().unwrap().to_string(),
            email: email.to_string(),
        }
    }

    /// A workspace on `plan` with a signed-in admin.
    pub async fn admin(&self, plan: Plan) -> (String, Session) {
        let ws = self.workspace(plan).await;
        let email = format!("admin-{}@example.com", &ws[ws.len() - 8..].to_lowercase());
        let s = self.user(&ws, &email, Role::Admin).await;
        (ws, s)
    }

    /// A workspace on `plan` with an admin and one active key: (ws, admin, key id, secret).
    pub async fn with_key(&self, plan: Plan) -> (String, Session, String, String) {
        let (ws, admin) = self.admin(plan).await;
        let (id, secret) = admin.create_key(&ws, "integration").await;
        (ws, admin, id, secret)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
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
pub fn admin_cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = keyward_cmd().arg("admin").arg("--data-dir").arg(dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
