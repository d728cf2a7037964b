//! Ready-made handlers for an OpenAI-Realtime-style voice agent: 24 kHz PCM16 both ways,
//! bridged to Teler's 8 kHz (or 16 kHz) caller audio and 8 kHz app audio.
//!
//! The call side ([`call_handler`]):
//!
//! - once the remote socket is open, before any caller audio, it sends the session config
//!   ([`DEFAULT_SESSION_UPDATE`], or yours with [`CallHandler::session_update`]):
//!   `{"type":"session.update","session":{"type":"realtime","audio":{"input":{"format":{"type":"audio/pcm","rate":24000}},"output":{"format":{"type":"audio/pcm","rate":24000}}}}}`;
//! - Teler's `start` sets the caller audio's rate (8 kHz, or 16 kHz on a `16k` flow);
//! - each Teler `audio` frame (`data.audio_b64`) is resampled to 24 kHz and sent as
//!   `{"type":"input_audio_buffer.append","audio":B24}`, resampler state carried across
//!   frames (so about 6 ms of look-ahead stays behind until the next frame);
//! - every other Teler message is passed.
//!
//! The remote side ([`remote_handler`]), a [`Packetiser`](crate::audio::Packetiser) behind
//! an event classifier:
//!
//! - `{"type":"response.output_audio.delta","delta":B24}` (or the beta API's
//!   `response.audio.delta`): 24 kHz audio, resampled to 8 kHz and cut into Teler
//!   `{"type":"audio","audio_b64":B8,"chunk_id":N}` messages of 500 ms, N counting from 1
//!   per call;
//! - `{"type":"response.done"}`: the response ended, the held remainder (under 500 ms) goes
//!   out as a shorter last chunk;
//! - `{"type":"input_audio_buffer.speech_started"}` (the vendor heard the caller): barge-in,
//!   held audio is dropped and `{"type":"clear"}` goes to Teler, which drops its queue;
//! - `{"type":"error","error":{"message":…}}`: a [`HandlerError`] carrying the vendor's
//!   message, so it shows up as a `HandlerFailed` event and in the bridge's
//!   `handler_errors` count (under the default `HandlerErrorPolicy::Drop` the call goes on);
//! - everything else (`session.created`, `session.updated`, transcripts, …) is passed.
//!
//! Each call needs its own pair (the resamplers and the chunk counter are per call): give a
//! connector a factory such as `openai::handlers`.
//!
//! Against OpenAI itself the remote URL is `wss://api.openai.com/v1/realtime?model=…` with
//! an `Authorization: Bearer …` header.
//!
//! ```
//! use teler_core::audio::encode_pcm16_b64;
//! use teler_core::media::{Message, Outbox, StreamHandler, StreamOp, TelerMessage};
//! use teler_core::openai;
//!
//! let (mut call, mut remote) = openai::handlers();
//!
//! // The remote opened: the session config goes first.
//! let mut out = Outbox::default();
//! call.on_remote_connected(&mut out).unwrap();
//! assert_eq!(out.len(), 1);
//!
//! // 20 ms of Teler's 8 kHz audio becomes an append of 24 kHz audio.
//! let mut b64 = String::new();
//! encode_pcm16_b64(&[1000; 160], &mut b64);
//! let frame = format!(r#"{{"type":"audio","data":{{"audio_b64":"{b64}"}}}}"#);
//! let parsed = TelerMessage::parse(&frame).unwrap();
//! let mut out = Outbox::default();
//! let op = call.handle(&Message::from_teler(&frame, &parsed), &mut out).unwrap();
//! assert_eq!(op, StreamOp::Relay);
//! assert_eq!(out.len(), 1); // {"type":"input_audio_buffer.append","audio":"…"}
//!
//! // 600 ms of the agent's 24 kHz audio: one 500 ms Teler chunk at once, the rest at the
//! // end of the response.
//! let mut delta = String::new();
//! encode_pcm16_b64(&[0; 14_400], &mut delta);
//! let ev = format!(r#"{{"type":"response.output_audio.delta","delta":"{delta}"}}"#);
//! let mut out = Outbox::default();
//! assert_eq!(remote.handle(&Message::from_text(&ev), &mut out).unwrap(), StreamOp::Relay);
//! assert_eq!(out.len(), 1);
//! let done = r#"{"type":"response.done","response":{"status":"completed"}}"#;
//! assert_eq!(remote.handle(&Message::from_text(done), &mut out).unwrap(), StreamOp::Relay);
//! assert_eq!(out.len(), 2);
//!
//! // The caller talks: barge-in.
//! let mut out = Outbox::default();
//! let speech = r#"{"type":"input_audio_buffer.speech_started","audio_start_ms":800}"#;
//! remote.handle(&Message::from_text(speech), &mut out).unwrap();
//! assert_eq!(out.len(), 1); // {"type":"clear"}
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;

use crate::audio::{AudioFormat, InboundAudio, OutboundAudio, SampleRate, VendorEvent};
use crate::media::{
    HandlerError, HandlerResult, Message, Outbox, StreamHandler, StreamOp, TelerMessage,
};

/// The vendor's sample rate, both ways.
pub const VENDOR_RATE: SampleRate = SampleRate::Hz24000;

/// The session config [`call_handler`] sends when the remote opens: PCM16 at 24 kHz in and
/// out, in the Realtime API's GA shape (everything else is left at the vendor's defaults,
/// e.g. server VAD turn detection, which is what sends `speech_started`).
pub const DEFAULT_SESSION_UPDATE: &str = r#"{"type":"session.update","session":{"type":"realtime","audio":{"input":{"format":{"type":"audio/pcm","rate":24000}},"output":{"format":{"type":"audio/pcm","rate":24000}}}}}"#;

/// A fresh handler pair for one call: `(call_handler(), remote_handler())`. Fits
/// `StreamConnector::new(config, openai::handlers)` as the per-call factory.
pub fn handlers() -> (CallHandler, RemoteHandler) {
    (call_handler(), remote_handler())
}

/// The call-side handler: session config on connect, Teler audio ->
/// `input_audio_buffer.append` at 24 kHz. See the [module docs](self).
pub fn call_handler() -> CallHandler {
    CallHandler {
        audio: InboundAudio::new(SampleRate::Hz8000, VENDOR_RATE),
        session_update: Some(DEFAULT_SESSION_UPDATE.to_owned()),
    }
}

/// The remote-side handler: 24 kHz deltas -> 500 ms 8 kHz Teler chunks,
/// `speech_started` -> `clear`, `response.done` -> flush. See the [module docs](self).
pub fn remote_handler() -> RemoteHandler {
    RemoteHandler {
        inner: OutboundAudio::pcm16(VENDOR_RATE, classify as Classifier)
            .expect("24 kHz PCM16 with the default chunk is a valid packetiser config"),
    }
}

/// See [`call_handler`].
#[derive(Debug)]
pub struct CallHandler {
    audio: InboundAudio,
    session_update: Option<String>,
}

impl CallHandler {
    /// Sends `json` instead of [`DEFAULT_SESSION_UPDATE`] when the remote opens (add your
    /// instructions, voice, tools; keep the 24 kHz PCM formats).
    pub fn session_update(mut self, json: impl Into<String>) -> Self {
        self.session_update = Some(json.into());
        self
    }

    /// Sends no session config (the vendor's defaults, or a config given at connect time).
    pub fn without_session_update(mut self) -> Self {
        self.session_update = None;
        self
    }

    /// The text-in, text-out form: one Teler frame in, the message for the vendor out.
    ///
    /// # Errors
    /// A frame that is not a Teler message, audio that is not base64 PCM16, or a `start`
    /// with a format the resampler does not take.
    pub fn handle_text(&mut self, text: &str) -> HandlerResult {
        let parsed = TelerMessage::parse(text)?;
        self.reshape(&parsed)
    }

    fn reshape(&mut self, m: &TelerMessage<'_>) -> HandlerResult {
        match m {
            TelerMessage::Start(s) => {
                let input = AudioFormat::from_teler(&s.format)?;
                self.audio = InboundAudio::with_formats(input, AudioFormat::pcm16(VENDOR_RATE));
                Ok((String::new(), StreamOp::Pass))
            }
            TelerMessage::Audio(a) => {
                // 8 kHz -> 24 kHz triples the samples; base64 adds a third.
                let mut msg = String::with_capacity(a.audio_b64.len() * 3 + 64);
                msg.push_str(r#"{"type":"input_audio_buffer.append","audio":""#);
                // Base64 needs no JSON escaping.
                self.audio.convert_b64(&a.audio_b64, &mut msg)?;
                msg.push_str(r#""}"#);
                Ok((msg, StreamOp::Relay))
            }
            TelerMessage::Other { .. } => Ok((String::new(), StreamOp::Pass)),
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
            Some(m) => self.reshape(m)?,
            None => self.handle_text(message.text())?,
        };
        if op == StreamOp::Relay {
            out.send(text);
        }
        Ok(op)
    }

    fn on_remote_connected(&mut self, out: &mut Outbox) -> Result<(), HandlerError> {
        if let Some(s) = &self.session_update {
            out.send(s.clone());
        }
        Ok(())
    }
}

type Classifier = for<'a> fn(&'a str) -> Result<VendorEvent<'a>, HandlerError>;

/// See [`remote_handler`].
pub struct RemoteHandler {
    inner: OutboundAudio<Classifier>,
}

impl fmt::Debug for RemoteHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHandler")
            .field("inner", &self.inner)
            .finish()
    }
}

impl RemoteHandler {
    /// The packetiser, e.g. to read [`held`](crate::audio::Packetiser::held) audio or the
    /// next chunk id.
    pub fn packetiser_mut(&mut self) -> &mut crate::audio::Packetiser {
        self.inner.packetiser_mut()
    }
}

impl StreamHandler for RemoteHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        self.inner.handle(message, out)
    }
}

/// The fields of a vendor event this module reads; `delta` is borrowed (base64 has no
/// escapes), so the audio is not copied before decoding.
#[derive(Deserialize)]
struct VendorMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    error: Option<VendorError>,
}

#[derive(Deserialize)]
struct VendorError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn classify(text: &str) -> Result<VendorEvent<'_>, HandlerError> {
    let m: VendorMessage<'_> = serde_json::from_str(text)?;
    Ok(match &*m.kind {
        "response.output_audio.delta" | "response.audio.delta" => VendorEvent::Audio(
            m.delta
                .ok_or_else(|| HandlerError::msg(format!("{} without \"delta\"", m.kind)))?,
        ),
        "input_audio_buffer.speech_started" => VendorEvent::Clear,
        "response.done" => VendorEvent::Flush,
        "error" => {
            let e = m.error.unwrap_or(VendorError {
                message: None,
                code: None,
            });
            return Err(HandlerError::msg(format!(
                "vendor error{}: {}",
                e.code.map(|c| format!(" ({c})")).unwrap_or_default(),
                e.message.as_deref().unwrap_or("(no message)")
            )));
        }
        _ => VendorEvent::Ignore,
    })
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

    fn run(h: &mut impl StreamHandler, text: &str) -> (StreamOp, Vec<String>) {
        let mut out = Outbox::default();
        let op = h.handle(&Message::from_text(text), &mut out).unwrap();
        (op, out.messages().into_iter().map(String::from).collect())
    }

    #[test]
    fn call_side_greets_and_appends_24k() {
        let mut h = call_handler();
        let mut out = Outbox::default();
        h.on_remote_connected(&mut out).unwrap();
        assert_eq!(out.messages(), [DEFAULT_SESSION_UPDATE]);
        let v: serde_json::Value = serde_json::from_str(DEFAULT_SESSION_UPDATE).unwrap();
        assert_eq!(v["session"]["audio"]["input"]["format"]["rate"], 24000);
        assert_eq!(v["session"]["audio"]["output"]["format"]["rate"], 24000);

        // 100 ms at 8 kHz, in 5 frames: 2400 samples at 24 kHz once flushed.
        let mut total = 0;
        for _ in 0..5 {
            let f = format!(
                r#"{{"type":"audio","stream_id":"s","message_id":2,"data":{{"audio_b64":"{}"}}}}"#,
                b64(&[500; 160])
            );
            let (t, op) = h.handle_text(&f).unwrap();
            assert_eq!(op, StreamOp::Relay);
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["type"], "input_audio_buffer.append");
            let mut pcm = Vec::new();
            decode_b64_pcm16(v["audio"].as_str().unwrap(), &mut pcm).unwrap();
            total += pcm.len();
        }
        // All but the resampler's look-ahead (under 6 ms = 144 samples at 24 kHz).
        assert!(total < 2400 && total > 2400 - 144, "{total}");
        assert_eq!(
            h.handle_text(r#"{"type":"mark","name":"x"}"#).unwrap().1,
            StreamOp::Pass
        );
        assert!(h.handle_text("not json").is_err());
    }

    #[test]
    fn call_side_follows_a_16k_start() {
        let mut h = call_handler().without_session_update();
        let mut out = Outbox::default();
        h.on_remote_connected(&mut out).unwrap();
        assert!(out.is_empty());
        let start =
            r#"{"type":"start","data":{"encoding":"audio/l16","sample_rate":16000,"channels":1}}"#;
        assert_eq!(h.handle_text(start).unwrap().1, StreamOp::Pass);
        let mut total = 0;
        for _ in 0..10 {
            let f = format!(
                r#"{{"type":"audio","data":{{"audio_b64":"{}"}}}}"#,
                b64(&[0; 320])
            );
            let v: serde_json::Value = serde_json::from_str(&h.handle_text(&f).unwrap().0).unwrap();
            let mut pcm = Vec::new();
            decode_b64_pcm16(v["audio"].as_str().unwrap(), &mut pcm).unwrap();
            total += pcm.len();
        }
        // 200 ms at 16 kHz is 4800 samples at 24 kHz (less the look-ahead), not 14400.
        assert!(total <= 4800 && total > 4600, "{total}");
        let bad = r#"{"type":"start","data":{"sample_rate":11025}}"#;
        assert!(h.handle_text(bad).is_err());
    }

    #[test]
    fn custom_session_update() {
        let mut h = call_handler().session_update(r#"{"type":"session.update","session":{}}"#);
        let mut out = Outbox::default();
        h.on_remote_connected(&mut out).unwrap();
        assert_eq!(
            out.messages(),
            [r#"{"type":"session.update","session":{}}"#]
        );
    }

    #[test]
    fn remote_side_packetises_clears_and_flushes() {
        let mut h = remote_handler();
        let delta = |n: usize| {
            format!(
                r#"{{"type":"response.output_audio.delta","response_id":"r","delta":"{}"}}"#,
                b64(&vec![1000; n])
            )
        };
        // 400 ms: held.
        assert_eq!(run(&mut h, &delta(9600)), (StreamOp::Pass, vec![]));
        // 400 ms more: one 500 ms chunk out.
        let (op, out) = run(&mut h, &delta(9600));
        assert_eq!(op, StreamOp::Relay);
        assert_eq!(out.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["chunk_id"], 1);
        let mut pcm = Vec::new();
        decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut pcm).unwrap();
        assert_eq!(pcm.len(), 4000);
        // response.done: the remaining 300 ms, exactly (the resampler's tail included).
        let (_, out) = run(&mut h, r#"{"type":"response.done"}"#);
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["chunk_id"], 2);
        pcm.clear();
        decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut pcm).unwrap();
        assert_eq!(pcm.len(), 2400);
        // The beta name is audio too; speech_started drops it and clears Teler.
        let beta = format!(
            r#"{{"type":"response.audio.delta","delta":"{}"}}"#,
            b64(&[1000; 2400])
        );
        assert_eq!(run(&mut h, &beta).0, StreamOp::Pass);
        assert_eq!(
            run(
                &mut h,
                r#"{"type":"input_audio_buffer.speech_started","audio_start_ms":5}"#
            ),
            (StreamOp::Relay, vec![r#"{"type":"clear"}"#.to_owned()])
        );
        assert_eq!(
            run(&mut h, r#"{"type":"response.done"}"#),
            (StreamOp::Pass, vec![])
        );
        // Chunk ids keep increasing after a clear.
        run(&mut h, &delta(12_000));
        let (_, out) = run(&mut h, r#"{"type":"response.done"}"#);
        assert!(out[0].ends_with(r#""chunk_id":3}"#), "{out:?}");
        // Other events pass; errors are errors.
        assert_eq!(
            run(&mut h, r#"{"type":"session.updated","session":{}}"#).0,
            StreamOp::Pass
        );
        let mut out = Outbox::default();
        let err = h
            .handle(
                &Message::from_text(
                    r#"{"type":"error","error":{"type":"invalid_request_error","code":"bad_rate","message":"no"}}"#,
                ),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "vendor error (bad_rate): no");
        assert!(
            h.handle(
                &Message::from_text(r#"{"type":"response.output_audio.delta"}"#),
                &mut out
            )
            .is_err()
        );
        assert!(h.handle(&Message::from_text("[1]"), &mut out).is_err());
    }
}
