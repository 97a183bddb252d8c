//! The JSON shapes of the admin API (SPEC §5), shared by the server (which
//! produces them) and the web page (which renders them), so the page and the
//! API can never disagree about a field.

use crate::{Plan, Role, Scopes};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A point in time as unix milliseconds; serialises as RFC 3339 UTC
/// (`2026-11-26T22:19:55.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }

    /// The RFC 3339 form written into `buf` without allocating, for years
    /// 0000-9999 (`None` otherwise). Every API response with a key or a
    /// record carries timestamps: this is several times faster than the
    /// `time` crate's generic formatter, which stays for the rest.
    fn write_rfc3339(self, buf: &mut [u8; 24]) -> Option<&str> {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).ok()?;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let fields: [(usize, u32, usize); 7] = [
            (0, year, 4),
            (5, u32::from(u8::from(t.month())), 2),
            (8, u32::from(t.day()), 2),
            (11, u32::from(t.hour()), 2),
            (14, u32::from(t.minute()), 2),
            (17, u32::from(t.second()), 2),
            (20, u32::from(t.millisecond()), 3),
        ];
        *buf = *b"0000-00-00T00:00:00.000Z";
        for (at, mut n, width) in fields {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        std::str::from_utf8(buf).ok()
    }

    fn format_with_time(self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        // Parsed at run time: this fallback (years past 9999) is rare, and
        // time's `macros` feature costs a proc-macro crate in every build.
        time::format_description::parse_borrowed::<2>(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z",
        )
        .ok()
        .and_then(|f| t.format(&f).ok())
        .unwrap_or_default()
    }

    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok().map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 24];
        match self.write_rfc3339(&mut buf) {
            Some(s) => f.write_str(s),
            None => f.write_str(&self.format_with_time()),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }
}

/// `active`, `revoked` or `expired` (past its `expires_at`, not revoked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
    Expired,
}

/// Who generated a key; `is_member` turns false once they left the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedBy {
    pub id: String,
    pub email: String,
    pub is_member: bool,
}

/// A key as listed by `GET /api/workspaces/{ws}/api-keys`. Never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyObject {
    pub id: String,
    pub name: String,
    pub masked: String,
    pub last4: String,
    pub status: KeyStatus,
    pub created_at: Timestamp,
    pub created_by: CreatedBy,
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<Timestamp>,
    /// `manual`, `auto_error_rate` or `leaked`.
    pub revoke_reason: Option<crate::RevokeReason>,
    pub allowed_cidrs: Vec<String>,
    /// When the key stops working (`None`: never). A rolled key's is the
    /// end of its grace period.
    pub expires_at: Option<Timestamp>,
    /// The scopes in force: all five for a full-access key.
    pub scopes: Scopes,
    /// The successor's id once the key was rolled.
    pub rolled_to: Option<String>,
    /// Requests in the last 24 hourly buckets (the current partial hour and
    /// the 23 before it), as `api-usage?key_id=` counts `last_24h`.
    pub requests_24h: u64,
}

impl KeyObject {
    /// Whether the key expires (and is still active) within `within_ms` of `now_ms`.
    pub fn expires_within(&self, now_ms: i64, within_ms: i64) -> bool {
        self.status == KeyStatus::Active && self.expires_at.is_some_and(|e| e.0 > now_ms && e.0 - now_ms <= within_ms)
    }
}

/// The 201 answer to key creation: the key object plus the secret, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub object: KeyObject,
    /// The full secret. Shown here and nowhere else, ever.
    pub key: String,
}

/// A workspace as seen by a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceMembership {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub plan: Plan,
}

/// Totals over one window (SPEC §5 api-usage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    pub total: u64,
    /// Requests answered with status >= 400.
    pub errors: u64,
    /// Status code (as a string) → count, for every status seen, so the
    /// counts add up to `total`.
    pub by_status: BTreeMap<String, u64>,
    /// Problem `code` → count.
    pub by_code: BTreeMap<String, u64>,
}

/// One of the busiest endpoints over the last 7 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopEndpoint {
    pub method: String,
    pub route: String,
    pub count: u64,
    pub errors: u64,
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentRequest {
    pub at: Timestamp,
    pub method: String,
    pub path: String,
    pub route: String,
    pub status: u16,
    pub code: Option<String>,
    pub latency_ms: f64,
    pub key_id: String,
    pub key_name: String,
    pub ip: String,
}

/// One hour of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesBucket {
    pub start: Timestamp,
    pub total: u64,
    pub errors: u64,
}

/// `GET /api/workspaces/{ws}/api-usage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    pub last_24h: UsageTotals,
    pub last_7d: UsageTotals,
    /// Top 10 over the last 7 days.
    pub top_endpoints: Vec<TopEndpoint>,
    /// The newest 20 requests, newest first.
    pub recent: Vec<RecentRequest>,
    /// 168 hourly buckets for the last 7 days, oldest first, empty hours included.
    pub series: Vec<SeriesBucket>,
    /// Present while this node holds usage records the store has not taken
    /// yet (the database was unavailable): the numbers above miss them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_behind: Option<UsageBehind>,
}

/// Usage records waiting in a node's spill file for the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageBehind {
    pub spilled_records: u64,
    /// When the oldest of them was made.
    pub since: Timestamp,
}

/// One audit-log entry. `details` never holds a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: Timestamp,
    /// `key.created`, `key.revoked`, `key.allowed_ips_changed`, `key.auto_revoked`, `key.rolled`, `key.leaked`.
    pub action: String,
    /// The user's email, `support` (CLI) or `system` (automatic).
    pub actor: String,
    pub key_id: Option<String>,
    pub details: serde_json::Value,
}

/// A message for the workspace's admins, shown as a banner on the page
/// (e.g. a key was revoked automatically).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub at: Timestamp,
    /// e.g. `key.auto_revoked`.
    pub kind: String,
    pub key_id: Option<String>,
    pub message: String,
}

/// Where a key revoked as leaked was found, from its `key.leaked` audit
/// event: for the workspace's admins (the page), never for the reporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakReport {
    pub key_id: String,
    pub at: Timestamp,
    /// `github` (secret scanning) or `public` (`POST /v1/leaked-keys`).
    pub reporter: String,
    /// GitHub's `source`: `commit`, `issue_comment`, `gist`, …
    pub source: Option<String>,
    /// GitHub's `url`: where the key was found.
    pub url: Option<String>,
}

/// A hook's last delivery attempt, as the admin hooks API and the page show
/// it. The fields are in name order, the order the API has always written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookAttempt {
    pub at: Timestamp,
    /// Why it failed when no HTTP answer came (connection, timeout, …).
    pub error: Option<String>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn the_fast_rfc3339_writer_matches_the_time_crate(ms in -62_167_219_200_000i64..253_402_300_800_000i64) {
            let t = Timestamp(ms);
            let mut buf = [0u8; 24];
            let slow = t.format_with_time();
            proptest::prop_assert_eq!(t.write_rfc3339(&mut buf), Some(slow.as_str()));
        }
    }

    #[test]
    fn years_past_9999_and_before_0_format_as_before() {
        let far = Timestamp(253_402_300_800_000); // 10000-01-01
        assert_eq!(far.to_rfc3339(), far.format_with_time());
        let before = Timestamp(-62_167_219_200_001); // 1 ms before 0000-01-01
        assert_eq!(before.to_string(), before.format_with_time());
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let t = Timestamp(1_764_195_595_123);
        assert_eq!(t.to_rfc3339(), "2025-11-26T22:19:55.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Some(t));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2025-11-26T22:19:55.123Z\"");
        let far = Timestamp(253_402_300_800_000);
        assert_eq!(serde_json::to_string(&far).unwrap(), format!("\"{}\"", far.format_with_time()));
    }
}
