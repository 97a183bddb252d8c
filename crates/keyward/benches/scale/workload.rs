//! The synthetic workload of the scale bench: which key calls which route
//! when, deterministic so a kept store and a new one hold the same log.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::cast_lossless)]

use super::{DAY_MS, GENERATOR, KEYS_PER_WORKSPACE};
use keyward::usage::UsageRecord;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// splitmix64: deterministic, so a kept store and a new one hold the same log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a route's path is made from its template.
#[derive(Clone, Copy)]
enum Id {
    None,
    Study,
    Transcript,
    Hook,
}

/// The `/v1` routes with their share of the traffic (per mille).
const ROUTES: [(&str, &str, Id, u32); 11] = [
    ("GET", "/v1/me", Id::None, 250),
    ("GET", "/v1/studies", Id::None, 150),
    ("POST", "/v1/studies", Id::None, 50),
    ("GET", "/v1/studies/{id}", Id::Study, 200),
    ("GET", "/v1/studies/{id}/transcripts", Id::Study, 120),
    ("POST", "/v1/studies/{id}/transcripts", Id::Study, 60),
    ("GET", "/v1/transcripts", Id::None, 50),
    ("GET", "/v1/transcripts/{id}", Id::Transcript, 100),
    ("GET", "/v1/hooks", Id::None, 10),
    ("POST", "/v1/hooks", Id::None, 5),
    ("DELETE", "/v1/hooks/{id}", Id::Hook, 5),
];

/// Ids a workspace's requests name (studies, transcripts, hooks).
struct Things {
    studies: Vec<String>,
    transcripts: Vec<String>,
    hooks: Vec<String>,
}

pub(crate) struct Workload {
    rng: Rng,
    /// (workspace, key) of every key, and its cumulative traffic weight.
    keys: Vec<(Arc<str>, Arc<str>)>,
    cumulative: Vec<f64>,
    things: Vec<Things>,
    routes: Vec<Arc<str>>,
    route_cumulative: Vec<u32>,
}

impl Workload {
    /// Zipf-like traffic: workspace `w` (0-based, in id order) carries
    /// weight 1/(w+1), and within it key `k` 1/(k+1): the busiest workspace
    /// has ~13% of all records, its busiest key ~19% of those.
    pub(crate) fn new(workspaces: &[(String, Vec<String>)]) -> Workload {
        let mut rng = Rng(0x5CA1_E000 + u64::from(GENERATOR));
        let mut keys = vec![];
        let mut cumulative = vec![];
        let mut things = vec![];
        let mut sum = 0.0;
        for (w, (ws, ks)) in workspaces.iter().enumerate() {
            let ws: Arc<str> = Arc::from(ws.as_str());
            for (k, key) in ks.iter().enumerate() {
                sum += 1.0 / ((w + 1) as f64 * (k + 1) as f64);
                keys.push((Arc::clone(&ws), Arc::from(key.as_str())));
                cumulative.push(sum);
            }
            let mut ids = |prefix: &str, n: usize| -> Vec<String> {
                (0..n)
                    .map(|_| {
                        let ulid = ulid::Ulid::from_parts(
                            1_760_000_000_000 + rng.below(DAY_MS as u64 * 60),
                            u128::from(rng.next()),
                        );
                        format!("{prefix}_{ulid}")
                    })
                    .collect()
            };
            things.push(Things { studies: ids("std", 40), transcripts: ids("trn", 200), hooks: ids("hook", 5) });
        }
        let mut acc = 0;
        let route_cumulative = ROUTES
            .iter()
            .map(|r| {
                acc += r.3;
                acc
            })
            .collect();
        Workload {
            rng,
            keys,
            cumulative,
            things,
            routes: ROUTES.iter().map(|r| Arc::from(r.1)).collect(),
            route_cumulative,
        }
    }

    pub(crate) fn record(&mut self, at_ms: i64) -> UsageRecord {
        let total = *self.cumulative.last().unwrap();
        let u = self.rng.unit() * total;
        let i = self.cumulative.partition_point(|&c| c < u).min(self.keys.len() - 1);
        let (ws, key) = &self.keys[i];
        let w = i / KEYS_PER_WORKSPACE;
        let pick = self.rng.below(1000) as u32;
        let r = self.route_cumulative.partition_point(|&c| c <= pick).min(ROUTES.len() - 1);
        let (method, template, id, _) = ROUTES[r];
        let things = &self.things[w.min(self.things.len() - 1)];
        let roll = self.rng.below(10_000);
        // Mostly successes; 404 only where the path names something (2% of
        // those, and a tenth of them an id that is not even a ULID).
        let named = |v: &Vec<String>, rng: &mut Rng| v[rng.below(v.len() as u64) as usize].clone();
        let (mut status, mut code) = match roll {
            0..=149 => (422, Some("validation_failed")),
            150..=299 => (429, Some("rate_limited")),
            300..=349 => (401, Some("ip_not_allowed")),
            350..=379 => (403, Some("insufficient_scope")),
            380 => (500, Some("internal_error")),
            _ => match method {
                "POST" => (201, None),
                "DELETE" => (204, None),
                _ => (200, None),
            },
        };
        let value = match id {
            Id::None => None,
            Id::Study => Some(named(&things.studies, &mut self.rng)),
            Id::Transcript => Some(named(&things.transcripts, &mut self.rng)),
            Id::Hook => Some(named(&things.hooks, &mut self.rng)),
        };
        let value = value.map(|v| {
            if status < 300 && self.rng.below(50) == 0 {
                (status, code) = (404, Some("not_found"));
                if self.rng.below(10) == 0 {
                    return self.rng.below(100_000).to_string();
                }
            }
            v
        });
        let path = match value {
            Some(v) => template.replace("{id}", &v),
            None => template.to_string(),
        };
        // A few client addresses per key, one in ten IPv6.
        let n = (i as u32).wrapping_mul(4) + self.rng.below(4) as u32;
        let ip = if self.rng.below(10) == 0 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (n >> 16) as u16, n as u16))
        } else {
            IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (n & 0x00FF_FFFF)))
        };
        UsageRecord {
            at_ms,
            workspace_id: Arc::clone(ws),
            key_id: Arc::clone(key),
            method,
            route: Arc::clone(&self.routes[r]),
            path,
            status,
            code,
            latency_us: 300 + (-(1.0 - self.rng.unit()).ln() * 4000.0) as u64,
            ip,
        }
    }
}
