//! Ready-made handlers for a Sarvam voice agent (Samvaad, Sarvam's Conversational AI
//! platform for Indian languages): JSON text frames with a namespaced `type`, base64 PCM16
//! both ways.
//!
//! The socket comes from a pre-socket request: [`SignedUrl`] (`GET
//! {API_BASE}/orgs/{org_id}/workspaces/{workspace_id}/apps/{app_id}/url?interaction_type=call`
//! with the `X-API-Key` header) answers with a time-limited signed socket URL, to which the
//! request adds the query parameters the socket needs (`user_identifier`,
//! `user_identifier_type`, `interaction_type`, and the sample rates). Build it from the same
//! [`Config`] as the handlers, so the rates agree. The signed URL is a credential: the
//! bridge logs it with its query redacted.
//!
//! Every message this side sends carries `"origin":"client"` and a `timestamp` (Unix
//! seconds, from [`Config::clock`] and the bridge's time: the core reads no clock).
//!
//! The call side ([`CallHandler`]):
//!
//! - once the socket is open it sends `client.action.interaction_start` with
//!   [`Config::agent_variables`], `initial_language_name`, `initial_bot_message` and
//!   `initial_state_name` (those that are set);
//! - it **holds caller audio until the agent's `server.action.interaction_connected`** (or
//!   its first audio), then sends what it held, in order, with the next caller frame (about
//!   10 s at most is held; older audio is dropped past that);
//! - each Teler `audio` frame is resampled to [`Config::input_rate`] and sent as
//!   `{"type":"client.media.audio_chunk","origin":"client","timestamp":T,"format":"audio/wav","sample_rate":R,"audio_base64":B}`
//!   (raw PCM16 LE mono, no WAV header, despite the format's name);
//! - the keep-alive: the agent sends `server.system.ping` with an `event_id`; the remote
//!   side hands the id over and this side answers `client.system.pong` with the same
//!   `event_id` at once (through [`StreamHandler::poll_timeout`], or with the next caller
//!   frame outside a bridge). Teler streams the caller continuously, so audio flows too;
//! - everything else from Teler is passed.
//!
//! The remote side ([`RemoteHandler`]):
//!
//! - `server.media.audio_chunk`: agent audio (`audio_base64`, PCM16 at the chunk's
//!   `sample_rate`, [`Config::output_rate`] when absent; a WAV header, if a chunk has one,
//!   is read for the rate and skipped), resampled to 8 kHz and cut into Teler chunks of
//!   [`Config::chunk`] with `chunk_id` from 1; a chunk with `"status":"completed"` ends the
//!   agent's turn and the remainder goes out; `"status":"failed"` is a handler error;
//! - `server.event.user_interrupt`: barge-in, held audio dropped, `clear` to Teler;
//! - `server.action.interaction_connected`: caller audio may flow;
//! - `server.system.ping`: answered by the call side (above);
//! - `server.action.interaction_end`: the remainder goes out (the service then closes);
//! - a message whose type ends in `error` would be a handler error with its `message`
//!   (none is documented; the service is reported to close the socket instead);
//! - everything else (`server.event.transcription`, `server.media.text`,
//!   `server.event.state_transition`, …) is passed.
//!
//! ```
//! use teler_core::agents::sarvam;
//! use teler_core::media::{Message, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = sarvam::Config::default().handlers();
//! let mut out = Outbox::default();
//! call.on_remote_connected(&mut out).unwrap();
//! let start: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
//! assert_eq!(start["type"], "client.action.interaction_start");
//!
//! // Caller audio is held until the interaction is connected.
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAAAAAAA="}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Pass);
//! let connected = r#"{"type":"server.action.interaction_connected","origin":"server","timestamp":1.0,"reference_id":"r","interaction_id":"i"}"#;
//! remote.handle(&Message::from_text(connected), &mut Outbox::default()).unwrap();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Relay);
//! assert_eq!(out.messages().len(), 2);
//!
//! // Barge-in.
//! let mut out = Outbox::default();
//! let interrupt = r#"{"type":"server.event.user_interrupt","origin":"server","timestamp":2.0}"#;
//! remote.handle(&Message::from_text(interrupt), &mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::common::{CallerAudio, ReadyFlag, with_teler};
use super::presocket::{VendorRequest, parse_json, request, socket_url};
use crate::audio::{
    AudioError, AudioFormat, DEFAULT_CHUNK, Packetiser, PacketiserConfig, SampleRate,
    decode_b64_bytes,
};
use crate::media::{HandlerError, Message, Outbox, StreamHandler, StreamOp, TelerMessage};
use crate::rest::{ApiKey, Error, encode_component, id_segment};

/// The base URL of Sarvam's agent runtime API (where [`SignedUrl`] goes).
pub const API_BASE: &str = "https://apps.sarvam.ai/api/app-runtime";

/// The caller-audio rates Sarvam's SDK accepts (`SupportedSampleRate`).
pub const INPUT_RATES: [SampleRate; 3] =
    [SampleRate::Hz8000, SampleRate::Hz16000, SampleRate::Hz48000];

/// The most unanswered pings kept for the call side (older ones are dropped).
const MAX_PENDING_PONGS: usize = 16;

/// A wall-clock reading with the monotonic reading taken at the same moment: the handlers
/// turn the bridge's time ([`Outbox::now`]) into the Unix time Sarvam's messages carry in
/// `timestamp`. The core reads no clock, so the application takes the readings:
///
/// ```
/// use std::time::{Instant, SystemTime};
/// let clock = teler_core::agents::sarvam::WallClock::new(Instant::now(), SystemTime::now());
/// # let _ = clock;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    instant: Instant,
    unix: Duration,
}

impl WallClock {
    /// `instant` and `unix_time`, read at the same moment.
    pub fn new(instant: Instant, unix_time: SystemTime) -> Self {
        WallClock {
            instant,
            unix: unix_time
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// The Unix time at `now`.
    pub fn unix_at(&self, now: Instant) -> Duration {
        match now.checked_duration_since(self.instant) {
            Some(d) => self.unix.saturating_add(d),
            None => self
                .unix
                .saturating_sub(self.instant.saturating_duration_since(now)),
        }
    }
}

/// Who the caller is to Sarvam (`user_identifier_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserIdentifierType {
    /// `phone_number`.
    PhoneNumber,
    /// `email`.
    Email,
    /// `custom` (the default).
    #[default]
    Custom,
    /// `unknown`.
    Unknown,
}

impl UserIdentifierType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserIdentifierType::PhoneNumber => "phone_number",
            UserIdentifierType::Email => "email",
            UserIdentifierType::Custom => "custom",
            UserIdentifierType::Unknown => "unknown",
        }
    }
}

/// A Sarvam app's settings: what [`SignedUrl`] asks for and what the handlers send and
/// expect. Holds no secret (the API key is given to [`SignedUrl::new`] only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The organisation id (for [`SignedUrl`]). Default empty.
    pub org_id: String,
    /// The workspace id (for [`SignedUrl`]). Default empty.
    pub workspace_id: String,
    /// The app (agent) id (for [`SignedUrl`]). Default empty.
    pub app_id: String,
    /// The app version; `None` (the default): the latest committed one.
    pub version: Option<u32>,
    /// The rate caller audio is sent at: 8, 16 or 48 kHz ([`INPUT_RATES`]). Default
    /// [`SampleRate::Hz8000`] (Teler's rate: no resampling).
    pub input_rate: SampleRate,
    /// The rate the agent's audio is read at when a chunk does not name its own
    /// `sample_rate`. Default [`SampleRate::Hz16000`] (the SDK's output rate).
    pub output_rate: SampleRate,
    /// `agent_variables` of `interaction_start`: values seeding the agent's context.
    /// Default empty.
    pub agent_variables: serde_json::Map<String, serde_json::Value>,
    /// `initial_language_name` (e.g. `"Hindi"`); default `None` (the app's own).
    pub initial_language_name: Option<String>,
    /// `initial_bot_message`: what the agent says first; default `None` (the app's own).
    pub initial_bot_message: Option<String>,
    /// `initial_state_name`; default `None` (the app's own).
    pub initial_state_name: Option<String>,
    /// The wall clock for `timestamp`; `None` (the default): seconds since the handler's
    /// first input (the service's use of the field is not documented).
    pub clock: Option<WallClock>,
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            org_id: String::new(),
            workspace_id: String::new(),
            app_id: String::new(),
            version: None,
            input_rate: SampleRate::Hz8000,
            output_rate: SampleRate::Hz16000,
            agent_variables: serde_json::Map::new(),
            initial_language_name: None,
            initial_bot_message: None,
            initial_state_name: None,
            clock: None,
            chunk: DEFAULT_CHUNK,
        }
    }
}

impl Config {
    /// A fresh handler pair for one call (fits a connector's per-call factory).
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s or
    /// [`input_rate`](Self::input_rate) is not one of [`INPUT_RATES`]; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("sarvam::Config: chunk is 10 ms to 10 s, input_rate one of INPUT_RATES")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s; an input rate Sarvam does not take.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), AudioError> {
        if !INPUT_RATES.contains(&self.input_rate) {
            return Err(AudioError::UnsupportedRate(self.input_rate.hz()));
        }
        let ready = ReadyFlag::default();
        let pongs = Pongs::default();
        let packetiser = Packetiser::new(
            PacketiserConfig::new(AudioFormat::pcm16(self.output_rate)).chunk(self.chunk),
        )?;
        let remote = RemoteHandler {
            packetiser,
            chunk: self.chunk,
            ready: ready.clone(),
            pongs: pongs.clone(),
            scratch: Vec::new(),
        };
        let call = CallHandler {
            audio: CallerAudio::new(AudioFormat::pcm16(self.input_rate), Some(ready)),
            start: self.start_fields(),
            input_rate: self.input_rate,
            clock: Clock {
                wall: self.clock,
                first: None,
            },
            pongs,
        };
        Ok((call, remote))
    }

    /// The fields of `interaction_start` besides `type`, `origin` and `timestamp`.
    fn start_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert(
            "agent_variables".into(),
            serde_json::Value::Object(self.agent_variables.clone()),
        );
        for (k, v) in [
            ("initial_language_name", &self.initial_language_name),
            ("initial_bot_message", &self.initial_bot_message),
            ("initial_state_name", &self.initial_state_name),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.as_str().into());
            }
        }
        m
    }

    /// The `interaction_start` message at Unix time `timestamp` (seconds).
    pub fn interaction_start(&self, timestamp: f64) -> String {
        start_message(&self.start_fields(), timestamp)
    }
}

fn start_message(fields: &serde_json::Map<String, serde_json::Value>, timestamp: f64) -> String {
    let mut m = serde_json::Map::with_capacity(fields.len() + 3);
    m.insert("type".into(), "client.action.interaction_start".into());
    m.insert("origin".into(), "client".into());
    m.insert("timestamp".into(), rounded(timestamp).into());
    m.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    serde_json::Value::Object(m).to_string()
}

/// `t` to the millisecond (a non-finite value as 0).
fn rounded(t: f64) -> f64 {
    if t.is_finite() {
        (t * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// The pre-socket request: a signed socket URL for one session of a Sarvam app, with the
/// query parameters the socket needs added. The key is hidden from `Debug`.
///
/// ```
/// use teler_core::agents::{VendorRequest, sarvam};
///
/// let cfg = sarvam::Config {
///     org_id: "org".into(), workspace_id: "ws".into(), app_id: "app-1".into(),
///     ..sarvam::Config::default()
/// };
/// let req = sarvam::SignedUrl::new("sk-key", &cfg)?
///     .user("+919800000000", sarvam::UserIdentifierType::PhoneNumber);
/// let http_req = req.to_http()?;
/// assert_eq!(
///     http_req.uri(),
///     "https://apps.sarvam.ai/api/app-runtime/orgs/org/workspaces/ws/apps/app-1/url?interaction_type=call",
/// );
/// assert!(!format!("{req:?}").contains("sk-key"));
/// let answer = http::Response::builder().status(200)
///     .body(br#"{"url":"wss://rt.example/s?sig=x","reference_id":"r1"}"#.to_vec())?;
/// let url = req.parse(answer)?;
/// assert!(url.starts_with("wss://rt.example/s?sig=x&interaction_type=call&user_identifier=%2B919800000000"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SignedUrl {
    api_key: ApiKey,
    base_url: String,
    org_id: String,
    workspace_id: String,
    app_id: String,
    version: Option<u32>,
    user_identifier: String,
    user_identifier_type: UserIdentifierType,
    input_rate: SampleRate,
    output_rate: SampleRate,
}

impl fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedUrl")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("org_id", &self.org_id)
            .field("workspace_id", &self.workspace_id)
            .field("app_id", &self.app_id)
            .field("version", &self.version)
            .field("user_identifier_type", &self.user_identifier_type)
            .field("input_rate", &self.input_rate)
            .field("output_rate", &self.output_rate)
            .finish_non_exhaustive()
    }
}

impl SignedUrl {
    /// The request for `config`'s app with `api_key`, for the user `teler` (`custom`)
    /// until [`user`](Self::user) says otherwise.
    ///
    /// # Errors
    /// [`Error::Config`]: an empty key, or one that cannot be a header value.
    pub fn new(api_key: impl Into<String>, config: &Config) -> Result<Self, Error> {
        Ok(SignedUrl {
            api_key: ApiKey::new(api_key)?,
            base_url: API_BASE.to_owned(),
            org_id: config.org_id.clone(),
            workspace_id: config.workspace_id.clone(),
            app_id: config.app_id.clone(),
            version: config.version,
            user_identifier: "teler".to_owned(),
            user_identifier_type: UserIdentifierType::Custom,
            input_rate: config.input_rate,
            output_rate: config.output_rate,
        })
    }

    /// The caller, as Sarvam records the session's user (`user_identifier` and its type):
    /// the caller's number for a phone call, say.
    pub fn user(mut self, identifier: impl Into<String>, kind: UserIdentifierType) -> Self {
        self.user_identifier = identifier.into();
        self.user_identifier_type = kind;
        self
    }

    /// Another base URL than [`API_BASE`] (a proxy, or a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// `url` with the socket's query parameters set (replacing any of the same name).
    fn with_params(&self, url: &str) -> String {
        let (url, fragment) = match url.split_once('#') {
            Some((u, f)) => (u, Some(f)),
            None => (url, None),
        };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let input = self.input_rate.hz().to_string();
        let output = self.output_rate.hz().to_string();
        let ours = [
            ("interaction_type", "call"),
            ("user_identifier", self.user_identifier.as_str()),
            ("user_identifier_type", self.user_identifier_type.as_str()),
            ("sample_rate", input.as_str()),
            ("input_sample_rate", input.as_str()),
            ("output_sample_rate", output.as_str()),
        ];
        let mut out = String::with_capacity(url.len() + 160);
        out.push_str(base);
        let mut sep = '?';
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let key = kv.split_once('=').map_or(kv, |(k, _)| k);
            if ours.iter().any(|(k, _)| *k == key) {
                continue;
            }
            out.push(sep);
            out.push_str(kv);
            sep = '&';
        }
        for (k, v) in ours {
            out.push(sep);
            out.push_str(k);
            out.push('=');
            encode_component(v, &mut out);
            sep = '&';
        }
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        out
    }
}

#[derive(Deserialize)]
struct Signed {
    url: String,
}

impl VendorRequest for SignedUrl {
    /// The signed socket URL with its query parameters.
    type Response = String;

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, Error> {
        let mut url = format!(
            "{}/orgs/{}/workspaces/{}/apps/{}/url?interaction_type=call",
            self.base_url,
            id_segment("org_id", &self.org_id)?,
            id_segment("workspace_id", &self.workspace_id)?,
            id_segment("app_id", &self.app_id)?,
        );
        if let Some(v) = self.version {
            url.push_str(&format!("&version={v}"));
        }
        request(
            http::Method::GET,
            &url,
            &[("X-API-Key", self.api_key.expose())],
            None,
        )
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<String, Error> {
        let status = resp.status().as_u16();
        let s: Signed = parse_json(resp)?;
        let url = socket_url(status, s.url)?;
        Ok(self.with_params(&url))
    }
}

/// Pings the remote side heard, for the call side to answer: their `event_id`s and the
/// time the first was heard. Shared by a call's two handlers.
#[derive(Debug, Clone, Default)]
struct Pongs(Arc<Mutex<PongQueue>>);

#[derive(Debug, Default)]
struct PongQueue {
    ids: VecDeque<i64>,
    due: Option<Instant>,
}

impl Pongs {
    fn lock(&self) -> MutexGuard<'_, PongQueue> {
        // Nothing panics while holding it; a poisoned queue is still a queue.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, id: i64, now: Option<Instant>) {
        let mut q = self.lock();
        if q.ids.len() >= MAX_PENDING_PONGS {
            q.ids.pop_front();
        }
        q.ids.push_back(id);
        if q.due.is_none() {
            q.due = now;
        }
    }

    fn due(&self) -> Option<Instant> {
        self.lock().due
    }

    fn take(&self) -> VecDeque<i64> {
        let mut q = self.lock();
        q.due = None;
        std::mem::take(&mut q.ids)
    }
}

/// Unix time for `timestamp` fields.
#[derive(Debug)]
struct Clock {
    wall: Option<WallClock>,
    first: Option<Instant>,
}

impl Clock {
    /// Seconds: Unix time with a wall clock, else since the first input.
    fn seconds(&mut self, now: Option<Instant>) -> f64 {
        match (self.wall, now) {
            (Some(w), Some(now)) => w.unix_at(now).as_secs_f64(),
            (Some(w), None) => w.unix.as_secs_f64(),
            (None, Some(now)) => {
                let first = *self.first.get_or_insert(now);
                now.saturating_duration_since(first).as_secs_f64()
            }
            (None, None) => 0.0,
        }
    }
}

/// The call-side handler: `interaction_start` on connect, caller audio held until the
/// interaction is connected, then `client.media.audio_chunk` messages; answers the agent's
/// pings. See the [module docs](self).
#[derive(Debug)]
pub struct CallHandler {
    audio: CallerAudio,
    start: serde_json::Map<String, serde_json::Value>,
    input_rate: SampleRate,
    clock: Clock,
    pongs: Pongs,
}

impl CallHandler {
    /// Caller frames dropped because the agent was not ready in time (about 10 s of audio
    /// is held; older frames go first).
    pub fn dropped_frames(&self) -> u64 {
        self.audio.dropped()
    }

    /// Pongs for the pings the remote side heard, into `out`; whether any.
    fn pongs(&mut self, out: &mut Outbox) -> bool {
        let ids = self.pongs.take();
        if ids.is_empty() {
            return false;
        }
        let ts = rounded(self.clock.seconds(out.now()));
        for id in ids {
            out.send(format!(
                r#"{{"type":"client.system.pong","origin":"client","timestamp":{ts},"event_id":{id}}}"#
            ));
        }
        true
    }

    fn reshape(
        &mut self,
        m: &TelerMessage<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        let mut relay = self.pongs(out);
        match m {
            TelerMessage::Start(s) => self.audio.start(s)?,
            TelerMessage::Audio(a) => {
                let ts = rounded(self.clock.seconds(out.now()));
                let prefix = format!(
                    r#"{{"type":"client.media.audio_chunk","origin":"client","timestamp":{ts},"format":"audio/wav","sample_rate":{},"audio_base64":""#,
                    self.input_rate.hz()
                );
                let msg = self.audio.message(&a.audio_b64, &prefix, r#""}"#)?;
                relay |= self.audio.send(msg, out) == StreamOp::Relay;
            }
            _ => {}
        }
        relay |= self.audio.release(out);
        Ok(if relay {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }
}

impl StreamHandler for CallHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        with_teler(message, |m| self.reshape(m, out))
    }

    fn on_remote_connected(&mut self, out: &mut Outbox) -> Result<(), HandlerError> {
        let ts = self.clock.seconds(out.now());
        out.send(start_message(&self.start, ts));
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.pongs.due()
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        let _ = now;
        let sent = self.pongs(out) | self.audio.release(out);
        Ok(if sent {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }
}

/// The remote-side handler: Sarvam's messages in, Teler `audio` chunks (increasing
/// `chunk_id` from 1) and `clear` out. See the [module docs](self).
pub struct RemoteHandler {
    packetiser: Packetiser,
    chunk: Duration,
    ready: ReadyFlag,
    pongs: Pongs,
    scratch: Vec<u8>,
}

impl fmt::Debug for RemoteHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHandler")
            .field("packetiser", &self.packetiser)
            .field("ready", &self.ready.get())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ServerMessage<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    audio_base64: Option<Cow<'a, str>>,
    #[serde(default)]
    sample_rate: Option<u32>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    event_id: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

impl RemoteHandler {
    /// The packetiser, e.g. to read [`held`](Packetiser::held) audio or the next chunk id.
    pub fn packetiser_mut(&mut self) -> &mut Packetiser {
        &mut self.packetiser
    }

    /// Whether the agent has said the interaction is connected (or sent audio).
    pub fn vendor_ready(&self) -> bool {
        self.ready.get()
    }

    /// Agent audio of one chunk (base64), at the rate its WAV header or `named` says, else
    /// the current one; finished chunks go to `out`.
    fn audio(
        &mut self,
        b64: &str,
        named: Option<u32>,
        out: &mut Outbox,
    ) -> Result<(), HandlerError> {
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        let res = decode_b64_bytes(b64, &mut bytes)
            .map_err(HandlerError::from)
            .and_then(|_| {
                let (header_rate, data) = strip_wav(&bytes)?;
                if let Some(hz) = header_rate.or(named) {
                    self.set_rate(hz, out)?;
                }
                self.packetiser.push_bytes(data).map_err(HandlerError::from)
            });
        self.scratch = bytes;
        res
    }

    /// Reads the agent's audio at `hz` from here on; what was held at the old rate goes
    /// out first (a shorter chunk), and chunk ids carry on.
    fn set_rate(&mut self, hz: u32, out: &mut Outbox) -> Result<(), HandlerError> {
        let rate = SampleRate::from_hz(hz).map_err(|_| {
            HandlerError::msg(format!(
                "Sarvam sent agent audio at {hz} Hz, a rate the resampler does not take \
                 (8000, 16000, 24000, 44100, 48000)"
            ))
        })?;
        if rate == self.packetiser.config().input().rate {
            return Ok(());
        }
        self.packetiser.finish();
        while let Some(m) = self.packetiser.pop_ready() {
            out.send(m);
        }
        let fresh = PacketiserConfig::new(AudioFormat::pcm16(rate))
            .chunk(self.chunk)
            .first_chunk_id(self.packetiser.next_chunk_id());
        self.packetiser = Packetiser::new(fresh)?;
        Ok(())
    }

    /// The text-in form: one Sarvam message in, what goes to Teler in `out`.
    ///
    /// # Errors
    /// A message that is not Sarvam's JSON, audio that is not base64 PCM16 at a rate the
    /// resampler takes, a failed audio stream, or an error message.
    pub fn handle_text(&mut self, text: &str, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        let m: ServerMessage<'_> = serde_json::from_str(text)?;
        let before = out.len();
        match &*m.kind {
            "server.media.audio_chunk" => {
                self.ready.set();
                if let Some(b64) = m.audio_base64.as_deref().filter(|b| !b.is_empty()) {
                    self.audio(b64, m.sample_rate, out)?;
                }
                match m.status.as_deref() {
                    Some("completed") => self.packetiser.finish(),
                    Some("failed") => {
                        return Err(HandlerError::msg(format!(
                            "Sarvam audio stream failed{}",
                            m.message.map(|t| format!(": {t}")).unwrap_or_default()
                        )));
                    }
                    _ => {}
                }
            }
            "server.event.user_interrupt" => out.send(self.packetiser.clear()),
            "server.action.interaction_connected" => self.ready.set(),
            "server.action.interaction_end" => self.packetiser.finish(),
            "server.system.ping" => {
                let id = m.event_id.as_ref().and_then(serde_json::Value::as_i64);
                let id = id.ok_or_else(|| {
                    HandlerError::msg("Sarvam server.system.ping without an integer event_id")
                })?;
                self.pongs.push(id, out.now());
            }
            t if t.ends_with("error") => {
                return Err(HandlerError::msg(format!(
                    "Sarvam error: {}",
                    m.message.as_deref().unwrap_or(text)
                )));
            }
            _ => {}
        }
        while let Some(msg) = self.packetiser.pop_ready() {
            out.send(msg);
        }
        Ok(if out.len() > before {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }
}

impl StreamHandler for RemoteHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        self.handle_text(message.text(), out)
    }
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The PCM16 samples of `bytes`: all of it, or, for a WAV file (`RIFF`…`WAVE`), its `data`
/// chunk and the rate its `fmt ` chunk names (mono PCM16 only).
fn strip_wav(bytes: &[u8]) -> Result<(Option<u32>, &[u8]), HandlerError> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok((None, bytes));
    }
    let mut rate = None;
    let mut at = 12;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), le_u32(bytes, at + 4)) {
        let body = at + 8;
        let rest = bytes.len().saturating_sub(body);
        // A streamed header may not know the data's size (0 or 0xffffffff): the rest.
        let len = usize::try_from(size).map_or(rest, |s| s.min(rest));
        match id {
            b"fmt " => {
                let (fmt, channels, hz, bits) = (
                    le_u16(bytes, body),
                    le_u16(bytes, body + 2),
                    le_u32(bytes, body + 4),
                    le_u16(bytes, body + 14),
                );
                if !(matches!(fmt, Some(1 | 0xfffe)) && channels == Some(1) && bits == Some(16)) {
                    return Err(HandlerError::msg(format!(
                        "Sarvam sent a WAV chunk that is not mono PCM16 (format {fmt:?}, \
                         {channels:?} channels, {bits:?} bits)"
                    )));
                }
                rate = hz;
            }
            b"data" => {
                let len = if size == 0 { rest } else { len };
                return Ok((rate, &bytes[body..body + len]));
            }
            _ => {}
        }
        at = body.saturating_add(len).saturating_add(len & 1);
    }
    Ok((rate, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{decode_b64_pcm16, encode_pcm16_b64};
    use crate::media::{Bridge, BridgeConfig, Frame, OutFrame, Output, Side};

    fn teler_frame(samples: usize) -> String {
        let mut s = String::new();
        encode_pcm16_b64(&vec![700; samples], &mut s);
        format!(r#"{{"type":"audio","data":{{"audio_b64":"{s}"}}}}"#)
    }

    fn chunk(pcm: &[u8], rate: Option<u32>, status: &str) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(pcm);
        let rate = rate
            .map(|r| format!(r#","sample_rate":{r}"#))
            .unwrap_or_default();
        format!(
            r#"{{"type":"server.media.audio_chunk","origin":"server","timestamp":1.5,"audio_base64":"{b64}","format":"audio/wav"{rate},"status":"{status}"}}"#
        )
    }

    fn pcm(samples: usize, level: i16) -> Vec<u8> {
        std::iter::repeat_n(level.to_le_bytes(), samples)
            .flatten()
            .collect()
    }

    const CONNECTED: &str = r#"{"type":"server.action.interaction_connected","origin":"server","timestamp":1.0,"reference_id":"r","interaction_id":"i"}"#;

    fn app() -> Config {
        Config {
            org_id: "org-1".into(),
            workspace_id: "ws 1".into(),
            app_id: "App_9".into(),
            ..Config::default()
        }
    }

    #[test]
    fn signed_url_requests_and_answers() {
        let cfg = Config {
            version: Some(3),
            input_rate: SampleRate::Hz16000,
            ..app()
        };
        let req = SignedUrl::new("sk_s3cret", &cfg)
            .unwrap()
            .user("+91 98", UserIdentifierType::PhoneNumber);
        assert!(
            !format!("{req:?}").contains("sk_s3cret"),
            "key out of Debug"
        );
        let h = req.to_http().unwrap();
        assert_eq!(h.method(), http::Method::GET);
        assert_eq!(
            h.uri(),
            "https://apps.sarvam.ai/api/app-runtime/orgs/org-1/workspaces/ws%201/apps/App_9/url?interaction_type=call&version=3"
        );
        assert_eq!(h.headers()["x-api-key"], "sk_s3cret");
        assert!(h.body().is_empty());

        let answer = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        // Our parameters replace the answer's own of the same name; others are kept.
        let url = req
            .parse(answer(
                200,
                r#"{"url":"wss://rt.example/ws?sig=a%2Bb&sample_rate=1#f","reference_id":"r"}"#,
            ))
            .unwrap();
        assert_eq!(
            url,
            "wss://rt.example/ws?sig=a%2Bb&interaction_type=call&user_identifier=%2B91%2098\
             &user_identifier_type=phone_number&sample_rate=16000&input_sample_rate=16000\
             &output_sample_rate=16000#f"
        );
        let plain = SignedUrl::new("k", &app()).unwrap();
        assert_eq!(
            plain
                .parse(answer(200, r#"{"url":"ws://127.0.0.1:9/s"}"#))
                .unwrap(),
            "ws://127.0.0.1:9/s?interaction_type=call&user_identifier=teler\
             &user_identifier_type=custom&sample_rate=8000&input_sample_rate=8000\
             &output_sample_rate=16000"
        );
        let e = req
            .parse(answer(403, r#"{"detail":"Invalid API key"}"#))
            .unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert!(e.to_string().contains("Invalid API key"), "{e}");
        assert!(matches!(
            req.parse(answer(200, r#"{"reference_id":"r"}"#)),
            Err(Error::Decode { .. })
        ));
        assert!(req.parse(answer(200, r#"{"url":"https://x"}"#)).is_err());

        // Ids go into the path encoded; empty ones and dot segments are refused.
        let base = SignedUrl::new("k", &app())
            .unwrap()
            .base_url("http://127.0.0.1:9/rt/");
        assert_eq!(
            base.to_http().unwrap().uri(),
            "http://127.0.0.1:9/rt/orgs/org-1/workspaces/ws%201/apps/App_9/url?interaction_type=call"
        );
        for bad in ["", "..", "  "] {
            let c = Config {
                app_id: bad.into(),
                ..app()
            };
            assert!(
                SignedUrl::new("k", &c).unwrap().to_http().is_err(),
                "{bad:?}"
            );
        }
        assert!(SignedUrl::new(" ", &app()).is_err());
        assert!(SignedUrl::new("k\n", &app()).is_err());
    }

    #[test]
    fn interaction_start_carries_the_overrides_and_the_time() {
        let t0 = crate::test_epoch();
        let unix = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut vars = serde_json::Map::new();
        vars.insert("name".into(), "Asha \"A\"".into());
        let cfg = Config {
            agent_variables: vars,
            initial_language_name: Some("Hindi".into()),
            initial_bot_message: Some("Namaste".into()),
            clock: Some(WallClock::new(t0, unix)),
            ..Config::default()
        };
        let (mut call, _) = cfg.handlers();
        let mut out = Outbox::at(t0 + Duration::from_millis(2500));
        call.on_remote_connected(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
        assert_eq!(v["type"], "client.action.interaction_start");
        assert_eq!(v["origin"], "client");
        assert_eq!(v["timestamp"], 1_700_000_002.5);
        assert_eq!(v["agent_variables"]["name"], "Asha \"A\"");
        assert_eq!(v["initial_language_name"], "Hindi");
        assert_eq!(v["initial_bot_message"], "Namaste");
        assert!(v.get("initial_state_name").is_none());

        // No wall clock: seconds since the first input.
        let (mut call, _) = Config::default().handlers();
        let mut out = Outbox::at(t0);
        call.on_remote_connected(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
        assert_eq!(v["timestamp"], 0.0);
        assert_eq!(v["agent_variables"], serde_json::json!({}));
        let w = WallClock::new(t0 + Duration::from_secs(10), unix);
        assert_eq!(w.unix_at(t0), Duration::from_secs(1_699_999_990));
    }

    #[test]
    fn only_the_input_rates_sarvam_takes() {
        for r in SampleRate::ALL {
            let cfg = Config {
                input_rate: r,
                ..Config::default()
            };
            assert_eq!(cfg.try_handlers().is_ok(), INPUT_RATES.contains(&r), "{r}");
        }
        let bad = Config {
            chunk: Duration::from_millis(1),
            ..Config::default()
        };
        assert!(bad.try_handlers().is_err());
    }

    #[test]
    fn caller_audio_held_until_connected_then_in_order_at_the_input_rate() {
        let cfg = Config {
            input_rate: SampleRate::Hz16000,
            ..Config::default()
        };
        let (mut call, mut remote) = cfg.handlers();
        let t0 = crate::test_epoch();
        let mut out = Outbox::at(t0);
        for _ in 0..3 {
            assert_eq!(
                call.handle(&Message::from_text(&teler_frame(160)), &mut out)
                    .unwrap(),
                StreamOp::Pass
            );
        }
        assert!(out.is_empty());
        assert!(!remote.vendor_ready());
        remote
            .handle(&Message::from_text(CONNECTED), &mut Outbox::default())
            .unwrap();
        assert!(remote.vendor_ready());
        let mut out = Outbox::at(t0 + Duration::from_millis(60));
        assert_eq!(
            call.handle(&Message::from_text(&teler_frame(160)), &mut out)
                .unwrap(),
            StreamOp::Relay
        );
        let msgs = out.messages();
        assert_eq!(msgs.len(), 4, "three held, then this one");
        let mut total = 0;
        for (i, m) in msgs.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            assert_eq!(v["type"], "client.media.audio_chunk");
            assert_eq!(v["origin"], "client");
            assert_eq!(v["format"], "audio/wav");
            assert_eq!(v["sample_rate"], 16000);
            assert_eq!(v["timestamp"], if i < 3 { 0.0 } else { 0.06 });
            let mut s = Vec::new();
            decode_b64_pcm16(v["audio_base64"].as_str().unwrap(), &mut s).unwrap();
            total += s.len();
        }
        // 80 ms at 8 kHz is 1280 samples at 16 kHz, less the resampler's look-ahead.
        assert!(total <= 1280 && total > 1180, "{total}");
        assert_eq!(call.dropped_frames(), 0);
        // Agent audio alone also says the session is live.
        let (_, mut r) = Config::default().handlers();
        r.handle(
            &Message::from_text(&chunk(&pcm(160, 1), None, "pending")),
            &mut Outbox::default(),
        )
        .unwrap();
        assert!(r.vendor_ready());
    }

    #[test]
    fn pings_are_answered_by_the_call_side_at_once_through_a_bridge() {
        let cfg = BridgeConfig::builder("wss://sarvam.invalid/s")
            .build()
            .unwrap();
        let (call, remote) = Config::default().handlers();
        let mut b = Bridge::new(cfg, call, remote);
        let t0 = crate::test_epoch();
        b.handle_teler_connected(t0);
        b.handle_teler_frame(
            t0,
            Frame::Text(
                br#"{"type":"start","call_id":"c","stream_id":"s","data":{"sample_rate":8000}}"#,
            ),
        );
        b.handle_remote_connected(t0);
        let sent = |b: &mut Bridge<CallHandler, RemoteHandler>| {
            let mut to_remote = Vec::new();
            while let Some(o) = b.poll_output() {
                if let Output::Send {
                    side: Side::Remote,
                    frame: OutFrame::Text(t),
                } = o
                {
                    to_remote.push(t);
                }
            }
            to_remote
        };
        let first = sent(&mut b);
        assert!(
            first[0].contains("client.action.interaction_start"),
            "{first:?}"
        );
        let t1 = t0 + Duration::from_millis(5);
        b.handle_remote_frame(
            t1,
            Frame::Text(
                br#"{"type":"server.system.ping","origin":"server","timestamp":3.0,"event_id":42}"#,
            ),
        );
        assert!(sent(&mut b).is_empty());
        // The call side asks to be woken at once, and answers with the same event_id.
        assert_eq!(b.poll_timeout(), Some(t1));
        b.handle_timeout(t1);
        let pong = sent(&mut b);
        assert_eq!(pong.len(), 1, "{pong:?}");
        let v: serde_json::Value = serde_json::from_str(&pong[0]).unwrap();
        assert_eq!(v["type"], "client.system.pong");
        assert_eq!(v["origin"], "client");
        assert_eq!(v["event_id"], 42);
        assert_eq!(v["timestamp"], 0.005);
        assert_ne!(b.poll_timeout(), Some(t1), "answered once");
    }

    #[test]
    fn pings_without_a_bridge_go_with_the_next_caller_frame_and_stay_bounded() {
        let (mut call, mut remote) = Config::default().handlers();
        let mut out = Outbox::default();
        for id in 0..40 {
            let ping = format!(r#"{{"type":"server.system.ping","event_id":{id}}}"#);
            remote.handle(&Message::from_text(&ping), &mut out).unwrap();
        }
        assert!(out.is_empty(), "nothing for Teler");
        assert_eq!(call.poll_timeout(), None, "no time outside a bridge");
        assert_eq!(
            call.handle(&Message::from_text(&teler_frame(160)), &mut out)
                .unwrap(),
            StreamOp::Relay,
            "pongs go although audio is held"
        );
        let ids: Vec<i64> = out
            .messages()
            .iter()
            .map(|m| {
                serde_json::from_str::<serde_json::Value>(m).unwrap()["event_id"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ids, (24..40).collect::<Vec<_>>(), "the newest 16");
        let e = remote
            .handle(
                &Message::from_text(r#"{"type":"server.system.ping","event_id":"x"}"#),
                &mut out,
            )
            .unwrap_err();
        assert!(e.to_string().contains("event_id"), "{e}");
    }

    #[test]
    fn remote_side_audio_turns_barge_in_and_errors() {
        let (_, mut h) = Config::default().handlers();
        let mut out = Outbox::default();
        // 600 ms at 16 kHz (the default output rate): one 500 ms chunk now.
        h.handle(
            &Message::from_text(&chunk(&pcm(9600, 900), None, "pending")),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        // An empty last chunk ends the turn: the remainder goes out.
        h.handle(
            &Message::from_text(&chunk(&[], None, "completed")),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.messages()[1].ends_with(r#""chunk_id":2}"#));
        h.handle(
            &Message::from_text(&chunk(&pcm(3200, 900), Some(16000), "pending")),
            &mut out,
        )
        .unwrap();
        let interrupt = r#"{"type":"server.event.user_interrupt","origin":"server","timestamp":2}"#;
        assert_eq!(
            h.handle(&Message::from_text(interrupt), &mut out).unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.messages()[2], r#"{"type":"clear"}"#);
        let end = r#"{"type":"server.action.interaction_end","origin":"server","timestamp":3}"#;
        h.handle(&Message::from_text(end), &mut out).unwrap();
        assert_eq!(out.len(), 3, "the cleared audio stays dropped");
        for passed in [
            r#"{"type":"server.event.transcription","role":"user","content":"hi"}"#,
            r#"{"type":"server.media.text","text":"hello"}"#,
            CONNECTED,
        ] {
            assert_eq!(
                h.handle(&Message::from_text(passed), &mut out).unwrap(),
                StreamOp::Pass
            );
        }
        let e = h
            .handle(
                &Message::from_text(
                    &chunk(&[], None, "failed")
                        .replace(r#""status""#, r#""message":"TTS timed out","status""#),
                ),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Sarvam audio stream failed: TTS timed out");
        let e = h
            .handle(
                &Message::from_text(r#"{"type":"server.system.error","message":"bad app"}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Sarvam error: bad app");
        assert!(h.handle(&Message::from_text("nope"), &mut out).is_err());
        assert!(
            h.handle(
                &Message::from_text(&chunk(&[1, 2, 3], None, "pending")),
                &mut out
            )
            .is_err(),
            "odd length"
        );
        assert!(
            h.handle_binary(&[0, 1], &mut out).is_none(),
            "binary frames are declined"
        );
    }

    #[test]
    fn the_chunk_rate_wins_and_chunk_ids_carry_on() {
        let (_, mut h) = Config::default().handlers();
        let mut out = Outbox::default();
        // 300 ms at 16 kHz held, then audio at 24 kHz: the 16 kHz remainder goes out as a
        // shorter chunk and the ids carry on.
        h.handle(
            &Message::from_text(&chunk(&pcm(4800, 500), Some(16000), "pending")),
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty());
        h.handle(
            &Message::from_text(&chunk(&pcm(14_400, 500), Some(24000), "completed")),
            &mut out,
        )
        .unwrap();
        let lens: Vec<(usize, u64)> = out
            .messages()
            .iter()
            .map(|m| {
                let v: serde_json::Value = serde_json::from_str(m).unwrap();
                let mut s = Vec::new();
                decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut s).unwrap();
                (s.len(), v["chunk_id"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(lens.iter().map(|l| l.1).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(lens[0].0, 2400, "300 ms at 8 kHz");
        assert_eq!(lens[1].0, 4000);
        assert_eq!(lens[2].0, 800, "600 ms of 24 kHz in all");
        assert_eq!(
            h.packetiser_mut().config().input().rate,
            SampleRate::Hz24000
        );
        let e = h
            .handle(
                &Message::from_text(&chunk(&pcm(2205, 1), Some(22050), "pending")),
                &mut out,
            )
            .unwrap_err();
        assert!(e.to_string().contains("22050 Hz"), "{e}");
    }

    fn wav(rate: u32, channels: u16, data: &[u8], data_size: Option<u32>) -> Vec<u8> {
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&channels.to_le_bytes());
        w.extend_from_slice(&rate.to_le_bytes());
        w.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        w.extend_from_slice(&(2 * channels).to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"LIST");
        w.extend_from_slice(&3u32.to_le_bytes());
        w.extend_from_slice(b"abc\0");
        w.extend_from_slice(b"data");
        w.extend_from_slice(&data_size.unwrap_or(data.len() as u32).to_le_bytes());
        w.extend_from_slice(data);
        w
    }

    #[test]
    fn a_wav_header_is_read_for_the_rate_and_skipped() {
        let data = pcm(800, 1234);
        for size in [None, Some(0), Some(u32::MAX)] {
            let w = wav(8000, 1, &data, size);
            let (rate, body) = strip_wav(&w).unwrap();
            assert_eq!((rate, body), (Some(8000), &data[..]), "{size:?}");
        }
        assert!(strip_wav(&wav(8000, 2, &data, None)).is_err(), "stereo");
        assert_eq!(strip_wav(&data).unwrap(), (None, &data[..]));
        // Cut short anywhere: no panic, at most the audio that is there.
        let w = wav(16000, 1, &data, None);
        for n in 0..w.len() {
            let _ = strip_wav(&w[..n]);
        }
        // Through the handler: 100 ms at 8 kHz comes out exactly, no header bytes.
        let (_, mut h) = Config::default().handlers();
        let mut out = Outbox::default();
        h.handle(
            &Message::from_text(&chunk(&wav(8000, 1, &data, None), Some(16000), "completed")),
            &mut out,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
        let mut s = Vec::new();
        decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut s).unwrap();
        assert_eq!(s, vec![1234i16; 800]);
    }
}
