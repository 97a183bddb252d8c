//! Who the client is (SPEC §4): the TCP peer, unless the peer is a trusted
//! proxy, in which case the right-most untrusted `X-Forwarded-For` hop.
//!
//! Each proxy appends the address it received the request from, so walking
//! `X-Forwarded-For` from the right, every entry written by a trusted proxy is
//! believed, and the first address that is not itself a trusted proxy is the
//! client. Anything further left was written by that client and is ignored
//! (the classic spoof is a left-most fake entry). Nothing else (`Forwarded`,
//! `X-Real-IP`, ...) is believed.
//!
//! Parsing decisions:
//! * entries are trimmed; empty list elements (`a,,b`, a trailing comma, an
//!   empty header) are skipped, as HTTP list syntax (RFC 9110 §5.6.1) asks;
//! * `1.2.3.4:5678`, `[2001:db8::1]:443` and `[2001:db8::1]` are accepted
//!   and the port dropped: some proxies (Azure Application Gateway, IIS ARR)
//!   append the peer with its port, and the address part is just as reliable;
//! * anything else (`unknown`, obfuscated identifiers, zone ids, garbage)
//!   stops the walk, and so does running out of entries: the answer is then
//!   the last trusted hop seen (the peer, or the left-most trusted entry
//!   reached), never something to the left of a hop we could not read;
//! * IPv4-mapped IPv6 is canonicalised to IPv4 everywhere, and a trusted
//!   IPv6 net written in mapped form (`::ffff:10.0.0.0/104`) covers the IPv4
//!   addresses it maps.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The TCP peer, unless the peer is inside a trusted proxy CIDR; then the right-most address of
/// X-Forwarded-For that is not itself a trusted proxy. `xff` holds the values of every X-Forwarded-For
/// header in order (they concatenate). Nothing else is believed. If walking from the right hits an
/// unparsable entry, or every entry is trusted, return the last trusted hop seen (never something to its left).
pub fn client_ip(peer: IpAddr, xff: &[&str], trusted: &[IpNet]) -> IpAddr {
    let mut last_trusted = peer.to_canonical();
    if !is_trusted(last_trusted, trusted) {
        return last_trusted;
    }
    for entry in xff.iter().rev().flat_map(|h| h.rsplit(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some(ip) = parse_hop(entry) else {
            return last_trusted;
        };
        if !is_trusted(ip, trusted) {
            return ip;
        }
        last_trusted = ip;
    }
    last_trusted
}

/// Whether `ip` (already canonical) is inside one of the trusted nets.
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => n.contains(&a),
        (IpNet::V6(n), IpAddr::V6(a)) => n.contains(&a),
        (IpNet::V6(n), IpAddr::V4(a)) => n.contains(&a.to_ipv6_mapped()),
        (IpNet::V4(_), IpAddr::V6(_)) => false,
    })
}

/// One `X-Forwarded-For` element (trimmed, non-empty) -> canonical address.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let ip = match s.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match s.parse::<SocketAddr>() {
            Ok(sa) => sa.ip(),
            Err(_) => IpAddr::V6(s.strip_prefix('[')?.strip_suffix(']')?.parse().ok()?),
        },
    };
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peer_ignores_xff() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("198.51.100.4"), &["1.1.1.1", "10.0.0.1"], &t), ip("198.51.100.4"));
        assert_eq!(client_ip(ip("198.51.100.4"), &[], &[]), ip("198.51.100.4"));
        // no trusted proxies configured: XFF is never read
        assert_eq!(client_ip(ip("10.0.0.1"), &["1.1.1.1"], &[]), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_peer_takes_rightmost_untrusted() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &["203.0.113.9"], &t), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.2"), &[" 192.0.2.1 , 203.0.113.9 "], &t), ip("203.0.113.9"));
    }

    #[test]
    fn spoofed_leftmost_entries_are_ignored() {
        let t = nets(&["10.0.0.0/8"]);
        // the client sent "X-Forwarded-For: 1.2.3.4, 10.9.9.9"; the proxy appended its real address
        assert_eq!(client_ip(ip("10.0.0.2"), &["1.2.3.4, 10.9.9.9, 198.51.100.7"], &t), ip("198.51.100.7"));
        // a second header sent by the client comes first and is just as ignored
        assert_eq!(client_ip(ip("10.0.0.2"), &["6.6.6.6", "198.51.100.7"], &t), ip("198.51.100.7"));
    }

    #[test]
    fn chains_of_trusted_proxies() {
        let t = nets(&["10.0.0.0/8", "2001:db8:cafe::/48", "172.16.0.0/12"]);
        // client -> CDN edge (2001:db8:cafe::1) -> LB (172.16.0.5) -> app, peer 10.0.0.2
        let xff = ["203.0.113.50, 2001:db8:cafe::1", "172.16.0.5"];
        assert_eq!(client_ip(ip("10.0.0.2"), &xff, &t), ip("203.0.113.50"));
        // headers concatenate in order: same answer as a single header
        assert_eq!(client_ip(ip("10.0.0.2"), &["203.0.113.50, 2001:db8:cafe::1, 172.16.0.5"], &t), ip("203.0.113.50"));
        // every hop trusted: the left-most trusted hop is the best we know
        assert_eq!(client_ip(ip("10.0.0.2"), &["10.1.1.1, 172.16.0.5"], &t), ip("10.1.1.1"));
        // trusted peer, no header at all
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &t), ip("10.0.0.2"));
    }

    #[test]
    fn garbage_stops_at_last_trusted_hop() {
        let t = nets(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        assert_eq!(client_ip(peer, &["1.2.3.4, garbage"], &t), peer);
        assert_eq!(client_ip(peer, &["unknown"], &t), peer);
        assert_eq!(client_ip(peer, &["1.2.3.4, nonsense, 10.0.0.9"], &t), ip("10.0.0.9"));
        assert_eq!(client_ip(peer, &["fe80::1%eth0"], &t), peer);
        assert_eq!(client_ip(peer, &["1.2.3.4 5.6.7.8"], &t), peer);
        assert_eq!(client_ip(peer, &["[1.2.3.4]"], &t), peer);
        // empty elements are skipped, not garbage
        assert_eq!(client_ip(peer, &["1.2.3.4,, ,", ""], &t), ip("1.2.3.4"));
    }

    #[test]
    fn ports_and_brackets_are_accepted() {
        let t = nets(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        assert_eq!(client_ip(peer, &["1.2.3.4:5678"], &t), ip("1.2.3.4"));
        assert_eq!(client_ip(peer, &["[2001:db8::7]:443"], &t), ip("2001:db8::7"));
        assert_eq!(client_ip(peer, &["[2001:db8::7]"], &t), ip("2001:db8::7"));
        assert_eq!(client_ip(peer, &["2001:db8::7"], &t), ip("2001:db8::7"));
        // a port on a trusted hop does not make it untrusted
        assert_eq!(client_ip(peer, &["1.2.3.4, 10.0.0.9:80"], &t), ip("1.2.3.4"));
    }

    #[test]
    fn mapped_addresses_are_canonical() {
        let t = nets(&["10.0.0.0/8"]);
        // a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
        assert_eq!(client_ip(ip("::ffff:10.0.0.2"), &["::ffff:203.0.113.9"], &t), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("::ffff:198.51.100.1"), &["1.1.1.1"], &t), ip("198.51.100.1"));
        // a trusted net written in mapped form covers the IPv4 addresses
        let mapped = nets(&["::ffff:10.0.0.0/104"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &["203.0.113.9"], &mapped), ip("203.0.113.9"));
    }
}
