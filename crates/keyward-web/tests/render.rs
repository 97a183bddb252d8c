//! Renders every page state with sample data and checks what the browser
//! tests and the strict CSP rely on.
// Test fixtures and measurements: small counts and durations, times after
// 1970; the casts cannot lose them, and `TryFrom` would only add noise.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

mod common;

use keyward_core::api::{UsageReport, WorkspaceMembership};
use keyward_core::{Plan, Role};
use keyward_web::{asset, render_api_keys, render_login, ApiKeysPage, LoginPage, PageState, CSP};

/// The sample admin's page of `current` in `state`, with no hooks, leaks
/// or audit log: tests that need more set those fields over it.
fn sample_page<'a>(
    ws: &'a [WorkspaceMembership],
    current: &'a WorkspaceMembership,
    state: PageState<'a>,
) -> ApiKeysPage<'a> {
    ApiKeysPage {
        user_email: "maria@acme.example",
        csrf_token: "tok-123\"<x>",
        workspaces: ws,
        current,
        now_ms: common::NOW,
        api_base_url: "/v1",
        state,
        hooks: &[],
        leaks: &[],
        audit: None,
    }
}

fn page<'a>(ws: &'a [WorkspaceMembership], current: &'a WorkspaceMembership, state: PageState<'a>) -> String {
    render_api_keys(&sample_page(ws, current, state))
}

fn ready() -> String {
    let ws = common::workspaces();
    let (keys, usage, notes) = (common::keys(), common::usage(), common::notifications());
    page(&ws, &ws[0], PageState::Ready { keys: &keys, usage: &usage, notifications: &notes, key_filter: None })
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// No inline script bodies, no style attributes or elements, no inline
/// event handlers, no external URLs: what `CSP` enforces in the browser.
fn assert_csp_clean(html: &str) {
    assert!(!html.contains("style=\""), "style attribute");
    assert!(!html.contains("<style"), "style element");
    let lower = html.to_ascii_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let tag_end = i + lower[i..].find('>').expect("script tag end");
        assert!(lower[i..tag_end].contains(" src=\"/assets/"), "script without a local src: {}", &html[i..tag_end]);
        assert!(lower[tag_end + 1..].starts_with("</script>"), "inline script body");
    }
    for handler in [" onclick=", " onload=", " onerror=", " onsubmit=", " onchange=", " oninput=", "javascript:"] {
        assert!(!lower.contains(handler), "inline handler {handler}");
    }
    assert!(only_svg_ns(&lower), "external http URL");
    assert!(!lower.contains("https://"), "external https URL");
}

fn only_svg_ns(lower: &str) -> bool {
    lower.match_indices("http://").all(|(i, _)| lower[i..].starts_with("http://www.w3.org/2000/svg"))
}

#[test]
fn ready_page_has_everything_the_browser_test_needs() {
    let html = ready();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
    assert_ids(
        &html,
        &[
            "generate-key",
            "generate-dialog",
            "key-name",
            "create-key-submit",
            "dialog-close",
            "new-key-secret",
            "copy-key",
            "revoke-dialog",
            "confirm-revoke",
            "ips-dialog",
            "allowed-ips-input",
            "keys-table",
            "keys-tbody",
            "api-usage",
            "usage-24h-total",
            "usage-key-filter",
            "logout",
            "workspace-select",
        ],
    );
    // Breadcrumb, user, CSRF meta (escaped), intro and dialog copy.
    assert_contains(
        &html,
        &[
            "<li>Settings</li><li>Other</li><li aria-current=\"page\">API Keys</li>",
            "maria@acme.example",
            "<meta name=\"csrf-token\" content=\"tok-123&quot;&lt;x&gt;\">",
        ],
    );
    assert!(
        html.contains("act on behalf of your whole workspace")
            || html.contains("acts on behalf of your whole workspace")
    );
    assert_contains(
        &html,
        &[
            "secret manager",
            "Rotate keys periodically",
            "This key will not be shown again. Store it in a secret manager.",
            "? Scripts using it will start getting 401 from the next request.",
        ],
    );
    // The usage section comes right below the keys table.
    assert!(html.find("id=\"keys-table\"").unwrap() < html.find("id=\"api-usage\"").unwrap());
    assert_csp_clean(&html);
}

#[test]
fn rows_show_masked_keys_status_and_actions() {
    let html = ready();
    let keys = common::keys();
    assert_eq!(count(&html, "<tr class=\"key-row\""), keys.len());
    assert_eq!(count(&html, "class=\"key-status\""), keys.len());
    for k in &keys {
        assert!(html.contains(&format!("data-key-id=\"{}\"", k.id)));
    }
    // Masked keys, never more.
    assert!(html.contains("ue_live_••••••••f3Qa"));
    assert!(html.contains("ue_live_••••••••9xTe"));
    // Trash buttons only for the three active keys, labelled with the name.
    assert_eq!(count(&html, "icon-btn-danger revoke-key\""), 3);
    assert!(html.contains("aria-label=\"Revoke key Zapier — onboarding study\""));
    assert!(html.contains(
        "class=\"icon-btn icon-btn-danger revoke-key\" type=\"button\" data-key-id=\"key_01JDA1ZAPIER0000000000000\""
    ));
    assert_eq!(count(&html, "class=\"btn btn-ghost btn-xs edit-ips\""), 3);
    // Statuses.
    assert_eq!(count(&html, ">Active</span>"), 3);
    assert!(html.contains("Revoked automatically (error rate)"));
    assert!(html.contains(">Revoked</span>"));
    // Created by a former member; last used; allowlists.
    assert!(html.contains("No longer a member"));
    // Emails wrap only before "@" and dots, never mid-word.
    assert_contains(
        &html,
        &[
            "by <span class=\"email\">devon<wbr>@acme<wbr>.example</span>",
            "3 minutes ago",
            "54.86.12.201",
            ">Never<",
            "<li class=\"mono\">203.0.113.0/24</li>",
            ">Any<",
        ],
    );
    // Auto-revocation banner names the key.
    assert!(html.contains("Key “Old staging script” was revoked automatically"));
    assert!(html.contains("2 hours ago"));
}

#[test]
fn user_text_is_escaped() {
    let html = ready();
    assert!(!html.contains("<script>alert"), "raw script from a key name");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; co"));
    assert!(html.contains("aria-label=\"Revoke key &lt;script&gt;alert('x')&lt;/script&gt; &amp; co\""));
    assert_csp_clean(&html);
}

#[test]
fn no_secret_is_ever_rendered() {
    let html = ready();
    assert!(!html.contains("ue_live_0") && !html.contains("ue_live_A"), "looks like a full key");
    let secret_input = html.find("id=\"new-key-secret\"").unwrap();
    let tag = &html[html[..secret_input].rfind('<').unwrap()..secret_input + html[secret_input..].find('>').unwrap()];
    assert!(!tag.contains("value="), "the secret field is empty server-side: {tag}");
}

#[test]
fn usage_section_renders_figures_chart_and_tables() {
    let html = ready();
    let usage = common::usage();
    let total = usage.last_24h.total;
    assert!(html.contains(&format!("id=\"usage-24h-total\">{}</span>", fmt_number(total))));
    assert!(html.contains(&format!("id=\"usage-7d-total\">{}</span>", fmt_number(usage.last_7d.total))));
    // 168-bucket 7-day chart and the 24-bucket 24-hour one, a <title> per bar.
    assert!(html.contains("data-buckets=\"168\""));
    assert!(html.contains("data-buckets=\"24\""));
    assert_eq!(count(&html, "<g class=\"bar\"><title>"), 168 + 24);
    assert_contains(&html, &["class=\"bar-err\"", "id=\"chart-range-24h\"", "id=\"chart-range-7d\""]);
    // Breakdown, top endpoints, recent requests (20 rows).
    assert_contains(&html, &["Too Many Requests", "<code>validation_failed</code>", "/v1/studies/{id}/transcripts"]);
    let recent = &html[html.find("id=\"usage-recent\"").unwrap()..];
    assert_eq!(count(recent, "<td class=\"nowrap\"><time"), 20);
    assert!(recent.contains("/<wbr>v1/<wbr>studies/<wbr>std_01JD7Q/<wbr>transcripts"));
    assert!(recent.contains("rate_limited"));
}

fn fmt_number(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % 3 == s.len() % 3 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn key_filter_selects_the_key_and_says_so() {
    let ws = common::workspaces();
    let (keys, usage) = (common::keys(), common::usage());
    let html = page(
        &ws,
        &ws[0],
        PageState::Ready { keys: &keys, usage: &usage, notifications: &[], key_filter: Some(&keys[1].id) },
    );
    assert!(html.contains(&format!("<option value=\"{}\" selected>", keys[1].id)));
    assert!(html.contains("Showing requests made with <strong>Nightly export 2025-11</strong> only."));
    assert!(
        html.contains("<form class=\"filter\" id=\"usage-filter-form\" method=\"get\" action=\"/settings/api-keys\">")
            || html.contains("id=\"usage-filter-form\"")
    );
    assert!(html.contains("name=\"workspace\" value=\"ws_01JD8Z6Q\""));
}

#[test]
fn plan_required_lists_and_revokes_but_cannot_generate() {
    let ws = common::workspaces();
    let (keys, usage) = (common::keys(), common::usage());
    let html =
        page(&ws, &ws[2], PageState::PlanRequired { keys: &keys, usage: &usage, notifications: &[], key_filter: None });
    assert!(html.contains("API keys need a paid plan"));
    assert!(!html.contains("id=\"generate-key\""));
    assert!(!html.contains("id=\"generate-dialog\""));
    assert_contains(&html, &["revoke-key", "id=\"confirm-revoke\"", "id=\"api-usage\""]);
    // Active keys on the free plan are suspended, not a green "Active".
    assert!(!html.contains("badge-success"));
    assert_eq!(count(&html, "<span class=\"badge badge-warning\">Suspended</span>"), 3);
    assert!(html.contains("on the Free plan"));
    assert_csp_clean(&html);
}

#[test]
fn not_admin_explains_and_shows_no_keys() {
    let ws = common::workspaces();
    let html = page(&ws, &ws[1], PageState::NotAdmin);
    assert!(html.contains("Only admins can manage API keys"));
    assert!(html.contains("You are a <strong>member</strong> in <strong>Acme Labs</strong>"));
    assert!(!html.contains("id=\"keys-table\""));
    assert!(!html.contains("id=\"api-usage\""));
    assert!(!html.contains("id=\"generate-key\""));
    // Links to workspaces where the user is an admin.
    assert!(html.contains("href=\"/settings/api-keys?workspace=ws_01JD8Z6Q\""));
    assert_csp_clean(&html);
}

#[test]
fn single_workspace_has_no_switcher_and_empty_states_render() {
    let ws = vec![WorkspaceMembership {
        id: "ws_1".into(),
        name: "Solo".into(),
        role: Role::Superadmin,
        plan: Plan::Starter,
    }];
    let usage = UsageReport::default();
    let html = page(&ws, &ws[0], PageState::Ready { keys: &[], usage: &usage, notifications: &[], key_filter: None });
    assert!(!html.contains("id=\"workspace-select\""));
    assert_contains(
        &html,
        &[
            "No API keys yet",
            "No requests yet",
            "No errors in the last 7 days",
            "id=\"usage-24h-total\">0</span>",
            "data-buckets=\"0\"",
        ],
    );
    assert_csp_clean(&html);
}

#[test]
fn login_page() {
    let html = render_login(&LoginPage {
        error: Some("<b>expired</b>"),
        email: Some("a@b.example"),
        next: Some("/settings/api-keys?workspace=ws_1&key_id=k"),
    });
    assert_ids(&html, &["login-form", "login-email", "login-password", "login-submit", "login-error"]);
    assert_contains(
        &html,
        &[
            "&lt;b&gt;expired&lt;/b&gt;",
            "value=\"a@b.example\"",
            "value=\"/settings/api-keys?workspace=ws_1&amp;key_id=k\"",
            "autocomplete=\"current-password\"",
        ],
    );
    assert_csp_clean(&html);

    let html = render_login(&LoginPage { error: None, email: None, next: Some("//evil.example/") });
    assert!(!html.contains("evil.example"));
    assert!(html.contains("value=\"/settings/api-keys\""));
    assert!(html.contains("id=\"login-error\" role=\"alert\" hidden"));
}

#[test]
fn assets_are_served_with_their_types() {
    let (ct, js) = asset("app.js").unwrap();
    assert_eq!(ct, "text/javascript; charset=utf-8");
    assert!(std::str::from_utf8(js).unwrap().contains("new-key-secret"));
    let (ct, css) = asset("app.css").unwrap();
    assert_eq!(ct, "text/css; charset=utf-8");
    assert!(std::str::from_utf8(css).unwrap().contains("prefers-color-scheme: dark"));
    assert_eq!(asset("/assets/app.css").unwrap().0, "text/css; charset=utf-8");
    assert_eq!(asset("favicon.svg").unwrap().0, "image/svg+xml");
    assert!(asset("../Cargo.toml").is_none());
    assert!(asset("nope.js").is_none());
    // The documents reference exactly these, versioned.
    let html = ready();
    assert!(html.contains("<script src=\"/assets/app.js?v="));
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/assets/app.css?v="));
}

#[test]
fn csp_is_strict() {
    assert!(CSP.contains("script-src 'self'"));
    assert!(CSP.contains("style-src 'self'"));
    assert!(!CSP.contains("unsafe-inline"));
    assert!(CSP.contains("frame-ancestors 'none'"));
}

#[test]
fn the_keys_table_shows_expiry_access_traffic_rotation_and_calls_out_keys_needing_attention() {
    use keyward_core::api::{KeyStatus, Timestamp};
    use keyward_core::Scopes;
    const DAY: i64 = 86_400_000;
    let ws = common::workspaces();
    let mut soon = common::key("key_01JDA1SOON00000000000000", "Nightly export", "s00n");
    soon.expires_at = Some(Timestamp(common::NOW + 3 * DAY));
    soon.scopes = Scopes::READ_ONLY;
    soon.requests_24h = 1234;
    let mut left = common::key("key_01JDA1LEFT00000000000000", "Old laptop script", "l3ft");
    left.created_by.is_member = false;
    left.created_by.email = "former@acme.example".into();
    let mut rolled = common::key("key_01JDA1ROLLED000000000000", "Zapier", "r0ll");
    rolled.rolled_to = Some("key_01JDA1NEW000000000000000".into());
    rolled.expires_at = Some(Timestamp(common::NOW + 3_600_000));
    rolled.scopes = Scopes::parse_list(&["studies:write"]).unwrap();
    let mut expired = common::key("key_01JDA1EXPIRED00000000000", "Trial", "3xp1");
    expired.status = KeyStatus::Expired;
    expired.expires_at = Some(Timestamp(common::NOW - DAY));
    let keys = vec![soon, left, rolled, expired];
    let (usage, notes) = (common::usage(), vec![]);
    let html =
        page(&ws, &ws[0], PageState::Ready { keys: &keys, usage: &usage, notifications: &notes, key_filter: None });
    assert_csp_clean(&html);
    for th in ["Requests 24h", "Expires", "Access", "Last used"] {
        assert!(html.contains(&format!("<th scope=\"col\">{th}</th>")), "{th}");
    }
    assert!(html.contains(">1234<"));
    assert!(html.contains("Read only") && html.contains("Full access") && html.contains(">studies:write<"));
    assert!(html.contains("id=\"expiring-banner\"") && html.contains("1 key expires within 7 days"));
    assert!(html.contains("id=\"departed-banner\"") && html.contains("former@acme.example"));
    assert!(html.contains("aria-label=\"Revoke key Old laptop script\""));
    assert!(html.contains("data-status=\"expired\"") && html.contains(">Expired<"));
    assert!(html.contains(">Rolled<"));
    // Rotate: every active key not rolled yet, and the dialog with its four grace periods.
    assert_eq!(count(&html, "class=\"btn btn-ghost btn-xs rotate-key\""), 2);
    assert!(html.contains("id=\"rotate-dialog\""));
    assert_eq!(count(&html, "name=\"grace\""), 4);
    assert!(html.contains("id=\"key-expiry\"") && html.contains("name=\"access\""));
    assert_eq!(count(&html, "name=\"scope\""), 5);
}

#[test]
fn a_leaked_key_says_leaked_and_where_it_was_found_with_its_banner() {
    use keyward_core::api::{LeakReport, Notification, Timestamp};
    use keyward_core::RevokeReason;
    let ws = common::workspaces();
    let usage = common::usage();
    let mut keys = common::keys();
    keys[0].status = keyward_core::api::KeyStatus::Revoked;
    keys[0].revoked_at = Some(Timestamp(common::NOW - 60_000));
    keys[0].revoke_reason = Some(RevokeReason::Leaked);
    keys[1].status = keyward_core::api::KeyStatus::Revoked;
    keys[1].revoked_at = Some(Timestamp(common::NOW - 60_000));
    keys[1].revoke_reason = Some(RevokeReason::Leaked);
    let url = "https://github.com/octocat/hello/blob/abc/<config>.py";
    let leaks = vec![
        LeakReport {
            key_id: keys[0].id.clone(),
            at: Timestamp(common::NOW - 60_000),
            reporter: "github".into(),
            source: Some("commit".into()),
            url: Some(url.into()),
        },
        LeakReport {
            key_id: keys[1].id.clone(),
            at: Timestamp(common::NOW - 60_000),
            reporter: "public".into(),
            source: None,
            url: None,
        },
    ];
    let notes = vec![Notification {
        id: "ntf_01JDB1".into(),
        at: Timestamp(common::NOW - 60_000),
        kind: "key.leaked".into(),
        key_id: Some(keys[0].id.clone()),
        message: "The API key was revoked automatically because it was found leaked.".into(),
    }];
    let state = PageState::Ready { keys: &keys, usage: &usage, notifications: &notes, key_filter: None };
    let html = render_api_keys(&ApiKeysPage { csrf_token: "t", leaks: &leaks, ..sample_page(&ws, &ws[0], state) });
    assert_eq!(count(&html, ">Leaked<"), 2);
    assert!(html.contains("Found by GitHub secret scanning (commit) at:"));
    assert!(html.contains("https://github.com/octocat/hello/blob/abc/&lt;config&gt;.py"), "the URL, escaped");
    assert!(!html.contains("href=\"https://github.com"), "the URL is text, not a link");
    assert!(html.contains("Reported through the public leak report endpoint"));
    assert!(html.contains("was found leaked and revoked"), "the banner names the key");
    assert!(html.contains("data-kind=\"key.leaked\""));
    // Members never see it: their page has no keys table.
    let member = render_api_keys(&ApiKeysPage {
        user_email: "p@acme.example",
        csrf_token: "t",
        leaks: &leaks,
        ..sample_page(&ws, &ws[1], PageState::NotAdmin)
    });
    assert!(!member.contains("octocat"));
}

fn with_audit(entries: &[keyward_core::api::AuditEntry], has_more: bool) -> String {
    let ws = common::workspaces();
    let (keys, usage) = (common::keys(), common::usage());
    let state = PageState::Ready { keys: &keys, usage: &usage, notifications: &[], key_filter: None };
    render_api_keys(&ApiKeysPage {
        csrf_token: "tok",
        audit: Some(keyward_web::AuditView { entries, has_more }),
        ..sample_page(&ws, &ws[0], state)
    })
}

#[test]
fn the_audit_log_says_who_did_what_to_which_key_with_support_and_system_named() {
    use keyward_core::api::{AuditEntry, Timestamp};
    let keys = common::keys();
    let entry = |id: &str, action: &str, actor: &str, details: serde_json::Value| AuditEntry {
        id: id.into(),
        at: Timestamp(common::NOW - 60_000),
        action: action.into(),
        actor: actor.into(),
        key_id: Some(keys[0].id.clone()),
        details,
    };
    let entries = [
        entry(
            "aud_4",
            "key.auto_revoked",
            "system",
            serde_json::json!({ "errors": 120, "requests": 130, "by_code": { "validation_failed": 120 } }),
        ),
        entry("aud_3", "key.revoked", "support", serde_json::json!({})),
        entry(
            "aud_2",
            "key.allowed_ips_changed",
            "maria@acme.example",
            serde_json::json!({ "before": [], "after": ["10.0.0.0/8"] }),
        ),
        entry("aud_1", "key.created", "maria@acme.example", serde_json::json!({ "name": "x" })),
    ];
    let html = with_audit(&entries, true);
    let audit = &html[html.find("id=\"audit-log\"").unwrap()..];
    assert_eq!(count(audit, "<tr class=\"audit-row\""), 4);
    assert_contains(
        audit,
        &[
            ">System (automatic)</span>",
            ">Support (CLI)</span>",
            "maria<wbr>@acme<wbr>.example",
            "Revoked the key automatically: 120 of 130 requests refused (120 × validation_failed)",
            "Changed the allowed IPs: any IP → 10.0.0.0/8",
            "Generated the key",
        ],
    );
    assert!(audit.contains(&format!("<span class=\"key-name\">{}</span>", keys[0].name)));
    // Paging: a "Show older" button carrying the last id.
    assert!(audit.contains("id=\"audit-older\"") && audit.contains("data-after=\"aud_1\""));
    assert!(!with_audit(&entries, false).contains("id=\"audit-older\""));
    assert!(with_audit(&[], false).contains("id=\"audit-empty\""));
    assert_csp_clean(&html);
}

#[test]
fn the_hourly_chart_has_a_table_view_and_measured_averages() {
    let html = ready();
    let table = &html[html.find("id=\"usage-chart-table\"").unwrap()..];
    let table = &table[..table.find("</details>").unwrap()];
    assert!(table.contains("<summary>Show the last 24 hours as a table</summary>"));
    assert_eq!(count(table, "<th scope=\"row\">"), 24, "one row per hour");
    assert!(html.contains("or open the table below"));
    // "about N per hour" is the measured rate, never rounded up.
    let usage = common::usage();
    let rate = usage.last_24h.total as f64 / 24.0;
    let expected = if rate >= 10.0 {
        format!("about {} per hour", fmt_number(rate.round() as u64))
    } else {
        format!("about {} per hour", format!("{rate:.1}").trim_end_matches(".0"))
    };
    assert!(html.contains(&expected), "{expected}");
}

#[test]
fn recent_requests_put_status_and_code_before_the_path() {
    let html = ready();
    let recent = &html[html.find("id=\"usage-recent\"").unwrap()..];
    let head = &recent[recent.find("<thead>").unwrap()..recent.find("</thead>").unwrap()];
    let pos = |s: &str| head.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(pos(">Status<") < pos(">Path<") && pos(">Code<") < pos(">Path<"));
    assert!(recent.contains("class=\"path-cell\""));
}

#[test]
fn dialogs_show_the_whole_key_warn_about_duplicate_names_and_banners_can_be_dismissed() {
    let html = ready();
    // The secret is a textarea (all 46 characters at any width), empty server-side.
    assert!(html.contains("<textarea class=\"mono secret-value\" id=\"new-key-secret\" readonly rows=\"2\""));
    assert!(html.contains("id=\"key-name-duplicate\""));
    // Every banner has a dismiss button with its id.
    let notes = common::notifications();
    for n in &notes {
        assert!(html.contains(&format!(
            "class=\"icon-btn dismiss-notification\" type=\"button\" data-notification-id=\"{}\"",
            n.id
        )));
    }
    assert!(!html.contains("a sign the key leaked"), "the banner does not guess at a leak");
}

/// Every element id in `ids` is in `html`.
fn assert_ids(html: &str, ids: &[&str]) {
    for id in ids {
        assert!(html.contains(&format!("id=\"{id}\"")), "missing id={id}");
    }
}

/// Every snippet of `want` is in `html`.
fn assert_contains(html: &str, want: &[&str]) {
    for w in want {
        assert!(html.contains(w), "missing {w:?}");
    }
}
