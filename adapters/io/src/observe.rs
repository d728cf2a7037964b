//! What a call's run loop tells the outside world: `tracing` logs in a `teler.call` span
//! (feature `tracing`, on by default) and metrics through the `metrics` facade (feature
//! `metrics`). The core only emits events and counters; this module turns them into both.
//!
//! # Logs
//!
//! One span per call, `teler.call`, with `id` (this process's number for the call), the
//! remote's `remote` host (never its path, query or headers), and `call_id`, `stream_id`,
//! `account_id`, `encoding`, `sample_rate` recorded when `start` arrives (`from`/`to` when
//! the application records them: Teler's `start` does not carry the numbers). Inside it:
//! `info` for start, remote connected (with the connect time) and the end (reason, duration,
//! every counter); `warn` for rejected frames, handler failures and dropped frames; `trace`
//! per frame.
//!
//! Warnings are **rate-limited per call and per kind**: the first [`WARN_BURST`] are logged,
//! then at most one per [`WARN_WINDOW`], carrying `suppressed`, the number skipped since the
//! last one. A peer sending garbage at line rate costs at most `5 + duration / 10 s` lines
//! per kind per call; the counters still count every frame.
//!
//! # Metrics
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `teler_calls_active` | gauge | |
//! | `teler_calls_total` | counter | `end` ([`EndReason::kind`](teler_core::media::EndReason::kind)) |
//! | `teler_frames_total` | counter | `direction` (`to_remote`, `to_teler`), `outcome` (`relayed`, `passed`, `dropped`, `rejected`) |
//! | `teler_handler_failures_total` | counter | `side` (`teler`, `remote`: whose message it was) |
//! | `teler_remote_connect_seconds` | histogram | |
//! | `teler_call_duration_seconds` | histogram | |
//! | `teler_handler_seconds` | histogram | `side` |
//!
//! `dropped` counts both the core's drops (pre-connect overflow, queued at the end) and the
//! frames a stalled peer could not take (`send_dropped`). `teler_handler_seconds` times the
//! core's handling of one frame (parse, handler, queueing), measured around the call into
//! the core. Counters are fed from the call's [`Stats`] as they change, so at the end of a
//! call they have grown by exactly its summary's counters.

use std::time::Instant;

#[cfg(feature = "tracing")]
use teler_core::media::StartInfo;
use teler_core::media::{Event, Side, Stats};

/// Warnings of one kind logged per call before rate limiting starts.
pub const WARN_BURST: u32 = 5;
/// After the burst, at most one warning of a kind per call in this window.
pub const WARN_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// The `teler.call` span for a new call.
#[cfg(feature = "tracing")]
pub(crate) fn call_span(id: u64, remote_url: &str) -> tracing::Span {
    use tracing::field::Empty;
    let remote = crate::remote_host(remote_url);
    tracing::info_span!(
        "teler.call",
        id,
        remote = %remote,
        call_id = Empty,
        app_id = Empty,
        stream_id = Empty,
        account_id = Empty,
        from = Empty,
        to = Empty,
        encoding = Empty,
        sample_rate = Empty,
    )
}

#[cfg(feature = "tracing")]
pub(crate) fn record_start(span: &tracing::Span, info: &StartInfo) {
    if let Some(v) = &info.call_id {
        span.record("call_id", v.as_str());
    }
    if let Some(v) = &info.stream_id {
        span.record("stream_id", v.as_str());
    }
    if let Some(v) = &info.account_id {
        span.record("account_id", v.as_str());
    }
    if let Some(v) = &info.format.encoding {
        span.record("encoding", v.as_str());
    }
    if let Some(v) = info.format.sample_rate {
        span.record("sample_rate", v);
    }
}

/// Registers the help text of every `teler_*` metric with the installed recorder (so a
/// Prometheus page has `# HELP` lines). Call it once, after installing the recorder; without
/// the `metrics` feature it does nothing.
pub fn describe() {
    #[cfg(feature = "metrics")]
    {
        use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_gauge!("teler_calls_active", "Calls being bridged now.");
        describe_counter!(
            "teler_calls_total",
            "Calls ended, by end reason (label end)."
        );
        describe_counter!(
            "teler_frames_total",
            "Frames by direction (to_remote, to_teler) and outcome (relayed, passed, dropped, rejected)."
        );
        describe_counter!(
            "teler_handler_failures_total",
            "Handler failures, by the side whose message it was handling."
        );
        describe_histogram!(
            "teler_remote_connect_seconds",
            Unit::Seconds,
            "Time to open the remote's socket."
        );
        describe_histogram!(
            "teler_call_duration_seconds",
            Unit::Seconds,
            "Calls' durations, from Teler's socket accepted to the end."
        );
        describe_histogram!(
            "teler_handler_seconds",
            Unit::Seconds,
            "The core's handling of one frame (parse, handler, queueing), by side."
        );
        describe_counter!(
            "teler_rest_requests_total",
            "REST attempts by status (error: no answer)."
        );
        describe_counter!(
            "teler_fleet_webhooks_unchecked_total",
            "Webhook deliveries processed without the fleet-wide dedupe because Redis could not answer (fail open)."
        );
        describe_counter!(
            "teler_fleet_tokens_refused_unchecked_total",
            "Media streams refused because Redis could not check their token (fail closed)."
        );
        describe_counter!(
            "teler_fleet_store_errors_total",
            "Fleet Redis operations that failed (timeouts, connection errors)."
        );
    }
}

/// Lets through a burst, then one per window, counting what it held back.
#[derive(Debug, Default, Clone, Copy)]
struct Limiter {
    logged: u32,
    window_end: Option<Instant>,
    suppressed: u64,
}

impl Limiter {
    /// `Some(suppressed since the last one)` when this one may be logged.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.logged < WARN_BURST {
            self.logged += 1;
            return Some(0);
        }
        match self.window_end {
            Some(end) if now < end => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.window_end = Some(now + WARN_WINDOW);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(feature = "metrics")]
struct Meters {
    frames: [[metrics::Counter; 4]; 2],
    failures: [metrics::Counter; 2],
    handler_seconds: [metrics::Histogram; 2],
}

#[cfg(feature = "metrics")]
impl Meters {
    fn new() -> Meters {
        let frames = ["to_remote", "to_teler"].map(|direction| {
            ["relayed", "passed", "dropped", "rejected"].map(|outcome| {
                metrics::counter!("teler_frames_total", "direction" => direction, "outcome" => outcome)
            })
        });
        Meters {
            frames,
            failures: ["teler", "remote"]
                .map(|side| metrics::counter!("teler_handler_failures_total", "side" => side)),
            handler_seconds: ["teler", "remote"]
                .map(|side| metrics::histogram!("teler_handler_seconds", "side" => side)),
        }
    }
}

#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn side_idx(side: Side) -> usize {
    match side {
        Side::Teler => 0,
        Side::Remote => 1,
    }
}

/// One call's logging and metrics state (see the [module docs](self)).
pub struct Observer {
    last: Stats,
    warn_rejected: Limiter,
    warn_failed: Limiter,
    warn_dropped: Limiter,
    dial_at: Option<Instant>,
    #[cfg(feature = "metrics")]
    meters: Meters,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Default for Observer {
    fn default() -> Self {
        Observer::new()
    }
}

impl Observer {
    /// A new call's observer (counts it in `teler_calls_active` until dropped).
    pub fn new() -> Observer {
        #[cfg(feature = "metrics")]
        metrics::gauge!("teler_calls_active").increment(1.0);
        Observer {
            last: Stats::default(),
            warn_rejected: Limiter::default(),
            warn_failed: Limiter::default(),
            warn_dropped: Limiter::default(),
            dial_at: None,
            #[cfg(feature = "metrics")]
            meters: Meters::new(),
        }
    }

    /// Whether the loop should time handler calls (only with the `metrics` feature).
    pub fn timing(&self) -> bool {
        cfg!(feature = "metrics")
    }

    /// The core's handling of one frame from `side` took `elapsed`.
    pub fn handled(&self, side: Side, elapsed: std::time::Duration) {
        #[cfg(feature = "metrics")]
        self.meters.handler_seconds[side_idx(side)].record(elapsed.as_secs_f64());
        #[cfg(not(feature = "metrics"))]
        let _ = (side, elapsed);
    }

    /// Runs the core's handling of one frame from `side` (`f`), timed for
    /// `teler_handler_seconds` when metrics are on (two clock reads; none otherwise), after
    /// a `trace` line for the frame.
    #[inline]
    pub fn timed<T>(&self, side: Side, len: usize, f: impl FnOnce() -> T) -> T {
        self.frame(side, len);
        if self.timing() {
            let t = Instant::now();
            let r = f();
            self.handled(side, t.elapsed());
            r
        } else {
            f()
        }
    }

    /// A frame of `len` bytes came from `side` (a `trace` line).
    #[inline]
    pub fn frame(&self, side: Side, len: usize) {
        #[cfg(feature = "tracing")]
        tracing::trace!(from = ?side, len, "frame");
        #[cfg(not(feature = "tracing"))]
        let _ = (side, len);
    }

    /// The loop started dialing the remote.
    pub fn dialing(&mut self, now: Instant) {
        self.dial_at = Some(now);
        #[cfg(feature = "tracing")]
        tracing::debug!("dialing the remote");
    }

    /// An event from the core.
    pub fn event(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Started(info) => {
                #[cfg(feature = "tracing")]
                tracing::info!(
                    call_id = info.call_id.as_deref().unwrap_or(""),
                    "call started"
                );
                #[cfg(not(feature = "tracing"))]
                let _ = info;
            }
            Event::RemoteConnected => {
                let took = self.dial_at.map(|t| now.saturating_duration_since(t));
                #[cfg(feature = "metrics")]
                if let Some(d) = took {
                    metrics::histogram!("teler_remote_connect_seconds").record(d.as_secs_f64());
                }
                #[cfg(feature = "tracing")]
                tracing::info!(
                    connect_ms = took.map(|d| d.as_secs_f64() * 1000.0),
                    "remote connected"
                );
                #[cfg(not(any(feature = "tracing", feature = "metrics")))]
                let _ = took;
            }
            Event::FrameRejected { side, reason } => {
                if let Some(suppressed) = self.warn_rejected.allow(now) {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(from = ?side, %reason, suppressed, "frame rejected");
                    #[cfg(not(feature = "tracing"))]
                    let _ = (side, reason, suppressed);
                }
            }
            Event::HandlerFailed { side, error } => {
                if let Some(suppressed) = self.warn_failed.allow(now) {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(side = ?side, %error, suppressed, "handler failed");
                    #[cfg(not(feature = "tracing"))]
                    let _ = (side, error, suppressed);
                }
            }
            Event::Ended(summary) => {
                self.on_stats(&summary.stats, now);
                #[cfg(feature = "metrics")]
                metrics::counter!("teler_calls_total", "end" => summary.reason.kind()).increment(1);
                #[cfg(feature = "tracing")]
                {
                    let s = &summary.stats;
                    let (t, r) = (&s.from_teler, &s.from_remote);
                    tracing::info!(
                        end = summary.reason.kind(),
                        reason = ?summary.reason,
                        normal = summary.reason.is_normal(),
                        from_teler.frames = t.frames_in,
                        from_teler.bytes = t.bytes_in,
                        from_teler.relayed = t.relayed_frames,
                        from_teler.passed = t.passed,
                        from_teler.rejected = t.rejected,
                        from_teler.handler_errors = t.handler_errors,
                        from_teler.protocol_errors = t.protocol_errors,
                        from_teler.dropped = t.dropped,
                        from_teler.send_dropped = t.send_dropped,
                        from_remote.frames = r.frames_in,
                        from_remote.bytes = r.bytes_in,
                        from_remote.relayed = r.relayed_frames,
                        from_remote.passed = r.passed,
                        from_remote.rejected = r.rejected,
                        from_remote.handler_errors = r.handler_errors,
                        from_remote.protocol_errors = r.protocol_errors,
                        from_remote.dropped = r.dropped,
                        from_remote.send_dropped = r.send_dropped,
                        pings = s.pings_sent,
                        app_to_teler = s.app_to_teler,
                        app_to_remote = s.app_to_remote,
                        "call ended"
                    );
                }
            }
            _ => {}
        }
    }

    /// The call lasted `duration` (from Teler's socket accepted to the end).
    pub fn ended_after(&self, duration: std::time::Duration) {
        #[cfg(feature = "metrics")]
        metrics::histogram!("teler_call_duration_seconds").record(duration.as_secs_f64());
        #[cfg(feature = "tracing")]
        tracing::info!(duration_ms = duration.as_millis() as u64, "call closed");
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = duration;
    }

    /// The counters now: what grew since the last call is added to the metrics, and new
    /// drops are warned about (rate-limited).
    pub fn on_stats(&mut self, stats: &Stats, now: Instant) {
        if *stats == self.last {
            return;
        }
        let dropped = |s: &Stats| {
            s.from_teler.dropped
                + s.from_teler.send_dropped
                + s.from_remote.dropped
                + s.from_remote.send_dropped
        };
        let new_drops = dropped(stats).saturating_sub(dropped(&self.last));
        if new_drops > 0
            && let Some(suppressed) = self.warn_dropped.allow(now)
        {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                dropped = new_drops,
                total = dropped(stats),
                suppressed,
                "frames dropped"
            );
            #[cfg(not(feature = "tracing"))]
            let _ = suppressed;
        }
        #[cfg(feature = "metrics")]
        for (i, (new, old)) in [
            (&stats.from_teler, &self.last.from_teler),
            (&stats.from_remote, &self.last.from_remote),
        ]
        .into_iter()
        .enumerate()
        {
            let m = &self.meters.frames[i];
            // Only what grew: a turn relays a frame or two, and an increment by zero still
            // costs the recorder two atomic operations (10 per turn, measured in bench/).
            let add = |c: &metrics::Counter, a: u64, b: u64| {
                if a > b {
                    c.increment(a - b);
                }
            };
            add(&m[0], new.relayed_frames, old.relayed_frames);
            add(&m[1], new.passed, old.passed);
            add(
                &m[2],
                new.dropped + new.send_dropped,
                old.dropped + old.send_dropped,
            );
            add(&m[3], new.rejected, old.rejected);
            add(
                &self.meters.failures[i],
                new.handler_errors,
                old.handler_errors,
            );
        }
        self.last = *stats;
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        metrics::gauge!("teler_calls_active").decrement(1.0);
    }
}

/// One REST request's log and metrics: a `teler.rest` span with `method`, `path` (never the
/// query, never a header), and, at the end, `status`, `attempts` and `duration_ms`; a `debug`
/// line per attempt and at the end (`warn` when it failed); `teler_rest_requests_total{status}`
/// counted per attempt (each HTTP exchange; `status="error"` when none came back), so retries
/// show.
pub struct RestObserver {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    start: Instant,
    attempts: u32,
}

impl std::fmt::Debug for RestObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestObserver")
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl RestObserver {
    /// A request starting now.
    pub fn new(method: &str, path: &str, now: Instant) -> RestObserver {
        #[cfg(not(feature = "tracing"))]
        let _ = (method, path);
        RestObserver {
            #[cfg(feature = "tracing")]
            span: {
                use tracing::field::Empty;
                tracing::info_span!(
                    "teler.rest",
                    method,
                    path,
                    status = Empty,
                    attempts = Empty,
                    duration_ms = Empty,
                )
            },
            start: now,
            attempts: 0,
        }
    }

    /// One attempt came back with `status` (`None`: a transport error, told by `error`).
    pub fn attempt(&mut self, status: Option<u16>, error: Option<&dyn std::fmt::Display>) {
        self.attempts += 1;
        #[cfg(feature = "metrics")]
        {
            let label = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
            metrics::counter!("teler_rest_requests_total", "status" => label).increment(1);
        }
        #[cfg(feature = "tracing")]
        tracing::debug!(
            parent: &self.span,
            attempt = self.attempts,
            status,
            error = error.map(tracing::field::display),
            "attempt"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = error;
        #[cfg(not(any(feature = "metrics", feature = "tracing")))]
        let _ = status;
    }

    /// The request is over at `now` with its last `status` (`None`: a transport error).
    pub fn finish(&self, status: Option<u16>, now: Instant) {
        let took = now.saturating_duration_since(self.start);
        #[cfg(feature = "tracing")]
        {
            let ms = took.as_secs_f64() * 1000.0;
            if let Some(s) = status {
                self.span.record("status", s);
            }
            self.span.record("attempts", self.attempts);
            self.span.record("duration_ms", ms);
            let ok = status.is_some_and(|s| s < 400);
            if ok {
                tracing::debug!(parent: &self.span, status, attempts = self.attempts, duration_ms = ms, "request done");
            } else {
                tracing::warn!(parent: &self.span, status, attempts = self.attempts, duration_ms = ms, "request failed");
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (status, took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_lets_a_burst_through_then_one_per_window() {
        let t0 = Instant::now();
        let mut l = Limiter::default();
        for _ in 0..WARN_BURST {
            assert_eq!(l.allow(t0), Some(0));
        }
        // The first past the burst opens a window.
        assert_eq!(l.allow(t0), Some(0));
        assert_eq!(l.allow(t0), None);
        assert_eq!(
            l.allow(t0 + WARN_WINDOW - std::time::Duration::from_nanos(1)),
            None
        );
        // At the window's end exactly, one more, telling what was held back.
        assert_eq!(l.allow(t0 + WARN_WINDOW), Some(2));
        assert_eq!(l.allow(t0 + WARN_WINDOW), None);
        assert_eq!(l.allow(t0 + WARN_WINDOW * 2), Some(1));
    }
}
