//! The SSRF guard of the outbound client: which URLs keyward may send to,
//! and a DNS resolver that resolves a name once, checks every address, and
//! hands the connector only checked addresses (so there is no window in
//! which a second lookup could answer differently: no DNS rebinding).
//!
//! Refused unless `--webhooks-allow-private`: loopback, RFC 1918 private,
//! link-local (169.254/16 with the cloud metadata address, fe80::/10), CGNAT
//! (100.64/10), unique-local (fc00::/7), unspecified, multicast, broadcast
//! and the other reserved ranges, and IPv6 forms that embed any of them
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4). The URL host is parsed by
//! the `url` crate, which normalises decimal, octal and hex IPv4 spellings
//! (`2130706433`, `0177.0.0.1`, `0x7f.1`) to the address they mean.
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use url::{Host, Url};

/// What the guard lets through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Private, loopback, link-local… addresses allowed (tests, on-premises).
    pub allow_private: bool,
    /// `http://` allowed besides `https://`.
    pub allow_http: bool,
}

impl Policy {
    /// For destinations the operator configured (notify webhook, key
    /// endpoints): the operator chose them, often an internal relay.
    pub fn operator() -> Policy {
        Policy { allow_private: true, allow_http: true }
    }
}

/// Why a URL is refused before any connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is not an absolute URL")]
    NotAbsolute,
    #[error("must be an https:// URL")]
    NotHttps,
    #[error("must not contain a user name or password")]
    UserInfo,
    #[error("has no host")]
    NoHost,
    #[error("points to an address that is not allowed (loopback, private, link-local, …)")]
    AddressNotAllowed,
}

impl UrlError {
    /// The field error code of a 422.
    pub fn code(&self) -> &'static str {
        match self {
            UrlError::NotAbsolute => "invalid_url",
            UrlError::NotHttps => "https_required",
            UrlError::UserInfo => "user_info_not_allowed",
            UrlError::NoHost => "invalid_url",
            UrlError::AddressNotAllowed => "target_not_allowed",
        }
    }
}

/// Parse and check a target URL: absolute, https (or http when allowed),
/// no user-info, and an IP-literal host outside the refused ranges.
/// Names are checked when they are resolved, at each delivery.
pub fn check_url(raw: &str, policy: Policy) -> Result<Url, UrlError> {
    let url = Url::parse(raw).map_err(|_| UrlError::NotAbsolute)?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(UrlError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::UserInfo);
    }
    let ip = match url.host() {
        None => return Err(UrlError::NoHost),
        Some(Host::Domain("")) => return Err(UrlError::NoHost),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
    };
    if let Some(ip) = ip {
        if !policy.allow_private && is_blocked(ip) {
            return Err(UrlError::AddressNotAllowed);
        }
    }
    Ok(url)
}

/// Whether an address is one keyward must not send to.
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_blocked_v4(v4),
        IpAddr::V6(v6) => is_blocked_v6(v6),
    }
}

fn is_blocked_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // 0.0.0.0/8 "this network"
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, cloud metadata
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || ip.is_multicast() // 224/4
        || a >= 240 // reserved 240/4 and broadcast 255.255.255.255
}

fn is_blocked_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return true;
    }
    // IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d (deprecated,
    // still routed by some stacks) and IPv4-translated ::ffff:0:a.b.c.d.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_blocked_v4(v4);
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] || seg[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return is_blocked_v4(embedded_v4(seg[6], seg[7]));
    }
    // NAT64 64:ff9b::/96 (and the local-use 64:ff9b:1::/48).
    if seg[0] == 0x64 && seg[1] == 0xff9b {
        return seg[2] == 1 || is_blocked_v4(embedded_v4(seg[6], seg[7]));
    }
    // 6to4 2002:AABB:CCDD::/48 embeds an IPv4 address.
    if seg[0] == 0x2002 && is_blocked_v4(embedded_v4(seg[1], seg[2])) {
        return true;
    }
    (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (seg[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0]) // discard-only 100::/64
}

fn embedded_v4(hi: u16, lo: u16) -> Ipv4Addr {
    let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
    Ipv4Addr::new(a, b, c, d)
}

/// A resolved name held an address the guard refuses. The outbound client
/// finds it in the error's source chain and reports a refused address.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to an address that is not allowed")]
pub struct BlockedAddress;

type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// How names become addresses: the system resolver, or a fixed answer in tests.
pub type Lookup = Arc<dyn Fn(String) -> LookupFuture + Send + Sync>;

/// The system resolver (getaddrinfo through tokio).
pub fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    })
}

/// reqwest's resolver: one lookup, every address checked, only checked
/// addresses returned to the connector. A name with any refused address
/// is refused as a whole (its owner controls which one we would get).
pub struct GuardedResolver {
    pub policy: Policy,
    pub lookup: Lookup,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = Arc::clone(&self.lookup);
        let allow_private = self.policy.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = lookup(host).await.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            checked(ips, allow_private)
                .map(|addrs| Box::new(addrs.into_iter()) as Addrs)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
    }
}

/// The addresses to connect to, or why none may be used.
pub fn checked(ips: Vec<IpAddr>, allow_private: bool) -> Result<Vec<SocketAddr>, BlockedAddress> {
    if ips.is_empty() || (!allow_private && ips.iter().any(|ip| is_blocked(*ip))) {
        return Err(BlockedAddress);
    }
    Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Policy = Policy { allow_private: false, allow_http: false };

    fn blocked(s: &str) -> bool {
        is_blocked(s.parse().unwrap())
    }

    /// Every address of `refused` is blocked, none of `public` is.
    fn assert_refused_and_public(refused: &[&str], public: &[&str]) {
        for ip in refused {
            assert!(blocked(ip), "{ip} must be refused");
        }
        for ip in public {
            assert!(!blocked(ip), "{ip} is public");
        }
    }

    #[test]
    fn refuses_every_private_and_special_ipv4_range() {
        assert_refused_and_public(
            &[
                "127.0.0.1",
                "127.255.255.254",
                "10.0.0.1",
                "10.255.255.255",
                "172.16.0.1",
                "172.31.255.255",
                "192.168.1.1",
                "169.254.169.254",
                "169.254.0.1",
                "100.64.0.1",
                "100.127.255.255",
                "0.0.0.0",
                "0.1.2.3",
                "224.0.0.1",
                "239.255.255.255",
                "255.255.255.255",
                "240.0.0.1",
                "198.18.0.1",
                "192.0.0.8",
                "192.0.2.1",
            ],
            &["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "172.15.255.255", "93.184.216.34"],
        );
    }

    #[test]
    fn refuses_every_private_and_special_ipv6_range_and_embedded_ipv4() {
        assert_refused_and_public(
            &[
                "::1",
                "::",
                "fe80::1",
                "febf::1",
                "fc00::1",
                "fd12:3456::1",
                "ff02::1",
                "ff0e::1",
                "::ffff:127.0.0.1",
                "::ffff:10.0.0.1",
                "::ffff:169.254.169.254",
                "::127.0.0.1",
                "::10.1.2.3",
                "::ffff:0:192.168.0.1",
                "64:ff9b::a00:1",
                "2002:c0a8:0101::1",
                "2001:db8::1",
            ],
            &["2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
        );
    }

    #[test]
    fn every_ipv4_spelling_of_a_refused_address_is_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://0x7f.0.0.1/",
            "https://0x7f.1/",
            "https://127.1/",
            "https://017700000001/",
            "https://0/",
            "https://0xA9FEA9FE/",
            "https://2852039166/",
            "https://169.254.43518/",
            "https://[::ffff:7f00:1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[0:0:0:0:0:ffff:a9fe:a9fe]/",
            "https://[::1]:8443/x",
            "https://[fe80::1%25eth0]/",
            "https://10.0.0.1:443/hook",
            "https://%31%32%37.0.0.1/",
        ] {
            let r = check_url(url, STRICT);
            assert!(
                matches!(r, Err(UrlError::AddressNotAllowed) | Err(UrlError::NotAbsolute)),
                "{url} must be refused, got {r:?}"
            );
        }
        // The ones that do parse are refused for their address, not by luck.
        assert_eq!(check_url("https://0x7f.1/", STRICT), Err(UrlError::AddressNotAllowed));
        assert_eq!(check_url("https://2130706433/", STRICT), Err(UrlError::AddressNotAllowed));
        assert_eq!(check_url("https://0177.0.0.1/", STRICT), Err(UrlError::AddressNotAllowed));
        assert_eq!(check_url("https://%31%32%37.0.0.1/", STRICT), Err(UrlError::AddressNotAllowed));
    }

    #[test]
    fn checks_scheme_user_info_and_lets_public_names_through() {
        assert!(check_url("https://hooks.zapier.com/hooks/standard/1/abc", STRICT).is_ok());
        assert!(check_url("https://8.8.8.8/x", STRICT).is_ok());
        assert_eq!(check_url("http://hooks.example.com/", STRICT), Err(UrlError::NotHttps));
        assert_eq!(check_url("ftp://hooks.example.com/", STRICT), Err(UrlError::NotHttps));
        assert_eq!(check_url("/relative", STRICT), Err(UrlError::NotAbsolute));
        assert_eq!(check_url("https://user:pw@hooks.example.com/", STRICT), Err(UrlError::UserInfo));
        assert_eq!(check_url("https://user@hooks.example.com/", STRICT), Err(UrlError::UserInfo));
        let open = Policy { allow_private: true, allow_http: true };
        assert!(check_url("http://127.0.0.1:9000/", open).is_ok());
        assert!(check_url("http://localhost:9000/", Policy { allow_private: false, allow_http: true }).is_ok());
    }

    #[tokio::test]
    async fn a_resolver_answering_a_private_address_is_refused() {
        for answer in [vec!["10.0.0.7"], vec!["93.184.216.34", "127.0.0.1"], vec!["::ffff:169.254.169.254"], vec![]] {
            let ips: Vec<IpAddr> = answer.iter().map(|s| s.parse().unwrap()).collect();
            let r = GuardedResolver {
                policy: STRICT,
                lookup: Arc::new(move |_| Box::pin(std::future::ready(Ok(ips.clone())))),
            };
            let name: Name = "rebind.example.com".parse().unwrap();
            assert!(r.resolve(name).await.is_err(), "{answer:?} must be refused");
        }
        let r = GuardedResolver {
            policy: STRICT,
            lookup: Arc::new(|_| Box::pin(std::future::ready(Ok(vec!["93.184.216.34".parse().unwrap()])))),
        };
        let addrs: Vec<SocketAddr> = r.resolve("example.com".parse().unwrap()).await.unwrap().collect();
        assert_eq!(addrs, vec!["93.184.216.34:0".parse().unwrap()]);
    }
}
