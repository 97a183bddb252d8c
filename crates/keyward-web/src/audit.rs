//! The *Audit log* card: who did what to which key, newest first, with
//! paging (`app.js` fetches older rows, rendered by [`render_rows`], from
//! `GET /settings/api-keys/audit-rows?workspace=WS&starting_after=ID`).
//! Support's CLI actions show as "Support", automatic ones as "System".

use crate::layout::{card_head, thead, time_ago};
use keyward_core::api::{AuditEntry, KeyObject};
use maud::{html, Markup};

/// The first page of the audit log, as the server read it.
pub struct AuditView<'a> {
    pub entries: &'a [AuditEntry],
    pub has_more: bool,
}

/// Entries on the first page (and per "Show older" fetch).
pub const PAGE_SIZE: u32 = 20;

/// "Support (CLI)", "System (automatic)" or the admin's email.
pub fn actor_label(actor: &str) -> String {
    match actor {
        "support" => "Support (CLI)".to_string(),
        "system" => "System (automatic)".to_string(),
        other => other.to_string(),
    }
}

/// What happened, in words.
pub fn action_label(e: &AuditEntry) -> String {
    let d = &e.details;
    match e.action.as_str() {
        "key.created" => "Generated the key".to_string(),
        "key.revoked" => "Revoked the key".to_string(),
        "key.auto_revoked" => {
            let codes = d["by_code"]
                .as_object()
                .map(|m| m.iter().map(|(c, n)| format!("{n} × {c}")).collect::<Vec<_>>().join(", "))
                .filter(|s| !s.is_empty());
            match (d["errors"].as_u64(), d["requests"].as_u64(), codes) {
                (Some(e), Some(r), Some(c)) => {
                    format!("Revoked the key automatically: {e} of {r} requests refused ({c})")
                }
                (Some(e), Some(r), None) => format!("Revoked the key automatically: {e} of {r} requests refused"),
                _ => "Revoked the key automatically".to_string(),
            }
        }
        "key.allowed_ips_changed" => {
            let list = |v: &serde_json::Value| {
                let items: Vec<&str> =
                    v.as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
                if items.is_empty() {
                    "any IP".to_string()
                } else {
                    items.join(", ")
                }
            };
            format!("Changed the allowed IPs: {} → {}", list(&d["before"]), list(&d["after"]))
        }
        other => other.to_string(),
    }
}

fn row(e: &AuditEntry, keys: &[KeyObject], now_ms: i64) -> Markup {
    let key = e.key_id.as_deref().map(|id| (id, keys.iter().find(|k| k.id == id)));
    let system = matches!(e.actor.as_str(), "support" | "system");
    html! {
        tr.audit-row data-audit-id=(e.id) {
            td.nowrap data-label="When" { (time_ago(e.at, now_ms)) }
            td data-label="Who" {
                @if system { span.badge.badge-neutral { (actor_label(&e.actor)) } }
                @else { span.email { (crate::keys::breakable_email(&e.actor)) } }
            }
            td data-label="What" { (action_label(e)) }
            td data-label="Key" {
                @match key {
                    Some((_, Some(k))) => { span.key-name { (k.name) } span.key-id.mono { (k.id) } }
                    Some((id, None)) => span.key-id.mono { (id) },
                    None => span.muted { "–" },
                }
            }
        }
    }
}

/// A page of older entries for the card: `<tbody data-has-more="true|false">`
/// with their rows (`keys` name the keys).
pub fn render_rows(entries: &[AuditEntry], has_more: bool, keys: &[KeyObject], now_ms: i64) -> String {
    html! {
        tbody data-has-more=(has_more) {
            @for e in entries { (row(e, keys, now_ms)) }
        }
    }
    .into_string()
}

pub fn section(view: &AuditView<'_>, keys: &[KeyObject], now_ms: i64) -> Markup {
    html! {
        section.card #audit-log aria-labelledby="audit-heading" data-page-size=(PAGE_SIZE) {
            (card_head("audit-heading", "Audit log", None, html! {
                "Who generated, revoked or restricted which key, newest first. "
                "“Support” is User Evaluation support acting for you; “System” is keyward itself "
                "(automatic revocation)."
            }, html! {}))
            @if view.entries.is_empty() {
                div.empty.empty-sm #audit-empty { p.empty-title { "Nothing yet" } p.muted { "Key changes will be listed here." } }
            } @else {
                div.table-wrap role="region" aria-labelledby="audit-heading" tabindex="0" {
                    table.table.table-compact.audit-table {
                        caption.sr-only { "Audit log, newest first" }
                        (thead(&["When", "Who", "What", "Key"], &[]))
                        tbody #audit-tbody {
                            @for e in view.entries { (row(e, keys, now_ms)) }
                        }
                    }
                }
                @if view.has_more {
                    div.audit-more {
                        button #audit-older .btn.btn-secondary.btn-sm type="button"
                            data-after=(view.entries.last().map(|e| e.id.as_str()).unwrap_or_default()) {
                            "Show older entries"
                        }
                        noscript { p.muted { "Older entries: GET /api/workspaces/…/audit-log?starting_after=ID" } }
                    }
                }
            }
        }
    }
}
