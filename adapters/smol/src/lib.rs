//! The smol adapter of the Teler SDK: everything in [`teler_core`] (re-exported here), on
//! async-io sockets and timers, with no tokio anywhere in the dependency tree.
//!
//! - [`StreamConnector`] ([`bridge`]): bridges Teler's media stream (any `Stream + Sink` of
//!   WebSocket messages) to a remote `ws://` or `wss://` WebSocket, one task per call, and
//!   returns the call's [`media::EndSummary`].
//! - [`AsyncClient`] ([`rest`]): Teler's REST API over a small HTTP/1.1 client on async-net
//!   and futures-rustls, with retries and pagination.
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
