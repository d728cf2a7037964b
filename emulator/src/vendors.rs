//! Stand-ins for more vendors, on one shared driver: each vendor says how to read the
//! bridge's frames and how to write its own messages; the driver does the handshake wait,
//! the greeting, barge-in by caller audio heard (see the [agent docs](crate::agent)), the
//! echo at the vendor's output rate, and refusals.
//!
//! ## Gemini Live (`ws://ADDR/gemini`, `--protocol gemini`)
//!
//! 1. waits for `{"setup":{"model":…,"generationConfig":{"responseModalities":["AUDIO"],…}}}`
//!    as the first message and answers `{"setupComplete":{}}`; a first message that is not
//!    `setup`, a setup without a model, or one that does not ask for `AUDIO`, is refused by
//!    closing with 1007 and a reason, as the service does;
//! 2. then greets: `{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":…}}]}}}`
//!    messages of `chunk_ms`, then `{"serverContent":{"turnComplete":true}}`;
//! 3. reads `{"realtimeInput":{"audio":{"data":…,"mimeType":"audio/pcm;rate=N"}}}` (N any
//!    rate the core's resampler takes; anything but `audio/pcm` is refused with 1007);
//!    interrupts with `{"serverContent":{"interrupted":true}}`; echoes at 24 kHz, each
//!    `chunk_ms` as a turn.
//!
//! Every server message goes out in a **binary** frame, as the service sends them.
//!
//! ## Devnagri (`ws://ADDR/devnagri`, `--protocol devnagri`)
//!
//! 1. waits for `{"event":"connected"}` and `{"event":"start","start":{"stream_sid":…,"media_format":{"encoding":"base64","sample_rate":8000,…}}}`;
//!    a `start` with another rate or encoding, or `media` before `start`, is answered with
//!    `{"event":"error","message":…}`;
//! 2. greets with `{"event":"media","stream_sid":S,"media":{"payload":…}}` messages (PCM16 at
//!    8 kHz) of `chunk_ms`, then `{"event":"mark","stream_sid":S,"mark":{"name":"turn_end"}}`;
//! 3. reads `media` events; interrupts with `{"event":"clear","stream_sid":S}`; echoes.

//! ## Deepgram Voice Agent (`ws://ADDR/deepgram`, `--protocol deepgram`)
//!
//! 1. sends `{"type":"Welcome","request_id":…}` on connect;
//! 2. waits for `{"type":"Settings","audio":{"input":{"encoding":"linear16","sample_rate":I},"output":{"encoding":"linear16","sample_rate":O,"container":"none"}},"agent":{…}}`
//!    and answers `{"type":"SettingsApplied"}`; settings with another encoding, a container
//!    other than `none` or a rate the core's resampler does not take, or audio (a binary
//!    frame) before `Settings`, are answered with `{"type":"Error","code":…,"description":…}`
//!    and a close (1008); an unknown message type or text that is not JSON gets an `Error`
//!    only; `KeepAlive` is read and ignored;
//! 3. greets with raw PCM16 at O in **binary** frames of `chunk_ms`, then
//!    `{"type":"AgentAudioDone"}`;
//! 4. reads binary frames as caller audio at I; interrupts with
//!    `{"type":"UserStartedSpeaking"}`; echoes at O.

//! ## Ultravox (`ws://ADDR/ultravox?inputSampleRate=I&outputSampleRate=O`, `--protocol ultravox`)
//!
//! The socket of a call created with `medium.serverWebSocket`; the stand-in takes the rates
//! the create-call request would have set from the URL's query (8000 by default; the output
//! rate defaults to the input rate, as documented), refusing a rate the core's resampler
//! does not take (close 1008).
//!
//! 1. no handshake: greets at once with raw PCM16 at O in **binary** frames of `chunk_ms`,
//!    then `{"type":"state","state":"listening"}`;
//! 2. reads binary frames as caller audio at I (an odd length closes with 1007), data
//!    messages in text frames (`ping` is answered with `pong`; text that is not JSON or has
//!    no `type` closes with 1007);
//! 3. interrupts with `{"type":"playback_clear_buffer"}`; echoes at O.

//! ## Cartesia Agents WebSocket (`ws://ADDR/cartesia` or `ws://ADDR/agents/stream/AGENT_ID`, `--protocol cartesia`)
//!
//! The handshake needs `Authorization: Bearer <token>` and `Cartesia-Version` headers (401
//! or 400 with a JSON `message` otherwise, before the upgrade). Every message is JSON in a
//! text frame; a binary frame closes with 1003.
//!
//! 1. waits for `{"event":"start","stream_id":S?,"config":{"input_format":F}}` as the first
//!    message (F: `mulaw_8000`, `pcm_16000`, `pcm_24000` or `pcm_44100`; `pcm_44100`, the
//!    docs' example, when absent) and answers `{"event":"ack","stream_id":S,"config":{"input_format":F}}`
//!    (S generated when not given); any other first message, another F, or a second
//!    `start`, closes with 1008 and a reason;
//! 2. greets with `{"event":"media_output","stream_id":S,"media":{"payload":…}}` events of
//!    `chunk_ms` in F (μ-law encoded for `mulaw_8000`); there is no end-of-turn event;
//! 3. reads `{"event":"media_input","stream_id":S,"media":{"payload":…}}` in F (another
//!    stream id closes with 1008, a payload that is not base64 of F with 1007); `dtmf` and
//!    `custom` are read and ignored; interrupts with `{"event":"clear","stream_id":S}`;
//!    echoes in F.

//! ## Vapi WebSocket transport (`ws://ADDR/vapi?format=F&sampleRate=R` or `ws://ADDR/CALL_ID/transport?…`, `--protocol vapi`)
//!
//! The socket of a call created with `transport.provider: "vapi.websocket"`; the stand-in
//! takes the `audioFormat` the create-call request would have set from the URL's query (F
//! `pcm_s16le` or `mulaw`, R a rate the core's resampler takes; `pcm_s16le` at 16000 by
//! default, as documented; `mulaw` at 8000 only), refusing others (close 1008).
//!
//! 1. no handshake: greets at once with raw audio in F at R in **binary** frames of
//!    `chunk_ms`, then `{"type":"speech-update","role":"assistant","status":"stopped"}`;
//! 2. reads binary frames as caller audio (PCM16 of an odd length closes with 1007); text
//!    control messages: `{"type":"hangup"}` or `end-call` closes with 1000, text that is
//!    not JSON closes with 1007, others are ignored;
//! 3. interrupts with `{"type":"user-interrupted"}`; echoes in F at R.

//! ## Sarvam (`ws://ADDR/sarvam?user_identifier=U&user_identifier_type=T&sample_rate=R`, `--protocol sarvam`)
//!
//! The socket of a session signed by `GET …/apps/{app}/url`; the stand-in is the socket only.
//! Without `user_identifier` and `user_identifier_type` in the query the handshake is
//! refused with HTTP 403, as reported of the service; a `sample_rate` in the query other
//! than 8000, 16000 or 48000 closes at once (1008).
//!
//! 1. waits for `{"type":"client.action.interaction_start","origin":"client","timestamp":…,…}`
//!    as the first message and answers `server.action.interaction_connected` (with a
//!    `reference_id`, an `interaction_id` and the start's overrides), then one
//!    `{"type":"server.system.ping","event_id":N}` whose `client.system.pong` (same
//!    `event_id`) it counts in [`AgentStats::keepalives`](crate::agent::AgentStats);
//! 2. greets with `{"type":"server.media.audio_chunk","audio_base64":…,"format":"audio/wav","sample_rate":16000,"status":"pending"}`
//!    messages (PCM16 at 16 kHz, the SDK's output rate) of `chunk_ms`, then an empty chunk
//!    with `"status":"completed"`;
//! 3. reads `client.media.audio_chunk` (`format` `audio/wav`, base64 PCM16 at its
//!    `sample_rate`, 8000, 16000 or 48000); interrupts with
//!    `{"type":"server.event.user_interrupt"}`; echoes at 16 kHz.
//!
//! It closes (1008, with the reason) on a message before `interaction_start` and on an
//! `origin` other than `client`, and (1007) on text that is not JSON or has no `type`, and
//! on audio in another `format`, at another rate, or that is not base64 PCM16. Every server
//! message carries `"origin":"server"` and a Unix `timestamp`.

use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use serde_json::{Value, json};
use teler_core::agents::cartesia::Format as CartesiaFormat;
use teler_core::audio::{Encoding, Resampler, SampleRate, g711};
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::agent::{AgentConfig, AgentStats};
use crate::wav::Pcm;
use crate::ws::WsClient;

/// A vendor the shared driver speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Gemini,
    Devnagri,
    Deepgram,
    Ultravox,
    Cartesia,
    Vapi,
    Sarvam,
}

/// What a frame from the bridge means.
enum Read {
    /// A handshake step: replies, and whether the session is ready now.
    Handshake(Vec<Message>, bool),
    /// Caller audio: PCM16 LE at `rate`.
    Audio { pcm: Vec<u8>, rate: u32 },
    /// Refused: messages to send, then maybe a close.
    Refuse(Vec<Message>, Option<CloseFrame>),
    /// Nothing to do.
    Ignore,
    /// A keep-alive answered as asked (counted).
    KeepAlive,
}

trait Proto: Send {
    /// The rate of the agent's audio.
    fn out_rate(&self) -> u32;
    /// Reads the socket URL's query (settings a pre-socket request would have made);
    /// `Err` refuses the connection with the reason.
    fn configure(&mut self, query: &str) -> Result<(), String> {
        let _ = query;
        Ok(())
    }
    /// Whether the session is ready as soon as the socket opens (no handshake).
    fn ready_on_open(&self) -> bool {
        false
    }
    /// What the vendor sends first, unasked.
    fn hello(&self) -> Vec<Message> {
        Vec::new()
    }
    /// One frame from the bridge (`binary`: a binary frame).
    fn read(&mut self, msg: &[u8], binary: bool) -> Read;
    fn audio(&self, pcm: &[u8]) -> Message;
    /// The end of the agent's turn, for vendors that say so.
    fn end_of_turn(&self) -> Option<Message>;
    fn interruption(&self) -> Message;
}

fn close(reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame {
        code: CloseCode::Invalid, // 1007
        reason: reason.to_owned().into(),
    })
}

#[derive(Default)]
struct Gemini {
    set_up: bool,
}

impl Gemini {
    fn server(v: Value) -> Message {
        Message::binary(v.to_string().into_bytes())
    }
}

impl Proto for Gemini {
    fn out_rate(&self) -> u32 {
        24_000
    }

    fn read(&mut self, msg: &[u8], _binary: bool) -> Read {
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Read::Refuse(vec![], close("Request contains an invalid argument."));
        };
        if let Some(setup) = v.get("setup") {
            if self.set_up {
                return Read::Refuse(vec![], close("setup must be sent only once"));
            }
            if !setup["model"]
                .as_str()
                .is_some_and(|m| m.starts_with("models/"))
            {
                return Read::Refuse(vec![], close("setup.model must be models/…"));
            }
            let modalities = &setup["generationConfig"]["responseModalities"];
            if !modalities
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m == "AUDIO"))
            {
                return Read::Refuse(
                    vec![],
                    close("this stand-in answers with AUDIO only: set responseModalities"),
                );
            }
            self.set_up = true;
            return Read::Handshake(vec![Self::server(json!({ "setupComplete": {} }))], true);
        }
        if !self.set_up {
            return Read::Refuse(vec![], close("the first message must be setup"));
        }
        let Some(audio) = v.get("realtimeInput").and_then(|r| r.get("audio")) else {
            return Read::Ignore; // clientContent, toolResponse, text input, …
        };
        let mime = audio["mimeType"].as_str().unwrap_or("");
        let mut parts = mime.split(';').map(str::trim);
        if parts.next() != Some("audio/pcm") {
            return Read::Refuse(vec![], close(&format!("unsupported mimeType {mime:?}")));
        }
        let rate = parts
            .find_map(|p| p.strip_prefix("rate="))
            .map_or(Some(16_000), |r| r.parse::<u32>().ok());
        let Some(rate) = rate.filter(|r| SampleRate::from_hz(*r).is_ok()) else {
            return Read::Refuse(vec![], close(&format!("unsupported rate in {mime:?}")));
        };
        match audio["data"].as_str().map(|d| B64.decode(d)) {
            Some(Ok(pcm)) if pcm.len() % 2 == 0 => Read::Audio { pcm, rate },
            _ => Read::Refuse(
                vec![],
                close("realtimeInput.audio.data is not base64 PCM16"),
            ),
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        Self::server(json!({ "serverContent": { "modelTurn": { "parts": [
            { "inlineData": { "mimeType": "audio/pcm;rate=24000", "data": B64.encode(pcm) } }
        ] } } }))
    }

    fn end_of_turn(&self) -> Option<Message> {
        Some(Self::server(
            json!({ "serverContent": { "turnComplete": true } }),
        ))
    }

    fn interruption(&self) -> Message {
        Self::server(json!({ "serverContent": { "interrupted": true } }))
    }
}

#[derive(Default)]
struct Devnagri {
    connected: bool,
    stream_sid: Option<String>,
}

impl Devnagri {
    fn error(message: &str) -> Read {
        let m = json!({ "event": "error", "message": message }).to_string();
        Read::Refuse(vec![Message::text(m)], None)
    }
    fn sid(&self) -> &str {
        self.stream_sid.as_deref().unwrap_or("")
    }
}

impl Proto for Devnagri {
    fn out_rate(&self) -> u32 {
        8000
    }

    fn read(&mut self, msg: &[u8], _binary: bool) -> Read {
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Self::error("not JSON");
        };
        match v["event"].as_str() {
            Some("connected") => {
                self.connected = true;
                Read::Handshake(vec![], false)
            }
            Some("start") => {
                let start = &v["start"];
                let fmt = &start["media_format"];
                if !self.connected {
                    return Self::error("start before connected");
                }
                if fmt["encoding"] != "base64" || fmt["sample_rate"] != 8000 {
                    return Self::error(&format!(
                        "media_format {fmt}: this bot takes base64 PCM16 at 8000 Hz"
                    ));
                }
                let Some(sid) = start["stream_sid"].as_str() else {
                    return Self::error("start without stream_sid");
                };
                self.stream_sid = Some(sid.to_owned());
                Read::Handshake(vec![], true)
            }
            Some("media") => {
                if self.stream_sid.is_none() {
                    return Self::error("media before start");
                }
                match v["media"]["payload"].as_str().map(|d| B64.decode(d)) {
                    Some(Ok(pcm)) if pcm.len() % 2 == 0 => Read::Audio { pcm, rate: 8000 },
                    _ => Self::error("media.payload is not base64 PCM16"),
                }
            }
            _ => Read::Ignore, // mark, stop, dtmf, …
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        let m = json!({ "event": "media", "stream_sid": self.sid(), "media": { "payload": B64.encode(pcm) } });
        Message::text(m.to_string())
    }

    fn end_of_turn(&self) -> Option<Message> {
        let m =
            json!({ "event": "mark", "stream_sid": self.sid(), "mark": { "name": "turn_end" } });
        Some(Message::text(m.to_string()))
    }

    fn interruption(&self) -> Message {
        Message::text(json!({ "event": "clear", "stream_sid": self.sid() }).to_string())
    }
}

/// Deepgram's Voice Agent API: JSON control messages, raw `linear16` audio in binary frames.
#[derive(Default)]
struct Deepgram {
    /// The input and output rates, once `Settings` was taken.
    rates: Option<(u32, u32)>,
}

impl Deepgram {
    fn msg(v: Value) -> Message {
        Message::text(v.to_string())
    }
    /// An `Error` message; with `fatal`, the socket is closed after it.
    fn error(code: &str, description: &str, fatal: bool) -> Read {
        let m = Self::msg(json!({ "type": "Error", "code": code, "description": description }));
        let close = fatal.then(|| CloseFrame {
            code: CloseCode::Policy, // 1008
            reason: description.to_owned().into(),
        });
        Read::Refuse(vec![m], close)
    }
    /// The rate of a `linear16` audio block, if this stand-in takes it.
    fn rate(block: &Value, name: &str) -> Result<u32, String> {
        if block["encoding"].as_str().unwrap_or("linear16") != "linear16" {
            return Err(format!(
                "audio.{name}.encoding {}: this stand-in takes linear16 only",
                block["encoding"]
            ));
        }
        if name == "output" && block["container"].as_str().unwrap_or("none") != "none" {
            return Err(format!(
                "audio.output.container {}: raw audio needs none",
                block["container"]
            ));
        }
        let rate =
            block["sample_rate"]
                .as_u64()
                .unwrap_or(if name == "input" { 16_000 } else { 24_000 });
        u32::try_from(rate)
            .ok()
            .filter(|r| SampleRate::from_hz(*r).is_ok())
            .ok_or(format!("audio.{name}.sample_rate {rate} is not supported"))
    }
}

impl Proto for Deepgram {
    fn out_rate(&self) -> u32 {
        self.rates.map_or(24_000, |r| r.1)
    }

    fn hello(&self) -> Vec<Message> {
        vec![Self::msg(
            json!({ "type": "Welcome", "request_id": crate::util::new_id("req") }),
        )]
    }

    fn read(&mut self, msg: &[u8], binary: bool) -> Read {
        if binary {
            let Some((rate, _)) = self.rates else {
                return Self::error(
                    "BINARY_BEFORE_SETTINGS",
                    "audio was sent before the Settings message",
                    true,
                );
            };
            if !msg.len().is_multiple_of(2) {
                return Self::error("INVALID_AUDIO", "linear16 audio of an odd length", false);
            }
            return Read::Audio {
                pcm: msg.to_vec(),
                rate,
            };
        }
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Self::error("UNPARSABLE_CLIENT_MESSAGE", "not a JSON message", false);
        };
        match v["type"].as_str() {
            Some("Settings") => {
                if self.rates.is_some() {
                    return Self::error("SETTINGS_ALREADY_APPLIED", "Settings sent twice", false);
                }
                let audio = &v["audio"];
                let rates = Self::rate(&audio["input"], "input")
                    .and_then(|i| Self::rate(&audio["output"], "output").map(|o| (i, o)));
                match rates {
                    Ok(r) => {
                        self.rates = Some(r);
                        let applied = Self::msg(json!({ "type": "SettingsApplied" }));
                        Read::Handshake(vec![applied], true)
                    }
                    Err(e) => Self::error("INVALID_SETTINGS", &e, true),
                }
            }
            Some("KeepAlive" | "UpdatePrompt" | "UpdateSpeak" | "InjectAgentMessage") => {
                Read::Ignore
            }
            Some(t) if t.starts_with("Function") || t.starts_with("Update") => Read::Ignore,
            other => Self::error(
                "UNPARSABLE_CLIENT_MESSAGE",
                &format!("unknown message type {other:?}"),
                false,
            ),
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        Message::binary(pcm.to_vec())
    }

    fn end_of_turn(&self) -> Option<Message> {
        Some(Self::msg(json!({ "type": "AgentAudioDone" })))
    }

    fn interruption(&self) -> Message {
        Self::msg(json!({ "type": "UserStartedSpeaking" }))
    }
}

/// Ultravox's `serverWebSocket` medium: raw PCM16 in binary frames at the rates the call
/// was created with, JSON data messages in text frames.
struct Ultravox {
    input_rate: u32,
    output_rate: u32,
}

impl Default for Ultravox {
    fn default() -> Self {
        Ultravox {
            input_rate: 8000,
            output_rate: 8000,
        }
    }
}

impl Ultravox {
    fn msg(v: Value) -> Message {
        Message::text(v.to_string())
    }
}

impl Proto for Ultravox {
    fn out_rate(&self) -> u32 {
        self.output_rate
    }

    fn configure(&mut self, query: &str) -> Result<(), String> {
        let mut output = None;
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            let rate = || {
                v.parse::<u32>()
                    .ok()
                    .filter(|r| SampleRate::from_hz(*r).is_ok())
                    .ok_or(format!("{k}={v}: not a supported sample rate"))
            };
            match k {
                "inputSampleRate" => self.input_rate = rate()?,
                "outputSampleRate" => output = Some(rate()?),
                _ => {}
            }
        }
        // As documented: the output rate defaults to the input rate.
        self.output_rate = output.unwrap_or(self.input_rate);
        Ok(())
    }

    fn ready_on_open(&self) -> bool {
        true
    }

    fn read(&mut self, msg: &[u8], binary: bool) -> Read {
        if binary {
            if !msg.len().is_multiple_of(2) {
                return Read::Refuse(vec![], close("audio must be whole PCM16 samples"));
            }
            return Read::Audio {
                pcm: msg.to_vec(),
                rate: self.input_rate,
            };
        }
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Read::Refuse(vec![], close("data messages must be JSON"));
        };
        match v["type"].as_str() {
            Some("ping") => Read::Handshake(
                vec![Self::msg(
                    json!({ "type": "pong", "timestamp": v["timestamp"] }),
                )],
                false,
            ),
            Some(_) => Read::Ignore, // input_text_message, client_tool_result, hang_up, …
            None => Read::Refuse(vec![], close("a data message needs a type")),
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        Message::binary(pcm.to_vec())
    }

    fn end_of_turn(&self) -> Option<Message> {
        Some(Self::msg(json!({ "type": "state", "state": "listening" })))
    }

    fn interruption(&self) -> Message {
        Self::msg(json!({ "type": "playback_clear_buffer" }))
    }
}

/// Cartesia's Agents WebSocket: JSON events in text frames, base64 audio in the format
/// `start` names, both ways.
#[derive(Default)]
struct Cartesia {
    /// The stream id and format, once `start` was taken.
    session: Option<(String, CartesiaFormat)>,
}

impl Cartesia {
    fn close(code: CloseCode, reason: &str) -> Read {
        Read::Refuse(
            vec![],
            Some(CloseFrame {
                code,
                reason: reason.to_owned().into(),
            }),
        )
    }
    fn sid(&self) -> &str {
        self.session.as_ref().map_or("", |(s, _)| s)
    }
    fn format(&self) -> CartesiaFormat {
        self.session
            .as_ref()
            .map_or(CartesiaFormat::Pcm44100, |s| s.1)
    }
}

impl Proto for Cartesia {
    fn out_rate(&self) -> u32 {
        self.format().audio().rate.hz()
    }

    fn read(&mut self, msg: &[u8], binary: bool) -> Read {
        if binary {
            return Self::close(
                CloseCode::Unsupported, // 1003
                "binary frames are not taken: send JSON events in text frames",
            );
        }
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Self::close(CloseCode::Invalid, "messages must be JSON events");
        };
        let event = v["event"].as_str().unwrap_or("");
        let Some((sid, format)) = self.session.clone() else {
            if event != "start" {
                return Self::close(
                    CloseCode::Policy, // 1008
                    &format!("the first message must be start, not {event:?}"),
                );
            }
            let name = v["config"]["input_format"].as_str().unwrap_or("pcm_44100");
            let Some(format) = CartesiaFormat::from_name(name) else {
                return Self::close(
                    CloseCode::Policy,
                    &format!(
                        "unsupported input_format {name:?}: mulaw_8000, pcm_16000, pcm_24000 \
                         or pcm_44100"
                    ),
                );
            };
            let sid = v["stream_id"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map_or_else(|| crate::util::new_id("sid"), str::to_owned);
            let ack =
                json!({ "event": "ack", "stream_id": sid, "config": { "input_format": name } });
            self.session = Some((sid, format));
            return Read::Handshake(vec![Message::text(ack.to_string())], true);
        };
        match event {
            "start" => Self::close(CloseCode::Policy, "start was sent twice"),
            "media_input" => {
                if v["stream_id"].as_str() != Some(&sid) {
                    return Self::close(
                        CloseCode::Policy,
                        &format!("media_input for stream {}, not {sid:?}", v["stream_id"]),
                    );
                }
                let Some(Ok(bytes)) = v["media"]["payload"].as_str().map(|d| B64.decode(d)) else {
                    return Self::close(CloseCode::Invalid, "media.payload is not base64");
                };
                let audio = format.audio();
                let pcm = match audio.encoding {
                    Encoding::MuLaw => bytes
                        .iter()
                        .flat_map(|&c| g711::ulaw_decode(c).to_le_bytes())
                        .collect(),
                    _ if bytes.len() % 2 == 0 => bytes,
                    _ => return Self::close(CloseCode::Invalid, "PCM16 audio of an odd length"),
                };
                Read::Audio {
                    pcm,
                    rate: audio.rate.hz(),
                }
            }
            _ => Read::Ignore, // dtmf, custom, …
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        let payload = if self.format().audio().encoding == Encoding::MuLaw {
            let codes: Vec<u8> = pcm
                .chunks_exact(2)
                .map(|c| g711::ulaw_encode(i16::from_le_bytes([c[0], c[1]])))
                .collect();
            B64.encode(codes)
        } else {
            B64.encode(pcm)
        };
        let m = json!({ "event": "media_output", "stream_id": self.sid(), "media": { "payload": payload } });
        Message::text(m.to_string())
    }

    fn end_of_turn(&self) -> Option<Message> {
        None // Cartesia sends no end-of-turn event
    }

    fn interruption(&self) -> Message {
        Message::text(json!({ "event": "clear", "stream_id": self.sid() }).to_string())
    }
}

/// Vapi's WebSocket transport: raw audio in binary frames in the call's `audioFormat`, JSON
/// control messages in text frames.
struct Vapi {
    mulaw: bool,
    rate: u32,
}

impl Default for Vapi {
    fn default() -> Self {
        Vapi {
            mulaw: false,
            rate: 16_000,
        }
    }
}

impl Vapi {
    fn msg(v: Value) -> Message {
        Message::text(v.to_string())
    }
}

impl Proto for Vapi {
    fn out_rate(&self) -> u32 {
        self.rate
    }

    fn configure(&mut self, query: &str) -> Result<(), String> {
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            match k {
                "format" => {
                    self.mulaw = match v {
                        "pcm_s16le" => false,
                        "mulaw" => true,
                        _ => return Err(format!("format={v}: pcm_s16le or mulaw")),
                    }
                }
                "sampleRate" => {
                    self.rate = v
                        .parse::<u32>()
                        .ok()
                        .filter(|r| SampleRate::from_hz(*r).is_ok())
                        .ok_or(format!("sampleRate={v}: not a supported sample rate"))?;
                }
                _ => {}
            }
        }
        if self.mulaw && self.rate != 8000 {
            return Err(format!(
                "format=mulaw is 8000 Hz, not sampleRate={}",
                self.rate
            ));
        }
        Ok(())
    }

    fn ready_on_open(&self) -> bool {
        true
    }

    fn read(&mut self, msg: &[u8], binary: bool) -> Read {
        if binary {
            let pcm = if self.mulaw {
                msg.iter()
                    .flat_map(|&c| g711::ulaw_decode(c).to_le_bytes())
                    .collect()
            } else if msg.len().is_multiple_of(2) {
                msg.to_vec()
            } else {
                return Read::Refuse(vec![], close("pcm_s16le audio must be whole samples"));
            };
            return Read::Audio {
                pcm,
                rate: self.rate,
            };
        }
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Read::Refuse(vec![], close("control messages must be JSON"));
        };
        match v["type"].as_str() {
            Some("hangup" | "end-call") => Read::Refuse(
                vec![],
                Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "call ended".into(),
                }),
            ),
            _ => Read::Ignore, // say, add-message, control, …
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        if self.mulaw {
            Message::binary(
                pcm.chunks_exact(2)
                    .map(|c| g711::ulaw_encode(i16::from_le_bytes([c[0], c[1]])))
                    .collect::<Vec<u8>>(),
            )
        } else {
            Message::binary(pcm.to_vec())
        }
    }

    fn end_of_turn(&self) -> Option<Message> {
        Some(Self::msg(
            json!({ "type": "speech-update", "role": "assistant", "status": "stopped" }),
        ))
    }

    fn interruption(&self) -> Message {
        Self::msg(json!({ "type": "user-interrupted" }))
    }
}

/// Cartesia's handshake checks, before the upgrade: an `Authorization: Bearer` token and a
/// `Cartesia-Version` header; `Err` is the HTTP answer (401 or 400, a JSON `message`).
#[allow(clippy::result_large_err)] // tungstenite's callback error type
pub(crate) fn cartesia_handshake(
    req: &tungstenite::handshake::server::Request,
) -> Result<(), tungstenite::handshake::server::ErrorResponse> {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let refuse = |status: u16, message: &str| {
        let mut r = tungstenite::handshake::server::ErrorResponse::new(Some(
            json!({ "message": message }).to_string(),
        ));
        *r.status_mut() = tungstenite::http::StatusCode::from_u16(status).unwrap_or_default();
        r
    };
    let token = header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    if token.is_none_or(|t| t.trim().is_empty()) {
        return Err(refuse(
            401,
            "an Authorization: Bearer <access token> header is required",
        ));
    }
    if header("cartesia-version").is_none_or(|v| v.trim().is_empty()) {
        return Err(refuse(400, "a Cartesia-Version header is required"));
    }
    Ok(())
}

/// Sarvam's agent socket (Samvaad): JSON text frames with a namespaced `type`, base64
/// PCM16 both ways.
#[derive(Default)]
struct Sarvam {
    started: bool,
    /// The ping sent, until its pong comes.
    ping: Option<u64>,
}

impl Sarvam {
    /// The agent's output rate (the SDK's `OUTPUT_SAMPLE_RATE`).
    const OUT_RATE: u32 = 16_000;
    /// The caller-audio rates the SDK accepts.
    const IN_RATES: [u32; 3] = [8000, 16_000, 48_000];

    fn msg(mut v: Value) -> Message {
        v["origin"] = "server".into();
        v["timestamp"] = unix_now().into();
        Message::text(v.to_string())
    }

    fn refuse(code: CloseCode, reason: &str) -> Read {
        Read::Refuse(
            vec![],
            Some(CloseFrame {
                code,
                reason: reason.to_owned().into(),
            }),
        )
    }

    fn chunk(pcm: &[u8], status: &str) -> Message {
        Self::msg(json!({
            "type": "server.media.audio_chunk",
            "audio_base64": B64.encode(pcm),
            "format": "audio/wav",
            "sample_rate": Self::OUT_RATE,
            "status": status,
        }))
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Proto for Sarvam {
    fn out_rate(&self) -> u32 {
        Self::OUT_RATE
    }

    fn configure(&mut self, query: &str) -> Result<(), String> {
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            if k == "sample_rate" && !v.parse::<u32>().is_ok_and(|r| Self::IN_RATES.contains(&r)) {
                return Err(format!("sample_rate={v}: 8000, 16000 or 48000"));
            }
        }
        Ok(())
    }

    fn read(&mut self, msg: &[u8], _binary: bool) -> Read {
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            return Self::refuse(CloseCode::Invalid, "messages must be JSON text");
        };
        let Some(kind) = v["type"].as_str() else {
            return Self::refuse(CloseCode::Invalid, "a message needs a type");
        };
        if v["origin"] != "client" {
            return Self::refuse(
                CloseCode::Policy,
                &format!("origin {}: client messages carry \"client\"", v["origin"]),
            );
        }
        if !self.started && kind != "client.action.interaction_start" {
            return Self::refuse(
                CloseCode::Policy,
                &format!("{kind} before client.action.interaction_start"),
            );
        }
        match kind {
            "client.action.interaction_start" => {
                if self.started {
                    return Read::Ignore;
                }
                self.started = true;
                let id = 1;
                self.ping = Some(id);
                let mut connected = json!({
                    "type": "server.action.interaction_connected",
                    "reference_id": crate::util::new_id("ref"),
                    "interaction_id": crate::util::new_id("int"),
                });
                for k in [
                    "agent_variables",
                    "initial_language_name",
                    "initial_bot_message",
                    "initial_state_name",
                ] {
                    if !v[k].is_null() {
                        connected[k] = v[k].clone();
                    }
                }
                let ping = json!({ "type": "server.system.ping", "event_id": id });
                Read::Handshake(vec![Self::msg(connected), Self::msg(ping)], true)
            }
            "client.media.audio_chunk" => {
                if v["format"] != "audio/wav" {
                    return Self::refuse(
                        CloseCode::Invalid,
                        &format!("format {}: audio/wav only", v["format"]),
                    );
                }
                let rate = v["sample_rate"]
                    .as_u64()
                    .and_then(|r| u32::try_from(r).ok())
                    .filter(|r| Self::IN_RATES.contains(r));
                let Some(rate) = rate else {
                    return Self::refuse(
                        CloseCode::Invalid,
                        &format!("sample_rate {}: 8000, 16000 or 48000", v["sample_rate"]),
                    );
                };
                match v["audio_base64"].as_str().map(|d| B64.decode(d)) {
                    Some(Ok(pcm)) if pcm.len() % 2 == 0 => Read::Audio { pcm, rate },
                    _ => Self::refuse(CloseCode::Invalid, "audio_base64 is not base64 PCM16"),
                }
            }
            "client.system.pong" => match (self.ping, v["event_id"].as_u64()) {
                (Some(p), Some(id)) if p == id => {
                    self.ping = None;
                    Read::KeepAlive
                }
                _ => Read::Ignore,
            },
            _ => Read::Ignore, // client.media.text, client.action.interaction_end, …
        }
    }

    fn audio(&self, pcm: &[u8]) -> Message {
        Self::chunk(pcm, "pending")
    }

    fn end_of_turn(&self) -> Option<Message> {
        Some(Self::chunk(&[], "completed"))
    }

    fn interruption(&self) -> Message {
        Self::msg(json!({ "type": "server.event.user_interrupt" }))
    }
}

fn rms(pcm: &[u8]) -> f64 {
    let n = pcm.len() / 2;
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = pcm
        .chunks_exact(2)
        .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])).powi(2))
        .sum();
    (sum / n as f64).sqrt()
}

/// Sends `msgs`; false when the socket is gone. Audio messages are counted by the caller.
async fn send_all(ws: &mut WsClient, msgs: Vec<Message>) -> bool {
    for m in msgs {
        if futures_util::SinkExt::send(ws, m).await.is_err() {
            return false;
        }
    }
    true
}

/// The greeting tone in `chunk_bytes` audio messages and an end of turn, into `out`; the
/// number of audio messages.
fn greet(proto: &dyn Proto, cfg: &AgentConfig, chunk_bytes: usize, out: &mut Vec<Message>) -> u64 {
    if cfg.greeting_ms == 0 {
        return 0;
    }
    let tone = Pcm::tone(
        proto.out_rate(),
        cfg.tone_hz,
        cfg.amplitude,
        cfg.greeting_ms,
    );
    let b: Vec<u8> = tone.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut n = 0;
    for c in b.chunks(chunk_bytes) {
        out.push(proto.audio(c));
        n += 1;
    }
    out.extend(proto.end_of_turn());
    n
}

/// One connection of `vendor` (`query`: the socket URL's query string), to its end.
pub(crate) async fn run(
    mut ws: WsClient,
    vendor: Vendor,
    query: &str,
    cfg: &AgentConfig,
    stats: &AgentStats,
) {
    let mut proto: Box<dyn Proto> = match vendor {
        Vendor::Gemini => Box::<Gemini>::default(),
        Vendor::Devnagri => Box::<Devnagri>::default(),
        Vendor::Deepgram => Box::<Deepgram>::default(),
        Vendor::Ultravox => Box::<Ultravox>::default(),
        Vendor::Cartesia => Box::<Cartesia>::default(),
        Vendor::Vapi => Box::<Vapi>::default(),
        Vendor::Sarvam => Box::<Sarvam>::default(),
    };
    if let Err(why) = proto.configure(query) {
        stats.errors.fetch_add(1, Ordering::Relaxed);
        let c = CloseFrame {
            code: CloseCode::Policy, // 1008
            reason: why.into(),
        };
        let _ = futures_util::SinkExt::send(&mut ws, Message::Close(Some(c))).await;
        return;
    }
    if !send_all(&mut ws, proto.hello()).await {
        return;
    }
    // The output rate may be the client's choice (Deepgram's Settings): read again once
    // the session is ready.
    let mut out_rate = proto.out_rate();
    let chunk_bytes_at = |rate: u32| (rate as usize * cfg.chunk_ms as usize / 1000).max(1) * 2;
    let mut chunk_bytes = chunk_bytes_at(out_rate);
    let mut ready = false;
    // The greeting plays until interrupted or until this much caller audio (ms) was heard.
    let mut greeting_ms: u64 = 0;
    // Caller audio heard so far, in microseconds: the call's clock.
    let mut heard_us: u64 = 0;
    if proto.ready_on_open() {
        // No handshake: the session is set up by the pre-socket request.
        ready = true;
        stats.session_updates.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::new();
        let n = greet(&*proto, cfg, chunk_bytes, &mut out);
        greeting_ms = u64::from(cfg.greeting_ms);
        if !send_all(&mut ws, out).await {
            return;
        }
        stats.audio_out.fetch_add(n, Ordering::Relaxed);
    }
    let mut resampler: Option<(u32, Resampler)> = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut resampled: Vec<i16> = Vec::new();
    let mut samples: Vec<i16> = Vec::new();
    while let Some(msg) = ws.next().await {
        let (bytes, binary) = match &msg {
            Ok(Message::Text(t)) => (t.as_bytes(), false),
            Ok(Message::Binary(b)) => (&b[..], true),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        stats.messages_in.fetch_add(1, Ordering::Relaxed);
        let mut out = Vec::new();
        let mut audio_out = 0u64;
        match proto.read(bytes, binary) {
            Read::Ignore => continue,
            Read::KeepAlive => {
                stats.keepalives.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Read::Refuse(msgs, close) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                if !send_all(&mut ws, msgs).await {
                    return;
                }
                if let Some(c) = close {
                    let _ = futures_util::SinkExt::send(&mut ws, Message::Close(Some(c))).await;
                    // Read on until the peer's close answers ours.
                    while let Some(Ok(m)) = ws.next().await {
                        if m.is_close() {
                            break;
                        }
                    }
                    return;
                }
                continue;
            }
            Read::Handshake(replies, now_ready) => {
                out.extend(replies);
                if now_ready && !ready {
                    ready = true;
                    out_rate = proto.out_rate();
                    chunk_bytes = chunk_bytes_at(out_rate);
                    stats.session_updates.fetch_add(1, Ordering::Relaxed);
                    audio_out += greet(&*proto, cfg, chunk_bytes, &mut out);
                    greeting_ms = u64::from(cfg.greeting_ms);
                }
            }
            Read::Audio { pcm, rate } => {
                stats
                    .audio_in_bytes
                    .fetch_add(pcm.len() as u64, Ordering::Relaxed);
                let start_ms = heard_us / 1000;
                heard_us += (pcm.len() as u64 / 2) * 1_000_000 / u64::from(rate);
                if cfg.interrupt_rms > 0.0
                    && start_ms < greeting_ms
                    && rms(&pcm) > cfg.interrupt_rms
                {
                    greeting_ms = 0;
                    out.push(proto.interruption());
                    stats.interruptions.fetch_add(1, Ordering::Relaxed);
                }
                if cfg.echo {
                    let from = SampleRate::from_hz(rate).unwrap_or(SampleRate::Hz16000);
                    let to = SampleRate::from_hz(out_rate).unwrap_or(SampleRate::Hz8000);
                    if resampler.as_ref().is_none_or(|(r, _)| *r != rate) {
                        resampler = Some((rate, Resampler::new(from, to)));
                    }
                    let Some((_, rs)) = resampler.as_mut() else {
                        continue;
                    };
                    samples.clear();
                    samples.extend(
                        pcm.chunks_exact(2)
                            .map(|c| i16::from_le_bytes([c[0], c[1]])),
                    );
                    resampled.clear();
                    rs.process(&samples, &mut resampled);
                    pending.extend(resampled.iter().flat_map(|s| s.to_le_bytes()));
                    while pending.len() >= chunk_bytes {
                        let rest = pending.split_off(chunk_bytes);
                        let chunk = std::mem::replace(&mut pending, rest);
                        out.push(proto.audio(&chunk));
                        out.extend(proto.end_of_turn());
                        audio_out += 1;
                    }
                }
            }
        }
        if !send_all(&mut ws, out).await {
            return;
        }
        stats.audio_out.fetch_add(audio_out, Ordering::Relaxed);
    }
}
