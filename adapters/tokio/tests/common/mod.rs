//! Test helpers: fake peers (shared by all adapters) and this adapter's bridge server.
#![allow(dead_code, unused_imports)]

#[path = "../../../bridge-test-support/peers.rs"]
pub mod peers;
pub mod server;

pub use peers::*;
pub use server::*;
