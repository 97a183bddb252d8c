//! The real keyward on a real socket over a fresh SQLite store (a trimmed
//! copy of `tests/api/helpers.rs`: this binary needs no PostgreSQL/Redis).

use keyward::app::{self, AppState};
use keyward::config::{ServeArgs, StoreArgs};
use keyward::store::Store;
use keyward_core::{Plan, Role};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// [`TestApp::spawn`] with `configure` applied to the flags first.
    pub async fn spawn_with(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeArgs::defaults_for(StoreArgs { data_dir: dir.path().to_path_buf(), database_url: None });
        config.listen = "127.0.0.1:0".parse().unwrap();
        configure(&mut config);
        let store = Store::open(&config.store.location().unwrap()).await.unwrap();
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (state, bg) = AppState::new(store.clone(), config).await.unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app::run(state, bg, listener, async {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}"),
            store,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` with `Authorization: Bearer <key>`: status and JSON body.
    pub async fn v1_get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let res = self.http.get(self.url(path)).bearer_auth(key).send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn workspace(&self, name: &str, plan: Plan) -> String {
        self.store.create_workspace(name, plan).await.unwrap().id
    }

    /// A user (password [`PASSWORD`]) with `role` in `ws`; returns the email.
    pub async fn user(&self, ws: &str, email: &str, role: Role) -> String {
        let user = match self.store.user_by_email(email).await.unwrap() {
            Some(u) => u,
            None => self.store.create_user(email, &keyward::password::hash(PASSWORD).unwrap()).await.unwrap(),
        };
        self.store.upsert_member(ws, &user.id, role).await.unwrap();
        email.to_string()
    }

    /// A workspace on `plan` with an admin: (workspace id, admin email).
    pub async fn admin(&self, plan: Plan) -> (String, String) {
        let ws = self.workspace("Acme Research", plan).await;
        let email = format!("admin-{}@example.com", ws[ws.len() - 8..].to_lowercase());
        self.user(&ws, &email, Role::Admin).await;
        (ws, email)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
