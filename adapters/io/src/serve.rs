//! What every adapter's server does the same way before a media socket becomes a call: the
//! route, the call cap, the auth hook, the handshake bound, and backing off on accept errors.
//! The accept loops themselves live in the adapters (`teler_async::serve`,
//! `teler_blocking::serve`, `teler_tokio::axum_ws`).

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use teler_core::webhook::{TokenClaims, UrlTokenKey, UsedTokens, token_from_query};
use tungstenite::handshake::server::{ErrorResponse, Request};
use tungstenite::http::{Response, StatusCode};

/// Default time a client has to send its request head and finish the upgrade.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on concurrent calls per server.
pub const DEFAULT_MAX_CALLS: usize = 1000;
/// Default cap on connections still in their handshake.
pub const DEFAULT_MAX_HANDSHAKES: usize = 256;
/// Default path of Teler's media stream.
pub const DEFAULT_MEDIA_PATH: &str = "/media-stream";
/// How long an accept loop sleeps after an accept error (descriptors exhausted, …).
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Why a request was refused before the upgrade: the HTTP status and a short reason (sent
/// to the client, so it must say nothing secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status (401, 403, 404, 503, …).
    pub status: u16,
    /// The reason, for the client and the log.
    pub reason: String,
}

impl Refusal {
    /// A refusal with `status` and `reason`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
        }
    }

    /// The HTTP answer for it (`503` carries `Retry-After: 1`).
    #[allow(clippy::result_large_err)]
    pub fn response(&self) -> ErrorResponse {
        let mut resp = Response::new(Some(self.reason.clone()));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        if self.status == 503 {
            resp.headers_mut().insert(
                "retry-after",
                tungstenite::http::HeaderValue::from_static("1"),
            );
        }
        resp
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

/// A check run on the upgrade request before the socket is accepted (and before any agent is
/// dialed): `Err` refuses it with that status. [`MediaTokens`] is one, ready-made.
pub type AuthHook = Arc<dyn Fn(&Request) -> Result<(), Refusal> + Send + Sync>;

/// How a media-stream server accepts sockets.
#[derive(Clone)]
pub struct ServeConfig {
    path: String,
    handshake_timeout: Duration,
    max_calls: usize,
    max_handshakes: usize,
    auth: Option<AuthHook>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            path: DEFAULT_MEDIA_PATH.to_string(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_calls: DEFAULT_MAX_CALLS,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
            auth: None,
        }
    }
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("path", &self.path)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_calls", &self.max_calls)
            .field("max_handshakes", &self.max_handshakes)
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

impl ServeConfig {
    /// The defaults: `/media-stream`, a 10 s handshake, 1000 calls, no auth hook.
    pub fn new() -> Self {
        Self::default()
    }

    /// The path Teler's media socket comes on (default `/media-stream`); other paths get 404.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The time a client has to send its request head and complete the upgrade (default
    /// 10 s); a half-sent or silent connection is closed then.
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    /// The most calls bridged at once (default 1000); past it, upgrades get `503` with
    /// `Retry-After`, before any agent is dialed.
    pub fn max_calls(mut self, n: usize) -> Self {
        self.max_calls = n.max(1);
        self
    }

    /// The most connections still in their handshake at once (default 256); a connection
    /// past it is closed at once, so half-open sockets cannot pile up.
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = n.max(1);
        self
    }

    /// The configured handshake cap.
    pub fn handshake_cap(&self) -> usize {
        self.max_handshakes
    }

    /// A check run on each upgrade request (token, IP, header, …) before it is accepted.
    pub fn auth(
        mut self,
        hook: impl Fn(&Request) -> Result<(), Refusal> + Send + Sync + 'static,
    ) -> Self {
        self.auth = Some(Arc::new(hook));
        self
    }

    /// The configured path.
    pub fn media_path(&self) -> &str {
        &self.path
    }

    /// The configured handshake bound.
    pub fn handshake_limit(&self) -> Duration {
        self.handshake_timeout
    }

    /// The configured cap.
    pub fn call_cap(&self) -> usize {
        self.max_calls
    }

    /// The decision on one upgrade request: the route, the auth hook, the drain, then a
    /// call slot (held for the call's life). `calls` is the server's counter of live calls;
    /// `draining` whether the connector is draining ([`Calls::is_draining`](crate::Calls::is_draining)),
    /// which refuses the stream with 503 and `Retry-After` so Teler's retry lands on another
    /// instance.
    pub fn admit(
        &self,
        req: &Request,
        calls: &CallCount,
        draining: bool,
    ) -> Result<CallSlot, Refusal> {
        if req.uri().path() != self.path {
            return Err(Refusal::new(404, "not found"));
        }
        if let Some(auth) = &self.auth {
            auth(req)?;
        }
        if draining {
            return Err(Refusal::new(503, "draining, retry later"));
        }
        calls
            .acquire(self.max_calls)
            .ok_or_else(|| Refusal::new(503, "too many calls, retry later"))
    }

    /// A tungstenite handshake callback that runs [`admit`](Self::admit) and keeps the slot
    /// in `slot` (refusals are answered before the upgrade).
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    pub fn callback<'a>(
        &'a self,
        calls: &'a CallCount,
        live: &'a crate::Calls,
        slot: &'a mut Option<CallSlot>,
    ) -> impl FnOnce(
        &Request,
        tungstenite::handshake::server::Response,
    ) -> Result<tungstenite::handshake::server::Response, ErrorResponse>
    + 'a {
        move |req, resp| match self.admit(req, calls, live.is_draining()) {
            Ok(s) => {
                *slot = Some(s);
                Ok(resp)
            }
            Err(refusal) => {
                #[cfg(feature = "tracing")]
                tracing::debug!(status = refusal.status, reason = %refusal.reason, "media stream refused before the upgrade");
                Err(refusal.response())
            }
        }
    }
}

/// Live calls on one server.
#[derive(Debug, Clone, Default)]
pub struct CallCount(Arc<AtomicUsize>);

impl CallCount {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls live now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// A slot if fewer than `max` are taken.
    pub fn acquire(&self, max: usize) -> Option<CallSlot> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| CallSlot(self.0.clone()))
    }
}

/// One live call's place under the cap; freed when dropped.
#[derive(Debug)]
pub struct CallSlot(Arc<AtomicUsize>);

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What an accept loop does after an accept error: sleep [`ACCEPT_BACKOFF`] (so running out
/// of descriptors does not spin a core) and log at most one line a second, with the count
/// of errors in between.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    last_log: Option<Instant>,
    since_log: u64,
}

impl AcceptErrors {
    /// Notes an accept error at `now`; returns how long to sleep before the next accept.
    pub fn on_error(&mut self, e: &io::Error, now: Instant) -> Duration {
        self.since_log += 1;
        let due = self
            .last_log
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
        if due {
            #[cfg(feature = "tracing")]
            tracing::warn!(error = %e, errors = self.since_log, "accept failed; backing off");
            #[cfg(not(feature = "tracing"))]
            let _ = e;
            self.last_log = Some(now);
            self.since_log = 0;
        }
        ACCEPT_BACKOFF
    }

    /// Errors since the last log line.
    pub fn pending(&self) -> u64 {
        self.since_log
    }
}

/// The ready-made auth hook: the request's `?teler_token=` must be a valid, unexpired media
/// token of this key (`teler_core::webhook::UrlTokenKey`), never used before. Used tokens are
/// remembered by digest until they expire (`UsedTokens`), so a token opens one stream in
/// its whole life, whatever its length.
pub struct MediaTokens {
    key: UrlTokenKey,
    used: std::sync::Mutex<UsedTokens>,
    refuse_subject: Option<String>,
    #[cfg(feature = "redis")]
    fleet: Option<Arc<crate::fleet::RedisFleet>>,
}

impl fmt::Debug for MediaTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaTokens").finish_non_exhaustive()
    }
}

impl MediaTokens {
    /// Checks tokens of `key`, remembering up to 100,000 unexpired used ones.
    pub fn new(key: UrlTokenKey) -> Self {
        MediaTokens {
            key,
            used: std::sync::Mutex::new(UsedTokens::new(100_000)),
            refuse_subject: None,
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }

    /// Remembers used tokens fleet-wide in `fleet`'s Redis instead of in this process: a
    /// token used on one instance is refused on every other. When Redis cannot answer, the
    /// stream is refused (503 with `Retry-After`: fail closed) and counted.
    ///
    /// The check blocks the handshake's thread for at most the fleet's operation timeout:
    /// right for a blocking server. In an async server, check in your route with the async
    /// client instead (`AsyncRedisFleet::check_media_token` in `teler-tokio`/`teler-smol`),
    /// so a slow Redis never holds an executor thread.
    #[cfg(feature = "redis")]
    pub fn fleet(mut self, fleet: Arc<crate::fleet::RedisFleet>) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// Refuses tokens minted for `subject` (e.g. the flow URL's token, which must not open a
    /// media stream).
    pub fn refuse_subject(mut self, subject: impl Into<String>) -> Self {
        self.refuse_subject = Some(subject.into());
        self
    }

    /// Checks one request target (path and query) at `now` (unix seconds).
    pub fn check(&self, target: &str, now: u64) -> Result<TokenClaims, Refusal> {
        let (claims, token) = self.verify(target, now)?;
        #[cfg(feature = "redis")]
        if let Some(fleet) = &self.fleet {
            use teler_core::fleet::OnceKind;
            let ttl = token_lifetime(&claims, now);
            let verdict = fleet.remember_once(OnceKind::MediaToken, token.as_bytes(), ttl);
            return token_verdict(verdict).map(|()| claims);
        }
        let fresh = self
            .used
            .lock()
            .map(|mut used| used.use_once(token, claims.expires_at, now))
            .unwrap_or(false);
        if !fresh {
            return Err(Refusal::new(
                401,
                "media stream refused: the token was already used",
            ));
        }
        Ok(claims)
    }

    /// Checks a target's token (signature, expiry, subject) without remembering it: the
    /// claims and the token itself, for a single-use check against a store of your own (an
    /// async fleet's `check_media_token` does it this way, with [`token_lifetime`] and
    /// [`token_verdict`]).
    pub fn verify<'t>(&self, target: &'t str, now: u64) -> Result<(TokenClaims, &'t str), Refusal> {
        let token = token_from_query(target).unwrap_or("");
        let claims = self
            .key
            .verify(token, now)
            .map_err(|e| Refusal::new(401, format!("media stream refused: {e}")))?;
        if self.refuse_subject.as_deref() == Some(claims.call_id.as_str()) {
            return Err(Refusal::new(401, "media stream refused: not a media token"));
        }
        Ok((claims, token))
    }

    /// As an [`AuthHook`] for [`ServeConfig::auth`].
    pub fn hook(self) -> impl Fn(&Request) -> Result<(), Refusal> + Send + Sync + 'static {
        move |req: &Request| {
            let target = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("");
            self.check(target, unix_now()).map(|_| ())
        }
    }
}

/// How long a used token must be remembered: until it expires (at least a second).
pub fn token_lifetime(claims: &TokenClaims, now: u64) -> Duration {
    Duration::from_secs(claims.expires_at.saturating_sub(now).max(1))
}

/// A single-use check's verdict as the server answers it: a first use passes, a reuse is
/// 401, and a store that could not answer is 503 with `Retry-After` (fail closed).
pub fn token_verdict(verdict: teler_core::fleet::Verdict) -> Result<(), Refusal> {
    use teler_core::fleet::Verdict;
    match verdict {
        Verdict::Accept | Verdict::AcceptUnchecked => Ok(()),
        Verdict::Duplicate => Err(Refusal::new(
            401,
            "media stream refused: the token was already used",
        )),
        Verdict::Refuse => Err(Refusal::new(
            503,
            "media stream refused: the token store is unavailable, retry later",
        )),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(target: &str) -> Request {
        Request::builder().uri(target).body(()).unwrap()
    }

    #[test]
    fn admits_by_path_auth_and_cap() {
        let cfg = ServeConfig::new().max_calls(1).auth(|r: &Request| {
            if r.uri().query() == Some("ok") {
                Ok(())
            } else {
                Err(Refusal::new(401, "no"))
            }
        });
        let calls = CallCount::new();
        assert_eq!(
            cfg.admit(&req("/other?ok"), &calls, false)
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            cfg.admit(&req("/media-stream"), &calls, false)
                .unwrap_err()
                .status,
            401
        );
        let slot = cfg.admit(&req("/media-stream?ok"), &calls, false).unwrap();
        assert_eq!(calls.get(), 1);
        let full = cfg
            .admit(&req("/media-stream?ok"), &calls, false)
            .unwrap_err();
        assert_eq!(full.status, 503);
        assert_eq!(full.response().headers()["retry-after"], "1");
        drop(slot);
        assert_eq!(calls.get(), 0);
        assert!(cfg.admit(&req("/media-stream?ok"), &calls, false).is_ok());
        // Draining: refused with 503 and Retry-After after auth, and no slot is taken.
        let drain = cfg
            .admit(&req("/media-stream?ok"), &calls, true)
            .unwrap_err();
        assert_eq!(
            (drain.status, drain.reason.as_str()),
            (503, "draining, retry later")
        );
        assert_eq!(drain.response().headers()["retry-after"], "1");
        assert_eq!(calls.get(), 0);
        assert_eq!(
            cfg.admit(&req("/media-stream"), &calls, true)
                .unwrap_err()
                .status,
            401,
            "a stranger learns nothing of the drain"
        );
        assert!(!format!("{cfg:?}").contains("ok"));
    }

    #[test]
    fn settings_are_kept_and_shown_without_the_hook() {
        let cfg = ServeConfig::new()
            .path("/teler")
            .handshake_timeout(Duration::from_millis(1234))
            .max_calls(7)
            .max_handshakes(9)
            .auth(|_: &Request| Err(Refusal::new(403, "secret-reason")));
        assert_eq!(cfg.media_path(), "/teler");
        assert_eq!(cfg.handshake_limit(), Duration::from_millis(1234));
        assert_eq!((cfg.call_cap(), cfg.handshake_cap()), (7, 9));
        let shown = format!("{cfg:?}");
        assert!(
            shown.contains("/teler") && shown.contains("auth: true"),
            "{shown}"
        );
        let d = ServeConfig::default();
        assert_eq!(d.media_path(), DEFAULT_MEDIA_PATH);
        assert_eq!(d.handshake_limit(), DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(
            (d.call_cap(), d.handshake_cap()),
            (DEFAULT_MAX_CALLS, DEFAULT_MAX_HANDSHAKES)
        );
        // Caps of zero would refuse everything: they are taken as one.
        assert_eq!(
            ServeConfig::new().max_calls(0).max_handshakes(0).call_cap(),
            1
        );
        assert_eq!(ServeConfig::new().max_handshakes(0).handshake_cap(), 1);
        // The hook runs, and its refusal is the answer.
        let refused = cfg
            .admit(&req("/teler"), &CallCount::new(), false)
            .unwrap_err();
        assert_eq!(refused, Refusal::new(403, "secret-reason"));
        assert_eq!(refused.response().status(), 403);
        assert!(refused.response().headers().get("retry-after").is_none());
        assert_eq!(refused.to_string(), "403 secret-reason");
    }

    #[test]
    fn the_clock_is_the_real_one() {
        // Tokens are checked against the wall clock: not zero, not a constant.
        let now = unix_now();
        assert!(now > 1_700_000_000, "{now}");
        let tokens = MediaTokens::new(UrlTokenKey::new("k".repeat(32)).unwrap());
        assert_eq!(format!("{tokens:?}"), "MediaTokens { .. }");
    }

    #[test]
    fn accept_errors_back_off_and_log_once_a_second() {
        let mut errs = AcceptErrors::default();
        let e = io::Error::other("EMFILE");
        let t0 = Instant::now();
        assert_eq!(errs.on_error(&e, t0), ACCEPT_BACKOFF);
        assert_eq!(errs.pending(), 0, "the first error is logged");
        for i in 1..=100 {
            errs.on_error(&e, t0 + Duration::from_millis(i));
        }
        assert_eq!(errs.pending(), 100, "no line within the second");
        errs.on_error(&e, t0 + Duration::from_secs(1));
        assert_eq!(errs.pending(), 0, "one line a second");
    }

    #[test]
    fn media_tokens_are_single_use_whatever_their_length() {
        let key = UrlTokenKey::new("k".repeat(32)).unwrap();
        let long_call = "c".repeat(200);
        let token = key.mint(&long_call, 2_000_000_000);
        let target = format!("/media-stream?teler_token={token}");
        let tokens = MediaTokens::new(key.clone()).refuse_subject("flow");
        assert_eq!(tokens.check(&target, 1_000).unwrap().call_id, long_call);
        let again = tokens.check(&target, 1_001).unwrap_err();
        assert!(again.reason.contains("already used"), "{again}");
        let flow = format!(
            "/media-stream?teler_token={}",
            key.mint("flow", 2_000_000_000)
        );
        assert_eq!(tokens.check(&flow, 1_000).unwrap_err().status, 401);
        assert_eq!(
            tokens.check("/media-stream", 1_000).unwrap_err().status,
            401
        );
        assert!(!format!("{tokens:?}").contains("kkkk"));
    }

    #[test]
    fn verify_checks_without_using_the_token_up() {
        let key = UrlTokenKey::new("k".repeat(32)).unwrap();
        let target = format!("/media-stream?teler_token={}", key.mint("cs_1", 1_100));
        let tokens = MediaTokens::new(key.clone()).refuse_subject("flow");
        let (claims, token) = tokens.verify(&target, 1_000).unwrap();
        assert_eq!(
            (claims.call_id.as_str(), claims.expires_at),
            ("cs_1", 1_100)
        );
        assert!(target.ends_with(token) && !token.is_empty());
        // Not used up by verify: the check still takes it once.
        assert!(tokens.verify(&target, 1_000).is_ok());
        assert!(tokens.check(&target, 1_000).is_ok());
        assert_eq!(tokens.check(&target, 1_000).unwrap_err().status, 401);
        // Expired, flow-subject and missing tokens are refused by verify alone.
        assert_eq!(tokens.verify(&target, 1_101).unwrap_err().status, 401);
        let flow = format!("/media-stream?teler_token={}", key.mint("flow", 1_100));
        assert_eq!(tokens.verify(&flow, 1_000).unwrap_err().status, 401);
        assert_eq!(
            tokens.verify("/media-stream", 1_000).unwrap_err().status,
            401
        );
    }

    #[test]
    fn a_used_token_is_remembered_until_it_expires_and_verdicts_map_to_answers() {
        use teler_core::fleet::Verdict;
        let claims = |expires_at| TokenClaims {
            call_id: "cs".into(),
            expires_at,
        };
        assert_eq!(
            token_lifetime(&claims(1_600), 1_000),
            Duration::from_secs(600)
        );
        assert_eq!(
            token_lifetime(&claims(1_001), 1_000),
            Duration::from_secs(1)
        );
        // At or past expiry (a token verified in the same second): at least a second.
        assert_eq!(
            token_lifetime(&claims(1_000), 1_000),
            Duration::from_secs(1)
        );
        assert_eq!(token_lifetime(&claims(900), 1_000), Duration::from_secs(1));
        assert!(token_verdict(Verdict::Accept).is_ok());
        assert!(token_verdict(Verdict::AcceptUnchecked).is_ok());
        let reused = token_verdict(Verdict::Duplicate).unwrap_err();
        assert_eq!(reused.status, 401);
        assert!(reused.reason.contains("already used"), "{reused}");
        let down = token_verdict(Verdict::Refuse).unwrap_err();
        assert_eq!(down.status, 503);
        assert_eq!(down.response().headers()["retry-after"], "1");
    }
}
