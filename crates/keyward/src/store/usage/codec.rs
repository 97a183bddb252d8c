//! The compact forms of a usage record's IP and path (issue 25), and their
//! exact inverses: what `recent` shows is what the request had.
//!
//! Path: only what the route template leaves open is kept. Empty: the path
//! is the route itself (`/v1/me`). Otherwise, per `{…}` segment, either
//! `0x80 | len(prefix)`, the prefix and the 16 bytes of a ULID (for
//! `std_01ARZ…`: 21 bytes instead of 30), or `len` and the segment's text
//! (len < 128). A path that does not fit its template (unmatched routes) is
//! `0xFF` and the whole path. Whatever the encoding, it is checked to decode
//! back to the same path, else the whole path is kept.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const WHOLE: u8 = 0xFF;
const ULID_TAG: u8 = 0x80;

/// The client IP as 4 or 16 bytes.
pub fn encode_ip(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The IP's text as `recent` shows it.
pub fn decode_ip(bytes: &[u8]) -> String {
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        return Ipv4Addr::from(b).to_string();
    }
    if let Ok(b) = <[u8; 16]>::try_from(bytes) {
        return Ipv6Addr::from(b).to_string();
    }
    String::from_utf8_lossy(bytes).into_owned()
}

fn is_variable(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// The variable part of `path` under `route`.
pub fn encode_path(route: &str, path: &str) -> Vec<u8> {
    if path == route {
        return Vec::new();
    }
    let whole = || [&[WHOLE][..], path.as_bytes()].concat();
    let (r, p): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), path.split('/').collect());
    if r.len() != p.len() || !r.iter().any(|s| is_variable(s)) {
        return whole();
    }
    let mut out = Vec::with_capacity(24);
    for (rs, ps) in r.iter().zip(&p) {
        if !is_variable(rs) {
            if rs != ps {
                return whole();
            }
            continue;
        }
        match ps.split_once('_').and_then(|(prefix, id)| Some((prefix, ulid::Ulid::from_string(id).ok()?))) {
            Some((prefix, id)) if prefix.len() < 0x7F && !prefix.is_empty() => {
                out.push(ULID_TAG | prefix.len() as u8);
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(&id.to_bytes());
            }
            _ if ps.len() < usize::from(ULID_TAG) => {
                out.push(ps.len() as u8);
                out.extend_from_slice(ps.as_bytes());
            }
            _ => return whole(),
        }
    }
    // A ULID in lower case, say, would come back in upper case: keep the text.
    if decode_path(route, &out).as_deref() != Some(path) {
        return whole();
    }
    out
}

/// The path back from its route and [`encode_path`]'s bytes; `None` for
/// bytes no encoder wrote.
pub fn decode_path(route: &str, bytes: &[u8]) -> Option<String> {
    match bytes.split_first() {
        None => return Some(route.to_string()),
        Some((&WHOLE, rest)) => return String::from_utf8(rest.to_vec()).ok(),
        Some(_) => {}
    }
    let mut rest = bytes;
    let mut segments = Vec::new();
    for rs in route.split('/') {
        if !is_variable(rs) {
            segments.push(rs.to_string());
            continue;
        }
        let (&tag, tail) = rest.split_first()?;
        if tag & ULID_TAG != 0 {
            let len = usize::from(tag & !ULID_TAG);
            let prefix = std::str::from_utf8(tail.get(..len)?).ok()?;
            let id = <[u8; 16]>::try_from(tail.get(len..len + 16)?).ok()?;
            segments.push(format!("{prefix}_{}", ulid::Ulid::from_bytes(id)));
            rest = &tail[len + 16..];
        } else {
            let len = usize::from(tag);
            segments.push(std::str::from_utf8(tail.get(..len)?).ok()?.to_string());
            rest = &tail[len..];
        }
    }
    rest.is_empty().then(|| segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_and_keep_only_their_variable_part() {
        let id = "std_01ARZ3NDEKTSV4RRFFQ69G5FAV";
        let cases = [
            ("/v1/me", "/v1/me", 0),
            ("/v1/studies/{id}", format!("/v1/studies/{id}").leak() as &str, 20),
            ("/v1/studies/{id}/transcripts", format!("/v1/studies/{id}/transcripts").leak(), 20),
            ("/v1/studies/{id}", "/v1/studies/nope", 5),
            ("/v1/studies/{id}", "/v1/studies/std_01arz3ndektsv4rrffq69g5fav", 43),
            ("/v1/studies/{id}", "/v1/studies/", 1),
            ("unmatched", "/v1/nowhere/at/all", 19),
            ("/v1/studies/{id}", "/v1/other/x", 12),
        ];
        for (route, path, len) in cases {
            let bytes = encode_path(route, path);
            assert_eq!(bytes.len(), len, "{route} {path}");
            assert_eq!(decode_path(route, &bytes).as_deref(), Some(path), "{route} {path}");
        }
        assert_eq!(decode_path("/v1/studies/{id}", &[0x85, b'a']), None, "truncated");
    }

    #[test]
    fn ips_are_raw_bytes() {
        for ip in ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::7", "::ffff:1.2.3.4"] {
            let bytes = encode_ip(&ip.parse().unwrap());
            assert_eq!(bytes.len(), if ip.contains(':') { 16 } else { 4 });
            assert_eq!(decode_ip(&bytes), ip);
        }
    }
}
