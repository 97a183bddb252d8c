//! `GET /settings/api-keys`: the page frame and the keys table; its rows,
//! banners and dialogs are in `keys/`.

mod banners;
mod dialogs;
mod row;

use crate::layout::{self, icon, thead, PRODUCT};
use crate::{usage, ApiKeysPage, PageState, API_KEYS_PATH};
use banners::{banners, lifecycle_banners};
use dialogs::{generate_dialog, ips_dialog, revoke_dialog, rotate_dialog};
use keyward_core::api::{KeyObject, Notification, WorkspaceMembership};
use maud::{html, Markup};
pub(crate) use row::{breakable_email, row_fragment};
use row::{key_row, leak_of};

/// Whether generating keys is possible (Ready) or only managing them (PlanRequired).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Ready,
    PlanRequired,
}

pub fn render(p: &ApiKeysPage<'_>) -> String {
    let (state_name, content) = match &p.state {
        PageState::NotAdmin => ("not_admin", not_admin(p)),
        PageState::PlanRequired { keys, usage, notifications, key_filter } => {
            ("plan_required", manage(p, Mode::PlanRequired, keys, usage, notifications, *key_filter))
        }
        PageState::Ready { keys, usage, notifications, key_filter } => {
            ("ready", manage(p, Mode::Ready, keys, usage, notifications, *key_filter))
        }
    };
    let meta = html! {
        meta name="csrf-token" content=(p.csrf_token);
        meta name="workspace-id" content=(p.current.id);
    };
    let body = html! {
        (layout::topbar(p))
        div.page {
            (layout::breadcrumb())
            main #main .content tabindex="-1" data-workspace-id=(p.current.id) data-state=(state_name) {
                (content)
            }
        }
        div #toast .toast role="status" aria-live="polite" hidden {}
    };
    layout::document(&format!("API Keys · {} · {PRODUCT}", p.current.name), "page-api-keys", p.now_ms, meta, body)
}

/// The API's base URL and the help page's links to the developer docs.
fn api_docs(p: &ApiKeysPage<'_>) -> Markup {
    html! {
        div #api-docs .api-docs {
            p {
                "API base URL: " code #api-base-url { (p.api_base_url) }
            }
            p {
                "Building an integration? Start at the "
                a #docs-overview href="/docs" { "API Overview" } " and the "
                a #docs-quickstart href="/docs/quickstart" { "Quickstart" }
                ". Keys are rate-limited per key (60–1000 rpm depending on plan): see the "
                a #docs-rate-limits href="/docs/rate-limits" { "rate limits doc" } "."
            }
        }
    }
}

fn page_head(p: &ApiKeysPage<'_>, generate: bool) -> Markup {
    html! {
        div.page-head {
            div.page-title {
                h1 { "API Keys" }
                p.lead {
                    "API keys give your own scripts and integrations such as Zapier access to the "
                    (PRODUCT) " public API. A key acts on behalf of your whole workspace, not your "
                    "user: anyone who has it can read and change your workspace's data."
                }
            }
            @if generate {
                button #generate-key .btn.btn-primary type="button" aria-haspopup="dialog" aria-controls="generate-dialog" {
                    (icon("plus")) span { "Generate API Key" }
                }
            }
        }
        (api_docs(p))
    }
}

fn tips() -> Markup {
    const TIPS: [(&str, &str, &str); 3] = [
        (
            "shield",
            "Store keys in a secret manager",
            "Use 1Password, Doppler or AWS SSM. Never commit keys to source control or paste them into shared chat.",
        ),
        (
            "key",
            "Rotate keys periodically",
            "Generate a new key with a date in its name, roll it out to your client and, once traffic \
             shows up on the new key, revoke the old one.",
        ),
        (
            "alert",
            "Revoking is immediate",
            "Scripts using a revoked key get 401 from their next request. When someone leaves the \
             workspace, revoke the keys they generated.",
        ),
    ];
    html! {
        aside.tips aria-label="Keeping keys safe" {
            @for (name, title, text) in TIPS {
                div.tip {
                    span.tip-icon { (icon(name)) }
                    div {
                        h2.tip-title { (title) }
                        p { (text) }
                    }
                }
            }
        }
    }
}

fn not_admin(p: &ApiKeysPage<'_>) -> Markup {
    let admin_elsewhere: Vec<&WorkspaceMembership> =
        p.workspaces.iter().filter(|w| w.id != p.current.id && w.role.can_manage_keys()).collect();
    html! {
        (page_head(p, false))
        section.card.state-card #not-admin aria-labelledby="not-admin-title" {
            span.state-icon { (icon("lock")) }
            h2 #not-admin-title { "Only admins can manage API keys" }
            p {
                "You are " (article(p.current.role.as_str())) " " strong { (p.current.role.as_str()) }
                " in " strong { (p.current.name) } ". API keys are generated and revoked by the workspace's "
                "admins and superadmins, and only they can see its keys and API usage."
            }
            p.muted { "If you need a key for an integration, ask an admin of this workspace." }
            @if !admin_elsewhere.is_empty() {
                div.state-links {
                    p { "You can manage keys in:" }
                    ul {
                        @for w in &admin_elsewhere {
                            li { a href=(page_url(&w.id, None)) { (w.name) } }
                        }
                    }
                }
            }
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn manage(
    p: &ApiKeysPage<'_>,
    mode: Mode,
    keys: &[KeyObject],
    usage_report: &keyward_core::api::UsageReport,
    notifications: &[Notification],
    key_filter: Option<&str>,
) -> Markup {
    html! {
        (banners(notifications, keys, p.now_ms))
        (lifecycle_banners(keys, p.now_ms))
        (page_head(p, mode == Mode::Ready))
        @if mode == Mode::PlanRequired {
            div #plan-required .alert.alert-warning.plan-notice role="note" {
                span.alert-icon { (icon("lock")) }
                div {
                    h2.alert-title { "API keys need a paid plan" }
                    p {
                        strong { (p.current.name) } " is on the Free plan. API keys can only be generated on a "
                        "paid plan (Starter, Pro or Enterprise). Existing keys are suspended: the API answers "
                        code { "403 plan_required" } " until the workspace upgrades, and an upgrade brings them "
                        "back. You can still revoke them and review their usage below."
                    }
                }
            }
        }
        (tips())
        section.card #keys-section aria-labelledby="keys-heading" {
            (layout::card_head("keys-heading", "Keys", Some(keys.len()), html! {
                "After creation only the last four characters are shown: we store just a SHA-256 hash "
                "of each key and can't recover it. Lost a key? Generate a new one and revoke the old."
            }, html! {}))
            noscript {
                p.alert.alert-warning { "Generating, revoking and editing keys needs JavaScript." }
            }
            div.table-wrap role="region" aria-labelledby="keys-heading" tabindex="0" {
                table #keys-table .table.keys-table {
                    caption.sr-only { "API keys of " (p.current.name) }
                    (thead(&["Name", "Key", "Created", "Last used", "Requests 24h", "Expires", "Access", "Status", "Allowed IPs", "Actions"], &[]))
                    tbody #keys-tbody {
                        @for k in keys { (key_row(k, mode, p.now_ms, leak_of(p.leaks, k))) }
                        @if keys.is_empty() { (empty_row(mode)) }
                    }
                }
            }
        }
        (crate::hooks::section(p.hooks, p.now_ms, mode == Mode::Ready))
        (usage::section(p, keys, usage_report, key_filter))
        @if let Some(a) = &p.audit { (crate::audit::section(a, keys, p.now_ms)) }
        @if mode == Mode::Ready { (generate_dialog()) (crate::hooks::dialog()) }
        (revoke_dialog())
        (ips_dialog())
        @if mode == Mode::Ready { (rotate_dialog()) }
    }
}

fn empty_row(mode: Mode) -> Markup {
    html! {
        tr.empty-row {
            td colspan="10" {
                div.empty {
                    span.empty-icon { (icon("key")) }
                    p.empty-title { "No API keys yet" }
                    @if mode == Mode::Ready {
                        p.muted { "Generate a key to connect Zapier or your own scripts to the API." }
                    } @else {
                        p.muted { "Keys can be generated once the workspace is on a paid plan." }
                    }
                }
            }
        }
    }
}

/// `/settings/api-keys?workspace=..[&key_id=..]`, query values percent-encoded.
pub(crate) fn page_url(workspace: &str, key_id: Option<&str>) -> String {
    let mut u = format!("{API_KEYS_PATH}?workspace={}", encode(workspace));
    if let Some(k) = key_id {
        u.push_str("&key_id=");
        u.push_str(&encode(k));
    }
    u
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_encoded() {
        assert_eq!(super::page_url("ws_1", None), "/settings/api-keys?workspace=ws_1");
        assert_eq!(super::page_url("a b&c", Some("k/1")), "/settings/api-keys?workspace=a%20b%26c&key_id=k%2F1");
    }
}
