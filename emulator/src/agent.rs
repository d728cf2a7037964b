//! A stand-in voice agent, so a bridge can be tested end to end with no vendor account. It
//! speaks two vendor protocols: the ElevenLabs conversational protocol (what FreJun's
//! sample app bridges to) and an OpenAI-Realtime-style protocol (24 kHz PCM16 both ways).
//! Both behave alike: a greeting tone, an interruption when the caller talks over it, and
//! an echo of the caller.
//!
//! ## When the caller talks over the greeting
//!
//! The greeting is sent at once, faster than real time, and the agent counts it as playing
//! until it has heard `greeting_ms` of caller audio: the caller's stream is the call's clock
//! (Teler streams the caller continuously, silence included). The first caller message in that
//! span louder than `interrupt_rms` interrupts the greeting, once. Measured in caller audio
//! rather than by the wall clock, the outcome depends only on what the peer sent, not on how
//! fast it or the machine is (a slow test, a loaded CI runner or a call paced faster than real
//! time all get the same answer).
//!
//! ## ElevenLabs protocol (`ws://ADDR/`, the default)
//!
//! On each WebSocket connection it:
//! 1. sends `{"type":"conversation_initiation_metadata",…}` first;
//! 2. speaks a greeting (a tone, `greeting_ms` long) as
//!    `{"type":"audio","audio_event":{"audio_base_64":…,"event_id":n}}` chunks of `chunk_ms`,
//!    sent at once as the vendor does (faster than real time);
//! 3. reads `{"user_audio_chunk": b64}` (PCM16 LE mono at `sample_rate`); while the greeting
//!    is still playing, caller audio louder than `interrupt_rms` makes it send
//!    `{"type":"interruption","interruption_event":{"event_id":n}}` and stop speaking;
//! 4. echoes the caller's audio back in `chunk_ms` chunks (`echo`), or at once when
//!    `chunk_ms` is 0.
//!
//! ## OpenAI-Realtime-style protocol (`ws://ADDR/openai`, or [`AgentProtocol::OpenAi`])
//!
//! All audio is base64 PCM16 LE mono at **24 kHz** ([`OPENAI_SAMPLE_RATE`]; `sample_rate`
//! does not apply). On each connection it:
//! 1. sends `{"type":"session.created","session":{…}}` first;
//! 2. speaks the greeting tone as one response: `{"type":"response.created",…}`, then
//!    `{"type":"response.output_audio.delta","response_id":R,"delta":b64,…}` deltas of
//!    `chunk_ms`, then `{"type":"response.done","response":{"id":R,"status":"completed"}}`;
//! 3. answers `{"type":"session.update","session":{…}}` with `session.updated`, or with an
//!    `{"type":"error","error":{…}}` event when the session asks for an audio format other
//!    than `audio/pcm` at 24000 Hz (as OpenAI does);
//! 4. reads `{"type":"input_audio_buffer.append","audio":b64}`; while the greeting is still
//!    playing, caller audio louder than `interrupt_rms` makes it send
//!    `{"type":"input_audio_buffer.speech_started","audio_start_ms":…,"item_id":…}` (the
//!    bridge's cue for barge-in; `audio_start_ms` is how much caller audio came before the
//!    loud append) and stop speaking;
//! 5. echoes the caller's audio back as responses of one `chunk_ms` delta each, every one
//!    followed by its `response.done` (each append at once when `chunk_ms` is 0).
//!
//! Other client events (`response.create`, `input_audio_buffer.commit`, …) are read and
//! ignored.
//!
//! ## More vendors (`ws://ADDR/gemini`, `ws://ADDR/devnagri`, `ws://ADDR/deepgram`, `ws://ADDR/ultravox`, `ws://ADDR/cartesia`, `ws://ADDR/vapi`, `ws://ADDR/sarvam`)
//!
//! Gemini Live, Devnagri, Deepgram Voice Agent, Ultravox, Cartesia, Vapi and Sarvam stand-ins run on one shared driver with the same greeting,
//! barge-in and echo; their protocols are described in `emulator/src/vendors.rs` and
//! `docs/AGENTS.md`.
//!
//! ## Teler echo (`ws://ADDR/teler`)
//!
//! A connection whose path starts with `/teler` (or whose first frame is a Teler `start`)
//! is treated as a Teler media stream instead: caller `audio` frames are echoed back as the
//! app's `{"type":"audio","audio_b64":…,"chunk_id":n}`. The load generator uses this to
//! measure round trips without a bridge in between.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tungstenite::Message;

use crate::util::new_id;
use crate::wav::Pcm;

/// How the stand-in agent behaves.
/// Build it with struct update syntax: `AgentConfig { greeting_ms: 0, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Length of the greeting tone spoken on connect (0: none). Default 1500 ms.
    pub greeting_ms: u32,
    /// Greeting tone frequency. Default 660 Hz.
    pub tone_hz: f64,
    /// Greeting tone peak amplitude. Default 5000.
    pub amplitude: i16,
    /// Echo the caller's audio back. Default true.
    pub echo: bool,
    /// Milliseconds of audio per message sent (greeting and echo); 0 echoes each message at
    /// once. Default 500.
    pub chunk_ms: u32,
    /// RMS level of caller audio that interrupts the greeting (0: never): a caller message
    /// this loud while the greeting plays, that is before the agent has heard `greeting_ms` of
    /// caller audio (see the [module docs](self)). Default 500.
    pub interrupt_rms: f64,
    /// Sample rate of the audio both ways in the ElevenLabs protocol. Default 8000 (what
    /// Teler plays). The OpenAI-style protocol is always 24 kHz.
    pub sample_rate: u32,
    /// The protocol spoken on paths other than `/openai` and `/teler`. Default
    /// [`AgentProtocol::ElevenLabs`].
    pub protocol: AgentProtocol,
}

/// The vendor protocol the agent speaks on `ws://ADDR/` (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AgentProtocol {
    /// The ElevenLabs conversational protocol (FreJun's sample app).
    #[default]
    ElevenLabs,
    /// An OpenAI-Realtime-style protocol, 24 kHz PCM16 both ways.
    OpenAi,
    /// Google's Gemini Live API: `setup` first, 16 kHz in, 24 kHz out, JSON in binary frames.
    Gemini,
    /// A Devnagri voice bot: Twilio-like `event` messages, 8 kHz PCM16 both ways.
    Devnagri,
    /// Deepgram's Voice Agent API: `Settings` first, raw PCM16 in binary frames both ways
    /// at the rates the settings name.
    Deepgram,
    /// Ultravox's `serverWebSocket` medium: raw PCM16 in binary frames both ways at the
    /// rates in the URL's query (`inputSampleRate`, `outputSampleRate`; 8000 by default).
    Ultravox,
    /// Cartesia's Agents WebSocket (Line agents): `start` first (with `Authorization:
    /// Bearer` and `Cartesia-Version` headers), base64 audio in JSON events both ways in the
    /// format `start` names. Also on `ws://ADDR/agents/stream/AGENT_ID`, as Cartesia's path.
    Cartesia,
    /// Vapi's WebSocket transport: raw audio in binary frames both ways in the format in the
    /// URL's query (`format`, `sampleRate`; `pcm_s16le` at 16000 by default). Also on
    /// `ws://ADDR/CALL_ID/transport`, as Vapi's `websocketCallUrl`.
    Vapi,
    /// A Sarvam voice agent (Samvaad): `client.action.interaction_start` first, base64
    /// PCM16 in JSON both ways (caller audio at its chunks' rate, the agent's at 16 kHz);
    /// the handshake needs `user_identifier` and `user_identifier_type` in the query.
    Sarvam,
}

impl std::str::FromStr for AgentProtocol {
    type Err = String;
    /// `elevenlabs`, `openai`, `gemini`, `devnagri`, `deepgram`, `ultravox`, `cartesia`, `vapi` or
    /// `sarvam`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "elevenlabs" | "11labs" => Ok(AgentProtocol::ElevenLabs),
            "openai" => Ok(AgentProtocol::OpenAi),
            "gemini" => Ok(AgentProtocol::Gemini),
            "devnagri" => Ok(AgentProtocol::Devnagri),
            "deepgram" => Ok(AgentProtocol::Deepgram),
            "ultravox" => Ok(AgentProtocol::Ultravox),
            "cartesia" => Ok(AgentProtocol::Cartesia),
            "vapi" => Ok(AgentProtocol::Vapi),
            "sarvam" => Ok(AgentProtocol::Sarvam),
            _ => Err(format!(
                "unknown agent protocol {s:?} (elevenlabs, openai, gemini, devnagri, deepgram, \
                 ultravox, cartesia, vapi or sarvam)"
            )),
        }
    }
}

/// The sample rate of all audio in the OpenAI-style protocol.
pub const OPENAI_SAMPLE_RATE: u32 = 24_000;

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            greeting_ms: 1500,
            tone_hz: 660.0,
            amplitude: 5000,
            echo: true,
            chunk_ms: 500,
            interrupt_rms: 500.0,
            sample_rate: 8000,
            protocol: AgentProtocol::ElevenLabs,
        }
    }
}

/// Counters of a running agent.
#[derive(Debug, Default)]
pub struct AgentStats {
    /// WebSocket connections accepted.
    pub connections: AtomicU64,
    /// Accepted connections that have ended (the peer closed or the socket failed). When it
    /// equals `connections`, everything the peers sent has been counted: wait for that, not
    /// for time to pass, before reading the other counters at the end of a test.
    pub closed: AtomicU64,
    /// Text messages received.
    pub messages_in: AtomicU64,
    /// Audio messages sent.
    pub audio_out: AtomicU64,
    /// Interruptions sent.
    pub interruptions: AtomicU64,
    /// Messages that could not be read, and OpenAI-style `error` events sent.
    pub errors: AtomicU64,
    /// Bytes of caller audio received (decoded PCM16), in whichever protocol: at 24 kHz in
    /// the OpenAI-style protocol, 48,000 bytes per second of audio.
    pub audio_in_bytes: AtomicU64,
    /// OpenAI-style `session.update` messages accepted (answered with `session.updated`).
    pub session_updates: AtomicU64,
    /// Keep-alive requests answered as asked (the Sarvam stand-in's ping, answered by a
    /// `client.system.pong` with its `event_id`).
    pub keepalives: AtomicU64,
}

/// A running agent; dropping it stops accepting connections.
#[derive(Debug)]
pub struct AgentHandle {
    addr: SocketAddr,
    stats: Arc<AgentStats>,
    task: tokio::task::JoinHandle<()>,
}

impl AgentHandle {
    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The default protocol's URL, `ws://ADDR/` (ElevenLabs unless the config says
    /// otherwise).
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
    /// The OpenAI-Realtime-style URL, `ws://ADDR/openai` (24 kHz PCM16), whatever the
    /// config's protocol.
    pub fn openai_url(&self) -> String {
        format!("ws://{}/openai", self.addr)
    }
    /// The URL of `protocol`'s stand-in whatever the default: `ws://ADDR/` for ElevenLabs,
    /// `ws://ADDR/openai`, `ws://ADDR/gemini`, `ws://ADDR/devnagri`, `ws://ADDR/deepgram`,
    /// `ws://ADDR/ultravox`, `ws://ADDR/cartesia`, `ws://ADDR/vapi`, `ws://ADDR/sarvam`.
    pub fn url_for(&self, protocol: AgentProtocol) -> String {
        let path = match protocol {
            AgentProtocol::ElevenLabs => "",
            AgentProtocol::OpenAi => "openai",
            AgentProtocol::Gemini => "gemini",
            AgentProtocol::Devnagri => "devnagri",
            AgentProtocol::Deepgram => "deepgram",
            AgentProtocol::Ultravox => "ultravox",
            AgentProtocol::Cartesia => "cartesia",
            AgentProtocol::Vapi => "vapi",
            AgentProtocol::Sarvam => "sarvam",
        };
        format!("ws://{}/{path}", self.addr)
    }
    /// The Teler-protocol echo URL, `ws://ADDR/teler`.
    pub fn teler_url(&self) -> String {
        format!("ws://{}/teler", self.addr)
    }
    /// Live counters.
    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }
    /// Stops accepting connections (open ones run on until their peer closes).
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the agent with default settings on `addr` (port 0 picks a free port).
pub async fn serve(addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<AgentHandle> {
    serve_with(addr, AgentConfig::default()).await
}

/// Starts the agent with `cfg` on `addr`.
pub async fn serve_with(
    addr: impl tokio::net::ToSocketAddrs,
    cfg: AgentConfig,
) -> std::io::Result<AgentHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(AgentStats::default());
    let s2 = stats.clone();
    let cfg = Arc::new(cfg);
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(connection(tcp, cfg.clone(), s2.clone()));
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    Ok(AgentHandle { addr, stats, task })
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_audio_chunk: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<TelerData<'a>>,
    /// OpenAI-style `input_audio_buffer.append`.
    #[serde(borrow, default)]
    audio: Option<Cow<'a, str>>,
    /// OpenAI-style `session.update`.
    #[serde(default)]
    session: Option<SessionConfig>,
}

#[derive(Deserialize)]
struct TelerData<'a> {
    #[serde(borrow, default)]
    audio_b64: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct SessionConfig {
    #[serde(default)]
    audio: Option<SessionAudio>,
}

#[derive(Deserialize, Default)]
struct SessionAudio {
    #[serde(default)]
    input: Option<SessionDirection>,
    #[serde(default)]
    output: Option<SessionDirection>,
}

#[derive(Deserialize, Default)]
struct SessionDirection {
    #[serde(default)]
    format: Option<SessionFormat>,
}

#[derive(Deserialize, Default)]
struct SessionFormat {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    rate: Option<u32>,
}

impl SessionConfig {
    /// Why this session cannot be served (a format other than 24 kHz PCM), if it cannot.
    fn refusal(&self) -> Option<String> {
        let audio = self.audio.as_ref()?;
        for (side, dir) in [("input", &audio.input), ("output", &audio.output)] {
            let Some(f) = dir.as_ref().and_then(|d| d.format.as_ref()) else {
                continue;
            };
            if let Some(k) = f.kind.as_deref()
                && k != "audio/pcm"
            {
                return Some(format!(
                    "session.audio.{side}.format.type {k:?}: this agent speaks audio/pcm only"
                ));
            }
            if let Some(r) = f.rate
                && r != OPENAI_SAMPLE_RATE
            {
                return Some(format!(
                    "session.audio.{side}.format.rate {r}: only {OPENAI_SAMPLE_RATE} is supported"
                ));
            }
        }
        None
    }
}

fn rms(pcm: &[u8]) -> f64 {
    let n = pcm.len() / 2;
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = pcm
        .chunks_exact(2)
        .map(|c| {
            let v = f64::from(i16::from_le_bytes([c[0], c[1]]));
            v * v
        })
        .sum();
    (sum / n as f64).sqrt()
}

fn el_audio(b64: &str, event_id: u64) -> String {
    format!(r#"{{"type":"audio","audio_event":{{"audio_base_64":"{b64}","event_id":{event_id}}}}}"#)
}

fn teler_audio(b64: &str, chunk_id: u64) -> String {
    format!(r#"{{"type":"audio","audio_b64":"{b64}","chunk_id":{chunk_id}}}"#)
}

/// The effective session of the OpenAI-style protocol.
const OPENAI_SESSION: &str = r#"{"type":"realtime","object":"realtime.session","model":"teler-emulator-agent","output_modalities":["audio"],"audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"turn_detection":{"type":"server_vad"}},"output":{"format":{"type":"audio/pcm","rate":24000}}}}"#;

/// Which protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ElevenLabs,
    OpenAi,
    Teler,
    Vendor(crate::vendors::Vendor),
}

/// What a connection sends, with its event counter and the current OpenAI-style response.
struct Speaker {
    mode: Mode,
    event_id: u64,
    out: Vec<(String, bool)>,
}

impl Speaker {
    fn next_id(&mut self) -> u64 {
        self.event_id += 1;
        self.event_id
    }

    fn push(&mut self, msg: String) {
        self.out.push((msg, false));
    }

    /// One chunk of agent audio in the connection's protocol; in the OpenAI-style one,
    /// `response` is the response it belongs to.
    fn audio(&mut self, b64: &str, response: &str) {
        let id = self.next_id();
        let msg = match self.mode {
            Mode::ElevenLabs => el_audio(b64, id),
            Mode::Teler | Mode::Vendor(_) => teler_audio(b64, id),
            Mode::OpenAi => format!(
                r#"{{"type":"response.output_audio.delta","event_id":"evt_{id}","response_id":"{response}","item_id":"item_{response}","output_index":0,"content_index":0,"delta":"{b64}"}}"#
            ),
        };
        self.out.push((msg, true));
    }

    /// OpenAI-style: a response starts; its id.
    fn response_created(&mut self) -> String {
        let resp = new_id("resp");
        let id = self.next_id();
        self.push(format!(
            r#"{{"type":"response.created","event_id":"evt_{id}","response":{{"object":"realtime.response","id":"{resp}","status":"in_progress"}}}}"#
        ));
        resp
    }

    /// OpenAI-style: a response ends.
    fn response_done(&mut self, resp: &str) {
        let id = self.next_id();
        self.push(format!(
            r#"{{"type":"response.done","event_id":"evt_{id}","response":{{"object":"realtime.response","id":"{resp}","status":"completed"}}}}"#
        ));
    }

    /// The caller talked over the greeting.
    fn interruption(&mut self, audio_start_ms: u64) {
        let id = self.next_id();
        let msg = match self.mode {
            Mode::OpenAi => format!(
                r#"{{"type":"input_audio_buffer.speech_started","event_id":"evt_{id}","audio_start_ms":{audio_start_ms},"item_id":"{}"}}"#,
                new_id("item")
            ),
            _ => format!(r#"{{"type":"interruption","interruption_event":{{"event_id":{id}}}}}"#),
        };
        self.push(msg);
    }

    /// Sends everything queued; false when the socket is gone.
    async fn flush(&mut self, ws: &mut crate::ws::WsClient, stats: &AgentStats) -> bool {
        for (msg, audio) in self.out.drain(..) {
            if ws.send(Message::text(msg)).await.is_err() {
                return false;
            }
            if audio {
                stats.audio_out.fetch_add(1, Ordering::Relaxed);
            }
        }
        true
    }
}

/// Why a Sarvam socket's handshake is refused: the query lacks the user (the service
/// answers 403 then, as reported).
fn sarvam_refusal(query: Option<&str>) -> Option<&'static str> {
    let has = |key: &str| {
        query.unwrap_or("").split('&').any(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, v)| k == key && !v.is_empty())
        })
    };
    (!has("user_identifier") || !has("user_identifier_type"))
        .then_some("user_identifier and user_identifier_type are required")
}

async fn connection(tcp: TcpStream, cfg: Arc<AgentConfig>, stats: Arc<AgentStats>) {
    let default_protocol = cfg.protocol;
    let path_mode = Arc::new(std::sync::Mutex::new(None));
    let pm = path_mode.clone();
    let query = Arc::new(std::sync::Mutex::new(String::new()));
    let q = query.clone();
    // The callback's signature is tungstenite's (its error type is an HTTP response).
    #[allow(clippy::result_large_err)]
    let cb = move |req: &tungstenite::handshake::server::Request,
                   res: tungstenite::handshake::server::Response| {
        let path = req.uri().path();
        if let (Ok(mut q), Some(query)) = (q.lock(), req.uri().query()) {
            *q = query.to_owned();
        }
        let mode = if path.starts_with("/teler") {
            Some(Mode::Teler)
        } else if path.starts_with("/openai") {
            Some(Mode::OpenAi)
        } else if path.starts_with("/gemini") {
            Some(Mode::Vendor(crate::vendors::Vendor::Gemini))
        } else if path.starts_with("/devnagri") {
            Some(Mode::Vendor(crate::vendors::Vendor::Devnagri))
        } else if path.starts_with("/deepgram") {
            Some(Mode::Vendor(crate::vendors::Vendor::Deepgram))
        } else if path.starts_with("/ultravox") {
            Some(Mode::Vendor(crate::vendors::Vendor::Ultravox))
        } else if path.starts_with("/cartesia") || path.starts_with("/agents/stream/") {
            Some(Mode::Vendor(crate::vendors::Vendor::Cartesia))
        } else if path.starts_with("/vapi") || path.ends_with("/transport") {
            Some(Mode::Vendor(crate::vendors::Vendor::Vapi))
        } else if path.starts_with("/sarvam") {
            Some(Mode::Vendor(crate::vendors::Vendor::Sarvam))
        } else {
            None
        };
        if let Ok(mut m) = pm.lock() {
            *m = mode;
        }
        let cartesia = mode.map_or(default_protocol == AgentProtocol::Cartesia, |m| {
            m == Mode::Vendor(crate::vendors::Vendor::Cartesia)
        });
        if cartesia {
            crate::vendors::cartesia_handshake(req)?;
        }
        let sarvam = Mode::Vendor(crate::vendors::Vendor::Sarvam);
        let is_sarvam =
            mode == Some(sarvam) || (mode.is_none() && default_protocol == AgentProtocol::Sarvam);
        if is_sarvam && let Some(why) = sarvam_refusal(req.uri().query()) {
            let mut refusal =
                tungstenite::handshake::server::ErrorResponse::new(Some(why.to_owned()));
            *refusal.status_mut() = tungstenite::http::StatusCode::FORBIDDEN;
            return Err(refusal);
        }
        Ok(res)
    };
    let Ok(mut ws) = async_tungstenite::tokio::accept_hdr_async_with_config(
        tcp,
        cb,
        Some(crate::ws::ws_config()),
    )
    .await
    else {
        return;
    };
    stats.connections.fetch_add(1, Ordering::Relaxed);
    /// Counts the connection as closed however `connection` returns.
    struct Closed<'a>(&'a AgentStats);
    impl Drop for Closed<'_> {
        fn drop(&mut self) {
            self.0.closed.fetch_add(1, Ordering::Release);
        }
    }
    let _closed = Closed(&stats);
    let from_path = path_mode.lock().ok().and_then(|m| *m);
    let mode = from_path.unwrap_or(match cfg.protocol {
        AgentProtocol::ElevenLabs => Mode::ElevenLabs,
        AgentProtocol::OpenAi => Mode::OpenAi,
        AgentProtocol::Gemini => Mode::Vendor(crate::vendors::Vendor::Gemini),
        AgentProtocol::Devnagri => Mode::Vendor(crate::vendors::Vendor::Devnagri),
        AgentProtocol::Deepgram => Mode::Vendor(crate::vendors::Vendor::Deepgram),
        AgentProtocol::Ultravox => Mode::Vendor(crate::vendors::Vendor::Ultravox),
        AgentProtocol::Cartesia => Mode::Vendor(crate::vendors::Vendor::Cartesia),
        AgentProtocol::Vapi => Mode::Vendor(crate::vendors::Vendor::Vapi),
        AgentProtocol::Sarvam => Mode::Vendor(crate::vendors::Vendor::Sarvam),
    });
    if let Mode::Vendor(v) = mode {
        let query = query.lock().map(|q| q.clone()).unwrap_or_default();
        crate::vendors::run(ws, v, &query, &cfg, &stats).await;
        return;
    }
    let mut sp = Speaker {
        mode,
        event_id: 0,
        out: Vec::new(),
    };
    let rate = if mode == Mode::OpenAi {
        OPENAI_SAMPLE_RATE
    } else {
        cfg.sample_rate
    };
    let chunk_bytes = (rate as usize * cfg.chunk_ms as usize / 1000) * 2;
    // The greeting plays until it is interrupted or the caller has sent this many samples.
    let mut greeting_samples: u64 = 0;
    match mode {
        Mode::ElevenLabs => sp.push(format!(
            r#"{{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{{"conversation_id":"{}","agent_output_audio_format":"pcm_{rate}","user_input_audio_format":"pcm_{rate}"}}}}"#,
            new_id("conv"),
        )),
        Mode::OpenAi => {
            let id = sp.next_id();
            sp.push(format!(
                r#"{{"type":"session.created","event_id":"evt_{id}","session":{{"id":"{}",{}}}"#,
                new_id("sess"),
                &OPENAI_SESSION[1..]
            ));
        }
        Mode::Teler | Mode::Vendor(_) => {}
    }
    if mode != Mode::Teler && cfg.greeting_ms > 0 {
        let tone = Pcm::tone(rate, cfg.tone_hz, cfg.amplitude, cfg.greeting_ms);
        let bytes: Vec<u8> = tone.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let step = if chunk_bytes == 0 {
            bytes.len()
        } else {
            chunk_bytes
        };
        let resp = if mode == Mode::OpenAi {
            sp.response_created()
        } else {
            String::new()
        };
        for c in bytes.chunks(step.max(2)) {
            sp.audio(&B64.encode(c), &resp);
        }
        if mode == Mode::OpenAi {
            sp.response_done(&resp);
        }
        greeting_samples = tone.samples.len() as u64;
    }
    if !sp.flush(&mut ws, &stats).await {
        return;
    }
    // Caller audio heard so far, in samples at `rate`: the call's clock.
    let mut heard: u64 = 0;
    let mut teler = mode == Mode::Teler;
    let mut pending: Vec<u8> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    while let Some(msg) = ws.next().await {
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        stats.messages_in.fetch_add(1, Ordering::Relaxed);
        let Ok(m) = serde_json::from_str::<Incoming<'_>>(text.as_str()) else {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if m.kind.as_deref() == Some("start") && sp.mode != Mode::OpenAi {
            teler = true;
            sp.mode = Mode::Teler;
            continue;
        }
        let b64 = match sp.mode {
            Mode::Teler => match (m.kind.as_deref(), m.data.and_then(|d| d.audio_b64)) {
                (Some("audio"), Some(a)) => a,
                _ => continue,
            },
            Mode::Vendor(_) => continue,
            Mode::ElevenLabs => match m.user_audio_chunk {
                Some(a) => a,
                None => continue, // pong, user_activity, contextual_update, …
            },
            Mode::OpenAi => match m.kind.as_deref() {
                Some("input_audio_buffer.append") => match m.audio {
                    Some(a) => a,
                    None => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                Some("session.update") => {
                    let id = sp.next_id();
                    let session = m.session.unwrap_or_default();
                    match session.refusal() {
                        None => {
                            stats.session_updates.fetch_add(1, Ordering::Relaxed);
                            sp.push(format!(
                                r#"{{"type":"session.updated","event_id":"evt_{id}","session":{OPENAI_SESSION}}}"#
                            ));
                        }
                        Some(why) => {
                            stats.errors.fetch_add(1, Ordering::Relaxed);
                            sp.push(
                                serde_json::json!({
                                    "type": "error",
                                    "event_id": format!("evt_{id}"),
                                    "error": {
                                        "type": "invalid_request_error",
                                        "code": "invalid_value",
                                        "message": why,
                                        "event_id": serde_json::Value::Null,
                                    }
                                })
                                .to_string(),
                            );
                        }
                    }
                    if !sp.flush(&mut ws, &stats).await {
                        return;
                    }
                    continue;
                }
                _ => continue, // response.create, input_audio_buffer.commit, …
            },
        };
        if teler && chunk_bytes == 0 {
            // Echo at once, without decoding.
            sp.audio(&b64, "");
        } else {
            scratch.clear();
            if B64.decode_vec(b64.as_bytes(), &mut scratch).is_err() {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            stats
                .audio_in_bytes
                .fetch_add(scratch.len() as u64, Ordering::Relaxed);
            let start = heard;
            heard += scratch.len() as u64 / 2;
            if !teler
                && cfg.interrupt_rms > 0.0
                && start < greeting_samples
                && rms(&scratch) > cfg.interrupt_rms
            {
                greeting_samples = 0;
                sp.interruption(start * 1000 / u64::from(rate.max(1)));
                stats.interruptions.fetch_add(1, Ordering::Relaxed);
            }
            if teler || cfg.echo {
                if chunk_bytes == 0 {
                    echo(&mut sp, &b64);
                } else {
                    pending.extend_from_slice(&scratch);
                    while pending.len() >= chunk_bytes {
                        let rest = pending.split_off(chunk_bytes);
                        let chunk = std::mem::replace(&mut pending, rest);
                        echo(&mut sp, &B64.encode(&chunk));
                    }
                }
            }
        }
        if !sp.flush(&mut ws, &stats).await {
            return;
        }
    }
}

/// Echoes one chunk of caller audio: in the OpenAI-style protocol as a whole response.
fn echo(sp: &mut Speaker, b64: &str) {
    if sp.mode == Mode::OpenAi {
        let resp = sp.response_created();
        sp.audio(b64, &resp);
        sp.response_done(&resp);
    } else {
        sp.audio(b64, "");
    }
}
