//! Ready-made handlers for an ElevenLabs Conversational AI agent, the remote of FreJun's
//! sample app ("the seed"), with the same behaviour:
//!
//! - caller audio `{"type":"audio","data":{"audio_b64":B}}` becomes
//!   `{"user_audio_chunk":B}`; every other Teler message is passed;
//! - agent audio `{"type":"audio","audio_event":{"audio_base_64":B}}` becomes Teler's
//!   `{"type":"audio","audio_b64":B,"chunk_id":N}` with N counting from 1 per call;
//!   `{"type":"interruption"}` becomes `{"type":"clear"}` (barge-in); everything else is
//!   passed.
//!
//! Each call needs its own pair (the chunk counter is per call). Both handlers copy the
//! audio payload exactly once and build no JSON tree.
//!
//! ```
//! use teler_core::{elevenlabs, media::{Message, Outbox, StreamHandler, StreamOp, TelerMessage}};
//! let mut remote = elevenlabs::remote_handler();
//! let mut out = Outbox::default();
//! let msg = r#"{"type":"audio","audio_event":{"audio_base_64":"AAA=","event_id":1}}"#;
//! assert_eq!(remote.handle(&Message::from_text(msg), &mut out).unwrap(), StreamOp::Relay);
//! ```

use std::borrow::Cow;

use serde::Deserialize;

use crate::media::{
    AppMessage, HandlerError, HandlerResult, Message, Outbox, StreamHandler, StreamOp,
    TelerMessage, write_json_str,
};

/// The call-side handler: Teler audio -> `{"user_audio_chunk": …}`.
pub fn call_handler() -> CallHandler {
    CallHandler
}

/// The remote-side handler: ElevenLabs `audio` -> Teler `audio`, `interruption` -> `clear`.
pub fn remote_handler() -> RemoteHandler {
    RemoteHandler { next_chunk_id: 1 }
}

/// See [`call_handler`].
#[derive(Debug, Clone, Default)]
pub struct CallHandler;

impl CallHandler {
    /// The text-in, text-out form (the Python SDK's handler signature).
    pub fn handle_text(&mut self, text: &str) -> HandlerResult {
        let parsed = TelerMessage::parse(text)?;
        Ok(Self::reshape(&parsed))
    }

    fn reshape(m: &TelerMessage<'_>) -> (String, StreamOp) {
        match m {
            TelerMessage::Audio(a) => {
                let mut out = String::with_capacity(a.audio_b64.len() + 24);
                out.push_str(r#"{"user_audio_chunk":"#);
                write_json_str(&mut out, &a.audio_b64);
                out.push('}');
                (out, StreamOp::Relay)
            }
            _ => (String::new(), StreamOp::Pass),
        }
    }
}

impl StreamHandler for CallHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        let (text, op) = match message.teler() {
            Some(m) => Self::reshape(m),
            None => self.handle_text(message.text())?,
        };
        if op == StreamOp::Relay {
            out.send(text);
        }
        Ok(op)
    }
}

/// See [`remote_handler`].
#[derive(Debug, Clone)]
pub struct RemoteHandler {
    next_chunk_id: u64,
}

#[derive(Deserialize)]
struct AgentEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    audio_event: Option<AudioEvent<'a>>,
}

#[derive(Deserialize)]
struct AudioEvent<'a> {
    #[serde(borrow, default)]
    audio_base_64: Option<Cow<'a, str>>,
}

impl RemoteHandler {
    /// The text-in, text-out form (the Python SDK's handler signature).
    pub fn handle_text(&mut self, text: &str) -> HandlerResult {
        let ev: AgentEvent<'_> = serde_json::from_str(text)?;
        match &*ev.kind {
            "audio" => {
                let b64 = ev
                    .audio_event
                    .and_then(|a| a.audio_base_64)
                    .ok_or_else(|| {
                        HandlerError::msg("agent audio event has no audio_event.audio_base_64")
                    })?;
                let chunk_id = self.next_chunk_id;
                self.next_chunk_id += 1;
                let msg = AppMessage::Audio {
                    audio_b64: b64,
                    chunk_id,
                };
                Ok((msg.to_json(), StreamOp::Relay))
            }
            "interruption" => Ok((AppMessage::Clear.to_json(), StreamOp::Relay)),
            _ => Ok((String::new(), StreamOp::Pass)),
        }
    }
}

impl StreamHandler for RemoteHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        let (text, op) = self.handle_text(message.text())?;
        if op == StreamOp::Relay {
            out.send(text);
        }
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_side_matches_the_seed() {
        let mut h = call_handler();
        let (t, op) = h
            .handle_text(
                r#"{"type":"audio","stream_id":"s","message_id":3,"data":{"audio_b64":"AQI="}}"#,
            )
            .unwrap();
        assert_eq!(
            (t.as_str(), op),
            (r#"{"user_audio_chunk":"AQI="}"#, StreamOp::Relay)
        );
        let (_, op) = h.handle_text(r#"{"type":"start","data":{}}"#).unwrap();
        assert_eq!(op, StreamOp::Pass);
        assert!(h.handle_text("nope").is_err());
    }

    #[test]
    fn remote_side_counts_chunks_and_maps_interruption() {
        let mut h = remote_handler();
        let a = r#"{"type":"audio","audio_event":{"audio_base_64":"AQI=","event_id":9}}"#;
        assert_eq!(
            h.handle_text(a).unwrap().0,
            r#"{"type":"audio","audio_b64":"AQI=","chunk_id":1}"#
        );
        assert_eq!(
            h.handle_text(a).unwrap().0,
            r#"{"type":"audio","audio_b64":"AQI=","chunk_id":2}"#
        );
        assert_eq!(
            h.handle_text(r#"{"type":"interruption","interruption_event":{}}"#)
                .unwrap(),
            (r#"{"type":"clear"}"#.to_owned(), StreamOp::Relay)
        );
        assert_eq!(
            h.handle_text(r#"{"type":"ping"}"#).unwrap().1,
            StreamOp::Pass
        );
        assert!(h.handle_text(r#"{"type":"audio"}"#).is_err());
        // A fresh pair starts again at 1: state is per call.
        assert!(
            remote_handler()
                .handle_text(a)
                .unwrap()
                .0
                .ends_with(r#""chunk_id":1}"#)
        );
    }
}

/// The ElevenLabs API's base URL.
pub const API_BASE: &str = "https://api.elevenlabs.io";

/// The pre-socket request for a **private** agent: `GET
/// /v1/convai/conversation/get-signed-url?agent_id=…` with the `xi-api-key` header; its
/// answer's `signed_url` is the socket to bridge to (public agents need no request). A
/// [`VendorRequest`](super::VendorRequest); the key is hidden from `Debug`.
///
/// ```
/// use teler_core::agents::{VendorRequest, elevenlabs::SignedUrl};
///
/// let req = SignedUrl::new("xi-key", "agent_1")?;
/// assert_eq!(
///     req.to_http()?.uri(),
///     "https://api.elevenlabs.io/v1/convai/conversation/get-signed-url?agent_id=agent_1"
/// );
/// let answer = http::Response::builder().status(200)
///     .body(br#"{"signed_url":"wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_1&conversation_signature=s"}"#.to_vec())?;
/// assert!(req.parse(answer)?.starts_with("wss://"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SignedUrl {
    api_key: crate::rest::ApiKey,
    agent_id: String,
    base_url: String,
}

impl SignedUrl {
    /// The request for `agent_id`'s signed URL with `api_key`.
    ///
    /// # Errors
    /// [`Error::Config`](crate::rest::Error::Config): an empty key or one that cannot be a
    /// header value, or an agent id that is empty or has characters other than letters,
    /// digits, `-` and `_`.
    pub fn new(
        api_key: impl Into<String>,
        agent_id: impl Into<String>,
    ) -> Result<Self, crate::rest::Error> {
        let agent_id = agent_id.into();
        if agent_id.is_empty()
            || !agent_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(crate::rest::Error::Config(format!(
                "ElevenLabs agent id {agent_id:?}: letters, digits, '-' and '_' only"
            )));
        }
        Ok(SignedUrl {
            api_key: crate::rest::ApiKey::new(api_key)?,
            agent_id,
            base_url: API_BASE.to_owned(),
        })
    }

    /// Another base URL than [`API_BASE`] (a proxy, or a test server).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }
}

#[derive(Deserialize)]
struct Signed {
    signed_url: String,
}

impl super::VendorRequest for SignedUrl {
    /// The `signed_url`.
    type Response = String;

    fn to_http(&self) -> Result<http::Request<Vec<u8>>, crate::rest::Error> {
        let url = format!(
            "{}/v1/convai/conversation/get-signed-url?agent_id={}",
            self.base_url, self.agent_id
        );
        super::presocket::request(
            http::Method::GET,
            &url,
            &[("xi-api-key", self.api_key.expose())],
            None,
        )
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<String, crate::rest::Error> {
        let status = resp.status().as_u16();
        let s: Signed = super::presocket::parse_json(resp)?;
        super::presocket::socket_url(status, s.signed_url)
    }
}

#[cfg(test)]
mod signed_url_tests {
    use super::*;
    use crate::agents::VendorRequest;

    #[test]
    fn signed_url_request_and_answers() {
        let req = SignedUrl::new("xi-s3cret", "agent_1")
            .unwrap()
            .base_url("http://127.0.0.1:9/");
        assert!(!format!("{req:?}").contains("s3cret"));
        let h = req.to_http().unwrap();
        assert_eq!(h.method(), http::Method::GET);
        assert_eq!(
            h.uri(),
            "http://127.0.0.1:9/v1/convai/conversation/get-signed-url?agent_id=agent_1"
        );
        assert_eq!(h.headers()["xi-api-key"], "xi-s3cret");
        assert!(h.body().is_empty());
        assert!(SignedUrl::new("k", "a&b=c").is_err());
        assert!(SignedUrl::new("", "a").is_err());
        let answer = |status: u16, body: &str| {
            http::Response::builder()
                .status(status)
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        let e = req
            .parse(answer(
                401,
                r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
            ))
            .unwrap_err();
        assert_eq!(e.status(), Some(401));
        assert!(req.parse(answer(200, "{}")).is_err());
        assert_eq!(
            req.parse(answer(200, r#"{"signed_url":"wss://x/y"}"#))
                .unwrap(),
            "wss://x/y"
        );
    }
}
