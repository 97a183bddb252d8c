//! Workspace roles (SPEC §2).
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// A member's role in a workspace, lowest to highest.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Role, unknown: UnknownRole {
        Participant => "participant",
        Member => "member",
        Admin => "admin",
        Superadmin => "superadmin",
    }
}

impl Role {
    /// Only admins and superadmins may see or manage keys and usage.
    pub fn can_manage_keys(self) -> bool {
        matches!(self, Role::Admin | Role::Superadmin)
    }
}

/// Error for an unknown role name.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}: expected one of participant, member, admin, superadmin")]
pub struct UnknownRole(pub String);

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
