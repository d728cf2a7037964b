//! `teler-emulator`: a local stand-in for FreJun Teler, so a bridge can be tested with no
//! phone number and no account.
//!
//! - [`Emulator`] serves Teler's REST API for calls under `/api/v1` and plays each call as
//!   Teler does: lifecycle webhooks (either version, signed when a secret is set; a failed
//!   call ends with `call.failed` in 2026-06-01; failed deliveries retried with the same
//!   event id, so out of order; optionally every event twice), the flow request, a media
//!   stream to the app's `ws_url` (its `start` carrying a call id unlike the REST id unless
//!   [`SocketCallId::SameAsRest`]) with real audio at real-time pace, the app's audio
//!   recorded to a WAV file, errors recorded in the call's state; optionally every request
//!   to the app spread round-robin over a fleet's instances, as a load balancer does
//!   ([`EmulatorBuilder::balance`]).
//! - [`agent`] is a stand-in voice agent speaking the ElevenLabs conversational protocol or
//!   an OpenAI-Realtime-style one at 24 kHz (and, for load tests, echoing Teler media frames
//!   directly).
//! - [`load`] places many concurrent media streams and measures round trips.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use teler_emulator::{AudioSource, Emulator, WebhookVersion};
//! let emu = Emulator::builder()
//!     .api_key("test-key")
//!     .webhook_version(WebhookVersion::V2026_06_01)
//!     .secret("whsec_test")
//!     .audio(AudioSource::Tone { freq_hz: 440.0, amplitude: 6000 })
//!     .call_duration(Duration::from_secs(5))
//!     .start("127.0.0.1:0")
//!     .await?;
//! println!("point your REST client at {}", emu.base_url());
//! // ... the app places a call with POST {base_url}/voice/calls/initiate ...
//! for call in emu.calls() {
//!     let ended = emu.wait_for_call_end(&call.id).await;
//!     println!("{:?}", ended.map(|c| c.state));
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod agent;
mod balance;
mod http;
mod inspector;
pub mod load;
mod model;
mod rest;
mod runner;
mod store;
pub mod util;
mod vendors;
pub mod wav;
mod webhook;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use model::{Call, CallState, Leg, MAX_ERRORS, MediaStats, WebhookDelivery};
pub use wav::{Pcm, WavError};
pub use webhook::{WebhookVersion, signature_headers};

use store::{Config, Shared, Sources, Store};

/// The caller's audio sent to the app.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AudioSource {
    /// A sine tone, looped.
    Tone {
        /// Frequency in Hz.
        freq_hz: f64,
        /// Peak amplitude (PCM16).
        amplitude: i16,
    },
    /// Silence.
    Silence,
    /// A 16-bit PCM mono WAV file, looped (resampled to the stream's rate if needed).
    Wav(PathBuf),
    /// Samples already in memory, looped.
    Pcm(Pcm),
}

impl Default for AudioSource {
    fn default() -> Self {
        AudioSource::Tone {
            freq_hz: 440.0,
            amplitude: 6000,
        }
    }
}

impl AudioSource {
    /// The audio at `rate` Hz (never empty). In-memory [`Pcm`] with a `sample_rate` of 0 is
    /// a [`WavError::Unsupported`], as a WAV file with rate 0 is.
    pub fn load(&self, rate: u32) -> Result<Pcm, WavError> {
        if let AudioSource::Pcm(p) = self
            && p.sample_rate == 0
        {
            return Err(WavError::Unsupported("sample rate 0".into()));
        }
        if rate == 0 {
            return Err(WavError::Unsupported("target sample rate 0".into()));
        }
        let p = match self {
            AudioSource::Tone { freq_hz, amplitude } => Pcm::tone(rate, *freq_hz, *amplitude, 1000),
            AudioSource::Silence => Pcm {
                sample_rate: rate,
                samples: vec![0; rate as usize],
            },
            AudioSource::Wav(path) => Pcm::read(path)?.resampled(rate),
            AudioSource::Pcm(p) => p.resampled(rate),
        };
        if p.samples.is_empty() {
            return Err(WavError::Malformed("no samples"));
        }
        Ok(p)
    }
}

/// The form of the `call_id` in a media stream's `start` frame.
///
/// See `docs/PROTOCOL.md`, section "Teler to app: start": the `start` frame's `call_id`
/// can differ in form from the REST id
/// (a `cs_…` id on the socket and a UUID on REST have been seen). An app must not look a
/// stream up by matching `start.call_id` against the flow request's or the REST `call_id`;
/// it should carry its own id in the `ws_url` query string (which Teler keeps). The default,
/// [`SocketCallId::Uuid`], makes an app that matches ids fail here rather than in
/// production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SocketCallId {
    /// A UUID (one per call, the same on every stream of the call), unlike the REST, flow
    /// request and webhook `call_id` (`cs_…`). The default.
    #[default]
    Uuid,
    /// The REST id (`cs_…`), as in the flow request and webhooks.
    SameAsRest,
}

impl std::str::FromStr for SocketCallId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uuid" => Ok(SocketCallId::Uuid),
            "rest" | "same" => Ok(SocketCallId::SameAsRest),
            other => Err(format!(
                "unknown socket call id form {other:?} (uuid or rest)"
            )),
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// What was asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The audio source could not be read.
    #[error(transparent)]
    Audio(#[from] WavError),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    Config(String),
}

/// The local Teler. Start one with [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Settings with their defaults: API key `test-key`, webhook version 2026-06-01, no
    /// signing secret, 4 attempts per webhook from 200 ms backoff, no duplicates, a UUID as
    /// the `start` frame's `call_id`, a 440 Hz tone, real-time pace, 30 s calls, no output
    /// directory, no balancing (each URL used as given).
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            cfg: Config {
                api_key: "test-key".into(),
                account_id: "acc_emulator".into(),
                voice_app_id: "va_emulator".into(),
                webhook_version: WebhookVersion::default(),
                secret: None,
                speed: Some(1.0),
                call_duration: Duration::from_secs(30),
                ring_time: Duration::from_millis(0),
                play_duration: Duration::from_secs(2),
                drain_idle: Duration::from_millis(300),
                http_timeout: Duration::from_secs(5),
                output_dir: None,
                log: true,
                socket_call_id: SocketCallId::default(),
                webhook_attempts: 4,
                webhook_backoff: Duration::from_millis(200),
                webhook_duplicates: false,
                inspector: false,
                balance: Vec::new(),
            },
            audio: AudioSource::default(),
        }
    }
}

/// Settings of an [`Emulator`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EmulatorBuilder {
    cfg: Config,
    audio: AudioSource,
}

impl EmulatorBuilder {
    /// The key every REST request must carry in `x-api-key` (default `test-key`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.cfg.api_key = key.into();
        self
    }
    /// The account id shown in calls, flow requests, frames and webhooks.
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.account_id = id.into();
        self
    }
    /// The voice app id (`call_app_id` on the socket and in 2025-08-01 webhooks).
    pub fn voice_app_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.voice_app_id = id.into();
        self
    }
    /// The webhook body shape (default 2026-06-01).
    pub fn webhook_version(mut self, v: WebhookVersion) -> Self {
        self.cfg.webhook_version = v;
        self
    }
    /// Signs webhooks with this secret (`X-Teler-Signature`, `X-Teler-Timestamp`).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.cfg.secret = Some(secret.into()).filter(|s: &String| !s.is_empty());
        self
    }
    /// The caller's audio (default a 440 Hz tone).
    pub fn audio(mut self, a: AudioSource) -> Self {
        self.audio = a;
        self
    }
    /// `true` (the default): frames at real-time pace. `false`: as fast as the app reads,
    /// and ringing and `play` take no time; the output WAV then plays the app's audio back
    /// to back.
    pub fn realtime(mut self, on: bool) -> Self {
        self.cfg.speed = if on { Some(1.0) } else { None };
        self
    }
    /// Pace at `factor` times real time (e.g. 10.0 for tests); timers scale with it.
    pub fn speed(mut self, factor: f64) -> Self {
        self.cfg.speed = Some(factor);
        self
    }
    /// How much caller audio each call streams before Teler hangs up (default 30 s).
    pub fn call_duration(mut self, d: Duration) -> Self {
        self.cfg.call_duration = d;
        self
    }
    /// How long calls ring before they are answered (default 0).
    pub fn ring_time(mut self, d: Duration) -> Self {
        self.cfg.ring_time = d;
        self
    }
    /// How long a `play` flow action lasts (default 2 s; the media is not fetched).
    pub fn play_duration(mut self, d: Duration) -> Self {
        self.cfg.play_duration = d;
        self
    }
    /// Timeout of each flow request and webhook delivery, and of opening the stream
    /// (default 5 s).
    pub fn http_timeout(mut self, d: Duration) -> Self {
        self.cfg.http_timeout = d;
        self
    }
    /// Write what each call's app played to `{dir}/{call_id}.wav` (8 kHz PCM16 mono).
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cfg.output_dir = Some(dir.into());
        self
    }
    /// The form of `call_id` in the `start` frame (default [`SocketCallId::Uuid`], unlike
    /// the REST id; [`SocketCallId::SameAsRest`] for the REST id).
    pub fn socket_call_id(mut self, form: SocketCallId) -> Self {
        self.cfg.socket_call_id = form;
        self
    }
    /// How many times a webhook is attempted before the emulator gives up on it (default 4:
    /// the first delivery and 3 retries; 1 = never retry). A delivery fails when the
    /// receiver does not answer within [`http_timeout`](Self::http_timeout) or answers
    /// anything but 2xx. Teler retries deliveries (see `docs/PROTOCOL.md`, section
    /// "Delivery, retries and duplicates"); so does the
    /// emulator, for both webhook versions, with the same body (same event `id`) and a
    /// fresh signature, while later events go ahead: a retried event arrives out of order.
    /// At most 10.
    pub fn webhook_attempts(mut self, n: u32) -> Self {
        self.cfg.webhook_attempts = n;
        self
    }
    /// The wait before the first retry of a failed webhook, doubled before each next one
    /// (default 200 ms, in wall time whatever the [`speed`](Self::speed); at most 60 s).
    pub fn webhook_retry_backoff(mut self, d: Duration) -> Self {
        self.cfg.webhook_backoff = d;
        self
    }
    /// Deliver every webhook twice (default off): the same body, so the same event `id` in
    /// 2026-06-01, each delivered (and retried) on its own, the copy queued behind events
    /// already waiting. Teler's deliveries "may arrive out of order or twice: dedupe by id"
    /// (`docs/PROTOCOL.md`, section "Delivery, retries and duplicates"); a receiver that does
    /// not dedupe fails visibly with this on.
    pub fn webhook_duplicates(mut self, on: bool) -> Self {
        self.cfg.webhook_duplicates = on;
        self
    }
    /// Serve the call inspector and dev phone at `/` (default off; `teler-emulator serve`
    /// turns it on). The page and its API need a one-time token
    /// ([`EmulatorHandle::inspector_url`]) or the API key; the inspector keeps a log of the
    /// newest calls and, in memory, the two legs' audio of the 16 newest (at most 10
    /// minutes each). See the crate's README, "Call inspector and dev phone".
    pub fn inspector(mut self, on: bool) -> Self {
        self.cfg.inspector = on;
        self
    }
    /// Stand in for the load balancer in front of a fleet of app instances: spread every
    /// request to the app over `addrs` (`HOST:PORT`, or `http://HOST:PORT`), round-robin,
    /// one turn for the whole emulator (default: none, each URL used as given). Each flow
    /// request, each media socket and each webhook delivery attempt (every retry and every
    /// [duplicate](Self::webhook_duplicates) is an attempt of its own) goes to the next
    /// address in turn: the URL's host and port are replaced by it, its scheme, path and
    /// query kept. So a webhook's copy or retry normally lands on another instance than its
    /// first delivery, which a fleet must dedupe. Each delivery's URL is in the call's
    /// [`webhooks`](WebhookDelivery::url). A dead address is not skipped: requests to it
    /// fail (a webhook is retried, on the next address).
    pub fn balance<I, S>(mut self, addrs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.balance = addrs.into_iter().map(Into::into).collect();
        self
    }
    /// Log call events and errors to stderr (default on).
    pub fn log(mut self, on: bool) -> Self {
        self.cfg.log = on;
        self
    }

    /// Binds `addr` (e.g. `127.0.0.1:0`) and serves until the handle is dropped or
    /// [`EmulatorHandle::shutdown`] is called.
    pub async fn start(
        self,
        addr: impl tokio::net::ToSocketAddrs + std::fmt::Debug,
    ) -> Result<EmulatorHandle, EmulatorError> {
        if let Some(s) = self.cfg.speed
            && !(s.is_finite() && s > 0.0 && s <= 1000.0)
        {
            return Err(EmulatorError::Config(format!(
                "speed must be above 0 and at most 1000, got {s}"
            )));
        }
        if !(1..=10).contains(&self.cfg.webhook_attempts) {
            return Err(EmulatorError::Config(format!(
                "webhook_attempts must be from 1 to 10, got {}",
                self.cfg.webhook_attempts
            )));
        }
        if self.cfg.webhook_backoff > Duration::from_secs(60) {
            return Err(EmulatorError::Config(format!(
                "webhook_retry_backoff must be at most 60 s, got {:?}",
                self.cfg.webhook_backoff
            )));
        }
        if self.cfg.call_duration.is_zero() {
            return Err(EmulatorError::Config(
                "call_duration must not be zero".into(),
            ));
        }
        let backends = self
            .cfg
            .balance
            .iter()
            .map(|a| balance::parse_backend(a))
            .collect::<Result<Vec<String>, String>>()
            .map_err(EmulatorError::Config)?;
        if let Some(d) = &self.cfg.output_dir {
            std::fs::create_dir_all(d).map_err(|e| {
                EmulatorError::Config(format!("cannot create output dir {}: {e}", d.display()))
            })?;
        }
        let sources = Sources {
            k8: Arc::new(self.audio.load(8000)?),
            k16: Arc::new(self.audio.load(16000)?),
        };
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: format!("{addr:?}"),
                source,
            })?;
        let local = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: format!("{addr:?}"),
                source,
            })?;
        let shared = Arc::new(Shared {
            inspector: inspector::Inspector::new(self.cfg.inspector),
            balancer: balance::Balancer::new(backends),
            cfg: self.cfg,
            sources,
            store: Mutex::new(Store::default()),
        });
        let app = rest::router(shared.clone()).merge(inspector::router(shared.clone()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        Ok(EmulatorHandle {
            addr: local,
            shared,
            stop: Some(stop_tx),
            server,
        })
    }
}

/// A running emulator. Dropping it stops the server (calls in flight run to their end).
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared { .. }")
    }
}

/// What [`EmulatorHandle::place_call`] needs: the body of `POST /voice/calls/initiate`.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// Calling number (E.164).
    pub from_number: String,
    /// Called number (E.164).
    pub to_number: String,
    /// Where Teler asks what to do.
    pub flow_url: String,
    /// Where lifecycle webhooks go.
    pub status_callback_url: Option<String>,
    /// Record the call (noted only).
    pub record: bool,
}

impl EmulatorHandle {
    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The REST base URL, `http://127.0.0.1:PORT/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }
    /// A link that opens the call inspector and dev phone, with a fresh one-time token
    /// (`http://ADDR/?token=…`; the token is spent by the first visit, which gets a session
    /// cookie). `None` when the inspector is off ([`EmulatorBuilder::inspector`]).
    pub fn inspector_url(&self) -> Option<String> {
        let token = self.shared.inspector.mint_token()?;
        let addr = if self.addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), self.addr.port())
        } else {
            self.addr
        };
        Some(format!("http://{addr}/?token={token}"))
    }
    /// The API key clients must send.
    pub fn api_key(&self) -> &str {
        &self.shared.cfg.api_key
    }
    /// Every call, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        let st = self.shared.store();
        st.order
            .iter()
            .filter_map(|id| st.calls.get(id))
            .map(|e| e.call.clone())
            .collect()
    }
    /// One call, if it exists.
    pub fn call(&self, id: &str) -> Option<Call> {
        self.shared.with_call(id, |c| c.clone())
    }
    /// Places a call as `POST /voice/calls/initiate` does, without HTTP (no validation
    /// beyond what the call itself meets).
    pub fn place_call(&self, req: CallRequest) -> Call {
        runner::place(
            &self.shared,
            req.from_number,
            req.to_number,
            req.flow_url,
            req.status_callback_url,
            req.record,
        )
    }
    /// Waits until the call has ended and its webhooks have been delivered; `None` for an
    /// unknown id. Bound it with `tokio::time::timeout` in tests.
    pub async fn wait_for_call_end(&self, id: &str) -> Option<Call> {
        let mut rx = self.shared.store().calls.get(id)?.done.subscribe();
        let _ = rx.wait_for(|done| *done).await;
        self.call(id)
    }
    /// Stops serving REST requests.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
