//! Real-socket tests of the bridge: a fake Teler client and a fake remote server on
//! 127.0.0.1, this adapter's bridge server in between. The same file runs for every adapter
//! (only `common/server.rs` differs). Every test runs under a watchdog.

mod common;

teler_test_support::bridge_cases!();
