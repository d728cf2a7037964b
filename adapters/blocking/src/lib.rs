//! The blocking adapter of the Teler SDK, for embedded gateways: everything in
//! [`teler_core`] (re-exported here) on std threads, with no async runtime compiled in.
//!
//! - [`StreamConnector`] ([`bridge`]): bridges Teler's media stream (a tungstenite
//!   `WebSocket`) to a remote `ws://` or `wss://` WebSocket on the calling thread, blocking
//!   until the call ends, and returns the call's [`media::EndSummary`].
//! - [`Client`] ([`rest`]): Teler's REST API over ureq, with retries and pagination.
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
mod server;
pub use server::serve;
pub use teler_io::serve::{MediaTokens, Refusal, ServeConfig};
