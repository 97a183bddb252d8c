//! Workspace roles (SPEC §2).
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// A member's role in a workspace, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Participant,
    Member,
    Admin,
    Superadmin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Participant, Role::Member, Role::Admin, Role::Superadmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Superadmin => "superadmin",
        }
    }

    /// Only admins and superadmins may see or manage keys and usage.
    pub fn can_manage_keys(self) -> bool {
        matches!(self, Role::Admin | Role::Superadmin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown role name.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}: expected one of participant, member, admin, superadmin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_keys() {
        let managers: Vec<_> = Role::ALL.into_iter().filter(|r| r.can_manage_keys()).collect();
        assert_eq!(managers, vec![Role::Admin, Role::Superadmin]);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("owner".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }
}
