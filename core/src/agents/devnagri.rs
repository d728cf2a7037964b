//! Ready-made handlers for a Devnagri voice bot, which speaks a Twilio-Media-Streams-like
//! protocol: JSON text frames with an `event` field, base64 PCM16 at 8 kHz both ways.
//!
//! The call side ([`CallHandler`]):
//!
//! - when the socket opens it sends `{"event":"connected"}`; once Teler's `start` is known
//!   too, `{"event":"start","start":{"call_sid":C,"stream_sid":S,"media_format":{"encoding":"base64","sample_rate":8000,"bit_rate":"128kbps"}}}`
//!   (with `from` / `to` if given to [`CallHandler::numbers`]); C and S are Teler's call and
//!   stream ids;
//! - caller audio is held until `start` has gone out, then each Teler `audio` frame is sent as
//!   `{"event":"media","stream_sid":S,"media":{"payload":B}}`, resampled to 8 kHz if the flow
//!   is 16 kHz;
//! - everything else from Teler is passed.
//!
//! The remote side ([`RemoteHandler`]):
//!
//! - `{"event":"media","media":{"payload":B}}`: agent audio (8 kHz PCM16), cut into Teler
//!   chunks of [`Config::chunk`] (500 ms) with `chunk_id` from 1;
//! - `{"event":"mark",…}`: the end of a piece of speech, the remainder goes out;
//! - `{"event":"clear"}`: barge-in, held audio dropped, `clear` to Teler;
//! - `{"event":"error",…}`: a handler error with the vendor's `message` (or the whole event);
//! - everything else is passed.
//!
//! The socket URL is the one Devnagri gives for the bot; no other setup is sent.
//!
//! ```
//! use teler_core::agents::devnagri;
//! use teler_core::media::{Message, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = devnagri::Config::default().handlers();
//! let mut out = Outbox::default();
//! call.on_remote_connected(&mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"event":"connected"}"#]);
//! let start = r#"{"type":"start","call_id":"c1","stream_id":"s1","data":{"sample_rate":8000}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(start), &mut out).unwrap(), StreamOp::Relay);
//! assert!(out.messages()[0].starts_with(r#"{"event":"start","start":{"call_sid":"c1","stream_sid":"s1""#));
//!
//! let clear = r#"{"event":"clear","stream_sid":"s1"}"#;
//! let mut out = Outbox::default();
//! remote.handle(&Message::from_text(clear), &mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
//! ```

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use super::common::{
    AgentEvent, BinaryFrames, CallerAudio, ReadyFlag, RemoteHandler as Remote, json_str, with_teler,
};
use crate::audio::{AudioFormat, DEFAULT_CHUNK, SampleRate};
use crate::media::{HandlerError, Message, Outbox, StreamHandler, StreamOp, TelerMessage};

pub use super::common::RemoteHandler;

/// The rate of the audio both ways.
pub const RATE: SampleRate = SampleRate::Hz8000;

/// A Devnagri bot's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chunk: DEFAULT_CHUNK,
        }
    }
}

impl Config {
    /// A fresh handler pair for one call.
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("devnagri::Config::chunk is 10 ms to 10 s")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), crate::audio::AudioError> {
        let remote = Remote::new(
            "Devnagri",
            AudioFormat::pcm16(RATE),
            self.chunk,
            classify,
            ReadyFlag::default(),
            BinaryFrames::Decline,
        )?;
        let started = ReadyFlag::default();
        let call = CallHandler {
            audio: CallerAudio::new(AudioFormat::pcm16(RATE), Some(started.clone())),
            started,
            connected: false,
            start: None,
            numbers: None,
            prefix: String::new(),
        };
        Ok((call, remote))
    }
}

/// The call-side handler: `connected` and `start` events, then caller audio as `media`
/// events. See the [module docs](self).
#[derive(Debug)]
pub struct CallHandler {
    audio: CallerAudio,
    /// Set once `start` has gone out: caller audio flows.
    started: ReadyFlag,
    connected: bool,
    /// The `start` event, once Teler's `start` is known.
    start: Option<String>,
    numbers: Option<(String, String)>,
    prefix: String,
}

impl CallHandler {
    /// Caller frames dropped because the vendor was not ready in time (about 10 s of audio
    /// is held; older frames go first).
    pub fn dropped_frames(&self) -> u64 {
        self.audio.dropped()
    }

    /// The caller's and the called numbers, sent as `from` and `to` in `start` (Teler's
    /// media stream does not carry them; take them from the flow request).
    pub fn numbers(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.numbers = Some((from.into(), to.into()));
        self
    }

    /// Sends `start` if the socket is open and Teler's `start` is known.
    fn send_start(&mut self, out: &mut Outbox) -> bool {
        if !self.connected || self.started.get() {
            return false;
        }
        let Some(start) = self.start.clone() else {
            return false;
        };
        out.send(start);
        self.started.set();
        true
    }

    fn reshape(
        &mut self,
        m: &TelerMessage<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        match m {
            TelerMessage::Start(s) => {
                self.audio.start(s)?;
                let stream = s
                    .stream_id
                    .as_deref()
                    .or(s.call_id.as_deref())
                    .unwrap_or("teler");
                let call = s.call_id.as_deref().unwrap_or(stream);
                let numbers = match &self.numbers {
                    Some((f, t)) => format!(r#","from":{},"to":{}"#, json_str(f), json_str(t)),
                    None => String::new(),
                };
                self.start = Some(format!(
                    r#"{{"event":"start","start":{{"call_sid":{},"stream_sid":{}{numbers},"media_format":{{"encoding":"base64","sample_rate":8000,"bit_rate":"128kbps"}}}}}}"#,
                    json_str(call),
                    json_str(stream),
                ));
                self.prefix = format!(
                    r#"{{"event":"media","stream_sid":{},"media":{{"payload":""#,
                    json_str(stream)
                );
                let sent = self.send_start(out);
                Ok(if sent {
                    StreamOp::Relay
                } else {
                    StreamOp::Pass
                })
            }
            TelerMessage::Audio(a) => {
                if self.start.is_none() {
                    return Err(HandlerError::msg("Teler audio before its start frame"));
                }
                let msg = self.audio.message(&a.audio_b64, &self.prefix, r#""}}"#)?;
                Ok(self.audio.send(msg, out))
            }
            _ => Ok(StreamOp::Pass),
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
        out.send(r#"{"event":"connected"}"#.to_owned());
        self.connected = true;
        self.send_start(out);
        // Audio the bridge held for the connect is already converted, queued behind this.
        Ok(())
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default)]
    media: Option<Media<'a>>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
    let m: Event<'a> = serde_json::from_str(text)?;
    match &*m.event {
        "media" => {
            let media = m
                .media
                .ok_or_else(|| HandlerError::msg("Devnagri media event without media.payload"))?;
            ev.push(AgentEvent::Audio(media.payload));
        }
        "mark" => ev.push(AgentEvent::Flush),
        "clear" => ev.push(AgentEvent::Clear),
        "error" => {
            return Err(HandlerError::msg(format!(
                "Devnagri error: {}",
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
    use crate::audio::{decode_b64_pcm16, encode_pcm16_b64};

    fn b64(pcm: &[i16]) -> String {
        let mut s = String::new();
        encode_pcm16_b64(pcm, &mut s);
        s
    }

    #[test]
    fn start_after_connect_then_media_in_order() {
        let (call, _) = Config::default().handlers();
        let mut call = call.numbers("+911", "+91\"2");
        let start = r#"{"type":"start","call_id":"c1","stream_id":"s1","data":{"encoding":"audio/l16","sample_rate":16000}}"#;
        let frame = format!(
            r#"{{"type":"audio","data":{{"audio_b64":"{}"}}}}"#,
            b64(&[300; 320])
        );
        let mut out = Outbox::default();
        // Teler first (the bridge holds what the handler relays until the socket opens).
        assert_eq!(
            call.handle(&Message::from_text(start), &mut out).unwrap(),
            StreamOp::Pass
        );
        assert_eq!(
            call.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Pass
        );
        assert!(out.is_empty());
        call.on_remote_connected(&mut out).unwrap();
        assert_eq!(out.len(), 2);
        let v: serde_json::Value = serde_json::from_str(out.messages()[1]).unwrap();
        assert_eq!(v["start"]["stream_sid"], "s1");
        assert_eq!(v["start"]["to"], "+91\"2");
        assert_eq!(v["start"]["media_format"]["sample_rate"], 8000);
        let mut out = Outbox::default();
        assert_eq!(
            call.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 2, "the held frame, then this one");
        let mut total = 0;
        for m in out.messages() {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            assert_eq!(
                (v["event"].as_str(), v["stream_sid"].as_str()),
                (Some("media"), Some("s1"))
            );
            let mut pcm = Vec::new();
            decode_b64_pcm16(v["media"]["payload"].as_str().unwrap(), &mut pcm).unwrap();
            total += pcm.len();
        }
        // 40 ms at 16 kHz is 320 samples at 8 kHz, less the look-ahead.
        assert!(total <= 320 && total > 250, "{total}");
    }

    #[test]
    fn audio_before_start_is_an_error() {
        let (mut call, _) = Config::default().handlers();
        let frame = r#"{"type":"audio","data":{"audio_b64":"AAAA"}}"#;
        assert!(
            call.handle(&Message::from_text(frame), &mut Outbox::default())
                .is_err()
        );
    }

    #[test]
    fn remote_side_chunks_marks_clears_errors() {
        let (_, mut h) = Config::default().handlers();
        let media = |n: usize| {
            format!(
                r#"{{"event":"media","stream_sid":"s1","media":{{"payload":"{}"}}}}"#,
                b64(&vec![800; n])
            )
        };
        let mut out = Outbox::default();
        h.handle(&Message::from_text(&media(6000)), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        h.handle(
            &Message::from_text(r#"{"event":"mark","mark":{"name":"x"}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.messages()[1].ends_with(r#""chunk_id":2}"#));
        h.handle(&Message::from_text(&media(1000)), &mut out)
            .unwrap();
        h.handle(&Message::from_text(r#"{"event":"clear"}"#), &mut out)
            .unwrap();
        assert_eq!(out.messages()[2], r#"{"type":"clear"}"#);
        h.handle(&Message::from_text(r#"{"event":"mark"}"#), &mut out)
            .unwrap();
        assert_eq!(out.len(), 3, "the cleared audio stays dropped");
        let e = h
            .handle(
                &Message::from_text(r#"{"event":"error","message":"bot not found"}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Devnagri error: bot not found");
        assert!(
            h.handle(&Message::from_text(r#"{"event":"media"}"#), &mut out)
                .is_err()
        );
        assert!(h.handle_binary(b"\x00\x01", &mut out).is_none());
    }
}
