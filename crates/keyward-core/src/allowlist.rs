//! Per-key IP allowlists (SPEC §4 step 5, §5 `allowed-ips`).
//!
//! Entries are IPv4/IPv6 CIDRs or single addresses. They are normalised on
//! parse: single addresses become /32 or /128, IPv4-mapped IPv6
//! (`::ffff:1.2.3.4`, `::ffff:0:0/96+n`) becomes the IPv4 form, duplicates
//! collapse and the list is sorted (IPv4 first, then by address and prefix),
//! so equal lists compare equal and print the same. Overlapping entries are
//! kept as given (10.0.0.0/8 and 10.1.0.0/16 both stay) so the user sees what
//! they entered.
//!
//! A client arriving as IPv4-mapped IPv6 is an IPv4 client: it is matched
//! against the IPv4 entries only, never against IPv6 entries such as `::/0`.
//!
//! Matching is a linear scan of `(network, mask)` integer pairs: with at most
//! [`MAX_ENTRIES`] entries that beats any tree, and it never allocates.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most entries one key's allowlist may hold.
pub const MAX_ENTRIES: usize = 100;
/// Longer entries are rejected (and echoed truncated): the longest valid
/// entry, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128`, is 49 bytes.
const MAX_ENTRY_LEN: usize = 64;

/// A normalised allowlist; empty means any source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// `(network, mask)`, sorted, deduplicated; `network & !mask == 0`.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// One rejected entry: where it was, what it was (trimmed, truncated to 64
/// bytes) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?}: {reason}")]
pub struct EntryError {
    pub index: usize,
    pub entry: String,
    pub reason: String,
}

/// IPv4-mapped IPv6 -> IPv4, otherwise unchanged.
#[inline]
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn mask4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_ENTRY_LEN {
        return s.to_string();
    }
    let mut end = MAX_ENTRY_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Parse one trimmed entry into a normalised network.
fn parse_entry(s: &str) -> Result<IpNet, String> {
    if s.is_empty() {
        return Err("empty entry".into());
    }
    if s.len() > MAX_ENTRY_LEN {
        return Err("entry too long to be an IP address or CIDR".into());
    }
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| "not an IP address or CIDR".to_string())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid prefix length {p:?}"));
            }
            let p: u16 = p.parse().map_err(|_| format!("invalid prefix length {p:?}"))?;
            if p > u16::from(max) {
                let family = if max == 32 { "IPv4" } else { "IPv6" };
                return Err(format!("prefix length /{p} is too long for {family} (at most /{max})"));
            }
            u8::try_from(p).map_err(|_| format!("invalid prefix length {p:?}"))?
        }
    };
    let net = IpNet::new(addr, prefix).map_err(|e| e.to_string())?;
    if net.trunc() != net {
        return Err(format!("host bits set (did you mean {}?)", net.trunc()));
    }
    Ok(match net {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new(v4, n.prefix_len() - 96).expect("prefix <= 32")),
            None => net,
        },
        _ => net,
    })
}

impl Allowlist {
    /// Parse entries: IPv4/IPv6 CIDRs or single addresses (single -> /32 or
    /// /128). IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:0:0/96+n`) is
    /// normalised to IPv4. Host bits set (`10.0.0.1/8`) is an error.
    /// Whitespace is trimmed; empty strings, garbage, prefix too long are
    /// errors. Duplicates collapse. ALL bad entries are returned (so a 422 can
    /// name each), nothing partially applied. More than [`MAX_ENTRIES`]
    /// entries is a single error naming the first one over the limit.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, Vec<EntryError>> {
        if entries.len() > MAX_ENTRIES {
            return Err(vec![EntryError {
                index: MAX_ENTRIES,
                entry: truncate(entries[MAX_ENTRIES].as_ref().trim()),
                reason: format!("too many entries (at most {MAX_ENTRIES} per key)"),
            }]);
        }
        let mut list = Allowlist::default();
        let mut errors = Vec::new();
        for (index, raw) in entries.iter().enumerate() {
            let s = raw.as_ref().trim();
            match parse_entry(s) {
                Ok(IpNet::V4(n)) => list.v4.push((u32::from(n.network()), mask4(n.prefix_len()))),
                Ok(IpNet::V6(n)) => list.v6.push((u128::from(n.network()), mask6(n.prefix_len()))),
                Err(reason) => errors.push(EntryError { index, entry: truncate(s), reason }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        list.v4.sort_unstable();
        list.v4.dedup();
        list.v6.sort_unstable();
        list.v6.dedup();
        Ok(list)
    }

    /// No entries: every source is allowed.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Number of (distinct) entries.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// true when empty or when ip (IPv4-mapped IPv6 normalised to IPv4) is inside some entry
    #[inline]
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.is_empty() {
            return true;
        }
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, mask)| a & mask == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, mask)| a & mask == net)
            }
        }
    }

    /// The entries as networks, in canonical order.
    pub fn nets(&self) -> Vec<IpNet> {
        let v4 = self.v4.iter().map(|&(net, mask)| {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(net), prefix_len(mask.count_ones())).expect("<= 32"))
        });
        let v6 = self.v6.iter().map(|&(net, mask)| {
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(net), prefix_len(mask.count_ones())).expect("<= 128"))
        });
        v4.chain(v6).collect()
    }

    /// canonical strings, e.g. ["10.0.0.0/8", "203.0.113.7/32", "2001:db8::/32"]
    pub fn to_strings(&self) -> Vec<String> {
        self.nets().iter().map(ToString::to_string).collect()
    }
}

/// The prefix length of a mask from its set bits (at most 128).
fn prefix_len(ones: u32) -> u8 {
    u8::try_from(ones).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn parse(entries: &[&str]) -> Allowlist {
        Allowlist::parse(entries).unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        let l = parse(&[
            " 2001:db8::/32",
            "203.0.113.7",
            "10.0.0.0/8\t",
            "::ffff:198.51.100.0/120",
            "::ffff:192.0.2.1",
            "2001:db8::1",
            "10.0.0.0/8",
            "::ffff:10.0.0.0/104",
            "0.0.0.0/0",
        ]);
        assert_eq!(
            l.to_strings(),
            [
                "0.0.0.0/0",
                "10.0.0.0/8",
                "192.0.2.1/32",
                "198.51.100.0/24",
                "203.0.113.7/32",
                "2001:db8::/32",
                "2001:db8::1/128",
            ]
        );
        assert_eq!(l.len(), 7);
        // round trip
        assert_eq!(Allowlist::parse(&l.to_strings()).unwrap(), l);
        // order and duplicates do not matter for equality
        assert_eq!(parse(&["1.2.3.4", "10.0.0.0/8"]), parse(&["10.0.0.0/8", "::ffff:1.2.3.4", "1.2.3.4/32"]));
    }

    #[test]
    fn mapped_whole_range_is_ipv4_any() {
        assert_eq!(parse(&["::ffff:0:0/96"]).to_strings(), ["0.0.0.0/0"]);
    }

    #[test]
    fn reports_every_bad_entry() {
        let errs = Allowlist::parse(&[
            "10.0.0.1/8",
            "ok?",
            "1.2.3.4",
            "",
            "   ",
            "1.2.3.0/33",
            "2001:db8::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            "10.0.0.0/0008",
            "2001:db8::1/64",
            "fe80::1%eth0",
            "1.2.3",
            "010.0.0.1",
            "::ffff:0:0/95",
        ])
        .unwrap_err();
        let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.index, e.entry.as_str())).collect();
        assert_eq!(
            got,
            [
                (0, "10.0.0.1/8"),
                (1, "ok?"),
                (3, ""),
                (4, ""),
                (5, "1.2.3.0/33"),
                (6, "2001:db8::/129"),
                (7, "10.0.0.0/"),
                (8, "10.0.0.0/+8"),
                (9, "10.0.0.0/ 8"),
                (10, "10.0.0.0/0008"),
                (11, "2001:db8::1/64"),
                (12, "fe80::1%eth0"),
                (13, "1.2.3"),
                (14, "010.0.0.1"),
                (15, "::ffff:0:0/95"),
            ]
        );
        assert_eq!(errs[0].to_string(), "\"10.0.0.1/8\": host bits set (did you mean 10.0.0.0/8?)");
        assert_eq!(errs[2].reason, "empty entry");
        assert_eq!(errs[4].reason, "prefix length /33 is too long for IPv4 (at most /32)");
        assert_eq!(errs[10].reason, "host bits set (did you mean 2001:db8::/64?)");
    }

    #[test]
    fn long_entries_are_truncated_in_errors() {
        let long = "1".repeat(10_000);
        let errs = Allowlist::parse(&[long]).unwrap_err();
        assert!(errs[0].entry.len() < 70);
    }

    #[test]
    fn entry_limit() {
        let ok: Vec<String> = (0..MAX_ENTRIES).map(|i| format!("10.0.{i}.0/24")).collect();
        assert_eq!(Allowlist::parse(&ok).unwrap().len(), MAX_ENTRIES);
        let mut too_many = ok.clone();
        too_many.push("192.0.2.1".into());
        let errs = Allowlist::parse(&too_many).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].index, MAX_ENTRIES);
        assert_eq!(errs[0].reason, "too many entries (at most 100 per key)");
    }

    #[test]
    fn allows() {
        let empty = Allowlist::default();
        assert!(empty.is_empty());
        assert!(empty.allows(ip("192.0.2.1")));
        assert!(Allowlist::parse::<&str>(&[]).unwrap().allows(ip("::1")));

        let l = parse(&["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"]);
        assert!(l.allows(ip("10.255.1.2")));
        assert!(l.allows(ip("::ffff:10.1.2.3")));
        assert!(l.allows(ip("203.0.113.7")));
        assert!(!l.allows(ip("203.0.113.8")));
        assert!(!l.allows(ip("11.0.0.0")));
        assert!(l.allows(ip("2001:db8:ffff::1")));
        assert!(!l.allows(ip("2001:db9::1")));
        assert!(!l.allows(ip("::1")));

        // mapped clients are IPv4 clients: IPv6 entries do not cover them
        let v6_any = parse(&["::/0"]);
        assert!(v6_any.allows(ip("2001:db8::1")));
        assert!(!v6_any.allows(ip("::ffff:1.2.3.4")));
        assert!(!v6_any.allows(ip("1.2.3.4")));
        let v4_any = parse(&["0.0.0.0/0"]);
        assert!(v4_any.allows(ip("::ffff:1.2.3.4")));
        assert!(!v4_any.allows(ip("::1")));
    }

    #[test]
    fn canonical_ip_unmaps() {
        assert_eq!(canonical_ip(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(canonical_ip(ip("1.2.3.4")), ip("1.2.3.4"));
        assert_eq!(canonical_ip(ip("::1.2.3.4")), ip("::1.2.3.4"));
        assert_eq!(canonical_ip(ip("2001:db8::1")), ip("2001:db8::1"));
    }

    /// A random network, written in one of the accepted spellings, and the
    /// normalised net it must parse to.
    fn any_net() -> impl Strategy<Value = (String, IpNet)> {
        let v4 = (any::<u32>(), 0u8..=32, 0u8..3).prop_map(|(a, p, style)| {
            let n = Ipv4Net::new(Ipv4Addr::from(a), p).unwrap().trunc();
            let text = match style {
                0 => n.to_string(),
                1 => format!("::ffff:{}/{}", n.network(), p + 96),
                _ if p == 32 => format!("  {}  ", n.network()),
                _ => format!(" {n}"),
            };
            (text, IpNet::V4(n))
        });
        let v6 = (any::<u128>(), 0u8..=128).prop_map(|(a, p)| {
            let n = Ipv6Net::new(Ipv6Addr::from(a), p).unwrap().trunc();
            // a random v6 net that lands in the mapped range normalises to v4
            let expect = match (n.network().to_ipv4_mapped(), p >= 96) {
                (Some(v4), true) => IpNet::V4(Ipv4Net::new(v4, p - 96).unwrap()),
                _ => IpNet::V6(n),
            };
            (n.to_string(), expect)
        });
        prop_oneof![v4, v6]
    }

    /// An address from raw randomness, biased to land near `near`'s network
    /// (and spelled IPv4-mapped half the time when it is IPv4).
    fn make_ip(near: IpNet, r: u128, flip: u32, style: u8) -> IpAddr {
        let base = match near {
            IpNet::V4(n) => u128::from(n.network().to_ipv6_mapped()),
            IpNet::V6(n) => u128::from(n.network()),
        };
        let noise = r.checked_shr(flip).unwrap_or(0);
        match style {
            0 => IpAddr::V6(Ipv6Addr::from(r)),
            1 => IpAddr::V4(Ipv4Addr::from(u32::try_from(r >> 96).expect("32 bits"))),
            2 => IpAddr::V6(Ipv6Addr::from(base ^ noise)),
            _ => IpAddr::V6(Ipv6Addr::from(base ^ noise)).to_canonical(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn allows_matches_ipnet_contains(
            nets in prop::collection::vec(any_net(), 1..5),
            probes in prop::collection::vec((any::<usize>(), any::<u128>(), 0u32..=128, 0u8..4), 32),
        ) {
            let texts: Vec<&str> = nets.iter().map(|(t, _)| t.as_str()).collect();
            let list = Allowlist::parse(&texts).unwrap();
            let expected: Vec<IpNet> = nets.iter().map(|&(_, n)| n).collect();
            // normalisation: the same set, canonical strings round-trip
            let mut sorted = expected.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(list.nets(), sorted);
            prop_assert_eq!(&Allowlist::parse(&list.to_strings()).unwrap(), &list);

            for (i, r, flip, style) in probes {
                let addr = make_ip(expected[i % expected.len()], r, flip, style);
                let canon = canonical_ip(addr);
                let want = expected.iter().any(|n| n.contains(&canon));
                prop_assert_eq!(list.allows(addr), want, "{} in {:?}", addr, texts);
                // the mapped spelling of an IPv4 address answers the same
                if let IpAddr::V4(v4) = canon {
                    prop_assert_eq!(list.allows(IpAddr::V6(v4.to_ipv6_mapped())), want);
                }
            }
        }
    }
}
