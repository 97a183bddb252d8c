//! Sample data shared by the tests and `examples/sample.rs`.
#![allow(dead_code)]

use keyward_core::api::{
    CreatedBy, KeyObject, KeyStatus, Notification, RecentRequest, SeriesBucket, Timestamp, TopEndpoint, UsageReport,
    UsageTotals, WorkspaceMembership,
};
use keyward_core::{Plan, RevokeReason, Role};
use std::collections::BTreeMap;

/// 2025-11-26T22:19:55.123Z
pub const NOW: i64 = 1_764_195_595_123;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

pub fn workspaces() -> Vec<WorkspaceMembership> {
    vec![
        WorkspaceMembership {
            id: "ws_01JD8Z6Q".into(),
            name: "Acme Research".into(),
            role: Role::Admin,
            plan: Plan::Pro,
        },
        WorkspaceMembership {
            id: "ws_01JD9A2B".into(),
            name: "Acme Labs".into(),
            role: Role::Member,
            plan: Plan::Starter,
        },
        WorkspaceMembership {
            id: "ws_01JDFREE".into(),
            name: "Side project".into(),
            role: Role::Superadmin,
            plan: Plan::Free,
        },
    ]
}

fn by(email: &str, is_member: bool) -> CreatedBy {
    CreatedBy { id: format!("usr_{}", email.len()), email: email.into(), is_member }
}

pub fn key(id: &str, name: &str, last4: &str) -> KeyObject {
    KeyObject {
        id: id.into(),
        name: name.into(),
        masked: format!("ue_live_••••••••{last4}"),
        last4: last4.into(),
        status: KeyStatus::Active,
        created_at: Timestamp(NOW - 12 * DAY),
        created_by: by("maria@acme.example", true),
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
        revoke_reason: None,
        allowed_cidrs: vec![],
        expires_at: None,
        scopes: keyward_core::Scopes::ALL,
        rolled_to: None,
        requests_24h: 0,
    }
}

pub fn keys() -> Vec<KeyObject> {
    let mut zap = key("key_01JDA1ZAPIER0000000000000", "Zapier — onboarding study", "f3Qa");
    zap.last_used_at = Some(Timestamp(NOW - 3 * MIN - 20_000));
    zap.last_used_ip = Some("54.86.12.201".into());
    zap.created_at = Timestamp(NOW - 2 * DAY);

    let mut ci = key("key_01JDA2NIGHTLY00000000000", "Nightly export 2025-11", "9xTe");
    ci.created_by = by("devon@acme.example", false);
    ci.last_used_at = Some(Timestamp(NOW - 5 * HOUR));
    ci.last_used_ip = Some("2001:db8:85a3::8a2e:370:7334".into());
    ci.allowed_cidrs = vec!["203.0.113.0/24".into(), "2001:db8::/32".into()];
    ci.created_at = Timestamp(NOW - 20 * DAY);

    let mut evil = key("key_01JDA3XSS0000000000000000", "<script>alert('x')</script> & co", "Ab12");
    evil.created_at = Timestamp(NOW - 25 * DAY);

    let mut auto = key("key_01JDA4LEAKED000000000000", "Old staging script", "q7Lm");
    auto.status = KeyStatus::Revoked;
    auto.revoked_at = Some(Timestamp(NOW - 2 * HOUR));
    auto.revoke_reason = Some(RevokeReason::AutoErrorRate);
    auto.last_used_at = Some(Timestamp(NOW - 2 * HOUR - 4 * MIN));
    auto.last_used_ip = Some("198.51.100.23".into());
    auto.created_at = Timestamp(NOW - 40 * DAY);

    let mut manual = key("key_01JDA5ROTATED00000000000", "Zapier 2025-09", "Zz00");
    manual.status = KeyStatus::Revoked;
    manual.revoked_at = Some(Timestamp(NOW - 9 * DAY));
    manual.revoke_reason = Some(RevokeReason::Manual);
    manual.created_at = Timestamp(NOW - 70 * DAY);
    vec![zap, ci, evil, auto, manual]
}

fn totals(total: u64, by_status: &[(&str, u64)], by_code: &[(&str, u64)]) -> UsageTotals {
    UsageTotals {
        total,
        errors: by_status.iter().map(|(_, n)| n).sum(),
        by_status: by_status.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        by_code: by_code.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
    }
}

pub fn usage() -> UsageReport {
    let hour0 = (NOW / HOUR) * HOUR - 167 * HOUR;
    let series: Vec<SeriesBucket> = (0..168)
        .map(|i| {
            let start = hour0 + i * HOUR;
            let h = (start / HOUR) % 24;
            // Business-hours traffic with a quiet night and a spike of errors.
            let base: u64 = if (8..20).contains(&h) { 40 + ((i * 37) % 30) as u64 } else { 3 + ((i * 13) % 7) as u64 };
            let errors = if i == 165 {
                38
            } else if i % 11 == 0 {
                4
            } else {
                (base / 25).min(2)
            };
            SeriesBucket { start: Timestamp(start), total: base + errors, errors }
        })
        .collect();
    let recent = (0..20)
        .map(|i| {
            let (method, route, path, status, code) = match i % 6 {
                0 => ("GET", "/v1/transcripts", "/v1/transcripts".to_string(), 200, None),
                1 => (
                    "POST",
                    "/v1/studies/{id}/transcripts",
                    "/v1/studies/std_01JD7Q/transcripts".to_string(),
                    201,
                    None,
                ),
                2 => ("GET", "/v1/studies/{id}", format!("/v1/studies/std_01JD{i:02}"), 404, Some("not_found")),
                3 => ("GET", "/v1/me", "/v1/me".to_string(), 200, None),
                4 => ("POST", "/v1/studies", "/v1/studies".to_string(), 422, Some("validation_failed")),
                _ => ("GET", "/v1/transcripts", "/v1/transcripts".to_string(), 429, Some("rate_limited")),
            };
            RecentRequest {
                at: Timestamp(NOW - i * 97_000 - 4_000),
                method: method.into(),
                path,
                route: route.into(),
                status,
                code: code.map(Into::into),
                latency_ms: 8.0 + (i as f64 * 13.7) % 240.0,
                key_id: "key_01JDA1ZAPIER0000000000000".into(),
                key_name: if i % 4 == 3 {
                    "Nightly export 2025-11".into()
                } else {
                    "Zapier — onboarding study".into()
                },
                ip: if i % 4 == 3 { "2001:db8:85a3::8a2e:370:7334".into() } else { "54.86.12.201".into() },
            }
        })
        .collect();
    UsageReport {
        last_24h: totals(
            series[144..].iter().map(|b| b.total).sum(),
            &[("401", 31), ("404", 6), ("422", 9), ("429", 12)],
            &[("ip_not_allowed", 31), ("not_found", 6), ("validation_failed", 9), ("rate_limited", 12)],
        ),
        last_7d: totals(
            series.iter().map(|b| b.total).sum(),
            &[("401", 44), ("404", 29), ("422", 51), ("429", 40), ("500", 2)],
            &[
                ("ip_not_allowed", 31),
                ("invalid_api_key", 13),
                ("not_found", 29),
                ("validation_failed", 51),
                ("rate_limited", 40),
                ("internal_error", 2),
            ],
        ),
        top_endpoints: vec![
            TopEndpoint { method: "GET".into(), route: "/v1/transcripts".into(), count: 3_412, errors: 40 },
            TopEndpoint {
                method: "POST".into(),
                route: "/v1/studies/{id}/transcripts".into(),
                count: 1_208,
                errors: 51,
            },
            TopEndpoint { method: "GET".into(), route: "/v1/studies/{id}".into(), count: 884, errors: 29 },
            TopEndpoint { method: "GET".into(), route: "/v1/me".into(), count: 310, errors: 0 },
            TopEndpoint { method: "DELETE".into(), route: "/v1/hooks/{id}".into(), count: 4, errors: 2 },
        ],
        recent,
        series,
        usage_behind: None,
    }
}

pub fn notifications() -> Vec<Notification> {
    vec![Notification {
        id: "ntf_01JDA9".into(),
        at: Timestamp(NOW - 2 * HOUR),
        kind: "key.auto_revoked".into(),
        key_id: Some("key_01JDA4LEAKED000000000000".into()),
        message: "Key “Old staging script” was revoked after 212 of 260 requests in 5 minutes failed with 401/422."
            .into(),
    }]
}
