//! Acting on live calls (handles, the registry) and draining, with real sockets.

mod common;

teler_test_support::control_cases!(teler_tokio);
