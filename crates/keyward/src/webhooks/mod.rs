//! Webhooks (SPEC §9): REST hooks for `/v1` resources and key-event hooks
//! for admins, delivered off the request path from a transactional outbox.
//!
//! - [`EventType`]: every event keyward announces;
//! - [`secret`]: `whsec_` secrets, encrypted at rest under a master key;
//! - [`sign`]: Standard Webhooks signatures;
//! - [`worker`]: claims due deliveries, POSTs them through the one
//!   [`crate::outbound::OutboundClient`], records and reschedules them.
//!
//! Events are written by [`crate::store::enqueue_event`] inside the
//! transaction of the change they announce.
pub mod metrics;
pub mod secret;
pub mod sign;
pub mod worker;

pub use worker::Webhooks;

use std::str::FromStr;
use std::time::Duration;

/// Id prefix of hooks.
pub const HOOK_PREFIX: &str = "hook";
/// Id prefix of events.
pub const EVENT_PREFIX: &str = "evt";
/// At most this many hooks per workspace (both kinds together).
pub const MAX_HOOKS_PER_WORKSPACE: i64 = 100;
/// The longest `target_url`.
pub const MAX_TARGET_URL_CHARS: usize = 2048;
/// A hook all of whose last this many finished events were given up is disabled.
pub const DISABLE_AFTER_GIVEN_UP: i64 = 5;

keyward_core::named_enum! {
    /// Every event type keyward delivers.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum EventType, unknown: UnknownEventType {
        StudyCreated => "study.created",
        TranscriptCreated => "transcript.created",
        KeyCreated => "key.created",
        KeyRevoked => "key.revoked",
        KeyRolled => "key.rolled",
        KeyExpiring => "key.expiring",
        KeyLeaked => "key.leaked",
    }
}

impl EventType {
    /// Events a `/v1` key may subscribe to (the rest are admins' key events).
    pub fn is_resource_event(self) -> bool {
        matches!(self, EventType::StudyCreated | EventType::TranscriptCreated)
    }
}

/// Error for a name that is no event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

/// `--webhooks-retry-schedule`: the delays before each retry, e.g.
/// `5s,5m,30m,2h,5h,10h,10h` (one first attempt plus one retry per delay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

/// The default schedule (about 28 hours in all, like Standard Webhooks').
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

impl RetrySchedule {
    /// The delay before retry number `failed_attempts` (1 = after the first
    /// attempt failed), or `None` when the schedule is used up.
    pub fn delay_after(&self, failed_attempts: u32) -> Option<Duration> {
        self.0.get(failed_attempts.checked_sub(1)? as usize).copied()
    }
}

impl FromStr for RetrySchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            if part.is_empty() && s.trim().is_empty() {
                break; // an empty schedule: no retries
            }
            let (num, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len()));
            let n: u64 = num.parse().map_err(|_| format!("{part:?} is not a delay such as 5s, 5m, 2h or 1d"))?;
            let secs = match unit {
                "ms" => {
                    out.push(Duration::from_millis(n));
                    continue;
                }
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                "d" => n * 86_400,
                _ => return Err(format!("{part:?} is not a delay such as 5s, 5m, 2h or 1d")),
            };
            if secs > 7 * 86_400 {
                return Err(format!("{part:?} is longer than 7 days"));
            }
            out.push(Duration::from_secs(secs));
        }
        if out.len() > 20 {
            return Err("at most 20 retries".into());
        }
        Ok(RetrySchedule(out))
    }
}

/// Clap's parser of `--webhooks-retry-schedule`.
pub fn parse_retry_schedule(s: &str) -> Result<RetrySchedule, String> {
    s.parse()
}

/// What webhooks need from the serve flags (`--webhooks-*`).
#[derive(Clone)]
pub struct WebhooksConfig {
    /// Which targets the outbound client may reach.
    pub policy: crate::outbound::Policy,
    /// `--webhooks-secret-key`, as given (never logged).
    pub secret_key: Option<String>,
    /// The SQLite file, beside which a generated key is kept; `None` on PostgreSQL.
    pub sqlite_path: Option<std::path::PathBuf>,
    pub schedule: RetrySchedule,
}

impl Webhooks {
    /// The master key: `--webhooks-secret-key`, or on SQLite a generated
    /// `webhooks.key` beside the database; on PostgreSQL without the flag,
    /// webhooks cannot be created (503) and keyward says so.
    pub fn new(config: &WebhooksConfig) -> anyhow::Result<Webhooks> {
        let policy = config.policy;
        let master = match &config.secret_key {
            Some(k) => Some(secret::MasterKey::parse(k)?),
            None => match &config.sqlite_path {
                Some(db) => {
                    let dir = db.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                    Some(secret::MasterKey::load_or_create(dir)?)
                }
                None => {
                    tracing::warn!(
                        "webhooks are off: PostgreSQL needs --webhooks-secret-key (32 bytes, e.g. `openssl rand -hex 32`), \
                         the same on every node"
                    );
                    None
                }
            },
        };
        Ok(Webhooks {
            client: crate::outbound::OutboundClient::new(policy)?,
            master,
            schedule: config.schedule.clone(),
            metrics: Default::default(),
            claims: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip() {
        for e in EventType::ALL {
            assert_eq!(e.as_str().parse::<EventType>(), Ok(e));
        }
        assert!("study.deleted".parse::<EventType>().is_err());
        assert!(EventType::StudyCreated.is_resource_event());
        assert!(!EventType::KeyLeaked.is_resource_event());
    }

    #[test]
    fn parses_the_default_retry_schedule() {
        let s: RetrySchedule = DEFAULT_RETRY_SCHEDULE.parse().unwrap();
        assert_eq!(s.0.len(), 7);
        assert_eq!(s.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(s.delay_after(2), Some(Duration::from_secs(300)));
        assert_eq!(s.delay_after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(s.delay_after(8), None);
        assert_eq!(s.delay_after(0), None);
        assert_eq!("1s, 1s".parse::<RetrySchedule>().unwrap().0, vec![Duration::from_secs(1); 2]);
        assert!("".parse::<RetrySchedule>().unwrap().0.is_empty());
        assert!("5x".parse::<RetrySchedule>().is_err());
        assert!("s".parse::<RetrySchedule>().is_err());
        assert!("8d".parse::<RetrySchedule>().is_err());
    }
}
