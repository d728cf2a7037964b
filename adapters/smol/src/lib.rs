//! The smol adapter of the Teler SDK.
//!
//! For now it re-exports [`teler_core`]; the sockets and HTTP transport arrive with the
//! adapters and REST issues.
#![forbid(unsafe_code)]

pub use teler_core::*;

pub mod bridge;
/// The WebSocket library the bridge speaks (async-tungstenite 0.35, tungstenite 0.30).
pub use async_tungstenite;
pub use bridge::{StreamConnector, websocket_config};
/// The TLS library used for `wss://` remotes (for [`StreamConnector::tls_config`]).
pub use rustls;
pub mod rest;
pub use rest::AsyncClient;
