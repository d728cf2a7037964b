//! Test helpers: fake peers (shared by all adapters) and this adapter's bridge server.
#![allow(dead_code, unused_imports)]

pub use teler_test_support::peers;
pub mod server;

pub use peers::*;
pub use server::*;
