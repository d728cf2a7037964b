//! Backpressure on real sockets: a remote, or Teler, that stops reading. In its own test
//! binary, one test at a time, because it measures the process's memory, which other tests
//! running in parallel would disturb. The same file runs for every adapter (only
//! `common/server.rs` differs).

mod common;

teler_test_support::backpressure_cases!();
