//! Ready-made handlers for a Vapi call on the WebSocket transport (`vapi.websocket`): raw
//! audio in **binary** frames both ways, in the format the call was created with, and JSON
//! control messages in text frames.
//!
//! The socket comes from a pre-socket request: [`CreateCall`] (`POST /call` with
//! `Authorization: Bearer <key>`, the `assistantId` and
//! `transport: {provider: "vapi.websocket", audioFormat: {format, container: "raw", sampleRate}}`)
//! answers with the call's `transport.websocketCallUrl`, the socket to bridge to. Build it
//! from the same [`Config`] as the handlers, so the formats agree.
//!
//! The call side ([`CallHandler`]): no setup message (the call is configured by the
//! request); each Teler `audio` frame is converted to the call's format (resampled to
//! [`Config::sample_rate`], G.711 μ-law encoded for [`Encoding::Mulaw`]) and sent as one
//! binary frame at once; everything else from Teler is passed.
//!
//! The remote side ([`RemoteHandler`]):
//!
//! - binary frames: agent audio in the call's format, resampled to 8 kHz and cut into Teler
//!   chunks of [`Config::chunk`] with `chunk_id` from 1;
//! - `{"type":"user-interrupted"}`: barge-in, held audio dropped, `clear` to Teler (FreJun's
//!   Vapi bridges send no `clear`, so the caller hears the rest of the interrupted answer);
//! - `{"type":"speech-update","role":"assistant","status":"stopped"}`: the end of the agent's
//!   turn, the remainder goes out (and, should that message not come, once no agent audio
//!   has come for [`Config::flush_after`]);
//! - a message of type `error` (not documented) would be a handler error with its text;
//! - everything else (`transcript`, `conversation-update`, `status-update`, `speech-update`
//!   of the user, …) is passed. Messages wrapped as `{"message":{…}}` (the server-URL shape)
//!   are read the same way.
//!
//! ```
//! use teler_core::agents::vapi;
//! use teler_core::media::{Message, OutFrame, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = vapi::Config::default().handlers();
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAAAAAAA="}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Relay);
//! assert!(matches!(out.frames()[0], OutFrame::Binary(_)));
//!
//! let mut out = Outbox::default();
//! remote.handle(&Message::from_text(r#"{"type":"user-interrupted"}"#), &mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::common::{AgentEvent, BinaryFrames, CallerAudio, ReadyFlag, RemoteHandler as Remote};
use super::presocket::{VendorRequest, parse_json, request, socket_url};
use crate::audio::{AudioFormat, DEFAULT_CHUNK, SampleRate};
use crate::media::HandlerError;
use crate::rest::{ApiKey, Error};

/// The call-side handler: caller audio as binary frames in the agent's format (the shared
/// binary call handler). See the [module docs](self).
pub use super::common::BinaryCallHandler as CallHandler;
pub use super::common::RemoteHandler;

/// The Vapi REST API's base URL.
pub const API_BASE: &str = "https://api.vapi.ai";

/// The audio encoding of a WebSocket-transport call (`audioFormat.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// `pcm_s16le`: 16-bit signed little-endian PCM (Vapi's default).
    #[default]
    PcmS16le,
    /// `mulaw`: G.711 μ-law, at 8000 Hz only.
    Mulaw,
}

impl Encoding {
    /// The name in `audioFormat.format`.
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::PcmS16le => "pcm_s16le",
            Encoding::Mulaw => "mulaw",
        }
    }

    /// The encoding of a name, if Vapi documents it.
    pub fn from_name(name: &str) -> Option<Encoding> {
        [Encoding::PcmS16le, Encoding::Mulaw]
            .into_iter()
            .find(|e| e.name() == name)
    }
}

/// A Vapi call's settings: what [`CreateCall`] asks for and what the handlers expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The assistant (`assistantId`); required by [`CreateCall`], unused by the handlers.
    /// Default empty.
    pub assistant_id: String,
    /// `assistantOverrides` for this call (a JSON object); default `None`.
    pub assistant_overrides: Option<serde_json::Value>,
    /// `audioFormat.format`, both ways. Default [`Encoding::PcmS16le`].
    pub encoding: Encoding,
    /// `audioFormat.sampleRate`, both ways. Default [`SampleRate::Hz16000`] (Vapi's
    /// default); [`Encoding::Mulaw`] needs [`SampleRate::Hz8000`].
    pub sample_rate: SampleRate,
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
    /// How long without agent audio ends the agent's turn when no `speech-update` says so.
    /// Default 250 ms.
    pub flush_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            assistant_id: String::new(),
            assistant_overrides: None,
            encoding: Encoding::default(),
            sample_rate: SampleRate::Hz16000,
            chunk: DEFAULT_CHUNK,
            flush_after: Duration::from_millis(250),
        }
    }
}

impl Config {
    /// The audio format both ways.
    pub fn audio(&self) -> AudioFormat {
        match self.encoding {
            Encoding::PcmS16le => AudioFormat::pcm16(self.sample_rate),
            Encoding::Mulaw => AudioFormat {
                encoding: crate::audio::Encoding::MuLaw,
                rate: self.sample_rate,
            },
        }
    }

    /// A fresh handler pair for one call (fits a connector's per-call factory).
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("vapi::Config::chunk is 10 ms to 10 s")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), crate::audio::AudioError> {
        let remote = Remote::new(
            "Vapi",
            self.audio(),
            self.chunk,
            classify,
            ReadyFlag::default(),
            BinaryFrames::Audio,
        )?
        .idle_flush(Some(self.flush_after));
        let call = CallHandler::new(CallerAudio::new(self.audio(), None));
        Ok((call, remote))
    }

    /// The `transport` object of the create-call request.
    pub fn transport(&self) -> serde_json::Value {
        serde_json::json!({
            "provider": "vapi.websocket",
            "audioFormat": {
                "format": self.encoding.name(),
                "container": "raw",
                "sampleRate": self.sample_rate.hz(),
            },
        })
    }
}

/// The pre-socket request: creates a Vapi call on the WebSocket transport; its answer is
/// the `transport.websocketCallUrl` to bridge to. The key is hidden from `Debug`.
#[derive(Clone)]
pub struct CreateCall {
    api_key: ApiKey,
    base_url: String,
    body: serde_json::Value,
}

impl fmt::Debug for CreateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateCall")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("body", &self.body)
            .finish()
    }
}

impl CreateCall {
    /// The request for `config`'s call with `api_key`.
    ///
    /// # Errors
    /// [`Error::Config`]: an empty key or one that cannot be a header value, an empty
    /// `assistant_id`, overrides that are not a JSON object, or μ-law at a rate other than
    /// 8000 Hz.
    pub fn new(api_key: impl Into<String>, config: &Config) -> Result<Self, Error> {
        if config.assistant_id.trim().is_empty() {
            return Err(Error::Config("Vapi assistant_id is required".into()));
        }
        if config.encoding == Encoding::Mulaw && config.sample_rate != SampleRate::Hz8000 {
            return Err(Error::Config(format!(
                "Vapi mulaw audio is 8000 Hz, not {}",
                config.sample_rate
            )));
        }
        let mut body = serde_json::json!({
            "assistantId": config.assistant_id,
            "transport": config.transport(),
        });
        if let Some(o) = &config.assistant_overrides {
            if !o.is_object() {
                return Err(Error::Config(
                    "Vapi assistant_overrides must be a JSON object".into(),
                ));
            }
            body["assistantOverrides"] = o.clone();
        }
        Ok(CreateCall {
            api_key: ApiKey::new(api_key)?,
            base_url: API_BASE.to_owned(),
            body,
        })
    }

    /// Another base URL than [`API_BASE`] (a proxy, or a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedTransport {
    websocket_call_url: String,
}

#[derive(Deserialize)]
struct Created {
    transport: CreatedTransport,
}

impl VendorRequest for CreateCall {
    /// The `transport.websocketCallUrl`.
    type Response = String;

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, Error> {
        let bearer = format!("Bearer {}", self.api_key.expose());
        request(
            http::Method::POST,
            &format!("{}/call", self.base_url),
            &[("Authorization", &bearer)],
            Some(&self.body),
        )
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<String, Error> {
        let status = resp.status().as_u16();
        let c: Created = parse_json(resp)?;
        socket_url(status, c.transport.websocket_call_url)
    }
}

#[derive(Deserialize)]
struct Control<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
    let m: Control<'a> = serde_json::from_str(text)?;
    let m = match (&m.kind, &m.message) {
        // The server-URL shape: the event inside `message`.
        (None, Some(inner @ serde_json::Value::Object(_))) => {
            return classify_value(inner, text, ev);
        }
        _ => m,
    };
    match (m.kind.as_deref(), m.role.as_deref(), m.status.as_deref()) {
        (Some("user-interrupted"), ..) => ev.push(AgentEvent::Clear),
        (Some("speech-update"), Some("assistant"), Some("stopped")) => ev.push(AgentEvent::Flush),
        (Some("error"), ..) => {
            let why = m.message.or(m.error);
            return Err(HandlerError::msg(format!(
                "Vapi error: {}",
                match &why {
                    Some(serde_json::Value::String(s)) => s.as_str(),
                    _ => text,
                }
            )));
        }
        _ => {}
    }
    Ok(())
}

/// [`classify`] for an event already parsed (inside `message`).
fn classify_value<'a>(
    v: &serde_json::Value,
    text: &'a str,
    ev: &mut Vec<AgentEvent<'a>>,
) -> Result<(), HandlerError> {
    let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    match (s("type"), s("role"), s("status")) {
        (Some("user-interrupted"), ..) => ev.push(AgentEvent::Clear),
        (Some("speech-update"), Some("assistant"), Some("stopped")) => ev.push(AgentEvent::Flush),
        (Some("error"), ..) => {
            return Err(HandlerError::msg(format!(
                "Vapi error: {}",
                s("message").or(s("error")).unwrap_or(text)
            )));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::audio::g711;
    use crate::media::{Message, OutFrame, Outbox, StreamHandler, StreamOp};

    fn teler_frame(samples: &[i16]) -> String {
        let mut s = String::new();
        crate::audio::encode_pcm16_b64(samples, &mut s);
        format!(r#"{{"type":"audio","data":{{"audio_b64":"{s}"}}}}"#)
    }

    #[test]
    fn create_call_requests_and_answers() {
        let cfg = Config {
            assistant_id: "as-1".into(),
            assistant_overrides: Some(serde_json::json!({"firstMessage": "Hi"})),
            ..Config::default()
        };
        let req = CreateCall::new("k3y", &cfg).unwrap();
        assert!(
            !format!("{req:?}").contains("k3y"),
            "the key stays out of Debug"
        );
        let h = req.to_http().unwrap();
        assert_eq!(h.method(), http::Method::POST);
        assert_eq!(h.uri(), "https://api.vapi.ai/call");
        assert_eq!(h.headers()["authorization"], "Bearer k3y");
        let body: serde_json::Value = serde_json::from_slice(h.body()).unwrap();
        assert_eq!(body["assistantId"], "as-1");
        assert_eq!(body["assistantOverrides"]["firstMessage"], "Hi");
        let t = &body["transport"];
        assert_eq!(t["provider"], "vapi.websocket");
        assert_eq!(t["audioFormat"]["format"], "pcm_s16le");
        assert_eq!(t["audioFormat"]["container"], "raw");
        assert_eq!(t["audioFormat"]["sampleRate"], 16000);

        let mulaw = Config {
            assistant_id: "as-1".into(),
            encoding: Encoding::Mulaw,
            sample_rate: SampleRate::Hz8000,
            ..Config::default()
        };
        let req = CreateCall::new("k", &mulaw)
            .unwrap()
            .base_url("http://127.0.0.1:9/");
        let h = req.to_http().unwrap();
        assert_eq!(h.uri(), "http://127.0.0.1:9/call");
        let body: serde_json::Value = serde_json::from_slice(h.body()).unwrap();
        assert_eq!(body["transport"]["audioFormat"]["format"], "mulaw");
        assert!(body.get("assistantOverrides").is_none());
        let bad_rate = Config {
            sample_rate: SampleRate::Hz16000,
            ..mulaw.clone()
        };
        assert!(CreateCall::new("k", &bad_rate).is_err());
        assert!(
            CreateCall::new("k", &Config::default()).is_err(),
            "no assistant"
        );
        let bad_overrides = Config {
            assistant_overrides: Some(serde_json::json!([1])),
            ..mulaw.clone()
        };
        assert!(CreateCall::new("k", &bad_overrides).is_err());
        assert!(CreateCall::new(" ", &mulaw).is_err());

        let answer = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        assert_eq!(
            req.parse(answer(
                201,
                r#"{"id":"c","status":"queued","transport":{"provider":"vapi.websocket","websocketCallUrl":"wss://api.vapi.ai/c/transport"}}"#
            ))
            .unwrap(),
            "wss://api.vapi.ai/c/transport"
        );
        let e = req
            .parse(answer(
                401,
                r#"{"message":"Invalid Key. Hot tip, you may be using the private key instead of the public key, or vice versa.","error":"Unauthorized","statusCode":401}"#,
            ))
            .unwrap_err();
        assert_eq!(e.status(), Some(401));
        assert!(e.to_string().contains("Invalid Key"), "{e}");
        assert!(matches!(
            req.parse(answer(201, r#"{"id":"c","transport":{}}"#)),
            Err(Error::Decode { .. })
        ));
        assert!(
            req.parse(answer(
                201,
                r#"{"transport":{"websocketCallUrl":"https://x"}}"#
            ))
            .is_err()
        );
        assert_eq!(Encoding::from_name("mulaw"), Some(Encoding::Mulaw));
        assert_eq!(Encoding::from_name("opus"), None);
    }

    #[test]
    fn caller_audio_goes_at_once_as_binary_in_the_calls_format() {
        // PCM16 at 16 kHz (the default): resampled up.
        let (mut call, _) = Config::default().handlers();
        let mut out = Outbox::default();
        assert_eq!(
            call.handle(&Message::from_text(&teler_frame(&[500; 160])), &mut out)
                .unwrap(),
            StreamOp::Relay
        );
        let OutFrame::Binary(pcm) = &out.frames()[0] else {
            panic!("binary")
        };
        assert!(pcm.len() <= 640 && pcm.len() >= 640 - 200, "{}", pcm.len());
        // μ-law at 8 kHz: a byte a sample.
        let (mut call, _) = Config {
            encoding: Encoding::Mulaw,
            sample_rate: SampleRate::Hz8000,
            ..Config::default()
        }
        .handlers();
        let mut out = Outbox::default();
        call.handle(&Message::from_text(&teler_frame(&[500; 160])), &mut out)
            .unwrap();
        let OutFrame::Binary(codes) = &out.frames()[0] else {
            panic!("binary")
        };
        assert_eq!(codes.len(), 160);
        assert!(codes.iter().all(|&c| c == g711::ulaw_encode(500)));
        assert_eq!(
            call.handle(&Message::from_text(r#"{"type":"mark"}"#), &mut out)
                .unwrap(),
            StreamOp::Pass
        );
    }

    #[test]
    fn remote_side_binary_audio_barge_in_turns_and_errors() {
        let (_, mut h) = Config::default().handlers();
        let t0 = crate::test_epoch();
        let mut out = Outbox::at(t0);
        // 600 ms at 16 kHz: one 500 ms chunk now.
        let pcm: Vec<u8> = [900i16; 9600]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        h.handle_binary(&pcm, &mut out).unwrap().unwrap();
        assert_eq!(out.len(), 1);
        // The user starting to talk is not an interruption (Vapi decides that).
        let user = r#"{"type":"speech-update","role":"user","status":"started","turn":1}"#;
        assert_eq!(
            h.handle(&Message::from_text(user), &mut out).unwrap(),
            StreamOp::Pass
        );
        let stopped = r#"{"type":"speech-update","role":"assistant","status":"stopped","turn":0}"#;
        h.handle(&Message::from_text(stopped), &mut out).unwrap();
        assert_eq!(out.len(), 2, "the end of the turn flushes");
        assert!(out.messages()[1].ends_with(r#""chunk_id":2}"#));
        h.handle_binary(&pcm[..3200], &mut out).unwrap().unwrap();
        h.handle(
            &Message::from_text(r#"{"type":"user-interrupted"}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.messages()[2], r#"{"type":"clear"}"#);
        h.handle(&Message::from_text(stopped), &mut out).unwrap();
        assert_eq!(out.len(), 3, "the cleared audio stays dropped");
        // The server-URL shape, wrapped in `message`.
        h.handle_binary(&pcm[..3200], &mut out).unwrap().unwrap();
        h.handle(
            &Message::from_text(r#"{"message":{"type":"user-interrupted"}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.messages()[3], r#"{"type":"clear"}"#);
        // Without a speech-update, the idle flush sends the remainder.
        let mut out = Outbox::at(t0);
        h.handle_binary(&pcm[..3200], &mut out).unwrap().unwrap();
        let due = h.poll_timeout().expect("an idle flush");
        assert_eq!(h.handle_timeout(due, &mut out).unwrap(), StreamOp::Relay);
        assert_eq!(out.len(), 1);
        for passed in [
            r#"{"type":"transcript","role":"assistant","transcriptType":"final","transcript":"hi"}"#,
            r#"{"type":"status-update","status":"in-progress"}"#,
            r#"{"type":"conversation-update","messages":[]}"#,
        ] {
            assert_eq!(
                h.handle(&Message::from_text(passed), &mut out).unwrap(),
                StreamOp::Pass
            );
        }
        let e = h
            .handle(
                &Message::from_text(r#"{"type":"error","message":"nope"}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Vapi error: nope");
        let e = h
            .handle(
                &Message::from_text(r#"{"message":{"type":"error","error":"gone"}}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Vapi error: gone");
        assert!(h.handle_binary(&[1], &mut out).unwrap().is_err(), "odd");
        assert!(h.handle(&Message::from_text("nope"), &mut out).is_err());
    }
}
