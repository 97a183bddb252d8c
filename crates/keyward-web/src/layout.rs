//! The document shell, the top bar and small shared pieces.

use crate::{assets, fmt, ApiKeysPage, API_KEYS_PATH};
use keyward_core::api::Timestamp;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The product name shown in titles and the top bar.
pub const PRODUCT: &str = "User Evaluation";

/// The `<head>` every page shares (the settings page and the docs), then
/// `extra`: its own stylesheets, scripts and meta tags.
pub(crate) fn head(title: &str, extra: Markup) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            meta name="referrer" content="same-origin";
            title { (title) }
            link rel="icon" type="image/svg+xml" href=(assets::url("favicon.svg"));
            link rel="stylesheet" href=(assets::url("app.css"));
            (extra)
        }
    }
}

/// A complete HTML document. `meta` goes into `<head>` (e.g. the CSRF token).
pub fn document(title: &str, body_class: &str, now_ms: i64, meta: Markup, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, html! { (meta) script src=(assets::url("app.js")) defer {} }))
            body class=(body_class) data-now-ms=(now_ms) {
                a.skip-link href="#main" { "Skip to main content" }
                (body)
            }
        }
    }
    .into_string()
}

/// `<time>` showing a relative time ("3 minutes ago") with the absolute UTC
/// time as tooltip; the script keeps it fresh (`data-relative`).
pub fn time_ago(ts: Timestamp, now_ms: i64) -> Markup {
    html! {
        time datetime=(ts.to_rfc3339()) title=(fmt::datetime_utc(ts)) data-relative {
            (fmt::relative(ts, now_ms))
        }
    }
}

/// `<time>` showing a date ("Nov 26, 2025").
pub fn time_date(ts: Timestamp) -> Markup {
    html! {
        time datetime=(ts.to_rfc3339()) title=(fmt::datetime_utc(ts)) { (fmt::date(ts)) }
    }
}

/// The brand mark (inline SVG, decorative).
pub fn logo() -> Markup {
    html! {
        svg.logo viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false" {
            rect width="32" height="32" rx="8" class="logo-bg" {}
            path class="logo-fg" d="M10 9v8a6 6 0 0 0 12 0V9" fill="none" stroke-width="3" stroke-linecap="round" {}
            circle class="logo-dot" cx="16" cy="25.5" r="1.8" {}
        }
    }
}

/// Decorative inline icons (stroke = currentColor).
pub fn icon(name: &str) -> Markup {
    let paths: &[&str] = match name {
        "trash" => &[
            "M3 6h18",
            "M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2",
            "M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6",
            "M10 11v6",
            "M14 11v6",
        ],
        "plus" => &["M12 5v14", "M5 12h14"],
        "copy" => &["M9 9h11v11H9z", "M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1"],
        "close" => &["M18 6 6 18", "M6 6l12 12"],
        "alert" => {
            &["M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z", "M12 9v4", "M12 17h.01"]
        }
        "lock" => &["M5 11h14v10H5z", "M8 11V7a4 4 0 0 1 8 0v4"],
        "key" => &[
            "M15.5 7.5a3.5 3.5 0 1 1-4.9 3.2L3 18.3V21h2.7l.8-.8V18.5H8.2v-1.7h1.7l2.5-2.5a3.5 3.5 0 0 1 3.1-6.8z",
            "M16.5 7.5h.01",
        ],
        "shield" => &["M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"],
        "pencil" => &["M12 20h9", "M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"],
        "logout" => &["M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4", "M16 17l5-5-5-5", "M21 12H9"],
        "sparkle" => {
            &["M12 3v4", "M12 17v4", "M3 12h4", "M17 12h4", "M6 6l2 2", "M16 16l2 2", "M6 18l2-2", "M16 8l2-2"]
        }
        _ => &[],
    };
    html! {
        svg.icon viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"
            fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" {
            @for d in paths { path d=(PreEscaped(*d)) {} }
        }
    }
}

/// A table's column headings, `th scope="col"` each: those named in
/// `numeric` right-aligned (`.num`), "Actions" in its own span.
pub(crate) fn thead(cols: &[&str], numeric: &[&str]) -> Markup {
    html! {
        thead {
            tr {
                @for c in cols {
                    @if *c == "Actions" {
                        th scope="col" { span.th-actions { (c) } }
                    } @else if numeric.contains(c) {
                        th.num scope="col" { (c) }
                    } @else {
                        th scope="col" { (c) }
                    }
                }
            }
        }
    }
}

/// A dialog's title bar: its `h2` (`id`, which the dialog is labelled by)
/// and the × button.
pub(crate) fn dialog_head(id: &str, title: &str) -> Markup {
    html! {
        div.dialog-head {
            h2 id=(id) { (title) }
            button.icon-btn type="button" aria-label="Close" data-close { (icon("close")) }
        }
    }
}

/// The warning above a secret shown once (`id` describes its field).
pub(crate) fn shown_once(id: &str, text: &str) -> Markup {
    html! {
        div.alert.alert-warning {
            span.alert-icon { (icon("alert")) }
            p id=(id) { strong { (text) } }
        }
    }
}

/// A dialog step's buttons: Cancel, then `action`.
pub(crate) fn dialog_foot(action: Markup) -> Markup {
    html! {
        div.dialog-foot {
            button.btn.btn-secondary type="button" data-close { "Cancel" }
            (action)
        }
    }
}

/// A form field: its label, the `input` (`id`, described by `{id}-hint` and
/// `{id}-error`), the hint, the error `app.js` fills, then `more`.
pub(crate) fn field(id: &str, label: &str, input: Markup, hint: &str, more: Markup) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            (input)
            p.hint id=(format!("{id}-hint")) { (hint) }
            p.field-error id=(format!("{id}-error")) hidden {}
            (more)
        }
    }
}

/// A dialog's form step: `body`, the alert `app.js` fills when the request
/// fails (`error_id`), then Cancel and the submit `action`.
pub(crate) fn form_step(form_id: &str, body: Markup, error_id: &str, action: Markup) -> Markup {
    html! {
        form.dialog-step id=(form_id) novalidate {
            div.dialog-body {
                (body)
                div.alert.alert-danger id=(error_id) role="alert" hidden {}
            }
            (dialog_foot(action))
        }
    }
}

/// The step that shows a new secret once (hidden until `app.js` fills it):
/// the [`shown_once`] warning (`warning_id`), the secret's `field`, then
/// `more`, and Done (`done_id` for the one `app.js` looks up).
pub(crate) fn secret_step(
    step_id: &str,
    (warning_id, warning): (&str, &str),
    field: Markup,
    more: Markup,
    done_id: Option<&str>,
) -> Markup {
    html! {
        div.dialog-step id=(step_id) hidden {
            div.dialog-body {
                (shown_once(warning_id, warning))
                div.field { (field) }
                (more)
            }
            div.dialog-foot {
                button.btn.btn-primary id=[done_id] type="button" data-close { "Done" }
            }
        }
    }
}

/// A section card's head: its `h2` (`heading_id`, which the section is
/// labelled by) with the number of items when given, the `intro` under it,
/// and `actions` beside them.
pub(crate) fn card_head(heading_id: &str, title: &str, count: Option<usize>, intro: Markup, actions: Markup) -> Markup {
    html! {
        div.card-head {
            div {
                h2 id=(heading_id) { (title) @if let Some(n) = count { span.count { (n) } } }
                p.muted { (intro) }
            }
            (actions)
        }
    }
}

/// The top bar: brand, workspace switcher, user, log out; then the breadcrumb.
pub fn topbar(p: &ApiKeysPage<'_>) -> Markup {
    html! {
        header.topbar {
            div.topbar-inner {
                a.brand href=(API_KEYS_PATH) {
                    (logo())
                    span.brand-name { (PRODUCT) }
                }
                div.topbar-right {
                    @if p.workspaces.len() > 1 {
                        form.ws-switcher method="get" action=(API_KEYS_PATH) {
                            label.sr-only for="workspace-select" { "Workspace" }
                            select #workspace-select name="workspace" {
                                @for w in p.workspaces {
                                    option value=(w.id) selected[w.id == p.current.id] {
                                        (w.name) " · " (fmt::title_case(w.plan.as_str()))
                                    }
                                }
                            }
                            button.btn.btn-secondary.btn-sm type="submit" { "Switch" }
                        }
                    } @else {
                        span.ws-current {
                            span.ws-name { (p.current.name) }
                            span.badge.badge-neutral { (fmt::title_case(p.current.plan.as_str())) }
                        }
                    }
                    div.user {
                        span.avatar aria-hidden="true" { (initial(p.user_email)) }
                        span.user-email { (p.user_email) }
                        button #logout .btn.btn-ghost.btn-sm type="button" {
                            (icon("logout")) span.btn-label { "Log out" }
                        }
                    }
                }
            }
        }
    }
}

fn initial(email: &str) -> String {
    email.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default()
}

/// `Settings › Other › API Keys`.
pub fn breadcrumb() -> Markup {
    html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            ol {
                li { "Settings" }
                li { "Other" }
                li aria-current="page" { "API Keys" }
            }
        }
    }
}
