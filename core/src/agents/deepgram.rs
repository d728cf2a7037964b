//! Ready-made handlers for Deepgram's Voice Agent API (`wss://agent.deepgram.com/v1/agent/converse`):
//! JSON control messages in text frames, raw PCM16 (`linear16`) audio in **binary** frames
//! both ways, at the rates the `Settings` message names.
//!
//! The call side ([`CallHandler`]):
//!
//! - once the socket is open it sends the `Settings` message built from [`Config`]
//!   (`audio.input` `linear16` at [`Config::input_rate`], `audio.output` `linear16` at
//!   [`Config::output_rate`] with `container: "none"`, and the agent's listen / think /
//!   speak providers);
//! - it **holds caller audio until the vendor's `SettingsApplied`** (audio sent before the
//!   settings are applied is not taken), then sends what it held, in order, with the next
//!   caller frame (at most about 10 s is held; older audio is dropped past that);
//! - each Teler `audio` frame is resampled to the input rate and sent as one binary frame of
//!   raw PCM16 LE;
//! - the keep-alive: Deepgram closes a session that gets neither audio nor `KeepAlive` for
//!   about 10 s. Teler streams the caller continuously (silence included), so once the
//!   settings are applied the audio itself keeps the session; while audio is held, a
//!   `{"type":"KeepAlive"}` goes out for every [`KEEPALIVE_EVERY`] of caller audio held,
//!   every time (the caller's stream is the clock: no timer in the handler);
//! - everything else from Teler is passed.
//!
//! The remote side ([`RemoteHandler`]):
//!
//! - binary frames: agent audio (PCM16 at the output rate), resampled to 8 kHz and cut into
//!   Teler chunks of [`Config::chunk`] with `chunk_id` from 1;
//! - `{"type":"SettingsApplied"}`: caller audio may flow;
//! - `{"type":"UserStartedSpeaking"}`: barge-in, held audio dropped, `clear` to Teler;
//! - `{"type":"AgentAudioDone"}`: the end of the agent's turn, the remainder goes out;
//! - `{"type":"Error","description":…,"code":…}`: a handler error with the vendor's text;
//! - everything else (`Welcome`, `ConversationText`, `AgentThinking`, `Warning`, …) is
//!   passed.
//!
//! ```
//! use teler_core::agents::deepgram;
//! use teler_core::media::{Message, OutFrame, Outbox, StreamHandler, StreamOp};
//!
//! let (mut call, mut remote) = deepgram::Config::default().handlers();
//! let mut out = Outbox::default();
//! call.on_remote_connected(&mut out).unwrap();
//! let settings: serde_json::Value = serde_json::from_str(out.messages()[0]).unwrap();
//! assert_eq!(settings["type"], "Settings");
//! assert_eq!(settings["audio"]["input"]["sample_rate"], 16000);
//!
//! // Caller audio is held until the settings are applied, then goes in binary frames.
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAAAAAAA="}}"#;
//! let mut out = Outbox::default();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Pass);
//! remote.handle(&Message::from_text(r#"{"type":"SettingsApplied"}"#), &mut Outbox::default()).unwrap();
//! assert_eq!(call.handle(&Message::from_text(frame), &mut out).unwrap(), StreamOp::Relay);
//! assert!(out.frames().iter().all(|f| matches!(f, OutFrame::Binary(_))));
//!
//! // Barge-in.
//! let mut out = Outbox::default();
//! remote.handle(&Message::from_text(r#"{"type":"UserStartedSpeaking"}"#), &mut out).unwrap();
//! assert_eq!(out.messages(), [r#"{"type":"clear"}"#]);
//! ```

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

use super::common::{
    AgentEvent, BinaryFrames, CallerAudio, ReadyFlag, RemoteHandler as Remote, with_teler,
};
use crate::audio::{AudioFormat, DEFAULT_CHUNK, SampleRate, pcm16_duration};
use crate::media::{
    BridgeConfig, BridgeConfigBuilder, HandlerError, Message, OutFrame, Outbox, StreamHandler,
    StreamOp, TelerMessage,
};

pub use super::common::RemoteHandler;

/// The Voice Agent API's WebSocket (v1).
pub const URL: &str = "wss://agent.deepgram.com/v1/agent/converse";

/// How much held caller audio (while the settings are not applied yet) earns one
/// `KeepAlive` message. Deepgram's idle limit is about 10 s.
pub const KEEPALIVE_EVERY: Duration = Duration::from_secs(5);

/// The `KeepAlive` message.
pub const KEEPALIVE: &str = r#"{"type":"KeepAlive"}"#;

/// A Deepgram voice agent's settings (the `Settings` message). Holds no secret: the API key
/// is given to [`bridge_config`](Self::bridge_config) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The rate caller audio is sent at. Default [`SampleRate::Hz16000`] (the API's default
    /// input rate; Teler's 8 kHz is resampled up).
    pub input_rate: SampleRate,
    /// The rate the agent speaks at. Default [`SampleRate::Hz24000`] (the API's default
    /// output rate; resampled to Teler's 8 kHz here). `Hz8000` avoids the resampling.
    pub output_rate: SampleRate,
    /// `agent.language`. Default `"en"`.
    pub language: String,
    /// The speech-to-text model (`agent.listen.provider`, type `deepgram`). Default
    /// `"nova-3"`.
    pub listen_model: String,
    /// The LLM provider type (`agent.think.provider.type`). Default `"open_ai"`.
    pub think_provider: String,
    /// The LLM model (`agent.think.provider.model`). Default `"gpt-4o-mini"`.
    pub think_model: String,
    /// The system prompt (`agent.think.prompt`); `None` (the default): none.
    pub prompt: Option<String>,
    /// The voice (`agent.speak.provider`, type `deepgram`). Default `"aura-2-thalia-en"`.
    pub speak_model: String,
    /// What the agent says first (`agent.greeting`); `None` (the default): it waits.
    pub greeting: Option<String>,
    /// Teler chunk length (10 ms to 10 s). Default 500 ms.
    pub chunk: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            input_rate: SampleRate::Hz16000,
            output_rate: SampleRate::Hz24000,
            language: "en".to_owned(),
            listen_model: "nova-3".to_owned(),
            think_provider: "open_ai".to_owned(),
            think_model: "gpt-4o-mini".to_owned(),
            prompt: None,
            speak_model: "aura-2-thalia-en".to_owned(),
            greeting: None,
            chunk: DEFAULT_CHUNK,
        }
    }
}

impl Config {
    /// The `Settings` message sent first.
    pub fn settings_message(&self) -> String {
        let mut think = serde_json::json!({
            "provider": { "type": self.think_provider, "model": self.think_model }
        });
        if let Some(p) = &self.prompt {
            think["prompt"] = p.as_str().into();
        }
        let mut agent = serde_json::json!({
            "language": self.language,
            "listen": { "provider": { "type": "deepgram", "model": self.listen_model } },
            "think": think,
            "speak": { "provider": { "type": "deepgram", "model": self.speak_model } },
        });
        if let Some(g) = &self.greeting {
            agent["greeting"] = g.as_str().into();
        }
        serde_json::json!({
            "type": "Settings",
            "audio": {
                "input": { "encoding": "linear16", "sample_rate": self.input_rate.hz() },
                "output": {
                    "encoding": "linear16",
                    "sample_rate": self.output_rate.hz(),
                    "container": "none"
                }
            },
            "agent": agent,
        })
        .to_string()
    }

    /// A fresh handler pair for one call (fits a connector's per-call factory).
    ///
    /// # Panics
    /// If [`chunk`](Self::chunk) is outside 10 ms ..= 10 s; check with
    /// [`try_handlers`](Self::try_handlers).
    pub fn handlers(&self) -> (CallHandler, RemoteHandler) {
        self.try_handlers()
            .expect("deepgram::Config::chunk is 10 ms to 10 s")
    }

    /// A fresh handler pair for one call.
    ///
    /// # Errors
    /// A chunk length outside 10 ms ..= 10 s.
    pub fn try_handlers(&self) -> Result<(CallHandler, RemoteHandler), crate::audio::AudioError> {
        let ready = ReadyFlag::default();
        let remote = Remote::new(
            "Deepgram",
            AudioFormat::pcm16(self.output_rate),
            self.chunk,
            classify,
            ready.clone(),
            BinaryFrames::Audio,
        )?;
        let call = CallHandler {
            audio: CallerAudio::new(AudioFormat::pcm16(self.input_rate), Some(ready)),
            settings: self.settings_message(),
            input_rate: self.input_rate,
            held_since_keepalive: Duration::ZERO,
            keepalives: 0,
        };
        Ok((call, remote))
    }

    /// A bridge config for the Voice Agent API: [`URL`] with `Authorization: Token
    /// api_key`. Add settings to the builder and `build()` it.
    pub fn bridge_config(api_key: &str) -> BridgeConfigBuilder {
        BridgeConfig::builder(URL).header("Authorization", format!("Token {api_key}"))
    }
}

/// The call-side handler: `Settings` on connect, caller audio held until
/// `SettingsApplied` (with `KeepAlive`s meanwhile), then binary PCM16 at the input rate.
/// See the [module docs](self).
#[derive(Debug)]
pub struct CallHandler {
    audio: CallerAudio,
    settings: String,
    input_rate: SampleRate,
    held_since_keepalive: Duration,
    keepalives: u64,
}

impl CallHandler {
    /// Caller frames dropped because the vendor was not ready in time (about 10 s of audio
    /// is held; older frames go first).
    pub fn dropped_frames(&self) -> u64 {
        self.audio.dropped()
    }

    /// `KeepAlive` messages sent so far.
    pub fn keepalives(&self) -> u64 {
        self.keepalives
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
                let pcm = self.audio.bytes(&a.audio_b64)?;
                let held = !self.audio.is_ready();
                let len = pcm.len();
                let op = self.audio.send_frame(OutFrame::Binary(pcm), out);
                if !held {
                    self.held_since_keepalive = Duration::ZERO;
                    return Ok(op);
                }
                self.held_since_keepalive += pcm16_duration(len, self.input_rate);
                if self.held_since_keepalive < KEEPALIVE_EVERY {
                    return Ok(op);
                }
                self.held_since_keepalive = Duration::ZERO;
                self.keepalives += 1;
                out.send(KEEPALIVE.to_owned());
                Ok(StreamOp::Relay)
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
        out.send(self.settings.clone());
        Ok(())
    }
}

#[derive(Deserialize)]
struct ServerMessage<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
    let m: ServerMessage<'a> = serde_json::from_str(text)?;
    match &*m.kind {
        "SettingsApplied" => ev.push(AgentEvent::Ready),
        "UserStartedSpeaking" => ev.push(AgentEvent::Clear),
        "AgentAudioDone" => ev.push(AgentEvent::Flush),
        "Error" => {
            return Err(HandlerError::msg(format!(
                "Deepgram error{}: {}",
                m.code.map(|c| format!(" {c}")).unwrap_or_default(),
                m.description.as_deref().unwrap_or(text)
            )));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::encode_pcm16_b64;

    fn teler_frame(samples: usize) -> String {
        let mut s = String::new();
        encode_pcm16_b64(&vec![700; samples], &mut s);
        format!(r#"{{"type":"audio","data":{{"audio_b64":"{s}"}}}}"#)
    }

    #[test]
    fn settings_carry_rates_providers_prompt_and_greeting() {
        let cfg = Config {
            input_rate: SampleRate::Hz8000,
            output_rate: SampleRate::Hz8000,
            prompt: Some("Be \"brief\".".into()),
            greeting: Some("Hello".into()),
            ..Config::default()
        };
        let v: serde_json::Value = serde_json::from_str(&cfg.settings_message()).unwrap();
        assert_eq!(v["type"], "Settings");
        assert_eq!(v["audio"]["input"]["encoding"], "linear16");
        assert_eq!(v["audio"]["input"]["sample_rate"], 8000);
        assert_eq!(v["audio"]["output"]["sample_rate"], 8000);
        assert_eq!(v["audio"]["output"]["container"], "none");
        assert_eq!(v["agent"]["listen"]["provider"]["model"], "nova-3");
        assert_eq!(v["agent"]["think"]["provider"]["type"], "open_ai");
        assert_eq!(v["agent"]["think"]["prompt"], "Be \"brief\".");
        assert_eq!(v["agent"]["speak"]["provider"]["model"], "aura-2-thalia-en");
        assert_eq!(v["agent"]["greeting"], "Hello");
        let plain: serde_json::Value =
            serde_json::from_str(&Config::default().settings_message()).unwrap();
        assert!(plain["agent"].get("greeting").is_none());
        assert!(plain["agent"]["think"].get("prompt").is_none());
    }

    #[test]
    fn caller_audio_held_with_keepalives_then_binary_at_16k() {
        let (mut call, mut remote) = Config::default().handlers();
        let mut out = Outbox::default();
        // 16 s of 8 kHz caller audio in 500 ms frames, held: a KeepAlive every 5 s.
        for _ in 0..32 {
            call.handle(&Message::from_text(&teler_frame(4000)), &mut out)
                .unwrap();
        }
        assert_eq!(call.keepalives(), 3);
        assert_eq!(out.messages(), [KEEPALIVE; 3]);
        assert!(call.dropped_frames() > 0, "about 10 s is held");
        remote
            .handle(
                &Message::from_text(r#"{"type":"SettingsApplied"}"#),
                &mut Outbox::default(),
            )
            .unwrap();
        let mut out = Outbox::default();
        assert_eq!(
            call.handle(&Message::from_text(&teler_frame(160)), &mut out)
                .unwrap(),
            StreamOp::Relay
        );
        let OutFrame::Binary(last) = out.frames().last().unwrap() else {
            panic!("binary audio")
        };
        // 20 ms at 8 kHz is 320 samples at 16 kHz (640 bytes), less the look-ahead.
        assert!(last.len() <= 640 && last.len() > 500, "{}", last.len());
        assert!(out.messages().is_empty(), "no KeepAlive once audio flows");
    }

    #[test]
    fn remote_side_binary_audio_barge_in_turns_and_errors() {
        let (_, mut h) = Config::default().handlers();
        let mut out = Outbox::default();
        // 600 ms at 24 kHz: one 500 ms chunk now.
        let pcm: Vec<u8> = [900i16; 14_400]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(
            h.handle_binary(&pcm, &mut out).unwrap().unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.len(), 1);
        let done = r#"{"type":"AgentAudioDone"}"#;
        h.handle(&Message::from_text(done), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.messages()[1].ends_with(r#""chunk_id":2}"#));
        h.handle_binary(&pcm[..4800], &mut out).unwrap().unwrap();
        h.handle(
            &Message::from_text(r#"{"type":"UserStartedSpeaking"}"#),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.messages()[2], r#"{"type":"clear"}"#);
        h.handle(&Message::from_text(done), &mut out).unwrap();
        assert_eq!(out.len(), 3, "the cleared audio stays dropped");
        let e = h
            .handle(
                &Message::from_text(
                    r#"{"type":"Error","description":"bad settings","code":"INVALID_SETTINGS"}"#,
                ),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Deepgram error INVALID_SETTINGS: bad settings"
        );
        assert_eq!(
            h.handle(
                &Message::from_text(r#"{"type":"Welcome","request_id":"r"}"#),
                &mut out
            )
            .unwrap(),
            StreamOp::Pass
        );
        assert!(
            h.handle_binary(&[1, 2, 3], &mut out).unwrap().is_err(),
            "odd"
        );
        assert!(h.handle(&Message::from_text("nope"), &mut out).is_err());
    }
}
