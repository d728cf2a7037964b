//! The tokio adapter of the Teler SDK: everything in [`teler_core`] (re-exported here), with
//! the bridge and REST client of [`teler_async`] on tokio sockets and timers.
//!
//! - [`StreamConnector`]: bridges Teler's media stream (any `Stream + Sink` of WebSocket
//!   messages; axum's `WebSocket` through `axum_ws`, feature `axum`) to a remote `ws://` or
//!   `wss://` WebSocket, one task per call, and returns the call's [`media::EndSummary`].
//! - [`AsyncClient`] ([`rest`]): Teler's REST API over hyper 1, with retries and pagination.
//!
//! # A bridge server
//!
//! Teler connects to your `/media-stream` WebSocket (the URL your call flow's `stream`
//! action names); each connection becomes one bridged call. [`serve`] is the accept loop:
//! a bounded handshake, a call cap, an auth hook before the upgrade, back-off on errors.
//!
//! ```no_run
//! use std::sync::Arc;
//! use teler_tokio::{BridgeConfig, ServeConfig, StreamConnector, elevenlabs};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let config = BridgeConfig::builder("wss://api.elevenlabs.io/v1/convai/conversation?agent_id=…")
//!         .header("xi-api-key", std::env::var("ELEVENLABS_API_KEY").unwrap_or_default())
//!         .build()
//!         .expect("valid config");
//!     let connector = StreamConnector::new(config, || {
//!         (elevenlabs::call_handler(), elevenlabs::remote_handler())
//!     })
//!     .on_event(|event| eprintln!("{event:?}"));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     teler_tokio::serve(listener, Arc::new(connector), ServeConfig::new()).await
//! }
//! ```
//!
//! With axum (feature `axum`), `axum_ws::route` or `axum_ws::Gate` put the same checks on a
//! route of your app, and `axum_ws::serve` serves it with a bounded handshake.
//!
//! # Operating it: logs, metrics, control, drain
//!
//! Each call logs in a `teler.call` span (feature `tracing`, on by default: install any
//! `tracing` subscriber); feature `metrics` records `teler_*` series through the `metrics`
//! facade (names in [`observe`]). The connector's [`calls`](StreamConnector::calls) finds a
//! live call by Teler's ids, and its [`CallHandle`] acts on it from anywhere; on shutdown,
//! [`drain`](StreamConnector::drain) refuses new streams and lets live calls finish.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::time::{Duration, Instant};
//! # async fn run(connector: Arc<teler_tokio::StreamConnector<fn() -> (teler_tokio::elevenlabs::CallHandler, teler_tokio::elevenlabs::RemoteHandler)>>) {
//! // A webhook says the caller pressed 0: cut the agent's audio and tell the agent.
//! if let Some(call) = connector.calls().by_call_id("cs_123") {
//!     let _ = call.clear();
//!     let _ = call.send_to_remote(r#"{"type":"contextual_update","text":"caller pressed 0"}"#);
//!     println!("relayed so far: {}", call.stats().from_remote.relayed_frames);
//! }
//! // SIGTERM: stop taking calls, give live ones 30 s, then close them with 1001.
//! let report = connector.drain(Instant::now() + Duration::from_secs(30)).await;
//! println!("{} calls were still live at the deadline", report.sent_away);
//! # }
//! ```
//!
//! # REST
//!
//! ```no_run
//! # async fn run() -> Result<(), teler_tokio::rest::Error> {
//! let client = teler_tokio::AsyncClient::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
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
pub use runtime::{Tokio, TokioTimer};

/// The media-stream bridge on tokio (teler-async's run loop, see [`teler_async::bridge`]).
pub mod bridge {
    pub use teler_async::bridge::CLOSE_TIMEOUT;
    pub use teler_async::websocket_config;

    /// Bridges Teler media streams to a remote WebSocket, on tokio: see
    /// [`teler_async::StreamConnector`] for its methods and the crate docs for a server.
    pub type StreamConnector<F> = teler_async::StreamConnector<F, crate::Tokio>;
}
/// The WebSocket library the bridge speaks (async-tungstenite 0.35, tungstenite 0.30).
pub use async_tungstenite;
pub use bridge::{StreamConnector, websocket_config};
/// The TLS library used for `wss://` remotes (for [`teler_async::StreamConnector::tls_config`]).
pub use rustls;
/// The runtime-generic crate this one fills in.
pub use teler_async;
#[cfg(feature = "axum")]
pub mod axum_ws;
pub mod rest;
pub use rest::AsyncClient;
#[cfg(feature = "redis")]
pub mod fleet {
    //! A fleet of instances sharing state on Redis (feature `redis`): [`AsyncRedisFleet`] on
    //! tokio, the blocking [`RedisFleet`] on threads of its own, and the pure types (see
    //! [`teler_async::fleet`]).
    pub use teler_async::fleet::*;
    /// The async fleet client on tokio (see [`teler_async::fleet::AsyncRedisFleet`]).
    pub type AsyncRedisFleet = teler_async::fleet::AsyncRedisFleet<crate::Tokio>;
}
pub use teler_async::{
    CallHandle, Calls, DrainReport, MediaTokens, Refusal, SendError, ServeConfig, observe,
};

/// Serves Teler's media streams on `listener`, one task per call: the route, the call cap,
/// the auth hook and the handshake timeout of `config` are applied before the upgrade (see
/// [`teler_async::serve`]). Runs until the task is dropped.
pub async fn serve<F, C, R>(
    listener: tokio::net::TcpListener,
    connector: std::sync::Arc<StreamConnector<F>>,
    config: ServeConfig,
) -> std::io::Result<()>
where
    F: Fn() -> (C, R) + Send + Sync + 'static,
    C: media::StreamHandler + 'static,
    R: media::StreamHandler + 'static,
{
    teler_async::serve::<F, C, R, Tokio>(listener, connector, config).await
}
