//! The delivery worker: off the request path, one per process. It claims
//! due deliveries (a lease, so several nodes never attempt the same one),
//! POSTs each through the outbound client with Standard Webhooks headers,
//! records the attempt and schedules the next by the retry schedule.
//!
//! It wakes at once after a commit in this process ([`Store::wake_webhooks`])
//! and polls every second for the rest (other nodes, the CLI, retries).
use super::metrics::WebhookMetrics;
use super::secret::MasterKey;
use super::RetrySchedule;
use crate::outbound::{OutboundClient, OutboundError};
use crate::store::{now_ms, ClaimedDelivery, DeliveryOutcome, Store};
use crate::usage::notify::Notifier;
use keyward_core::api::Timestamp;
use keyward_core::Plan;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// How long a claim holds a delivery: longer than an attempt can take
/// (15 s), so only a dead node's claims expire.
pub const LEASE_MS: i64 = 60_000;
/// Deliveries claimed (and attempted concurrently) at a time.
const BATCH: i64 = 32;
/// Events fanned out to deliveries per transaction.
const FAN_OUT_BATCH: i64 = 256;
/// Polling interval when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);
/// Finished deliveries and their events are kept this long.
const HISTORY_MS: i64 = 30 * 86_400_000;

/// What the worker needs; shared with the HTTP layer (which seals secrets).
pub struct Webhooks {
    pub client: OutboundClient,
    /// `None` on PostgreSQL without `--webhooks-secret-key`: hooks cannot be created.
    pub master: Option<MasterKey>,
    pub schedule: RetrySchedule,
    pub metrics: Arc<WebhookMetrics>,
    /// Claims this process holds now (released at a clean shutdown).
    pub claims: std::sync::Mutex<Vec<String>>,
}

/// The signed request of one delivery: body and headers.
pub struct SignedRequest {
    pub body: String,
    pub timestamp: i64,
    pub signature: String,
}

/// The event envelope `{"id","type","created_at","data"}` and its signature.
pub fn sign_event(d: &ClaimedDelivery, key: &[u8], now_s: i64) -> SignedRequest {
    let body = format!(
        "{{\"id\":{},\"type\":{},\"created_at\":{},\"data\":{}}}",
        serde_json::Value::from(d.event_id.as_str()),
        serde_json::Value::from(d.event_type.as_str()),
        serde_json::to_string(&Timestamp(d.event_created_at)).unwrap_or_else(|_| "null".into()),
        d.payload
    );
    let signature = super::sign::signature(key, &d.event_id, now_s, body.as_bytes());
    SignedRequest { body, timestamp: now_s, signature }
}

/// Run until aborted.
pub async fn run(store: Store, hooks: Arc<Webhooks>, notifier: Arc<Notifier>) {
    let mut last_gauges = 0i64;
    let mut last_cleanup = 0i64;
    loop {
        let now = now_ms();
        if now - last_gauges >= 5_000 {
            last_gauges = now;
            match store.webhook_gauges().await {
                Ok((pending, disabled)) => hooks.metrics.set_gauges(pending, disabled),
                Err(e) => tracing::warn!(error = ?e, "could not count webhook deliveries"),
            }
        }
        if now - last_cleanup >= 3_600_000 {
            last_cleanup = now;
            if let Err(e) = store.delete_webhook_history_before(now - HISTORY_MS).await {
                tracing::warn!(error = ?e, "could not delete old webhook deliveries");
            }
        }
        // New events become deliveries first (the request path wrote one
        // event row each; the per-hook rows are written here).
        loop {
            match store.fan_out_events(FAN_OUT_BATCH).await {
                Ok(n) if n == FAN_OUT_BATCH as u64 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = ?e, "could not fan out webhook events");
                    break;
                }
            }
        }
        let owner = keyward_core::ids::new_id("lease");
        hooks.claims.lock().unwrap_or_else(|e| e.into_inner()).push(owner.clone());
        let claimed = match store.claim_deliveries(&owner, now, LEASE_MS, BATCH).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = ?e, "could not claim webhook deliveries");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            hooks.claims.lock().unwrap_or_else(|e| e.into_inner()).retain(|o| *o != owner);
            tokio::select! {
                _ = store.webhooks_wake().notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            continue;
        }
        let mut set = JoinSet::new();
        for d in claimed {
            let hooks = Arc::clone(&hooks);
            set.spawn(async move {
                let outcome = outcome_of(&hooks, &d).await;
                hooks.metrics.observe(&outcome);
                (d, outcome)
            });
        }
        let mut done = Vec::with_capacity(set.len());
        while let Some(joined) = set.join_next().await {
            if let Ok(attempt) = joined {
                done.push(attempt);
            }
        }
        record(&store, &notifier, &done).await;
        hooks.claims.lock().unwrap_or_else(|e| e.into_inner()).retain(|o| *o != owner);
    }
}

/// After the worker was stopped: release the claims it still held.
pub async fn release_claims(store: &Store, hooks: &Webhooks) {
    let owners = std::mem::take(&mut *hooks.claims.lock().unwrap_or_else(|e| e.into_inner()));
    if owners.is_empty() {
        return;
    }
    match store.release_deliveries(&owners).await {
        Ok(n) if n > 0 => tracing::info!(deliveries = n, "webhook attempts in flight at shutdown will be retried"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = ?e, "could not release webhook claims; they expire in a minute"),
    }
}

/// Record a batch's outcomes (one transaction) and tell admins about the
/// hooks it disabled. If the store refuses, the leases expire and the
/// deliveries are attempted again (at least once).
async fn record(store: &Store, notifier: &Notifier, done: &[(ClaimedDelivery, DeliveryOutcome)]) {
    match store.finish_deliveries(done).await {
        Ok(disabled) => {
            for ((d, _), _) in done.iter().zip(disabled).filter(|(_, disabled)| *disabled) {
                notifier.hook_disabled(&d.workspace_id, &d.hook_id, &d.target_url, now_ms()).await;
            }
        }
        Err(e) => tracing::error!(error = ?e, attempts = done.len(), "could not record webhook attempts"),
    }
}

async fn outcome_of(hooks: &Webhooks, d: &ClaimedDelivery) -> DeliveryOutcome {
    if !d.hook_active {
        return DeliveryOutcome::Skipped { reason: "hook disabled" };
    }
    if !d.key_active {
        return DeliveryOutcome::Skipped { reason: "the key that created the hook is no longer active" };
    }
    // On the free plan nothing is delivered: such events are skipped, not
    // kept for an upgrade (the lists are the source of truth).
    if !d.plan.parse::<Plan>().is_ok_and(|p| p.has_api_access()) {
        return DeliveryOutcome::Skipped { reason: "plan_required" };
    }
    let retry_at = |now: i64| {
        let failed = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
        hooks.schedule.delay_after(failed).map(|delay| now + delay.as_millis() as i64)
    };
    let Some(key) = hooks.master.as_ref().and_then(|m| m.open(&d.hook_id, &d.secret_sealed)) else {
        tracing::error!(hook_id = %d.hook_id, "webhook secret cannot be decrypted: is --webhooks-secret-key the one it was created with?");
        return DeliveryOutcome::Failed {
            status: None,
            error: Some("secret cannot be decrypted".into()),
            duration_ms: 0,
            retry_at: retry_at(now_ms()),
        };
    };
    let signed = sign_event(d, &key, now_ms() / 1000);
    let ts = signed.timestamp.to_string();
    let headers = [
        ("webhook-id", d.event_id.as_str()),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", signed.signature.as_str()),
    ];
    let started = std::time::Instant::now();
    let res = hooks.client.post_json(&d.target_url, &headers, signed.body).await;
    let now = now_ms();
    match res {
        Ok(r) if (200..300).contains(&r.status) => {
            DeliveryOutcome::Delivered { status: r.status, duration_ms: r.duration.as_millis() as i64 }
        }
        Ok(r) if r.status == 410 => DeliveryOutcome::Gone { duration_ms: r.duration.as_millis() as i64 },
        Ok(r) => DeliveryOutcome::Failed {
            status: Some(r.status),
            error: None,
            duration_ms: r.duration.as_millis() as i64,
            retry_at: retry_at(now),
        },
        Err(e) => {
            let error = match &e {
                OutboundError::Url(_) | OutboundError::AddressNotAllowed => e.to_string(),
                other => other.to_string(),
            };
            tracing::info!(hook_id = %d.hook_id, kind = e.kind(), "webhook attempt failed");
            DeliveryOutcome::Failed {
                status: None,
                error: Some(error),
                duration_ms: started.elapsed().as_millis() as i64,
                retry_at: retry_at(now),
            }
        }
    }
}
