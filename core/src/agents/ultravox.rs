//! Ready-made handlers for an Ultravox call on the `serverWebSocket` medium: raw PCM16 in
//! **binary** frames both ways at the rates the call was created with, JSON data messages
//! in text frames.
//!
//! The socket comes from a pre-socket request: [`CreateCall`] (`POST /api/calls`, or
//! `POST /api/agents/{agent_id}/calls` for a saved agent, with the `X-API-Key` header and
//! `medium.serverWebSocket.{inputSampleRate, outputSampleRate, clientBufferSizeMs}`)
//! answers with the call's `joinUrl`, the socket to bridge to. Build it from the same
//! [`Config`] as the handlers, so the rates agree.
//!
//! The call side ([`CallHandler`]): no setup message (the call is configured by the
//! request); each Teler `audio` frame is resampled to [`Config::input_rate`] and sent as one
//! binary frame of raw PCM16 LE at once; everything else from Teler is passed.
//!
//! The remote side ([`RemoteHandler`]):
//!
//! - binary frames: agent audio (PCM16 at the output rate), resampled to 8 kHz and cut into
//!   Teler chunks of [`Config::chunk`] with `chunk_id` from 1;
//! - `{"type":"playback_clear_buffer"}`: barge-in, held audio dropped, `clear` to Teler;
//! - `{"type":"state","state":S}` with S other than `speaking`: the agent's turn ended, the
//!   remainder goes out;
//! - everything else (`transcript`, `call_started`, `pong`, `client_tool_invocation`, …) is
//!   passed. Ultravox reports errors by closing the socket (the bridge ends as
//!   `RemoteClosed` with the reason); a data message of type `error` is a handler error with
//!   its text, should one come.
//!
//! ```
//! use teler_core::agents::ultravox;
//! use teler_core::media::{Message, OutFrame, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = ultravox::Config::default().handlers();
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAAAAAAA="}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Relay);
//! assert!(matches!(out.frames()[0], OutFrame::Binary(_)));
//!
//! let mut out = Outbox::default();
//! remote.handle(&Message::from_text(r#"{"type":"playback_clear_buffer"}"#), &mut out).unwrap();
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

/// The Ultravox REST API's base URL.
pub const API_BASE: &str = "https://api.ultravox.ai/api";

/// An Ultravox call's settings: what [`CreateCall`] asks for and what the handlers expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A saved agent's id (`POST /api/agents/{id}/calls`); `None` (the default): an ad-hoc
    /// call (`POST /api/calls`) with the fields below.
    pub agent_id: Option<String>,
    /// `systemPrompt` (ad-hoc calls); default `None`.
    pub system_prompt: Option<String>,
    /// `model` (ad-hoc calls); default `None` (the API's default model).
    pub model: Option<String>,
    /// `voice` (ad-hoc calls); default `None` (the API's default voice).
    pub voice: Option<String>,
    /// `inputSampleRate`: the rate caller audio is sent at. Default [`SampleRate::Hz8000`]
    /// (Teler's rate: no resampling).
    pub input_rate: SampleRate,
    /// `outputSampleRate`: the rate the agent speaks at. Default [`SampleRate::Hz8000`].
    pub output_rate: SampleRate,
    /// `clientBufferSizeMs`: how far ahead of real time Ultravox may send audio. Default
    /// 30 000 (the docs' advice when the client honours `playback_clear_buffer`, as this
    /// handler does; Teler queues what it is sent).
    pub client_buffer_ms: u32,
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            agent_id: None,
            system_prompt: None,
            model: None,
            voice: None,
            input_rate: SampleRate::Hz8000,
            output_rate: SampleRate::Hz8000,
            client_buffer_ms: 30_000,
            chunk: DEFAULT_CHUNK,
        }
    }
}

impl Config {
    /// A fresh handler pair for one call (fits a connector's per-call factory).
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("ultravox::Config::chunk is 10 ms to 10 s")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), crate::audio::AudioError> {
        let remote = Remote::new(
            "Ultravox",
            AudioFormat::pcm16(self.output_rate),
            self.chunk,
            classify,
            ReadyFlag::default(),
            BinaryFrames::Audio,
        )?;
        let call = CallHandler::new(CallerAudio::new(AudioFormat::pcm16(self.input_rate), None));
        Ok((call, remote))
    }

    /// The `medium` object of the create-call request.
    pub fn medium(&self) -> serde_json::Value {
        serde_json::json!({ "serverWebSocket": {
            "inputSampleRate": self.input_rate.hz(),
            "outputSampleRate": self.output_rate.hz(),
            "clientBufferSizeMs": self.client_buffer_ms,
        } })
    }
}

/// The pre-socket request: creates an Ultravox call on the `serverWebSocket` medium; its
/// answer is the `joinUrl` to bridge to. The key is hidden from `Debug`.
#[derive(Clone)]
pub struct CreateCall {
    api_key: ApiKey,
    base_url: String,
    agent_id: Option<String>,
    body: serde_json::Value,
}

impl fmt::Debug for CreateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateCall")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("agent_id", &self.agent_id)
            .field("body", &self.body)
            .finish()
    }
}

impl CreateCall {
    /// The request for `config`'s call with `api_key`.
    ///
    /// # Errors
    /// [`Error::Config`]: an empty key, or one that cannot be a header value.
    pub fn new(api_key: impl Into<String>, config: &Config) -> Result<Self, Error> {
        let body = match &config.agent_id {
            Some(_) => serde_json::json!({ "medium": config.medium() }),
            None => {
                let mut b = serde_json::json!({ "medium": config.medium() });
                for (k, v) in [
                    ("systemPrompt", &config.system_prompt),
                    ("model", &config.model),
                    ("voice", &config.voice),
                ] {
                    if let Some(v) = v {
                        b[k] = v.as_str().into();
                    }
                }
                b
            }
        };
        Ok(CreateCall {
            api_key: ApiKey::new(api_key)?,
            base_url: API_BASE.to_owned(),
            agent_id: config.agent_id.clone(),
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
struct Created {
    join_url: String,
}

impl VendorRequest for CreateCall {
    /// The `joinUrl`.
    type Response = String;

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, Error> {
        let url = match &self.agent_id {
            Some(id) => {
                if id.is_empty()
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(Error::Config(format!(
                        "Ultravox agent id {id:?}: letters, digits, '-' and '_' only"
                    )));
                }
                format!("{}/agents/{id}/calls", self.base_url)
            }
            None => format!("{}/calls", self.base_url),
        };
        request(
            http::Method::POST,
            &url,
            &[("X-API-Key", self.api_key.expose())],
            Some(&self.body),
        )
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<String, Error> {
        let status = resp.status().as_u16();
        let c: Created = parse_json(resp)?;
        socket_url(status, c.join_url)
    }
}

#[derive(Deserialize)]
struct DataMessage<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    state: Option<Cow<'a, str>>,
    #[serde(default)]
    message: Option<String>,
}

fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
    let m: DataMessage<'a> = serde_json::from_str(text)?;
    match &*m.kind {
        "playback_clear_buffer" => ev.push(AgentEvent::Clear),
        "state" if m.state.as_deref() != Some("speaking") => ev.push(AgentEvent::Flush),
        "error" => {
            return Err(HandlerError::msg(format!(
                "Ultravox error: {}",
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
    use crate::media::{Message, OutFrame, Outbox, StreamHandler, StreamOp};

    #[test]
    fn create_call_requests_and_answers() {
        let cfg = Config {
            system_prompt: Some("Be brief.".into()),
            voice: Some("Mark".into()),
            input_rate: SampleRate::Hz16000,
            ..Config::default()
        };
        let req = CreateCall::new("k3y", &cfg).unwrap();
        assert!(
            !format!("{req:?}").contains("k3y"),
            "the key stays out of Debug"
        );
        let h = req.to_http().unwrap();
        assert_eq!(h.method(), http::Method::POST);
        assert_eq!(h.uri(), "https://api.ultravox.ai/api/calls");
        assert_eq!(h.headers()["x-api-key"], "k3y");
        let body: serde_json::Value = serde_json::from_slice(h.body()).unwrap();
        assert_eq!(body["systemPrompt"], "Be brief.");
        assert_eq!(body["voice"], "Mark");
        assert!(body.get("model").is_none());
        let ws = &body["medium"]["serverWebSocket"];
        assert_eq!(ws["inputSampleRate"], 16000);
        assert_eq!(ws["outputSampleRate"], 8000);
        assert_eq!(ws["clientBufferSizeMs"], 30000);

        let agent = Config {
            agent_id: Some("a-1".into()),
            system_prompt: Some("ignored: the agent has its own".into()),
            ..Config::default()
        };
        let req = CreateCall::new("k", &agent)
            .unwrap()
            .base_url("http://127.0.0.1:9/api/");
        let h = req.to_http().unwrap();
        assert_eq!(h.uri(), "http://127.0.0.1:9/api/agents/a-1/calls");
        let body: serde_json::Value = serde_json::from_slice(h.body()).unwrap();
        assert!(body.get("systemPrompt").is_none());
        let bad = Config {
            agent_id: Some("../x".into()),
            ..Config::default()
        };
        assert!(CreateCall::new("k", &bad).unwrap().to_http().is_err());
        assert!(CreateCall::new(" ", &Config::default()).is_err());

        let answer = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        assert_eq!(
            req.parse(answer(
                201,
                r#"{"callId":"c","joinUrl":"wss://v.example/c"}"#
            ))
            .unwrap(),
            "wss://v.example/c"
        );
        let e = req
            .parse(answer(403, r#"{"detail":"Invalid API key."}"#))
            .unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert!(e.to_string().contains("Invalid API key."), "{e}");
        assert!(matches!(
            req.parse(answer(201, r#"{"callId":"c"}"#)),
            Err(Error::Decode { .. })
        ));
        assert!(
            req.parse(answer(201, r#"{"joinUrl":"https://x"}"#))
                .is_err()
        );
    }

    #[test]
    fn caller_audio_goes_at_once_as_binary_at_the_input_rate() {
        let cfg = Config {
            input_rate: SampleRate::Hz16000,
            ..Config::default()
        };
        let (mut call, _) = cfg.handlers();
        let mut b64 = String::new();
        crate::audio::encode_pcm16_b64(&[500; 160], &mut b64);
        let frame = format!(r#"{{"type":"audio","data":{{"audio_b64":"{b64}"}}}}"#);
        let mut out = Outbox::default();
        assert_eq!(
            call.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Relay
        );
        let OutFrame::Binary(pcm) = &out.frames()[0] else {
            panic!("binary")
        };
        // 20 ms at 8 kHz is 320 samples (640 bytes) at 16 kHz, less the look-ahead (< 6 ms).
        assert!(pcm.len() <= 640 && pcm.len() >= 640 - 200, "{}", pcm.len());
        let mark = r#"{"type":"mark"}"#;
        assert_eq!(
            call.handle(&Message::from_text(mark), &mut out).unwrap(),
            StreamOp::Pass
        );
    }

    #[test]
    fn remote_side_binary_audio_clear_state_and_errors() {
        let (_, mut h) = Config::default().handlers();
        let mut out = Outbox::default();
        let pcm: Vec<u8> = [900i16; 4800]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        h.handle_binary(&pcm, &mut out).unwrap().unwrap();
        assert_eq!(out.len(), 1, "600 ms at 8 kHz: one 500 ms chunk");
        let speaking = r#"{"type":"state","state":"speaking"}"#;
        h.handle(&Message::from_text(speaking), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let listening = r#"{"type":"state","state":"listening"}"#;
        h.handle(&Message::from_text(listening), &mut out).unwrap();
        assert_eq!(out.len(), 2, "the end of the turn flushes");
        h.handle_binary(&pcm[..1600], &mut out).unwrap().unwrap();
        h.handle(
            &Message::from_text(r#"{"type":"playback_clear_buffer"}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.messages()[2], r#"{"type":"clear"}"#);
        h.handle(&Message::from_text(listening), &mut out).unwrap();
        assert_eq!(out.len(), 3, "the cleared audio stays dropped");
        assert_eq!(
            h.handle(
                &Message::from_text(r#"{"type":"transcript","text":"hi"}"#),
                &mut out
            )
            .unwrap(),
            StreamOp::Pass
        );
        let e = h
            .handle(
                &Message::from_text(r#"{"type":"error","message":"nope"}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Ultravox error: nope");
        assert!(h.handle_binary(&[1], &mut out).unwrap().is_err());
    }
}
