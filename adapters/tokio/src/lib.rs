//! The tokio adapter of the Teler SDK: everything in [`teler_core`] (re-exported here), on
//! tokio sockets and timers.
//!
//! - [`StreamConnector`] ([`bridge`]): bridges Teler's media stream (any `Stream + Sink` of
//!   WebSocket messages; axum's `WebSocket` through `axum_ws`, feature `axum`) to a
//!   remote `ws://` or `wss://` WebSocket, one task per call, and returns the call's
//!   [`media::EndSummary`].
//! - [`AsyncClient`] ([`rest`]): Teler's REST API over hyper, with retries and pagination.
#![forbid(unsafe_code)]

pub use teler_core::*;

pub mod bridge;
/// The WebSocket library the bridge speaks (async-tungstenite 0.35, tungstenite 0.30).
pub use async_tungstenite;
pub use bridge::{StreamConnector, websocket_config};
/// The TLS library used for `wss://` remotes (for [`StreamConnector::tls_config`]).
pub use rustls;
#[cfg(feature = "axum")]
pub mod axum_ws;
pub mod rest;
pub use rest::AsyncClient;
