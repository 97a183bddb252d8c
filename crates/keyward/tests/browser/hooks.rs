//! The page's *Webhooks* section in a real headless Chromium (SPEC §9,
//! issue 20): an admin subscribes the workspace to `key.created` with the
//! keyboard only, sees the signing secret once, sees the hook listed, gets a
//! signed delivery at a local receiver when a key is created, sees the
//! failing receiver's status code and "failing since" after a reload, and
//! deletes the hook through its confirm dialog.
//!
//! Ignored like every browser test (`needs chromium and chromedriver`);
//! `cargo test -p keyward --test browser -- --include-ignored` runs it.

use super::driver::{poll, require_installed, Browser, DEADLINE};
use super::helpers::{AppWithAdmin, TestApp};
use super::{admin_session, dialog_open, login, screenshot_dir, until_dialog_focus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::{json, Value};

#[path = "../common/webhook_receiver.rs"]
mod webhook_receiver;
use webhook_receiver::{verify, Received, Receiver};

impl Receiver {
    /// Polls until a delivery of `type` announcing `data.id == id` arrived.
    async fn wait_for_event(&self, event: &str, id: &str) -> Received {
        let found = poll(DEADLINE, || async {
            self.got().into_iter().find(|r| {
                let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                v["type"] == event && v["data"]["id"] == id
            })
        })
        .await;
        found.unwrap_or_else(|| panic!("no {event} for {id} within {DEADLINE:?}; got {:?}", self.got()))
    }
}

/// The text of the hook's row, whitespace collapsed (None while absent).
async fn hook_row_text(b: &Browser, id: &str) -> Option<String> {
    let row = b.c.find(Locator::Css(&format!("tr.hook-row[data-hook-id='{id}']"))).await.ok()?;
    Some(row.text().await.ok()?.split_whitespace().collect::<Vec<_>>().join(" "))
}

async fn admin_hooks(app: &TestApp, email: &str, ws: &str) -> Vec<Value> {
    let cookie = admin_session(app, email).await.cookie;
    let res =
        app.http.get(app.url(&format!("/api/workspaces/{ws}/hooks"))).header("cookie", cookie).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    v["data"].as_array().unwrap().clone()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn an_admin_subscribes_a_key_event_hook_sees_its_deliveries_fail_and_deletes_it() {
    require_installed();
    // `--webhooks-allow-private --webhooks-allow-http`: the receiver is on
    // http://127.0.0.1. The default retry schedule (first retry after 5 s)
    // stays: every assertion below is about the first attempt of an event.
    let AppWithAdmin { app, workspace_id: ws, admin } = TestApp::builder()
        .sqlite()
        .config(|c| {
            c.webhooks_allow_private = true;
            c.webhooks_allow_http = true;
        })
        .with_admin()
        .spawn()
        .await;
    let email = admin.email;
    let rx = Receiver::start().await;
    rx.set_status(204);
    let b = Browser::start(super::WIDTH, super::HEIGHT).await;
    let (enter, escape) = (Key::Enter.to_string(), Key::Escape.to_string());
    login(&b, &app, &email).await;
    let empty = b.visible("#hooks-tbody tr.empty-row").await.text().await.unwrap();
    assert!(empty.contains("No webhooks yet"), "{empty}");

    // Keyboard only: Tab to "Add key-event webhook", Enter opens the dialog
    // on the URL field; Escape closes it and focus returns to the button.
    b.tab_to("#add-hook", 80).await;
    b.press(&enter).await;
    until_dialog_focus(&b, "the hook dialog, focus on #hook-url", "hook-dialog", "hook-url").await;
    b.press(&escape).await;
    b.until("Escape to close the dialog, focus back on #add-hook", || async {
        let (id, _) = b.focus_in("body").await;
        (!dialog_open(&b, "hook-dialog").await && id == "add-hook").then_some(())
    })
    .await;

    // Enter again; an empty URL is answered inline, nothing is created.
    b.press(&enter).await;
    b.until("focus on #hook-url", || async {
        let (id, inside) = b.focus_in("#hook-dialog").await;
        (inside && id == "hook-url").then_some(())
    })
    .await;
    b.press(&enter).await;
    let err = b.visible("#hook-url-error").await.text().await.unwrap();
    assert!(err.contains("Enter the URL"), "{err}");
    assert_eq!(b.find("#hook-url").await.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    assert!(admin_hooks(&app, &email, &ws).await.is_empty());

    // The URL carries a token in its path: the page shows only the host.
    let target = format!("http://{}/hooks/keyward-tok-9f3a", rx.addr);
    b.press(&target).await;
    b.tab_to("#hook-event", 3).await;
    let event = b.js("return document.activeElement.value;", vec![]).await;
    assert_eq!(event, json!("key.created"), "key.created is the default event");
    b.tab_to("#create-hook-submit", 4).await;
    b.press(&enter).await;
    let secret = b
        .until("the signing secret, focused", || async {
            let v = b.c.find(Locator::Css("#new-hook-secret")).await.ok()?.prop("value").await.ok()??;
            let (id, _) = b.focus_in("#hook-dialog").await;
            (v.starts_with("whsec_") && id == "new-hook-secret").then_some(v)
        })
        .await;
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24, "{secret}");
    let hooks = admin_hooks(&app, &email, &ws).await;
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let hook_id = hooks[0]["id"].as_str().unwrap().to_string();
    assert_eq!(hooks[0]["target_url"], target.as_str());
    assert!(!Value::Array(hooks).to_string().contains(&secret), "the list never returns the secret");

    // Shown once: Escape closes, wipes it from the DOM, focus returns.
    b.press(&escape).await;
    b.until("the dialog closed, the secret gone, focus on #add-hook", || async {
        let html = b.c.source().await.ok()?;
        let (id, _) = b.focus_in("body").await;
        (!dialog_open(&b, "hook-dialog").await && !html.contains(&secret) && id == "add-hook").then_some(())
    })
    .await;
    assert_eq!(b.find("#new-hook-secret").await.prop("value").await.unwrap().as_deref(), Some(""));

    // Listed (the dialog refreshed the table): host, event, creator, status.
    let row = b.until("the new hook's row", || async { hook_row_text(&b, &hook_id).await }).await;
    let host = rx.addr.to_string();
    assert!(row.contains(&host), "target host: {row}");
    assert!(!row.contains("keyward-tok-9f3a"), "the URL's path is not shown: {row}");
    assert!(row.contains("key.created") && row.contains(&email), "event, created by: {row}");
    assert!(row.contains("Active") && row.contains("Never"), "status, no attempt yet: {row}");
    assert!(!row.contains("Failing since"), "{row}");
    assert_eq!(b.find("#hooks-heading .count").await.text().await.unwrap(), "1");
    assert!(!b.exists("#hooks-tbody tr.empty-row").await);

    // A key generated on the page: the receiver gets a signed key.created
    // whose data is the key object, without the key's secret.
    b.visible("#generate-key").await.click().await.unwrap();
    b.visible("#key-name").await.send_keys("Zapier").await.unwrap();
    b.find("#create-key-submit").await.click().await.unwrap();
    let key_secret = b
        .until("the new key in #new-key-secret", || async {
            let v = b.c.find(Locator::Css("#new-key-secret")).await.ok()?.prop("value").await.ok()??;
            v.starts_with("ue_live_").then_some(v)
        })
        .await;
    let keys = super::api_keys(&app, &email, &ws).await;
    let key_id = keys[0]["id"].as_str().unwrap().to_string();
    let got = rx.wait_for_event("key.created", &key_id).await;
    verify(&secret, &got);
    assert_eq!(got.path, "/hooks/keyward-tok-9f3a");
    assert!(!got.body.contains(&key_secret), "a key event never carries the key's secret");
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["data"]["name"], "Zapier");
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    // Close the generate dialog (the first close warns: not copied).
    b.find("#dialog-close").await.click().await.unwrap();
    b.until("the not-copied warning", || async {
        let s = b.c.find(Locator::Css("#copy-status")).await.ok()?.text().await.ok()?;
        s.contains("not copied").then_some(())
    })
    .await;
    b.find("#dialog-close").await.click().await.unwrap();
    b.until("the generate dialog to close", || async { (!dialog_open(&b, "generate-dialog").await).then_some(()) })
        .await;
    b.until("the delivered attempt on the page", || async {
        b.c.refresh().await.ok()?;
        let row = hook_row_text(&b, &hook_id).await?;
        (row.contains("HTTP 204") && !row.contains("Failing since")).then_some(())
    })
    .await;

    // The receiver starts failing; another key is created: after a reload
    // the row shows the attempt's status code and since when it fails.
    rx.set_status(500);
    let second_id = admin_session(&app, &email).await.new_key(&ws, "nightly sync").await.id;
    let failed = rx.wait_for_event("key.created", &second_id).await;
    verify(&secret, &failed);
    let row = b
        .until("HTTP 500 and Failing since in the row", || async {
            b.c.refresh().await.ok()?;
            let row = hook_row_text(&b, &hook_id).await?;
            (row.contains("HTTP 500") && row.contains("Failing since")).then_some(row)
        })
        .await;
    assert!(row.contains("Active"), "one failed event does not disable the hook: {row}");
    let hooks = admin_hooks(&app, &email, &ws).await;
    assert_eq!(hooks[0]["last_attempt"]["status_code"], 500, "{hooks:?}");
    assert!(hooks[0]["failing_since"].is_string(), "{hooks:?}");
    b.js("document.getElementById('hooks-section').scrollIntoView({ block: 'center' });", vec![]).await;
    b.screenshot(&screenshot_dir().join("api-keys-webhooks-failing.png")).await;

    // Delete: the confirm dialog's Cancel keeps the hook, OK deletes it.
    let delete = format!("tr.hook-row[data-hook-id='{hook_id}'] button.delete-hook");
    let label = b.visible(&delete).await.attr("aria-label").await.unwrap().unwrap_or_default();
    assert_eq!(label, format!("Delete webhook key.created to {host}"));
    b.find(&delete).await.click().await.unwrap();
    let text = b.until("the confirm dialog", || async { b.c.get_alert_text().await.ok() }).await;
    assert!(text.contains("Delete this webhook?"), "{text}");
    b.c.dismiss_alert().await.unwrap();
    assert_eq!(admin_hooks(&app, &email, &ws).await.len(), 1, "Cancel deletes nothing");
    assert!(hook_row_text(&b, &hook_id).await.is_some());
    b.find(&delete).await.click().await.unwrap();
    b.until("the confirm dialog", || async { b.c.get_alert_text().await.ok() }).await;
    b.c.accept_alert().await.unwrap();
    b.until("the row to disappear and the empty state to return", || async {
        let gone = hook_row_text(&b, &hook_id).await.is_none();
        let count = b.c.find(Locator::Css("#hooks-heading .count")).await.ok()?.text().await.ok()?;
        (gone && count == "0" && b.exists("#hooks-tbody tr.empty-row").await).then_some(())
    })
    .await;
    assert!(admin_hooks(&app, &email, &ws).await.is_empty());
    b.c.refresh().await.unwrap();
    b.visible("#hooks-tbody tr.empty-row").await;
    assert!(hook_row_text(&b, &hook_id).await.is_none(), "still gone after a reload");
    b.close().await;
}
