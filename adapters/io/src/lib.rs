//! The I/O-side glue every Teler adapter shares: between tungstenite's [`Message`]s and
//! [`teler_core`]'s frames, close frames both ways, the tungstenite settings for a
//! [`BridgeConfig`], the classification of read errors, the remote's handshake request, the
//! default TLS config, and OS randomness for idempotency keys and retry jitter ([`random_bytes`]).
//! The core stays free of all of it (no sockets, no clock, no OS calls).
//!
//! You do not need this crate to use the SDK: `teler-tokio`, `teler-smol` and
//! `teler-blocking` depend on it. It is public for people writing an adapter of their own
//! (see `docs/ARCHITECTURE.md` in the repository, "Adding a runtime").
//!
//! ```
//! use teler_core::media::{BridgeConfig, Frame};
//! use tungstenite::Message;
//!
//! let config = BridgeConfig::builder("ws://127.0.0.1:9000/agent").build().unwrap();
//! let ws = teler_io::websocket_config(&config);
//! assert_eq!(ws.max_frame_size, Some(config.max_frame_size()));
//!
//! let mut seen = Vec::new();
//! teler_io::feed_frame(&Message::text("{\"type\":\"start\"}"), |f| {
//!     if let Frame::Text(t) = f {
//!         seen.push(t.to_vec())
//!     }
//! });
//! assert_eq!(seen, [b"{\"type\":\"start\"}".to_vec()]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use teler_core::media::{BridgeConfig, CloseInfo, Frame, RemoteConnect};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Message, handshake::client::Request};

pub use tungstenite;

#[cfg(feature = "redis")]
pub mod fleet;
pub mod live;
pub mod observe;
pub mod serve;

pub use live::{CallHandle, Calls, DrainReport, LiveCall, SendError, WakeSlot};

/// The host of a remote URL, for logs: never its path, query, user info or port.
pub fn remote_host(url: &str) -> String {
    url.parse::<tungstenite::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "(unparsable URL)".to_owned())
}

/// Hands a received message to `f` as a core [`Frame`]. Close frames (and raw frames, which
/// tungstenite does not return from reads) are not frames for the core: the adapter turns
/// a close into `handle_*_closed` with [`close_info`].
pub fn feed_frame(msg: &Message, mut f: impl FnMut(Frame<'_>)) {
    match msg {
        Message::Text(t) => f(Frame::Text(t.as_bytes())),
        Message::Binary(b) => f(Frame::Binary(b)),
        Message::Ping(p) => f(Frame::Ping(p)),
        Message::Pong(p) => f(Frame::Pong(p)),
        Message::Close(_) | Message::Frame(_) => {}
    }
}

/// A received close frame, as the core reads it.
pub fn close_info(cf: CloseFrame) -> CloseInfo {
    CloseInfo {
        code: cf.code.into(),
        reason: cf.reason.as_str().to_owned(),
    }
}

/// The close frame to send for the core's [`CloseInfo`].
pub fn close_frame(c: CloseInfo) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(c.code),
        reason: c.reason.into(),
    }
}

/// The tungstenite settings for a bridge config: small buffers, the config's frame limit.
/// Accept Teler's socket with the same ones so both sides have the same bounds.
pub fn websocket_config(config: &BridgeConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(config.read_buffer_size())
        .write_buffer_size(config.write_buffer_size())
        .max_write_buffer_size(config.max_write_buffer_size())
        .max_message_size(Some(config.max_frame_size()))
        .max_frame_size(Some(config.max_frame_size()))
}

/// What a failed read means for the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailure {
    /// The peer broke the WebSocket protocol (bad UTF-8 in a text frame, reserved bits or
    /// opcodes, a frame over the limit): the text says how.
    Protocol(String),
    /// The connection went away (EOF without a close frame, a reset, an I/O error): a
    /// hang-up, not garbage.
    Closed,
}

/// A read error that glue for another WebSocket library (axum's, on an older tungstenite)
/// has already classified, so that [`read_failure`] reads it the same way on every socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifiedReadError(pub ReadFailure);

impl std::fmt::Display for ClassifiedReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            ReadFailure::Protocol(why) => write!(f, "protocol error: {why}"),
            ReadFailure::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for ClassifiedReadError {}

/// Classifies a read error: tungstenite's own and [`ClassifiedReadError`] are told apart;
/// anything else is a closed connection. Every adapter reads errors through here, so a
/// protocol violation (bad UTF-8 in a text frame, reserved bits or opcodes, a frame over the
/// limit) is a `Protocol` failure on every socket type.
pub fn read_failure<T: 'static>(e: &T) -> ReadFailure {
    use tungstenite::error::ProtocolError::ResetWithoutClosingHandshake;
    let any = e as &dyn std::any::Any;
    if let Some(c) = any.downcast_ref::<ClassifiedReadError>() {
        return c.0.clone();
    }
    match any.downcast_ref::<tungstenite::Error>() {
        // The peer just went away (EOF without a close frame): a hang-up, not garbage.
        Some(tungstenite::Error::Protocol(ResetWithoutClosingHandshake)) => ReadFailure::Closed,
        Some(
            e @ (tungstenite::Error::Capacity(_)
            | tungstenite::Error::Protocol(_)
            | tungstenite::Error::Utf8(_)),
        ) => ReadFailure::Protocol(e.to_string()),
        _ => ReadFailure::Closed,
    }
}

/// Whether a send error is tungstenite's "write buffer full" (the frame was not queued: the
/// peer is not reading).
pub fn is_write_buffer_full<T: 'static>(e: &T) -> bool {
    matches!(
        (e as &dyn std::any::Any).downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::WriteBufferFull(_))
    )
}

/// The default TLS config for `wss://` remotes: webpki roots, rustls' `ring` provider
/// (chosen explicitly, so it works when another crate enables a second provider). `None`
/// if rustls refuses to build it.
pub fn default_tls() -> Option<Arc<ClientConfig>> {
    static TLS: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(Arc::new(cfg))
    })
    .clone()
}

/// Where to dial a remote: host (IPv6 literals without brackets), port, and whether it is
/// `wss://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name or address.
    pub host: String,
    /// The port (default 443 for `wss://`, 80 for `ws://`).
    pub port: u16,
    /// Whether TLS is wanted (`wss://`).
    pub tls: bool,
}

/// The remote's handshake request (URL, extra headers, subprotocols) and where to dial it.
/// `Err` says what is wrong with the URL or a header.
pub fn request(req: &RemoteConnect) -> Result<(Request, Target), String> {
    let mut request = req
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad remote URL: {e}"))?;
    let headers = request.headers_mut();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("bad header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("bad value for header {name} (not shown)"))?;
        headers.append(name, value);
    }
    if !req.subprotocols.is_empty() {
        let value = HeaderValue::from_str(&req.subprotocols.join(", "))
            .map_err(|e| format!("bad subprotocols: {e}"))?;
        headers.insert("sec-websocket-protocol", value);
    }
    let uri = request.uri();
    let host = uri.host().ok_or("the remote URL has no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok((request, Target { host, port, tls }))
}

/// `N` random bytes from the OS (idempotency keys, retry jitter). Should the OS have no
/// randomness to give, the clock and a process-wide counter still make the bytes differ
/// from call to call (good enough for keys that only need to be unique).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = ((t ^ c.rotate_left(32)) >> ((i % 8) * 8)) as u8 ^ (i as u8);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(url: &str) -> RemoteConnect {
        RemoteConnect {
            url: url.into(),
            headers: vec![("Authorization".into(), "Bearer secret-token".into())],
            subprotocols: vec!["a".into(), "b".into()],
            timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn request_carries_headers_and_subprotocols_and_the_target() {
        let (req, target) = request(&remote("wss://[::1]/agent?x=1")).unwrap();
        assert_eq!(req.headers()["authorization"], "Bearer secret-token");
        assert_eq!(req.headers()["sec-websocket-protocol"], "a, b");
        assert_eq!(
            target,
            Target {
                host: "::1".into(),
                port: 443,
                tls: true
            }
        );
        let (_, target) = request(&remote("ws://example.com:8080/x")).unwrap();
        assert_eq!((target.port, target.tls), (8080, false));
        let (_, target) = request(&remote("ws://example.com/x")).unwrap();
        assert_eq!(target.port, 80);
    }

    #[test]
    fn close_frames_round_trip() {
        let c = CloseInfo {
            code: 1001,
            reason: "going away".into(),
        };
        assert_eq!(close_info(close_frame(c.clone())), c);
    }

    #[test]
    fn read_errors_are_classified() {
        use tungstenite::error::ProtocolError;
        let reset = tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake);
        assert_eq!(read_failure(&reset), ReadFailure::Closed);
        let bad = tungstenite::Error::Protocol(ProtocolError::NonZeroReservedBits);
        assert!(matches!(read_failure(&bad), ReadFailure::Protocol(_)));
        assert_eq!(
            read_failure(&std::io::Error::other("x")),
            ReadFailure::Closed
        );
        let full = tungstenite::Error::WriteBufferFull(Box::new(Message::text("x")));
        assert!(is_write_buffer_full(&full));
        assert!(!is_write_buffer_full(&bad));
    }
}
