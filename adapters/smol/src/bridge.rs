//! The media-stream bridge on smol (no tokio inside): Teler's socket in, a remote WebSocket dialed out, the
//! [`teler_core::media::Bridge`] state machine in between, one task per call.
//!
//! The loop does nothing but move bytes: it feeds each socket event and deadline into the
//! core and carries out what the core asks (connect, send, close). All behaviour (handlers,
//! policies, timeouts, counters) lives in the core.
//!
//! The run loop is shared with `teler-tokio` (`adapters/async-bridge/bridge.rs`); this file
//! holds what is smol's: the timer, yield, bounded wait and connect (`rt`).
//!
//! # Backpressure
//!
//! The bridge never stops reading either side. Frames a side's sink is not ready to take
//! wait in a queue of at most [`BridgeConfig::max_write_buffer_size`] bytes per side (room
//! for a burst of agent audio while the socket drains); a frame that does not fit, or that
//! tungstenite refuses with `WriteBufferFull`, is **dropped** (drop-newest) and counted
//! through [`Bridge::handle_send_dropped`]. Memory per call stays bounded by the buffers
//! set in the [`BridgeConfig`].

use async_tungstenite::smol::ConnectStream;

/// The runtime's part of the bridge: timer, yield, bounded wait, connect.
mod rt {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::Context;
    use std::time::{Duration, Instant};

    use async_io::Timer as IoTimer;
    use async_tungstenite::tungstenite::handshake::client::Request;
    use async_tungstenite::tungstenite::protocol::WebSocketConfig;
    use rustls::ClientConfig;

    use super::RemoteWs;

    /// The core's next deadline, as an async-io timer.
    pub(super) struct Timer {
        timer: IoTimer,
        at: Option<Instant>,
    }

    impl Timer {
        pub(super) fn new() -> Self {
            Timer {
                timer: IoTimer::never(),
                at: None,
            }
        }

        /// Arms the timer for `at` (`None`: it never fires).
        pub(super) fn set(&mut self, at: Option<Instant>) {
            if at != self.at {
                match at {
                    Some(at) => self.timer.set_at(at),
                    None => self.timer = IoTimer::never(),
                }
                self.at = at;
            }
        }

        /// Whether the deadline has passed (registering the waker otherwise).
        pub(super) fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
            Pin::new(&mut self.timer).poll(cx).is_ready()
        }
    }

    pub(super) async fn yield_now() {
        futures_lite::future::yield_now().await
    }

    /// Runs `fut` for at most `limit`.
    pub(super) async fn bounded(limit: Duration, fut: impl Future) {
        let fut = Box::pin(fut);
        let _ = futures_util::future::select(fut, IoTimer::after(limit)).await;
    }

    /// TCP (no Nagle: audio frames are small and latency-bound), TLS if `wss://`, then the
    /// WebSocket handshake.
    pub(super) async fn connect_ws(
        request: Request,
        host: &str,
        port: u16,
        tls: Arc<ClientConfig>,
        config: WebSocketConfig,
    ) -> Result<RemoteWs, String> {
        let tcp = async_net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let connector = futures_rustls::TlsConnector::from(tls);
        async_tungstenite::smol::client_async_tls_with_connector_and_config(
            request,
            tcp,
            Some(connector),
            Some(config),
        )
        .await
        .map(|(ws, _response)| ws)
        .map_err(|e| e.to_string())
    }
}

/// Puts this crate's `StreamConnector` docs (their example names this crate) on the
/// shared definition.
macro_rules! with_connector_docs {
    ($item:item) => {
        /// Bridges Teler media streams to a remote WebSocket, one call at a time per
        /// [`StreamConnector::bridge_stream`] (run many at once: it takes `&self`).
        ///
        /// Built from a [`BridgeConfig`] and a handler **factory**, called once per call, so each
        /// call gets fresh handler state (the ElevenLabs remote handler counts chunk ids per call).
        ///
        /// ```no_run
        /// use teler_smol::{BridgeConfig, StreamConnector, elevenlabs};
        ///
        /// # async fn run(teler_ws: async_tungstenite::WebSocketStream<async_net::TcpStream>) {
        /// let config = BridgeConfig::builder("wss://api.elevenlabs.io/v1/convai/conversation?agent_id=…")
        ///     .header("xi-api-key", "…")
        ///     .build()
        ///     .expect("valid config");
        /// let connector =
        ///     StreamConnector::new(config, || (elevenlabs::call_handler(), elevenlabs::remote_handler()));
        /// let summary = connector.bridge_stream(teler_ws).await;
        /// println!("call ended: {:?}, {:?}", summary.reason, summary.stats);
        /// # }
        /// ```
        $item
    };
}

include!("../../async-bridge/bridge.rs");
