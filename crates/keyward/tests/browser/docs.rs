//! The developer docs in a real headless Chromium (SPEC §13): from the
//! settings page's "Quickstart" link to the quickstart, whose "Copy" button
//! copies a sample, and the page at 375 px.
//!
//! Ignored like every browser test (`needs chromium and chromedriver`);
//! `cargo test -p keyward --test browser -- --include-ignored` runs it.

use super::driver::{require_installed, Browser};
use super::helpers::{AppWithAdmin, TestApp, PASSWORD};
use serde_json::json;

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_quickstart_link_of_the_settings_page_leads_to_samples_that_copy() {
    require_installed();
    let AppWithAdmin { app, admin, .. } = TestApp::builder().sqlite().with_admin().spawn().await;
    let email = admin.email;
    let b = Browser::start(1280, 1200).await;

    b.goto(&app.url("/login")).await;
    b.visible("#login-email").await.send_keys(&email).await.unwrap();
    b.find("#login-password").await.send_keys(PASSWORD).await.unwrap();
    b.find("#login-submit").await.click().await.unwrap();
    b.at_path("/settings/api-keys").await;
    let base = b.visible("#api-base-url").await.text().await.unwrap();
    assert_eq!(base, format!("{}/v1", app.base));

    // The help page's words, as links.
    assert_eq!(b.find("#docs-overview").await.text().await.unwrap(), "API Overview");
    assert_eq!(b.find("#docs-rate-limits").await.text().await.unwrap(), "rate limits doc");
    b.visible("#docs-quickstart").await.click().await.unwrap();
    b.at_path("/docs/quickstart").await;
    assert_eq!(b.visible("main h1").await.text().await.unwrap(), "Quickstart");

    // Copy the Python sample: the button confirms, and the clipboard holds it.
    let origin = app.base.clone();
    b.cdp(
        "Browser.grantPermissions",
        json!({ "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] }),
    )
    .await;
    let button = b.visible("button.copy-btn[aria-label='Copy quickstart.py']").await;
    button.click().await.unwrap();
    b.until("the copy button to confirm", || async {
        let t = b.c.find(fantoccini::Locator::Css("button.copy-btn[aria-label='Copy quickstart.py']")).await.ok()?;
        (t.text().await.ok()? == "Copied").then_some(())
    })
    .await;
    let copied =
        b.c.execute_async(
            "var done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, function (e) { done('error: ' + e); });",
            vec![],
        )
        .await
        .unwrap();
    let code = b
        .js(
            "var t = Array.prototype.find.call(document.querySelectorAll('.code-title'), function (e) { return e.textContent === 'quickstart.py'; });
             return t.parentNode.querySelector('pre code').textContent;",
            vec![],
        )
        .await;
    assert_eq!(copied, code, "the clipboard holds the sample");
    assert!(code.as_str().unwrap().contains("KEYWARD_API_KEY"));

    // At 375 px the page does not scroll sideways (code blocks and tables scroll inside).
    b.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": true }),
    )
    .await;
    let overflow = b
        .until("a 375 px viewport", || async {
            let v = b.js("return [window.innerWidth, document.documentElement.scrollWidth];", vec![]).await;
            (v[0].as_i64()? == 375).then(|| v[1].as_i64().unwrap_or(0) - 375)
        })
        .await;
    assert!(overflow <= 0, "the quickstart scrolls sideways at 375 px by {overflow} px");
    b.close().await;
}
