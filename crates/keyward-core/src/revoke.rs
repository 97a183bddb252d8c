//! Why a key was revoked (SPEC §2 `revoke_reason`), and what that means for
//! the audit log and the `/v1` answer.
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// The reason stored with a revoked key; serialised as its snake_case name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum RevokeReason, unknown: UnknownRevokeReason {
        /// By an admin (page, admin API) or by support (CLI).
        Manual => "manual",
        /// By keyward: a sustained rate of 401/422 answers (SPEC §6).
        AutoErrorRate => "auto_error_rate",
        /// By keyward: the key was reported as leaked, by GitHub's secret
        /// scanning or through the public leak report endpoint (SPEC §11).
        Leaked => "leaked",
    }
}

impl RevokeReason {
    /// The audit action of a revocation for this reason.
    pub fn audit_action(self) -> &'static str {
        match self {
            RevokeReason::Manual => "key.revoked",
            RevokeReason::AutoErrorRate => "key.auto_revoked",
            RevokeReason::Leaked => "key.leaked",
        }
    }

    /// Whether keyward revoked the key by itself.
    pub fn is_automatic(self) -> bool {
        !matches!(self, RevokeReason::Manual)
    }

    /// How the key was revoked, for the `/v1` 401 `api_key_revoked` detail
    /// ("this API key was revoked at … {because}").
    pub fn explanation(self) -> &'static str {
        match self {
            RevokeReason::Manual => "manually by a workspace admin",
            RevokeReason::AutoErrorRate => "automatically, after a sustained high rate of 401/422 errors",
            RevokeReason::Leaked => {
                "automatically, because it was found leaked and reported to us; generate a new key and keep it \
                 out of code and chat"
            }
        }
    }
}

/// Error for an unknown revoke reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown revoke reason {0:?} (expected manual, auto_error_rate or leaked)")]
pub struct UnknownRevokeReason(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for r in RevokeReason::ALL {
            assert_eq!(r.as_str().parse::<RevokeReason>().unwrap(), r);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<RevokeReason>(&json).unwrap(), r);
        }
        assert!("Leaked".parse::<RevokeReason>().is_err());
        assert!("".parse::<RevokeReason>().is_err());
    }

    #[test]
    fn the_audit_action_follows_from_the_reason() {
        assert_eq!(RevokeReason::Manual.audit_action(), "key.revoked");
        assert_eq!(RevokeReason::AutoErrorRate.audit_action(), "key.auto_revoked");
        assert_eq!(RevokeReason::Leaked.audit_action(), "key.leaked");
        assert!(!RevokeReason::Manual.is_automatic());
        assert!(RevokeReason::Leaked.is_automatic());
    }

    #[test]
    fn a_leaked_key_is_explained_as_found_leaked() {
        assert!(RevokeReason::Leaked.explanation().contains("because it was found leaked"));
    }
}
