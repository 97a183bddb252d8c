//! Client IP resolution (`keyward_core::client_ip`) over fuzzed
//! `X-Forwarded-For` headers, a fuzzed peer and fuzzed trusted proxies
//! (parsed as `--trusted-proxies` is, `keyward::config::parse_cidr`).
//!
//! Layout: byte 0 picks the peer's family, the next 4 or 16 bytes are the
//! peer; the rest is text: its first line the trusted nets (comma-separated),
//! each further line one `X-Forwarded-For` header.
#![no_main]

use keyward::config::parse_cidr;
use keyward_core::allowlist::canonical_ip;
use keyward_core::client_ip::{client_ip, is_trusted};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    let Some((&family, rest)) = data.split_first() else { return };
    let (peer, rest) = if family & 1 == 0 {
        let Some((a, rest)) = rest.split_first_chunk::<4>() else { return };
        (IpAddr::V4(Ipv4Addr::from(*a)), rest)
    } else {
        let Some((a, rest)) = rest.split_first_chunk::<16>() else { return };
        (IpAddr::V6(Ipv6Addr::from(*a)), rest)
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let mut lines = text.split('\n');
    let trusted: Vec<_> = lines.next().unwrap_or("").split(',').filter_map(|s| parse_cidr(s).ok()).collect();
    let xff: Vec<&str> = lines.take(8).collect();
    let peer = canonical_ip(peer);
    let ip = client_ip(peer, &xff, &trusted);
    if !is_trusted(peer, &trusted) {
        assert_eq!(ip, peer, "an untrusted peer is the client");
    }
    // The answer is always canonical (IPv4-mapped IPv6 is IPv4).
    assert_eq!(ip, canonical_ip(ip));
});
