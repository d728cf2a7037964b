//! A fleet of bridge instances sharing state on Redis (feature `redis`), on std threads of
//! its own, so it serves every adapter alike (re-exported as `teler_ADAPTER::fleet`).
//!
//! [`RedisFleet`] gives one instance what a single process keeps in memory, shared with the
//! others through one Redis:
//!
//! - **remember-once** ([`RedisFleet::remember_once`]): `SET key 1 NX PX ttl`, for webhook
//!   event ids and single-use media tokens (`MediaTokens::fleet` in the server block), with the failure
//!   policies of [`teler_core::fleet::verdict`]: dedupe fails open, token checks fail closed;
//!   both are counted ([`FleetCounters`]).
//! - **a live-call directory**: `call id -> instance`, each entry with a heartbeat TTL, so a
//!   dead instance's calls disappear from it ([`RedisFleet::locate`]).
//! - **a command bus** ([`RedisFleet::send_command`]): a command for call `cs_123` issued on
//!   any instance is published on the bus channel of the instance that bridges the call,
//!   carried out there through its [`CallHandle`](crate::CallHandle), and answered with an
//!   [`Outcome`] on the sender's channel.
//!
//! The bus is Redis **pub/sub**, not streams: a command is only worth delivering while its
//! sender waits for the answer (a `hangup` replayed a minute later, after a reconnect, would
//! be wrong), and pub/sub has no backlog to trim. The sender learns of a lost message by its
//! timeout.
//!
//! [`RedisFleet::serve`] starts the two threads an instance runs: the bus listener and the
//! heartbeat (registers a call as soon as its `start` arrives, refreshes every entry a third
//! of the TTL, removes its ended calls). Every Redis operation has a timeout (default
//! 250 ms); a broken connection is dropped and made again on the next operation. Media never
//! waits on Redis: nothing here runs on a call's thread except the token check, which runs
//! once per handshake, before the upgrade, within its timeout.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::{Calls, SendError};
/// The pure half ([`teler_core::fleet`]): keys, messages, policies, the in-memory store.
pub use teler_core::fleet::*;

use teler_core::media::Command;

/// Default timeout of one Redis operation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a thread waits before reconnecting after Redis failed.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(200);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn store_error(e: &redis::RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout
    } else {
        StoreError::Unavailable(e.to_string())
    }
}

/// What the failure policies did, since the fleet was made. With the `metrics` feature each
/// count is also a counter: `teler_fleet_webhooks_unchecked_total`,
/// `teler_fleet_tokens_refused_unchecked_total`, `teler_fleet_store_errors_total`.
#[derive(Debug, Default)]
pub struct FleetCounters {
    /// Webhook deliveries processed unchecked because Redis could not answer (fail open).
    pub webhooks_unchecked: AtomicU64,
    /// Media tokens refused because Redis could not answer (fail closed).
    pub tokens_refused_unchecked: AtomicU64,
    /// Redis operations that failed (timeouts, connection errors).
    pub store_errors: AtomicU64,
}

impl FleetCounters {
    /// Counts one failed Redis operation.
    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("teler_fleet_store_errors_total").increment(1);
    }

    /// Counts what the failure policy did with `verdict` (nothing for a checked answer), with
    /// a warning.
    pub fn policy(&self, verdict: Verdict) {
        match verdict {
            Verdict::AcceptUnchecked => {
                self.webhooks_unchecked.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "metrics")]
                metrics::counter!("teler_fleet_webhooks_unchecked_total").increment(1);
                #[cfg(feature = "tracing")]
                tracing::warn!("webhook dedupe unavailable: delivery processed unchecked");
            }
            Verdict::Refuse => {
                self.tokens_refused_unchecked
                    .fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "metrics")]
                metrics::counter!("teler_fleet_tokens_refused_unchecked_total").increment(1);
                #[cfg(feature = "tracing")]
                tracing::warn!("token store unavailable: media token refused");
            }
            Verdict::Accept | Verdict::Duplicate => {}
        }
    }
}

/// One instance's view of the fleet's shared state on Redis (see the [module docs](self)).
pub struct RedisFleet {
    client: redis::Client,
    instance: InstanceId,
    keys: Keys,
    timeout: Duration,
    heartbeat_ttl: Duration,
    conn: Mutex<Option<redis::Connection>>,
    pending: shared::Pending,
    counters: FleetCounters,
}

impl fmt::Debug for RedisFleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: not shown.
        f.debug_struct("RedisFleet")
            .field("instance", &self.instance)
            .field("keys", &self.keys)
            .field("timeout", &self.timeout)
            .field("heartbeat_ttl", &self.heartbeat_ttl)
            .finish_non_exhaustive()
    }
}

impl RedisFleet {
    /// A fleet member named `instance` on the Redis at `url` (`redis://host:port/db`, with
    /// a password if any). Nothing is connected yet.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] for a URL the client does not take.
    pub fn new(url: &str, instance: InstanceId) -> Result<Self, StoreError> {
        let client = shared::client(url)?;
        Ok(RedisFleet {
            client,
            instance,
            keys: Keys::default(),
            timeout: DEFAULT_TIMEOUT,
            heartbeat_ttl: teler_core::fleet::DEFAULT_HEARTBEAT_TTL,
            conn: Mutex::new(None),
            pending: shared::Pending::default(),
            counters: FleetCounters::default(),
        })
    }

    /// Uses these key names (another prefix to share one Redis between fleets).
    pub fn keys(mut self, keys: Keys) -> Self {
        self.keys = keys;
        self
    }

    /// The timeout of each Redis operation (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t.max(Duration::from_millis(1));
        self
    }

    /// How long a call's directory entry lives without a heartbeat (default 15 s; refreshed
    /// every third of it).
    pub fn heartbeat_ttl(mut self, ttl: Duration) -> Self {
        self.heartbeat_ttl = ttl.max(Duration::from_millis(30));
        self
    }

    /// This instance's id.
    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    /// What the failure policies did.
    pub fn counters(&self) -> &FleetCounters {
        &self.counters
    }

    /// Runs `op` on the shared connection, connecting first if needed; a failed operation
    /// drops the connection, so the next one reconnects.
    fn with<T>(
        &self,
        op: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.conn);
        if slot.is_none() {
            let c = self
                .client
                .get_connection_with_timeout(self.timeout)
                .and_then(|c| {
                    c.set_read_timeout(Some(self.timeout))?;
                    c.set_write_timeout(Some(self.timeout))?;
                    Ok(c)
                });
            match c {
                Ok(c) => *slot = Some(c),
                Err(e) => {
                    self.counters.store_error();
                    return Err(store_error(&e));
                }
            }
        }
        let Some(conn) = slot.as_mut() else {
            return Err(StoreError::Unavailable("no connection".into()));
        };
        op(conn).map_err(|e| {
            *slot = None;
            self.counters.store_error();
            store_error(&e)
        })
    }

    /// `Ok(true)` the first time `id` is seen fleet-wide within `ttl`, `Ok(false)` after
    /// (`SET NX PX`).
    ///
    /// # Errors
    /// [`StoreError`] when Redis cannot answer within the timeout.
    pub fn first_time(&self, kind: OnceKind, id: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let cmd = shared::set_once(&self.keys, kind, id, ttl);
        self.with(|c| cmd.query::<Option<String>>(c))
            .map(|set| set.is_some())
    }

    /// [`first_time`](Self::first_time) under the fleet's failure policy, counted: what to
    /// do with a webhook delivery or a media token.
    pub fn remember_once(&self, kind: OnceKind, id: &[u8], ttl: Duration) -> Verdict {
        let v = verdict(kind, self.first_time(kind, id, ttl));
        self.counters.policy(v);
        v
    }

    /// Which instance bridges `call_id`, if any (its directory entry, while heartbeats keep
    /// it alive).
    ///
    /// # Errors
    /// [`StoreError`] when Redis cannot answer.
    pub fn locate(&self, call_id: &str) -> Result<Option<InstanceId>, StoreError> {
        let cmd = redis::cmd("GET").arg(self.keys.call(call_id)).to_owned();
        let raw = self.with(|c| cmd.query::<Option<Vec<u8>>>(c))?;
        Ok(shared::entry_instance(raw, call_id))
    }

    fn register(&self, call_id: &str) -> Result<(), StoreError> {
        let cmd = shared::register(&self.keys, &self.instance, call_id, self.heartbeat_ttl);
        self.with(|c| cmd.query::<()>(c))
    }

    /// Removes a call's entry if this instance still owns it.
    fn unregister(&self, call_id: &str) -> Result<(), StoreError> {
        let script = shared::unregister(&self.keys, &self.instance, call_id);
        self.with(|c| script.invoke::<i64>(c)).map(|_| ())
    }

    /// Carries out `command` on call `call_id` wherever it is bridged, and says what
    /// happened: here, if this instance bridges it; otherwise through the bus, waiting at most
    /// `wait` for the answer (the instance's [`serve`](Self::serve) must be running to
    /// receive it).
    ///
    /// # Errors
    /// [`StoreError`] when Redis cannot answer, [`StoreError::Timeout`] when no answer came
    /// within `wait` (the command may still have been carried out).
    pub fn send_command(
        &self,
        local: &Calls,
        call_id: &str,
        command: Command,
        wait: Duration,
    ) -> Result<Outcome, StoreError> {
        if let Some(h) = local.by_call_id(call_id) {
            return Ok(shared::outcome_of(h.send(command)));
        }
        let Some(instance) = self.locate(call_id)? else {
            return Ok(Outcome::NotFound);
        };
        let request = match self
            .pending
            .request(&self.keys, &self.instance, call_id, &command)
        {
            Ok(r) => r,
            Err(outcome) => return Ok(outcome),
        };
        let publish = redis::cmd("PUBLISH")
            .arg(self.keys.bus(&instance))
            .arg(&request.payload)
            .to_owned();
        let result = match self.with(|c| publish.query::<i64>(c)) {
            // Nobody listens on that instance's channel: it died (its entry not yet
            // expired) or it is reconnecting.
            Ok(0) => Ok(Outcome::Unreachable),
            Ok(_) => {
                let deadline = Instant::now() + wait;
                loop {
                    let listener = self.pending.listen();
                    if let Some(outcome) = self.pending.take(request.id) {
                        break Ok(outcome);
                    }
                    if event_listener::Listener::wait_deadline(listener, deadline).is_none()
                        && Instant::now() >= deadline
                    {
                        break self.pending.take(request.id).ok_or(StoreError::Timeout);
                    }
                }
            }
            Err(e) => Err(e),
        };
        self.pending.forget(request.id);
        result
    }

    /// Starts this instance's fleet threads for the calls in `calls` (its connector's
    /// registry): the bus listener (commands for its calls, answers to its own commands) and
    /// the heartbeat of its directory entries. They run until the returned guard is dropped
    /// (within a second), reconnecting to Redis on their own.
    pub fn serve(self: &Arc<Self>, calls: &Calls) -> FleetGuard {
        let stop = Arc::new(AtomicBool::new(false));
        let bus = {
            let (fleet, calls, stop) = (self.clone(), calls.clone(), stop.clone());
            thread::Builder::new()
                .name("teler-fleet-bus".into())
                .spawn(move || fleet.run_bus(&calls, &stop))
                .ok()
        };
        let beat = {
            let (fleet, calls, stop) = (self.clone(), calls.clone(), stop.clone());
            thread::Builder::new()
                .name("teler-fleet-heartbeat".into())
                .spawn(move || fleet.run_heartbeat(&calls, &stop))
                .ok()
        };
        FleetGuard {
            stop,
            threads: [bus, beat].into_iter().flatten().collect(),
        }
    }

    fn run_bus(&self, calls: &Calls, stop: &AtomicBool) {
        let channel = self.keys.bus(&self.instance);
        let bus_prefix = self.keys.bus_prefix();
        while !stop.load(Ordering::Acquire) {
            let conn = self
                .client
                .get_connection_with_timeout(self.timeout)
                .and_then(|c| {
                    c.set_write_timeout(Some(self.timeout))?;
                    Ok(c)
                });
            let mut conn = match conn {
                Ok(c) => c,
                Err(_) => {
                    self.counters.store_error();
                    thread::sleep(RECONNECT_BACKOFF);
                    continue;
                }
            };
            let mut sub = conn.as_pubsub();
            if sub.subscribe(&channel).is_err()
                || sub
                    .set_read_timeout(Some(Duration::from_millis(500)))
                    .is_err()
            {
                thread::sleep(RECONNECT_BACKOFF);
                continue;
            }
            while !stop.load(Ordering::Acquire) {
                let msg = match sub.get_message() {
                    Ok(m) => m,
                    Err(e) if e.is_timeout() => continue,
                    Err(_) => break, // reconnect
                };
                if let Some((channel, reply)) = shared::on_bus_message(
                    calls,
                    &bus_prefix,
                    &self.pending,
                    msg.get_payload_bytes(),
                ) {
                    let publish = redis::cmd("PUBLISH").arg(channel).arg(reply).to_owned();
                    let _ = self.with(|c| publish.query::<i64>(c));
                }
            }
            thread::sleep(RECONNECT_BACKOFF);
        }
    }

    fn run_heartbeat(&self, calls: &Calls, stop: &AtomicBool) {
        let mut beat = shared::Heartbeat::new(self.heartbeat_ttl, Instant::now());
        while !stop.load(Ordering::Acquire) {
            let listener = calls.changed();
            let plan = beat.plan(calls, Instant::now());
            for id in plan.register {
                if self.register(&id).is_ok() {
                    beat.registered(id);
                }
            }
            for id in plan.unregister {
                if self.unregister(&id).is_ok() {
                    beat.unregistered(&id);
                }
            }
            // Woken by a call's start or end; at least every second, to see the stop flag.
            let until = beat.wake_at(Instant::now());
            event_listener::Listener::wait_deadline(listener, until);
        }
        for id in beat.into_registered() {
            let _ = self.unregister(&id);
        }
    }
}

/// Keeps an instance's fleet threads running; dropping it stops them (and removes its
/// calls' directory entries).
#[derive(Debug)]
pub struct FleetGuard {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl FleetGuard {
    /// Stops the threads as if the process died: the directory entries are left to expire
    /// (what other instances see of a crash).
    pub fn abandon(mut self) {
        self.stop.store(true, Ordering::Release);
        self.threads.clear();
    }
}

impl Drop for FleetGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What the blocking [`RedisFleet`] and the async one (`teler_async::fleet`) share: the
/// Redis commands, the bus's request and answer bookkeeping, what an instance answers to a
/// bus message, and the heartbeat's plan. Not a stable API.
#[doc(hidden)]
pub mod shared {
    use super::*;

    /// The Redis client for `url`; the error says what a URL must look like (and never
    /// repeats the URL: it may carry a password).
    pub fn client(url: &str) -> Result<redis::Client, StoreError> {
        redis::Client::open(url).map_err(|e| {
            StoreError::Unavailable(format!(
                "not a Redis URL ({:?}): write redis://[:password@]host[:port][/db]",
                e.kind()
            ))
        })
    }

    /// `SET key 1 NX PX ttl`: remember-once.
    pub fn set_once(keys: &Keys, kind: OnceKind, id: &[u8], ttl: Duration) -> redis::Cmd {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        redis::cmd("SET")
            .arg(keys.once(kind, id))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ms)
            .to_owned()
    }

    /// `SET call-key entry PX ttl`: a live call's directory entry, (re)written by its
    /// instance's heartbeat.
    pub fn register(
        keys: &Keys,
        instance: &InstanceId,
        call_id: &str,
        ttl: Duration,
    ) -> redis::Cmd {
        let entry = CallEntry {
            call_id: call_id.to_owned(),
            instance: instance.clone(),
        };
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        redis::cmd("SET")
            .arg(keys.call(call_id))
            .arg(entry.to_json())
            .arg("PX")
            .arg(ms)
            .to_owned()
    }

    static DEL_IF_MINE: LazyLock<redis::Script> = LazyLock::new(|| {
        redis::Script::new(
            r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        )
    });

    /// Deletes a call's entry if `instance` still owns it (a script: read and delete in one
    /// step, so another instance's newer entry is never removed).
    pub fn unregister(
        keys: &Keys,
        instance: &InstanceId,
        call_id: &str,
    ) -> redis::ScriptInvocation<'static> {
        let entry = CallEntry {
            call_id: call_id.to_owned(),
            instance: instance.clone(),
        };
        let mut invocation = DEL_IF_MINE.key(keys.call(call_id));
        invocation.arg(entry.to_json());
        invocation
    }

    /// The instance named by a directory entry, if it is one for `call_id`.
    pub fn entry_instance(raw: Option<Vec<u8>>, call_id: &str) -> Option<InstanceId> {
        raw.and_then(|r| CallEntry::parse(&r).ok())
            .filter(|e| e.call_id == call_id)
            .map(|e| e.instance)
    }

    /// A local command's result as the bus reports it.
    pub fn outcome_of(r: Result<(), SendError>) -> Outcome {
        match r {
            Ok(()) => Outcome::Delivered,
            Err(SendError::Ended) => Outcome::Ended,
            Err(SendError::QueueFull) => Outcome::QueueFull,
            Err(e) => Outcome::Invalid {
                message: e.to_string(),
            },
        }
    }

    /// Commands this instance sent over the bus and is waiting to hear about.
    #[derive(Debug, Default)]
    pub struct Pending {
        next_id: AtomicU64,
        answers: Mutex<HashMap<u64, Option<Outcome>>>,
        answered: event_listener::Event,
    }

    /// A bus request, ready to publish.
    #[derive(Debug)]
    pub struct Request {
        /// Its id, to [`take`](Pending::take) its answer and [`forget`](Pending::forget) it.
        pub id: u64,
        /// The message.
        pub payload: String,
    }

    impl Pending {
        /// Registers a request for `command` on `call_id`, answered on `instance`'s channel;
        /// `Err` with the outcome to report for a command that does not cross the bus.
        pub fn request(
            &self,
            keys: &Keys,
            instance: &InstanceId,
            call_id: &str,
            command: &Command,
        ) -> Result<Request, Outcome> {
            let Some(wire) = WireCommand::from_command(command) else {
                return Err(Outcome::Invalid {
                    message: "this command does not cross the bus".into(),
                });
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            lock(&self.answers).insert(id, None);
            let payload = BusMessage::Request {
                id,
                call_id: call_id.to_owned(),
                command: wire,
                reply_to: keys.bus(instance),
            }
            .to_json();
            Ok(Request { id, payload })
        }

        /// Notified by every answer (listen before [`take`](Self::take), then wait).
        pub fn listen(&self) -> event_listener::EventListener {
            self.answered.listen()
        }

        /// The answer to request `id`, once it came (removing it).
        pub fn take(&self, id: u64) -> Option<Outcome> {
            let mut answers = lock(&self.answers);
            match answers.get(&id) {
                Some(Some(_)) => answers.remove(&id).flatten(),
                _ => None,
            }
        }

        /// Stops waiting for request `id`.
        pub fn forget(&self, id: u64) {
            lock(&self.answers).remove(&id);
        }

        fn answer(&self, id: u64, outcome: Outcome) {
            if let Some(slot) = lock(&self.answers).get_mut(&id) {
                *slot = Some(outcome);
                self.answered.notify(usize::MAX);
            }
        }
    }

    /// What an instance does with one bus message: a request for one of its calls is
    /// carried out through the call's handle and answered (the channel and message to
    /// publish are returned; answers go only to another instance's bus channel); an answer
    /// to one of its own requests is handed to the waiting sender; anything else is ignored.
    pub fn on_bus_message(
        calls: &Calls,
        bus_prefix: &str,
        pending: &Pending,
        payload: &[u8],
    ) -> Option<(String, String)> {
        match BusMessage::parse(payload) {
            Ok(BusMessage::Request {
                id,
                call_id,
                command,
                reply_to,
            }) => {
                let outcome = match (command.into_command(), calls.by_call_id(&call_id)) {
                    (Err(e), _) => Outcome::Invalid {
                        message: e.to_string(),
                    },
                    (Ok(_), None) => Outcome::NotFound,
                    (Ok(c), Some(h)) => outcome_of(h.send(c)),
                };
                reply_to
                    .starts_with(bus_prefix)
                    .then(|| (reply_to, BusMessage::Reply { id, outcome }.to_json()))
            }
            Ok(BusMessage::Reply { id, outcome }) => {
                pending.answer(id, outcome);
                None
            }
            _ => {
                #[cfg(feature = "tracing")]
                tracing::debug!("fleet bus: a message that is not a bus message was ignored");
                None
            }
        }
    }

    /// The heartbeat's bookkeeping: which live calls to (re)register and which ended calls
    /// to remove, each turn.
    #[derive(Debug)]
    pub struct Heartbeat {
        every: Duration,
        next_refresh: Instant,
        registered: HashSet<String>,
    }

    /// One turn's work.
    #[derive(Debug, Default)]
    pub struct Plan {
        /// Calls to write (new ones, and every one when a refresh is due).
        pub register: Vec<String>,
        /// Ended calls whose entries to remove.
        pub unregister: Vec<String>,
    }

    impl Heartbeat {
        /// Refreshes every third of `ttl`, the first time at `now`.
        pub fn new(ttl: Duration, now: Instant) -> Self {
            Heartbeat {
                every: ttl / 3,
                next_refresh: now,
                registered: HashSet::new(),
            }
        }

        /// This turn's work for the live `calls` at `now`.
        pub fn plan(&mut self, calls: &Calls, now: Instant) -> Plan {
            let live: HashSet<String> = calls
                .list()
                .iter()
                .filter_map(|h| h.call_id().map(str::to_owned))
                .collect();
            let refresh = now >= self.next_refresh;
            if refresh {
                self.next_refresh = now + self.every;
            }
            Plan {
                register: live
                    .iter()
                    .filter(|id| refresh || !self.registered.contains(*id))
                    .cloned()
                    .collect(),
                unregister: self.registered.difference(&live).cloned().collect(),
            }
        }

        /// `id`'s entry was written.
        pub fn registered(&mut self, id: String) {
            self.registered.insert(id);
        }

        /// `id`'s entry was removed.
        pub fn unregistered(&mut self, id: &str) {
            self.registered.remove(id);
        }

        /// When the next turn is due unless a call starts or ends first: the next refresh,
        /// and at least every second (to see a stop request).
        pub fn wake_at(&self, now: Instant) -> Instant {
            self.next_refresh.min(now + Duration::from_secs(1))
        }

        /// The calls whose entries are written (to remove when the instance stops).
        pub fn into_registered(self) -> HashSet<String> {
            self.registered
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shared::*;
    use super::*;
    use teler_core::media::{MediaFormat, StartInfo};

    fn started(calls: &Calls, call_id: &str) -> crate::LiveCall {
        let live = calls.register("ws://agent");
        live.started(&StartInfo {
            account_id: None,
            call_app_id: None,
            call_id: Some(call_id.into()),
            stream_id: None,
            message_id: None,
            format: MediaFormat::default(),
        });
        live
    }

    fn id(s: &str) -> InstanceId {
        InstanceId::new(s).unwrap()
    }

    #[test]
    fn a_directory_entry_names_its_instance_only_for_its_own_call() {
        let e = CallEntry {
            call_id: "cs_1".into(),
            instance: id("a"),
        };
        let raw = Some(e.to_json().into_bytes());
        assert_eq!(entry_instance(raw.clone(), "cs_1"), Some(id("a")));
        assert_eq!(entry_instance(raw, "cs_2"), None, "another call's entry");
        assert_eq!(entry_instance(Some(b"garbage".to_vec()), "cs_1"), None);
        assert_eq!(entry_instance(None, "cs_1"), None);
    }

    #[test]
    fn local_results_map_to_bus_outcomes() {
        assert_eq!(outcome_of(Ok(())), Outcome::Delivered);
        assert_eq!(outcome_of(Err(SendError::Ended)), Outcome::Ended);
        assert_eq!(outcome_of(Err(SendError::QueueFull)), Outcome::QueueFull);
    }

    #[test]
    fn requests_are_answered_once_and_only_when_pending() {
        let keys = Keys::default();
        let pending = Pending::default();
        let r = pending
            .request(&keys, &id("a"), "cs_1", &Command::GoAway)
            .unwrap();
        let r2 = pending
            .request(&keys, &id("a"), "cs_2", &Command::GoAway)
            .unwrap();
        assert_ne!(r.id, r2.id);
        match BusMessage::parse(r.payload.as_bytes()).unwrap() {
            BusMessage::Request {
                id: got,
                call_id,
                reply_to,
                ..
            } => {
                assert_eq!((got, call_id.as_str()), (r.id, "cs_1"));
                assert_eq!(reply_to, keys.bus(&id("a")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pending.take(r.id), None, "no answer yet");
        // The answer arrives on the bus and wakes a listener.
        let listener = pending.listen();
        let calls = Calls::new();
        let reply = BusMessage::Reply {
            id: r.id,
            outcome: Outcome::Delivered,
        }
        .to_json();
        assert_eq!(
            on_bus_message(&calls, &keys.bus_prefix(), &pending, reply.as_bytes()),
            None
        );
        assert!(
            event_listener::Listener::wait_timeout(listener, Duration::from_secs(5)).is_some(),
            "the answer wakes the waiting sender"
        );
        assert_eq!(pending.take(r.id), Some(Outcome::Delivered));
        assert_eq!(pending.take(r.id), None, "taken once");
        // An answer for a request nobody waits for (forgotten, or never sent) is dropped.
        pending.forget(r2.id);
        let late = BusMessage::Reply {
            id: r2.id,
            outcome: Outcome::Ended,
        }
        .to_json();
        on_bus_message(&calls, &keys.bus_prefix(), &pending, late.as_bytes());
        assert_eq!(pending.take(r2.id), None);
    }

    #[test]
    fn a_request_is_carried_out_on_the_call_and_answered_only_to_a_bus_channel() {
        let keys = Keys::default();
        let pending = Pending::default();
        let calls = Calls::new();
        let live = started(&calls, "cs_here");
        let request = |call_id: &str, reply_to: String| {
            BusMessage::Request {
                id: 7,
                call_id: call_id.into(),
                command: WireCommand::from_command(&Command::GoAway).unwrap(),
                reply_to,
            }
            .to_json()
        };
        let to_b = keys.bus(&id("b"));
        let (channel, reply) = on_bus_message(
            &calls,
            &keys.bus_prefix(),
            &pending,
            request("cs_here", to_b.clone()).as_bytes(),
        )
        .unwrap();
        assert_eq!(channel, to_b);
        assert_eq!(
            BusMessage::parse(reply.as_bytes()).unwrap(),
            BusMessage::Reply {
                id: 7,
                outcome: Outcome::Delivered
            }
        );
        assert!(live.has_commands(), "the command reached the call's queue");
        // Not this instance's call.
        let (_, reply) = on_bus_message(
            &calls,
            &keys.bus_prefix(),
            &pending,
            request("cs_elsewhere", to_b).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            BusMessage::parse(reply.as_bytes()).unwrap(),
            BusMessage::Reply {
                id: 7,
                outcome: Outcome::NotFound
            }
        );
        // A reply address outside the fleet's bus is never published to.
        assert_eq!(
            on_bus_message(
                &calls,
                &keys.bus_prefix(),
                &pending,
                request("cs_here", "elsewhere".into()).as_bytes()
            ),
            None
        );
        assert_eq!(
            on_bus_message(&calls, &keys.bus_prefix(), &pending, b"{}"),
            None
        );
    }

    #[test]
    fn the_heartbeat_writes_new_calls_at_once_refreshes_all_on_time_and_removes_ended_ones() {
        let calls = Calls::new();
        let t0 = Instant::now();
        let ttl = Duration::from_millis(900);
        let mut beat = Heartbeat::new(ttl, t0);
        let a = started(&calls, "cs_a");
        let _unstarted = calls.register("ws://agent"); // no call id yet: not in the directory
        let plan = beat.plan(&calls, t0);
        assert_eq!(plan.register, ["cs_a"], "the first turn is a refresh");
        assert!(plan.unregister.is_empty());
        beat.registered("cs_a".into());
        // Next refresh a third of the TTL later; before it, only what is new.
        assert_eq!(beat.wake_at(t0), t0 + ttl / 3);
        let _b = started(&calls, "cs_b");
        let soon = t0 + Duration::from_millis(10);
        let plan = beat.plan(&calls, soon);
        assert_eq!(plan.register, ["cs_b"]);
        beat.registered("cs_b".into());
        assert!(beat.plan(&calls, soon).register.is_empty(), "nothing new");
        // At the refresh, every live call is written again.
        let at = t0 + ttl / 3;
        let mut again = beat.plan(&calls, at).register;
        again.sort();
        assert_eq!(again, ["cs_a", "cs_b"]);
        assert_eq!(beat.wake_at(at), at + ttl / 3);
        // At least once a second, whatever the TTL.
        let slow = Heartbeat::new(Duration::from_secs(60), t0);
        assert_eq!(slow.wake_at(t0), t0, "the first refresh is due at once");
        let mut slow = slow;
        let _ = slow.plan(&calls, t0);
        assert_eq!(slow.wake_at(t0), t0 + Duration::from_secs(1));
        // An ended call's entry is removed, then forgotten.
        drop(a);
        let plan = beat.plan(&calls, at);
        assert_eq!(plan.unregister, ["cs_a"]);
        beat.unregistered("cs_a");
        assert!(beat.plan(&calls, at).unregister.is_empty());
        assert_eq!(beat.into_registered(), HashSet::from(["cs_b".to_owned()]));
    }

    #[test]
    fn a_bad_url_says_what_a_url_looks_like_and_hides_the_password() {
        let e = client("http://:hunter2@host/").unwrap_err().to_string();
        assert!(e.contains("redis://[:password@]host"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(client("redis://127.0.0.1:6379/0").is_ok());
    }

    #[test]
    fn the_commands_name_the_fleets_keys() {
        let keys = Keys::new("fx").unwrap();
        let packed = |c: &redis::Cmd| String::from_utf8_lossy(&c.get_packed_command()).into_owned();
        let once = packed(&set_once(
            &keys,
            OnceKind::MediaToken,
            b"t",
            Duration::from_millis(1500),
        ));
        assert!(
            once.contains(&keys.once(OnceKind::MediaToken, b"t")),
            "{once}"
        );
        assert!(
            once.contains("NX") && once.contains("PX") && once.contains("1500"),
            "{once}"
        );
        let zero = packed(&set_once(
            &keys,
            OnceKind::WebhookEvent,
            b"e",
            Duration::ZERO,
        ));
        assert!(
            zero.ends_with("$2\r\nPX\r\n$1\r\n1\r\n"),
            "at least 1 ms: {zero}"
        );
        let reg = packed(&register(
            &keys,
            &id("a"),
            "cs_1",
            Duration::from_millis(900),
        ));
        assert!(
            reg.contains(&keys.call("cs_1")) && reg.contains("900"),
            "{reg}"
        );
        let entry = CallEntry {
            call_id: "cs_1".into(),
            instance: id("a"),
        };
        assert!(reg.contains(&entry.to_json()), "{reg}");
    }
}
