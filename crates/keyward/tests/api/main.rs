//! keyward's integration tests: one binary, the real app on real sockets.
mod helpers;

mod admin_keys;
mod backend;
mod cli;
mod docs;
mod hardening;
mod hooks;
mod leaked;
mod lifecycle;
mod limits;
mod multinode;
mod notices;
mod pages;
mod problems;
mod sessions;
mod usage_autorevoke;
mod usage_format;
mod usage_log;
mod usage_spill;
mod usage_unmatched;
mod v1_errors;
mod v1_isolation;
mod v1_openapi;
mod v1_pagination;
mod v1_resources;
mod v1_support;
