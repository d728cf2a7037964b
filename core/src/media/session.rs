//! The bridge session: a sans-IO state machine that bridges Teler's media socket to a
//! remote WebSocket (what the Python SDK's `StreamConnector.bridge_stream` does, and more).
//!
//! The driver (an adapter) feeds it what happens on the sockets through `handle_*` methods,
//! passing the current time, and after every call drains [`Bridge::poll_output`] until it
//! returns `None`, carrying out each [`Output`]. It sleeps until [`Bridge::poll_timeout`] and
//! then calls [`Bridge::handle_timeout`]. The bridge never reads a clock and never does I/O.
//!
//! Peer behaviour never makes a `handle_*` call fail: what goes wrong on the wire comes out
//! as [`Event`]s and, when fatal, as [`Event::Ended`] with an [`EndReason`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::handler::{Message, Outbox, StreamHandler, StreamOp};
use super::message::{AppMessage, FrameError, StartInfo, TelerMessage};

/// The Python SDK's stream types. Only bidirectional streams are implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamType {
    /// Audio flows both ways.
    #[default]
    Bidirectional,
    /// Audio flows from Teler only (not implemented by Teler's SDKs either).
    Unidirectional,
}

/// A side of the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Teler's media socket (the call).
    Teler,
    /// The remote WebSocket (usually a voice agent).
    Remote,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Teler => Side::Remote,
            Side::Remote => Side::Teler,
        }
    }
}

/// An invalid [`BridgeConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A feature Teler's SDKs do not implement either.
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    /// A parameter breaks a rule; the message names both.
    #[error("bad parameter {param}: {rule}")]
    BadParameter {
        /// The parameter, e.g. `remote_url`.
        param: &'static str,
        /// The rule it breaks.
        rule: String,
    },
}

fn bad(param: &'static str, rule: impl Into<String>) -> ConfigError {
    ConfigError::BadParameter {
        param,
        rule: rule.into(),
    }
}

/// What the bridge does with a frame it cannot read (binary from Teler, invalid UTF-8, not
/// a Teler message, over the size limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FramePolicy {
    /// Drop the frame, count it in [`DirectionStats::rejected`], emit
    /// [`Event::FrameRejected`] and go on (the default: one bad frame must not end a call).
    #[default]
    Drop,
    /// End the bridge with [`EndReason::ProtocolError`] (both sides closed with 1011).
    End,
}

/// What the bridge does with a binary frame from the remote (the handlers take text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BinaryFrames {
    /// Drop it, count it as rejected, emit [`Event::FrameRejected`] (the default).
    #[default]
    Drop,
    /// End the bridge with [`EndReason::ProtocolError`].
    End,
    /// Hand it to the remote handler as text when it is UTF-8 (what the Python SDK does:
    /// its handler gets the bytes and `json.loads` accepts them); a binary frame that is not
    /// UTF-8 is rejected as [`RejectReason::InvalidUtf8`] under the frame policy. For agents
    /// that send their JSON in binary frames.
    AsText,
}

impl From<FramePolicy> for BinaryFrames {
    fn from(p: FramePolicy) -> Self {
        match p {
            FramePolicy::Drop => BinaryFrames::Drop,
            FramePolicy::End => BinaryFrames::End,
        }
    }
}

/// When the bridge dials the remote (the paid agent session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dial {
    /// Once Teler's `start` message has arrived (the default): a socket that never sends
    /// `start` (a scanner, a bogus client) costs no agent session, and is ended by the start
    /// timeout. Audio that arrives while the agent connects is held, as always.
    #[default]
    OnStart,
    /// As soon as Teler's socket is accepted (what the Python SDK does): the agent is
    /// ready a few milliseconds sooner, at the price of one agent session per socket.
    OnConnect,
}

/// What the bridge does when a handler returns an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandlerErrorPolicy {
    /// Drop the message, count it in [`DirectionStats::handler_errors`], emit
    /// [`Event::HandlerFailed`] and go on (the default).
    #[default]
    Drop,
    /// End the bridge with [`EndReason::HandlerError`] (both sides closed with 1011).
    End,
}

/// The settings of one bridge. Build with [`BridgeConfig::builder`]; every setting is
/// validated when built.
#[derive(Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    remote_url: String,
    remote_headers: Vec<(String, String)>,
    subprotocols: Vec<String>,
    pre_connect_max_frames: usize,
    pre_connect_max_bytes: usize,
    max_frame_size: usize,
    connect_timeout: Duration,
    keepalive_interval: Option<Duration>,
    remote_idle_timeout: Option<Duration>,
    teler_idle_timeout: Option<Duration>,
    frame_policy: FramePolicy,
    handler_error_policy: HandlerErrorPolicy,
    binary_from_remote: BinaryFrames,
    dial: Dial,
    start_timeout: Option<Duration>,
    read_buffer_size: usize,
    write_buffer_size: usize,
    max_write_buffer_size: Option<usize>,
}

/// A URL with its query and fragment (often a token) and any user info hidden, for
/// `Debug` output and logs: `wss://agent.example/ws?<redacted>`.
///
/// ```
/// use teler_core::media::redacted_url;
/// assert_eq!(redacted_url("wss://a.example/ws?agent_id=x&token=s3cret"), "wss://a.example/ws?<redacted>");
/// assert_eq!(redacted_url("wss://user:pw@a.example/ws"), "wss://<redacted>@a.example/ws");
/// assert_eq!(redacted_url("ws://a.example/ws"), "ws://a.example/ws");
/// ```
pub fn redacted_url(url: &str) -> String {
    let (base, hidden) = match url.find(['?', '#']) {
        Some(i) => (&url[..i], true),
        None => (url, false),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://<redacted>{}", &rest[at..]),
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    if hidden {
        format!("{base}?<redacted>")
    } else {
        base
    }
}

/// Header names with their values hidden, for `Debug` output.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl std::fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, _)| (n, "<redacted>")))
            .finish()
    }
}

/// Secrets hidden: the remote URL's query and the handshake headers' values.
impl std::fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("remote_url", &redacted_url(&self.remote_url))
            .field("remote_headers", &RedactedHeaders(&self.remote_headers))
            .field("subprotocols", &self.subprotocols)
            .field("dial", &self.dial)
            .field("max_frame_size", &self.max_frame_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("start_timeout", &self.start_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("remote_idle_timeout", &self.remote_idle_timeout)
            .field("teler_idle_timeout", &self.teler_idle_timeout)
            .field("frame_policy", &self.frame_policy)
            .field("binary_from_remote", &self.binary_from_remote)
            .field("handler_error_policy", &self.handler_error_policy)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for BridgeConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfigBuilder")
            .field("stream_type", &self.stream_type)
            .field("cfg", &self.cfg)
            .finish()
    }
}

/// Builds a [`BridgeConfig`].
///
/// ```
/// use teler_core::media::{BridgeConfig, ConfigError, StreamType};
/// let cfg = BridgeConfig::builder("wss://agent.example/ws?id=1")
///     .header("Authorization", "Bearer t0ken")
///     .build()
///     .unwrap();
/// assert_eq!(cfg.remote_url(), "wss://agent.example/ws?id=1");
///
/// let err = BridgeConfig::builder("").build().unwrap_err();
/// assert!(matches!(err, ConfigError::BadParameter { param: "remote_url", .. }));
/// let err = BridgeConfig::builder("wss://a").stream_type(StreamType::Unidirectional).build();
/// assert!(matches!(err, Err(ConfigError::NotImplemented(_))));
/// ```
#[derive(Clone)]
#[must_use]
pub struct BridgeConfigBuilder {
    stream_type: StreamType,
    cfg: BridgeConfig,
}

/// Default bound of the pre-connect queue in frames: 6.4 s of 20 ms frames.
pub const DEFAULT_PRE_CONNECT_FRAMES: usize = 320;
/// Default bound of the pre-connect queue in bytes.
pub const DEFAULT_PRE_CONNECT_BYTES: usize = 2 * 1024 * 1024;
/// Default largest frame accepted from either side.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1024 * 1024;
/// Default time the remote has to accept the connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default interval between keepalive pings to the remote.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// Default time the remote may stay silent (no frame, no pong) before the bridge ends.
pub const DEFAULT_REMOTE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time Teler has to send `start` after its socket is accepted.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time Teler may send nothing before the bridge ends. Teler streams the caller's
/// audio without pause, one frame every `chunk_size` ms (at most 2 s), so this long a silence
/// means its connection is gone (a dropped NAT entry or load balancer sends no close).
pub const DEFAULT_TELER_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default size of the chunks an adapter reads a socket in (tungstenite's own default is
/// 128 KiB per connection, too much for thousands of calls).
pub const DEFAULT_READ_BUFFER_SIZE: usize = 4 * 1024;
/// Default size an adapter's socket write buffer may reach before it is written out.
pub const DEFAULT_WRITE_BUFFER_SIZE: usize = 4 * 1024;
/// Bytes a WebSocket frame header can add to a payload (2 + 8 length + 4 mask).
const FRAME_HEADER_MAX: usize = 14;

impl BridgeConfig {
    /// Starts a config for bridging to `remote_url` (`ws://` or `wss://`).
    pub fn builder(remote_url: impl Into<String>) -> BridgeConfigBuilder {
        BridgeConfigBuilder {
            stream_type: StreamType::Bidirectional,
            cfg: BridgeConfig {
                remote_url: remote_url.into(),
                remote_headers: Vec::new(),
                subprotocols: Vec::new(),
                pre_connect_max_frames: DEFAULT_PRE_CONNECT_FRAMES,
                pre_connect_max_bytes: DEFAULT_PRE_CONNECT_BYTES,
                max_frame_size: DEFAULT_MAX_FRAME_SIZE,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                keepalive_interval: Some(DEFAULT_KEEPALIVE_INTERVAL),
                remote_idle_timeout: Some(DEFAULT_REMOTE_IDLE_TIMEOUT),
                teler_idle_timeout: Some(DEFAULT_TELER_IDLE_TIMEOUT),
                frame_policy: FramePolicy::Drop,
                handler_error_policy: HandlerErrorPolicy::Drop,
                binary_from_remote: BinaryFrames::Drop,
                dial: Dial::OnStart,
                start_timeout: Some(DEFAULT_START_TIMEOUT),
                read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
                write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
                max_write_buffer_size: None,
            },
        }
    }

    /// The remote WebSocket URL.
    pub fn remote_url(&self) -> &str {
        &self.remote_url
    }
    /// Headers sent with the remote handshake (e.g. `Authorization`).
    pub fn remote_headers(&self) -> &[(String, String)] {
        &self.remote_headers
    }
    /// Subprotocols offered in the remote handshake.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }
    /// The largest frame accepted from either side, in bytes.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }
    /// How long the remote has to accept the connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// When the remote is dialed (default [`Dial::OnStart`]).
    pub fn dial(&self) -> Dial {
        self.dial
    }
    /// How long Teler has to send `start` (default [`DEFAULT_START_TIMEOUT`]).
    pub fn start_timeout(&self) -> Option<Duration> {
        self.start_timeout
    }
    /// The pre-connect queue bounds: (frames, bytes).
    pub fn pre_connect_limits(&self) -> (usize, usize) {
        (self.pre_connect_max_frames, self.pre_connect_max_bytes)
    }
    /// The size of the chunks an adapter reads each socket in (default
    /// [`DEFAULT_READ_BUFFER_SIZE`]).
    pub fn read_buffer_size(&self) -> usize {
        self.read_buffer_size
    }
    /// How many bytes an adapter may gather per socket before writing them out (default
    /// [`DEFAULT_WRITE_BUFFER_SIZE`]).
    pub fn write_buffer_size(&self) -> usize {
        self.write_buffer_size
    }
    /// The most bytes an adapter holds per socket for a peer that does not read. A frame
    /// that does not fit is dropped and reported with [`Bridge::handle_send_dropped`]
    /// (drop-newest). Default: room for one largest frame on top of the write buffer, so
    /// any frame the bridge accepts can be sent.
    ///
    /// ```
    /// use teler_core::media::BridgeConfig;
    /// let cfg = BridgeConfig::builder("ws://a").max_frame_size(1000).build().unwrap();
    /// assert!(cfg.max_write_buffer_size() > cfg.write_buffer_size() + 1000);
    /// ```
    pub fn max_write_buffer_size(&self) -> usize {
        self.max_write_buffer_size.unwrap_or(
            self.write_buffer_size
                .saturating_add(self.max_frame_size)
                .saturating_add(FRAME_HEADER_MAX),
        )
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl BridgeConfigBuilder {
    /// The stream type; only [`StreamType::Bidirectional`] (the default) is implemented.
    pub fn stream_type(mut self, t: StreamType) -> Self {
        self.stream_type = t;
        self
    }
    /// Adds a header to the remote handshake (e.g. `Authorization: Bearer …`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cfg.remote_headers.push((name.into(), value.into()));
        self
    }
    /// Offers a subprotocol in the remote handshake.
    pub fn subprotocol(mut self, p: impl Into<String>) -> Self {
        self.cfg.subprotocols.push(p.into());
        self
    }
    /// Bounds the queue of messages for the remote held while it connects (default
    /// [`DEFAULT_PRE_CONNECT_FRAMES`] frames, [`DEFAULT_PRE_CONNECT_BYTES`] bytes). Past the
    /// bound the **oldest** queued message is dropped and counted in
    /// [`DirectionStats::dropped`]: the freshest caller audio is the most useful.
    pub fn pre_connect_limits(mut self, max_frames: usize, max_bytes: usize) -> Self {
        self.cfg.pre_connect_max_frames = max_frames;
        self.cfg.pre_connect_max_bytes = max_bytes;
        self
    }
    /// The largest frame accepted from either side (default 1 MiB). Larger frames are
    /// rejected per the [`FramePolicy`].
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.cfg.max_frame_size = bytes;
        self
    }
    /// How long the remote has to accept the connection (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.cfg.connect_timeout = t;
        self
    }
    /// Keepalive pings to the remote (default every 20 s; `None` turns them off).
    pub fn keepalive_interval(mut self, every: Option<Duration>) -> Self {
        self.cfg.keepalive_interval = every;
        self
    }
    /// How long the remote may stay silent, pongs included, before the bridge ends with
    /// [`TimeoutKind::RemoteIdle`] (default 60 s; `None` waits forever).
    pub fn remote_idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.cfg.remote_idle_timeout = t;
        self
    }
    /// How long Teler may send nothing before the bridge ends with
    /// [`TimeoutKind::TelerIdle`] (default 30 s, see [`DEFAULT_TELER_IDLE_TIMEOUT`]; `None`
    /// waits forever). Without it, a Teler connection that dies without a close would keep
    /// the remote session (a paid agent) open.
    pub fn teler_idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.cfg.teler_idle_timeout = t;
        self
    }
    /// What to do with unreadable frames (default [`FramePolicy::Drop`]).
    pub fn frame_policy(mut self, p: FramePolicy) -> Self {
        self.cfg.frame_policy = p;
        self
    }
    /// What to do with binary frames from the remote (default [`BinaryFrames::Drop`];
    /// [`BinaryFrames::AsText`] hands UTF-8 ones to the handler, as the Python SDK does). A
    /// [`FramePolicy`] converts.
    pub fn binary_from_remote(mut self, p: impl Into<BinaryFrames>) -> Self {
        self.cfg.binary_from_remote = p.into();
        self
    }
    /// When to dial the remote (default [`Dial::OnStart`]).
    pub fn dial(mut self, when: Dial) -> Self {
        self.cfg.dial = when;
        self
    }
    /// How long Teler has to send `start` once its socket is accepted (default
    /// [`DEFAULT_START_TIMEOUT`], 10 s; `None`: no limit). A socket that never sends it ends
    /// with [`TimeoutKind::Start`].
    pub fn start_timeout(mut self, t: Option<Duration>) -> Self {
        self.cfg.start_timeout = t;
        self
    }
    /// What to do when a handler fails (default [`HandlerErrorPolicy::Drop`]).
    pub fn handler_error_policy(mut self, p: HandlerErrorPolicy) -> Self {
        self.cfg.handler_error_policy = p;
        self
    }

    /// Per-socket buffer sizes for the adapter: the read chunk and the write buffer
    /// (defaults [`DEFAULT_READ_BUFFER_SIZE`], [`DEFAULT_WRITE_BUFFER_SIZE`]; both must be
    /// at least 1).
    pub fn socket_buffers(mut self, read: usize, write: usize) -> Self {
        self.cfg.read_buffer_size = read;
        self.cfg.write_buffer_size = write;
        self
    }
    /// The most bytes held per socket for a peer that stopped reading (see
    /// [`BridgeConfig::max_write_buffer_size`]); must be larger than the write buffer.
    pub fn max_write_buffer_size(mut self, bytes: usize) -> Self {
        self.cfg.max_write_buffer_size = Some(bytes);
        self
    }

    /// Validates and builds the config.
    pub fn build(self) -> Result<BridgeConfig, ConfigError> {
        if self.stream_type == StreamType::Unidirectional {
            return Err(ConfigError::NotImplemented(
                "unidirectional streams are not supported; use StreamType::Bidirectional",
            ));
        }
        let c = self.cfg;
        let url = c.remote_url.trim();
        if url.is_empty() {
            return Err(bad("remote_url", "is required (a ws:// or wss:// URL)"));
        }
        let lower = url.to_ascii_lowercase();
        let rest = if let Some(r) = lower.strip_prefix("wss://") {
            r
        } else if let Some(r) = lower.strip_prefix("ws://") {
            r
        } else {
            return Err(bad(
                "remote_url",
                format!("must start with ws:// or wss://, got {url:?}"),
            ));
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() || host.starts_with(':') {
            return Err(bad("remote_url", format!("has no host: {url:?}")));
        }
        if url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad(
                "remote_url",
                "must not contain spaces or control characters",
            ));
        }
        for (name, value) in &c.remote_headers {
            if !is_token(name) {
                return Err(bad(
                    "remote_headers",
                    format!("header name {name:?} is not a valid HTTP token"),
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(bad(
                    "remote_headers",
                    format!("the value of {name:?} must not contain CR, LF or NUL"),
                ));
            }
        }
        for p in &c.subprotocols {
            if !is_token(p) {
                return Err(bad(
                    "subprotocols",
                    format!("{p:?} is not a valid subprotocol token"),
                ));
            }
        }
        if c.max_frame_size == 0 {
            return Err(bad("max_frame_size", "must be at least 1 byte"));
        }
        if c.connect_timeout.is_zero() {
            return Err(bad("connect_timeout", "must be longer than zero"));
        }
        if c.keepalive_interval.is_some_and(|d| d.is_zero()) {
            return Err(bad(
                "keepalive_interval",
                "must be longer than zero (or None)",
            ));
        }
        if c.remote_idle_timeout.is_some_and(|d| d.is_zero()) {
            return Err(bad(
                "remote_idle_timeout",
                "must be longer than zero (or None)",
            ));
        }
        if c.start_timeout.is_some_and(|d| d.is_zero()) {
            return Err(bad("start_timeout", "must be longer than zero (or None)"));
        }
        if c.teler_idle_timeout.is_some_and(|d| d.is_zero()) {
            return Err(bad(
                "teler_idle_timeout",
                "must be longer than zero (or None)",
            ));
        }
        if c.read_buffer_size == 0 || c.write_buffer_size == 0 {
            return Err(bad(
                "socket_buffers",
                "read and write sizes must be at least 1 byte",
            ));
        }
        if c.max_write_buffer_size
            .is_some_and(|m| m <= c.write_buffer_size)
        {
            return Err(bad(
                "max_write_buffer_size",
                "must be larger than the write buffer size",
            ));
        }
        Ok(BridgeConfig {
            remote_url: url.to_owned(),
            ..c
        })
    }
}

/// One frame as received from a socket. Text frames are passed as bytes so that invalid
/// UTF-8 is the core's to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A text frame (its bytes; validated as UTF-8 by the bridge).
    Text(&'a [u8]),
    /// A binary frame.
    Binary(&'a [u8]),
    /// A ping (the WebSocket library answers it; it counts as a sign of life).
    Ping(&'a [u8]),
    /// A pong (a sign of life).
    Pong(&'a [u8]),
}

/// A WebSocket close code and reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CloseInfo {
    /// The close code (1000 normal, 1011 failure, …).
    pub code: u16,
    /// The reason text.
    pub reason: String,
}

/// Close code for a normal end.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code for an end caused by a failure.
pub const CLOSE_FAILURE: u16 = 1011;
/// Close code for an end because the server is going away (a drain's deadline passed).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a peer that broke the rules (no `start` in time).
pub const CLOSE_POLICY: u16 = 1008;
/// The close reason the Python SDK sends on `Stop`.
pub const STOP_REASON: &str = "Stream stopped by client";

/// What the driver must do to open the remote socket. Its `Debug` hides the URL's query and
/// the headers' values.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteConnect {
    /// The URL to dial.
    pub url: String,
    /// Extra handshake headers.
    pub headers: Vec<(String, String)>,
    /// Subprotocols to offer.
    pub subprotocols: Vec<String>,
    /// Give up after this long (the bridge also enforces it through its timeout).
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConnect")
            .field("url", &redacted_url(&self.url))
            .field("headers", &RedactedHeaders(&self.headers))
            .field("subprotocols", &self.subprotocols)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A frame the driver must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFrame {
    /// A text frame.
    Text(String),
    /// A binary frame (agents that take raw audio; Teler itself speaks text).
    Binary(Vec<u8>),
    /// A ping with this payload.
    Ping(Vec<u8>),
}

impl OutFrame {
    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            OutFrame::Text(t) => t.len(),
            OutFrame::Binary(b) | OutFrame::Ping(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Open the remote socket; report the outcome with [`Bridge::handle_remote_connected`]
    /// or [`Bridge::handle_remote_connect_failed`].
    ConnectRemote(RemoteConnect),
    /// Send a frame on a side.
    Send {
        /// Where to send it.
        side: Side,
        /// What to send.
        frame: OutFrame,
    },
    /// Close a side with this code and reason (for a remote still connecting: abandon the
    /// attempt).
    Close {
        /// Which side.
        side: Side,
        /// The close frame to send.
        close: CloseInfo,
    },
    /// Something the application may want to know.
    Event(Event),
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum RejectReason {
    /// A binary frame where text was expected.
    Binary {
        /// Its length.
        len: usize,
    },
    /// A text frame that is not UTF-8.
    InvalidUtf8,
    /// A frame over [`BridgeConfigBuilder::max_frame_size`].
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A frame from Teler that is not a Teler message.
    Invalid(#[serde(serialize_with = "ser_display")] FrameError),
}

fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectReason::Binary { len } => {
                write!(f, "binary frame of {len} bytes where text was expected")
            }
            RejectReason::InvalidUtf8 => f.write_str("text frame is not valid UTF-8"),
            RejectReason::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the {max}-byte limit")
            }
            RejectReason::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The remote did not accept the connection in time.
    Connect,
    /// The remote sent nothing (not even a pong) for the idle timeout.
    RemoteIdle,
    /// Teler sent nothing for the Teler idle timeout: its connection is gone.
    TelerIdle,
    /// Teler's socket sent no `start` within the start timeout (no agent was dialed).
    Start,
}

/// Why the bridge ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum EndReason {
    /// Teler closed the media socket: the call ended (Teler sends no stop message).
    TelerHungUp(Option<CloseInfo>),
    /// The remote closed its socket (or it broke, with no close frame).
    RemoteClosed(Option<CloseInfo>),
    /// A handler answered [`StreamOp::Stop`].
    Stopped {
        /// The side whose message the handler was handling.
        by: Side,
    },
    /// A handler failed and the policy is [`HandlerErrorPolicy::End`].
    HandlerError {
        /// The side whose message the handler was handling.
        side: Side,
        /// The error text.
        message: String,
    },
    /// A peer broke the protocol: a frame was rejected and the policy is
    /// [`FramePolicy::End`], or the driver reported [`Bridge::handle_protocol_error`].
    ProtocolError {
        /// The side that sent the frame.
        side: Side,
        /// What was wrong.
        message: String,
    },
    /// The remote could not be reached.
    RemoteUnreachable(String),
    /// A deadline passed.
    Timeout(TimeoutKind),
    /// The application stopped the call ([`Command::Stop`]): both sides were closed with
    /// 1000.
    StoppedByApp {
        /// The reason the application gave (for the log; not sent to either peer).
        reason: String,
    },
    /// The application sent the bridge away ([`Command::GoAway`], a drain whose deadline
    /// passed): both sides were closed with 1001 "going away".
    GoingAway,
    /// The bridge was refused before it started ([`Bridge::handle_refused`]: the connector is
    /// draining): Teler's socket was closed with 1001 and no agent was dialed.
    Refused,
}

impl EndReason {
    /// Whether this is a normal end (hang-up, remote closed normally, a handler's or the
    /// application's stop, a drain's going away).
    pub fn is_normal(&self) -> bool {
        match self {
            EndReason::TelerHungUp(_)
            | EndReason::Stopped { .. }
            | EndReason::StoppedByApp { .. }
            | EndReason::GoingAway => true,
            EndReason::RemoteClosed(c) => {
                c.as_ref().is_some_and(|c| c.code == 1000 || c.code == 1001)
            }
            _ => false,
        }
    }

    /// A short, stable name for the kind of end, for metric labels and logs:
    /// `teler_hung_up`, `remote_closed`, `stopped`, `handler_error`, `protocol_error`,
    /// `remote_unreachable`, `timeout_connect`, `timeout_remote_idle`, `timeout_teler_idle`,
    /// `timeout_start`, `stopped_by_app`, `going_away`, `refused`.
    pub fn kind(&self) -> &'static str {
        match self {
            EndReason::TelerHungUp(_) => "teler_hung_up",
            EndReason::RemoteClosed(_) => "remote_closed",
            EndReason::Stopped { .. } => "stopped",
            EndReason::HandlerError { .. } => "handler_error",
            EndReason::ProtocolError { .. } => "protocol_error",
            EndReason::RemoteUnreachable(_) => "remote_unreachable",
            EndReason::Timeout(TimeoutKind::Connect) => "timeout_connect",
            EndReason::Timeout(TimeoutKind::RemoteIdle) => "timeout_remote_idle",
            EndReason::Timeout(TimeoutKind::TelerIdle) => "timeout_teler_idle",
            EndReason::Timeout(TimeoutKind::Start) => "timeout_start",
            EndReason::StoppedByApp { .. } => "stopped_by_app",
            EndReason::GoingAway => "going_away",
            EndReason::Refused => "refused",
        }
    }
}

/// Something the application asks of a live bridge, from outside its handlers
/// ([`Bridge::handle_command`]); the adapters' call handles carry these to the call's loop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Send this text to Teler: an app message (`audio`, `clear`, `interrupt`, …). It must
    /// be a JSON object; see [`Command::to_teler`] and [`Command::to_teler_json`].
    SendToTeler(String),
    /// Send this frame to the remote (held, within the pre-connect bounds, until it is
    /// open).
    SendToRemote(OutFrame),
    /// End the call: both sides are closed with 1000 and the end reason is
    /// [`EndReason::StoppedByApp`].
    Stop {
        /// Why, for the summary and the log.
        reason: String,
    },
    /// End the call because this process is going away: both sides are closed with 1001
    /// and the end reason is [`EndReason::GoingAway`].
    GoAway,
}

impl Command {
    /// Sends a typed app message to Teler.
    ///
    /// ```
    /// use teler_core::media::{AppMessage, Command};
    /// assert_eq!(
    ///     Command::to_teler(&AppMessage::Clear),
    ///     Command::SendToTeler(r#"{"type":"clear"}"#.to_owned()),
    /// );
    /// ```
    pub fn to_teler(message: &AppMessage) -> Command {
        Command::SendToTeler(message.to_json())
    }

    /// Sends raw JSON to Teler, checked to be one JSON object first.
    ///
    /// # Errors
    /// [`CommandError::NotJson`] when `json` is not a JSON object.
    pub fn to_teler_json(json: impl Into<String>) -> Result<Command, CommandError> {
        let json = json.into();
        check_json_object(&json)?;
        Ok(Command::SendToTeler(json))
    }

    /// Sends a text frame to the remote.
    pub fn to_remote(text: impl Into<String>) -> Command {
        Command::SendToRemote(OutFrame::Text(text.into()))
    }

    /// Stops the call with a reason.
    pub fn stop(reason: impl Into<String>) -> Command {
        Command::Stop {
            reason: reason.into(),
        }
    }
}

fn check_json_object(json: &str) -> Result<(), CommandError> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(CommandError::NotJson("not a JSON object".to_owned())),
        Err(e) => Err(CommandError::NotJson(e.to_string())),
    }
}

/// Why a [`Command`] was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The bridge has ended: nothing more goes out.
    #[error("the call has ended")]
    Ended,
    /// Text for Teler that is not one JSON object.
    #[error("a message for Teler must be a JSON object: {0}")]
    NotJson(String),
    /// The frame is over [`BridgeConfigBuilder::max_frame_size`].
    #[error(
        "a frame of {len} bytes is over the {max}-byte limit: send less, or raise the bridge's max_frame_size"
    )]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The remote-bound message could not be held: the remote is not open and the
    /// pre-connect queue is full.
    #[error(
        "the remote is not connected yet and its pre-connect queue is full: retry once it connects, or raise pre_connect_limits"
    )]
    QueueFull,
}

/// Counters for one direction, named by the side the frames came **from**.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DirectionStats {
    /// Frames received (text, binary; not pings or pongs).
    pub frames_in: u64,
    /// Bytes received in those frames.
    pub bytes_in: u64,
    /// Messages handed to the driver for the other side.
    pub relayed_frames: u64,
    /// Bytes in those messages.
    pub relayed_bytes: u64,
    /// Messages a handler answered with `Pass`.
    pub passed: u64,
    /// Frames rejected (binary, invalid UTF-8, not a Teler message, too large).
    pub rejected: u64,
    /// Handler errors.
    pub handler_errors: u64,
    /// Times this side broke the WebSocket protocol ([`Bridge::handle_protocol_error`]):
    /// bad UTF-8 in a text frame, reserved bits or opcodes, a frame over the socket's limit.
    pub protocol_errors: u64,
    /// Relayed messages dropped before they were handed to the driver: pre-connect queue
    /// overflow, or still queued when the bridge ended.
    pub dropped: u64,
    /// Messages handed to the driver (counted in `relayed_frames`) that it then could not
    /// send because the peer stopped reading ([`Bridge::handle_send_dropped`]).
    pub send_dropped: u64,
}

/// Counters of a bridge, readable at any time ([`Bridge::stats`]) and carried by the end
/// event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Stats {
    /// Teler -> remote.
    pub from_teler: DirectionStats,
    /// Remote -> Teler.
    pub from_remote: DirectionStats,
    /// Keepalive pings sent to the remote.
    pub pings_sent: u64,
    /// Frames the application sent to Teler through [`Command::SendToTeler`] (not counted
    /// as relayed).
    pub app_to_teler: u64,
    /// Frames the application sent to the remote through [`Command::SendToRemote`].
    pub app_to_remote: u64,
}

impl Stats {
    fn dir(&mut self, from: Side) -> &mut DirectionStats {
        match from {
            Side::Teler => &mut self.from_teler,
            Side::Remote => &mut self.from_remote,
        }
    }
}

/// How a bridge ended, with its counters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EndSummary {
    /// Why.
    pub reason: EndReason,
    /// The final counters.
    pub stats: Stats,
    /// The `start` metadata, if Teler sent it.
    pub start: Option<StartInfo>,
}

/// Something that happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum Event {
    /// Teler's `start` frame arrived.
    Started(StartInfo),
    /// The remote socket is open.
    RemoteConnected,
    /// A frame was rejected (and dropped, or the bridge ends, per the policy).
    FrameRejected {
        /// Where it came from.
        side: Side,
        /// Why.
        reason: RejectReason,
    },
    /// A handler failed (the message was dropped, or the bridge ends, per the policy).
    HandlerFailed {
        /// Whose message it was handling.
        side: Side,
        /// The error text.
        error: String,
    },
    /// The bridge is over; nothing more will be output. Always the last output.
    Ended(Box<EndSummary>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    NotStarted,
    Connecting { deadline: Instant },
    Open,
    Closed,
}

/// The bridge between one call's media socket and one remote socket.
///
/// See the crate docs for the run loop. `C` handles frames from Teler, `R` frames from the
/// remote.
pub struct Bridge<C, R> {
    cfg: BridgeConfig,
    call_handler: C,
    remote_handler: R,
    teler_open: bool,
    remote: Remote,
    ended: bool,
    start: Option<StartInfo>,
    /// Frames for the remote held until it is open; `true` marks the application's.
    pending: VecDeque<(OutFrame, bool)>,
    pending_bytes: usize,
    outputs: VecDeque<Output>,
    outbox: Outbox,
    stats: Stats,
    next_ping: Option<Instant>,
    remote_last_seen: Option<Instant>,
    teler_last_seen: Option<Instant>,
    start_deadline: Option<Instant>,
}

impl<C, R> std::fmt::Debug for Bridge<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("remote_url", &redacted_url(&self.cfg.remote_url))
            .field("teler_open", &self.teler_open)
            .field("remote", &self.remote)
            .field("ended", &self.ended)
            .field("pending", &self.pending.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<C: StreamHandler, R: StreamHandler> Bridge<C, R> {
    /// A bridge that has not started; call [`Bridge::handle_teler_connected`] when Teler's
    /// socket is accepted.
    pub fn new(config: BridgeConfig, call_handler: C, remote_handler: R) -> Self {
        Bridge {
            cfg: config,
            call_handler,
            remote_handler,
            teler_open: false,
            remote: Remote::NotStarted,
            ended: false,
            start: None,
            pending: VecDeque::new(),
            pending_bytes: 0,
            outputs: VecDeque::new(),
            outbox: Outbox::default(),
            stats: Stats::default(),
            next_ping: None,
            remote_last_seen: None,
            teler_last_seen: None,
            start_deadline: None,
        }
    }

    /// The config.
    pub fn config(&self) -> &BridgeConfig {
        &self.cfg
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether the bridge has ended (the `Ended` event may still be waiting in the outputs).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The `start` metadata, once Teler sent it.
    pub fn start_info(&self) -> Option<&StartInfo> {
        self.start.as_ref()
    }

    /// How many messages wait for the remote to connect.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The next output, or `None` when the driver has done everything asked.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Bridge::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let teler_idle = self
            .cfg
            .teler_idle_timeout
            .and_then(|d| self.teler_last_seen.map(|t| t + d));
        let remote = self.poll_remote_timeout();
        [
            teler_idle,
            remote,
            self.start_deadline,
            self.call_handler.poll_timeout(),
            self.remote_handler.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_remote_timeout(&self) -> Option<Instant> {
        match self.remote {
            Remote::Connecting { deadline } => Some(deadline),
            Remote::Open => {
                let idle = self
                    .cfg
                    .remote_idle_timeout
                    .and_then(|d| self.remote_last_seen.map(|t| t + d));
                match (self.next_ping, idle) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Remote::NotStarted | Remote::Closed => None,
        }
    }

    /// Teler's socket was accepted: the bridge starts, and dials the remote now or once
    /// `start` arrives ([`BridgeConfigBuilder::dial`]). Calling it twice does nothing; any
    /// other input first starts the bridge too.
    pub fn handle_teler_connected(&mut self, now: Instant) {
        if self.ended || self.teler_open {
            return;
        }
        self.teler_open = true;
        self.teler_last_seen = Some(now);
        match self.cfg.dial {
            Dial::OnConnect => self.dial_remote(now),
            Dial::OnStart => self.start_deadline = self.cfg.start_timeout.map(|d| now + d),
        }
    }

    /// Opens the remote, unless it is already open or being opened.
    fn dial_remote(&mut self, now: Instant) {
        if self.remote != Remote::NotStarted {
            return;
        }
        self.remote = Remote::Connecting {
            deadline: now + self.cfg.connect_timeout,
        };
        self.outputs.push_back(Output::ConnectRemote(RemoteConnect {
            url: self.cfg.remote_url.clone(),
            headers: self.cfg.remote_headers.clone(),
            subprotocols: self.cfg.subprotocols.clone(),
            timeout: self.cfg.connect_timeout,
        }));
    }

    /// A frame arrived from Teler.
    pub fn handle_teler_frame(&mut self, now: Instant, frame: Frame<'_>) {
        self.handle_teler_connected(now);
        if self.ended {
            return;
        }
        self.teler_last_seen = Some(now);
        let Some(text) = self.accept_frame(Side::Teler, frame, BinaryFrames::Drop) else {
            return;
        };
        let parsed = match TelerMessage::parse(text) {
            Ok(p) => p,
            Err(e) => {
                self.reject(Side::Teler, RejectReason::Invalid(e), self.cfg.frame_policy);
                return;
            }
        };
        if let TelerMessage::Start(s) = &parsed
            && self.start.is_none()
        {
            let info = s.to_owned_info();
            self.start = Some(info.clone());
            self.start_deadline = None;
            self.outputs.push_back(Output::Event(Event::Started(info)));
            self.dial_remote(now);
        }
        let msg = Message::from_teler(text, &parsed);
        self.outbox.now = Some(now);
        let result = self.call_handler.handle(&msg, &mut self.outbox);
        self.finish_handler(Side::Teler, result);
    }

    /// A frame arrived from the remote.
    pub fn handle_remote_frame(&mut self, now: Instant, frame: Frame<'_>) {
        if self.ended {
            return;
        }
        if self.remote != Remote::Open {
            // A frame proves the socket is open, whatever the driver reported.
            self.handle_remote_connected(now);
            if self.ended {
                return;
            }
        }
        self.remote_last_seen = Some(now);
        if let Frame::Binary(bytes) = frame {
            // A vendor that speaks binary (raw audio, or JSON in binary frames) gets it from
            // its handler; for any other handler the `binary_from_remote` policy applies.
            if !self.count_frame(Side::Remote, bytes.len()) {
                return;
            }
            self.outbox.items.clear();
            self.outbox.now = Some(now);
            match self.remote_handler.handle_binary(bytes, &mut self.outbox) {
                Some(result) => self.finish_handler(Side::Remote, result),
                None => {
                    self.outbox.items.clear();
                    match self.cfg.binary_from_remote {
                        BinaryFrames::AsText => match std::str::from_utf8(bytes) {
                            Ok(text) => {
                                let msg = Message::from_text(text);
                                let result = self.remote_handler.handle(&msg, &mut self.outbox);
                                self.finish_handler(Side::Remote, result);
                            }
                            Err(_) => {
                                let policy = self.cfg.frame_policy;
                                self.reject(Side::Remote, RejectReason::InvalidUtf8, policy);
                            }
                        },
                        policy => {
                            let policy = if policy == BinaryFrames::End {
                                FramePolicy::End
                            } else {
                                FramePolicy::Drop
                            };
                            let reason = RejectReason::Binary { len: bytes.len() };
                            self.reject(Side::Remote, reason, policy);
                        }
                    }
                }
            }
            return;
        }
        let Some(text) = self.accept_frame(Side::Remote, frame, self.cfg.binary_from_remote) else {
            return;
        };
        let msg = Message::from_text(text);
        self.outbox.now = Some(now);
        let result = self.remote_handler.handle(&msg, &mut self.outbox);
        self.finish_handler(Side::Remote, result);
    }

    /// The remote socket is open: queued messages go out, in order.
    pub fn handle_remote_connected(&mut self, now: Instant) {
        self.handle_teler_connected(now);
        if self.ended || self.remote == Remote::Open {
            return;
        }
        self.remote = Remote::Open;
        self.remote_last_seen = Some(now);
        self.next_ping = self.cfg.keepalive_interval.map(|d| now + d);
        self.outputs
            .push_back(Output::Event(Event::RemoteConnected));
        self.outbox.items.clear();
        self.outbox.now = Some(now);
        let greet = self.call_handler.on_remote_connected(&mut self.outbox);
        let mut items = std::mem::take(&mut self.outbox.items);
        match greet {
            // A greeting is not a relayed caller frame: it is not counted as relayed.
            Ok(()) => self
                .outputs
                .extend(items.drain(..).map(|frame| Output::Send {
                    side: Side::Remote,
                    frame,
                })),
            Err(e) => {
                items.clear();
                self.handler_failed(Side::Teler, e.to_string());
            }
        }
        self.outbox.items = items;
        if self.ended {
            return;
        }
        while let Some((m, app)) = self.pending.pop_front() {
            self.pending_bytes -= m.len();
            if app {
                self.stats.app_to_remote += 1;
                self.outputs.push_back(Output::Send {
                    side: Side::Remote,
                    frame: m,
                });
            } else {
                self.emit_relay(Side::Teler, m);
            }
        }
    }

    /// The remote could not be reached (refused, DNS, TLS, handshake rejected).
    pub fn handle_remote_connect_failed(&mut self, now: Instant, reason: impl Into<String>) {
        self.handle_teler_connected(now);
        if self.ended {
            return;
        }
        self.remote = Remote::Closed;
        self.end(EndReason::RemoteUnreachable(reason.into()));
    }

    /// The remote socket closed (`None`: it broke without a close frame).
    pub fn handle_remote_closed(&mut self, now: Instant, close: Option<CloseInfo>) {
        self.handle_teler_connected(now);
        if self.ended {
            return;
        }
        self.remote = Remote::Closed;
        self.end(EndReason::RemoteClosed(close));
    }

    /// Teler's socket closed: the call is over.
    pub fn handle_teler_closed(&mut self, now: Instant, close: Option<CloseInfo>) {
        self.handle_teler_connected(now);
        if self.ended {
            return;
        }
        self.teler_open = false;
        self.end(EndReason::TelerHungUp(close));
    }

    /// The driver could not hand a frame the bridge asked it to send to `side` (its send
    /// buffer is full: the peer stopped reading). The frame is counted as dropped; the
    /// policy is *drop newest*, so a stalled peer costs bounded memory and the keepalive
    /// idle timeout ends a peer that stays silent.
    pub fn handle_send_dropped(&mut self, side: Side) {
        self.stats.dir(side.other()).send_dropped += 1;
    }

    /// The driver could not read `side` because its peer broke the WebSocket protocol (a
    /// frame over the socket's size limit, bad framing, garbage bytes). The socket is
    /// unusable, so unlike a rejected frame this always ends the bridge, with
    /// [`EndReason::ProtocolError`]; the other side is closed with 1011. A socket that
    /// merely broke (reset, EOF without a close frame) is `handle_*_closed(now, None)`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use teler_core::media::*;
    /// let cfg = BridgeConfig::builder("ws://agent").build().unwrap();
    /// let mut b = Bridge::new(cfg, relay(), relay());
    /// let now = Instant::now();
    /// b.handle_teler_connected(now);
    /// b.handle_protocol_error(now, Side::Remote, "frame too large");
    /// let mut reason = None;
    /// while let Some(o) = b.poll_output() {
    ///     if let Output::Event(Event::Ended(s)) = o { reason = Some(s.reason); }
    /// }
    /// assert!(matches!(reason, Some(EndReason::ProtocolError { side: Side::Remote, .. })));
    /// ```
    pub fn handle_protocol_error(&mut self, now: Instant, side: Side, message: impl Into<String>) {
        self.handle_teler_connected(now);
        if self.ended {
            return;
        }
        self.stats.dir(side).protocol_errors += 1;
        match side {
            Side::Teler => self.teler_open = false,
            Side::Remote => self.remote = Remote::Closed,
        }
        self.end(EndReason::ProtocolError {
            side,
            message: message.into(),
        });
    }

    /// Time passed: fires the connect timeout, keepalive pings and the idle timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        if let Some(at) = self.start_deadline
            && now >= at
        {
            self.end(EndReason::Timeout(TimeoutKind::Start));
            return;
        }
        if let (Some(idle), Some(seen)) = (self.cfg.teler_idle_timeout, self.teler_last_seen)
            && self.teler_open
            && now >= seen + idle
        {
            self.end(EndReason::Timeout(TimeoutKind::TelerIdle));
            return;
        }
        match self.remote {
            Remote::Connecting { deadline } if now >= deadline => {
                self.end(EndReason::Timeout(TimeoutKind::Connect));
            }
            Remote::Open => {
                if let (Some(idle), Some(seen)) =
                    (self.cfg.remote_idle_timeout, self.remote_last_seen)
                    && now >= seen + idle
                {
                    self.end(EndReason::Timeout(TimeoutKind::RemoteIdle));
                    return;
                }
                if let (Some(at), Some(every)) = (self.next_ping, self.cfg.keepalive_interval)
                    && now >= at
                {
                    self.stats.pings_sent += 1;
                    self.outputs.push_back(Output::Send {
                        side: Side::Remote,
                        frame: OutFrame::Ping(Vec::new()),
                    });
                    self.next_ping = Some(now + every);
                }
            }
            _ => {}
        }
        if self.ended {
            return;
        }
        if self.call_handler.poll_timeout().is_some_and(|t| now >= t) {
            self.outbox.items.clear();
            self.outbox.now = Some(now);
            let result = self.call_handler.handle_timeout(now, &mut self.outbox);
            self.finish_handler(Side::Teler, result);
        }
        if !self.ended && self.remote_handler.poll_timeout().is_some_and(|t| now >= t) {
            self.outbox.items.clear();
            self.outbox.now = Some(now);
            let result = self.remote_handler.handle_timeout(now, &mut self.outbox);
            self.finish_handler(Side::Remote, result);
        }
    }

    /// Carries out a command from the application (an adapter's call handle): a message
    /// for Teler or the remote, or an end. Messages go out in order with relayed frames.
    ///
    /// ```
    /// use std::time::Instant;
    /// use teler_core::media::*;
    /// let cfg = BridgeConfig::builder("ws://agent").build().unwrap();
    /// let mut b = Bridge::new(cfg, relay(), relay());
    /// let now = Instant::now();
    /// b.handle_teler_connected(now);
    /// b.handle_command(now, Command::to_teler(&AppMessage::Clear)).unwrap();
    /// assert_eq!(
    ///     b.poll_output(),
    ///     Some(Output::Send { side: Side::Teler, frame: OutFrame::Text(r#"{"type":"clear"}"#.into()) }),
    /// );
    /// b.handle_command(now, Command::stop("operator hung up")).unwrap();
    /// assert_eq!(b.handle_command(now, Command::GoAway), Err(CommandError::Ended));
    /// ```
    ///
    /// # Errors
    /// [`CommandError`]: the bridge has ended, the text for Teler is not a JSON object, the
    /// frame is over the size limit, or the remote is not open and its queue is full.
    pub fn handle_command(&mut self, now: Instant, command: Command) -> Result<(), CommandError> {
        self.handle_teler_connected(now);
        if self.ended {
            return Err(CommandError::Ended);
        }
        let max = self.cfg.max_frame_size;
        let check_len = |len: usize| match len > max {
            true => Err(CommandError::TooLarge { len, max }),
            false => Ok(()),
        };
        match command {
            Command::SendToTeler(text) => {
                check_len(text.len())?;
                check_json_object(&text)?;
                self.stats.app_to_teler += 1;
                self.outputs.push_back(Output::Send {
                    side: Side::Teler,
                    frame: OutFrame::Text(text),
                });
            }
            Command::SendToRemote(frame) => {
                check_len(frame.len())?;
                if self.remote == Remote::Open {
                    self.stats.app_to_remote += 1;
                    self.outputs.push_back(Output::Send {
                        side: Side::Remote,
                        frame,
                    });
                } else {
                    let (max_frames, max_bytes) = self.cfg.pre_connect_limits();
                    if self.pending.len() >= max_frames
                        || self.pending_bytes + frame.len() > max_bytes
                    {
                        return Err(CommandError::QueueFull);
                    }
                    self.pending_bytes += frame.len();
                    self.pending.push_back((frame, true));
                }
            }
            Command::Stop { reason } => self.end(EndReason::StoppedByApp { reason }),
            Command::GoAway => self.end(EndReason::GoingAway),
        }
        Ok(())
    }

    /// Refuses the call before anything happens (the connector is draining): Teler's socket
    /// is closed with 1001 "going away", no agent is dialed, and the end reason is
    /// [`EndReason::Refused`]. Does nothing once the bridge has started.
    pub fn handle_refused(&mut self, now: Instant) {
        if self.ended || self.teler_open || self.remote != Remote::NotStarted {
            return;
        }
        self.teler_open = true;
        self.teler_last_seen = Some(now);
        self.end(EndReason::Refused);
    }

    /// Counts a received frame of `len` bytes; false (and rejected) when it is over the
    /// size limit.
    fn count_frame(&mut self, side: Side, len: usize) -> bool {
        let d = self.stats.dir(side);
        d.frames_in += 1;
        d.bytes_in += len as u64;
        let max = self.cfg.max_frame_size;
        if len > max {
            let reason = RejectReason::TooLarge { len, max };
            self.reject(side, reason, self.cfg.frame_policy);
            return false;
        }
        true
    }

    /// Counts a frame and returns its text, or rejects it.
    fn accept_frame<'f>(
        &mut self,
        side: Side,
        frame: Frame<'f>,
        binary: BinaryFrames,
    ) -> Option<&'f str> {
        let bytes = match frame {
            Frame::Ping(_) | Frame::Pong(_) => return None,
            Frame::Text(b) | Frame::Binary(b) => b,
        };
        if !self.count_frame(side, bytes.len()) {
            return None;
        }
        let binary = if side == Side::Teler {
            // Teler speaks JSON text: a binary frame from it is under the frame policy.
            BinaryFrames::from(self.cfg.frame_policy)
        } else {
            binary
        };
        match (frame, binary) {
            (Frame::Binary(b), BinaryFrames::Drop | BinaryFrames::End) => {
                let policy = if binary == BinaryFrames::End {
                    FramePolicy::End
                } else {
                    FramePolicy::Drop
                };
                self.reject(side, RejectReason::Binary { len: b.len() }, policy);
                None
            }
            _ => match std::str::from_utf8(bytes) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.reject(side, RejectReason::InvalidUtf8, self.cfg.frame_policy);
                    None
                }
            },
        }
    }

    fn reject(&mut self, side: Side, reason: RejectReason, policy: FramePolicy) {
        self.stats.dir(side).rejected += 1;
        let message = reason.to_string();
        self.outputs
            .push_back(Output::Event(Event::FrameRejected { side, reason }));
        if policy == FramePolicy::End {
            self.end(EndReason::ProtocolError { side, message });
        }
    }

    fn handler_failed(&mut self, side: Side, error: String) {
        self.stats.dir(side).handler_errors += 1;
        self.outputs.push_back(Output::Event(Event::HandlerFailed {
            side,
            error: error.clone(),
        }));
        if self.cfg.handler_error_policy == HandlerErrorPolicy::End {
            self.end(EndReason::HandlerError {
                side,
                message: error,
            });
        }
    }

    fn finish_handler(
        &mut self,
        from: Side,
        result: Result<StreamOp, super::handler::HandlerError>,
    ) {
        match result {
            Ok(StreamOp::Relay) => {
                let mut items = std::mem::take(&mut self.outbox.items);
                for m in items.drain(..) {
                    self.relay(from, m);
                }
                self.outbox.items = items;
            }
            Ok(StreamOp::Pass) => {
                self.outbox.items.clear();
                self.stats.dir(from).passed += 1;
            }
            Ok(StreamOp::Stop) => {
                self.outbox.items.clear();
                self.end(EndReason::Stopped { by: from });
            }
            Err(e) => {
                self.outbox.items.clear();
                self.handler_failed(from, e.to_string());
            }
        }
    }

    fn relay(&mut self, from: Side, message: OutFrame) {
        if self.ended {
            self.stats.dir(from).dropped += 1;
            return;
        }
        if from == Side::Teler && self.remote != Remote::Open {
            // Hold caller audio until the remote is open, within the bounds.
            let (max_frames, max_bytes) = self.cfg.pre_connect_limits();
            self.pending_bytes += message.len();
            self.pending.push_back((message, false));
            // Drop the oldest *caller* frame: the application's were accepted by
            // handle_command within the bounds, and are never dropped (nor counted) here.
            // There is always one: the frame just pushed.
            while self.pending.len() > max_frames || self.pending_bytes > max_bytes {
                match self.pending.iter().position(|(_, app)| !app) {
                    Some(i) => {
                        if let Some((old, _)) = self.pending.remove(i) {
                            self.pending_bytes -= old.len();
                            self.stats.from_teler.dropped += 1;
                        }
                    }
                    None => break,
                }
            }
            return;
        }
        self.emit_relay(from, message);
    }

    fn emit_relay(&mut self, from: Side, frame: OutFrame) {
        let d = self.stats.dir(from);
        d.relayed_frames += 1;
        d.relayed_bytes += frame.len() as u64;
        self.outputs.push_back(Output::Send {
            side: from.other(),
            frame,
        });
    }

    fn close(&mut self, side: Side, code: u16, reason: &str) {
        self.outputs.push_back(Output::Close {
            side,
            close: CloseInfo {
                code,
                reason: reason.to_owned(),
            },
        });
    }

    fn end(&mut self, reason: EndReason) {
        if self.ended {
            return;
        }
        self.ended = true;
        let dropped = self.pending.iter().filter(|(_, app)| !app).count() as u64;
        self.stats.from_teler.dropped += dropped;
        self.pending.clear();
        self.pending_bytes = 0;
        // (code, reason) to close each side with, if it is still open.
        type CloseWith = Option<(u16, &'static str)>;
        let (teler, remote): (CloseWith, CloseWith) = match &reason {
            EndReason::TelerHungUp(_) => (None, Some((CLOSE_NORMAL, "call ended"))),
            EndReason::RemoteClosed(_) => {
                if reason.is_normal() {
                    (Some((CLOSE_NORMAL, "remote closed")), None)
                } else {
                    (Some((CLOSE_FAILURE, "remote closed abnormally")), None)
                }
            }
            EndReason::Stopped { .. } => (
                Some((CLOSE_NORMAL, STOP_REASON)),
                Some((CLOSE_NORMAL, STOP_REASON)),
            ),
            EndReason::HandlerError { .. } => (
                Some((CLOSE_FAILURE, "handler error")),
                Some((CLOSE_FAILURE, "handler error")),
            ),
            EndReason::ProtocolError { .. } => (
                Some((CLOSE_FAILURE, "protocol error")),
                Some((CLOSE_FAILURE, "protocol error")),
            ),
            EndReason::RemoteUnreachable(_) => (Some((CLOSE_FAILURE, "remote unreachable")), None),
            EndReason::Timeout(TimeoutKind::Connect) => (
                Some((CLOSE_FAILURE, "remote connect timeout")),
                Some((CLOSE_FAILURE, "connect timeout")),
            ),
            EndReason::Timeout(TimeoutKind::RemoteIdle) => (
                Some((CLOSE_FAILURE, "remote idle timeout")),
                Some((CLOSE_FAILURE, "idle timeout")),
            ),
            EndReason::Timeout(TimeoutKind::TelerIdle) => (
                Some((CLOSE_FAILURE, "idle timeout")),
                Some((CLOSE_FAILURE, "call idle timeout")),
            ),
            EndReason::Timeout(TimeoutKind::Start) => {
                (Some((CLOSE_POLICY, "no start message")), None)
            }
            EndReason::StoppedByApp { .. } => (
                Some((CLOSE_NORMAL, STOP_REASON)),
                Some((CLOSE_NORMAL, STOP_REASON)),
            ),
            EndReason::GoingAway | EndReason::Refused => (
                Some((CLOSE_GOING_AWAY, "going away")),
                Some((CLOSE_GOING_AWAY, "going away")),
            ),
        };
        if let Some((code, why)) = teler
            && self.teler_open
        {
            self.close(Side::Teler, code, why);
        }
        if let Some((code, why)) = remote
            && matches!(self.remote, Remote::Open | Remote::Connecting { .. })
        {
            self.close(Side::Remote, code, why);
        }
        self.teler_open = false;
        self.remote = Remote::Closed;
        self.start_deadline = None;
        self.outputs
            .push_back(Output::Event(Event::Ended(Box::new(EndSummary {
                reason,
                stats: self.stats,
                start: self.start.clone(),
            }))));
    }
}
