//! The media-stream bridge with std threads and tungstenite: Teler's socket in, a remote
//! WebSocket dialed out, the [`teler_core::media::Bridge`] state machine in between. No async
//! runtime is compiled in.
//!
//! The loop only moves bytes: it feeds socket events and deadlines into the core and
//! carries out what the core asks (connect, send, close).
//!
//! # Where a call runs
//!
//! Both sockets are switched to non-blocking mode, and the loop runs in turns: each turn
//! reads what either socket has and writes out what is pending, then the loop waits for a
//! socket to become readable (or writable, when a write is pending), for a command, or for
//! the core's next deadline. Nothing is polled on a timer: a quiet call costs no CPU and a
//! frame is relayed as soon as it arrives.
//!
//! - **On shared threads** (Linux and Android, the default): the connector starts
//!   [`StreamConnector::threads`] threads (one per core) with its first call. Each waits on
//!   all of its calls' sockets at once (`epoll`, edge-triggered, through rustix's safe
//!   wrapper) and runs one turn of each call that is ready. The thread that called
//!   [`StreamConnector::bridge_stream`] waits for the end, then closes the sockets (the close
//!   handshake) and returns. Measured on 2 cores, 200 calls x 20 ms frames: a relayed frame
//!   costs 40% less CPU than with a thread per call, which spent a third of its time
//!   switching threads (bench/README). A turn stops reading a side after 64 frames, or once
//!   its frames took a millisecond, so a slow handler holds up the other calls on its thread
//!   by two of its frames at most; a handler's panic is resumed on the calling thread, and
//!   the shared thread's other calls go on.
//! - **On the calling thread** (`threads(0)`, and on other systems): the loop waits in
//!   `poll(2)` on Unix; elsewhere, or for a socket type that does not expose its
//!   `TcpStream`, it sleeps [`StreamConnector::poll_interval`] (default
//!   [`DEFAULT_POLL_INTERVAL`]) between turns instead.
//!
//! While the remote is being dialed (on a short-lived helper thread, so Teler's socket keeps
//! being read), the loop also checks the dial every poll interval.
//!
//! # Backpressure
//!
//! The bridge never stops reading either side. A frame for a peer that stopped reading is
//! **dropped** (drop-newest) and counted through [`Bridge::handle_send_dropped`] once
//! tungstenite refuses it with `WriteBufferFull` because
//! [`BridgeConfig::max_write_buffer_size`] bytes already wait. Writes never block.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use teler_core::media::{
    Bridge, BridgeConfig, CloseInfo, EndSummary, Event, OutFrame, Output, RemoteConnect, Side,
    StreamHandler,
};
pub use teler_io::websocket_config;
use teler_io::{
    CallHandle, Calls, DrainReport, LiveCall, ReadFailure, close_frame, close_info, default_tls,
    feed_frame,
};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, Message, WebSocket};

/// How long the bridge waits, once it has ended, for its close frames to go out.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default interval between checks on a remote being dialed (and between turns where
/// `poll(2)` is not used).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How long one side's reads may take in one turn before the loop moves on (see
/// `read_side`).
const TURN_BUDGET: Duration = Duration::from_millis(1);

/// How many shared threads run a connector's calls by default: one per core where they
/// exist (Linux, Android), else none (each call runs on its caller's thread).
fn default_threads() -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return thread::available_parallelism().map_or(1, |n| n.get());
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    0
}

type RemoteWs = WebSocket<MaybeTlsStream<TcpStream>>;
type EventHook = Arc<dyn Fn(&CallHandle, &Event) + Send + Sync>;

/// A stream over a `TcpStream`, which the bridge switches to non-blocking mode and waits
/// on: implemented for `TcpStream`, tungstenite's `MaybeTlsStream<TcpStream>` and rustls'
/// `StreamOwned` over a `TcpStream` (Teler's socket behind in-process TLS).
pub trait TcpSocket: Read + Write {
    /// The underlying TCP socket, if there is one.
    fn tcp(&self) -> Option<&TcpStream>;
}

impl TcpSocket for TcpStream {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self)
    }
}

impl TcpSocket for MaybeTlsStream<TcpStream> {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            MaybeTlsStream::Plain(s) => Some(s),
            MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
            _ => None,
        }
    }
}

impl<C, S> TcpSocket for rustls::StreamOwned<C, TcpStream>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.get_ref())
    }
}

/// Switches the socket to non-blocking mode for the poll loop, and turns Nagle off: audio
/// frames and `clear` are small and latency-bound.
fn set_nonblocking(s: &impl TcpSocket) -> io::Result<()> {
    match s.tcp() {
        Some(tcp) => {
            let _ = tcp.set_nodelay(true);
            tcp.set_nonblocking(true)
        }
        None => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the socket has no TcpStream to switch to non-blocking mode",
        )),
    }
}

/// Bridges Teler media streams to a remote WebSocket; [`StreamConnector::bridge_stream`]
/// blocks the calling thread until the call ends (call it from one thread per call: it takes
/// `&self`). The calls themselves run on the connector's shared threads (see the module
/// docs).
///
/// Built from a [`BridgeConfig`] and a handler **factory**, called once per call, so each
/// call gets fresh handler state.
///
/// ```no_run
/// use std::net::TcpListener;
/// use std::sync::Arc;
/// use teler_blocking::{BridgeConfig, StreamConnector, elevenlabs};
///
/// let config = BridgeConfig::builder("wss://api.elevenlabs.io/v1/convai/conversation?agent_id=…")
///     .build()
///     .expect("valid config");
/// let connector = Arc::new(StreamConnector::new(config, || {
///     (elevenlabs::call_handler(), elevenlabs::remote_handler())
/// }));
/// for tcp in TcpListener::bind("127.0.0.1:8080").unwrap().incoming() {
///     let connector = connector.clone();
///     std::thread::spawn(move || {
///         let tcp = tcp?;
///         let ws = tungstenite::accept_with_config(tcp, Some(connector.websocket_config()))
///             .map_err(|e| std::io::Error::other(e.to_string()))?;
///         let summary = connector.bridge_stream(ws);
///         println!("call ended: {:?}", summary.reason);
///         Ok::<_, std::io::Error>(())
///     });
/// }
/// ```
pub struct StreamConnector<F> {
    config: BridgeConfig,
    factory: F,
    tls: Option<Arc<ClientConfig>>,
    on_event: Option<EventHook>,
    poll_interval: Duration,
    calls: Calls,
    threads: usize,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pool: std::sync::OnceLock<Option<crate::pool::Pool>>,
}

impl<F> fmt::Debug for StreamConnector<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamConnector")
            .field("config", &self.config)
            .field("custom_tls", &self.tls.is_some())
            .field("poll_interval", &self.poll_interval)
            .field("threads", &self.threads)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl<F, C, R> StreamConnector<F>
where
    F: Fn() -> (C, R),
    C: StreamHandler,
    R: StreamHandler,
{
    /// A connector for `config`; `factory` makes the (call-side, remote-side) handler pair
    /// of each call.
    pub fn new(config: BridgeConfig, factory: F) -> Self {
        StreamConnector {
            config,
            factory,
            tls: None,
            on_event: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            calls: Calls::new(),
            threads: default_threads(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            pool: std::sync::OnceLock::new(),
        }
    }

    /// How many shared threads run the calls (default: one per core, on Linux and
    /// Android). Each waits on all of its calls' sockets at once (`epoll`), so a relayed
    /// frame costs a turn of its call's loop and not a switch to a thread of its own; the
    /// thread that called [`bridge_stream`](Self::bridge_stream) only waits for the end,
    /// then closes the sockets. `0` runs each call on the thread that called
    /// `bridge_stream` instead, waiting in `poll(2)` (what other systems always do). The
    /// threads start with the first call and stop once the connector is dropped and their
    /// last call has ended.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// The live calls: list them, find one by Teler's `call_id` or `stream_id`, and act on
    /// it through its [`CallHandle`] from any thread (send Teler a `clear`, send the agent an
    /// event, stop it, read its counters). A command wakes the call's loop at once (on
    /// Unix through a socket pair it waits on; elsewhere within the poll interval).
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Whether [`drain`](Self::drain) has begun.
    pub fn is_draining(&self) -> bool {
        self.calls.is_draining()
    }

    /// Drains the connector, blocking the calling thread: new media streams are refused
    /// ([`serve`](crate::serve) answers 503 with `Retry-After`; a `bridge_stream` call ends
    /// at once with `EndReason::Refused`), live calls run until they end or `deadline`
    /// passes, then the rest are sent away (1001 "going away" to both sides,
    /// `EndReason::GoingAway`). Returns once no call is live, or [`CLOSE_TIMEOUT`] plus a
    /// second after the deadline at the latest.
    pub fn drain(&self, deadline: Instant) -> DrainReport {
        let grace = CLOSE_TIMEOUT + Duration::from_secs(1);
        teler_io::live::drain_blocking(&self.calls, deadline, grace)
    }

    /// Uses this rustls client config for `wss://` remotes (e.g. a private CA). The default
    /// trusts the webpki roots, with the `ring` provider.
    pub fn tls_config(mut self, tls: Arc<ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Calls `hook` with every [`Event`] of every call, on the thread running the call (a
    /// shared one, see [`threads`](Self::threads)): keep it quick.
    pub fn on_event(self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.on_call_event(move |_, e| hook(e))
    }

    /// As [`on_event`](Self::on_event), with the call each event belongs to (its Teler ids
    /// once `start` came, its counters, and the means to act on it). Replaces any hook set
    /// before.
    pub fn on_call_event(
        mut self,
        hook: impl Fn(&CallHandle, &Event) + Send + Sync + 'static,
    ) -> Self {
        self.on_event = Some(Arc::new(hook));
        self
    }

    /// How often a call's loop checks on a remote being dialed, and, where neither `epoll`
    /// nor `poll(2)` is used (see the module docs), how long it sleeps when neither socket has anything
    /// (default [`DEFAULT_POLL_INTERVAL`]; at least 1 ms is used).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every.max(Duration::from_millis(1));
        self
    }

    /// The bridge config.
    pub fn config(&self) -> &BridgeConfig {
        &self.config
    }

    /// The tungstenite settings the bridge uses for the remote socket; accept Teler's
    /// socket with the same ones (`tungstenite::accept_with_config`).
    pub fn websocket_config(&self) -> WebSocketConfig {
        websocket_config(&self.config)
    }

    /// Bridges one call over Teler's accepted media socket, blocking until the bridge
    /// ends. Nothing a peer does makes this fail or hang: every end (hang-up, refusal,
    /// timeout, protocol error, Stop) is told by the summary's
    /// [`EndReason`](teler_core::media::EndReason). It waits as long as Teler keeps the call
    /// open.
    ///
    /// The call runs on the connector's shared threads (see [`threads`](Self::threads));
    /// a panic in a handler is resumed here, on the calling thread.
    pub fn bridge_stream<S>(&self, call_ws: WebSocket<S>) -> EndSummary
    where
        S: TcpSocket + Send + 'static,
        C: 'static,
        R: 'static,
    {
        self.bridge_stream_with(call_ws, |_| {})
    }

    /// As [`bridge_stream`](Self::bridge_stream), handing `on_start` the call's
    /// [`CallHandle`] before anything is relayed.
    pub fn bridge_stream_with<S>(
        &self,
        call_ws: WebSocket<S>,
        on_start: impl FnOnce(&CallHandle),
    ) -> EndSummary
    where
        S: TcpSocket + Send + 'static,
        C: 'static,
        R: 'static,
    {
        let (c, r) = (self.factory)();
        let live = self.calls.register(self.config.remote_url());
        on_start(live.handle());
        #[cfg(feature = "tracing")]
        let span = live.span().clone();
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let teler_ok = set_nonblocking(call_ws.get_ref()).is_ok();
        let wake = Wake::new();
        if let Some(w) = &wake {
            // Kept until the call ends: a wake-up does not use it up.
            live.set_waker(&std::task::Waker::from(w.clone()));
        }
        let mut driver = Driver {
            bridge: Bridge::new(self.config.clone(), c, r),
            live,
            began: Instant::now(),
            wake,
            woken: false,
            teler: call_ws,
            remote: RemoteSlot::Idle,
            dirty: [false; 2],
            closes: [None, None],
            ws_config: self.websocket_config(),
            tls: self.tls.clone(),
            on_event: self.on_event.clone(),
            poll_interval: self.poll_interval,
            summary: None,
            teler_broken: false,
            readable: [true, true],
            #[cfg(feature = "tracing")]
            span: span.clone(),
        };
        if self.calls.is_draining() {
            driver.bridge.handle_refused(Instant::now());
        }
        driver.bridge.handle_teler_connected(Instant::now());
        if !teler_ok {
            driver.bridge.handle_teler_closed(Instant::now(), None);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(pool) = self.pool() {
            let call = match pool.submit(Box::new(driver)) {
                Ok(outcome) => outcome.recv(),
                // No worker took it: it runs here.
                Err(call) => return call.run_here(),
            };
            match call {
                Ok(Ok((call, summary))) => {
                    call.finish();
                    return *summary;
                }
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                // A worker only stops once its calls have come back: not reached.
                Err(_) => unreachable!("a teler-blocking call thread stopped during a call"),
            }
        }
        driver.run()
    }

    /// The shared threads, started on first use; `None` with `threads(0)` or if they could
    /// not be started (then each call runs on its caller's thread).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn pool(&self) -> Option<&crate::pool::Pool> {
        if self.threads == 0 {
            return None;
        }
        self.pool
            .get_or_init(|| crate::pool::Pool::start(self.threads))
            .as_ref()
    }
}

enum RemoteSlot {
    Idle,
    Connecting(Receiver<Result<RemoteWs, String>>),
    Open(Box<RemoteWs>),
}

enum Read1 {
    Message(Message),
    /// The socket is empty (`EAGAIN`).
    Nothing,
    /// A pending reply could not be written yet: nothing was read, and a frame may still
    /// wait in tungstenite's buffer.
    Stuck,
    Closed,
    ProtocolError(String),
}

fn idx(side: Side) -> usize {
    match side {
        Side::Teler => 0,
        Side::Remote => 1,
    }
}

/// The read end of a socket pair a [`CallHandle`] writes a byte to, so a command wakes the
/// call's thread out of `poll(2)` at once (std only, no `unsafe`, no extra thread).
#[cfg(unix)]
struct Wake {
    rx: std::os::unix::net::UnixStream,
    tx: std::os::unix::net::UnixStream,
}

#[cfg(unix)]
impl Wake {
    fn new() -> Option<Arc<Wake>> {
        let (rx, tx) = std::os::unix::net::UnixStream::pair().ok()?;
        rx.set_nonblocking(true).ok()?;
        tx.set_nonblocking(true).ok()?;
        Some(Arc::new(Wake { rx, tx }))
    }

    /// Empties the pipe (one byte per command at most; a full pipe already wakes).
    fn clear(&self) {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
    }
}

#[cfg(unix)]
impl std::task::Wake for Wake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A full pipe means a wake-up is already pending: nothing is lost.
        let _ = (&self.tx).write(&[1]);
    }
}

/// Elsewhere the thread sleeps at most the poll interval and checks the queue each turn.
#[cfg(not(unix))]
struct Wake;

#[cfg(not(unix))]
impl Wake {
    fn new() -> Option<Arc<Wake>> {
        None
    }
    fn clear(&self) {}
}

#[cfg(not(unix))]
impl std::task::Wake for Wake {
    fn wake(self: Arc<Self>) {}
}

struct Driver<S: Read + Write, C, R> {
    bridge: Bridge<C, R>,
    live: LiveCall,
    began: Instant,
    wake: Option<Arc<Wake>>,
    /// `poll(2)` saw the wake-up socket readable: empty it before the queue is read.
    woken: bool,
    teler: WebSocket<S>,
    remote: RemoteSlot,
    dirty: [bool; 2],
    closes: [Option<CloseInfo>; 2],
    ws_config: WebSocketConfig,
    tls: Option<Arc<ClientConfig>>,
    on_event: Option<EventHook>,
    poll_interval: Duration,
    /// Set once the core's `Ended` event is out.
    summary: Option<EndSummary>,
    /// Teler's socket failed: tungstenite must not be asked to read it again.
    teler_broken: bool,
    /// A side may have something to read: false once a read found the socket empty, true
    /// again when `poll(2)` (or the shared thread's `epoll`) says it is readable. Saves a
    /// read that would only say `EAGAIN` for the side that did not wake the loop.
    readable: [bool; 2],
    /// The call's span, entered for each turn on a shared thread.
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// What one turn of a call's loop left to do.
#[derive(Debug)]
pub(crate) enum Turn {
    /// The bridge has ended: close the sockets (`finish`), then return the summary.
    Ended(Box<EndSummary>),
    /// Something happened: turn again (after the other calls, on a shared thread).
    Again,
    /// Nothing to do until a socket is ready, a command comes, or this deadline passes.
    Wait(Option<Instant>),
}

impl<S: TcpSocket, C: StreamHandler, R: StreamHandler> Driver<S, C, R> {
    /// The loop on the calling thread: turns, and waits in `poll(2)` between them.
    fn run(mut self) -> EndSummary {
        loop {
            match self.turn() {
                Turn::Ended(summary) => {
                    self.finish();
                    return *summary;
                }
                Turn::Again => {}
                Turn::Wait(deadline) => {
                    let now = Instant::now();
                    self.wait(deadline.map(|d| d.saturating_duration_since(now)));
                }
            }
        }
    }

    /// One turn: writes out what is pending, picks up the dial, serves commands, reads both
    /// sides (as far as they were readable), and fires the core's deadline if it passed.
    fn turn(&mut self) -> Turn {
        self.execute();
        if let Some(summary) = self.summary.take() {
            return Turn::Ended(Box::new(summary));
        }
        let mut busy = self.flush();
        self.execute();
        busy |= self.poll_connect();
        self.execute();
        // Commands first: one queued before a frame was read goes out before its answer.
        busy |= self.serve_commands();
        busy |= self.read_side(Side::Teler);
        busy |= self.read_side(Side::Remote);
        let now = Instant::now();
        self.live.publish(self.bridge.stats(), now);
        if self.summary.is_some() {
            return Turn::Again;
        }
        let deadline = self.bridge.poll_timeout();
        if deadline.is_some_and(|d| now >= d) {
            self.bridge.handle_timeout(now);
            return Turn::Again;
        }
        if busy {
            return Turn::Again;
        }
        // A remote being dialed is checked every poll interval.
        let dial_check =
            matches!(self.remote, RemoteSlot::Connecting(_)).then(|| now + self.poll_interval);
        Turn::Wait(match (deadline, dial_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Carries out every pending output; keeps the summary once the bridge has ended.
    fn execute(&mut self) {
        while let Some(out) = self.bridge.poll_output() {
            match out {
                Output::ConnectRemote(req) => {
                    self.live.observer.dialing(Instant::now());
                    let (tx, rx) = mpsc::channel();
                    let (cfg, tls) = (self.ws_config, self.tls.clone());
                    let spawned =
                        thread::Builder::new()
                            .name("teler-connect".into())
                            .spawn(move || {
                                let _ = tx.send(connect(&req, cfg, tls));
                            });
                    match spawned {
                        Ok(_) => self.remote = RemoteSlot::Connecting(rx),
                        Err(e) => self.bridge.handle_remote_connect_failed(
                            Instant::now(),
                            format!("could not start the connect thread: {e}"),
                        ),
                    }
                }
                Output::Send { side, frame } => {
                    let msg = match frame {
                        OutFrame::Text(t) => Message::text(t),
                        OutFrame::Binary(b) => Message::Binary(b.into()),
                        OutFrame::Ping(p) => Message::Ping(p.into()),
                    };
                    let result = match side {
                        Side::Teler => Some(self.teler.write(msg)),
                        Side::Remote => match &mut self.remote {
                            RemoteSlot::Open(ws) => Some(ws.write(msg)),
                            _ => None,
                        },
                    };
                    match result {
                        Some(Ok(())) => self.dirty[idx(side)] = true,
                        Some(Err(tungstenite::Error::Io(e))) if would_block(&e) => {
                            self.dirty[idx(side)] = true; // queued, the socket is full
                        }
                        Some(Err(tungstenite::Error::WriteBufferFull(_))) | None => {
                            self.bridge.handle_send_dropped(side)
                        }
                        Some(Err(_)) => self.side_broke(side),
                    }
                }
                Output::Close { side, close } => {
                    if side == Side::Remote && !matches!(self.remote, RemoteSlot::Open(_)) {
                        self.remote = RemoteSlot::Idle; // abandon a connect in progress
                    } else {
                        self.closes[idx(side)] = Some(close);
                    }
                }
                Output::Event(ev) => {
                    let now = Instant::now();
                    if let Event::Started(info) = &ev {
                        self.live.started(info);
                    }
                    self.live.observer.event(&ev, now);
                    if let Some(hook) = &self.on_event {
                        hook(self.live.handle(), &ev);
                    }
                    if let Event::Ended(summary) = ev {
                        self.live.publish(summary.stats, now);
                        self.live.observer.ended_after(now - self.began);
                        self.summary = Some(*summary);
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn side_broke(&mut self, side: Side) {
        let now = Instant::now();
        match side {
            Side::Teler => {
                self.teler_broken = true;
                self.bridge.handle_teler_closed(now, None);
            }
            Side::Remote => {
                self.remote = RemoteSlot::Idle;
                self.bridge.handle_remote_closed(now, None);
            }
        }
    }

    /// Carries out the application's queued commands; returns whether there were any.
    fn serve_commands(&mut self) -> bool {
        // Only after a wake-up: emptying the socket pair is a syscall, not for every turn.
        if std::mem::take(&mut self.woken)
            && let Some(w) = &self.wake
        {
            w.clear();
        }
        let mut any = false;
        while self.summary.is_none()
            && let Some(cmd) = self.live.next_command()
        {
            teler_io::live::apply(&mut self.bridge, Instant::now(), cmd);
            self.execute();
            any = true;
        }
        any
    }

    /// Waits until a socket is ready or `timeout` passes (`None`: no deadline).
    fn wait(&mut self, timeout: Option<Duration>) {
        let remote = match &self.remote {
            RemoteSlot::Open(ws) => ws.get_ref().tcp(),
            _ => None,
        };
        let teler = match self.teler_broken {
            true => None,
            false => self.teler.get_ref().tcp(),
        };
        #[cfg(unix)]
        if let Some(teler) = teler {
            let ready = wait_ready(
                teler,
                self.dirty[0],
                remote.map(|r| (r, self.dirty[1])),
                self.wake.as_ref().map(|w| &w.rx),
                timeout,
            );
            self.readable[0] |= ready[0];
            self.readable[1] |= ready[1];
            self.woken |= ready[2];
            return;
        }
        let _ = (teler, remote);
        thread::sleep(timeout.map_or(self.poll_interval, |t| t.min(self.poll_interval)));
        self.readable = [true, true];
        self.woken = true;
    }

    /// Writes out what each socket holds; returns whether anything went out.
    fn flush(&mut self) -> bool {
        let mut progress = false;
        for side in [Side::Teler, Side::Remote] {
            if !self.dirty[idx(side)] {
                continue;
            }
            let r = match (side, &mut self.remote) {
                (Side::Teler, _) => self.teler.flush(),
                (Side::Remote, RemoteSlot::Open(ws)) => ws.flush(),
                (Side::Remote, _) => Ok(()),
            };
            match r {
                Ok(()) | Err(tungstenite::Error::ConnectionClosed) => {
                    self.dirty[idx(side)] = false;
                    progress = true;
                }
                Err(tungstenite::Error::Io(e)) if would_block(&e) => {}
                Err(_) => {
                    self.dirty[idx(side)] = false;
                    self.side_broke(side);
                    progress = true;
                }
            }
        }
        progress
    }

    /// Picks up the connect thread's outcome; returns whether there was one.
    fn poll_connect(&mut self) -> bool {
        let RemoteSlot::Connecting(rx) = &self.remote else {
            return false;
        };
        let outcome = match rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => Err("the connect thread died".to_owned()),
        };
        let now = Instant::now();
        match outcome {
            Ok(ws) => match set_nonblocking(ws.get_ref()) {
                Ok(()) => {
                    self.remote = RemoteSlot::Open(Box::new(ws));
                    self.readable[1] = true;
                    self.bridge.handle_remote_connected(now);
                }
                Err(e) => {
                    self.remote = RemoteSlot::Idle;
                    self.bridge.handle_remote_connect_failed(now, e.to_string());
                }
            },
            Err(why) => {
                self.remote = RemoteSlot::Idle;
                self.bridge.handle_remote_connect_failed(now, why);
            }
        }
        true
    }

    /// Reads everything `side` has and feeds it in; returns whether anything came.
    fn read_side(&mut self, side: Side) -> bool {
        let mut any = false;
        if !self.readable[idx(side)] {
            return false;
        }
        // Bounded so one busy side cannot starve the other, nor a slow handler the other
        // calls on a shared thread: at most 64 frames, and no new frame once the turn's
        // frames took a millisecond (so a slow handler holds the others up by two of its
        // frames at most).
        let mut first = None;
        for _ in 0..64 {
            let r = match side {
                Side::Teler if self.teler_broken => Read1::Nothing,
                Side::Teler => read1(&mut self.teler),
                Side::Remote => match &mut self.remote {
                    RemoteSlot::Open(ws) => read1(ws),
                    _ => Read1::Nothing,
                },
            };
            let now = Instant::now();
            let b = &mut self.bridge;
            match (side, r) {
                (_, Read1::Nothing) => {
                    self.readable[idx(side)] = false;
                    break;
                }
                (_, Read1::Stuck) => break,
                (Side::Teler, Read1::Message(Message::Close(cf))) => {
                    b.handle_teler_closed(now, cf.map(close_info))
                }
                (Side::Teler, Read1::Message(m)) => {
                    let obs = &self.live.observer;
                    obs.timed(Side::Teler, m.len(), || {
                        feed_frame(&m, |f| b.handle_teler_frame(now, f))
                    })
                }
                (Side::Remote, Read1::Message(Message::Close(cf))) => {
                    b.handle_remote_closed(now, cf.map(close_info))
                }
                (Side::Remote, Read1::Message(m)) => {
                    let obs = &self.live.observer;
                    obs.timed(Side::Remote, m.len(), || {
                        feed_frame(&m, |f| b.handle_remote_frame(now, f))
                    })
                }
                (Side::Teler, Read1::Closed) => {
                    self.teler_broken = true;
                    b.handle_teler_closed(now, None)
                }
                (Side::Remote, Read1::Closed) => {
                    self.remote = RemoteSlot::Idle;
                    b.handle_remote_closed(now, None)
                }
                (side, Read1::ProtocolError(why)) => {
                    match side {
                        Side::Remote => self.remote = RemoteSlot::Idle,
                        Side::Teler => self.teler_broken = true,
                    }
                    b.handle_protocol_error(now, side, why)
                }
            }
            any = true;
            // Outputs are carried out after every input.
            self.execute();
            if self.summary.is_some() || now - *first.get_or_insert(now) >= TURN_BUDGET {
                break;
            }
        }
        any
    }

    /// Sends the close frames the core asked for and lets both sockets finish their close
    /// handshakes, for at most [`CLOSE_TIMEOUT`] in all.
    fn finish(mut self) {
        let until = Instant::now() + CLOSE_TIMEOUT;
        let teler_close = self.closes[0].take();
        if !self.teler_broken {
            shut(&mut self.teler, teler_close, until);
        }
        if let RemoteSlot::Open(ws) = &mut self.remote {
            shut(ws, self.closes[1].take(), until);
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl<S, C, R> crate::pool::PooledCall for Driver<S, C, R>
where
    S: TcpSocket + Send,
    C: StreamHandler,
    R: StreamHandler,
{
    fn turn(&mut self) -> Turn {
        #[cfg(feature = "tracing")]
        {
            // Taken out for the turn, so the span is entered while `self` is borrowed.
            let span = std::mem::replace(&mut self.span, tracing::Span::none());
            let turn = span.in_scope(|| Driver::turn(self));
            self.span = span;
            turn
        }
        #[cfg(not(feature = "tracing"))]
        Driver::turn(self)
    }

    fn fds(&self) -> [Option<std::os::fd::BorrowedFd<'_>>; 3] {
        use std::os::fd::AsFd;
        let remote = match &self.remote {
            RemoteSlot::Open(ws) => ws.get_ref().tcp(),
            _ => None,
        };
        [
            self.teler.get_ref().tcp().map(|t| t.as_fd()),
            remote.map(|t| t.as_fd()),
            self.wake.as_ref().map(|w| w.rx.as_fd()),
        ]
    }

    fn ready(&mut self, kind: usize, readable: bool) {
        match kind {
            crate::pool::TELER | crate::pool::REMOTE => self.readable[kind] |= readable,
            _ => self.woken |= readable,
        }
    }

    fn finish(self: Box<Self>) {
        Driver::finish(*self);
    }

    fn run_here(self: Box<Self>) -> EndSummary {
        Driver::run(*self)
    }
}

/// `poll(2)` on Teler's socket and the remote's, for reading, and for writing where a write
/// is pending, and on the command wake-up. Errors (EINTR) just end the wait early: the loop
/// looks again. Returns which of Teler, the remote and the wake-up have something to read
/// (or failed, which a read then reports); all on an error.
#[cfg(unix)]
fn wait_ready(
    teler: &TcpStream,
    teler_out: bool,
    remote: Option<(&TcpStream, bool)>,
    wake: Option<&std::os::unix::net::UnixStream>,
    timeout: Option<Duration>,
) -> [bool; 3] {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let flags = |out: bool| match out {
        true => PollFlags::IN | PollFlags::OUT,
        false => PollFlags::IN,
    };
    let timeout = timeout.map(|t| {
        Timespec::try_from(t).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        })
    });
    // Teler, the remote (or Teler again, unused), the command wake-up (or Teler again).
    let mut fds = [
        PollFd::new(teler, flags(teler_out)),
        PollFd::new(
            remote.map_or(teler, |r| r.0),
            flags(remote.is_some_and(|r| r.1)),
        ),
        match wake {
            Some(w) => PollFd::new(w, PollFlags::IN),
            None => PollFd::new(teler, PollFlags::IN),
        },
    ];
    let n = if remote.is_some() { 2 } else { 1 };
    let polled = match wake {
        Some(_) => {
            // Compact: the wake-up goes right after the sockets in use.
            fds.swap(n, 2);
            n + 1
        }
        None => n,
    };
    if poll(&mut fds[..polled], timeout.as_ref()).is_err() {
        return [true, true, true];
    }
    let readable = |fd: &PollFd<'_>| {
        let r = fd.revents();
        r.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL)
    };
    [
        readable(&fds[0]),
        n == 2 && readable(&fds[1]),
        wake.is_some() && readable(&fds[n]),
    ]
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// One non-blocking read.
fn read1<S: Read + Write>(ws: &mut WebSocket<S>) -> Read1 {
    match ws.read() {
        Ok(m) => Read1::Message(m),
        Err(tungstenite::Error::Io(e)) if would_block(&e) => Read1::Nothing,
        // A pending reply could not be written yet: nothing new was read.
        Err(tungstenite::Error::WriteBufferFull(_)) => Read1::Stuck,
        Err(e) => match teler_io::read_failure(&e) {
            ReadFailure::Protocol(why) => Read1::ProtocolError(why),
            ReadFailure::Closed => Read1::Closed,
        },
    }
}

/// Sends `close` (if any) and lets the close handshake finish, until `until`.
fn shut<S: Read + Write>(ws: &mut WebSocket<S>, close: Option<CloseInfo>, until: Instant) {
    if let Some(c) = close {
        let _ = ws.close(Some(close_frame(c)));
    }
    while Instant::now() < until {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if would_block(&e) => {
                let _ = ws.flush();
                thread::sleep(Duration::from_millis(1));
            }
            Err(_) => break,
        }
    }
}

/// Dials the remote (on the connect thread): TCP, TLS for `wss://`, the WebSocket
/// handshake, all within the connect timeout.
fn connect(
    req: &RemoteConnect,
    config: WebSocketConfig,
    tls: Option<Arc<ClientConfig>>,
) -> Result<RemoteWs, String> {
    let started = Instant::now();
    let (request, target) = teler_io::request(req)?;
    let (host, port, tls_wanted) = (target.host.as_str(), target.port, target.tls);
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    let mut tcp = None;
    for addr in addrs {
        let left = req.timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let tcp = tcp.ok_or(last)?;
    let left = req
        .timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    let timeouts = tcp
        .set_read_timeout(Some(left))
        .and_then(|()| tcp.set_write_timeout(Some(left)))
        .and_then(|()| tcp.set_nodelay(true));
    timeouts.map_err(|e| e.to_string())?;
    let connector = if tls_wanted {
        Connector::Rustls(tls.or_else(default_tls).ok_or("could not set up TLS")?)
    } else {
        Connector::Plain
    };
    match tungstenite::client_tls_with_config(request, tcp, Some(config), Some(connector)) {
        Ok((ws, _response)) => {
            let tcp = match ws.get_ref() {
                MaybeTlsStream::Plain(s) => Some(s),
                MaybeTlsStream::Rustls(s) => Some(s.get_ref()),
                _ => None,
            };
            if let Some(tcp) = tcp {
                let _ = tcp.set_read_timeout(None);
                let _ = tcp.set_write_timeout(None);
            }
            Ok(ws)
        }
        Err(HandshakeError::Interrupted(_)) => Err("the remote handshake timed out".to_owned()),
        Err(HandshakeError::Failure(e)) => Err(e.to_string()),
    }
}
