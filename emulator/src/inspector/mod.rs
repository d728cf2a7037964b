//! The call inspector and dev phone: a page at `/` (assets embedded in the binary), its API
//! under `/inspector/api`, a live feed (Server-Sent Events) and the dev phone's WebSocket.
//!
//! - **Access**: every route but the login page and the static assets needs a session
//!   cookie or the emulator's API key (`x-api-key`). A session is opened by
//!   `GET /?token=…` with a one-time token (printed at start, or made by
//!   [`EmulatorHandle::inspector_url`](crate::EmulatorHandle::inspector_url)) or by posting
//!   the API key to the login form. State-changing requests and the phone's WebSocket must
//!   come from the page's own origin when the browser says where they come from (`Origin`).
//! - **No secrets in the page**: the data is built from calls, never from the settings, and
//!   every payload passes [`Redactor`]: query-string values whose name says token, key,
//!   secret, signature, auth or password are replaced, and the API key and webhook secret
//!   are replaced wherever they appear.
//! - **A bounded feed**: changes are announced on a `tokio::sync::broadcast` channel of call
//!   ids ([`FEED_CAPACITY`]); each subscriber coalesces them into at most one update per
//!   call per [`FEED_TICK`]. A subscriber that falls behind loses the oldest announcements
//!   (drop-oldest) and is sent a `resync` (the full call list) instead; a browser that stops
//!   reading stops its stream being polled, so nothing grows for it. At most
//!   [`MAX_SUBSCRIBERS`] feeds and [`MAX_PHONES`] phones at once.

mod log;
mod phone;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::broadcast;

pub(crate) use log::{Dir, MAX_RECORDING_SECS};
pub(crate) use phone::{PhoneIn, PhoneLink, claim as claim_phone};

use crate::store::Shared;

/// Call-id announcements the feed holds; a subscriber further behind gets a `resync`.
pub const FEED_CAPACITY: usize = 1024;
/// How often a subscriber sends what changed (at most one update per call per tick).
pub const FEED_TICK: Duration = Duration::from_millis(250);
/// Live feeds open at once.
pub const MAX_SUBSCRIBERS: usize = 32;
/// Dev phones connected at once.
pub const MAX_PHONES: usize = 16;
/// Sessions kept (the oldest are logged out).
const MAX_SESSIONS: usize = 64;
/// One-time tokens not yet used.
const MAX_TOKENS: usize = 16;
const COOKIE: &str = "teler_inspector";

const PAGE: &str = include_str!("../../assets/inspector.html");
const LOGIN: &str = include_str!("../../assets/login.html");
const SCRIPT: &str = include_str!("../../assets/inspector.js");
const STYLE: &str = include_str!("../../assets/inspector.css");

/// The inspector's state, one per emulator.
#[derive(Debug)]
pub(crate) struct Inspector {
    enabled: bool,
    tokens: Mutex<VecDeque<String>>,
    sessions: Mutex<VecDeque<String>>,
    feed: broadcast::Sender<Arc<str>>,
    subscribers: AtomicUsize,
    phones: AtomicUsize,
    logs: Mutex<log::Logs>,
    ready: Mutex<VecDeque<phone::Ready>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// 32 hex digits from the OS's random source.
fn random_hex() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: refuse every token rather than hand out a guessable one.
        return String::new();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Inspector {
    pub fn new(enabled: bool) -> Inspector {
        Inspector {
            enabled,
            tokens: Mutex::default(),
            sessions: Mutex::default(),
            feed: broadcast::channel(FEED_CAPACITY).0,
            subscribers: AtomicUsize::new(0),
            phones: AtomicUsize::new(0),
            logs: Mutex::default(),
            ready: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A fresh one-time login token, or `None` when the inspector is off.
    pub fn mint_token(&self) -> Option<String> {
        if !self.enabled {
            return None;
        }
        let t = random_hex();
        if t.is_empty() {
            return None;
        }
        let mut tokens = lock(&self.tokens);
        tokens.push_back(t.clone());
        while tokens.len() > MAX_TOKENS {
            tokens.pop_front();
        }
        Some(t)
    }

    /// Spends a one-time token; true if it was valid.
    fn spend_token(&self, t: &str) -> bool {
        let mut tokens = lock(&self.tokens);
        match tokens
            .iter()
            .position(|x| ct_eq(x.as_bytes(), t.as_bytes()))
        {
            Some(i) => {
                tokens.remove(i);
                true
            }
            None => false,
        }
    }

    fn new_session(&self) -> Option<String> {
        let s = random_hex();
        if s.is_empty() {
            return None;
        }
        let mut sessions = lock(&self.sessions);
        sessions.push_back(s.clone());
        while sessions.len() > MAX_SESSIONS {
            sessions.pop_front();
        }
        Some(s)
    }

    /// Announces that call `id` changed (nothing when no page listens).
    pub fn touch(&self, id: &str) {
        if self.enabled && self.feed.receiver_count() > 0 {
            let _ = self.feed.send(Arc::from(id));
        }
    }

    /// Runs `f` on the logs, if the inspector is on.
    pub fn log(&self, f: impl FnOnce(&mut log::Logs)) {
        if self.enabled {
            f(&mut lock(&self.logs));
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the inspector's API answers when it refuses: `{"error": kind, "message"}`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InspectorError {
    #[error("log in first: open the inspector URL the emulator printed, or send x-api-key")]
    Unauthorized,
    #[error("the request came from another origin ({0})")]
    WrongOrigin(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("too many open {0}; close one and retry")]
    Busy(&'static str),
}

impl InspectorError {
    fn kind(&self) -> (StatusCode, &'static str) {
        match self {
            InspectorError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            InspectorError::WrongOrigin(_) => (StatusCode::FORBIDDEN, "wrong_origin"),
            InspectorError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            InspectorError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            InspectorError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        }
    }
}

impl IntoResponse for InspectorError {
    fn into_response(self) -> Response {
        let (status, kind) = self.kind();
        (
            status,
            axum::Json(json!({ "error": kind, "message": self.to_string() })),
        )
            .into_response()
    }
}

type St = State<Arc<Shared>>;

fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn authorised(sh: &Shared, headers: &HeaderMap) -> Result<(), InspectorError> {
    if let Some(k) = headers.get("x-api-key")
        && ct_eq(k.as_bytes(), sh.cfg.api_key.as_bytes())
    {
        return Ok(());
    }
    if let Some(s) = cookie_session(headers) {
        let sessions = lock(&sh.inspector.sessions);
        if sessions.iter().any(|x| ct_eq(x.as_bytes(), s.as_bytes())) {
            return Ok(());
        }
    }
    Err(InspectorError::Unauthorized)
}

/// A browser names the page that sent a request in `Origin`; it must be this server.
fn same_origin(headers: &HeaderMap) -> Result<(), InspectorError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(()); // not a browser's cross-origin request
    };
    let origin = origin.to_str().unwrap_or("?");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if origin == format!("http://{host}") {
        Ok(())
    } else {
        Err(InspectorError::WrongOrigin(origin.to_owned()))
    }
}

fn session_cookie(session: &str) -> String {
    format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/")
}

/// The inspector's routes (empty when it is off).
pub(crate) fn router(sh: Arc<Shared>) -> Router {
    if !sh.inspector.enabled {
        return Router::new();
    }
    Router::new()
        .route("/", get(page))
        .route("/inspector/login", post(login))
        .route("/inspector/assets/inspector.js", get(script))
        .route("/inspector/assets/inspector.css", get(style))
        .route("/inspector/api/calls", get(list))
        .route("/inspector/api/calls/{id}", get(detail))
        .route("/inspector/api/calls/{id}/recording/{leg}", get(recording))
        .route("/inspector/api/events", get(events))
        .route("/inspector/api/phone", get(phone_socket))
        .with_state(sh)
}

fn html(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self' blob:",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn page(State(sh): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let token = q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="));
    if let Some(t) = token {
        // Exchange the one-time token for a session, then drop it from the address bar.
        return match sh
            .inspector
            .spend_token(t)
            .then(|| sh.inspector.new_session())
            .flatten()
        {
            Some(s) => (
                [(header::SET_COOKIE, session_cookie(&s))],
                Redirect::to("/"),
            )
                .into_response(),
            None => (StatusCode::UNAUTHORIZED, html(LOGIN)).into_response(),
        };
    }
    match authorised(&sh, &headers) {
        Ok(()) => html(PAGE),
        Err(_) => (StatusCode::UNAUTHORIZED, html(LOGIN)).into_response(),
    }
}

/// The login form: the API key (or a one-time token) in `secret=`.
async fn login(State(sh): St, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(e) = same_origin(&headers) {
        return e.into_response();
    }
    let body = String::from_utf8_lossy(&body);
    let secret = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("secret="))
        .map(form_decode)
        .unwrap_or_default();
    let ok = !secret.is_empty()
        && (ct_eq(secret.as_bytes(), sh.cfg.api_key.as_bytes())
            || sh.inspector.spend_token(&secret));
    match ok.then(|| sh.inspector.new_session()).flatten() {
        Some(s) => (
            [(header::SET_COOKIE, session_cookie(&s))],
            Redirect::to("/"),
        )
            .into_response(),
        None => (StatusCode::UNAUTHORIZED, html(LOGIN)).into_response(),
    }
}

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// Hides secrets in everything the page is sent.
pub(crate) struct Redactor<'a> {
    literals: Vec<&'a str>,
}

/// Query parameters whose value is hidden: names containing one of these.
const SENSITIVE: [&str; 8] = [
    "token",
    "key",
    "secret",
    "sig",
    "auth",
    "pass",
    "jwt",
    "credential",
];
const REDACTED: &str = "[redacted]";

impl<'a> Redactor<'a> {
    pub fn new(sh: &'a Shared) -> Self {
        let mut literals = vec![sh.cfg.api_key.as_str()];
        if let Some(s) = &sh.cfg.secret {
            literals.push(s.as_str());
        }
        // Too short a value could match ordinary text; JSON-special characters would break
        // the document. Such a value is still never put in the page's data.
        literals.retain(|l| l.len() >= 6 && !l.contains(['"', '\\']));
        Redactor { literals }
    }

    /// `text` with secrets replaced.
    pub fn text(&self, text: &str) -> String {
        let mut s = redact_query_values(text);
        for l in &self.literals {
            if s.contains(l) {
                s = s.replace(l, REDACTED);
            }
        }
        s
    }
}

/// Replaces the value of every `?name=` / `&name=` whose name looks sensitive.
fn redact_query_values(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            // The name: back to `?` or `&`.
            let mut j = i;
            while j > 0
                && (b[j - 1].is_ascii_alphanumeric() || b[j - 1] == b'_' || b[j - 1] == b'-')
            {
                j -= 1;
            }
            let name = text[j..i].to_ascii_lowercase();
            let introduced = j > 0 && (b[j - 1] == b'?' || b[j - 1] == b'&');
            if introduced && !name.is_empty() && SENSITIVE.iter().any(|w| name.contains(w)) {
                let mut k = i + 1;
                while k < b.len()
                    && !matches!(
                        b[k],
                        b'&' | b'"' | b'\\' | b'#' | b' ' | b'\'' | b'<' | b'>'
                    )
                    && !b[k].is_ascii_whitespace()
                {
                    k += 1;
                }
                if k > i + 1 {
                    out.push_str(&text[last..=i]);
                    out.push_str(REDACTED);
                    last = k;
                }
                i = k;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

/// A call as the page sees it: the REST call object and the inspector's log (with the
/// per-second frame counts and marks when `detail`), redacted. `None` for an unknown id.
fn view(sh: &Shared, id: &str, detail: bool) -> Option<Value> {
    let call = sh.store().calls.get(id).map(|e| e.call.clone())?;
    let log = {
        let logs = lock(&sh.inspector.logs);
        match logs.get(id) {
            Some(l) => {
                let mut v = json!({
                    "states": l.states,
                    "flows": l.flows,
                    "phone": l.phone,
                    "recording": l.recording_summary(),
                    "marks_total": l.marks.len(),
                });
                if detail {
                    v["seconds"] = json!(l.seconds);
                    v["marks"] = json!(l.marks);
                }
                v
            }
            None => json!({}),
        }
    };
    let v = json!({ "call": call, "log": log, "signed": sh.cfg.secret.is_some() });
    let text = Redactor::new(sh).text(&v.to_string());
    serde_json::from_str(&text).ok()
}

fn all_views(sh: &Shared) -> Value {
    let ids: Vec<String> = {
        let st = sh.store();
        st.order.iter().rev().take(200).cloned().collect()
    };
    Value::Array(ids.iter().filter_map(|id| view(sh, id, false)).collect())
}

async fn list(State(sh): St, headers: HeaderMap) -> Result<Response, InspectorError> {
    authorised(&sh, &headers)?;
    Ok(axum::Json(json!({ "calls": all_views(&sh) })).into_response())
}

async fn detail(
    State(sh): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, InspectorError> {
    authorised(&sh, &headers)?;
    let v = view(&sh, &id, true).ok_or_else(|| InspectorError::NotFound(format!("call {id}")))?;
    Ok(axum::Json(v).into_response())
}

async fn recording(
    State(sh): St,
    headers: HeaderMap,
    Path((id, leg)): Path<(String, String)>,
) -> Result<Response, InspectorError> {
    authorised(&sh, &headers)?;
    let which = match leg.as_str() {
        "caller.wav" => "caller",
        "heard.wav" => "heard",
        other => {
            return Err(InspectorError::BadRequest(format!(
                "no leg {other:?} (caller.wav: what the caller said; heard.wav: what the caller heard)"
            )));
        }
    };
    let pcm = {
        let logs = lock(&sh.inspector.logs);
        let l = logs
            .get(&id)
            .ok_or_else(|| InspectorError::NotFound(format!("call {id}")))?;
        let leg = if which == "caller" {
            &l.caller
        } else {
            &l.heard
        };
        if leg.rate == 0 {
            return Err(InspectorError::NotFound(format!(
                "a recording of call {id} (kept once a stream ends, for the {} newest calls)",
                log::MAX_RECORDED_CALLS
            )));
        }
        crate::wav::Pcm {
            sample_rate: leg.rate,
            samples: leg.samples.clone(),
        }
    };
    let name = format!("{id}-{which}.wav");
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(InspectorError::BadRequest("bad call id".into()));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        pcm.to_wav_bytes(),
    )
        .into_response())
}

/// Holds one of the open feeds or phones counted in `which`; refused past `max`.
struct Held {
    sh: Arc<Shared>,
    which: fn(&Inspector) -> &AtomicUsize,
}

impl Held {
    fn take(
        sh: &Arc<Shared>,
        which: fn(&Inspector) -> &AtomicUsize,
        max: usize,
        what: &'static str,
    ) -> Result<Held, InspectorError> {
        let n = which(&sh.inspector);
        if n.fetch_add(1, Ordering::SeqCst) >= max {
            n.fetch_sub(1, Ordering::SeqCst);
            return Err(InspectorError::Busy(what));
        }
        Ok(Held {
            sh: sh.clone(),
            which,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        (self.which)(&self.sh.inspector).fetch_sub(1, Ordering::SeqCst);
    }
}

/// One subscriber's feed state.
struct Feed {
    sh: Arc<Shared>,
    rx: broadcast::Receiver<Arc<str>>,
    dirty: HashSet<Arc<str>>,
    out: VecDeque<Event>,
    resync: bool,
    tick: tokio::time::Interval,
}

async fn events(State(sh): St, headers: HeaderMap) -> Result<Response, InspectorError> {
    authorised(&sh, &headers)?;
    // Held for as long as the stream lives.
    let release = Held::take(&sh, |i| &i.subscribers, MAX_SUBSCRIBERS, "live feeds")?;
    let mut tick = tokio::time::interval(FEED_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        rx: sh.inspector.feed.subscribe(),
        sh: sh.clone(),
        dirty: HashSet::new(),
        out: VecDeque::from([Event::default()
            .event("resync")
            .data(json!({ "calls": all_views(&sh) }).to_string())]),
        resync: false,
        tick,
    };
    let stream = futures_util::stream::unfold((feed, release), |(mut f, r)| async move {
        loop {
            if let Some(ev) = f.out.pop_front() {
                return Some((Ok::<_, std::convert::Infallible>(ev), (f, r)));
            }
            tokio::select! {
                m = f.rx.recv() => match m {
                    Ok(id) => { f.dirty.insert(id); }
                    // Fell behind: the oldest announcements are gone; send everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => f.resync = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = f.tick.tick() => {
                    if f.resync {
                        f.resync = false;
                        f.dirty.clear();
                        f.out.push_back(Event::default().event("resync")
                            .data(json!({ "calls": all_views(&f.sh) }).to_string()));
                    }
                    for id in f.dirty.drain() {
                        if let Some(v) = view(&f.sh, &id, false) {
                            f.out.push_back(Event::default().event("call").data(v.to_string()));
                        }
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

async fn phone_socket(
    State(sh): St,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, InspectorError> {
    authorised(&sh, &headers)?;
    same_origin(&headers)?;
    let held = Held::take(&sh, |i| &i.phones, MAX_PHONES, "dev phones")?;
    Ok(ws
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| async move {
            phone::run(sh, socket).await;
            drop(held);
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_that_look_secret_are_hidden() {
        let s = r#"{"ws_url":"ws://h/media-stream?token=abc.def&call=1","u":"http://h/flow?api_key=k1#x","x":"a=b&secret=zz"}"#;
        let r = redact_query_values(s);
        assert!(!r.contains("abc.def"), "{r}");
        assert!(!r.contains("k1"), "{r}");
        assert!(!r.contains("zz"), "{r}");
        assert!(r.contains("call=1"), "{r}");
        assert!(r.contains("?token=[redacted]&call=1"), "{r}");
        serde_json::from_str::<Value>(&r).unwrap();
        assert_eq!(redact_query_values("a=b c=d"), "a=b c=d");
        assert_eq!(redact_query_values("?token="), "?token=");
        assert_eq!(redact_query_values("=x"), "=x");
    }

    #[test]
    fn form_values_decode() {
        assert_eq!(form_decode("a+b%21"), "a b!");
        assert_eq!(form_decode("%"), "%");
        assert_eq!(form_decode("%4"), "%4");
        assert_eq!(form_decode("%zz"), "%zz");
    }
}
