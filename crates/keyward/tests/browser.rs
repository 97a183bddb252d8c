//! The API Keys page in a real headless Chromium (issue 7): a user signs in,
//! generates, uses, restricts and revokes a key with the mouse or only the
//! keyboard, and the page's other states; its Webhooks section (issue 20) is
//! in `browser/hooks.rs`. Each test starts its own keyward
//! (SQLite), chromedriver and browser.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages
//! `chromium` and `chromium-driver`). Every test is `#[ignore = "needs
//! chromium and chromedriver"]`: `cargo test` lists them as ignored, and
//! `cargo test -p keyward --test browser -- --include-ignored` runs them (and
//! fails without a browser). Screenshots go to `target/screenshots/` on
//! every run.
// Test fixtures and measurements: small counts and durations, times after
// 1970; the casts cannot lose them, and `TryFrom` would only add noise.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

#[path = "browser/docs.rs"]
mod docs;
#[path = "browser/driver.rs"]
mod driver;
#[path = "browser/hooks.rs"]
mod hooks;

use driver::Browser;
use fantoccini::key::Key;
use keyward_core::{Plan, Role};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::PathBuf;

// The integration suite's helpers: the real keyward (`TestApp`, always on
// SQLite here: `.sqlite()`), admin-API sessions and keys for set-up steps.
#[path = "api/helpers.rs"]
mod helpers;
use helpers::{AppWithAdmin, NewKey, TestApp, PASSWORD};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 1600;
const MASK_PREFIX: &str = "ue_live_••••••••";

/// `target/screenshots/` (the workspace's target dir, wherever it is).
fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().expect("CARGO_TARGET_TMPDIR is target/tmp").join("screenshots")
}

/// Signs in through the login form with the mouse; ends on the API Keys page.
async fn login(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&app.url("/login")).await;
    b.visible("#login-email").await.send_keys(email).await.unwrap();
    b.find("#login-password").await.send_keys(PASSWORD).await.unwrap();
    b.find("#login-submit").await.click().await.unwrap();
    b.at_path("/settings/api-keys").await;
    b.visible("#main").await;
}

/// `value` of the secret field and whether the secret is anywhere in the
/// live DOM (markup or any input's value).
async fn secret_state(b: &Browser, secret: &str) -> (String, bool) {
    let v = b
        .js(
            "var s = arguments[0];
             var inDom = document.documentElement.outerHTML.indexOf(s) >= 0 ||
               Array.prototype.some.call(document.querySelectorAll('input, textarea'), function (i) { return i.value.indexOf(s) >= 0; });
             var f = document.getElementById('new-key-secret');
             return [f ? f.value : '', inDom];",
            vec![json!(secret)],
        )
        .await;
    (v[0].as_str().unwrap_or_default().to_string(), v[1].as_bool().unwrap())
}

async fn dialog_open(b: &Browser, id: &str) -> bool {
    b.js("var d = document.getElementById(arguments[0]); return !!(d && d.open);", vec![json!(id)]).await == json!(true)
}

/// Waits (as `what`) until the dialog with id `dialog` is open and the
/// element with id `focused` inside it has focus.
async fn until_dialog_focus(b: &Browser, what: &str, dialog: &str, focused: &str) {
    let container = format!("#{dialog}");
    b.until(what, || async {
        let (id, inside) = b.focus_in(&container).await;
        (dialog_open(b, dialog).await && inside && id == focused).then_some(())
    })
    .await;
}

/// Reloads the page until `#usage-24h-total` reaches `at_least` and the
/// key's "Last used" is filled in (both are written asynchronously: the
/// usage log in batches, last-used times every few seconds).
async fn reload_until_used(b: &Browser, at_least: u64) -> u64 {
    b.until(&format!("#usage-24h-total >= {at_least} and a last-used time"), || async {
        b.c.refresh().await.ok()?;
        let text = b.c.find(fantoccini::Locator::Css("#usage-24h-total")).await.ok()?.text().await.ok()?;
        let n: u64 = text.replace(',', "").trim().parse().ok()?;
        let used = b.c.find(fantoccini::Locator::Css("tr.key-row td.cell-used")).await.ok()?.text().await.ok()?;
        (n >= at_least && used != "Never").then_some(n)
    })
    .await
}

/// An admin-API session for set-up steps that are not what a test is about.
async fn admin_session(app: &TestApp, email: &str) -> helpers::Session {
    helpers::sign_in(&app.http, &app.base, email, PASSWORD).await
}

/// A keyward with a workspace on `plan` and its admin (not signed in yet),
/// and a browser.
struct Scene {
    app: TestApp,
    ws: String,
    email: String,
    b: Browser,
}

async fn scene(plan: Plan) -> Scene {
    driver::require_installed();
    let AppWithAdmin { app, workspace_id: ws, admin } =
        TestApp::builder().sqlite().plan(plan).with_admin().spawn().await;
    let b = Browser::start(WIDTH, HEIGHT).await;
    Scene { app, ws, email: admin.email, b }
}

/// A few `/v1` calls of different outcomes, so the usage section has
/// something to show; returns how many were made.
async fn some_traffic(app: &TestApp, secret: &str) -> u64 {
    let mut n = 0;
    for (path, want) in [
        ("/v1/me", StatusCode::OK),
        ("/v1/studies", StatusCode::OK),
        ("/v1/transcripts", StatusCode::OK),
        ("/v1/studies/st_doesnotexist", StatusCode::NOT_FOUND),
    ] {
        let (s, v) = app.v1_get(path, secret).await;
        assert_eq!(s, want, "{path}: {v}");
        n += 1;
    }
    for body in [json!({ "name": "Onboarding study", "description": "Week 1 interviews" }), json!({ "name": "" })] {
        let res = app.http.post(app.url("/v1/studies")).bearer_auth(secret).json(&body).send().await.unwrap();
        assert!(matches!(res.status().as_u16(), 201 | 422), "POST /v1/studies: {}", res.status());
        n += 1;
    }
    n
}

/// A screenshot of the whole page (not just the viewport) at `width` CSS
/// px. The window is sized first; headless Chromium may refuse narrow
/// windows, and the window's height includes its frame, so the viewport is
/// then set exactly through chromedriver's CDP bridge
/// (Emulation.setDeviceMetricsOverride), and cleared afterwards.
async fn full_page_screenshot(b: &Browser, width: u32, path: &std::path::Path) {
    b.c.set_window_size(width, 900).await.unwrap();
    let metrics =
        |height: u64| json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 });
    b.cdp("Emulation.setDeviceMetricsOverride", metrics(900)).await;
    // Grow the viewport to the document's height until both agree.
    b.until(&format!("a {width} px viewport as tall as the page"), || async {
        let v = b
            .js("return [window.innerWidth, window.innerHeight, document.documentElement.scrollHeight];", vec![])
            .await;
        let (w, h, doc) = (v[0].as_u64()?, v[1].as_u64()?, v[2].as_u64()?.min(8000));
        if w == u64::from(width) && h == doc {
            return Some(());
        }
        b.cdp("Emulation.setDeviceMetricsOverride", metrics(doc)).await;
        None
    })
    .await;
    let overflow = b.js("return document.documentElement.scrollWidth - window.innerWidth;", vec![]).await;
    b.screenshot(path).await;
    b.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
    b.c.set_window_size(WIDTH, HEIGHT).await.unwrap();
    assert!(overflow.as_i64().unwrap_or(0) <= 0, "the page scrolls sideways at {width} px by {overflow} px");
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn generate_use_and_revoke_a_key_with_the_mouse() {
    let Scene { app, email, b, .. } = scene(Plan::Pro).await;
    login(&b, &app, &email).await;
    assert!(b.exists("tr.empty-row").await, "a new workspace shows the empty state");

    // Generate: the dialog asks for a name, then shows the secret once.
    b.visible("#generate-key").await.click().await.unwrap();
    let name = "Zapier — onboarding study";
    b.visible("#key-name").await.send_keys(name).await.unwrap();
    b.find("#create-key-submit").await.click().await.unwrap();
    let secret = b
        .until("the new key in #new-key-secret", || async {
            let v = b.c.find(fantoccini::Locator::Css("#new-key-secret")).await.ok()?.prop("value").await.ok()??;
            v.starts_with("ue_live_").then_some(v)
        })
        .await;
    assert!(b.visible("#new-key-secret").await.is_displayed().await.unwrap());
    let last4 = &secret[secret.len() - 4..];

    // All 46 characters show.
    let shown = b.js("var t = document.getElementById('new-key-secret'); return t.scrollWidth <= t.clientWidth && t.scrollHeight <= t.clientHeight;", vec![]).await;
    assert_eq!(shown, json!(true), "the whole key is visible");
    // Closing before copying asks first; closing again closes and wipes the secret.
    b.find("#dialog-close").await.click().await.unwrap();
    b.until("a warning that the key was not copied", || async {
        let status = b.c.find(fantoccini::Locator::Css("#copy-status")).await.ok()?.text().await.ok()?;
        (status.contains("not copied") && dialog_open(&b, "generate-dialog").await).then_some(())
    })
    .await;
    assert_eq!(secret_state(&b, &secret).await.0, secret, "the secret is still there");
    b.find("#dialog-close").await.click().await.unwrap();
    b.until("the dialog to close and forget the secret", || async {
        let (value, in_dom) = secret_state(&b, &secret).await;
        (!dialog_open(&b, "generate-dialog").await && value.is_empty() && !in_dom).then_some(())
    })
    .await;
    assert!(!b.c.source().await.unwrap().contains(&secret));

    // The key works.
    let (s, me) = app.v1_get("/v1/me", &secret).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["key"]["name"], name);
    let calls = 1 + some_traffic(&app, &secret).await;

    // After a reload the usage shows up, and the key is masked.
    let total = reload_until_used(&b, calls).await;
    assert_eq!(total, calls);
    let row = b.visible("tr.key-row").await;
    assert_eq!(row.attr("data-status").await.unwrap().as_deref(), Some("active"));
    let masked = b.find("tr.key-row code.masked").await.text().await.unwrap();
    assert_eq!(masked, format!("{MASK_PREFIX}{last4}"));
    assert_eq!(b.find("tr.key-row .key-name").await.text().await.unwrap(), name);
    assert!(b.find("tr.key-row td.cell-used").await.text().await.unwrap().contains("127.0.0.1"));
    let source = b.c.source().await.unwrap();
    assert!(!source.contains(&secret), "the secret is in the page source");
    assert!(!source.contains(&secret["ue_live_".len()..]), "the secret's body is in the page source");
    assert!(b.find("#usage-recent").await.text().await.unwrap().contains("/v1/me"));

    // Screenshots: the whole page at desktop width, then at 375 px.
    let dir = screenshot_dir();
    full_page_screenshot(&b, WIDTH, &dir.join("api-keys.png")).await;
    full_page_screenshot(&b, 375, &dir.join("api-keys-375.png")).await;

    // Revoke with the trash icon and the confirm button: the row changes in
    // place (no navigation), and the key stops working at once.
    b.js("window.__samePage = 'yes';", vec![]).await;
    b.visible("button.revoke-key").await.click().await.unwrap();
    b.visible("#confirm-revoke").await;
    assert!(b.find("#revoke-key-name").await.text().await.unwrap().contains(name));
    b.find("#confirm-revoke").await.click().await.unwrap();
    b.until("the row to show the key revoked", || async {
        let row = b.c.find(fantoccini::Locator::Css("tr.key-row[data-status=revoked]")).await.ok()?;
        let status = row.find(fantoccini::Locator::Css("td.key-status")).await.ok()?.text().await.ok()?;
        (status.contains("Revoked") && !dialog_open(&b, "revoke-dialog").await).then_some(())
    })
    .await;
    assert_eq!(b.js("return window.__samePage;", vec![]).await, json!("yes"), "revoking reloaded the page");
    assert!(!b.exists("tr.key-row button.revoke-key").await, "a revoked key still has a trash icon");
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["code"], "api_key_revoked");
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn generate_a_key_with_the_keyboard_only() {
    let Scene { app, email, b, .. } = scene(Plan::Starter).await;
    let (tab, enter, escape) = (Key::Tab.to_string(), Key::Enter.to_string(), Key::Escape.to_string());

    // Sign in: Tab to the fields, type, Enter submits.
    b.goto(&app.url("/login")).await;
    b.visible("#login-email").await;
    b.tab_to("#login-email", 10).await;
    b.press(&email).await;
    b.press(&tab).await;
    b.tab_to("#login-password", 3).await;
    b.press(PASSWORD).await;
    b.press(&enter).await;
    b.at_path("/settings/api-keys").await;
    b.visible("#generate-key").await;

    // Generate: Tab to the button, Enter opens the dialog with focus on the name.
    b.tab_to("#generate-key", 40).await;
    b.press(&enter).await;
    until_dialog_focus(&b, "focus on #key-name in the open dialog", "generate-dialog", "key-name").await;
    let name = "CI export 2025-06";
    b.press(name).await;
    b.press(&enter).await;
    let secret = b
        .until("the new key, focused", || async {
            let v = b.c.find(fantoccini::Locator::Css("#new-key-secret")).await.ok()?.prop("value").await.ok()??;
            let (id, _) = b.focus_in("#generate-dialog").await;
            (v.starts_with("ue_live_") && id == "new-key-secret").then_some(v)
        })
        .await;

    // Focus stays inside the modal dialog while it is open: Tab past the
    // last control comes back to the first, Shift+Tab goes the other way.
    let mut seen = vec!["new-key-secret".to_string()];
    for i in 0..4 {
        b.press(&tab).await;
        let (id, inside) = b.focus_in("#generate-dialog").await;
        assert!(inside, "Tab #{} moved focus out of the open dialog (to {id})", i + 1);
        seen.push(id);
    }
    assert_eq!(seen, ["new-key-secret", "copy-key", "dialog-done", "dialog-close", "new-key-secret"]);
    b.shift_tab().await;
    let (id, inside) = b.focus_in("#generate-dialog").await;
    assert!(inside && id == "dialog-close", "Shift+Tab from the secret went to {id}");
    b.shift_tab().await;
    let (id, inside) = b.focus_in("#generate-dialog").await;
    assert!(inside && id == "dialog-done", "Shift+Tab from the first control went to {id}");

    // Escape first warns that the key was not copied (focus on Copy); a
    // second Escape closes it, wipes the secret and returns focus to the button.
    b.press(&escape).await;
    until_dialog_focus(&b, "Escape to warn and focus #copy-key", "generate-dialog", "copy-key").await;
    b.press(&escape).await;
    b.until("Escape to close the dialog, wipe the secret, focus #generate-key", || async {
        let (value, in_dom) = secret_state(&b, &secret).await;
        let (id, _) = b.focus_in("body").await;
        (!dialog_open(&b, "generate-dialog").await && value.is_empty() && !in_dom && id == "generate-key").then_some(())
    })
    .await;
    assert!(!b.c.source().await.unwrap().contains(&secret));
    let row_name = b.visible("tr.key-row .key-name").await.text().await.unwrap();
    assert_eq!(row_name, name);
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_member_is_told_only_admins_manage_keys() {
    let Scene { app, ws, b, .. } = scene(Plan::Pro).await;
    let member = app.user(&ws, "member@example.com", Role::Member).await.email;
    login(&b, &app, &member).await;
    let notice = b.visible("#not-admin").await.text().await.unwrap();
    assert!(notice.contains("Only admins can manage API keys"), "{notice}");
    assert!(!b.exists("#keys-table").await, "a member sees the keys table");
    assert!(!b.exists("#generate-key").await, "a member sees Generate");
    assert!(!b.exists("#api-usage").await, "a member sees the usage");
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_free_plan_admin_is_told_keys_need_a_paid_plan() {
    let Scene { app, email, b, .. } = scene(Plan::Free).await;
    login(&b, &app, &email).await;
    let notice = b.visible("#plan-required").await.text().await.unwrap();
    assert!(notice.contains("paid plan"), "{notice}");
    assert!(!b.exists("#generate-key").await, "Generate is offered on the Free plan");
    assert!(!b.exists("#generate-dialog").await);
    assert!(b.exists("#keys-table").await);
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn without_a_session_the_page_sends_you_to_login_and_back() {
    let Scene { app, email, b, .. } = scene(Plan::Pro).await;
    b.goto(&app.url("/settings/api-keys")).await;
    b.at_path("/login").await;
    assert_eq!(b.find("#login-next").await.prop("value").await.unwrap().as_deref(), Some("/settings/api-keys"));
    assert!(!b.exists("#keys-table").await);

    // A wrong password is answered inline, then the right one goes back.
    b.visible("#login-email").await.send_keys(&email).await.unwrap();
    b.find("#login-password").await.send_keys("not the password").await.unwrap();
    b.find("#login-submit").await.click().await.unwrap();
    let err = b.visible("#login-error").await.text().await.unwrap();
    assert!(err.contains("Incorrect email or password"), "{err}");
    b.find("#login-password").await.send_keys(PASSWORD).await.unwrap();
    b.find("#login-submit").await.click().await.unwrap();
    b.at_path("/settings/api-keys").await;
    b.visible("#generate-key").await;
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_ip_allowlist_is_edited_in_its_dialog() {
    let Scene { app, ws, email, b } = scene(Plan::Pro).await;
    let NewKey { secret, .. } = admin_session(&app, &email).await.new_key(&ws, "nightly sync").await;
    login(&b, &app, &email).await;
    assert_eq!(b.find("tr.key-row td.key-ips").await.text().await.unwrap().lines().next(), Some("Any"));

    // A bad entry (host bits set) is answered inline, naming it; the dialog stays.
    b.visible("tr.key-row button.edit-ips").await.click().await.unwrap();
    let input = b.visible("#allowed-ips-input").await;
    input.send_keys("203.0.113.7\n10.0.0.1/8").await.unwrap();
    b.find("#ips-save").await.click().await.unwrap();
    let errors = b.visible("#allowed-ips-errors").await.text().await.unwrap();
    assert!(errors.contains("10.0.0.1/8"), "{errors}");
    assert!(errors.contains("Line 2"), "{errors}");
    assert!(dialog_open(&b, "ips-dialog").await);
    assert_eq!(input.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));

    // A good list is saved and shown, normalised, in the row.
    input.clear().await.unwrap();
    input.send_keys("203.0.113.0/24\n2001:db8::1").await.unwrap();
    b.find("#ips-save").await.click().await.unwrap();
    let ips = b
        .until("the allowlist in the row", || async {
            if dialog_open(&b, "ips-dialog").await {
                return None;
            }
            let t = b.c.find(fantoccini::Locator::Css("tr.key-row td.key-ips")).await.ok()?.text().await.ok()?;
            (t.contains("203.0.113.0/24") && t.contains("2001:db8::1/128")).then_some(t)
        })
        .await;
    assert!(!ips.contains("Any"), "{ips}");

    // The allowlist is in force: this test's 127.0.0.1 is not on it.
    let (s, v) = app.v1_get("/v1/me", &secret).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["code"], "ip_not_allowed");
    b.close().await;
}

/// The workspace's key objects through the admin API.
async fn api_keys(app: &TestApp, email: &str, ws: &str) -> Vec<Value> {
    let (s, v) = admin_session(app, email).await.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["data"].as_array().unwrap().clone()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn rotate_a_key_and_generate_a_read_only_key_with_the_keyboard_only() {
    let Scene { app, ws, email, b } = scene(Plan::Pro).await;
    let NewKey { id: old_id, secret: old_secret } = admin_session(&app, &email).await.new_key(&ws, "Zapier").await;
    let (tab, enter, escape) = (Key::Tab.to_string(), Key::Enter.to_string(), Key::Escape.to_string());
    let (up, down) = (Key::Up.to_string(), Key::Down.to_string());
    login(&b, &app, &email).await;

    // Rotate: Tab to the row's button, Enter opens the dialog on the default grace (24 h).
    b.tab_to(".rotate-key", 80).await;
    b.press(&enter).await;
    b.until("the rotate dialog, focus on the checked grace", || async {
        let (_, inside) = b.focus_in("#rotate-dialog").await;
        let v = b.js("return document.activeElement.value;", vec![]).await;
        (dialog_open(&b, "rotate-dialog").await && inside && v == json!("86400")).then_some(())
    })
    .await;
    // Arrow up: "After 1 hour"; Tab to Rotate, Enter.
    b.press(&up).await;
    b.tab_to("#rotate-submit", 5).await;
    b.press(&enter).await;
    let new_secret = b
        .until("the successor's secret, focused", || async {
            let v =
                b.c.find(fantoccini::Locator::Css("#rotated-key-secret")).await.ok()?.prop("value").await.ok()??;
            let (id, _) = b.focus_in("#rotate-dialog").await;
            (v.starts_with("ue_live_") && id == "rotated-key-secret").then_some(v)
        })
        .await;
    assert_ne!(new_secret, old_secret);
    // The key was not copied: the first Escape asks, the second closes.
    b.press(&escape).await;
    b.until("a warning that the key was not copied", || async {
        let text = b.c.find(fantoccini::Locator::Css("#rotated-copy-status")).await.ok()?.text().await.ok()?;
        (dialog_open(&b, "rotate-dialog").await && text.contains("not copied")).then_some(())
    })
    .await;
    b.press(&escape).await;
    b.until("Escape closes the dialog and wipes the secret", || async {
        let html = b.c.source().await.ok()?;
        (!dialog_open(&b, "rotate-dialog").await && !html.contains(&new_secret)).then_some(())
    })
    .await;
    let keys = api_keys(&app, &email, &ws).await;
    let old = keys.iter().find(|k| k["id"] == old_id.as_str()).unwrap();
    let new = keys.iter().find(|k| k["id"] == old["rolled_to"]).expect("the successor");
    let grace_end =
        keyward_core::api::Timestamp::parse_rfc3339(old["expires_at"].as_str().unwrap()).unwrap().as_millis();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((grace_end - now - 3_600_000).abs() < 120_000, "one hour of grace: {old}");
    assert_eq!(app.v1_get("/v1/me", &old_secret).await.0, StatusCode::OK, "the old key works during the grace");
    assert_eq!(app.v1_get("/v1/me", &new_secret).await.0, StatusCode::OK);
    b.until("the old row shows Rolled and no Rotate", || async {
        let row = b.c.find(fantoccini::Locator::Css(&format!("tr[data-key-id='{old_id}']"))).await.ok()?;
        let text = row.text().await.ok()?;
        (text.contains("Rolled") && !text.contains("Rotate")).then_some(())
    })
    .await;
    assert!(new["name"].as_str().unwrap().starts_with("Zapier (rolled "));

    // Generate a read-only key that expires in 30 days, keyboard only.
    b.tab_to("#generate-key", 80).await;
    b.press(&enter).await;
    b.until("focus on #key-name", || async {
        let (id, inside) = b.focus_in("#generate-dialog").await;
        (inside && id == "key-name").then_some(())
    })
    .await;
    b.press("Reporting (read only)").await;
    b.press(&tab).await;
    b.tab_to("#key-expiry", 3).await;
    b.press(&down).await; // In 7 days
    b.press(&down).await; // In 30 days
    b.tab_to("input[name='access'][value='full']", 5).await;
    b.press(&down).await; // Read only
    b.tab_to("#create-key-submit", 6).await;
    b.press(&enter).await;
    let secret = b
        .until("the new key, focused", || async {
            let v = b.c.find(fantoccini::Locator::Css("#new-key-secret")).await.ok()?.prop("value").await.ok()??;
            v.starts_with("ue_live_").then_some(v)
        })
        .await;
    b.press(&escape).await;
    b.press(&escape).await;
    b.until("the generate dialog closed", || async { (!dialog_open(&b, "generate-dialog").await).then_some(()) }).await;
    let keys = api_keys(&app, &email, &ws).await;
    let ro = keys.iter().find(|k| k["name"] == "Reporting (read only)").expect("the new key");
    assert_eq!(ro["scopes"], json!(["studies:read", "transcripts:read"]));
    assert!(ro["expires_at"].is_string(), "{ro}");
    let res =
        app.http.post(app.url("/v1/studies")).bearer_auth(&secret).json(&json!({ "name": "x" })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a read-only key is refused a POST");
    b.until("the row says Read only", || async {
        let text = b.c.find(fantoccini::Locator::Css("#keys-tbody")).await.ok()?.text().await.ok()?;
        text.contains("Read only").then_some(())
    })
    .await;
    b.screenshot(&screenshot_dir().join("api-keys-lifecycle.png")).await;
    b.close().await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_page_warns_on_duplicate_names_pages_the_audit_log_dismisses_banners_and_fits_375_px() {
    let Scene { app, ws, email, b } = scene(Plan::Pro).await;
    let NewKey { id, secret } = admin_session(&app, &email).await.new_key(&ws, "Zapier").await;
    // 25 audit entries (one page is 20) and an auto-revocation banner.
    for i in 0..24 {
        let cidrs = vec![format!("10.0.0.{i}/32")];
        app.store
            .set_allowed_cidrs(&keyward_core::WorkspaceId::new(&*ws), &keyward_core::KeyId::new(&*id), &cidrs, &email)
            .await
            .unwrap();
    }
    let note = keyward::store::NewNotification {
        workspace_id: &ws,
        at_ms: keyward::store::now_ms(),
        kind: "key.auto_revoked",
        key_id: Some(&id),
        message: "revoked",
    };
    app.store.insert_notification(&note).await.unwrap();
    app.store
        .set_allowed_cidrs(&keyward_core::WorkspaceId::new(&*ws), &keyward_core::KeyId::new(&*id), &[], &email)
        .await
        .unwrap();
    for path in ["/v1/me", "/v1/studies/std_nope", "/v1/no-such-route"] {
        app.v1_get(path, &secret).await;
    }
    login(&b, &app, &email).await;

    // A duplicate name warns but is not refused.
    b.visible("#generate-key").await.click().await.unwrap();
    b.visible("#key-name").await.send_keys("zapier").await.unwrap();
    let warning = b.visible("#key-name-duplicate").await.text().await.unwrap();
    assert!(warning.contains("already named"), "{warning}");
    b.find("#create-key-submit").await.click().await.unwrap();
    b.visible("#copy-key").await.click().await.unwrap();
    b.until("the key to be copied", || async {
        let s = b.c.find(fantoccini::Locator::Css("#copy-status")).await.ok()?.text().await.ok()?;
        (!s.is_empty()).then_some(())
    })
    .await;
    b.find("#dialog-done").await.click().await.unwrap();
    b.until("the dialog to close", || async { (!dialog_open(&b, "generate-dialog").await).then_some(()) }).await;

    // The audit log: 20 rows, then the older ones.
    b.goto(&app.url("/settings/api-keys")).await;
    let rows = || async { b.js("return document.querySelectorAll('#audit-tbody tr').length;", vec![]).await };
    assert_eq!(rows().await, json!(20));
    b.visible("#audit-older").await.click().await.unwrap();
    b.until("the older audit entries", || async { (rows().await == json!(27)).then_some(()) }).await;
    assert!(!b.exists("#audit-older").await, "no more pages");

    // The banner is dismissed for this admin, and stays so after a reload.
    b.visible("button.dismiss-notification").await;
    b.js("document.querySelector('button.dismiss-notification').scrollIntoView({ block: 'center' });", vec![]).await;
    b.find("button.dismiss-notification").await.click().await.unwrap();
    b.until("the banner to go", || async { (!b.exists("button.dismiss-notification").await).then_some(()) }).await;
    b.until("the three requests in the usage section", || async {
        b.c.refresh().await.ok()?;
        let text = b.c.find(fantoccini::Locator::Css("#usage-24h-total")).await.ok()?.text().await.ok()?;
        (text.trim() == "3").then_some(())
    })
    .await;
    assert!(!b.exists("button.dismiss-notification").await, "still dismissed after a reload");
    let recent = b.find("#usage-recent").await.text().await.unwrap();
    assert!(recent.contains("/v1/no-such-route"), "unmatched routes are in the log: {recent}");

    // At 375 px the status and code of recent requests and the errors of
    // top endpoints are inside their cards (nothing hidden to the right).
    b.c.set_window_size(375, 900).await.unwrap();
    b.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 375, "height": 900, "deviceScaleFactor": 1, "mobile": true }),
    )
    .await;
    let br = &b;
    let inside = |sel: &'static str, card: &'static str| async move {
        br.js(
            "var c = document.querySelector(arguments[1]).getBoundingClientRect(); \
             return Array.prototype.every.call(document.querySelectorAll(arguments[0]), function (e) { \
               var r = e.getBoundingClientRect(); return r.right <= c.right + 0.5 && r.left >= c.left - 0.5; });",
            vec![json!(sel), json!(card)],
        )
        .await
    };
    assert_eq!(inside("#usage-recent tbody td:nth-child(2)", "#usage-recent").await, json!(true), "status");
    assert_eq!(inside("#usage-recent tbody td:nth-child(3)", "#usage-recent").await, json!(true), "code");
    assert_eq!(inside("#usage-top-endpoints td:nth-child(4)", "#usage-top-endpoints").await, json!(true), "errors");
    assert_eq!(inside("#audit-log tbody td", "#audit-log").await, json!(true), "audit entries");
    full_page_screenshot(&b, 375, &screenshot_dir().join("api-keys-audit-375.png")).await;
    b.close().await;
}
