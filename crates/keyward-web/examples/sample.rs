//! Renders sample documents for a visual check:
//! `cargo run -p keyward-web --example sample [OUT_DIR]` writes
//! `keyward-sample.html` (Ready), `keyward-sample-free.html` (PlanRequired),
//! `keyward-sample-member.html` (NotAdmin), `keyward-sample-empty.html` and
//! `keyward-login.html` to OUT_DIR (default `/tmp`). The stylesheet is inlined
//! (assets do not load from `file://`), which the real pages never do.
// Test fixtures and measurements: small counts and durations, times after
// 1970; the casts cannot lose them, and `TryFrom` would only add noise.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

#[path = "../tests/common/mod.rs"]
mod common;

use keyward_core::api::UsageReport;
use keyward_web::{render_api_keys, render_login, ApiKeysPage, LoginPage, PageState};

fn inline_css(html: &str) -> String {
    let css = std::str::from_utf8(keyward_web::asset("app.css").expect("app.css").1).expect("utf-8");
    let start = html.find("<link rel=\"stylesheet\"").expect("stylesheet link");
    let end = start + html[start..].find('>').expect("tag end") + 1;
    format!("{}<style>{css}</style>{}", &html[..start], &html[end..])
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "/tmp".to_string());
    let ws = common::workspaces();
    let keys = common::keys();
    let usage = common::usage();
    let notes = common::notifications();
    let page = |current, state| ApiKeysPage {
        user_email: "maria@acme.example",
        csrf_token: "csrf-sample",
        workspaces: &ws,
        current,
        now_ms: common::NOW,
        api_base_url: "https://api.userevaluation.com/v1",
        state,
        hooks: &[],
        leaks: &[],
        audit: None,
    };
    let empty = UsageReport {
        series: usage
            .series
            .iter()
            .map(|b| keyward_core::api::SeriesBucket { total: 0, errors: 0, ..b.clone() })
            .collect(),
        ..UsageReport::default()
    };
    let docs = [
        (
            "keyward-sample.html",
            render_api_keys(&page(
                &ws[0],
                PageState::Ready { keys: &keys, usage: &usage, notifications: &notes, key_filter: None },
            )),
        ),
        (
            "keyward-sample-free.html",
            render_api_keys(&page(
                &ws[2],
                PageState::PlanRequired {
                    keys: &keys[..2],
                    usage: &usage,
                    notifications: &[],
                    key_filter: Some(&keys[0].id),
                },
            )),
        ),
        ("keyward-sample-member.html", render_api_keys(&page(&ws[1], PageState::NotAdmin))),
        (
            "keyward-sample-empty.html",
            render_api_keys(&ApiKeysPage {
                workspaces: &ws[..1],
                ..page(&ws[0], PageState::Ready { keys: &[], usage: &empty, notifications: &[], key_filter: None })
            }),
        ),
        (
            "keyward-login.html",
            render_login(&LoginPage {
                error: Some("Your session has expired. Please sign in again."),
                email: None,
                next: None,
            }),
        ),
    ];
    for (name, html) in docs {
        let path = format!("{out}/{name}");
        std::fs::write(&path, inline_css(&html)).expect("write sample");
        // As served (assets by URL), for a mock server driving the script.
        std::fs::write(path.replace(".html", ".raw.html"), &html).expect("write sample");
        println!("{path}");
    }
}
