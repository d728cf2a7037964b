//! The smol adapter of the Teler SDK: everything in [`teler_core`] (re-exported here), with
//! the bridge and REST client of [`teler_async`] on async-io sockets and timers. No tokio
//! runtime is started or needed (hyper, under the REST client, uses tokio's `sync`
//! primitives only).
//!
//! - [`StreamConnector`]: bridges Teler's media stream (any `Stream + Sink` of WebSocket
//!   messages) to a remote `ws://` or `wss://` WebSocket, one task per call, and returns the
//!   call's [`media::EndSummary`].
//! - [`AsyncClient`] ([`rest`]): Teler's REST API over hyper 1, with retries and pagination.
//!
//! # A bridge server
//!
//! Teler connects to your `/media-stream` WebSocket (the URL your call flow's `stream`
//! action names); each connection becomes one bridged call. [`serve`] is the accept loop:
//! a bounded handshake, a call cap, an auth hook before the upgrade, back-off on errors.
//! Calls run on smol's global executor (`SMOL_THREADS` sets its threads).
//!
//! ```no_run
//! use std::sync::Arc;
//! use teler_smol::{BridgeConfig, ServeConfig, StreamConnector, elevenlabs};
//!
//! fn main() -> std::io::Result<()> {
//!     let config = BridgeConfig::builder("wss://api.elevenlabs.io/v1/convai/conversation?agent_id=…")
//!         .header("xi-api-key", std::env::var("ELEVENLABS_API_KEY").unwrap_or_default())
//!         .build()
//!         .expect("valid config");
//!     let connector = StreamConnector::new(config, || {
//!         (elevenlabs::call_handler(), elevenlabs::remote_handler())
//!     })
//!     .on_event(|event| eprintln!("{event:?}"));
//!     smol::block_on(async {
//!         let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
//!         teler_smol::serve(listener, Arc::new(connector), ServeConfig::new()).await
//!     })
//! }
//! ```
//!
//! # Operating it: logs, metrics, control, drain
//!
//! As on tokio: a `teler.call` span per call (feature `tracing`, default), `teler_*` metrics
//! (feature `metrics`, names in [`observe`]), [`StreamConnector::calls`] and its
//! [`CallHandle`]s to act on live calls, and `drain(deadline)` for a deploy:
//!
//! ```no_run
//! # use std::time::{Duration, Instant};
//! # async fn run<F: Fn() -> (teler_smol::elevenlabs::CallHandler, teler_smol::elevenlabs::RemoteHandler)>(connector: &teler_smol::StreamConnector<F>) {
//! if let Some(call) = connector.calls().by_stream_id("st_1") {
//!     let _ = call.clear();
//! }
//! let report = connector.drain(Instant::now() + Duration::from_secs(30)).await;
//! # let _ = report;
//! # }
//! ```
//!
//! # REST
//!
//! ```no_run
//! # async fn run() -> Result<(), teler_smol::rest::Error> {
//! let client = teler_smol::AsyncClient::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
//! let call = client
//!     .calls()
//!     .create("+918000000000", "+919000000000", "https://example.com/flow", "https://example.com/status", true)
//!     .await?;
//! println!("placed {}", call.id);
//! # Ok(())
//! # }
//! ```
//!
//! The wire formats, the REST contract and the crate layout are described in the
//! repository's `docs/PROTOCOL.md`, `docs/REST.md` and `docs/ARCHITECTURE.md`.
#![forbid(unsafe_code)]

pub use teler_core::*;

mod runtime;
pub use runtime::{Smol, SmolTimer};

/// The media-stream bridge on smol (teler-async's run loop, see [`teler_async::bridge`]).
pub mod bridge {
    pub use teler_async::bridge::CLOSE_TIMEOUT;
    pub use teler_async::websocket_config;

    /// Bridges Teler media streams to a remote WebSocket, on smol: see
    /// [`teler_async::StreamConnector`] for its methods and the crate docs for a server.
    pub type StreamConnector<F> = teler_async::StreamConnector<F, crate::Smol>;
}
/// The WebSocket library the bridge speaks (async-tungstenite 0.35, tungstenite 0.30).
pub use async_tungstenite;
pub use bridge::{StreamConnector, websocket_config};
/// The TLS library used for `wss://` remotes (for [`teler_async::StreamConnector::tls_config`]).
pub use rustls;
/// The runtime-generic crate this one fills in.
pub use teler_async;
pub mod rest;
pub use rest::AsyncClient;
#[cfg(feature = "redis")]
pub mod fleet {
    //! A fleet of instances sharing state on Redis (feature `redis`): [`AsyncRedisFleet`] on
    //! smol, the blocking [`RedisFleet`] on threads of its own, and the pure types (see
    //! [`teler_async::fleet`]).
    pub use teler_async::fleet::*;
    /// The async fleet client on smol (see [`teler_async::fleet::AsyncRedisFleet`]).
    pub type AsyncRedisFleet = teler_async::fleet::AsyncRedisFleet<crate::Smol>;
}
pub use teler_async::{
    CallHandle, Calls, DrainReport, MediaTokens, Refusal, SendError, ServeConfig, observe,
};

/// Serves Teler's media streams on `listener`, one task per call: the route, the call cap,
/// the auth hook and the handshake timeout of `config` are applied before the upgrade (see
/// [`teler_async::serve`]). Runs until the task is dropped.
pub async fn serve<F, C, R>(
    listener: async_net::TcpListener,
    connector: std::sync::Arc<StreamConnector<F>>,
    config: ServeConfig,
) -> std::io::Result<()>
where
    F: Fn() -> (C, R) + Send + Sync + 'static,
    C: media::StreamHandler + 'static,
    R: media::StreamHandler + 'static,
{
    teler_async::serve::<F, C, R, Smol>(listener, connector, config).await
}
