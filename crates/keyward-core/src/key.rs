//! The API key format (SPEC §3).
//!
//! `ue_live_` + 32 base62 characters from the OS CSPRNG (~190 bits) + 6 base62
//! characters of the CRC32 (IEEE) of the 40 characters before them, big-endian,
//! alphabet `0-9A-Za-z`, left-padded with `0`: 46 characters in all. The
//! checksum lets the server and secret scanners reject a mistyped or made-up
//! key without touching storage.
//!
//! Only the SHA-256 of the full secret is ever stored ([`HashedKey`]).

use rand::{rngs::OsRng, Rng};
use sha2::{Digest, Sha256};
use std::fmt;

/// NOTE: never change the prefix of existing keys. Every key ever issued
/// starts with it, secret scanners (GitHub, GitGuardian) match on it, and the
/// checksum covers it: changing it would invalidate every customer's keys.
pub const KEY_PREFIX: &str = "ue_live_";

/// Base62 alphabet, in this order (part of the format: the checksum uses it).
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters of randomness after the prefix.
pub const RANDOM_LEN: usize = 32;
/// Characters of checksum at the end.
pub const CHECKSUM_LEN: usize = 6;
/// Total length of a key.
pub const KEY_LEN: usize = KEY_PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// What the page and the API show in place of a key, before its last four.
pub const MASK_PREFIX: &str = "ue_live_••••••••";

/// Why a presented string is not a well-formed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    #[error("the key has the wrong length")]
    Length,
    #[error("the key does not start with the ue_live_ prefix")]
    Prefix,
    #[error("the key contains characters outside base62")]
    Alphabet,
    #[error("the key's checksum does not match")]
    Checksum,
}

/// A freshly generated secret. It exists only in memory between generation
/// and the 201 response that shows it once; `Debug` never prints it.
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// Generate a new key from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut s = String::with_capacity(KEY_LEN);
        s.push_str(KEY_PREFIX);
        let mut rng = OsRng;
        for _ in 0..RANDOM_LEN {
            // `gen_range` samples uniformly (no modulo bias).
            s.push(BASE62[rng.gen_range(0..BASE62.len())] as char);
        }
        let sum = checksum(s.as_bytes());
        s.push_str(std::str::from_utf8(&sum).expect("base62 is ASCII"));
        ApiKeySecret(s)
    }

    /// The secret itself, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form.
    pub fn hash(&self) -> HashedKey {
        HashedKey::of(&self.0)
    }

    /// The last four characters, kept for display.
    pub fn last4(&self) -> &str {
        &self.0[KEY_LEN - 4..]
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(REDACTED)")
    }
}

/// A presented string that [`parse`] found well-formed: with a freshly
/// generated [`ApiKeySecret`], the only thing that hashes into a
/// [`HashedKey`], so nothing unchecked reaches a storage lookup.
/// `Debug` never prints it.
///
/// ```compile_fail
/// let _ = keyward_core::HashedKey::of("ue_live_not_parsed");
/// ```
/// ```
/// let secret = keyward_core::ApiKeySecret::generate();
/// let parsed = keyward_core::key::parse(secret.expose()).unwrap();
/// assert_eq!(parsed.hash(), secret.hash());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'a>(&'a str);

impl ParsedKey<'_> {
    /// The stored form.
    pub fn hash(&self) -> HashedKey {
        HashedKey::of(self.0)
    }

    /// The last four characters, kept for display.
    pub fn last4(&self) -> &str {
        &self.0[KEY_LEN - 4..]
    }
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ParsedKey(REDACTED)")
    }
}

/// Check that `s` is a well-formed key (length, prefix, alphabet, checksum)
/// without any storage read. Runs in constant work for any input length.
pub fn parse(s: &str) -> Result<ParsedKey<'_>, KeyParseError> {
    let b = s.as_bytes();
    if b.len() != KEY_LEN {
        return Err(KeyParseError::Length);
    }
    if !b.starts_with(KEY_PREFIX.as_bytes()) {
        return Err(KeyParseError::Prefix);
    }
    if !b[KEY_PREFIX.len()..].iter().all(u8::is_ascii_alphanumeric) {
        return Err(KeyParseError::Alphabet);
    }
    let body = KEY_PREFIX.len() + RANDOM_LEN;
    if checksum(&b[..body]) != b[body..] {
        return Err(KeyParseError::Checksum);
    }
    Ok(ParsedKey(s))
}

/// The 6-character base62 CRC32 of `body` (big-endian, left-padded with `0`).
pub fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = u64::from(crc32fast::hash(body));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// `ue_live_••••••••` + the key's last four characters.
pub fn mask(last4: &str) -> String {
    format!("{MASK_PREFIX}{last4}")
}

/// The last four characters of a well-formed key.
pub fn last4(key: &str) -> &str {
    &key[key.len().saturating_sub(4)..]
}

/// SHA-256 of a full key: the only form in which keys are stored.
/// `Debug` prints no bytes so a hash never lands in a log by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashedKey([u8; 32]);

impl HashedKey {
    /// Private: a key is hashed through [`ParsedKey::hash`] or
    /// [`ApiKeySecret::hash`].
    fn of(key: &str) -> Self {
        HashedKey(Sha256::digest(key.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuild from stored bytes; `None` when the length is wrong.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(HashedKey(b.try_into().ok()?))
    }
}

impl fmt::Debug for HashedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashedKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn generated_keys_are_unique_well_formed_and_round_trip() {
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let k = ApiKeySecret::generate();
            let s = k.expose();
            assert_eq!(s.len(), KEY_LEN);
            assert!(s.starts_with(KEY_PREFIX));
            assert_eq!(parse(s).map(|p| p.hash()), Ok(k.hash()));
            assert!(seen.insert(k.hash()), "duplicate key generated");
        }
    }

    #[test]
    fn checksum_is_crc32_big_endian_base62() {
        // CRC32("ue_live_" + 32 zeros) computed independently of `checksum`.
        let body = format!("{KEY_PREFIX}{}", "0".repeat(32));
        let mut n = crc32fast::hash(body.as_bytes());
        let mut digits = Vec::new();
        while n > 0 {
            digits.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        while digits.len() < 6 {
            digits.push(b'0');
        }
        digits.reverse();
        assert_eq!(checksum(body.as_bytes()).to_vec(), digits);
        assert!(parse(&format!("{body}{}", String::from_utf8(digits).unwrap())).is_ok());
    }

    #[test]
    fn malformed_keys_are_rejected_with_a_reason() {
        let k = ApiKeySecret::generate();
        let s = k.expose();
        assert_eq!(parse(""), Err(KeyParseError::Length));
        assert_eq!(parse(&s[..45]), Err(KeyParseError::Length));
        assert_eq!(parse(&format!("ue_test_{}", &s[8..])), Err(KeyParseError::Prefix));
        assert_eq!(parse(&format!("{}-{}", &s[..20], &s[21..])), Err(KeyParseError::Alphabet));
        assert_eq!(parse(&format!("{}é{}", &s[..20], &s[22..])), Err(KeyParseError::Alphabet));
    }

    #[test]
    fn debug_never_prints_secrets_or_hashes() {
        let k = ApiKeySecret::generate();
        assert!(!format!("{k:?}").contains(&k.expose()[8..]));
        let h = k.hash();
        assert_eq!(format!("{h:?}"), "HashedKey(..)");
        assert_eq!(format!("{:?}", parse(k.expose()).unwrap()), "ParsedKey(REDACTED)");
    }

    #[test]
    fn mask_shows_only_last4() {
        let k = ApiKeySecret::generate();
        let m = mask(k.last4());
        assert_eq!(m, format!("ue_live_••••••••{}", &k.expose()[42..]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_single_character_change_is_rejected(pos in 0usize..KEY_LEN, c in 0usize..62) {
            let k = ApiKeySecret::generate();
            let mut b = k.expose().as_bytes().to_vec();
            let replacement = BASE62[c];
            prop_assume!(b[pos] != replacement);
            b[pos] = replacement;
            let s = String::from_utf8(b).unwrap();
            prop_assert!(parse(&s).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse(&s);
        }
    }
}
