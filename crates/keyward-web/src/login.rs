//! `GET /login`.

use crate::layout::{self, PRODUCT};
use maud::html;

/// What `GET /login` renders.
pub struct LoginPage<'a> {
    /// A message to show above the form (e.g. "Your session has expired").
    pub error: Option<&'a str>,
    /// Pre-fills the email field.
    pub email: Option<&'a str>,
    /// Where to go after signing in; only a same-origin path is honoured.
    pub next: Option<&'a str>,
}

/// A same-origin path (`/settings/api-keys?workspace=..`), never a URL that
/// leaves the site (`//evil`, `https://..`, `/\evil`): no open redirect.
pub(crate) fn safe_next(next: Option<&str>) -> Option<&str> {
    let n = next?;
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && !n.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(n)
}

/// The full login document. The form is submitted by `app.js` as JSON to
/// `POST /api/session`, then the browser goes to `next` (or the API Keys page).
pub fn render_login(p: &LoginPage<'_>) -> String {
    let next = safe_next(p.next).unwrap_or(crate::API_KEYS_PATH);
    let body = html! {
        main #main .auth {
            div.auth-card {
                div.auth-brand {
                    (layout::logo())
                    span.brand-name { (PRODUCT) }
                }
                h1 { "Sign in" }
                p.muted { "Manage your workspace's API keys and usage." }
                div #login-error .alert.alert-danger role="alert" hidden[p.error.is_none()] {
                    (p.error.unwrap_or(""))
                }
                noscript {
                    p.alert.alert-warning { "Signing in needs JavaScript. Please enable it for this site." }
                }
                form #login-form method="post" action="/api/session" novalidate {
                    input #login-next type="hidden" name="next" value=(next);
                    div.field {
                        label for="login-email" { "Email" }
                        input #login-email type="email" name="email" autocomplete="username" required
                            autocapitalize="none" spellcheck="false" value=[p.email] autofocus[p.email.is_none()];
                    }
                    div.field {
                        label for="login-password" { "Password" }
                        input #login-password type="password" name="password" autocomplete="current-password"
                            required autofocus[p.email.is_some()];
                    }
                    button #login-submit .btn.btn-primary.btn-block type="submit" { "Sign in" }
                }
            }
            p.auth-foot.muted { "API keys act on behalf of your whole workspace. Keep them in a secret manager." }
        }
    };
    layout::document(&format!("Sign in · {PRODUCT}"), "page-login", 0, html! {}, body)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_stay_on_site() {
        assert_eq!(safe_next(Some("/settings/api-keys?workspace=ws_1")), Some("/settings/api-keys?workspace=ws_1"));
        for bad in ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }
}
