//! The smol adapter of the Teler SDK.
//!
//! For now it re-exports [`teler_core`]; the sockets and HTTP transport arrive with the
//! adapters and REST issues.
#![forbid(unsafe_code)]

pub use teler_core::*;

pub mod rest;
pub use rest::AsyncClient;
