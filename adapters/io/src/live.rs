//! Live calls, from outside the bridge: a [`CallHandle`] per call to act on it, a [`Calls`]
//! registry per connector to find one, and the drain state the server consults.
//!
//! The adapters' run loops hold a [`LiveCall`] (the driver's end of a handle): they serve its
//! command queue after every wake-up, publish the counters, and unregister the call when it
//! ends. Everything here is runtime-agnostic: a handle wakes the call's loop through a
//! [`Waker`] the loop installs (the async adapters' task waker; a socket-pair write for the
//! blocking adapter).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Instant, SystemTime};

use teler_core::media::{AppMessage, Command, CommandError, OutFrame, StartInfo, Stats};

/// Default bound of a call's command queue.
pub const DEFAULT_COMMAND_QUEUE: usize = 64;

/// Why a [`CallHandle`] could not queue a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The call has ended.
    #[error("the call has ended")]
    Ended,
    /// The call's command queue is full (its loop is behind): try again shortly.
    #[error(
        "the call's command queue is full ({DEFAULT_COMMAND_QUEUE} commands wait for its loop): retry shortly"
    )]
    QueueFull,
    /// The command itself is invalid (text for Teler that is not a JSON object, …).
    #[error(transparent)]
    Invalid(#[from] CommandError),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A task's waker, kept until replaced: waking it does not use it up (unlike an
/// `AtomicWaker`), so a loop whose task keeps one waker registers it once per task instead of
/// on every poll. Cloning shares the slot.
///
/// Measured (bench/README, tokio, 20 ms frames): registering three `AtomicWaker`s on every
/// poll was 2.9% of the bridge's CPU; with this slot a poll registers nothing unless its
/// waker changed.
#[derive(Clone, Default)]
pub struct WakeSlot(Arc<Mutex<Option<Waker>>>);

impl WakeSlot {
    /// Keeps `waker` (a clone), unless the one kept already wakes the same task.
    pub fn register(&self, waker: &Waker) {
        let mut slot = lock(&self.0);
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Wakes the kept waker's task, if one was registered; the waker stays.
    pub fn wake(&self) {
        if let Some(w) = lock(&self.0).as_ref() {
            w.wake_by_ref();
        }
    }

    /// Forgets the kept waker.
    pub fn clear(&self) {
        let old = lock(&self.0).take();
        drop(old);
    }
}

impl fmt::Debug for WakeSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeSlot")
            .field("registered", &lock(&self.0).is_some())
            .finish()
    }
}

struct Shared {
    id: u64,
    since: SystemTime,
    cap: usize,
    commands: Mutex<VecDeque<Command>>,
    /// Set (under the queue's lock) while commands wait: the loop checks it with one load.
    pending: AtomicBool,
    waker: WakeSlot,
    stats: Mutex<Stats>,
    start: OnceLock<StartInfo>,
    app_id: OnceLock<String>,
    ended: AtomicBool,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// A live call, as the application sees it: cloneable, `Send + Sync`, cheap to keep.
///
/// Commands go through a bounded queue that the call's loop serves as soon as it is woken
/// (the handle wakes it), in order with the frames it relays. A handle outlives its call
/// harmlessly: once the call ends, sends fail with [`SendError::Ended`] and
/// [`stats`](Self::stats) keeps the final counters.
#[derive(Clone)]
pub struct CallHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallHandle")
            .field("id", &self.shared.id)
            .field("call_id", &self.call_id())
            .field("ended", &self.is_ended())
            .finish()
    }
}

impl CallHandle {
    /// This process's number for the call (unique per registry, from 1); Teler's ids come
    /// with `start` ([`call_id`](Self::call_id)).
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// When the bridge started (Teler's socket was accepted).
    pub fn since(&self) -> SystemTime {
        self.shared.since
    }

    /// The `start` metadata, once Teler sent it.
    pub fn start_info(&self) -> Option<&StartInfo> {
        self.shared.start.get()
    }

    /// Tags the call with your own id for it, once (e.g. the REST call id from the flow
    /// request, or the subject of the media token the socket presented: Teler's socket
    /// `call_id` can differ in form from the REST one), so [`Calls::by_app_id`] finds it and
    /// the `teler.call` span shows it as `app_id`. A second call does nothing and returns
    /// `false`.
    pub fn set_app_id(&self, id: impl Into<String>) -> bool {
        let id = id.into();
        #[cfg(feature = "tracing")]
        self.shared.span.record("app_id", id.as_str());
        self.shared.app_id.set(id).is_ok()
    }

    /// The id set with [`set_app_id`](Self::set_app_id).
    pub fn app_id(&self) -> Option<&str> {
        self.shared.app_id.get().map(String::as_str)
    }

    /// Teler's `call_id`, once `start` came.
    pub fn call_id(&self) -> Option<&str> {
        self.start_info()?.call_id.as_deref()
    }

    /// Teler's `stream_id`, once `start` came.
    pub fn stream_id(&self) -> Option<&str> {
        self.start_info()?.stream_id.as_deref()
    }

    /// The counters, as of the loop's last turn (final once the call ended).
    pub fn stats(&self) -> Stats {
        *lock(&self.shared.stats)
    }

    /// Whether the call has ended.
    pub fn is_ended(&self) -> bool {
        self.shared.ended.load(Ordering::Acquire)
    }

    /// Queues a command for the call's loop and wakes it.
    ///
    /// # Errors
    /// [`SendError::Ended`] once the call is over, [`SendError::QueueFull`] when
    /// [`DEFAULT_COMMAND_QUEUE`] commands wait, [`SendError::Invalid`] for text for Teler
    /// that is not a JSON object (checked here, so the caller learns of it).
    pub fn send(&self, command: Command) -> Result<(), SendError> {
        if let Command::SendToTeler(text) = &command {
            Command::to_teler_json(text.as_str())?;
        }
        {
            // The end is marked under this lock too, so nothing is queued after it.
            let mut q = lock(&self.shared.commands);
            if self.is_ended() {
                return Err(SendError::Ended);
            }
            if q.len() >= self.shared.cap {
                return Err(SendError::QueueFull);
            }
            q.push_back(command);
            self.shared.pending.store(true, Ordering::Release);
        }
        self.shared.waker.wake();
        Ok(())
    }

    /// Sends Teler an app message (`audio`, `clear`, `interrupt`).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_to_teler(&self, message: &AppMessage<'_>) -> Result<(), SendError> {
        self.send(Command::to_teler(message))
    }

    /// Tells Teler to drop the audio it holds for playback (barge-in).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn clear(&self) -> Result<(), SendError> {
        self.send_to_teler(&AppMessage::Clear)
    }

    /// Sends the remote (the agent) a text frame.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_to_remote(&self, text: impl Into<String>) -> Result<(), SendError> {
        self.send(Command::to_remote(text))
    }

    /// Sends the remote a binary frame.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_binary_to_remote(&self, data: Vec<u8>) -> Result<(), SendError> {
        self.send(Command::SendToRemote(OutFrame::Binary(data)))
    }

    /// Ends the call's bridge: both sides are closed with 1000 and the summary's reason is
    /// `StoppedByApp`. To end the phone call too, hang it up through the REST API **first**:
    /// once the media stream closes, Teler may end the call itself, and a later REST hang-up
    /// then answers 409.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn stop(&self, reason: impl Into<String>) -> Result<(), SendError> {
        self.send(Command::stop(reason))
    }

    /// Records the caller's and callee's numbers on the call's `teler.call` span (Teler's
    /// `start` does not carry them; your flow webhook does). Does nothing without the
    /// `tracing` feature.
    pub fn record_numbers(&self, from: &str, to: &str) {
        #[cfg(feature = "tracing")]
        {
            self.shared.span.record("from", from);
            self.shared.span.record("to", to);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (from, to);
    }
}

struct Registry {
    next: AtomicU64,
    live: Mutex<Vec<CallHandle>>,
    draining: AtomicBool,
    changed: event_listener::Event,
    queue_cap: usize,
}

/// The live calls of one connector: list them, find one by Teler's ids, and the drain
/// flag the server checks before each upgrade. Cloning shares the registry.
#[derive(Clone)]
pub struct Calls {
    inner: Arc<Registry>,
}

impl Default for Calls {
    fn default() -> Self {
        Calls::new()
    }
}

impl fmt::Debug for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calls")
            .field("live", &self.len())
            .field("draining", &self.is_draining())
            .finish()
    }
}

impl Calls {
    /// An empty registry.
    pub fn new() -> Calls {
        Calls {
            inner: Arc::new(Registry {
                next: AtomicU64::new(1),
                live: Mutex::new(Vec::new()),
                draining: AtomicBool::new(false),
                changed: event_listener::Event::new(),
                queue_cap: DEFAULT_COMMAND_QUEUE,
            }),
        }
    }

    /// Every live call, oldest first.
    pub fn list(&self) -> Vec<CallHandle> {
        lock(&self.inner.live).clone()
    }

    /// How many calls are live.
    pub fn len(&self) -> usize {
        lock(&self.inner.live).len()
    }

    /// Whether no call is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live call with this Teler `call_id` (known once its `start` came).
    pub fn by_call_id(&self, call_id: &str) -> Option<CallHandle> {
        self.find(|h| h.call_id() == Some(call_id))
    }

    /// The live call tagged with this id ([`CallHandle::set_app_id`]).
    pub fn by_app_id(&self, id: &str) -> Option<CallHandle> {
        self.find(|h| h.app_id() == Some(id))
    }

    /// The live call with this Teler `stream_id`.
    pub fn by_stream_id(&self, stream_id: &str) -> Option<CallHandle> {
        self.find(|h| h.stream_id() == Some(stream_id))
    }

    /// The live call with this process-local [`CallHandle::id`].
    pub fn by_id(&self, id: u64) -> Option<CallHandle> {
        self.find(|h| h.id() == id)
    }

    fn find(&self, f: impl Fn(&CallHandle) -> bool) -> Option<CallHandle> {
        lock(&self.inner.live).iter().find(|h| f(h)).cloned()
    }

    /// Whether a drain has begun: new media streams are refused.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Begins a drain: from now on the servers refuse new media streams (503 with
    /// `Retry-After`) and bridges started anyway end at once with `EndReason::Refused`.
    /// The adapters' `drain(deadline)` calls this, waits, then [`go_away`](Self::go_away)s.
    pub fn begin_drain(&self) {
        self.inner.draining.store(true, Ordering::Release);
        self.inner.changed.notify(usize::MAX);
    }

    /// Sends every live call away ([`Command::GoAway`]: both sides closed with 1001);
    /// returns how many were told.
    pub fn go_away(&self) -> usize {
        self.list()
            .iter()
            .filter(|h| h.send(Command::GoAway).is_ok())
            .count()
    }

    /// A listener that fires when a call ends or a drain begins: check the state, then
    /// wait on it (as a future, or with `wait_deadline` on a thread).
    pub fn changed(&self) -> event_listener::EventListener {
        self.inner.changed.listen()
    }

    /// Registers a call that is starting, for its run loop.
    pub fn register(&self, remote_url: &str) -> LiveCall {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            id,
            since: SystemTime::now(),
            cap: self.inner.queue_cap,
            commands: Mutex::new(VecDeque::new()),
            pending: AtomicBool::new(false),
            waker: WakeSlot::default(),
            stats: Mutex::new(Stats::default()),
            start: OnceLock::new(),
            app_id: OnceLock::new(),
            ended: AtomicBool::new(false),
            #[cfg(feature = "tracing")]
            span: crate::observe::call_span(id, remote_url),
        });
        #[cfg(not(feature = "tracing"))]
        let _ = remote_url;
        let handle = CallHandle { shared };
        lock(&self.inner.live).push(handle.clone());
        LiveCall {
            handle,
            calls: self.clone(),
            observer: crate::observe::Observer::new(),
        }
    }
}

/// The run loop's end of a [`CallHandle`]: commands to serve, counters to publish, and the
/// call's logs and metrics ([`crate::observe`]). Dropping it ends the call for its handles
/// and removes it from the registry.
pub struct LiveCall {
    handle: CallHandle,
    calls: Calls,
    /// The call's log and metrics state.
    pub observer: crate::observe::Observer,
}

impl fmt::Debug for LiveCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCall")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl LiveCall {
    /// The application's handle to this call.
    pub fn handle(&self) -> &CallHandle {
        &self.handle
    }

    /// Installs the waker a handle wakes after queueing a command. It stays until replaced
    /// (a wake-up does not use it up), so a loop installs it once, and again only if its
    /// task's waker changes. Install it before the first look at
    /// [`has_commands`](Self::has_commands), so no wake-up is lost.
    pub fn set_waker(&self, waker: &Waker) {
        self.handle.shared.waker.register(waker);
    }

    /// The slot holding the waker of [`set_waker`](Self::set_waker), for the loop's own
    /// wakers to share (the async loop's per-side stream wakers wake the same task).
    pub fn wake_slot(&self) -> &WakeSlot {
        &self.handle.shared.waker
    }

    /// Takes the next queued command.
    pub fn next_command(&self) -> Option<Command> {
        if !self.has_commands() {
            return None;
        }
        let mut q = lock(&self.handle.shared.commands);
        let c = q.pop_front();
        if q.is_empty() {
            self.handle.shared.pending.store(false, Ordering::Release);
        }
        c
    }

    /// Whether a command waits (one atomic load).
    #[inline]
    pub fn has_commands(&self) -> bool {
        self.handle.shared.pending.load(Ordering::Acquire)
    }

    /// Publishes the counters for the handles, and lets the observer turn what changed into
    /// metrics and (rate-limited) warnings. Call it once per loop turn.
    pub fn publish(&mut self, stats: Stats, now: Instant) {
        *lock(&self.handle.shared.stats) = stats;
        self.observer.on_stats(&stats, now);
    }

    /// Records Teler's `start` (handles can then be found by its ids).
    pub fn started(&self, info: &StartInfo) {
        let _ = self.handle.shared.start.set(info.clone());
        #[cfg(feature = "tracing")]
        crate::observe::record_start(&self.handle.shared.span, info);
    }

    /// The call's `teler.call` span, for the loop to run in.
    #[cfg(feature = "tracing")]
    pub fn span(&self) -> &tracing::Span {
        &self.handle.shared.span
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        {
            let mut q = lock(&self.handle.shared.commands);
            self.handle.shared.ended.store(true, Ordering::Release);
            q.clear();
        }
        self.handle.shared.pending.store(false, Ordering::Release);
        self.handle.shared.waker.clear();
        let id = self.handle.shared.id;
        lock(&self.calls.inner.live).retain(|h| h.id() != id);
        self.calls.inner.changed.notify(usize::MAX);
    }
}

/// What a drain did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainReport {
    /// Calls live when the drain began.
    pub live_at_start: usize,
    /// Calls still live at the deadline, sent away with 1001 "going away".
    pub sent_away: usize,
    /// Calls still live when the drain gave up waiting for them to close (0 unless a peer
    /// or handler kept a loop from closing within the grace period).
    pub still_live: usize,
}

/// The drain, for an async runtime: begins it, waits (woken by each call's end, not by
/// polling) until no call is live or `deadline` passes, sends the rest away, and waits up
/// to `grace` more for them to close. `sleep` is the runtime's timer.
pub async fn drain_async<S, Fut>(
    calls: &Calls,
    deadline: Instant,
    grace: std::time::Duration,
    sleep: S,
) -> DrainReport
where
    S: Fn(std::time::Duration) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    async fn settle<S, Fut>(calls: &Calls, until: Instant, sleep: &S) -> bool
    where
        S: Fn(std::time::Duration) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        use std::future::Future;
        use std::pin::{Pin, pin};
        use std::task::Poll;
        loop {
            let mut listener = calls.changed();
            if calls.is_empty() {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            let mut nap = pin!(sleep(until - now));
            std::future::poll_fn(|cx| {
                if Pin::new(&mut listener).poll(cx).is_ready() || nap.as_mut().poll(cx).is_ready() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }
    calls.begin_drain();
    let mut report = DrainReport {
        live_at_start: calls.len(),
        ..DrainReport::default()
    };
    if !settle(calls, deadline, &sleep).await {
        report.sent_away = calls.go_away();
        settle(calls, Instant::now() + grace, &sleep).await;
    }
    report.still_live = calls.len();
    report
}

/// The drain, blocking the calling thread: as [`drain_async`].
pub fn drain_blocking(calls: &Calls, deadline: Instant, grace: std::time::Duration) -> DrainReport {
    fn settle(calls: &Calls, until: Instant) -> bool {
        loop {
            let listener = calls.changed();
            if calls.is_empty() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            event_listener::Listener::wait_deadline(listener, until);
        }
    }
    calls.begin_drain();
    let mut report = DrainReport {
        live_at_start: calls.len(),
        ..DrainReport::default()
    };
    if !settle(calls, deadline) {
        report.sent_away = calls.go_away();
        settle(calls, Instant::now() + grace);
    }
    report.still_live = calls.len();
    report
}

/// Carries out one command on the bridge; a command the core refuses (the call ended in
/// between, a frame over the limit) is logged, not lost silently.
pub fn apply<C, R>(bridge: &mut teler_core::media::Bridge<C, R>, now: Instant, command: Command)
where
    C: teler_core::media::StreamHandler,
    R: teler_core::media::StreamHandler,
{
    if let Err(e) = bridge.handle_command(now, command) {
        #[cfg(feature = "tracing")]
        tracing::warn!(error = %e, "command not carried out");
        #[cfg(not(feature = "tracing"))]
        let _ = e;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use teler_core::media::{MediaFormat, Stats};

    fn start(call: &str, stream: &str) -> StartInfo {
        StartInfo {
            account_id: None,
            call_app_id: None,
            call_id: Some(call.into()),
            stream_id: Some(stream.into()),
            message_id: None,
            format: MediaFormat::default(),
        }
    }

    #[test]
    fn the_queue_holds_exactly_its_bound_then_refuses() {
        let calls = Calls::new();
        let live = calls.register("ws://agent");
        let h = live.handle().clone();
        for i in 0..DEFAULT_COMMAND_QUEUE {
            h.send_to_remote(i.to_string()).unwrap();
        }
        assert_eq!(h.send_to_remote("one more"), Err(SendError::QueueFull));
        assert!(live.has_commands());
        let mut n = 0;
        while let Some(c) = live.next_command() {
            assert_eq!(c, Command::to_remote(n.to_string()), "in order");
            n += 1;
        }
        assert_eq!(n, DEFAULT_COMMAND_QUEUE);
        assert!(!live.has_commands());
        h.clear().unwrap();
        assert!(live.has_commands(), "room again once served");
    }

    #[test]
    fn invalid_text_for_teler_is_refused_at_the_handle() {
        let calls = Calls::new();
        let live = calls.register("ws://agent");
        let r = live.handle().send(Command::SendToTeler("[]".into()));
        assert!(matches!(r, Err(SendError::Invalid(_))));
        assert!(!live.has_commands());
    }

    #[test]
    fn a_registered_waker_stays_for_every_command() {
        use std::sync::atomic::AtomicUsize;
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let calls = Calls::new();
        let live = calls.register("ws://agent");
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        live.set_waker(&waker);
        live.handle().clear().unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        live.handle().clear().unwrap();
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            2,
            "a wake-up does not use the waker up"
        );
        // Registering the same task's waker again keeps the one there; another replaces it.
        live.set_waker(&waker.clone());
        live.handle().clear().unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
        let other = Arc::new(Count(AtomicUsize::new(0)));
        live.set_waker(&Waker::from(other.clone()));
        live.handle().clear().unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
        assert_eq!(other.0.load(Ordering::SeqCst), 1);
        // The call's end forgets it: nothing is woken after.
        let slot = live.wake_slot().clone();
        drop(live);
        slot.wake();
        assert_eq!(other.0.load(Ordering::SeqCst), 1);
        assert!(format!("{slot:?}").contains("registered: false"));
    }

    #[test]
    fn the_registry_finds_calls_and_forgets_them_when_they_end() {
        let calls = Calls::new();
        assert!(calls.is_empty());
        let a = calls.register("ws://agent");
        let mut b = calls.register("ws://agent");
        assert_eq!(calls.len(), 2);
        assert_ne!(a.handle().id(), b.handle().id());
        assert!(calls.by_call_id("cs_b").is_none(), "unknown before start");
        b.started(&start("cs_b", "st_b"));
        assert!(b.handle().set_app_id("rest-b"));
        assert!(!b.handle().set_app_id("again"), "set once");
        assert_eq!(
            calls.by_app_id("rest-b").map(|h| h.id()),
            Some(b.handle().id())
        );
        assert!(calls.by_app_id("again").is_none());
        assert_eq!(
            calls.by_call_id("cs_b").map(|h| h.id()),
            Some(b.handle().id())
        );
        assert_eq!(
            calls.by_stream_id("st_b").map(|h| h.id()),
            Some(b.handle().id())
        );
        assert_eq!(
            calls.by_id(a.handle().id()).map(|h| h.id()),
            Some(a.handle().id())
        );
        assert_eq!(calls.list().len(), 2);
        let mut stats = Stats::default();
        stats.from_teler.frames_in = 7;
        b.publish(stats, Instant::now());
        let kept = b.handle().clone();
        assert_eq!(kept.stats().from_teler.frames_in, 7);
        kept.clear().unwrap();
        drop(b);
        assert_eq!(calls.len(), 1);
        assert!(calls.by_call_id("cs_b").is_none());
        assert!(kept.is_ended());
        assert_eq!(kept.clear(), Err(SendError::Ended));
        assert_eq!(kept.stats().from_teler.frames_in, 7, "final counters kept");
        drop(a);
        assert!(calls.is_empty());
    }

    #[test]
    fn a_drain_with_no_calls_returns_at_once_and_go_away_tells_each_live_call() {
        let calls = Calls::new();
        assert!(!calls.is_draining());
        let report = drain_blocking(
            &calls,
            Instant::now() + Duration::from_secs(3600),
            Duration::ZERO,
        );
        assert_eq!(report, DrainReport::default());
        assert!(calls.is_draining());
        let a = calls.register("ws://agent");
        let b = calls.register("ws://agent");
        assert_eq!(calls.go_away(), 2);
        for l in [&a, &b] {
            assert_eq!(l.next_command(), Some(Command::GoAway));
        }
    }

    #[test]
    fn a_drain_waits_for_the_last_call_then_reports_it() {
        let calls = Calls::new();
        let live = calls.register("ws://agent");
        let c = calls.clone();
        let drain = std::thread::spawn(move || {
            drain_blocking(
                &c,
                Instant::now() + Duration::from_secs(3600),
                Duration::ZERO,
            )
        });
        // Synchronise on the drain having begun, then end the call.
        while !calls.is_draining() {
            std::thread::yield_now();
        }
        drop(live);
        let report = drain.join().unwrap();
        assert_eq!(report.sent_away, 0);
        assert_eq!(report.still_live, 0);
    }

    #[test]
    fn past_the_deadline_a_drain_sends_calls_away_and_counts_those_that_stay() {
        let calls = Calls::new();
        let live = calls.register("ws://agent");
        // Nobody serves this call's queue: it stays live through the grace period.
        let report = drain_blocking(&calls, Instant::now(), Duration::from_millis(1));
        assert_eq!(
            report,
            DrainReport {
                live_at_start: 1,
                sent_away: 1,
                still_live: 1
            }
        );
        assert_eq!(live.next_command(), Some(Command::GoAway));
    }

    /// Runs a future on this thread (the tests' executor: teler-io has no runtime).
    fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    /// A timer for the tests: a thread wakes the task after `d`.
    fn sleep(d: Duration) -> impl std::future::Future<Output = ()> {
        let done = Arc::new(AtomicBool::new(false));
        let mut started = false;
        std::future::poll_fn(move |cx| {
            if done.load(Ordering::Acquire) {
                return std::task::Poll::Ready(());
            }
            if !started {
                started = true;
                let (done, waker) = (done.clone(), cx.waker().clone());
                std::thread::spawn(move || {
                    std::thread::sleep(d);
                    done.store(true, Ordering::Release);
                    waker.wake();
                });
            }
            std::task::Poll::Pending
        })
    }

    /// Serves a call's queue on a thread: ends the call when it is sent away.
    fn obeying(live: LiveCall) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            loop {
                if live.next_command() == Some(Command::GoAway) {
                    return;
                }
                std::thread::yield_now();
            }
        })
    }

    #[test]
    fn the_async_drain_waits_for_calls_to_end_and_sends_the_rest_away() {
        // No calls: at once.
        let calls = Calls::new();
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(
            block_on(drain_async(&calls, far, Duration::ZERO, sleep)),
            DrainReport::default()
        );
        assert!(calls.is_draining());

        // A call that ends by itself before the deadline: woken by its end, not sent away.
        let calls = Calls::new();
        let live = calls.register("ws://agent");
        let c = calls.clone();
        let ender = std::thread::spawn(move || {
            while !c.is_draining() {
                std::thread::yield_now();
            }
            drop(live);
        });
        let report = block_on(drain_async(&calls, far, Duration::ZERO, sleep));
        ender.join().unwrap();
        assert_eq!((report.sent_away, report.still_live), (0, 0));

        // Past the deadline: sent away; one call obeys within the grace, one never does.
        let calls = Calls::new();
        let obeys = obeying(calls.register("ws://agent"));
        let stuck = calls.register("ws://agent");
        let report = block_on(drain_async(
            &calls,
            Instant::now(),
            Duration::from_millis(300),
            sleep,
        ));
        obeys.join().unwrap();
        assert_eq!(
            report,
            DrainReport {
                live_at_start: 2,
                sent_away: 2,
                still_live: 1
            }
        );
        assert_eq!(stuck.next_command(), Some(Command::GoAway));
    }

    #[test]
    fn the_blocking_drain_gives_sent_away_calls_the_grace_to_close() {
        let calls = Calls::new();
        let obeys = obeying(calls.register("ws://agent"));
        let report = drain_blocking(&calls, Instant::now(), Duration::from_secs(3600));
        obeys.join().unwrap();
        assert_eq!((report.sent_away, report.still_live), (1, 0));
    }

    #[test]
    fn handles_queue_what_they_say_and_debug_output_names_the_call() {
        let calls = Calls::new();
        let mut live = calls.register("wss://agent.example/x?token=secret");
        let h = live.handle().clone();
        h.stop("bye").unwrap();
        h.send_binary_to_remote(vec![1, 2]).unwrap();
        h.send_to_teler(&AppMessage::Interrupt { chunk_id: 3 })
            .unwrap();
        assert_eq!(live.next_command(), Some(Command::stop("bye")));
        assert_eq!(
            live.next_command(),
            Some(Command::SendToRemote(OutFrame::Binary(vec![1, 2])))
        );
        assert_eq!(
            live.next_command(),
            Some(Command::SendToTeler(
                r#"{"type":"interrupt","chunk_id":3}"#.into()
            ))
        );
        live.started(&start("cs_dbg", "st_dbg"));
        live.publish(Stats::default(), Instant::now());
        let all = format!("{h:?} {calls:?} {live:?}");
        assert!(all.contains("cs_dbg") && all.contains("live: 1"), "{all}");
        assert!(!all.contains("secret"), "{all}");
    }

    #[test]
    fn apply_carries_a_command_into_the_bridge() {
        use teler_core::media::{Bridge, BridgeConfig, Output, relay};
        let cfg = BridgeConfig::builder("ws://agent").build().unwrap();
        let mut b = Bridge::new(cfg, relay(), relay());
        let now = Instant::now();
        apply(&mut b, now, Command::to_teler(&AppMessage::Clear));
        assert!(matches!(
            b.poll_output(),
            Some(Output::Send { frame: OutFrame::Text(t), .. }) if t == r#"{"type":"clear"}"#
        ));
        // A refused command is logged, not a panic.
        apply(&mut b, now, Command::SendToTeler("x".into()));
        assert_eq!(b.stats().app_to_teler, 1);
    }

    #[test]
    fn the_remote_host_is_all_a_log_gets_of_the_url() {
        assert_eq!(
            crate::remote_host("wss://user:pw@api.example.com:8443/v1/x?token=secret"),
            "api.example.com"
        );
        assert_eq!(crate::remote_host("not a url"), "(unparsable URL)");
    }
}
