//! The blocking adapter of the Teler SDK.
//!
//! For now it re-exports [`teler_core`]; the sockets and HTTP transport arrive with the
//! adapters and REST issues.
#![forbid(unsafe_code)]

pub use teler_core::*;

pub mod bridge;
pub use bridge::{StreamConnector, TcpSocket, websocket_config};
/// The TLS library used for `wss://` remotes (for [`StreamConnector::tls_config`]).
pub use rustls;
/// The WebSocket library the bridge speaks (tungstenite 0.30).
pub use tungstenite;
pub mod rest;
pub use rest::Client;
