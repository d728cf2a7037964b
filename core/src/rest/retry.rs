//! The one retry decision, pure: the clients pass in the clock readings and a random number.
//!
//! Retried: 429 (after `Retry-After`, seconds or an HTTP date, when given), 500 (unless
//! [`RetryPolicy::retry_500`] is off), 502, 503, 504 and transport failures. Exponential
//! backoff with full jitter, bounded by a number of attempts and a total time. A request that
//! is not replay-safe (a POST or PATCH without an `Idempotency-Key`) is retried only when it
//! surely never reached the server (the connection could not be made). An answer over the
//! client's size limit is never retried. Every retry sends the same bytes, so the same
//! `Idempotency-Key`. The whole contract: `docs/REST.md` in the repository.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use teler_core::rest::retry::{Outcome, RetryDecision, RetryPolicy, RetryState};
//!
//! let policy = RetryPolicy::default();
//! let mut state = RetryState::new(policy, true);
//! let headers = http::HeaderMap::new();
//! // A 503 after 50 ms, with the jitter drawn as 0.5: wait half of the first backoff step.
//! let d = state.on_outcome(Duration::from_millis(50), SystemTime::UNIX_EPOCH, 0.5,
//!     Outcome::Status { status: 503, headers: &headers });
//! assert_eq!(d, RetryDecision::RetryAfter(Duration::from_millis(100)));
//! ```

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use super::{TransportError, TransportErrorKind};

/// When and how often to retry. On by default.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries). Default 3.
    pub max_attempts: u32,
    /// The first backoff step; each retry doubles it. Default 200 ms.
    pub base_delay: Duration,
    /// The largest backoff step (before jitter). Default 5 s.
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt, and no wait
    /// may end past it. Default 30 s.
    pub max_elapsed: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries. Default 60 s.
    pub max_retry_after: Duration,
    /// Whether a 500 is retried for a replay-safe request (a GET, PUT or DELETE, or a POST
    /// that carries an `Idempotency-Key`). Default `true`: the key exists exactly so that a
    /// replay is harmless, and a 500 is as often passing as a 502 (Stripe's clients make the
    /// same choice). A request that is not replay-safe never is.
    pub retry_500: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            retry_500: true,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Sets `max_attempts` (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the backoff steps.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Sets the total time budget.
    pub fn max_elapsed(mut self, d: Duration) -> Self {
        self.max_elapsed = d;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Sets whether a 500 is retried for a replay-safe request (default `true`).
    pub fn retry_500(mut self, yes: bool) -> Self {
        self.retry_500 = yes;
        self
    }

    /// The full-jitter backoff before retry number `retry` (1 for the first retry):
    /// `jitter * min(max_delay, base_delay * 2^(retry-1))`, `jitter` in `[0, 1)`.
    pub fn backoff_delay(&self, retry: u32, jitter: f64) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let j = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // `mul_f64` panics when the float form of a huge step overflows; never panic here.
        Duration::try_from_secs_f64(step.as_secs_f64() * j)
            .unwrap_or(step)
            .min(step)
    }
}

/// What came back from one attempt.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// An HTTP answer.
    Status {
        /// Its status.
        status: u16,
        /// Its headers (for `Retry-After`).
        headers: &'a HeaderMap,
    },
    /// No answer.
    Transport(&'a TransportError),
}

/// The decision after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Done: hand the outcome to the caller.
    Stop,
    /// Wait this long, then send the same request again.
    RetryAfter(Duration),
}

/// The retry state of one call: the policy, whether the request is replay-safe, and the
/// attempts made so far.
#[derive(Debug, Clone)]
pub struct RetryState {
    policy: RetryPolicy,
    replay_safe: bool,
    attempts: u32,
}

impl RetryState {
    /// A fresh state. `replay_safe`: see [`is_replay_safe`].
    pub fn new(policy: RetryPolicy, replay_safe: bool) -> Self {
        RetryState {
            policy,
            replay_safe,
            attempts: 0,
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records one attempt's outcome and decides. `elapsed`: time since the first attempt
    /// started; `now`: the wall clock (for a `Retry-After` date); `jitter`: a uniform random
    /// number in `[0, 1)`.
    pub fn on_outcome(
        &mut self,
        elapsed: Duration,
        now: SystemTime,
        jitter: f64,
        outcome: Outcome<'_>,
    ) -> RetryDecision {
        self.attempts += 1;
        if self.attempts >= self.policy.max_attempts {
            return RetryDecision::Stop;
        }
        let wait = match outcome {
            Outcome::Status { status, headers } => {
                let retried = match status {
                    429 | 502 | 503 | 504 => true,
                    500 => self.policy.retry_500,
                    _ => false,
                };
                if !retried || !self.replay_safe {
                    return RetryDecision::Stop;
                }
                let hinted = headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now));
                match hinted {
                    Some(d) if d > self.policy.max_retry_after => return RetryDecision::Stop,
                    Some(d) => d,
                    None => self.policy.backoff_delay(self.attempts, jitter),
                }
            }
            Outcome::Transport(e) => {
                let never_sent = e.kind == TransportErrorKind::Connect;
                let final_kind = matches!(
                    e.kind,
                    TransportErrorKind::Other | TransportErrorKind::TooLarge
                );
                if !(never_sent || self.replay_safe) || final_kind {
                    return RetryDecision::Stop;
                }
                self.policy.backoff_delay(self.attempts, jitter)
            }
        };
        if elapsed.saturating_add(wait) > self.policy.max_elapsed {
            return RetryDecision::Stop;
        }
        RetryDecision::RetryAfter(wait)
    }
}

/// Whether sending `req` twice is harmless: GET, HEAD, OPTIONS, PUT and DELETE are, and so is
/// any request with an `Idempotency-Key`.
pub fn is_replay_safe(req: &http::Request<Vec<u8>>) -> bool {
    use http::Method;
    matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    ) || req.headers().contains_key("idempotency-key")
}

/// Maps 64 random bits to a uniform number in `[0, 1)`, for `jitter`.
pub fn jitter_from_bits(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A `Retry-After` header's value (RFC 9110 section 10.2.3): a delay in seconds, or an HTTP
/// date. The one parser of it in the SDK: the retry decision and [`ApiError`](super::ApiError)
/// both read it through here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 120`.
    Delay(Duration),
    /// `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (any of the three HTTP date forms).
    At(SystemTime),
}

impl RetryAfter {
    /// Parses a header value; `None` when it is neither form.
    pub fn parse(value: &str) -> Option<RetryAfter> {
        let v = value.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Some(RetryAfter::Delay(Duration::from_secs(secs)));
        }
        httpdate::parse_http_date(v).ok().map(RetryAfter::At)
    }

    /// The delay from `now` (zero for a date in the past).
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => d,
            RetryAfter::At(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }
}

/// Reads a `Retry-After` value: delay seconds, or an HTTP date (e.g.
/// `Wed, 21 Oct 2015 07:28:00 GMT`) turned into a delay from `now` (zero if past).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    RetryAfter::parse(value).map(|r| r.delay_from(now))
}

/// Parses an HTTP date (IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, and the obsolete RFC 850
/// and asctime forms), with the `httpdate` crate.
pub fn parse_http_date(v: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(v.trim()).ok()
}
