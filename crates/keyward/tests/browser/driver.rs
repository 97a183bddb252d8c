//! A headless Chromium driven through a chromedriver this test starts (on a
//! free port) and stops (Drop), plus polling helpers with deadlines.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long any single condition may take on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Fails the test when this machine has no Chromium/chromedriver. The
/// browser tests are `#[ignore = "needs chromium and chromedriver"]`, so a
/// plain `cargo test` says they did not run; `.ci/run` installs both and runs
/// them with `--include-ignored`, where a missing browser is a failure, not
/// a silent pass.
pub fn require_installed() {
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
    );
}

/// A running chromedriver. Dropping it ends the browser session (if still
/// open) and kills chromedriver's process group (chromedriver, Chromium).
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Driver {
    async fn start() -> Driver {
        let mut last_err = String::new();
        // The port is free when picked; another process could still take it
        // before chromedriver binds, so a failed start gets another port.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("spawn chromedriver");
            let mut driver = Driver { child, port, session: None };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(e) => last_err = e,
            }
        }
        panic!("chromedriver did not start: {last_err}");
    }

    /// Polls `GET /status` until chromedriver says it is ready.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        let url = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited: {status}"));
            }
            if let Ok(res) = http.get(&url).send().await {
                if let Ok(v) = res.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!("no ready /status on port {} within {DEADLINE:?}", self.port));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `DELETE /session/{id}` without a runtime (Drop may run while panicking).
    fn delete_session_blocking(&self, id: &str) {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
        let req = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_ok() {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            self.delete_session_blocking(&id);
        }
        let pgid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Anything Chromium left behind is in chromedriver's process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A browser session: Chromium (headless, fresh profile) behind its own chromedriver.
pub struct Browser {
    pub c: Client,
    driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(width: u32, height: u32) -> Browser {
        let driver = Driver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("new WebDriver session");
        let mut b = Browser { c, driver, _profile: profile };
        b.driver.session = b.c.session_id().await.unwrap();
        b
    }

    /// Ends the session (Chromium quits); Drop then stops chromedriver.
    pub async fn close(mut self) {
        if self.c.clone().close().await.is_ok() {
            self.driver.session = None;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.c.goto(url).await.unwrap();
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.c.find_all(Locator::Css(css)).await.unwrap().is_empty()
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.c.execute(script, args).await.unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Polls until `css` matches a displayed element.
    pub async fn visible(&self, css: &str) -> fantoccini::elements::Element {
        let what = format!("{css} to be visible");
        self.until(&what, || async {
            for e in self.c.find_all(Locator::Css(css)).await.ok()? {
                if e.is_displayed().await.unwrap_or(false) {
                    return Some(e);
                }
            }
            None
        })
        .await
    }

    /// Polls until the page's path is `path`.
    pub async fn at_path(&self, path: &str) {
        let what = format!("the browser to be at {path}");
        self.until(&what, || async { (self.c.current_url().await.ok()?.path() == path).then_some(()) }).await
    }

    /// Polls `f` until it returns `Some`, for at most [`DEADLINE`].
    pub async fn until<T, F, Fut>(&self, what: &str, f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        match poll(DEADLINE, f).await {
            Some(v) => v,
            None => {
                let url = self.c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                panic!("timed out after {DEADLINE:?} waiting for {what} (at {url})");
            }
        }
    }

    /// The `id` (or tag, when it has none) of the focused element, and
    /// whether it is inside `container` (a CSS selector).
    pub async fn focus_in(&self, container: &str) -> (String, bool) {
        let v = self
            .js(
                "var a = document.activeElement; var c = document.querySelector(arguments[0]);
                 return [a ? (a.id || a.tagName.toLowerCase()) : '', !!(a && c && c.contains(a))];",
                vec![json!(container)],
            )
            .await;
        (v[0].as_str().unwrap_or_default().to_string(), v[1].as_bool().unwrap_or(false))
    }

    /// Presses keys on whatever has focus, as a user at the keyboard does
    /// (WebDriver actions, not element send-keys, which would move focus).
    pub async fn press(&self, keys: &str) {
        let mut seq = KeyActions::new("keyboard".to_string());
        for ch in keys.chars() {
            seq = seq.then(KeyAction::Down { value: ch }).then(KeyAction::Up { value: ch });
        }
        self.c.perform_actions(seq).await.unwrap();
    }

    /// Shift+Tab on whatever has focus.
    pub async fn shift_tab(&self) {
        let (shift, tab) = (char::from(fantoccini::key::Key::Shift), char::from(fantoccini::key::Key::Tab));
        let seq = KeyActions::new("keyboard".to_string())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        self.c.perform_actions(seq).await.unwrap();
    }

    /// Presses Tab until the focused element matches `css` (at most `max` times).
    pub async fn tab_to(&self, css: &str, max: usize) {
        for _ in 0..max {
            let hit = self
                .js(
                    "return !!(document.activeElement && document.activeElement.matches(arguments[0]));",
                    vec![json!(css)],
                )
                .await;
            if hit == json!(true) {
                return;
            }
            self.press(&fantoccini::key::Key::Tab.to_string()).await;
        }
        let (focused, _) = self.focus_in("body").await;
        panic!("{css} not reached with {max} Tab presses (focus on {focused})");
    }

    /// A Chrome DevTools Protocol command through chromedriver's
    /// `goog/cdp/execute` extension.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let id = self.driver.session.as_deref().expect("an open session");
        let url = format!("http://127.0.0.1:{}/session/{id}/goog/cdp/execute", self.driver.port);
        let res = reqwest::Client::new().post(url).json(&json!({ "cmd": cmd, "params": params })).send().await.unwrap();
        assert!(res.status().is_success(), "CDP {cmd}: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn screenshot(&self, path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }
}

/// Polls `f` every 50 ms until it returns `Some`, or `None` after `limit`.
pub async fn poll<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
