//! # teler-core
//!
//! The sans-IO core of the Rust SDK for [FreJun Teler](https://frejun.ai): everything about
//! Teler's wire formats, as pure state machines and values. No sockets, no clock, no async,
//! no threads: the adapter crates (`teler-tokio`, `teler-smol`, `teler-blocking`) own those
//! and only move bytes between the world and this crate.
//!
//! - [`media`]: Teler's media-stream messages, stream handlers, and the [`media::Bridge`]
//!   session that bridges a call's audio socket to a remote WebSocket.
//! - [`flow`]: typed builders for the call-flow actions a flow URL answers with.
//! - [`rest`]: Teler's REST API as request values, typed answers and errors, pagination and
//!   the retry decision, shared by every client.
//! - [`webhook`]: webhook events (both API versions), the flow request, signature
//!   verification and signing, signed URL tokens, dedupe.
//! - [`audio`]: base64/PCM, G.711, a resampler and a packetiser, with handler helpers.
//! - [`agents`]: ready-made handler pairs for voice AI vendors (ElevenLabs, OpenAI Realtime,
//!   Gemini Live, Devnagri), one module each; [`elevenlabs`] and [`openai`] are also here at
//!   the top, where they started.
//!
//! ## The run loop
//!
//! A [`media::Bridge`] is driven like this (a compiled example; an adapter does the same with
//! real sockets). Inputs go in through `handle_*` with the current time; after **every**
//! input the driver drains `poll_output` until it is empty and carries out each output; it
//! sleeps until `poll_timeout` and then calls `handle_timeout`. Peer failures come out as
//! events, never as panics or `Err`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use teler_core::media::*;
//!
//! // The Python SDK's seed handlers, in Rust: caller audio -> ElevenLabs, and back.
//! let call_side = typed(|m: &TelerMessage<'_>| -> HandlerResult {
//!     match m {
//!         TelerMessage::Audio(a) => {
//!             let mut out = String::with_capacity(a.audio_b64.len() + 24);
//!             out.push_str(r#"{"user_audio_chunk":"#);
//!             write_json_str(&mut out, &a.audio_b64);
//!             out.push('}');
//!             Ok((out, StreamOp::Relay))
//!         }
//!         _ => Ok((String::new(), StreamOp::Pass)),
//!     }
//! });
//! let remote_side = relay();
//!
//! let cfg = BridgeConfig::builder("wss://agent.example/ws").build().unwrap();
//! let mut bridge = Bridge::new(cfg, call_side, remote_side);
//! let t0 = Instant::now(); // the driver's clock, never the core's
//!
//! // What the driver does after every input: carry out each output until there are none.
//! let mut sent_to_remote = Vec::new();
//! let mut ended = None;
//! let mut drain = |bridge: &mut Bridge<_, _>| {
//!     while let Some(out) = bridge.poll_output() {
//!         match out {
//!             Output::ConnectRemote(req) => assert_eq!(req.url, "wss://agent.example/ws"),
//!             Output::Send { side: Side::Remote, frame: OutFrame::Text(t) } => sent_to_remote.push(t),
//!             Output::Event(Event::Ended(summary)) => ended = Some(summary),
//!             _ => {} // other sends, closes, events
//!         }
//!     }
//! };
//!
//! bridge.handle_teler_connected(t0);
//! drain(&mut bridge);
//! bridge.handle_teler_frame(t0, Frame::Text(br#"{"type":"start","call_id":"cs_1","data":{"sample_rate":8000}}"#));
//! drain(&mut bridge);
//! bridge.handle_remote_connected(t0 + Duration::from_millis(40));
//! drain(&mut bridge);
//! bridge.handle_teler_frame(t0 + Duration::from_millis(60), Frame::Text(br#"{"type":"audio","data":{"audio_b64":"AAA="}}"#));
//! drain(&mut bridge);
//! // Between inputs the driver sleeps until the core's next deadline (keepalive, idle
//! // timeouts) and, if nothing came first, calls `handle_timeout(now)` and drains again.
//! assert!(bridge.poll_timeout().is_some_and(|at| at > t0));
//! bridge.handle_teler_closed(t0 + Duration::from_secs(1), None);
//! drain(&mut bridge);
//!
//! assert_eq!(sent_to_remote, [r#"{"user_audio_chunk":"AAA="}"#]);
//! let summary = ended.unwrap();
//! assert!(matches!(summary.reason, EndReason::TelerHungUp(None)));
//! assert_eq!(summary.stats.from_teler.relayed_frames, 1);
//! assert_eq!(bridge.poll_timeout(), None); // ended: nothing more to wait for
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod agents;
pub mod audio;
pub mod fleet;
pub mod flow;
pub mod media;
pub mod rest;
pub mod webhook;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use agents::{elevenlabs, openai};
pub use flow::{Action, CallFlow, FlowError};
pub use media::{Bridge, BridgeConfig, StreamOp, StreamType, TelerMessage};

/// The origin of the unit tests' virtual clock. `Instant` has no constructor, so the tests
/// take one real instant here and from then on only add durations to it: the core itself
/// never reads the clock (its callers pass `now` in), and this is the crate's one clock read,
/// compiled into its unit tests only.
#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    std::time::Instant::now()
}
