//! The API key parser (`keyward_core::key`) and the key name rules: any
//! bytes, no panic; whatever parses is well formed.
#![no_main]

use keyward_core::key::{self, HashedKey};
use keyward_core::validate::KeyName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = HashedKey::from_slice(data);
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = key::parse(s) {
        let _ = parsed.hash();
        assert_eq!(s.len(), 46);
        assert!(s.starts_with("ue_live_"));
        let last4 = key::last4(s);
        assert_eq!(last4.len(), 4);
        let _ = key::mask(last4);
        // A well-formed key keeps its checksum: changing its last character breaks it.
        let mut other = s.as_bytes().to_vec();
        other[45] = if other[45] == b'0' { b'1' } else { b'0' };
        assert!(key::parse(std::str::from_utf8(&other).unwrap()).is_err());
    }
    if let Ok(name) = KeyName::parse(s) {
        assert!(name.as_str().chars().count() <= KeyName::MAX_CHARS);
        assert!(!name.as_str().chars().any(keyward_core::validate::is_invisible));
    }
});
