//! The blocking adapter of the Teler SDK, for embedded gateways: everything in
//! [`teler_core`] (re-exported here) on std threads, with no async runtime compiled in.
//!
//! - [`StreamConnector`] ([`bridge`]): bridges Teler's media stream (a tungstenite
//!   `WebSocket`) to a remote `ws://` or `wss://` WebSocket, blocking the calling thread
//!   until the call ends, and returns the call's [`media::EndSummary`]. On Linux and Android
//!   the calls run on a few shared threads (one per core, each waiting on all of its calls'
//!   sockets with `epoll`); elsewhere, or with [`StreamConnector::threads`]`(0)`, on the
//!   calling thread.
//! - [`Client`] ([`rest`]): Teler's REST API over ureq, with retries and pagination.
//!
//! # A bridge server
//!
//! Teler connects to your `/media-stream` WebSocket (the URL your call flow's `stream`
//! action names); each connection becomes one bridged call, whose thread waits for its end.
//! [`serve`] is the accept loop: a bounded handshake, a call cap, an auth hook before the upgrade,
//! back-off on errors.
//!
//! ```no_run
//! use std::sync::Arc;
//! use teler_blocking::{BridgeConfig, ServeConfig, StreamConnector, elevenlabs};
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
//!     let listener = std::net::TcpListener::bind("127.0.0.1:8080")?;
//!     teler_blocking::serve(listener, Arc::new(connector), ServeConfig::new())
//! }
//! ```
//!
//! # Operating it: logs, metrics, control, drain
//!
//! Each call logs in a `teler.call` span (feature `tracing`, on by default); feature
//! `metrics` records `teler_*` series through the `metrics` facade (names in [`observe`]).
//! [`StreamConnector::calls`] finds a live call, whose [`CallHandle`] acts on it from any
//! thread (the call's loop wakes at once); [`StreamConnector::drain`] refuses new streams,
//! lets live calls finish until a deadline, then closes the rest with 1001.
//!
//! ```no_run
//! # use std::time::{Duration, Instant};
//! # fn run<F: Fn() -> (teler_blocking::elevenlabs::CallHandler, teler_blocking::elevenlabs::RemoteHandler)>(connector: &teler_blocking::StreamConnector<F>) {
//! for call in connector.calls().list() {
//!     println!("{:?}: {} frames from Teler", call.call_id(), call.stats().from_teler.frames_in);
//! }
//! if let Some(call) = connector.calls().by_call_id("cs_123") {
//!     let _ = call.stop("operator hung up");
//! }
//! let report = connector.drain(Instant::now() + Duration::from_secs(30));
//! println!("{} calls were sent away", report.sent_away);
//! # }
//! ```
//!
//! # REST
//!
//! ```no_run
//! # fn run() -> Result<(), teler_blocking::rest::Error> {
//! let client = teler_blocking::Client::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
//! let call = client
//!     .calls()
//!     .create("+918000000000", "+919000000000", "https://example.com/flow", "https://example.com/status", true)?;
//! println!("placed {}", call.id);
//! # Ok(())
//! # }
//! ```
//!
//! The wire formats, the REST contract and the crate layout are described in the
//! repository's `docs/PROTOCOL.md`, `docs/REST.md` and `docs/ARCHITECTURE.md`.
#![forbid(unsafe_code)]

pub use teler_core::*;

pub mod bridge;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod pool;
pub use bridge::{StreamConnector, TcpSocket, websocket_config};
/// The TLS library used for `wss://` remotes (for [`StreamConnector::tls_config`]).
pub use rustls;
/// The WebSocket library the bridge speaks (tungstenite 0.30).
pub use tungstenite;
pub mod rest;
pub use rest::Client;

#[cfg(feature = "redis")]
pub use teler_io::fleet;
mod server;
pub use server::serve;
pub use teler_io::serve::{MediaTokens, Refusal, ServeConfig};
pub use teler_io::{CallHandle, Calls, DrainReport, SendError, observe};
