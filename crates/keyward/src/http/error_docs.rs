//! What `/docs/errors` says about every problem `code`: one example of
//! each [`ApiError`] variant with its cause and fix, generated so that none
//! is missing.
//!
//! [`doc`] matches exhaustively on [`ApiErrorKind`] (derived from
//! [`ApiError`] by strum), so a new variant does not compile until it has
//! its one line here; the page iterates every kind. Codes the SPEC defines
//! for features that are not built yet are in [`PLANNED`]; each is shown
//! only while no variant has its code, so the variant's line takes over as
//! soon as it lands (and the planned entry can then be deleted).

use super::error::{ApiError, ApiErrorKind, FieldError};
use strum::IntoEnumIterator;

/// Where a code can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The public API, `/v1` (API key).
    V1,
    /// The admin API and page, `/api` (session).
    Admin,
    /// Both.
    Both,
}

impl Surface {
    pub fn label(self) -> &'static str {
        match self {
            Surface::V1 => "`/v1`",
            Surface::Admin => "`/api` (admin API and page)",
            Surface::Both => "`/v1` and `/api`",
        }
    }
}

/// One documented error.
pub struct ErrorDoc {
    /// An error of this kind as keyward produces it (its `code`, status and
    /// a typical `detail`).
    pub example: ApiError,
    pub surface: Surface,
    /// Why it happens.
    pub cause: &'static str,
    /// What the client should do.
    pub fix: &'static str,
}

fn d(example: ApiError, surface: Surface, cause: &'static str, fix: &'static str) -> ErrorDoc {
    ErrorDoc { example, surface, cause, fix }
}

/// The docs of one kind of error: add a line here with every new variant.
pub fn doc(kind: ApiErrorKind) -> ErrorDoc {
    use ApiErrorKind as K;
    use Surface::*;
    match kind {
        K::InvalidApiKey => d(ApiError::InvalidApiKey("unknown API key"), V1,
            "The `Authorization: Bearer …` header is missing, is not a `ue_live_` key, fails the key's built-in checksum (a typo or a truncated copy), or names a key that does not exist.",
            "Send `Authorization: Bearer ue_live_…` with the full 46-character key as it was shown when it was generated. Lost it? Generate a new key; keyward cannot show an old one again."),
        K::ApiKeyRevoked => d(ApiError::ApiKeyRevoked("this API key was revoked at 2025-11-26T22:19:55.123Z (manually by a workspace admin)".into()), V1,
            "The key was revoked: by an admin (trash icon), by support, or automatically (sustained 401/422 errors, or found leaked). Revocation is immediate; `detail` says when and how.",
            "Generate a new key under Settings → Other → API Keys and update the client. If it was revoked automatically, find out why (the page's banner says) before you deploy the new one."),
        K::ApiKeyExpired => d(ApiError::ApiKeyExpired("this API key expired at 2025-11-26T22:19:55.123Z; an admin can generate a new one (or roll a key before it expires)".into()), V1,
            "The key had an expiry (`expires_at`) and it has passed, or it was rotated and its grace period ended; `detail` says when. From that instant on, on every node.",
            "Use the key that replaced it (`rolled_to` in the admin API) or generate a new one. Rotate keys before they expire: the page calls out keys that expire within 7 days."),
        K::InsufficientScope => d(ApiError::InsufficientScope("this API key lacks the studies:write scope, which POST /v1/studies needs".into()), V1,
            "The key's `scopes` do not include the one this operation needs; `detail` names it, and the reference lists each operation's scope. The answer carries the rate-limit headers.",
            "Use a key with that scope, or generate one with it (`GET /v1/me` shows a key's scopes and needs none)."),
        K::KeyNotActive => d(ApiError::KeyNotActive("this key was revoked at 2025-11-26T22:19:55.123Z; a revoked key cannot be rolled: generate a new one".into()), Admin,
            "A roll (`POST …/api-keys/{id}/roll`) of a key that is revoked, expired or already rolled; `detail` says which.",
            "Generate a new key instead, or roll the key it was already rolled to."),
        K::IpNotAllowed => d(ApiError::IpNotAllowed("203.0.113.7".into()), V1,
            "The key has an IP allowlist and the request came from another address (as keyward sees it: the TCP peer, or `X-Forwarded-For` behind a trusted proxy).",
            "Call from an allowed address, or ask an admin to add this one to the key's allowed IPs. These 401s count toward automatic revocation."),
        K::PlanRequired => d(ApiError::PlanRequired, Both,
            "The workspace is on the free plan: its keys are suspended (`/v1`) and no new key can be generated (`/api`).",
            "Upgrade the workspace to starter, pro or enterprise; existing keys work again at once."),
        K::RateLimited => d(ApiError::RateLimited { limit: 300, per: "minute", retry_after: 12 }, V1,
            "The key made its plan's number of successful requests in the last 60 seconds (starter 60, pro 300, enterprise 1000), or this address sent 60 leak reports (`POST /v1/leaked-keys`) in the last hour. The problem `type` is IANA's `https://iana.org/assignments/http-problem-types#quota-exceeded`.",
            "Wait `Retry-After` seconds, then retry; a request then succeeds. Spread requests out (see Rate limits). 429s do not count against the limit."),
        K::TooManyFailedAuth => d(ApiError::TooManyFailedAuth(41), V1,
            "More than 30 requests with missing, malformed or unknown keys came from this client IP (IPv6: its /64) in 60 seconds. Valid keys from the same address keep working.",
            "Fix the key the client sends, then retry after `Retry-After` seconds."),
        K::TooManyLoginAttempts => d(ApiError::TooManyLoginAttempts(30), Admin,
            "Too many failed sign-ins in the last minute: 5 for one email from this client IP, 50 for one email from all addresses, or 20 from this client IP.",
            "Wait `Retry-After` seconds; check the email and password."),
        K::InvalidSignature => d(ApiError::InvalidSignature("the signature does not match the body"), V1,
            "A secret-scanning report (`POST /v1/secret-scanning/github`) with a missing or bad `Github-Public-Key-Signature`, or an unknown `Github-Public-Key-Identifier`. Nothing was changed.",
            "Only GitHub calls this endpoint; sign the raw body with the current key."),
        K::Unauthenticated => d(ApiError::Unauthenticated, Admin,
            "The admin API call has no valid session cookie (never signed in, signed out, or the session ended after 12 hours idle or 7 days).",
            "Sign in again (`POST /api/session` or the login page)."),
        K::InvalidCredentials => d(ApiError::InvalidCredentials, Admin,
            "Wrong email or password at `POST /api/session` (one answer for both).",
            "Check both and try again; after too many attempts you get `too_many_login_attempts`."),
        K::CsrfFailed => d(ApiError::CsrfFailed, Admin,
            "A mutating admin API call without the session's token in `X-CSRF-Token`.",
            "Send the `csrf_token` returned by `POST /api/session` as `X-CSRF-Token` on every POST, PUT and DELETE."),
        K::Forbidden => d(ApiError::Forbidden("only admins and superadmins can manage API keys"), Admin,
            "Your role in the workspace does not allow this (keys and usage are for admins and superadmins).",
            "Ask an admin of the workspace to do it, or to make you an admin."),
        K::NotFound => d(ApiError::NotFound, Both,
            "No such route, or no such resource in this workspace. Another workspace's ids answer 404 too, never 403: their existence is not revealed.",
            "Check the path and the id; ids are only valid with a key of the workspace that owns them."),
        K::MethodNotAllowed => d(ApiError::MethodNotAllowed, Both,
            "The route exists but not with this method; the `Allow` header lists the methods it has.",
            "Use one of the methods in `Allow` (see the reference)."),
        K::InvalidJson => d(ApiError::InvalidJson("the body is not valid JSON (line 1, column 9)".into()), Both,
            "The request body could not be parsed as JSON; `detail` says where.",
            "Send a valid JSON object with `Content-Type: application/json`."),
        K::BadRequest => d(ApiError::BadRequest("the request could not be read"), Both,
            "The request could not be read (for example a malformed header or query string).",
            "Check what the client sends; quote the `request_id` to support if it looks right."),
        K::PayloadTooLarge => d(ApiError::PayloadTooLarge, Both,
            "The body is larger than 1 MiB.",
            "Send less per request: create transcripts one at a time (up to 10000 segments each)."),
        K::UnsupportedMediaType => d(ApiError::UnsupportedMediaType("send the body as Content-Type: application/json"), Both,
            "A request body sent with another `Content-Type` than `application/json`.",
            "Set `Content-Type: application/json`."),
        K::Validation => d(ApiError::Validation(vec![
                FieldError::new("participant.name", "empty", "must not be empty"),
                FieldError::new("segments[0].end_ms", "before_start", "must not be less than start_ms"),
            ]), Both,
            "Fields or query parameters are wrong: missing, unknown, of the wrong type, empty, too long or out of range. `errors` lists each one with its JSON path (`field`), a stable `code` and a message; nothing was changed.",
            "Fix every field listed in `errors`. The reference gives each field's type and limits."),
        K::LimitReached => d(ApiError::LimitReached("this workspace already has 100 active keys; revoke one before generating another"), Admin,
            "A workspace limit was reached, such as 100 active keys.",
            "Revoke what you no longer use, then try again."),
        K::HookLimitReached => d(ApiError::HookLimitReached, Both,
            "The workspace already has 100 webhooks (REST hooks and key-event hooks together, disabled ones included).",
            "Delete hooks you no longer use (`DELETE /v1/hooks/{id}`, or from the API Keys page), then subscribe again."),
        K::TargetNotAllowed => d(ApiError::TargetNotAllowed(vec![
                FieldError::new("target_url", "target_not_allowed", "points to an address that is not allowed (loopback, private, link-local, …)"),
            ]), Both,
            "The hook's `target_url` holds an IP address keyward does not deliver to, in any spelling: loopback, private (RFC 1918), link-local (incl. 169.254.169.254), CGNAT, unique-local, unspecified, multicast or broadcast. A name that resolves to one is refused at each delivery instead.",
            "Use a public `https://` URL. On-premises installs can allow private targets with `--webhooks-allow-private`."),
        K::WebhooksUnavailable => d(ApiError::WebhooksUnavailable, Both,
            "The server runs on PostgreSQL without `--webhooks-secret-key`, the master key that encrypts hook secrets, so it cannot create hooks.",
            "The operator sets `--webhooks-secret-key` (32 bytes, the same on every node) and restarts; then subscribe again."),
        K::Conflict => d(ApiError::Conflict("this conflicts with an existing resource"), Both,
            "The request conflicts with the current state of the resource, for example a value that must be unique is already taken.",
            "Read the resource again, then change the request to fit its current state."),
        K::Unavailable => d(ApiError::Unavailable, Both,
            "keyward's storage did not answer (or, for a secret-scanning report, GitHub's public keys could not be fetched); nothing was authenticated or changed.",
            "Retry with backoff; it is temporary."),
        K::Overloaded => d(ApiError::Overloaded(1), Admin,
            "Every password-check slot was busy (a burst of sign-ins): `POST /api/session` checked nothing. It answers 503 with `Retry-After`.",
            "Retry after `Retry-After` seconds."),
        K::Internal => d(ApiError::Internal(anyhow::anyhow!("example")), Both,
            "An unexpected error on keyward's side. It is logged with the request id; nothing about it is in the answer.",
            "Retry later; if it persists, send the `request_id` to support."),
    }
}

/// A code the SPEC defines for a feature keyward does not produce yet.
pub struct PlannedCode {
    pub code: &'static str,
    pub status: u16,
    pub surface: Surface,
    pub cause: &'static str,
    pub fix: &'static str,
}

/// SPEC §9–12 codes, shown on `/docs/errors` until a variant has the code.
pub const PLANNED: &[PlannedCode] = &[];

/// Every kind of error keyward can answer with, each once.
pub fn catalogue() -> Vec<ErrorDoc> {
    let mut all: Vec<ErrorDoc> = ApiErrorKind::iter().map(doc).collect();
    all.sort_by_key(|e| e.example.status().as_u16());
    all
}

/// The planned codes that no variant has yet.
pub fn planned() -> Vec<&'static PlannedCode> {
    let built: Vec<&str> = ApiErrorKind::iter().map(|k| doc(k).example.code()).collect();
    PLANNED.iter().filter(|p| !built.contains(&p.code)).collect()
}

fn status_line(status: u16) -> String {
    let reason = axum::http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
    format!("{status} {reason}")
}

/// The generated part of `/docs/errors`, as Markdown: a table of every code,
/// then a section per code (anchor = the code, as in problem `type` URLs).
pub fn markdown() -> String {
    let all = catalogue();
    let planned = planned();
    let mut rows: Vec<(u16, String, String)> = all
        .iter()
        .map(|e| (e.example.status().as_u16(), e.example.code().to_string(), String::new()))
        .chain(planned.iter().map(|p| (p.status, p.code.to_string(), " (SPEC, coming)".to_string())))
        .collect();
    rows.sort();
    let mut md = String::from("## Every code\n\n| status | code |\n|---|---|\n");
    for (status, code, note) in &rows {
        md.push_str(&format!("| {} | [`{code}`](#{code}){note} |\n", status_line(*status)));
    }
    md.push('\n');
    for (status, code, _) in &rows {
        if let Some(e) = all.iter().find(|e| e.example.code() == code) {
            md.push_str(&section(code, *status, e.surface, e.cause, e.fix, Some(&e.example)));
        } else if let Some(p) = planned.iter().find(|p| p.code == code) {
            md.push_str(&section(code, *status, p.surface, p.cause, p.fix, None));
        }
    }
    md
}

fn section(code: &str, status: u16, surface: Surface, cause: &str, fix: &str, example: Option<&ApiError>) -> String {
    let mut s = format!(
        "### `{code}` {{#{code}}}\n\n**{}** · from {}{}\n\n**Cause.** {cause}\n\n**Fix.** {fix}\n\n",
        status_line(status),
        surface.label(),
        if example.is_none() { " · specified in SPEC §9–12, being built" } else { "" },
    );
    if let Some(e) = example {
        let json = e.problem_json_pretty("01JDA9V7QK3M2X8Y6Z5W4T3R2P");
        s.push_str(&format!("```json\n{json}\n```\n\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_code_and_its_example_is_of_that_kind() {
        let mut codes = std::collections::HashSet::new();
        for kind in ApiErrorKind::iter() {
            let e = doc(kind).example;
            assert_eq!(ApiErrorKind::from(&e), kind, "the example of {kind:?} is another kind");
            assert!(codes.insert(e.code()), "two kinds share {}", e.code());
        }
    }

    #[test]
    fn the_markdown_has_a_section_per_code() {
        let md = markdown();
        for e in catalogue() {
            assert!(md.contains(&format!("{{#{}}}", e.example.code())), "{} missing", e.example.code());
        }
        for p in planned() {
            assert!(md.contains(&format!("{{#{}}}", p.code)), "{} missing", p.code);
        }
    }
}
