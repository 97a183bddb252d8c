//! The *Webhooks* section under the keys table (SPEC §9): every hook of the
//! workspace (those created by keys for Zapier and scripts, and admins'
//! key-event hooks) with its last attempt, a delete button, and a form to
//! subscribe the workspace to a key event (the secret is shown once, by
//! `app.js`, in the dialog that created it).
use crate::layout::{card_head, dialog_head, field, form_step, icon, secret_step, thead, time_ago, time_date};
use keyward_core::api::{HookAttempt, Timestamp};
use maud::{html, Markup};

/// Key events an admin may subscribe to.
pub const KEY_EVENTS: [&str; 5] = ["key.created", "key.revoked", "key.rolled", "key.expiring", "key.leaked"];

/// One hook as the page shows it (never its secret, never its full URL:
/// a target URL may carry a token in its path).
#[derive(Debug, Clone)]
pub struct HookRow {
    pub id: String,
    /// The target URL's host (and port).
    pub target_host: String,
    pub event: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: Timestamp,
    /// The key that created it (`/v1`), by name.
    pub key_name: Option<String>,
    /// The admin who created a key-event hook.
    pub created_by_email: Option<String>,
    pub last_attempt: Option<HookAttempt>,
    pub failing_since: Option<Timestamp>,
}

pub(crate) fn section(hooks: &[HookRow], now_ms: i64, can_add: bool) -> Markup {
    html! {
        section.card #hooks-section aria-labelledby="hooks-heading" {
            (card_head("hooks-heading", "Webhooks", Some(hooks.len()), html! {
                "Signed POSTs to your URLs when something happens: Zapier's triggers subscribe here with "
                "their key, and admins can be told about key events. "
                a href="/docs/webhooks" { "How to verify a delivery" }
            }, html! {
                @if can_add {
                    button #add-hook .btn.btn-secondary type="button" aria-haspopup="dialog" {
                        (icon("plus")) span { "Add key-event webhook" }
                    }
                }
            }))
            div.table-wrap role="region" aria-labelledby="hooks-heading" tabindex="0" {
                table #hooks-table .table.hooks-table {
                    caption.sr-only { "Webhooks of this workspace" }
                    (thead(&["Target", "Event", "Created by", "Status", "Last attempt", "Actions"], &[]))
                    tbody #hooks-tbody {
                        @for h in hooks { (row(h, now_ms)) }
                        @if hooks.is_empty() {
                            tr.empty-row {
                                td colspan="6" {
                                    p.muted { "No webhooks yet." }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn row(h: &HookRow, now_ms: i64) -> Markup {
    html! {
        tr.hook-row data-hook-id=(h.id) {
            td data-label="Target" {
                span.mono { (h.target_host) }
                span.key-id.mono { (h.id) }
            }
            td data-label="Event" { code { (h.event) } }
            td data-label="Created by" {
                @if let Some(k) = &h.key_name {
                    "Key " span.key-name { (k) }
                } @else if let Some(e) = &h.created_by_email {
                    span.email { (e) }
                } @else {
                    span.muted { "—" }
                }
                span.sub { (time_date(h.created_at)) }
            }
            td data-label="Status" {
                @if h.status == "active" {
                    span.badge.badge-success { "Active" }
                } @else {
                    span.badge.badge-neutral { "Disabled" }
                }
                @if let Some(t) = h.failing_since {
                    span.sub { "Failing since " (time_ago(t, now_ms)) }
                }
            }
            td data-label="Last attempt" {
                @match &h.last_attempt {
                    Some(a) => {
                        (time_ago(a.at, now_ms))
                        span.sub.mono {
                            @match (a.status_code, &a.error) {
                                (Some(code), _) => { "HTTP " (code) }
                                (None, Some(e)) => { (e) }
                                (None, None) => { "—" }
                            }
                        }
                    }
                    None => span.muted { "Never" },
                }
            }
            td.key-actions data-label="Actions" {
                button.icon-btn.icon-btn-danger.delete-hook type="button" data-hook-id=(h.id)
                    aria-label=(format!("Delete webhook {} to {}", h.event, h.target_host)) title="Delete webhook" {
                    (icon("trash"))
                }
            }
        }
    }
}

pub(crate) fn dialog() -> Markup {
    html! {
        dialog #hook-dialog .dialog aria-labelledby="hook-title" {
            (dialog_head("hook-title", "Add key-event webhook"))
            (form_step("create-hook-form", html! {
                (field("hook-url", "Target URL", html! {
                    input #hook-url type="url" name="target_url" maxlength="2048" required autocomplete="off"
                        aria-describedby="hook-url-hint hook-url-error";
                }, "An HTTPS URL of yours that answers 2xx within 15 seconds.", html! {}))
                div.field {
                    label for="hook-event" { "Event" }
                    select #hook-event name="event" {
                        @for e in KEY_EVENTS { option value=(e) { (e) } }
                    }
                }
            }, "create-hook-error", html! {
                button #create-hook-submit .btn.btn-primary type="submit" { "Add webhook" }
            }))
            (secret_step("created-hook-step", ("new-hook-warning", "This signing secret will not be shown again."), html! {
                label for="new-hook-secret" { "Signing secret" }
                div.secret-row {
                    input #new-hook-secret .mono type="text" readonly autocomplete="off" spellcheck="false"
                        aria-describedby="new-hook-warning";
                }
            }, html! {}, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(status: &str) -> HookRow {
        HookRow {
            id: "hook_01".into(),
            target_host: "hooks.example.com<script>".into(),
            event: "transcript.created".into(),
            status: status.into(),
            created_at: Timestamp(1_700_000_000_000),
            key_name: Some("Zapier <prod>".into()),
            created_by_email: None,
            last_attempt: Some(HookAttempt { at: Timestamp(1_700_000_060_000), error: None, status_code: Some(500) }),
            failing_since: Some(Timestamp(1_700_000_060_000)),
        }
    }

    #[test]
    fn lists_each_hook_with_its_creator_status_and_last_attempt_escaped() {
        let html = section(&[hook("disabled")], 1_700_000_120_000, true).into_string();
        assert!(html.contains("hooks.example.com&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("Zapier &lt;prod&gt;"));
        assert!(html.contains("HTTP 500") && html.contains("Failing since") && html.contains("Disabled"));
        assert!(html.contains("aria-label=\"Delete webhook transcript.created to hooks.example.com&lt;script&gt;\""));
        assert!(html.contains("id=\"add-hook\""));
        let empty = section(&[], 0, false).into_string();
        assert!(empty.contains("No webhooks yet") && !empty.contains("id=\"add-hook\""));
        assert!(dialog().into_string().contains("key.leaked"));
    }
}
