//! keyward's integration tests: one binary, the real app on real sockets.
mod helpers;

mod admin_keys;
mod cli;
mod limits;
mod sessions;
