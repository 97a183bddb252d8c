//! Hot-path benchmarks: `cargo bench -p keyward-core --bench core -- --quick`.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ipnet::IpNet;
use keyward_core::allowlist::Allowlist;
use keyward_core::client_ip::client_ip;
use keyward_core::ratelimit::KeyedLimiter;
use std::net::IpAddr;

const T0: u64 = 1_700_000_000_000;

fn key(i: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    k
}

fn ratelimit(c: &mut Criterion) {
    let limiter = KeyedLimiter::<[u8; 32]>::new();
    for i in 0..100_000 {
        limiter.try_acquire(&key(i), 300, T0);
    }
    let hot = key(42);
    // A client at exactly its limit (1000/min, one every 60 ms): every call
    // succeeds, the log holds 1000 entries, and each call prunes one and
    // appends one.
    let mut now = T0;
    c.bench_function("ratelimit/try_acquire_hit", |b| {
        b.iter(|| {
            now += 60;
            let d = limiter.try_acquire(black_box(&hot), 1000, now);
            debug_assert!(d.allowed);
            black_box(d)
        })
    });
}

fn allowlist(c: &mut Criterion) {
    let list = Allowlist::parse(&["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"]).unwrap();
    let v4: IpAddr = "198.51.100.9".parse().unwrap(); // miss: scans every v4 entry
    let v6: IpAddr = "2001:db8:1::5".parse().unwrap();
    let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
    c.bench_function("allowlist/allows_v4", |b| b.iter(|| list.allows(black_box(v4))));
    c.bench_function("allowlist/allows_v6", |b| b.iter(|| list.allows(black_box(v6))));
    c.bench_function("allowlist/allows_mapped", |b| b.iter(|| list.allows(black_box(mapped))));
}

fn client(c: &mut Criterion) {
    let trusted: Vec<IpNet> =
        ["10.0.0.0/8", "172.16.0.0/12", "2001:db8:cafe::/48"].iter().map(|n| n.parse().unwrap()).collect();
    let peer: IpAddr = "10.0.0.2".parse().unwrap();
    let xff = ["6.6.6.6, 203.0.113.50, 2001:db8:cafe::1", "172.16.0.5"];
    c.bench_function("client_ip/trusted_proxy", |b| b.iter(|| client_ip(black_box(peer), black_box(&xff), &trusted)));
}

criterion_group!(benches, ratelimit, allowlist, client);
criterion_main!(benches);
