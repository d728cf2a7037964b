//! The media-stream bridge, on any [`Runtime`]: Teler's socket in, a remote WebSocket dialed
//! out, the [`teler_core::media::Bridge`] state machine in between, one task per call.
//!
//! The loop does nothing but move bytes: it feeds each socket event and deadline into the
//! core and carries out what the core asks (connect, send, close). All behaviour (handlers,
//! policies, timeouts, counters) lives in the core.
//!
//! # Backpressure
//!
//! The bridge never stops reading either side. Frames a side's sink is not ready to take
//! wait in a queue of at most [`BridgeConfig::max_write_buffer_size`] bytes per side (room
//! for a burst of agent audio while the socket drains); a frame that does not fit, or that
//! tungstenite refuses with `WriteBufferFull`, is **dropped** (drop-newest) and counted
//! through [`Bridge::handle_send_dropped`]. Memory per call stays bounded by the buffers
//! set in the [`BridgeConfig`].

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake as WakeFn, Waker};
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{self, Message};
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use rustls::ClientConfig;
use teler_core::media::{
    Bridge, BridgeConfig, CloseInfo, EndSummary, Event, OutFrame, Output, RemoteConnect, Side,
    StreamHandler,
};
use teler_io::{
    CallHandle, Calls, DrainReport, LiveCall, ReadFailure, WakeSlot, close_frame, close_info,
    feed_frame, is_write_buffer_full,
};

use crate::{Runtime, Timer};

/// How long the bridge waits, once it has ended, for its close frames to go out.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The remote's socket: plain TCP or TLS over the runtime's TCP.
type RemoteWs<Rt> = WebSocketStream<
    async_tungstenite::stream::Stream<
        <Rt as Runtime>::Tcp,
        futures_rustls::client::TlsStream<<Rt as Runtime>::Tcp>,
    >,
>;
type Connecting<Rt> = Pin<Box<dyn Future<Output = Result<Box<RemoteWs<Rt>>, String>> + Send>>;
type EventHook = Arc<dyn Fn(&CallHandle, &Event) + Send + Sync>;

/// Bridges Teler media streams to a remote WebSocket, one call at a time per
/// [`StreamConnector::bridge_stream`] (run many at once: it takes `&self`).
///
/// Built from a [`BridgeConfig`] and a handler **factory**, called once per call, so each
/// call gets fresh handler state (the ElevenLabs remote handler counts chunk ids per call).
/// `Rt` is the [`Runtime`]; `teler_tokio::StreamConnector` and `teler_smol::StreamConnector`
/// fill it in:
///
/// ```
/// # fn demo<Rt: teler_async::Runtime>() {
/// use teler_async::StreamConnector;
/// use teler_core::{elevenlabs, media::BridgeConfig};
///
/// let config = BridgeConfig::builder("wss://api.elevenlabs.io/v1/convai/conversation?agent_id=…")
///     .header("xi-api-key", "…")
///     .build()
///     .expect("valid config");
/// let connector = StreamConnector::<_, Rt>::new(config, || {
///     (elevenlabs::call_handler(), elevenlabs::remote_handler())
/// });
/// # let _ = connector;
/// # }
/// ```
pub struct StreamConnector<F, Rt> {
    config: BridgeConfig,
    factory: F,
    tls: Option<Arc<ClientConfig>>,
    on_event: Option<EventHook>,
    calls: Calls,
    rt: PhantomData<fn() -> Rt>,
}

impl<F, Rt> fmt::Debug for StreamConnector<F, Rt> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamConnector")
            .field("config", &self.config)
            .field("custom_tls", &self.tls.is_some())
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl<F, C, R, Rt> StreamConnector<F, Rt>
where
    F: Fn() -> (C, R),
    C: StreamHandler,
    R: StreamHandler,
    Rt: Runtime,
{
    /// A connector for `config`; `factory` makes the (call-side, remote-side) handler pair
    /// of each call.
    pub fn new(config: BridgeConfig, factory: F) -> Self {
        StreamConnector {
            config,
            factory,
            tls: None,
            on_event: None,
            calls: Calls::new(),
            rt: PhantomData,
        }
    }

    /// The live calls: list them, find one by Teler's `call_id` or `stream_id`, and act on
    /// it through its [`CallHandle`] (send Teler a `clear`, send the agent an event, stop
    /// it, read its counters).
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Whether [`drain`](Self::drain) has begun.
    pub fn is_draining(&self) -> bool {
        self.calls.is_draining()
    }

    /// Drains the connector for a deploy: from now on new media streams are refused (the
    /// servers answer 503 with `Retry-After` before the upgrade; a `bridge_stream` call ends
    /// at once with `EndReason::Refused`), live calls run until they end or `deadline`
    /// passes, then the rest are sent away (both sides closed with 1001 "going away",
    /// `EndReason::GoingAway`). Returns once no call is live, or [`CLOSE_TIMEOUT`] plus a
    /// second after the deadline at the latest. Waiting costs nothing: it wakes when a call
    /// ends.
    pub async fn drain(&self, deadline: Instant) -> DrainReport {
        let grace = CLOSE_TIMEOUT + Duration::from_secs(1);
        teler_io::live::drain_async(&self.calls, deadline, grace, Rt::sleep).await
    }

    /// Uses this rustls client config for `wss://` remotes (e.g. a private CA). The default
    /// trusts the webpki roots, with the `ring` provider.
    pub fn tls_config(mut self, tls: Arc<ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Calls `hook` with every [`Event`] of every call (start, remote connected, rejected
    /// frames, handler failures, end), on the call's task: keep it quick.
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

    /// The bridge config.
    pub fn config(&self) -> &BridgeConfig {
        &self.config
    }

    /// The tungstenite settings the bridge uses for the remote socket; accept Teler's
    /// socket with the same ones (`accept_async_with_config`) so both sides have the same
    /// small buffers and frame limit.
    pub fn websocket_config(&self) -> WebSocketConfig {
        teler_io::websocket_config(&self.config)
    }

    /// Bridges one call: `call_ws` is Teler's media socket, any `Stream + Sink` of
    /// tungstenite [`Message`]s (see the crate docs for the sockets that fit). Dials the
    /// remote, relays
    /// both ways through the handlers, and returns when the bridge ends.
    ///
    /// Nothing a peer does makes this fail or hang: refusals, timeouts, protocol errors and
    /// hang-ups all end the bridge and are told by the summary's
    /// [`EndReason`](teler_core::media::EndReason). It waits as long as Teler keeps the call
    /// open.
    pub fn bridge_stream<S, E>(
        &self,
        call_ws: S,
    ) -> impl Future<Output = EndSummary> + use<S, E, F, C, R, Rt>
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
        <S as Sink<Message>>::Error: 'static,
        E: 'static,
    {
        self.bridge_stream_with(call_ws, |_: &CallHandle| {})
    }

    /// As [`bridge_stream`](Self::bridge_stream), handing `on_start` the call's
    /// [`CallHandle`] before anything is relayed (keep it to act on the call from elsewhere;
    /// [`calls`](Self::calls) finds it too).
    ///
    /// The call is registered (and `on_start` runs) when this is called; the bridge runs
    /// when the future is polled. Not an `async fn` on purpose: an `async fn` would keep its
    /// own copy of `call_ws` in the future for the whole call (measured: +2.3 KB per call).
    pub fn bridge_stream_with<S, E, O>(
        &self,
        call_ws: S,
        on_start: O,
    ) -> impl Future<Output = EndSummary> + use<S, E, O, F, C, R, Rt>
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
        <S as Sink<Message>>::Error: 'static,
        E: 'static,
        O: FnOnce(&CallHandle),
    {
        let (c, r) = (self.factory)();
        let live = self.calls.register(self.config.remote_url());
        on_start(live.handle());
        #[cfg(feature = "tracing")]
        let span = live.span().clone();
        let mut bridge = Bridge::new(self.config.clone(), c, r);
        if self.calls.is_draining() {
            bridge.handle_refused(Instant::now());
        }
        let readers = Readers::new(live.wake_slot());
        let driver = Driver::<S, C, R, Rt> {
            bridge,
            live,
            began: Instant::now(),
            teler: call_ws,
            remote: RemoteSlot::Idle,
            out: [Outgoing::default(), Outgoing::default()],
            closes: [None, None],
            teler_first: true,
            readers,
            ws_config: self.websocket_config(),
            tls: self.tls.clone(),
            on_event: self.on_event.clone(),
        };
        #[cfg(feature = "tracing")]
        return tracing::Instrument::instrument(driver.run(), span);
        #[cfg(not(feature = "tracing"))]
        driver.run()
    }
}

enum RemoteSlot<Rt: Runtime> {
    Idle,
    Connecting(Connecting<Rt>),
    Open(Box<RemoteWs<Rt>>),
}

enum Wake<E, Rt: Runtime> {
    Teler(Option<Result<Message, E>>),
    Remote(Option<Result<Message, tungstenite::Error>>),
    Connected(Result<Box<RemoteWs<Rt>>, String>),
    FlushFailed(Side),
    Timeout,
    Command,
}

/// Frames for one side, waiting for its sink to be ready; bounded in bytes.
#[derive(Default)]
struct Outgoing {
    queue: VecDeque<Message>,
    bytes: usize,
    /// Frames were handed to the sink and not yet flushed.
    unflushed: bool,
}

impl Outgoing {
    /// Queues a frame; `false` if it does not fit in `max_bytes` (the frame is dropped).
    fn push(&mut self, msg: Message, max_bytes: usize) -> bool {
        let len = msg.len();
        if self.bytes + len > max_bytes {
            return false;
        }
        self.bytes += len;
        self.queue.push_back(msg);
        true
    }

    /// Hands the sink what it is ready to take and flushes; counts frames it refused with a
    /// full write buffer in `dropped`. `Err` when the sink is broken.
    fn pump<K>(&mut self, sink: &mut K, cx: &mut Context<'_>, dropped: &mut u64) -> Result<(), ()>
    where
        K: Sink<Message> + Unpin,
        K::Error: 'static,
    {
        while !self.queue.is_empty() {
            match sink.poll_ready_unpin(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(_)) => return Err(()),
                Poll::Ready(Ok(())) => {
                    let Some(msg) = self.queue.pop_front() else {
                        break;
                    };
                    self.bytes -= msg.len();
                    match sink.start_send_unpin(msg) {
                        Ok(()) => self.unflushed = true,
                        Err(e) if is_write_buffer_full(&e) => *dropped += 1,
                        Err(_) => return Err(()),
                    }
                }
            }
        }
        if self.unflushed {
            match sink.poll_flush_unpin(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Err(()),
                Poll::Pending => {}
            }
        }
        Ok(())
    }
}

/// A waker for one side's stream: notes that this side asked to be polled again, then
/// wakes the call's task. The loop polls a side's stream only when its flag is set, so a
/// frame on one socket does not cost a poll of the other's stream.
///
/// The task's waker sits in the call's [`WakeSlot`] (shared with the command queue), which a
/// wake-up does not use up: the loop registers it once, not on every poll.
struct SideWaker {
    ready: AtomicBool,
    task: WakeSlot,
}

impl WakeFn for SideWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// The two sides' stream wakers, and the task waker they (and the command queue) wake.
struct Readers {
    flags: [Arc<SideWaker>; 2],
    wakers: [Waker; 2],
    /// The task waker last put in the slot: a poll with the same one registers nothing.
    registered: Option<Waker>,
}

impl Readers {
    fn new(task: &WakeSlot) -> Readers {
        let flags = [(); 2].map(|_| {
            Arc::new(SideWaker {
                ready: AtomicBool::new(true),
                task: task.clone(),
            })
        });
        let wakers = [0, 1].map(|i| Waker::from(flags[i].clone()));
        Readers {
            flags,
            wakers,
            registered: None,
        }
    }

    /// Whether the side's stream is to be polled; clears the flag (a plain load first:
    /// most polls find it clear).
    fn take(&self, side: usize) -> bool {
        let ready = &self.flags[side].ready;
        ready.load(Ordering::Acquire) && ready.swap(false, Ordering::AcqRel)
    }

    fn set(&self, side: usize) {
        self.flags[side].ready.store(true, Ordering::Release);
    }
}

fn idx(side: Side) -> usize {
    match side {
        Side::Teler => 0,
        Side::Remote => 1,
    }
}

struct Driver<S, C, R, Rt: Runtime> {
    bridge: Bridge<C, R>,
    live: LiveCall,
    began: Instant,
    teler: S,
    remote: RemoteSlot<Rt>,
    /// Frames waiting for each side's sink.
    out: [Outgoing; 2],
    closes: [Option<CloseInfo>; 2],
    teler_first: bool,
    readers: Readers,
    ws_config: WebSocketConfig,
    tls: Option<Arc<ClientConfig>>,
    on_event: Option<EventHook>,
}

impl<S, E, C, R, Rt> Driver<S, C, R, Rt>
where
    Rt: Runtime,
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    <S as Sink<Message>>::Error: 'static,
    E: 'static,
    C: StreamHandler,
    R: StreamHandler,
{
    async fn run(mut self) -> EndSummary {
        self.bridge.handle_teler_connected(Instant::now());
        let mut timer = Rt::timer();
        loop {
            if let Some(summary) = self.execute() {
                // Boxed: the close phase's future is large and runs once; kept inline it
                // would be part of every call's future for the whole call (6.5 -> 3.5 KB).
                Box::pin(self.finish()).await;
                return summary;
            }
            timer.set(self.bridge.poll_timeout());
            let (wake, waited) = self.wait(&mut timer).await;
            if !waited {
                // Input was ready at once: let the runtime run other calls before handling
                // it, so a slow handler delays only its own call (by one frame at most).
                Rt::yield_now().await;
            }
            let now = Instant::now();
            self.feed(wake, now);
            self.live.publish(self.bridge.stats(), now);
        }
    }

    /// Carries out every pending output; returns the summary once the bridge has ended.
    fn execute(&mut self) -> Option<EndSummary> {
        while let Some(out) = self.bridge.poll_output() {
            match out {
                Output::ConnectRemote(req) => {
                    self.live.observer.dialing(Instant::now());
                    let fut = connect::<Rt>(req, self.ws_config, self.tls.clone());
                    self.remote = RemoteSlot::Connecting(Box::pin(fut));
                }
                Output::Send { side, frame } => {
                    let msg = match frame {
                        OutFrame::Text(t) => Message::text(t),
                        OutFrame::Binary(b) => Message::Binary(b.into()),
                        OutFrame::Ping(p) => Message::Ping(p.into()),
                    };
                    // Sent from `wait`, as soon as the sink is ready.
                    let open = side == Side::Teler || matches!(self.remote, RemoteSlot::Open(_));
                    let max = self.bridge.config().max_write_buffer_size();
                    if !(open && self.out[idx(side)].push(msg, max)) {
                        self.bridge.handle_send_dropped(side);
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
                        return Some(*summary);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn side_broke(&mut self, side: Side) {
        let now = Instant::now();
        match side {
            Side::Teler => self.bridge.handle_teler_closed(now, None),
            Side::Remote => {
                self.remote = RemoteSlot::Idle;
                self.bridge.handle_remote_closed(now, None);
            }
        }
    }

    /// Waits for the next thing that happens: a frame on either side, the remote's connect
    /// outcome, a flush failure, or the core's deadline. Also says whether it had to wait.
    async fn wait(&mut self, timer: &mut Rt::Timer) -> (Wake<E, Rt>, bool) {
        let teler_first = self.teler_first;
        self.teler_first = !teler_first;
        let mut polls = 0u32;
        let wake = poll_fn(|cx| {
            polls += 1;
            let mut dropped = [0u64; 2];
            let teler_ok = self.out[0].pump(&mut self.teler, cx, &mut dropped[0]);
            let remote_ok = match &mut self.remote {
                RemoteSlot::Open(ws) => self.out[1].pump(&mut **ws, cx, &mut dropped[1]),
                _ => Ok(()),
            };
            for (side, n) in [(Side::Teler, dropped[0]), (Side::Remote, dropped[1])] {
                for _ in 0..n {
                    self.bridge.handle_send_dropped(side);
                }
            }
            if teler_ok.is_err() {
                return Poll::Ready(Wake::FlushFailed(Side::Teler));
            }
            if remote_ok.is_err() {
                return Poll::Ready(Wake::FlushFailed(Side::Remote));
            }
            if let RemoteSlot::Connecting(fut) = &mut self.remote
                && let Poll::Ready(r) = fut.poll_unpin(cx)
            {
                return Poll::Ready(Wake::Connected(r));
            }
            // The task's waker, for the command queue and both sides' streams: registered
            // before the checks below, so nothing that arrives in between is missed; once per
            // task, since a wake-up does not use it up.
            let readers = &mut self.readers;
            if !readers
                .registered
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                self.live.set_waker(cx.waker());
                readers.registered = Some(cx.waker().clone());
            }
            if self.live.has_commands() {
                return Poll::Ready(Wake::Command);
            }
            let readers = &self.readers;
            for turn in 0..2 {
                if (turn == 0) == teler_first {
                    if readers.take(0) {
                        let mut rcx = Context::from_waker(&readers.wakers[0]);
                        if let Poll::Ready(m) = self.teler.poll_next_unpin(&mut rcx) {
                            readers.set(0); // more may be buffered
                            return Poll::Ready(Wake::Teler(m));
                        }
                    }
                } else if let RemoteSlot::Open(ws) = &mut self.remote
                    && readers.take(1)
                {
                    let mut rcx = Context::from_waker(&readers.wakers[1]);
                    if let Poll::Ready(m) = ws.poll_next_unpin(&mut rcx) {
                        readers.set(1);
                        return Poll::Ready(Wake::Remote(m));
                    }
                }
            }
            if timer.poll_fired(cx) {
                return Poll::Ready(Wake::Timeout);
            }
            Poll::Pending
        })
        .await;
        (wake, polls > 1)
    }

    fn feed(&mut self, wake: Wake<E, Rt>, now: Instant) {
        let b = &mut self.bridge;
        let obs = &self.live.observer;
        match wake {
            Wake::Teler(Some(Ok(msg))) => match msg {
                Message::Close(cf) => b.handle_teler_closed(now, cf.map(close_info)),
                other => obs.timed(Side::Teler, other.len(), || {
                    feed_frame(&other, |f| b.handle_teler_frame(now, f))
                }),
            },
            Wake::Teler(Some(Err(e))) => match teler_io::read_failure(&e) {
                ReadFailure::Protocol(why) => b.handle_protocol_error(now, Side::Teler, why),
                ReadFailure::Closed => b.handle_teler_closed(now, None),
            },
            Wake::Teler(None) => b.handle_teler_closed(now, None),
            Wake::Remote(Some(Ok(msg))) => match msg {
                Message::Close(cf) => b.handle_remote_closed(now, cf.map(close_info)),
                other => obs.timed(Side::Remote, other.len(), || {
                    feed_frame(&other, |f| b.handle_remote_frame(now, f))
                }),
            },
            Wake::Remote(Some(Err(e))) => {
                self.remote = RemoteSlot::Idle;
                match teler_io::read_failure(&e) {
                    ReadFailure::Protocol(why) => b.handle_protocol_error(now, Side::Remote, why),
                    ReadFailure::Closed => b.handle_remote_closed(now, None),
                }
            }
            Wake::Remote(None) => {
                self.remote = RemoteSlot::Idle;
                b.handle_remote_closed(now, None);
            }
            Wake::Connected(Ok(ws)) => {
                self.remote = RemoteSlot::Open(ws);
                self.readers.set(1);
                b.handle_remote_connected(now);
            }
            Wake::Connected(Err(why)) => {
                self.remote = RemoteSlot::Idle;
                b.handle_remote_connect_failed(now, why);
            }
            Wake::FlushFailed(side) => self.side_broke(side),
            Wake::Timeout => b.handle_timeout(now),
            Wake::Command => {
                while let Some(cmd) = self.live.next_command() {
                    teler_io::live::apply(&mut self.bridge, now, cmd);
                }
            }
        }
    }

    /// Sends the close frames the core asked for, and lets both sockets finish their close
    /// handshakes, for at most [`CLOSE_TIMEOUT`].
    async fn finish(mut self) {
        let teler_close = self.closes[0].take();
        let remote_close = self.closes[1].take();
        let [teler_queue, remote_queue] = std::mem::take(&mut self.out).map(|o| o.queue);
        let remote = match std::mem::replace(&mut self.remote, RemoteSlot::Idle) {
            RemoteSlot::Open(ws) => Some(ws),
            _ => None,
        };
        let teler = &mut self.teler;
        let close_teler = async move {
            // What was queued goes out first: the agent's last words, then the close.
            for m in teler_queue {
                if teler.feed(m).await.is_err() {
                    break;
                }
            }
            if let Some(c) = teler_close {
                let _ = teler.send(Message::Close(Some(close_frame(c)))).await;
            }
            let _ = teler.close().await;
        };
        let close_remote = async move {
            if let Some(mut ws) = remote {
                for m in remote_queue {
                    if ws.feed(m).await.is_err() {
                        break;
                    }
                }
                if let Some(c) = remote_close {
                    let _ = ws.send(Message::Close(Some(close_frame(c)))).await;
                }
                let _ = SinkExt::close(&mut *ws).await;
            }
        };
        let closing = futures_util::future::join(close_teler, close_remote);
        let _ = crate::timeout::<Rt, _>(CLOSE_TIMEOUT, closing).await;
    }
}

/// Dials the remote: TCP (no Nagle: audio frames are small and latency-bound), TLS if
/// `wss://`, then the WebSocket handshake. The core bounds the whole of it with the
/// config's connect timeout.
async fn connect<Rt: Runtime>(
    req: RemoteConnect,
    config: WebSocketConfig,
    tls: Option<Arc<ClientConfig>>,
) -> Result<Box<RemoteWs<Rt>>, String> {
    use async_tungstenite::stream::Stream as Either;
    let (request, target) = teler_io::request(&req)?;
    let tcp = Rt::connect_tcp(&target.host, target.port)
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", target.host, target.port))?;
    let stream = if target.tls {
        let tls = tls
            .or_else(teler_io::default_tls)
            .ok_or("could not set up TLS")?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|e| format!("bad TLS server name {:?}: {e}", target.host))?;
        let tls = futures_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}: {e}", target.host))?;
        Either::Tls(tls)
    } else {
        Either::Plain(tcp)
    };
    async_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map(|(ws, _response)| Box::new(ws))
        .map_err(|e| e.to_string())
}
