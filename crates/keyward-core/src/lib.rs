//! keyward's domain: the rules of API keys, plans, roles and rate limits as
//! plain types and functions. Nothing in this crate performs I/O, so every
//! rule unit-tests in microseconds and the server crate stays thin.

pub mod allowlist;
pub mod api;
pub mod client_ip;
pub mod ids;
pub mod key;
mod named;
pub mod plan;
pub mod ratelimit;
pub mod revoke;
pub mod role;
pub mod scope;
pub mod secret_scanning;
pub mod validate;

pub use ids::{KeyId, UserId, WorkspaceId};
pub use key::{ApiKeySecret, HashedKey, KeyParseError, ParsedKey};
pub use plan::{Plan, RateLimitPolicy};
pub use revoke::RevokeReason;
pub use role::Role;
pub use scope::{Scope, Scopes};
