//! Ready-made handlers for a Cartesia Line voice agent on its Agents WebSocket
//! (`wss://api.cartesia.ai/agents/stream/{agent_id}`): JSON text frames with an `event`
//! field, audio as base64 inside them (no binary frames), in one format both ways.
//!
//! The socket is authenticated with a short-lived access token from a pre-socket request:
//! [`AccessToken`] (`POST /access-token` with the API key, `grants.agent`) answers the
//! token; [`Config::bridge_config`] puts it in the `Authorization: Bearer` header with the
//! `Cartesia-Version` header.
//!
//! The call side ([`CallHandler`]):
//!
//! - once the socket is open and Teler's `start` is known, it sends
//!   `{"event":"start","stream_id":S,"config":{"input_format":F,…},…}` (S is Teler's stream
//!   id; F is [`Config::format`]; `voice_id`, `agent.introduction` and
//!   `agent.system_prompt` when set). Nothing goes before it: Cartesia closes a socket whose
//!   first message is anything else;
//! - it **holds caller audio until the vendor's `ack`**, then sends what it held, in order,
//!   with the next caller frame (about 10 s at most is held; older audio is dropped);
//! - each Teler `audio` frame is converted to F (resampled to its rate, and encoded as G.711
//!   μ-law for `mulaw_8000`, the default) and sent as
//!   `{"event":"media_input","stream_id":S,"media":{"payload":B}}`;
//! - everything else from Teler is passed. The keep-alive Cartesia asks for (WebSocket pings
//!   well inside its idle timeout) is the bridge's own: its pings to the remote go every 20 s
//!   by default ([`keepalive_interval`](crate::media::BridgeConfigBuilder::keepalive_interval)).
//!
//! The remote side ([`RemoteHandler`]):
//!
//! - `{"event":"ack",…}`: caller audio may flow;
//! - `{"event":"media_output","media":{"payload":B}}`: agent audio, in F like the caller's
//!   (decoded from μ-law, resampled to 8 kHz), cut into Teler chunks of [`Config::chunk`]
//!   with `chunk_id` from 1;
//! - `{"event":"clear"}`: barge-in, held audio dropped, `clear` to Teler;
//! - Cartesia sends no end-of-turn message, so the remainder under one chunk goes out once
//!   no agent audio has come for [`Config::flush_after`] (on the bridge's clock);
//! - `{"event":"error",…}` (not documented; Cartesia reports failures by closing the socket)
//!   would be a handler error with its `message`;
//! - everything else (`dtmf`, `custom`, `transfer_call`, …) is passed.
//!
//! ```
//! use teler_core::agents::cartesia;
//! use teler_core::media::{Message, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = cartesia::Config::default().handlers();
//! let start = r#"{"type":"start","call_id":"c1","stream_id":"s1","data":{"sample_rate":8000}}"#;
//! let mut out = Outbox::default();
//! call.handle(&Message::from_text(start), &mut out).unwrap();
//! call.on_remote_connected(&mut out).unwrap();
//! let first: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
//! assert_eq!(first["event"], "start");
//! assert_eq!(first["config"]["input_format"], "mulaw_8000");
//!
//! // Caller audio waits for the ack, then goes as media_input events (μ-law).
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAAAAAAA="}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Pass);
//! remote.handle(&Message::from_text(r#"{"event":"ack","stream_id":"s1"}"#), &mut out).unwrap();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Relay);
//! assert!(out.messages()[0].starts_with(r#"{"event":"media_input","stream_id":"s1""#));
//!
//! // Barge-in.
//! let mut out = Outbox::default();
//! remote.handle(&Message::from_text(r#"{"event":"clear","stream_id":"s1"}"#), &mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::common::{
    AgentEvent, BinaryFrames, CallerAudio, ReadyFlag, RemoteHandler as Remote, json_str, with_teler,
};
use super::presocket::{VendorRequest, parse_json, request};
use crate::audio::{AudioFormat, DEFAULT_CHUNK, SampleRate};
use crate::media::{
    BridgeConfig, BridgeConfigBuilder, HandlerError, Message, Outbox, StreamHandler, StreamOp,
    TelerMessage,
};
use crate::rest::{ApiKey, Error};

pub use super::common::RemoteHandler;

/// Cartesia's REST API base URL.
pub const API_BASE: &str = "https://api.cartesia.ai";

/// The Agents WebSocket's base: the agent's id follows.
pub const STREAM_BASE: &str = "wss://api.cartesia.ai/agents/stream/";

/// The `Cartesia-Version` the Agents WebSocket is documented with.
pub const VERSION: &str = "2025-04-16";

/// The audio format of the call, both ways: `start.config.input_format`. The agent's audio
/// comes back in the same format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// `mulaw_8000`: G.711 μ-law at 8 kHz, the telephony format (the default: Teler's rate,
    /// no resampling on 8 kHz flows).
    #[default]
    Mulaw8000,
    /// `pcm_16000`: PCM16 at 16 kHz.
    Pcm16000,
    /// `pcm_24000`: PCM16 at 24 kHz.
    Pcm24000,
    /// `pcm_44100`: PCM16 at 44.1 kHz.
    Pcm44100,
}

impl Format {
    /// Every format the Agents WebSocket takes.
    pub const ALL: [Format; 4] = [
        Format::Mulaw8000,
        Format::Pcm16000,
        Format::Pcm24000,
        Format::Pcm44100,
    ];

    /// The name in `input_format` (`mulaw_8000`, `pcm_16000`, `pcm_24000`, `pcm_44100`).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Mulaw8000 => "mulaw_8000",
            Format::Pcm16000 => "pcm_16000",
            Format::Pcm24000 => "pcm_24000",
            Format::Pcm44100 => "pcm_44100",
        }
    }

    /// The format of a name, if Cartesia documents it.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The encoding and rate.
    pub const fn audio(self) -> AudioFormat {
        match self {
            Format::Mulaw8000 => AudioFormat::MULAW_8K,
            Format::Pcm16000 => AudioFormat::pcm16(SampleRate::Hz16000),
            Format::Pcm24000 => AudioFormat::pcm16(SampleRate::Hz24000),
            Format::Pcm44100 => AudioFormat::pcm16(SampleRate::Hz44100),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Cartesia agent call's settings (the `start` event). Holds no secret: the access token
/// goes to [`bridge_config`](Self::bridge_config) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The audio format both ways. Default [`Format::Mulaw8000`].
    pub format: Format,
    /// `config.voice_id`: another voice than the agent's; default `None`.
    pub voice_id: Option<String>,
    /// `agent.introduction`: what the agent says first, for this call only; default `None`
    /// (the deployed agent's).
    pub introduction: Option<String>,
    /// `agent.system_prompt`, for this call only; default `None` (the deployed agent's).
    pub system_prompt: Option<String>,
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
    /// How long without agent audio ends the agent's turn (the remainder under one chunk
    /// goes out then): Cartesia sends no end-of-turn message. Default 250 ms.
    pub flush_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: Format::default(),
            voice_id: None,
            introduction: None,
            system_prompt: None,
            chunk: DEFAULT_CHUNK,
            flush_after: Duration::from_millis(250),
        }
    }
}

impl Config {
    /// The `start` event for Teler's stream `stream_id`.
    pub fn start_message(&self, stream_id: &str) -> String {
        let mut config = serde_json::json!({ "input_format": self.format.name() });
        if let Some(v) = &self.voice_id {
            config["voice_id"] = v.as_str().into();
        }
        let mut start = serde_json::json!({
            "event": "start",
            "stream_id": stream_id,
            "config": config,
        });
        let mut agent = serde_json::Map::new();
        for (k, v) in [
            ("introduction", &self.introduction),
            ("system_prompt", &self.system_prompt),
        ] {
            if let Some(v) = v {
                agent.insert(k.to_owned(), v.as_str().into());
            }
        }
        if !agent.is_empty() {
            start["agent"] = agent.into();
        }
        start.to_string()
    }

    /// A fresh handler pair for one call (fits a connector's per-call factory).
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("cartesia::Config::chunk is 10 ms to 10 s")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), crate::audio::AudioError> {
        let ready = ReadyFlag::default();
        let remote = Remote::new(
            "Cartesia",
            self.format.audio(),
            self.chunk,
            classify,
            ready.clone(),
            BinaryFrames::Decline,
        )?
        .idle_flush(Some(self.flush_after));
        let call = CallHandler {
            config: self.clone(),
            audio: CallerAudio::new(self.format.audio(), Some(ready)),
            connected: false,
            start: None,
            prefix: String::new(),
        };
        Ok((call, remote))
    }

    /// The agent's socket URL: [`STREAM_BASE`] + `agent_id`.
    ///
    /// # Errors
    /// [`Error::Config`]: an id that is empty or has characters other than letters, digits,
    /// `-` and `_`.
    pub fn url(agent_id: &str) -> Result<String, Error> {
        if agent_id.is_empty()
            || !agent_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config(format!(
                "Cartesia agent id {agent_id:?}: letters, digits, '-' and '_' only"
            )));
        }
        Ok(format!("{STREAM_BASE}{agent_id}"))
    }

    /// A bridge config for the agent `agent_id`: [`url`](Self::url) with `Authorization:
    /// Bearer access_token` (from [`AccessToken`]) and `Cartesia-Version: `[`VERSION`]. Add
    /// settings to the builder and `build()` it.
    ///
    /// # Errors
    /// As [`url`](Self::url).
    pub fn bridge_config(agent_id: &str, access_token: &str) -> Result<BridgeConfigBuilder, Error> {
        Ok(BridgeConfig::builder(Self::url(agent_id)?)
            .header("Authorization", format!("Bearer {access_token}"))
            .header("Cartesia-Version", VERSION))
    }
}

/// The pre-socket request: a short-lived access token for agent calls (`POST
/// /access-token`, `{"grants":{"agent":true},"expires_in":N}`, the API key as `Bearer`);
/// its answer is the token, for [`Config::bridge_config`]. The key is hidden from `Debug`,
/// and so is the token answered (an [`ApiKey`]).
#[derive(Clone)]
pub struct AccessToken {
    api_key: ApiKey,
    base_url: String,
    expires_in: u32,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl AccessToken {
    /// A token request with `api_key`, valid for 300 s (it is needed only to open the socket).
    ///
    /// # Errors
    /// [`Error::Config`]: an empty key, or one that cannot be a header value.
    pub fn new(api_key: impl Into<String>) -> Result<Self, Error> {
        Ok(AccessToken {
            api_key: ApiKey::new(api_key)?,
            base_url: API_BASE.to_owned(),
            expires_in: 300,
        })
    }

    /// Another lifetime, in seconds.
    pub fn expires_in(mut self, seconds: u32) -> Self {
        self.expires_in = seconds;
        self
    }

    /// Another base URL than [`API_BASE`] (a proxy, or a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

impl VendorRequest for AccessToken {
    /// The access token (redacted in `Debug`; [`ApiKey::expose`] gives it).
    type Response = ApiKey;

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, Error> {
        let bearer = format!("Bearer {}", self.api_key.expose());
        request(
            http::Method::POST,
            &format!("{}/access-token", self.base_url),
            &[("Authorization", &bearer), ("Cartesia-Version", VERSION)],
            Some(&serde_json::json!({
                "grants": { "agent": true },
                "expires_in": self.expires_in,
            })),
        )
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<ApiKey, Error> {
        let status = resp.status().as_u16();
        let t: Token = parse_json(resp)?;
        ApiKey::new(t.token).map_err(|_| Error::Decode {
            status,
            message: "the access token is empty or not a header value".to_owned(),
            body: Vec::new(),
        })
    }
}

/// The call-side handler: `start` once the socket is open and Teler's `start` is known,
/// caller audio held until `ack`, then `media_input` events in the call's format. See the
/// [module docs](self).
#[derive(Debug)]
pub struct CallHandler {
    config: Config,
    audio: CallerAudio,
    connected: bool,
    /// The `start` event, until sent.
    start: Option<String>,
    /// `{"event":"media_input","stream_id":S,"media":{"payload":"`, once Teler's start is known.
    prefix: String,
}

impl CallHandler {
    /// Caller frames dropped because the vendor was not ready in time (about 10 s of audio
    /// is held; older frames go first).
    pub fn dropped_frames(&self) -> u64 {
        self.audio.dropped()
    }

    /// Sends `start` if the socket is open and it is known; whether it went.
    fn send_start(&mut self, out: &mut Outbox) -> bool {
        if !self.connected {
            return false;
        }
        match self.start.take() {
            Some(s) => {
                out.send(s);
                true
            }
            None => false,
        }
    }

    fn reshape(
        &mut self,
        m: &TelerMessage<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        match m {
            TelerMessage::Start(s) => {
                if !self.prefix.is_empty() {
                    return Ok(StreamOp::Pass); // a second start: the session is set up
                }
                self.audio.start(s)?;
                let stream = s
                    .stream_id
                    .as_deref()
                    .or(s.call_id.as_deref())
                    .unwrap_or("teler");
                self.start = Some(self.config.start_message(stream));
                self.prefix = format!(
                    r#"{{"event":"media_input","stream_id":{},"media":{{"payload":""#,
                    json_str(stream)
                );
                Ok(if self.send_start(out) {
                    StreamOp::Relay
                } else {
                    StreamOp::Pass
                })
            }
            TelerMessage::Audio(a) => {
                if self.prefix.is_empty() {
                    return Err(HandlerError::msg("Teler audio before its start frame"));
                }
                let msg = self.audio.message(&a.audio_b64, &self.prefix, r#""}}"#)?;
                Ok(self.audio.send(msg, out))
            }
            _ => Ok(if self.audio.release(out) {
                StreamOp::Relay
            } else {
                StreamOp::Pass
            }),
        }
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
        self.connected = true;
        self.send_start(out);
        Ok(())
    }
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ServerEvent<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    media: Option<Media<'a>>,
    #[serde(default)]
    message: Option<String>,
}

fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
    let m: ServerEvent<'a> = serde_json::from_str(text)?;
    match &*m.event {
        "ack" => ev.push(AgentEvent::Ready),
        "media_output" => match m.media {
            Some(media) => ev.push(AgentEvent::Audio(media.payload)),
            None => return Err(HandlerError::msg("Cartesia media_output without media")),
        },
        "clear" => ev.push(AgentEvent::Clear),
        "error" => {
            return Err(HandlerError::msg(format!(
                "Cartesia error: {}",
                m.message.as_deref().unwrap_or(text)
            )));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::audio::{encode_pcm16_b64, g711};

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    const START: &str =
        r#"{"type":"start","call_id":"c1","stream_id":"s1","data":{"sample_rate":8000}}"#;

    fn teler_frame(samples: &[i16]) -> String {
        let mut s = String::new();
        encode_pcm16_b64(samples, &mut s);
        format!(r#"{{"type":"audio","data":{{"audio_b64":"{s}"}}}}"#)
    }

    fn media_output(bytes: &[u8]) -> String {
        format!(
            r#"{{"event":"media_output","stream_id":"s1","media":{{"payload":"{}"}}}}"#,
            B64.encode(bytes)
        )
    }

    #[test]
    fn start_carries_the_format_voice_and_agent_overrides() {
        let cfg = Config {
            format: Format::Pcm16000,
            voice_id: Some("v-1".into()),
            system_prompt: Some("Be \"brief\".".into()),
            ..Config::default()
        };
        let v: serde_json::Value = serde_json::from_str(&cfg.start_message("s\"1")).unwrap();
        assert_eq!(v["event"], "start");
        assert_eq!(v["stream_id"], "s\"1");
        assert_eq!(v["config"]["input_format"], "pcm_16000");
        assert_eq!(v["config"]["voice_id"], "v-1");
        assert_eq!(v["agent"]["system_prompt"], "Be \"brief\".");
        assert!(v["agent"].get("introduction").is_none());
        let plain: serde_json::Value =
            serde_json::from_str(&Config::default().start_message("s")).unwrap();
        assert!(plain.get("agent").is_none());
        assert!(plain["config"].get("voice_id").is_none());
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("pcm_8000"), None);
    }

    #[test]
    fn start_waits_for_both_the_socket_and_telers_start() {
        // Socket first.
        let (mut call, _) = Config::default().handlers();
        let mut out = Outbox::default();
        call.on_remote_connected(&mut out).unwrap();
        assert!(out.is_empty(), "nothing before Teler's start");
        assert_eq!(
            call.handle(&Message::from_text(START), &mut out).unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 1);
        assert!(out.messages()[0].contains(r#""event":"start""#));
        // Teler's start first.
        let (mut call, _) = Config::default().handlers();
        let mut out = Outbox::default();
        assert_eq!(
            call.handle(&Message::from_text(START), &mut out).unwrap(),
            StreamOp::Pass
        );
        call.on_remote_connected(&mut out).unwrap();
        assert_eq!(out.len(), 1);
        // Audio before any start is an error, not a panic.
        let (mut call, _) = Config::default().handlers();
        assert!(
            call.handle(&Message::from_text(&teler_frame(&[1; 160])), &mut out)
                .is_err()
        );
    }

    #[test]
    fn caller_audio_is_held_until_ack_then_mulaw_at_8k() {
        let (mut call, mut remote) = Config::default().handlers();
        let mut out = Outbox::default();
        call.handle(&Message::from_text(START), &mut out).unwrap();
        call.on_remote_connected(&mut out).unwrap();
        let mut out = Outbox::default();
        let frame = teler_frame(&[1000; 160]);
        assert_eq!(
            call.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Pass
        );
        remote
            .handle(
                &Message::from_text(
                    r#"{"event":"ack","stream_id":"s1","config":{"input_format":"mulaw_8000"}}"#,
                ),
                &mut out,
            )
            .unwrap();
        assert!(out.is_empty());
        assert!(remote.vendor_ready());
        assert_eq!(
            call.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 2, "the held frame, then this one");
        for m in out.messages() {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            assert_eq!(v["event"], "media_input");
            assert_eq!(v["stream_id"], "s1");
            let mulaw = B64.decode(v["media"]["payload"].as_str().unwrap()).unwrap();
            assert_eq!(mulaw.len(), 160, "one byte per 8 kHz sample");
            assert!(mulaw.iter().all(|&c| c == g711::ulaw_encode(1000)));
        }
    }

    #[test]
    fn pcm_16000_is_resampled_both_ways() {
        let cfg = Config {
            format: Format::Pcm16000,
            ..Config::default()
        };
        let (mut call, mut remote) = cfg.handlers();
        let mut out = Outbox::default();
        call.handle(&Message::from_text(START), &mut out).unwrap();
        call.on_remote_connected(&mut out).unwrap();
        remote
            .handle(&Message::from_text(r#"{"event":"ack"}"#), &mut out)
            .unwrap();
        let mut out = Outbox::default();
        call.handle(&Message::from_text(&teler_frame(&[500; 160])), &mut out)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
        let pcm = B64.decode(v["media"]["payload"].as_str().unwrap()).unwrap();
        // 20 ms at 16 kHz is 640 bytes, less the resampler's look-ahead.
        assert!(pcm.len() <= 640 && pcm.len() >= 640 - 200, "{}", pcm.len());
        // 600 ms of 16 kHz agent audio: one 500 ms chunk at 8 kHz.
        let mut out = Outbox::default();
        let agent: Vec<u8> = [900i16; 9600]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        remote
            .handle(&Message::from_text(&media_output(&agent)), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        let v: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
        let chunk = B64.decode(v["audio_b64"].as_str().unwrap()).unwrap();
        assert_eq!(chunk.len(), 8000, "500 ms of 8 kHz PCM16");
    }

    #[test]
    fn agent_audio_clear_idle_flush_and_errors() {
        let (_, mut h) = Config::default().handlers();
        let t0 = crate::test_epoch();
        let mut out = Outbox::at(t0);
        // 600 ms of μ-law at 8 kHz: one 500 ms chunk, 100 ms held.
        let mulaw = vec![g711::ulaw_encode(3000); 4800];
        assert_eq!(
            h.handle(&Message::from_text(&media_output(&mulaw)), &mut out)
                .unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 1);
        let v: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
        let pcm = B64.decode(v["audio_b64"].as_str().unwrap()).unwrap();
        assert_eq!(pcm.len(), 8000);
        assert_eq!(
            i16::from_le_bytes([pcm[0], pcm[1]]),
            g711::ulaw_decode(g711::ulaw_encode(3000)),
            "decoded from μ-law"
        );
        // No end-of-turn message: the remainder goes once no audio came for 250 ms.
        let due = h.poll_timeout().expect("a flush is due");
        assert_eq!(due, t0 + Duration::from_millis(250));
        let mut out = Outbox::at(due - Duration::from_millis(1));
        assert_eq!(
            h.handle_timeout(due - Duration::from_millis(1), &mut out)
                .unwrap(),
            StreamOp::Pass
        );
        assert_eq!(h.handle_timeout(due, &mut out).unwrap(), StreamOp::Relay);
        assert_eq!(out.len(), 1);
        assert!(out.messages()[0].ends_with(r#""chunk_id":2}"#));
        assert_eq!(h.poll_timeout(), None, "nothing held: no wake-up");
        // Barge-in drops what is held; no flush follows.
        let mut out = Outbox::at(due);
        h.handle(&Message::from_text(&media_output(&mulaw[..800])), &mut out)
            .unwrap();
        assert!(h.poll_timeout().is_some());
        h.handle(
            &Message::from_text(r#"{"event":"clear","stream_id":"s1"}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
        assert_eq!(h.poll_timeout(), None);
        // Passed, refused, and the vendor's own error text.
        for passed in [
            r#"{"event":"dtmf","stream_id":"s1","dtmf":"5"}"#,
            r#"{"event":"custom","metadata":{"a":1}}"#,
            r#"{"event":"transfer_call","stream_id":"s1"}"#,
        ] {
            assert_eq!(
                h.handle(&Message::from_text(passed), &mut out).unwrap(),
                StreamOp::Pass
            );
        }
        let e = h
            .handle(
                &Message::from_text(r#"{"event":"error","message":"bad format"}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Cartesia error: bad format");
        assert!(
            h.handle(&Message::from_text(r#"{"event":"media_output"}"#), &mut out)
                .is_err()
        );
        assert!(h.handle(&Message::from_text("nope"), &mut out).is_err());
        assert!(
            h.handle_binary(b"{}", &mut out).is_none(),
            "no binary frames"
        );
        // Outside a bridge (no clock) there is no idle flush.
        let (_, mut h) = Config::default().handlers();
        h.handle(
            &Message::from_text(&media_output(&mulaw[..800])),
            &mut Outbox::default(),
        )
        .unwrap();
        assert_eq!(h.poll_timeout(), None);
    }

    #[test]
    fn access_token_requests_and_answers() {
        let req = AccessToken::new("sk_car_k3y").unwrap().expires_in(60);
        assert!(
            !format!("{req:?}").contains("k3y"),
            "the key stays out of Debug"
        );
        let h = req.to_http().unwrap();
        assert_eq!(h.method(), http::Method::POST);
        assert_eq!(h.uri(), "https://api.cartesia.ai/access-token");
        assert_eq!(h.headers()["authorization"], "Bearer sk_car_k3y");
        assert_eq!(h.headers()["cartesia-version"], VERSION);
        let body: serde_json::Value = serde_json::from_slice(h.body()).unwrap();
        assert_eq!(body["grants"]["agent"], true);
        assert_eq!(body["expires_in"], 60);
        let req = req.base_url("http://127.0.0.1:9/");
        assert_eq!(
            req.to_http().unwrap().uri(),
            "http://127.0.0.1:9/access-token"
        );
        assert!(AccessToken::new(" ").is_err());

        let answer = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        let token = req.parse(answer(200, r#"{"token":"t0ken"}"#)).unwrap();
        assert_eq!(token.expose(), "t0ken");
        assert!(!format!("{token:?}").contains("t0ken"), "nor the token");
        let e = req
            .parse(answer(401, r#"{"message":"Invalid API key"}"#))
            .unwrap_err();
        assert_eq!(e.status(), Some(401));
        assert!(e.to_string().contains("Invalid API key"), "{e}");
        assert!(matches!(
            req.parse(answer(200, r#"{"tok":"x"}"#)),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            req.parse(answer(200, r#"{"token":""}"#)),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn bridge_config_names_the_agent_and_hides_the_token() {
        let b = Config::bridge_config("agent_1-x", "t0ken")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            b.remote_url(),
            "wss://api.cartesia.ai/agents/stream/agent_1-x"
        );
        assert!(!format!("{b:?}").contains("t0ken"));
        assert!(Config::bridge_config("../x", "t").is_err());
        assert!(Config::bridge_config("", "t").is_err());
    }
}
