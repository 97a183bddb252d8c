//! Plans and the per-key rate limit they grant (SPEC §2).
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// A workspace's plan.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Plan, unknown: UnknownPlan {
        Free => "free",
        Starter => "starter",
        Pro => "pro",
        Enterprise => "enterprise",
    }
}

impl Plan {
    /// Whether keys of this plan may call `/v1` and new keys may be generated.
    pub fn has_api_access(self) -> bool {
        self != Plan::Free
    }

    /// Requests per minute per key; `None` for the free plan (no API access).
    pub fn requests_per_minute(self) -> Option<u32> {
        match self {
            Plan::Free => None,
            Plan::Starter => Some(60),
            Plan::Pro => Some(300),
            Plan::Enterprise => Some(1000),
        }
    }
}

/// Error for an unknown plan name.
#[derive(Debug, thiserror::Error)]
#[error("unknown plan {0:?}: expected one of free, starter, pro, enterprise")]
pub struct UnknownPlan(pub String);

/// The largest per-key rpm override support may set.
pub const MAX_RPM_OVERRIDE: u32 = 10_000_000;

/// The per-key limit in force for a workspace: the plan's number, or the
/// workspace-level override support negotiated (policy name `custom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// `"starter"`, `"pro"`, `"enterprise"` or `"custom"`.
    pub name: &'static str,
    /// Successful requests per key per 60 seconds.
    pub requests_per_minute: u32,
}

impl RateLimitPolicy {
    /// The policy for a plan and optional override; `None` when the plan has
    /// no API access (an override does not grant access to a free plan).
    pub fn for_workspace(plan: Plan, rpm_override: Option<u32>) -> Option<Self> {
        let plan_rpm = plan.requests_per_minute()?;
        Some(match rpm_override {
            Some(rpm) => RateLimitPolicy { name: "custom", requests_per_minute: rpm },
            None => RateLimitPolicy { name: plan.as_str(), requests_per_minute: plan_rpm },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_grant_their_rpm() {
        assert_eq!(Plan::Free.requests_per_minute(), None);
        assert_eq!(Plan::Starter.requests_per_minute(), Some(60));
        assert_eq!(Plan::Pro.requests_per_minute(), Some(300));
        assert_eq!(Plan::Enterprise.requests_per_minute(), Some(1000));
    }

    #[test]
    fn override_is_named_custom_and_never_unlocks_free() {
        let p = RateLimitPolicy::for_workspace(Plan::Pro, Some(5000)).unwrap();
        assert_eq!((p.name, p.requests_per_minute), ("custom", 5000));
        let p = RateLimitPolicy::for_workspace(Plan::Pro, None).unwrap();
        assert_eq!((p.name, p.requests_per_minute), ("pro", 300));
        assert!(RateLimitPolicy::for_workspace(Plan::Free, Some(100)).is_none());
    }

    #[test]
    fn plans_parse_by_name_only() {
        for p in Plan::ALL {
            assert_eq!(p.as_str().parse::<Plan>().unwrap(), p);
        }
        assert!("gold".parse::<Plan>().is_err());
    }
}
