//! A fleet of bridge instances sharing state on Redis: the pure half and the blocking client
//! ([`RedisFleet`], on threads of its own) from `teler-io`, and with the adapter's `redis`
//! feature the async client, [`AsyncRedisFleet`], on the adapter's own runtime (`teler-tokio`
//! uses the `redis` crate's tokio support, `teler-smol` its smol support: no tokio runtime
//! in a smol program).
//!
//! Both clients share one Redis layout and bus, so blocking and async instances can be
//! members of one fleet. What is shared, the failure policies and why the bus is pub/sub:
//! see the [`RedisFleet`] docs. The async client adds what an async server needs: no thread
//! of its own (its bus listener and heartbeat are tasks on the runtime) and a media-token
//! check that awaits Redis instead of blocking the handshake's thread
//! ([`AsyncRedisFleet::check_media_token`]).

pub use teler_io::fleet::*;

#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
pub use async_fleet::{AsyncFleetGuard, AsyncRedisFleet};

#[cfg(any(feature = "redis-tokio", feature = "redis-smol"))]
mod async_fleet {
    use std::fmt;
    use std::future::Future;
    use std::marker::PhantomData;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    use futures_util::StreamExt;
    use futures_util::future::{Either, select};
    use redis::aio::MultiplexedConnection;
    use teler_core::media::Command;
    use teler_core::webhook::TokenClaims;
    use teler_io::fleet::shared;
    use teler_io::fleet::{
        DEFAULT_TIMEOUT, FleetCounters, InstanceId, Keys, OnceKind, Outcome, StoreError, Verdict,
        verdict,
    };
    use teler_io::serve::{MediaTokens, Refusal, token_lifetime, token_verdict};

    use crate::{Calls, Runtime, timeout};

    /// How long a task waits before reconnecting after Redis failed.
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

    /// One instance's view of the fleet's shared state on Redis, for async programs: what
    /// [`RedisFleet`](teler_io::fleet::RedisFleet) does, with every operation a future on
    /// runtime `R` (`teler_tokio::fleet::AsyncRedisFleet` and
    /// `teler_smol::fleet::AsyncRedisFleet` name it with the runtime filled in).
    ///
    /// Every Redis operation is bounded by the timeout (default 250 ms, on `R`'s timer);
    /// a failed one drops the connection, and the next one connects again. One multiplexed
    /// connection carries every request of the instance; the bus listener has its own.
    ///
    /// ```no_run
    /// # async fn run<R: teler_async::Runtime>(calls: &teler_async::Calls) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use teler_async::fleet::{AsyncRedisFleet, InstanceId, OnceKind, Verdict};
    /// use teler_async::teler_core::media::Command;
    ///
    /// let fleet = Arc::new(AsyncRedisFleet::<R>::new("redis://127.0.0.1:6379/0", InstanceId::new("bridge-a")?)?);
    /// let guard = fleet.serve(calls); // the bus listener and the heartbeat, as tasks
    /// if fleet.remember_once(OnceKind::WebhookEvent, b"evt_1", Duration::from_secs(86_400)).await
    ///     != Verdict::Duplicate
    /// {
    ///     // process the webhook
    /// }
    /// let outcome = fleet
    ///     .send_command(calls, "cs_123", Command::stop("hangup"), Duration::from_secs(2))
    ///     .await?;
    /// guard.stop().await; // removes this instance's directory entries
    /// # Ok(()) }
    /// ```
    pub struct AsyncRedisFleet<R: Runtime> {
        client: redis::Client,
        instance: InstanceId,
        keys: Keys,
        timeout: Duration,
        heartbeat_ttl: Duration,
        conn: Mutex<Option<MultiplexedConnection>>,
        pending: shared::Pending,
        counters: FleetCounters,
        runtime: PhantomData<fn() -> R>,
    }

    impl<R: Runtime> fmt::Debug for AsyncRedisFleet<R> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // The URL may carry a password: not shown.
            f.debug_struct("AsyncRedisFleet")
                .field("instance", &self.instance)
                .field("keys", &self.keys)
                .field("timeout", &self.timeout)
                .field("heartbeat_ttl", &self.heartbeat_ttl)
                .finish_non_exhaustive()
        }
    }

    impl<R: Runtime> AsyncRedisFleet<R> {
        /// A fleet member named `instance` on the Redis at `url` (`redis://host:port/db`,
        /// with a password if any). Nothing is connected yet.
        ///
        /// # Errors
        /// [`StoreError::Unavailable`] for a URL the client does not take.
        pub fn new(url: &str, instance: InstanceId) -> Result<Self, StoreError> {
            let client = shared::client(url)?;
            Ok(AsyncRedisFleet {
                client,
                instance,
                keys: Keys::default(),
                timeout: DEFAULT_TIMEOUT,
                heartbeat_ttl: teler_core::fleet::DEFAULT_HEARTBEAT_TTL,
                conn: Mutex::new(None),
                pending: shared::Pending::default(),
                counters: FleetCounters::default(),
                runtime: PhantomData,
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

        /// How long a call's directory entry lives without a heartbeat (default 15 s;
        /// refreshed every third of it).
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

        /// The shared connection, made if needed (within the timeout).
        async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
            if let Some(c) = lock(&self.conn).clone() {
                return Ok(c);
            }
            let made =
                timeout::<R, _>(self.timeout, self.client.get_multiplexed_async_connection()).await;
            match made {
                Some(Ok(c)) => {
                    *lock(&self.conn) = Some(c.clone());
                    Ok(c)
                }
                Some(Err(e)) => {
                    self.counters.store_error();
                    Err(store_error(&e))
                }
                None => {
                    self.counters.store_error();
                    Err(StoreError::Timeout)
                }
            }
        }

        /// Runs `op` on the shared connection within the timeout; a failure drops the
        /// connection, so the next operation reconnects.
        async fn with<T, F>(
            &self,
            op: impl FnOnce(MultiplexedConnection) -> F,
        ) -> Result<T, StoreError>
        where
            F: Future<Output = redis::RedisResult<T>>,
        {
            let conn = self.connection().await?;
            let result = match timeout::<R, _>(self.timeout, op(conn)).await {
                Some(Ok(v)) => return Ok(v),
                Some(Err(e)) => store_error(&e),
                None => StoreError::Timeout,
            };
            *lock(&self.conn) = None;
            self.counters.store_error();
            Err(result)
        }

        /// `Ok(true)` the first time `id` is seen fleet-wide within `ttl`, `Ok(false)`
        /// after (`SET NX PX`).
        ///
        /// # Errors
        /// [`StoreError`] when Redis cannot answer within the timeout.
        pub async fn first_time(
            &self,
            kind: OnceKind,
            id: &[u8],
            ttl: Duration,
        ) -> Result<bool, StoreError> {
            let cmd = shared::set_once(&self.keys, kind, id, ttl);
            self.with(|mut c| async move { cmd.query_async::<Option<String>>(&mut c).await })
                .await
                .map(|set| set.is_some())
        }

        /// [`first_time`](Self::first_time) under the fleet's failure policy, counted:
        /// what to do with a webhook delivery or a media token.
        pub async fn remember_once(&self, kind: OnceKind, id: &[u8], ttl: Duration) -> Verdict {
            let v = verdict(kind, self.first_time(kind, id, ttl).await);
            self.counters.policy(v);
            v
        }

        /// [`MediaTokens::check`] with the single-use check on this fleet: the token's
        /// signature, expiry and subject by `tokens`, then remembered fleet-wide until it
        /// expires. A reused token is refused with 401; when Redis cannot answer, 503
        /// (fail closed, counted). `target` is the request's path and query, `now` unix
        /// seconds.
        ///
        /// # Errors
        /// The [`Refusal`] to answer the upgrade request with.
        pub async fn check_media_token(
            &self,
            tokens: &MediaTokens,
            target: &str,
            now: u64,
        ) -> Result<TokenClaims, Refusal> {
            let (claims, token) = tokens.verify(target, now)?;
            let ttl = token_lifetime(&claims, now);
            let v = self
                .remember_once(OnceKind::MediaToken, token.as_bytes(), ttl)
                .await;
            token_verdict(v).map(|()| claims)
        }

        /// Which instance bridges `call_id`, if any.
        ///
        /// # Errors
        /// [`StoreError`] when Redis cannot answer.
        pub async fn locate(&self, call_id: &str) -> Result<Option<InstanceId>, StoreError> {
            let cmd = redis::cmd("GET").arg(self.keys.call(call_id)).to_owned();
            let raw = self
                .with(|mut c| async move { cmd.query_async::<Option<Vec<u8>>>(&mut c).await })
                .await?;
            Ok(shared::entry_instance(raw, call_id))
        }

        async fn publish(&self, channel: String, payload: String) -> Result<i64, StoreError> {
            let cmd = redis::cmd("PUBLISH").arg(channel).arg(payload).to_owned();
            self.with(|mut c| async move { cmd.query_async::<i64>(&mut c).await })
                .await
        }

        /// Carries out `command` on call `call_id` wherever it is bridged, and says what
        /// happened: here, if `local` (this instance's connector's calls) has it; otherwise
        /// through the bus, waiting at most `wait` for the answer (this instance's
        /// [`serve`](Self::serve) must be running to receive it).
        ///
        /// # Errors
        /// [`StoreError`] when Redis cannot answer, [`StoreError::Timeout`] when no answer
        /// came within `wait` (the command may still have been carried out).
        pub async fn send_command(
            &self,
            local: &Calls,
            call_id: &str,
            command: Command,
            wait: Duration,
        ) -> Result<Outcome, StoreError> {
            if let Some(h) = local.by_call_id(call_id) {
                return Ok(shared::outcome_of(h.send(command)));
            }
            let Some(instance) = self.locate(call_id).await? else {
                return Ok(Outcome::NotFound);
            };
            let request = match self
                .pending
                .request(&self.keys, &self.instance, call_id, &command)
            {
                Ok(r) => r,
                Err(outcome) => return Ok(outcome),
            };
            let id = request.id;
            let result = match self
                .publish(self.keys.bus(&instance), request.payload)
                .await
            {
                // Nobody listens on that instance's channel: it died (its entry not yet
                // expired) or it is reconnecting.
                Ok(0) => Ok(Outcome::Unreachable),
                Ok(_) => {
                    let answer = async {
                        loop {
                            let listener = self.pending.listen();
                            if let Some(outcome) = self.pending.take(id) {
                                break outcome;
                            }
                            listener.await;
                        }
                    };
                    timeout::<R, _>(wait, answer)
                        .await
                        .ok_or(StoreError::Timeout)
                }
                Err(e) => Err(e),
            };
            self.pending.forget(id);
            result
        }

        /// Starts this instance's fleet tasks on `R` for the calls in `calls` (its
        /// connector's registry): the bus listener (commands for its calls, answers to its
        /// own commands) and the heartbeat of its directory entries. They run until the
        /// returned guard is stopped or dropped, reconnecting to Redis on their own.
        pub fn serve(self: &Arc<Self>, calls: &Calls) -> AsyncFleetGuard {
            let stop = Arc::new(Stop::default());
            stop.running.store(2, Ordering::Release);
            let (fleet, c, s) = (self.clone(), calls.clone(), stop.clone());
            R::spawn(async move {
                fleet.run_bus(&c, &s).await;
                s.finished();
            });
            let (fleet, c, s) = (self.clone(), calls.clone(), stop.clone());
            R::spawn(async move {
                fleet.run_heartbeat(&c, &s).await;
                s.finished();
            });
            AsyncFleetGuard { stop: Some(stop) }
        }

        async fn run_bus(&self, calls: &Calls, stop: &Stop) {
            let channel = self.keys.bus(&self.instance);
            let bus_prefix = self.keys.bus_prefix();
            while !stop.requested() {
                let subscribed = timeout::<R, _>(self.timeout, async {
                    let mut pubsub = self.client.get_async_pubsub().await?;
                    pubsub.subscribe(&channel).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                })
                .await;
                let mut pubsub = match subscribed {
                    Some(Ok(p)) => p,
                    _ => {
                        self.counters.store_error();
                        stop.sleep::<R>(RECONNECT_BACKOFF).await;
                        continue;
                    }
                };
                let mut messages = std::pin::pin!(pubsub.on_message());
                loop {
                    let stopping = stop.listen();
                    if stop.requested() {
                        return;
                    }
                    let msg = match select(messages.next(), stopping).await {
                        Either::Left((Some(msg), _)) => msg,
                        Either::Left((None, _)) => break, // the connection broke: reconnect
                        Either::Right(_) => return,
                    };
                    if let Some((to, reply)) = shared::on_bus_message(
                        calls,
                        &bus_prefix,
                        &self.pending,
                        msg.get_payload_bytes(),
                    ) {
                        let _ = self.publish(to, reply).await;
                    }
                }
                self.counters.store_error();
                stop.sleep::<R>(RECONNECT_BACKOFF).await;
            }
        }

        async fn run_heartbeat(&self, calls: &Calls, stop: &Stop) {
            let mut beat = shared::Heartbeat::new(self.heartbeat_ttl, Instant::now());
            while !stop.requested() {
                let changed = calls.changed();
                let plan = beat.plan(calls, Instant::now());
                for id in plan.register {
                    let cmd = shared::register(&self.keys, &self.instance, &id, self.heartbeat_ttl);
                    let written = self
                        .with(|mut c| async move { cmd.query_async::<()>(&mut c).await })
                        .await;
                    if written.is_ok() {
                        beat.registered(id);
                    }
                }
                for id in plan.unregister {
                    if self.unregister(&id).await.is_ok() {
                        beat.unregistered(&id);
                    }
                }
                if stop.abandoned() {
                    return;
                }
                let now = Instant::now();
                let nap = beat.wake_at(now).saturating_duration_since(now);
                // Woken by a call's start or end, by the next refresh, or by a stop.
                let stopping = stop.listen();
                if stop.requested() {
                    break;
                }
                select(changed, select(std::pin::pin!(R::sleep(nap)), stopping)).await;
            }
            if !stop.abandoned() {
                for id in beat.into_registered() {
                    let _ = self.unregister(&id).await;
                }
            }
        }

        async fn unregister(&self, call_id: &str) -> Result<(), StoreError> {
            let script = shared::unregister(&self.keys, &self.instance, call_id);
            self.with(|mut c| async move { script.invoke_async::<i64>(&mut c).await })
                .await
                .map(|_| ())
        }
    }

    /// The stop request shared by an instance's fleet tasks and their guard.
    #[derive(Debug, Default)]
    struct Stop {
        requested: AtomicBool,
        abandoned: AtomicBool,
        running: AtomicUsize,
        changed: event_listener::Event,
    }

    impl Stop {
        fn requested(&self) -> bool {
            self.requested.load(Ordering::Acquire)
        }
        fn abandoned(&self) -> bool {
            self.abandoned.load(Ordering::Acquire)
        }
        fn listen(&self) -> event_listener::EventListener {
            self.changed.listen()
        }
        fn request(&self, abandon: bool) {
            if abandon {
                self.abandoned.store(true, Ordering::Release);
            }
            self.requested.store(true, Ordering::Release);
            self.changed.notify(usize::MAX);
        }
        fn finished(&self) {
            self.running.fetch_sub(1, Ordering::AcqRel);
            self.changed.notify(usize::MAX);
        }
        /// Sleeps `d`, or less if a stop is requested.
        async fn sleep<R: Runtime>(&self, d: Duration) {
            let stopping = self.listen();
            if !self.requested() {
                select(std::pin::pin!(R::sleep(d)), stopping).await;
            }
        }
    }

    /// Keeps an instance's fleet tasks running. [`stop`](Self::stop) ends them and removes
    /// the instance's directory entries; dropping the guard asks for the same without
    /// waiting.
    #[derive(Debug)]
    pub struct AsyncFleetGuard {
        stop: Option<Arc<Stop>>,
    }

    impl AsyncFleetGuard {
        /// Stops the tasks and waits until they ended (the heartbeat removes this
        /// instance's directory entries first, each within the operation timeout).
        pub async fn stop(mut self) {
            if let Some(stop) = self.stop.take() {
                stop.request(false);
                loop {
                    let listener = stop.listen();
                    if stop.running.load(Ordering::Acquire) == 0 {
                        break;
                    }
                    listener.await;
                }
            }
        }

        /// Stops the tasks as if the process died: the directory entries are left to
        /// expire (what other instances see of a crash).
        pub fn abandon(mut self) {
            if let Some(stop) = self.stop.take() {
                stop.request(true);
            }
        }
    }

    impl Drop for AsyncFleetGuard {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                stop.request(false);
            }
        }
    }
}
