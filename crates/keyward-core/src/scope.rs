//! What a key may do (SPEC §12): five scopes, held as a small bitset.
//! A key created without scopes has all of them ("full access").

use serde::{Deserialize, Serialize};
use std::fmt;

/// One permission of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    StudiesRead,
    StudiesWrite,
    TranscriptsRead,
    TranscriptsWrite,
    WebhooksWrite,
}

impl Scope {
    /// Every scope, in the order they are listed everywhere.
    pub const ALL: [Scope; 5] = [
        Scope::StudiesRead,
        Scope::StudiesWrite,
        Scope::TranscriptsRead,
        Scope::TranscriptsWrite,
        Scope::WebhooksWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::StudiesRead => "studies:read",
            Scope::StudiesWrite => "studies:write",
            Scope::TranscriptsRead => "transcripts:read",
            Scope::TranscriptsWrite => "transcripts:write",
            Scope::WebhooksWrite => "webhooks:write",
        }
    }

    /// The scope with this exact name (case-sensitive, as documented).
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes. Serialises as the list of scope names, in [`Scope::ALL`] order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

/// Why a list of scopes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopesError {
    #[error("must name at least one scope")]
    Empty,
    #[error(
        "{0:?} is not a scope (use studies:read, studies:write, transcripts:read, transcripts:write, webhooks:write)"
    )]
    Unknown(String),
    #[error("{0} is listed twice")]
    Duplicate(Scope),
}

impl ScopesError {
    /// Stable snake_case code for field errors.
    pub fn code(&self) -> &'static str {
        match self {
            ScopesError::Empty => "empty",
            ScopesError::Unknown(_) => "unknown_scope",
            ScopesError::Duplicate(_) => "duplicate",
        }
    }
}

impl Scopes {
    /// Every scope: a full-access key.
    pub const ALL: Scopes = Scopes(0b1_1111);
    /// `studies:read` and `transcripts:read`.
    pub const READ_ONLY: Scopes = Scopes(Scope::StudiesRead.bit() | Scope::TranscriptsRead.bit());
    pub const NONE: Scopes = Scopes(0);

    pub const fn contains(self, s: Scope) -> bool {
        self.0 & s.bit() != 0
    }

    pub const fn with(self, s: Scope) -> Scopes {
        Scopes(self.0 | s.bit())
    }

    pub const fn is_all(self) -> bool {
        self.0 == Self::ALL.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The names, in [`Scope::ALL`] order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    /// A client's list: non-empty, every entry a scope, none twice.
    pub fn parse_list<S: AsRef<str>>(list: &[S]) -> Result<Scopes, ScopesError> {
        if list.is_empty() {
            return Err(ScopesError::Empty);
        }
        let mut set = Scopes::NONE;
        for entry in list {
            let entry = entry.as_ref();
            let s = Scope::parse(entry).ok_or_else(|| ScopesError::Unknown(entry.chars().take(64).collect()))?;
            if set.contains(s) {
                return Err(ScopesError::Duplicate(s));
            }
            set = set.with(s);
        }
        Ok(set)
    }

    /// The stored form: scope names joined by `,` (what [`Scopes::from_stored`] reads).
    pub fn to_stored(self) -> String {
        self.names().join(",")
    }

    /// The stored form back; `None` when an entry is not a scope (a row
    /// edited by hand: the caller fails closed).
    pub fn from_stored(s: &str) -> Option<Scopes> {
        s.split(',').filter(|e| !e.is_empty()).try_fold(Scopes::NONE, |set, e| Scope::parse(e).map(|sc| set.with(sc)))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(Scope::as_str)).finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        // Read leniently (an empty list is the empty set); clients' input
        // goes through `parse_list`.
        list.iter().try_fold(Scopes::NONE, |set, e| {
            Scope::parse(e).map(|sc| set.with(sc)).ok_or_else(|| serde::de::Error::custom("unknown scope"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert_eq!(Scope::parse("Studies:Read"), None);
        assert_eq!(Scope::parse("studies"), None);
        assert_eq!(Scopes::ALL.iter().count(), 5);
        assert!(Scopes::ALL.is_all());
    }

    #[test]
    fn lists_are_non_empty_known_and_without_duplicates() {
        let ro = Scopes::parse_list(&["transcripts:read", "studies:read"]).unwrap();
        assert_eq!(ro, Scopes::READ_ONLY);
        assert_eq!(ro.names(), ["studies:read", "transcripts:read"]);
        assert!(ro.contains(Scope::StudiesRead) && !ro.contains(Scope::StudiesWrite));
        assert_eq!(Scopes::parse_list::<&str>(&[]), Err(ScopesError::Empty));
        assert_eq!(Scopes::parse_list(&["studies:read", "admin"]).unwrap_err().code(), "unknown_scope");
        assert_eq!(
            Scopes::parse_list(&["studies:read", "studies:read"]),
            Err(ScopesError::Duplicate(Scope::StudiesRead))
        );
        let long = "x".repeat(5000);
        assert!(Scopes::parse_list(&[long.as_str()]).unwrap_err().to_string().len() < 300, "input is not echoed whole");
    }

    #[test]
    fn the_stored_and_json_forms_round_trip() {
        for bits in 0..=Scopes::ALL.0 {
            let s = Scopes(bits);
            assert_eq!(Scopes::from_stored(&s.to_stored()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Scopes>(&json).unwrap(), s);
        }
        assert_eq!(Scopes::from_stored("studies:read,root"), None);
        assert_eq!(
            serde_json::to_value(Scopes::READ_ONLY).unwrap(),
            serde_json::json!(["studies:read", "transcripts:read"])
        );
    }
}
