//! Ready-made handlers for Google's Gemini Live API (`BidiGenerateContent` over a WebSocket):
//! PCM16 at 16 kHz in, 24 kHz out, base64 inside JSON.
//!
//! The call side ([`CallHandler`]):
//!
//! - once the socket is open, before anything else, it sends the `setup` message built from
//!   [`Config`] (model, `responseModalities: ["AUDIO"]`, voice, system instruction);
//! - it **holds caller audio until the vendor's `setupComplete`** (the API takes nothing
//!   else before it), then sends what it held, in order, with the next caller frame (at most
//!   about 10 s is held; older audio is dropped past that);
//! - each Teler `audio` frame is resampled to the configured input rate (16 kHz, the model's
//!   own) and sent as
//!   `{"realtimeInput":{"audio":{"data":B,"mimeType":"audio/pcm;rate=16000"}}}`;
//! - Teler's `start` sets the caller audio's rate; everything else from Teler is passed.
//!
//! The remote side ([`RemoteHandler`]) reads the server's JSON from text **and binary**
//! frames (the service sends its JSON in binary frames):
//!
//! - `{"setupComplete":{}}`: the vendor is ready (see above);
//! - `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":B}}]}}}`:
//!   agent audio, resampled to 8 kHz and cut into Teler chunks of [`Config::chunk`] (500 ms)
//!   with `chunk_id` from 1;
//! - `{"serverContent":{"interrupted":true}}`: barge-in, held audio dropped, `clear` to Teler;
//! - `{"serverContent":{"turnComplete":true}}`: the turn's remainder goes out;
//! - `{"error":{"message":…}}` (an error object in the Google API shape, should one come):
//!   a handler error with the vendor's message. The service normally reports a bad request
//!   by closing the socket with code 1007 or 1008 and the reason as text, which the bridge
//!   reports as its end (`EndReason::RemoteClosed`);
//! - everything else (`goAway`, transcriptions, `usageMetadata`, tool calls) is passed.
//!
//! The socket is [`URL`], with the API key in the `x-goog-api-key` header
//! ([`Config::bridge_config`] sets both).
//!
//! ```
//! use teler_core::agents::gemini;
//! use teler_core::media::{Message, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = gemini::Config::default().handlers();
//! let mut out = Outbox::default();
//! call.on_remote_connected(&mut out).unwrap();
//! let setup: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
//! assert!(setup["setup"]["model"].as_str().unwrap().starts_with("models/"));
//!
//! // Caller audio waits for setupComplete.
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAAAAAAA="}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Pass);
//! remote.handle_binary(br#"{"setupComplete":{}}"#, &mut Outbox::default()).unwrap().unwrap();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Relay);
//! assert_eq!(out.len(), 2); // the held frame, then this one
//! assert!(out.messages()[0].starts_with(r#"{"realtimeInput":{"audio":{"data":""#));
//!
//! // Barge-in.
//! let mut out = Outbox::default();
//! let interrupted = r#"{"serverContent":{"interrupted":true}}"#;
//! remote.handle(&Message::from_text(interrupted), &mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
//! ```

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use super::common::{
    AgentEvent, BinaryFrames, CallerAudio, ReadyFlag, RemoteHandler as Remote, with_teler,
};
use crate::audio::{AudioFormat, DEFAULT_CHUNK, SampleRate};
use crate::media::{
    BridgeConfig, BridgeConfigBuilder, HandlerError, Message, Outbox, StreamHandler, StreamOp,
    TelerMessage,
};

pub use super::common::RemoteHandler;

/// The Live API's WebSocket (v1beta).
pub const URL: &str = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

/// The rate of the agent's audio: always 24 kHz.
pub const OUTPUT_RATE: SampleRate = SampleRate::Hz24000;

/// The default model (a native-audio Live model; any Live model id works).
pub const DEFAULT_MODEL: &str = "models/gemini-2.5-flash-native-audio-preview-09-2025";

/// A Gemini Live agent's settings. Holds no secret: the API key is given to
/// [`bridge_config`](Self::bridge_config) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The model, `models/…` ([`DEFAULT_MODEL`]).
    pub model: String,
    /// A prebuilt voice (`Puck`, `Charon`, `Kore`, `Aoede`, …); `None` (the default): the
    /// model's own.
    pub voice: Option<String>,
    /// The system instruction; `None` (the default): none.
    pub system_instruction: Option<String>,
    /// The rate caller audio is sent at (16 kHz, the model's native input rate; the API
    /// resamples others). Default [`SampleRate::Hz16000`].
    pub input_rate: SampleRate,
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model: DEFAULT_MODEL.to_owned(),
            voice: None,
            system_instruction: None,
            input_rate: SampleRate::Hz16000,
            chunk: DEFAULT_CHUNK,
        }
    }
}

impl Config {
    /// The `setup` message sent first.
    pub fn setup_message(&self) -> String {
        let mut generation = serde_json::json!({ "responseModalities": ["AUDIO"] });
        if let Some(v) = &self.voice {
            generation["speechConfig"] =
                serde_json::json!({ "voiceConfig": { "prebuiltVoiceConfig": { "voiceName": v } } });
        }
        let mut setup = serde_json::json!({ "model": self.model, "generationConfig": generation });
        if let Some(s) = &self.system_instruction {
            setup["systemInstruction"] = serde_json::json!({ "parts": [{ "text": s }] });
        }
        serde_json::json!({ "setup": setup }).to_string()
    }

    /// A fresh handler pair for one call (fits a connector's per-call factory).
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("gemini::Config::chunk is 10 ms to 10 s")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), crate::audio::AudioError> {
        let ready = ReadyFlag::default();
        let remote = Remote::new(
            "Gemini Live",
            AudioFormat::pcm16(OUTPUT_RATE),
            self.chunk,
            classify,
            ready.clone(),
            BinaryFrames::Json,
        )?;
        let call = CallHandler {
            audio: CallerAudio::new(AudioFormat::pcm16(self.input_rate), Some(ready)),
            setup: self.setup_message(),
            prefix: r#"{"realtimeInput":{"audio":{"data":""#.to_owned(),
            suffix: format!(
                r#"","mimeType":"audio/pcm;rate={}"}}}}}}"#,
                self.input_rate.hz()
            ),
        };
        Ok((call, remote))
    }

    /// A bridge config for the Live API: [`URL`] with `api_key` in the `x-goog-api-key`
    /// header. Add settings to the builder and `build()` it.
    pub fn bridge_config(api_key: &str) -> BridgeConfigBuilder {
        BridgeConfig::builder(URL).header("x-goog-api-key", api_key)
    }
}

/// The call-side handler: `setup` on connect, caller audio held until `setupComplete`, then
/// `realtimeInput` at the input rate. See the [module docs](self).
#[derive(Debug)]
pub struct CallHandler {
    audio: CallerAudio,
    setup: String,
    prefix: String,
    suffix: String,
}

impl CallHandler {
    /// Caller frames dropped because the vendor was not ready in time (about 10 s of audio
    /// is held; older frames go first).
    pub fn dropped_frames(&self) -> u64 {
        self.audio.dropped()
    }

    fn reshape(
        &mut self,
        m: &TelerMessage<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        match m {
            TelerMessage::Start(s) => {
                self.audio.start(s)?;
                Ok(StreamOp::Pass)
            }
            TelerMessage::Audio(a) => {
                let msg = self
                    .audio
                    .message(&a.audio_b64, &self.prefix, &self.suffix)?;
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
        out.send(self.setup.clone());
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerMessage<'a> {
    #[serde(default)]
    setup_complete: Option<serde::de::IgnoredAny>,
    #[serde(borrow, default)]
    server_content: Option<ServerContent<'a>>,
    #[serde(default)]
    error: Option<ApiError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerContent<'a> {
    #[serde(borrow, default)]
    model_turn: Option<ModelTurn<'a>>,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    turn_complete: bool,
}

#[derive(Deserialize)]
struct ModelTurn<'a> {
    #[serde(borrow, default)]
    parts: Vec<Part<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow, default)]
    inline_data: Option<Blob<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    #[serde(borrow, default)]
    mime_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
    let m: ServerMessage<'a> = serde_json::from_str(text)?;
    if let Some(e) = m.error {
        return Err(HandlerError::msg(format!(
            "Gemini Live error{}: {}",
            e.code.map(|c| format!(" {c}")).unwrap_or_default(),
            e.message.as_deref().unwrap_or("(no message)")
        )));
    }
    if m.setup_complete.is_some() {
        ev.push(AgentEvent::Ready);
    }
    if let Some(c) = m.server_content {
        if c.interrupted {
            ev.push(AgentEvent::Clear);
        }
        for p in c.model_turn.map(|t| t.parts).unwrap_or_default() {
            let Some(blob) = p.inline_data else { continue };
            match blob.mime_type.as_deref() {
                // The output is documented as 24 kHz PCM16; anything else is refused rather
                // than played at the wrong pitch.
                None => {}
                Some(mt) if is_pcm_24k(mt) => {}
                Some(mt) => {
                    return Err(HandlerError::msg(format!(
                        "Gemini Live sent audio as {mt:?}: expected audio/pcm;rate=24000"
                    )));
                }
            }
            ev.push(AgentEvent::Audio(blob.data));
        }
        if c.turn_complete {
            ev.push(AgentEvent::Flush);
        }
    }
    Ok(())
}

fn is_pcm_24k(mime: &str) -> bool {
    let mut it = mime.split(';').map(str::trim);
    it.next()
        .is_some_and(|t| t.eq_ignore_ascii_case("audio/pcm"))
        && it.all(|p| !p.starts_with("rate=") || p == "rate=24000")
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
    fn setup_has_audio_modality_voice_and_instruction() {
        let cfg = Config {
            voice: Some("Aoede".into()),
            system_instruction: Some("Be \"brief\".".into()),
            ..Config::default()
        };
        let v: serde_json::Value = serde_json::from_str(&cfg.setup_message()).unwrap();
        assert_eq!(v["setup"]["model"], DEFAULT_MODEL);
        assert_eq!(
            v["setup"]["generationConfig"]["responseModalities"][0],
            "AUDIO"
        );
        assert_eq!(
            v["setup"]["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"],
            "Aoede"
        );
        assert_eq!(
            v["setup"]["systemInstruction"]["parts"][0]["text"],
            "Be \"brief\"."
        );
        let plain: serde_json::Value =
            serde_json::from_str(&Config::default().setup_message()).unwrap();
        assert!(plain["setup"].get("systemInstruction").is_none());
    }

    #[test]
    fn caller_audio_waits_for_setup_complete_and_goes_at_16k() {
        let (mut call, mut remote) = Config::default().handlers();
        let start = r#"{"type":"start","data":{"encoding":"audio/l16","sample_rate":8000}}"#;
        let mut out = Outbox::default();
        let frame = format!(
            r#"{{"type":"audio","data":{{"audio_b64":"{}"}}}}"#,
            b64(&[700; 160])
        );
        assert_eq!(
            call.handle(&Message::from_text(start), &mut out).unwrap(),
            StreamOp::Pass
        );
        for _ in 0..3 {
            assert_eq!(
                call.handle(&Message::from_text(&frame), &mut out).unwrap(),
                StreamOp::Pass
            );
        }
        assert!(out.is_empty());
        remote
            .handle(
                &Message::from_text(r#"{"setupComplete":{}}"#),
                &mut Outbox::default(),
            )
            .unwrap();
        assert_eq!(
            call.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 4);
        let mut total = 0;
        for m in out.messages() {
            let v: serde_json::Value = serde_json::from_str(m).unwrap();
            assert_eq!(
                v["realtimeInput"]["audio"]["mimeType"],
                "audio/pcm;rate=16000"
            );
            let mut pcm = Vec::new();
            decode_b64_pcm16(
                v["realtimeInput"]["audio"]["data"].as_str().unwrap(),
                &mut pcm,
            )
            .unwrap();
            total += pcm.len();
        }
        // 80 ms at 8 kHz is 1280 samples at 16 kHz, less the resampler's look-ahead.
        assert!(total <= 1280 && total > 1280 - 100, "{total}");
        // A second pair is not ready: state is per call.
        let (mut call2, _) = Config::default().handlers();
        let mut out = Outbox::default();
        assert_eq!(
            call2.handle(&Message::from_text(&frame), &mut out).unwrap(),
            StreamOp::Pass
        );
    }

    #[test]
    fn remote_side_audio_barge_in_turns_and_errors() {
        let (_, mut h) = Config::default().handlers();
        let turn = |n: usize| {
            format!(
                r#"{{"serverContent":{{"modelTurn":{{"parts":[{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{}"}}}}]}}}}}}"#,
                b64(&vec![900; n])
            )
        };
        let mut out = Outbox::default();
        // 600 ms in a binary frame: one 500 ms chunk now.
        assert_eq!(
            h.handle_binary(turn(14_400).as_bytes(), &mut out)
                .unwrap()
                .unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 1);
        let tc = r#"{"serverContent":{"turnComplete":true}}"#;
        h.handle(&Message::from_text(tc), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        let v: serde_json::Value = serde_json::from_str(out.messages()[1]).unwrap();
        assert_eq!(v["chunk_id"], 2);
        let mut pcm = Vec::new();
        decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut pcm).unwrap();
        assert_eq!(pcm.len(), 800);
        // Held audio is dropped by an interruption.
        let mut out = Outbox::default();
        h.handle(&Message::from_text(&turn(2400)), &mut out)
            .unwrap();
        assert!(out.is_empty());
        h.handle(
            &Message::from_text(r#"{"serverContent":{"interrupted":true}}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
        h.handle(&Message::from_text(tc), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        // Other messages pass; errors carry the vendor's text; wrong formats are refused.
        assert_eq!(
            h.handle(
                &Message::from_text(r#"{"goAway":{"timeLeft":"10s"}}"#),
                &mut out
            )
            .unwrap(),
            StreamOp::Pass
        );
        let e = h
            .handle(
                &Message::from_text(r#"{"error":{"code":400,"message":"bad setup"}}"#),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "Gemini Live error 400: bad setup");
        let wrong = r#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=16000","data":"AAAA"}}]}}}"#;
        assert!(h.handle(&Message::from_text(wrong), &mut out).is_err());
        assert!(h.handle(&Message::from_text("not json"), &mut out).is_err());
    }
}
