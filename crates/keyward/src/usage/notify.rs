//! Telling a workspace's admins that a key was revoked automatically (error
//! rate, or reported leaked): a
//! notification row (the banner on the page, `GET .../notifications`) and,
//! when `--notify-webhook-url` is set, a JSON POST retried with exponential
//! backoff. Delivery runs in its own tasks, off the batch writer's path.
//! Notices name the key (id, name) and the counts; never a secret.
use super::autorevoke::Revoked;
use super::metrics::UsageMetrics;
use crate::store::{NewNotification, Store};
use keyward_core::api::Timestamp;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// The notification kind of an automatic revocation.
pub const KIND_AUTO_REVOKED: &str = "key.auto_revoked";
/// The notification kind of a webhook disabled for failing.
pub const KIND_HOOK_DISABLED: &str = "hook.disabled";
/// The notification kind of a revocation for a leak report (SPEC §11).
pub const KIND_LEAKED: &str = "key.leaked";

/// A key just revoked because it was reported leaked. Never the secret.
#[derive(Debug, Clone)]
pub struct LeakedKey<'a> {
    pub workspace_id: &'a str,
    pub key_id: &'a str,
    pub key_name: &'a str,
    /// `github` or `public`.
    pub reporter: &'a str,
    pub source: Option<&'a str>,
    pub url: Option<&'a str>,
}

/// Webhook delivery: attempts and the first backoff (doubling each time).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for Retry {
    /// 5 attempts over about 7.5 s (0.5, 1, 2, 4 s apart).
    fn default() -> Self {
        Retry { attempts: 5, first_backoff: Duration::from_millis(500) }
    }
}

/// Parse `--notify-webhook-url`: an `https://` or `http://` URL without
/// user-info. The operator chose it, so it may be an internal relay (the
/// SSRF guard of customer webhooks does not apply). Failing here, at
/// start-up, beats a notice that can never be delivered.
pub fn parse_webhook_url(url: &str) -> anyhow::Result<reqwest::Url> {
    crate::outbound::check_url(url, crate::outbound::Policy::operator())
        .map_err(|e| anyhow::anyhow!("--notify-webhook-url {e}"))
}

struct Webhook {
    client: crate::outbound::OutboundClient,
    url: String,
    retry: Retry,
}

/// Sends notices about automatic revocations.
pub struct Notifier {
    store: Store,
    webhook: Option<Arc<Webhook>>,
    metrics: Arc<UsageMetrics>,
    deliveries: Mutex<JoinSet<()>>,
}

impl Notifier {
    /// A notifier writing notification rows and, with `webhook_url`, POSTing.
    pub fn new(
        store: Store,
        webhook_url: Option<&str>,
        retry: Retry,
        metrics: Arc<UsageMetrics>,
    ) -> anyhow::Result<Self> {
        let webhook = match webhook_url {
            None => None,
            Some(u) => Some(Arc::new(Webhook {
                url: parse_webhook_url(u)?.to_string(),
                client: crate::outbound::OutboundClient::new(crate::outbound::Policy::operator())?,
                retry,
            })),
        };
        Ok(Notifier { store, webhook, metrics, deliveries: Mutex::new(JoinSet::new()) })
    }

    /// Record the notification and start the webhook delivery (if any).
    /// Failures are logged, never returned: the revocation already happened.
    pub async fn auto_revoked(&self, r: &Revoked, now_ms: i64) {
        let (ws, key) =
            (keyward_core::WorkspaceId::new(r.workspace_id.as_str()), keyward_core::KeyId::new(r.key_id.as_str()));
        let name = match self.store.key(&ws, &key).await {
            Ok(k) => k.name,
            Err(e) => {
                tracing::warn!(error = ?e, key_id = %r.key_id, "could not read the auto-revoked key's name");
                r.key_id.clone()
            }
        };
        let message = auto_revoked_message(&name, r);
        let note = NewNotification {
            workspace_id: &r.workspace_id,
            at_ms: now_ms,
            kind: KIND_AUTO_REVOKED,
            key_id: Some(&r.key_id),
            message: &message,
        };
        self.notify(&note, || {
            json!({
                "key_id": r.key_id,
                "key_name": name,
                "reason": keyward_core::RevokeReason::AutoErrorRate,
                "errors": r.errors,
                "requests": r.requests,
                "window_secs": r.window_secs,
                "ratio": r.ratio,
                "by_code": r.by_code.iter().map(|(c, n)| (c.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .await;
    }

    /// A key was revoked as leaked: the banner notification and the
    /// webhook, like [`Notifier::auto_revoked`]. Failures are logged.
    pub async fn leaked(&self, k: &LeakedKey<'_>, now_ms: i64) {
        let name = k.key_name;
        let found = match (k.reporter, k.url) {
            ("github", Some(url)) => format!(
                "GitHub secret scanning found it in a public {} at {url}",
                k.source.filter(|s| !s.is_empty()).unwrap_or("place")
            ),
            ("github", None) => "GitHub secret scanning found it in public content".to_string(),
            _ => "someone who found it reported it through the public leak report endpoint".to_string(),
        };
        let message = format!(
            "The API key \u{201c}{name}\u{201d} was revoked automatically because it was found leaked: {found}. \
             Generate a new key, update the integration that used it, and remove the key from where it was published."
        );
        let note = NewNotification {
            workspace_id: k.workspace_id,
            at_ms: now_ms,
            kind: KIND_LEAKED,
            key_id: Some(k.key_id),
            message: &message,
        };
        self.notify(&note, || {
            json!({
                "key_id": k.key_id,
                "key_name": name,
                "reason": keyward_core::RevokeReason::Leaked,
                "reporter": k.reporter,
                "source": k.source,
                "url": k.url,
            })
        })
        .await;
    }

    /// Start delivering `body` to the webhook (if any), off the caller's path.
    fn send(&self, body: serde_json::Value) {
        let Some(hook) = self.webhook.clone() else { return };
        let metrics = Arc::clone(&self.metrics);
        let mut set = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        while set.try_join_next().is_some() {}
        set.spawn(deliver(hook, body, metrics));
    }

    /// Tell the admins that a webhook was disabled because its last events
    /// were all given up (banner + notify webhook). Names the hook and the
    /// target's host only: a target URL may carry a token in its path.
    pub async fn hook_disabled(&self, workspace_id: &str, hook_id: &str, target_url: &str, now_ms: i64) {
        let host = url::Url::parse(target_url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let message = format!(
            "The webhook to {host} ({hook_id}) was disabled: its last {} events could not be delivered after every \
             retry. Fix the receiver, then delete the hook and subscribe again.",
            crate::webhooks::DISABLE_AFTER_GIVEN_UP
        );
        let note =
            NewNotification { workspace_id, at_ms: now_ms, kind: KIND_HOOK_DISABLED, key_id: None, message: &message };
        self.notify(&note, || json!({ "hook_id": hook_id, "target_host": host })).await;
    }

    /// Store `note` as a banner and, with a webhook, start POSTing it: its
    /// kind as `type`, `notification_id`, `at`, `workspace_id` and `message`,
    /// with the notice's own `fields`.
    async fn notify(&self, note: &NewNotification<'_>, fields: impl FnOnce() -> serde_json::Value) {
        let id = self.keep(note).await;
        if self.webhook.is_none() {
            return;
        }
        let mut body = json!({
            "type": note.kind,
            "notification_id": id,
            "at": Timestamp(note.at_ms),
            "workspace_id": note.workspace_id,
            "message": note.message,
        });
        if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), fields()) {
            body.extend(fields);
        }
        self.send(body);
    }

    /// Store a banner notification; its id, or `None` (logged) when the
    /// store refused it: the webhook goes out all the same.
    async fn keep(&self, note: &NewNotification<'_>) -> Option<String> {
        match self.store.insert_notification(note).await {
            Ok(n) => Some(n.id),
            Err(e) => {
                tracing::error!(error = ?e, kind = note.kind, key_id = ?note.key_id, "could not store a notification");
                None
            }
        }
    }

    /// At shutdown: give deliveries in flight up to `max` to finish.
    pub async fn drain(&self, max: Duration) {
        let mut set = std::mem::take(&mut *self.deliveries.lock().unwrap_or_else(|e| e.into_inner()));
        let all = async { while set.join_next().await.is_some() {} };
        if tokio::time::timeout(max, all).await.is_err() {
            tracing::warn!("webhook notices still being retried at shutdown were abandoned");
        }
    }
}

async fn deliver(hook: Arc<Webhook>, body: serde_json::Value, metrics: Arc<UsageMetrics>) {
    let mut backoff = hook.retry.first_backoff;
    for attempt in 1..=hook.retry.attempts {
        match hook.client.post_json(&hook.url, &[], body.to_string()).await {
            Ok(d) if (200..300).contains(&d.status) => {
                metrics.webhook_delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            // Only the status or the error kind: the URL may carry a token.
            Ok(d) => tracing::warn!(attempt, status = d.status, "notify webhook refused the notice"),
            Err(e) => tracing::warn!(attempt, error = %e, "notify webhook failed"),
        }
        if attempt < hook.retry.attempts {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    metrics.webhook_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::error!(attempts = hook.retry.attempts, "gave up delivering a revocation notice to the webhook");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_may_be_http_or_https() {
        assert!(parse_webhook_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(parse_webhook_url("https://hooks.example.com/x").is_ok());
        assert!(parse_webhook_url("https://u:p@hooks.example.com/x").is_err());
        assert!(parse_webhook_url("ftp://hooks.example.com/x").is_err());
        assert!(parse_webhook_url("not a url").is_err());
    }
}

/// What an auto-revocation notice says: what happened (the errors by code,
/// as measured) and what to do about that kind of error.
pub fn auto_revoked_message(name: &str, r: &Revoked) -> String {
    let counts: Vec<String> = r.by_code.iter().map(|(code, n)| format!("{n} \u{00d7} {}", describe(code))).collect();
    let what = if counts.is_empty() { format!("{} errors", r.errors) } else { counts.join(", ") };
    let ip = r.by_code.iter().any(|(c, _)| c == "ip_not_allowed");
    let invalid = r.by_code.iter().any(|(c, _)| c != "ip_not_allowed");
    let mut todo = Vec::new();
    if invalid {
        todo.push(
            "Fix the requests the integration sends (the problem bodies name each invalid field; \
             Recent requests below shows them)",
        );
    }
    if ip {
        todo.push(
            "Check the source IPs: if the requests are yours, add their addresses to the new key's allowlist; \
             if they are not, the key has leaked",
        );
    }
    if todo.is_empty() {
        todo.push("Check the integration that used the key");
    }
    format!(
        "The API key \u{201c}{name}\u{201d} was revoked automatically after {} of its {} requests in the last {} s \
         were refused: {what}. {}, then generate a new key.",
        r.errors,
        r.requests,
        r.window_secs,
        todo.join(". ")
    )
}

fn describe(code: &str) -> String {
    match code {
        "ip_not_allowed" => "401 ip_not_allowed (source IP outside the key's allowlist)".to_string(),
        "validation_failed" => "422 validation_failed (invalid input)".to_string(),
        other => format!("422 {other}"),
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    fn revoked(by_code: &[(&str, u64)]) -> Revoked {
        Revoked {
            workspace_id: "ws_1".into(),
            key_id: "key_1".into(),
            errors: by_code.iter().map(|(_, n)| n).sum(),
            requests: 130,
            window_secs: 300,
            ratio: 0.9,
            by_code: by_code.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn a_422_flood_is_described_as_invalid_input_without_blaming_a_leak() {
        let m = auto_revoked_message("Zapier", &revoked(&[("validation_failed", 120)]));
        assert!(m.contains("120 \u{00d7} 422 validation_failed"), "{m}");
        assert!(m.contains("Fix the requests"), "{m}");
        assert!(!m.contains("leak") && !m.contains("allowlist"), "{m}");
    }

    #[test]
    fn ip_refusals_say_to_check_the_allowlist_or_the_leak() {
        let m = auto_revoked_message("CI", &revoked(&[("ip_not_allowed", 100), ("validation_failed", 3)]));
        assert!(m.contains("100 \u{00d7} 401 ip_not_allowed") && m.contains("3 \u{00d7} 422"), "{m}");
        assert!(m.contains("allowlist") && m.contains("leaked") && m.contains("Fix the requests"), "{m}");
    }
}
