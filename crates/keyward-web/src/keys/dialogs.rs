//! The page's dialogs: generate, rotate, revoke and the IP allowlist.

use crate::layout::{dialog_foot, dialog_head, field, form_step, icon, secret_step};
use keyward_core::Scope;
use maud::{html, Markup};

/// The warning over a new key, in the generate and the rotate dialog.
const KEY_SHOWN_ONCE: &str = "This key will not be shown again. Store it in a secret manager.";

pub(super) fn rotate_dialog() -> Markup {
    let graces: [(&str, &str, bool); 4] = [
        ("0", "Immediately", false),
        ("3600", "After 1 hour", false),
        ("86400", "After 24 hours", true),
        ("604800", "After 7 days", false),
    ];
    html! {
        dialog #rotate-dialog .dialog aria-labelledby="rotate-title" {
            (dialog_head("rotate-title", "Rotate API key"))
            (form_step("rotate-form", html! {
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
            }, "rotate-error", html! {
                button #rotate-submit .btn.btn-primary type="submit" { "Rotate key" }
            }))
            (secret_step("rotated-key-step", ("rotated-key-warning", KEY_SHOWN_ONCE), html! {
                label for="rotated-key-secret" { "Your new key " span #rotated-key-name .muted {} }
                div.secret-row {
                    input #rotated-key-secret .mono type="text" readonly autocomplete="off" spellcheck="false"
                        aria-describedby="rotated-key-warning";
                    button #copy-rotated-key .btn.btn-secondary type="button" { (icon("copy")) span { "Copy" } }
                }
                p #rotated-copy-status .hint aria-live="polite" {}
            }, html! {
                p #rotated-key-until .hint {}
            }, None))
        }
    }
}

pub(super) fn generate_dialog() -> Markup {
    html! {
        dialog #generate-dialog .dialog aria-labelledby="generate-title" {
            div.dialog-head {
                h2 #generate-title { "Generate API key" }
                button #dialog-close .icon-btn type="button" aria-label="Close" data-close { (icon("close")) }
            }
            (form_step("create-key-form", html! {
                p { "Give the key a name so you can tell your keys apart later." }
                (field("key-name", "Name", html! {
                    input #key-name type="text" name="name" maxlength="100" required autocomplete="off"
                        aria-describedby="key-name-hint key-name-error";
                }, "For example “Zapier — onboarding study”. Up to 100 characters.", html! {
                    // app.js: a name another key already has is allowed, with this warning.
                    p #key-name-duplicate .hint.hint-warning aria-live="polite" hidden {}
                }))
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
            }, "create-key-error", html! {
                button #create-key-submit .btn.btn-primary type="submit" { "Generate key" }
            }))
            (secret_step("created-key-step", ("new-key-warning", KEY_SHOWN_ONCE), html! {
                label for="new-key-secret" { "Your new key " span #created-key-name .muted {} }
                div.secret-row {
                    // A textarea, so all 46 characters show at any width.
                    textarea #new-key-secret .mono.secret-value readonly rows="2" autocomplete="off"
                        spellcheck="false" aria-describedby="new-key-warning" {}
                    button #copy-key .btn.btn-secondary type="button" { (icon("copy")) span { "Copy" } }
                }
                p #copy-status .hint aria-live="polite" {}
            }, html! {
                p.hint {
                    "We store only a SHA-256 hash of the key, so we physically cannot show it again. If you lose "
                    "it, generate a new key and revoke this one."
                }
            }, Some("dialog-done")))
        }
    }
}

pub(super) fn revoke_dialog() -> Markup {
    html! {
        dialog #revoke-dialog .dialog.dialog-sm aria-labelledby="revoke-title" aria-describedby="revoke-text" {
            (dialog_head("revoke-title", "Revoke API key"))
            div.dialog-body {
                p #revoke-text {
                    "Revoke " strong #revoke-key-name {} "? Scripts using it will start getting 401 from the next request."
                }
                p.hint { "Revocation is immediate and can't be undone." }
                div #revoke-error .alert.alert-danger role="alert" hidden {}
            }
            (dialog_foot(html! { button #confirm-revoke .btn.btn-danger type="button" { "Revoke key" } }))
        }
    }
}

pub(super) fn ips_dialog() -> Markup {
    html! {
        dialog #ips-dialog .dialog aria-labelledby="ips-title" {
            (dialog_head("ips-title", "Allowed IPs"))
            (form_step("ips-form", html! {
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
            }, "ips-error", html! {
                button #ips-save .btn.btn-primary type="submit" { "Save" }
            }))
        }
    }
}
