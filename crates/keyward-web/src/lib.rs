//! keyward's admin web page: *Settings → Other → API Keys* with the *API
//! Usage* section right below it, and the login page (SPEC §7).
//!
//! Pure rendering: every function here turns plain data (the JSON shapes of
//! [`keyward_core::api`]) into an HTML document or returns an embedded asset.
//! No I/O, no server code. The documents are complete without JavaScript (the
//! first response already holds the keys table and the usage figures);
//! `assets/app.js` only enhances them: generate/revoke/allowlist dialogs, the
//! key filter and in-place refreshes. Nothing inline: no `<script>` bodies,
//! no `style=""`, no event-handler attributes, so [`CSP`] can stay strict.
//!
//! All user-supplied text goes through maud, which escapes it. A key's secret
//! is never part of any server-rendered document.

mod assets;
mod audit;
pub mod docs;
mod fmt;
mod hooks;
mod keys;
mod layout;
mod login;
mod usage;

pub use assets::asset;
pub use audit::{render_rows as render_audit_rows, AuditView, PAGE_SIZE as AUDIT_PAGE_SIZE};
pub use hooks::HookRow;
pub use login::{render_login, LoginPage};

use keyward_core::api::{KeyObject, LeakReport, Notification, UsageReport, WorkspaceMembership};

/// The Content-Security-Policy the pages need: no external sources, no inline
/// script or style (all JS/CSS lives in the embedded assets).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where the page lives; the workspace switcher and the usage filter submit
/// GET forms here.
pub const API_KEYS_PATH: &str = "/settings/api-keys";

/// Everything `GET /settings/api-keys?workspace=ID[&key_id=ID]` renders.
pub struct ApiKeysPage<'a> {
    /// The signed-in user.
    pub user_email: &'a str,
    /// The session's CSRF token; goes into `<meta name="csrf-token">` for the
    /// script, which sends it as `X-CSRF-Token` on every mutating call.
    pub csrf_token: &'a str,
    /// All of the user's workspaces (a switcher is shown when more than one).
    pub workspaces: &'a [WorkspaceMembership],
    /// The workspace the page is about.
    pub current: &'a WorkspaceMembership,
    /// "Now" as unix milliseconds, for relative times ("3 minutes ago").
    pub now_ms: i64,
    /// The `/v1` base URL to show integrators (`{--public-url}/v1`).
    pub api_base_url: &'a str,
    pub state: PageState<'a>,
    /// The workspace's webhooks (shown to admins under the keys).
    pub hooks: &'a [HookRow],
    /// Where the workspace's leaked keys were found (shown in the keys
    /// table, which only admins see; empty for others).
    pub leaks: &'a [LeakReport],
    /// The first page of the audit log (admins only; `None` hides the card).
    pub audit: Option<AuditView<'a>>,
}

/// What the user may see in the current workspace.
pub enum PageState<'a> {
    /// A member or participant: "Only admins can manage API keys", no table.
    NotAdmin,
    /// An admin on the free plan: keys need a paid plan. Existing (suspended)
    /// keys can still be listed and revoked and usage read; no Generate button.
    PlanRequired {
        keys: &'a [KeyObject],
        usage: &'a UsageReport,
        notifications: &'a [Notification],
        key_filter: Option<&'a str>,
    },
    /// An admin on a paid plan: everything.
    Ready {
        keys: &'a [KeyObject],
        usage: &'a UsageReport,
        notifications: &'a [Notification],
        key_filter: Option<&'a str>,
    },
}

/// Renders the full API Keys settings document.
pub fn render_api_keys(p: &ApiKeysPage) -> String {
    keys::render(p)
}

/// One `<tr>` of the keys table, exactly as [`render_api_keys`] renders it
/// (`ready`: the workspace's plan has API access; `leaks`: where the
/// workspace's leaked keys were found). `app.js` swaps it in after a change.
pub fn render_key_row(key: &KeyObject, ready: bool, now_ms: i64, leaks: &[LeakReport]) -> String {
    keys::row_fragment(key, ready, now_ms, leaks)
}
