//! Key IP allowlists (`keyward_core::allowlist::Allowlist::parse`): one
//! entry per line. A list that parses round-trips through `to_strings`, and
//! `allows` agrees with the nets it reports.
#![no_main]

use keyward_core::allowlist::Allowlist;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let entries: Vec<&str> = text.split('\n').collect();
    match Allowlist::parse(&entries) {
        Ok(list) => {
            // Any address named in the input against the list: never a panic.
            for line in &entries {
                if let Ok(ip) = line.trim().parse::<IpAddr>() {
                    let _ = list.allows(ip);
                }
            }
            let strings = list.to_strings();
            let again = Allowlist::parse(&strings).expect("the canonical form parses");
            assert_eq!(again.to_strings(), strings);
            assert_eq!(list.len(), strings.len());
            for net in list.nets() {
                let addr: IpAddr = net.network();
                assert!(list.allows(addr), "{net} is listed but its network address is refused");
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(e.index < entries.len());
            }
        }
    }
});
