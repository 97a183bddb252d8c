//! `GET /settings/api-keys`: the keys table, its dialogs and the page frame.

use crate::layout::{self, icon, time_ago, time_date, PRODUCT};
use crate::{usage, ApiKeysPage, PageState, API_KEYS_PATH};
use keyward_core::api::{KeyObject, KeyStatus, LeakReport, Notification, WorkspaceMembership};
use keyward_core::{RevokeReason, Scope, Scopes};

/// Keys expiring this soon are called out (SPEC §12).
const EXPIRING_SOON_MS: i64 = 7 * 24 * 3600 * 1000;
use maud::{html, Markup};

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
    html! {
        aside.tips aria-label="Keeping keys safe" {
            div.tip {
                span.tip-icon { (icon("shield")) }
                div {
                    h2.tip-title { "Store keys in a secret manager" }
                    p {
                        "Use 1Password, Doppler or AWS SSM. Never commit keys to source control or paste them into shared chat."
                    }
                }
            }
            div.tip {
                span.tip-icon { (icon("key")) }
                div {
                    h2.tip-title { "Rotate keys periodically" }
                    p {
                        "Generate a new key with a date in its name, roll it out to your client and, once traffic "
                        "shows up on the new key, revoke the old one."
                    }
                }
            }
            div.tip {
                span.tip-icon { (icon("alert")) }
                div {
                    h2.tip-title { "Revoking is immediate" }
                    p {
                        "Scripts using a revoked key get 401 from their next request. When someone leaves the "
                        "workspace, revoke the keys they generated."
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
            div.card-head {
                div {
                    h2 #keys-heading { "Keys" span.count { (keys.len()) } }
                    p.muted {
                        "After creation only the last four characters are shown: we store just a SHA-256 hash "
                        "of each key and can't recover it. Lost a key? Generate a new one and revoke the old."
                    }
                }
            }
            noscript {
                p.alert.alert-warning { "Generating, revoking and editing keys needs JavaScript." }
            }
            div.table-wrap role="region" aria-labelledby="keys-heading" tabindex="0" {
                table #keys-table .table.keys-table {
                    caption.sr-only { "API keys of " (p.current.name) }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Key" }
                            th scope="col" { "Created" }
                            th scope="col" { "Last used" }
                            th scope="col" { "Requests 24h" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Access" }
                            th scope="col" { "Status" }
                            th scope="col" { "Allowed IPs" }
                            th scope="col" { span.th-actions { "Actions" } }
                        }
                    }
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

/// Where a key revoked as leaked was found (admins only: the keys table is).
fn leak_of<'a>(leaks: &'a [LeakReport], k: &KeyObject) -> Option<&'a LeakReport> {
    if k.revoke_reason != Some(RevokeReason::Leaked) {
        return None;
    }
    leaks.iter().find(|l| l.key_id == k.id)
}

/// One row of the keys table. `app.js` builds the same markup for a key it
/// has just created (`buildRow`); keep the two in step.
pub(crate) fn key_row(k: &KeyObject, mode: Mode, now_ms: i64, leak: Option<&LeakReport>) -> Markup {
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
pub(crate) fn access(scopes: Scopes) -> Markup {
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

fn banners(notifications: &[Notification], keys: &[KeyObject], now_ms: i64) -> Markup {
    if notifications.is_empty() {
        return html! {};
    }
    html! {
        section.banners aria-label="Notifications" {
            @for n in notifications {
                @let key = n.key_id.as_deref().and_then(|id| keys.iter().find(|k| k.id == id));
                @let leaked = n.kind == "key.leaked";
                @let auto = n.kind == "key.auto_revoked" || leaked;
                div.banner.banner-danger[auto].banner-info[!auto] data-notification-id=(n.id) data-kind=(n.kind) {
                    span.alert-icon { (icon("alert")) }
                    div.banner-body {
                        p.banner-title {
                            @if leaked {
                                @match key {
                                    Some(k) => { "Key “" (k.name) "” was found leaked and revoked" }
                                    None => { "A leaked API key was revoked" }
                                }
                            } @else if auto {
                                @match key {
                                    Some(k) => { "Key “" (k.name) "” was revoked automatically" }
                                    None => { "An API key was revoked automatically" }
                                }
                            } @else {
                                "Notice"
                            }
                        }
                        p { (n.message) }
                        p.banner-meta {
                            (time_ago(n.at, now_ms))
                            @if leaked {
                                " · Reason: the key was found where others can read it. Anyone who saw it could "
                                "have used it: review the workspace's recent API usage below."
                            } @else if auto {
                                " · Automatic revocation (reason auto_error_rate): the counts are this key's "
                                "answers in the window that tripped it."
                            }
                        }
                    }
                    // Hides the banner for this admin only (POST …/notifications/{id}/dismissal).
                    button.icon-btn.dismiss-notification type="button" data-notification-id=(n.id)
                        aria-label="Dismiss this notification" title="Dismiss (for you only)" { (icon("close")) }
                }
            }
        }
    }
}

/// Keys expiring within 7 days, and keys whose creator left the workspace
/// (SPEC §12), with the keys and a way to act on each.
fn lifecycle_banners(keys: &[KeyObject], now_ms: i64) -> Markup {
    let expiring: Vec<&KeyObject> =
        keys.iter().filter(|k| k.rolled_to.is_none() && k.expires_within(now_ms, EXPIRING_SOON_MS)).collect();
    let orphaned: Vec<&KeyObject> =
        keys.iter().filter(|k| k.status == KeyStatus::Active && !k.created_by.is_member).collect();
    if expiring.is_empty() && orphaned.is_empty() {
        return html! {};
    }
    html! {
        section.banners aria-label="Keys that need attention" {
            @if !expiring.is_empty() {
                div #expiring-banner .banner.banner-warning role="note" {
                    span.alert-icon { (icon("alert")) }
                    div.banner-body {
                        p.banner-title {
                            @if expiring.len() == 1 { "1 key expires within 7 days" }
                            @else { (expiring.len()) " keys expire within 7 days" }
                        }
                        p { "Rotate them before then: the new key keeps the scopes and allowed IPs, and the old one keeps working during the grace period." }
                        ul.banner-keys {
                            @for k in &expiring {
                                li {
                                    strong { (k.name) } " "
                                    @if let Some(t) = k.expires_at { "expires " (time_ago_future(t)) }
                                }
                            }
                        }
                    }
                }
            }
            @if !orphaned.is_empty() {
                div #departed-banner .banner.banner-warning role="note" {
                    span.alert-icon { (icon("alert")) }
                    div.banner-body {
                        p.banner-title {
                            @if orphaned.len() == 1 { "1 active key was generated by someone who left the workspace" }
                            @else { (orphaned.len()) " active keys were generated by people who left the workspace" }
                        }
                        p { "Keys belong to the workspace and keep working after their creator leaves. Revoke the ones nobody needs." }
                        ul.banner-keys {
                            @for k in &orphaned {
                                li {
                                    strong { (k.name) } " "
                                    span.muted { "by " (k.created_by.email) } " "
                                    button.btn.btn-secondary.btn-xs.revoke-key type="button" data-key-id=(k.id)
                                        aria-label=(format!("Revoke key {}", k.name)) aria-haspopup="dialog" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An absolute time shown as its date, for times ahead.
fn time_ago_future(t: keyward_core::api::Timestamp) -> Markup {
    html! { "on " (time_date(t)) }
}

fn rotate_dialog() -> Markup {
    let graces: [(&str, &str, bool); 4] = [
        ("0", "Immediately", false),
        ("3600", "After 1 hour", false),
        ("86400", "After 24 hours", true),
        ("604800", "After 7 days", false),
    ];
    html! {
        dialog #rotate-dialog .dialog aria-labelledby="rotate-title" {
            div.dialog-head {
                h2 #rotate-title { "Rotate API key" }
                button.icon-btn type="button" aria-label="Close" data-close { (icon("close")) }
            }
            form #rotate-form .dialog-step novalidate {
                div.dialog-body {
                    p {
                        "Rotating " strong #rotate-key-name {} " generates a new key with the same access, allowed IPs "
                        "and expiry. Roll the new key out, then watch its requests rise in the table while the old "
                        "key's fall."
                    }
                    fieldset.field.radio-group {
                        legend { "The old key stops working" }
                        @for (value, label, checked) in graces {
                            label.radio {
                                input type="radio" name="grace" value=(value) checked[checked];
                                span { (label) }
                            }
                        }
                    }
                    div #rotate-error .alert.alert-danger role="alert" hidden {}
                }
                div.dialog-foot {
                    button.btn.btn-secondary type="button" data-close { "Cancel" }
                    button #rotate-submit .btn.btn-primary type="submit" { "Rotate key" }
                }
            }
            div #rotated-key-step .dialog-step hidden {
                div.dialog-body {
                    div.alert.alert-warning {
                        span.alert-icon { (icon("alert")) }
                        p #rotated-key-warning { strong { "This key will not be shown again. Store it in a secret manager." } }
                    }
                    div.field {
                        label for="rotated-key-secret" { "Your new key " span #rotated-key-name .muted {} }
                        div.secret-row {
                            input #rotated-key-secret .mono type="text" readonly autocomplete="off" spellcheck="false"
                                aria-describedby="rotated-key-warning";
                            button #copy-rotated-key .btn.btn-secondary type="button" { (icon("copy")) span { "Copy" } }
                        }
                        p #rotated-copy-status .hint aria-live="polite" {}
                    }
                    p #rotated-key-until .hint {}
                }
                div.dialog-foot {
                    button .btn.btn-primary type="button" data-close { "Done" }
                }
            }
        }
    }
}

fn generate_dialog() -> Markup {
    html! {
        dialog #generate-dialog .dialog aria-labelledby="generate-title" {
            div.dialog-head {
                h2 #generate-title { "Generate API key" }
                button #dialog-close .icon-btn type="button" aria-label="Close" data-close { (icon("close")) }
            }
            form #create-key-form .dialog-step novalidate {
                div.dialog-body {
                    p { "Give the key a name so you can tell your keys apart later." }
                    div.field {
                        label for="key-name" { "Name" }
                        input #key-name type="text" name="name" maxlength="100" required autocomplete="off"
                            aria-describedby="key-name-hint key-name-error";
                        p #key-name-hint .hint { "For example “Zapier — onboarding study”. Up to 100 characters." }
                        p #key-name-error .field-error hidden {}
                        // app.js: a name another key already has is allowed, with this warning.
                        p #key-name-duplicate .hint.hint-warning aria-live="polite" hidden {}
                    }
                    div.field {
                        label for="key-expiry" { "Expires" }
                        select #key-expiry name="expiry" aria-describedby="key-expiry-hint" {
                            option value="" selected { "Never" }
                            option value="7" { "In 7 days" }
                            option value="30" { "In 30 days" }
                            option value="90" { "In 90 days" }
                            option value="365" { "In 365 days" }
                            option value="custom" { "Custom…" }
                        }
                        div #key-expiry-custom-field hidden {
                            label for="key-expiry-days" { "Days until it expires (1–365)" }
                            input #key-expiry-days type="number" name="expiry_days" min="1" max="365" step="1"
                                inputmode="numeric" aria-describedby="key-expiry-error";
                        }
                        p #key-expiry-hint .hint { "From the exact moment it expires, the API answers 401 api_key_expired." }
                        p #key-expiry-error .field-error hidden {}
                    }
                    fieldset.field.radio-group #key-access {
                        legend { "Access" }
                        label.radio {
                            input type="radio" name="access" value="full" checked;
                            span { "Full access" span.hint { " — everything the API can do, for the whole workspace" } }
                        }
                        label.radio {
                            input type="radio" name="access" value="read";
                            span { "Read only" span.hint { " — studies:read and transcripts:read" } }
                        }
                        label.radio {
                            input type="radio" name="access" value="custom";
                            span { "Custom" }
                        }
                        div #key-scopes .scope-choices hidden {
                            @for s in Scope::ALL {
                                label.checkbox {
                                    input type="checkbox" name="scope" value=(s.as_str());
                                    span.mono { (s.as_str()) }
                                }
                            }
                        }
                        p #key-scopes-error .field-error hidden {}
                    }
                    div #create-key-error .alert.alert-danger role="alert" hidden {}
                }
                div.dialog-foot {
                    button.btn.btn-secondary type="button" data-close { "Cancel" }
                    button #create-key-submit .btn.btn-primary type="submit" { "Generate key" }
                }
            }
            div #created-key-step .dialog-step hidden {
                div.dialog-body {
                    div.alert.alert-warning {
                        span.alert-icon { (icon("alert")) }
                        p #new-key-warning { strong { "This key will not be shown again. Store it in a secret manager." } }
                    }
                    div.field {
                        label for="new-key-secret" { "Your new key " span #created-key-name .muted {} }
                        div.secret-row {
                            // A textarea, so all 46 characters show at any width.
                            textarea #new-key-secret .mono.secret-value readonly rows="2" autocomplete="off"
                                spellcheck="false" aria-describedby="new-key-warning" {}
                            button #copy-key .btn.btn-secondary type="button" { (icon("copy")) span { "Copy" } }
                        }
                        p #copy-status .hint aria-live="polite" {}
                    }
                    p.hint {
                        "We store only a SHA-256 hash of the key, so we physically cannot show it again. If you lose "
                        "it, generate a new key and revoke this one."
                    }
                }
                div.dialog-foot {
                    button #dialog-done .btn.btn-primary type="button" data-close { "Done" }
                }
            }
        }
    }
}

fn revoke_dialog() -> Markup {
    html! {
        dialog #revoke-dialog .dialog.dialog-sm aria-labelledby="revoke-title" aria-describedby="revoke-text" {
            div.dialog-head {
                h2 #revoke-title { "Revoke API key" }
                button.icon-btn type="button" aria-label="Close" data-close { (icon("close")) }
            }
            div.dialog-body {
                p #revoke-text {
                    "Revoke " strong #revoke-key-name {} "? Scripts using it will start getting 401 from the next request."
                }
                p.hint { "Revocation is immediate and can't be undone." }
                div #revoke-error .alert.alert-danger role="alert" hidden {}
            }
            div.dialog-foot {
                button.btn.btn-secondary type="button" data-close { "Cancel" }
                button #confirm-revoke .btn.btn-danger type="button" { "Revoke key" }
            }
        }
    }
}

fn ips_dialog() -> Markup {
    html! {
        dialog #ips-dialog .dialog aria-labelledby="ips-title" {
            div.dialog-head {
                h2 #ips-title { "Allowed IPs" }
                button.icon-btn type="button" aria-label="Close" data-close { (icon("close")) }
            }
            form #ips-form .dialog-step novalidate {
                div.dialog-body {
                    p {
                        "Only requests from these source addresses may use " strong #ips-key-name {}
                        ". Leave the list empty to allow any source."
                    }
                    div.field {
                        label for="allowed-ips-input" { "IP addresses and CIDR ranges, one per line" }
                        textarea #allowed-ips-input .mono name="cidrs" rows="6" spellcheck="false" autocomplete="off"
                            aria-describedby="allowed-ips-hint allowed-ips-errors" {}
                        p #allowed-ips-hint .hint {
                            "IPv4 or IPv6, e.g. " code { "203.0.113.0/24" } " or " code { "2001:db8::/32" }
                            ". A single address is saved as /32 or /128."
                        }
                        ul #allowed-ips-errors .field-error hidden {}
                    }
                    div #ips-error .alert.alert-danger role="alert" hidden {}
                }
                div.dialog-foot {
                    button.btn.btn-secondary type="button" data-close { "Cancel" }
                    button #ips-save .btn.btn-primary type="submit" { "Save" }
                }
            }
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
