//! Public identifiers: a short type prefix and a ULID, e.g. `key_01JD…`.
//! Prefixes make ids self-describing in logs and support tickets; ULIDs sort
//! by creation time, which gives lists a stable newest-first order for free.

use std::sync::{LazyLock, Mutex};

// LazyLock: ulid 1.1's `Generator::new` is not `const` (1.2 pulls rand 0.9,
// see Cargo.toml).
static GENERATOR: LazyLock<Mutex<ulid::Generator>> = LazyLock::new(|| Mutex::new(ulid::Generator::new()));

/// A new id with the given prefix (`"ws"`, `"usr"`, `"key"`, …). Ids made by
/// one process are strictly increasing, even within one millisecond, so
/// "newest first" and cursors are exact.
pub fn new_id(prefix: &str) -> String {
    let ulid = {
        let mut g = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        g.generate().unwrap_or_else(|_| ulid::Ulid::new())
    };
    format!("{prefix}_{ulid}")
}

/// Whether `id` has the shape `prefix_<ULID>`; used to answer 404 early for
/// ids that cannot exist without asking storage.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() == prefix.len() + 1 + 26
        && id.starts_with(prefix)
        && id.as_bytes()[prefix.len()] == b'_'
        && ulid::Ulid::from_string(&id[prefix.len() + 1..]).is_ok()
}

/// An id type: a newtype over the id's text, so a workspace id cannot be
/// passed where a key id is expected (the swapped call does not compile).
/// Ids are not checked when made: one that is malformed names nothing, and
/// the store answers it as it answers any unknown id (404).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix of every id of this type.
            pub const PREFIX: &'static str = $prefix;

            /// A new id (see [`new_id`]).
            pub fn generate() -> Self {
                $name(new_id($prefix))
            }

            /// An id read from storage or a request.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }

            /// Whether the id has this type's `prefix_<ULID>` shape.
            pub fn is_well_formed(&self) -> bool {
                has_prefix(&self.0, $prefix)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        /// Infallible: command-line arguments read as ids (see [`$name::new`]).
        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name(s.to_string()))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A workspace (`ws_…`): the tenant every query is scoped to.
    ///
    /// ```compile_fail
    /// fn lookup(_workspace: &keyward_core::ids::WorkspaceId, _key: &keyward_core::ids::KeyId) {}
    /// let (ws, key) = (keyward_core::ids::WorkspaceId::generate(), keyward_core::ids::KeyId::generate());
    /// lookup(&key, &ws); // swapped: does not compile
    /// ```
    /// ```
    /// fn lookup(_workspace: &keyward_core::ids::WorkspaceId, _key: &keyward_core::ids::KeyId) {}
    /// let (ws, key) = (keyward_core::ids::WorkspaceId::generate(), keyward_core::ids::KeyId::generate());
    /// lookup(&ws, &key);
    /// ```
    WorkspaceId,
    "ws"
);
id_type!(
    /// An API key (`key_…`; not the secret).
    KeyId,
    "key"
);
id_type!(
    /// A user account (`usr_…`).
    UserId,
    "usr"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = new_id("key");
        assert!(has_prefix(&a, "key"));
        assert!(!has_prefix(&a, "ws"));
        assert!(!has_prefix("key_nope", "key"));
        let ids: Vec<_> = (0..1000).map(|_| new_id("key")).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn typed_ids_carry_their_own_prefix_and_serialize_as_plain_strings() {
        let ws = WorkspaceId::generate();
        assert!(ws.starts_with("ws_") && ws.is_well_formed());
        assert!(KeyId::generate().starts_with("key_") && UserId::generate().starts_with("usr_"));
        assert!(!KeyId::new(ws.as_str()).is_well_formed(), "a workspace id is no key id");
        assert_eq!(serde_json::to_string(&ws).unwrap(), format!("\"{ws}\""));
        let back: WorkspaceId = serde_json::from_str(&format!("\"{ws}\"")).unwrap();
        assert_eq!(back, ws);
        assert_eq!(format!("{ws:?}"), format!("{:?}", ws.as_str()));
    }
}
