//! The server block (`teler_blocking::serve`) on real sockets: refusals before the upgrade, the
//! call cap, handshake and start timeouts, and recovery from running out of descriptors.

mod common;

teler_test_support::serve_cases!(teler_blocking);
