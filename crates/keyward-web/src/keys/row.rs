//! One row of the keys table: the page renders every row with it, and
//! `GET /settings/api-keys/rows/{id}` answers one (app.js swaps it in after
//! a change, so the markup is written only here).

use super::Mode;
use crate::layout::{icon, time_ago, time_date};
use keyward_core::api::{KeyObject, KeyStatus, LeakReport};
use keyward_core::{RevokeReason, Scopes};
use maud::{html, Markup};

/// Keys expiring this soon are called out (SPEC §12).
pub(crate) const EXPIRING_SOON_MS: i64 = 7 * 24 * 3600 * 1000;

/// The row of `k` alone, as an HTML fragment.
pub(crate) fn row_fragment(k: &KeyObject, ready: bool, now_ms: i64, leaks: &[LeakReport]) -> String {
    let mode = if ready { Mode::Ready } else { Mode::PlanRequired };
    key_row(k, mode, now_ms, leak_of(leaks, k)).into_string()
}

/// Where a key revoked as leaked was found (admins only: the keys table is).
pub(super) fn leak_of<'a>(leaks: &'a [LeakReport], k: &KeyObject) -> Option<&'a LeakReport> {
    if k.revoke_reason != Some(RevokeReason::Leaked) {
        return None;
    }
    leaks.iter().find(|l| l.key_id == k.id)
}

/// One row of the keys table.
pub(super) fn key_row(k: &KeyObject, mode: Mode, now_ms: i64, leak: Option<&LeakReport>) -> Markup {
    let active = k.status == KeyStatus::Active;
    let status_name = match k.status {
        KeyStatus::Active => "active",
        KeyStatus::Revoked => "revoked",
        KeyStatus::Expired => "expired",
    };
    let rotatable = active && k.rolled_to.is_none() && mode == Mode::Ready;
    html! {
        tr.key-row data-key-id=(k.id) data-key-name=(k.name) data-status=(status_name) {
            td.cell-name data-label="Name" {
                span.key-name { (k.name) }
                span.key-id.mono { (k.id) }
            }
            td.cell-key data-label="Key" { code.masked { (k.masked) } }
            td.cell-created data-label="Created" {
                (time_date(k.created_at))
                span.sub {
                    "by " span.email { (breakable_email(&k.created_by.email)) }
                    @if !k.created_by.is_member {
                        " " span.badge.badge-warning title="This person has left the workspace. Consider revoking the keys they generated." {
                            "No longer a member"
                        }
                    }
                }
            }
            td.cell-used data-label="Last used" {
                @match k.last_used_at {
                    Some(t) => {
                        (time_ago(t, now_ms))
                        @if let Some(ip) = &k.last_used_ip { span.sub.mono { (ip) } }
                    }
                    None => span.muted { "Never" },
                }
            }
            td.cell-requests.num data-label="Requests 24h" { (k.requests_24h) }
            td.cell-expires data-label="Expires" {
                @match k.expires_at {
                    Some(t) => {
                        (time_date(t))
                        @if k.rolled_to.is_none() && k.expires_within(now_ms, EXPIRING_SOON_MS) {
                            " " span.badge.badge-warning { "Expires soon" }
                        }
                    }
                    None => span.muted { "Never" },
                }
            }
            td.cell-scopes data-label="Access" { (access(k.scopes)) }
            td.key-status data-label="Status" { (status(k, mode, now_ms, leak)) }
            td.key-ips data-label="Allowed IPs" {
                div.ips {
                    @if k.allowed_cidrs.is_empty() {
                        span.muted.ips-any { "Any" }
                    } @else {
                        ul.cidr-list {
                            @for c in &k.allowed_cidrs { li.mono { (c) } }
                        }
                    }
                    @if active {
                        button.btn.btn-ghost.btn-xs.edit-ips type="button" data-key-id=(k.id)
                            aria-label=(format!("Edit allowed IPs of key {}", k.name)) aria-haspopup="dialog" {
                            (icon("pencil")) span { "Edit" }
                        }
                    }
                }
            }
            td.key-actions data-label="Actions" {
                @if rotatable {
                    button.btn.btn-ghost.btn-xs.rotate-key type="button" data-key-id=(k.id)
                        aria-label=(format!("Rotate key {}", k.name)) aria-haspopup="dialog" {
                        span { "Rotate" }
                    }
                }
                @if active {
                    button.icon-btn.icon-btn-danger.revoke-key type="button" data-key-id=(k.id)
                        aria-label=(format!("Revoke key {}", k.name)) title="Revoke key" aria-haspopup="dialog" {
                        (icon("trash"))
                    }
                }
            }
        }
    }
}

/// *Full access*, *Read only*, or the scopes one per line.
fn access(scopes: Scopes) -> Markup {
    html! {
        @if scopes.is_all() {
            span.access-full { "Full access" }
        } @else if scopes == Scopes::READ_ONLY {
            span.access-read { "Read only" }
        } @else {
            ul.scope-list {
                @for s in scopes.iter() { li.mono { (s.as_str()) } }
            }
        }
    }
}

fn status(k: &KeyObject, mode: Mode, now_ms: i64, leak: Option<&LeakReport>) -> Markup {
    match k.status {
        KeyStatus::Active if mode == Mode::PlanRequired => html! {
            span.badge.badge-warning { "Suspended" }
            span.sub { "on the Free plan: the API answers 403 until the workspace upgrades" }
        },
        KeyStatus::Active => html! {
            @if let Some(to) = &k.rolled_to {
                span.badge.badge-warning { "Rolled" }
                span.sub {
                    "to " span.mono { (to) }
                    @if let Some(t) = k.expires_at {
                        "; works until "
                        time datetime=(t.to_rfc3339()) { (crate::fmt::datetime_utc(t)) }
                    }
                }
            } @else {
                span.badge.badge-success { "Active" }
            }
        },
        KeyStatus::Expired => html! {
            span.badge.badge-neutral { "Expired" }
            @if let Some(t) = k.expires_at { span.sub { (time_ago(t, now_ms)) } }
        },
        KeyStatus::Revoked => {
            html! {
                @match k.revoke_reason {
                    Some(RevokeReason::AutoErrorRate) => span.badge.badge-danger { "Revoked automatically (error rate)" },
                    Some(RevokeReason::Leaked) => span.badge.badge-danger.badge-leaked { "Leaked" },
                    _ => span.badge.badge-neutral { "Revoked" },
                }
                @if let Some(t) = k.revoked_at { span.sub { (time_ago(t, now_ms)) } }
                @if k.revoke_reason == Some(RevokeReason::Leaked) { (leak_location(leak)) }
            }
        }
    }
}

/// "Found by GitHub secret scanning (commit) at: <url>" (the URL as text,
/// not a link: it comes from the report).
fn leak_location(leak: Option<&LeakReport>) -> Markup {
    let Some(l) = leak else {
        return html! { span.sub.leak-location { "Reported as leaked" } };
    };
    html! {
        @if l.reporter == "github" {
            span.sub.leak-location {
                "Found by GitHub secret scanning"
                @if let Some(src) = l.source.as_deref().filter(|s| !s.is_empty()) { " (" (src) ")" }
                @if l.url.is_some() { " at:" }
            }
            @if let Some(url) = &l.url { span.sub.mono.leak-url title="Where GitHub found the key" { (url) } }
        } @else {
            span.sub.leak-location { "Reported through the public leak report endpoint" }
        }
    }
}

/// An email that wraps only before its `@` and dots (never mid-word).
pub(crate) fn breakable_email(email: &str) -> Markup {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in email.char_indices() {
        if (c == '@' || c == '.') && i > start {
            parts.push(&email[start..i]);
            start = i;
        }
    }
    parts.push(&email[start..]);
    html! {
        @for (i, part) in parts.iter().enumerate() {
            @if i > 0 { wbr; }
            (part)
        }
    }
}
