//! Call-flow actions: the JSON object a flow URL answers with (see `docs/PROTOCOL.md`,
//! section "Call flow actions").
//!
//! Every builder validates when built, and an error names the field and the rule. The JSON
//! is exactly what the Python SDK 1.0.0's `CallFlow` produces for the same inputs: the same
//! field names, order, defaults and omissions (checked against golden files made with it).
//!
//! ```
//! use teler_core::flow::CallFlow;
//! // The Python SDK's `CallFlow.stream(ws_url=…, chunk_size=500, record=True)`:
//! let json = CallFlow::stream("wss://example.com/media-stream").chunk_size(500).record(true).to_json()?;
//! assert_eq!(json, r#"{"action":"stream","ws_url":"wss://example.com/media-stream","sample_rate":"8k","chunk_size":500,"record":true}"#);
//! # Ok::<(), teler_core::flow::FlowError>(())
//! ```

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A call-flow field breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("call flow field `{field}` {rule}")]
pub struct FlowError {
    /// The field, e.g. `chunk_size` or `on_busy.media_url`.
    pub field: &'static str,
    /// The rule, with the offending value.
    pub rule: String,
}

fn err(field: &'static str, rule: impl Into<String>) -> FlowError {
    FlowError {
        field,
        rule: rule.into(),
    }
}

/// The entry point: one constructor per action.
#[derive(Debug, Clone, Copy)]
pub struct CallFlow;

impl CallFlow {
    /// `stream`: open a bidirectional media WebSocket to `ws_url`.
    pub fn stream(ws_url: impl Into<String>) -> StreamBuilder {
        StreamBuilder(Stream {
            ws_url: ws_url.into(),
            sample_rate: SampleRate::K8,
            chunk_size: 400,
            record: true,
            flow_url: None,
        })
    }

    /// `play`: play one audio file into the call.
    pub fn play(media_url: impl Into<String>) -> PlayBuilder {
        PlayBuilder(Play {
            media_url: media_url.into(),
            flow_url: None,
        })
    }

    /// `hangup`: end the call.
    pub fn hangup() -> Action {
        Action::Hangup
    }

    /// `dial`: call `to` (E.164 or `sip:user@host`) and bridge it once answered. Needs the
    /// voice app on webhook version 2026-06-01.
    pub fn dial(to: impl Into<String>) -> DialBuilder {
        DialBuilder(Dial {
            to: to.into(),
            timeout: 30,
            record: DialRecord::Off,
            custom_headers: None,
            status_callback_url: None,
            ringback: Ringback::Passthrough,
            dial_music: None,
            confirm_sound: None,
            on_no_answer: None,
            on_busy: None,
            on_failure: None,
        })
    }
}

/// One call-flow action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// See [`CallFlow::stream`].
    Stream(Stream),
    /// See [`CallFlow::play`].
    Play(Play),
    /// See [`CallFlow::hangup`].
    Hangup,
    /// See [`CallFlow::dial`].
    Dial(Dial),
}

impl Action {
    /// The compact JSON text (what the flow URL answers with).
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an action (what Teler does with the flow URL's answer), then validates it.
    pub fn from_json(text: &str) -> Result<Action, FlowActionError> {
        let a: Action =
            serde_json::from_str(text).map_err(|e| FlowActionError::Json(e.to_string()))?;
        a.validate().map_err(FlowActionError::Invalid)?;
        Ok(a)
    }

    /// Checks every rule of `docs/PROTOCOL.md`, section "Call flow actions".
    pub fn validate(&self) -> Result<(), FlowError> {
        match self {
            Action::Stream(s) => s.validate(),
            Action::Play(p) => p.validate(),
            Action::Hangup => Ok(()),
            Action::Dial(d) => d.validate(),
        }
    }
}

/// A flow answer that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowActionError {
    /// Not JSON, or not an action object.
    #[error("flow answer is not a valid action: {0}")]
    Json(String),
    /// A field breaks a rule.
    #[error(transparent)]
    Invalid(FlowError),
}

/// The inbound audio sample rate of a `stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SampleRate {
    /// 8 kHz (`"8k"`, the default).
    #[default]
    #[serde(rename = "8k")]
    K8,
    /// 16 kHz (`"16k"`).
    #[serde(rename = "16k")]
    K16,
}

impl SampleRate {
    /// In Hz.
    pub fn hz(self) -> u32 {
        match self {
            SampleRate::K8 => 8000,
            SampleRate::K16 => 16000,
        }
    }
}

/// The `stream` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    /// Where Teler opens the media WebSocket (`ws://` or `wss://`; its query is kept).
    pub ws_url: String,
    /// Inbound sample rate (default 8k).
    #[serde(default)]
    pub sample_rate: SampleRate,
    /// Milliseconds of audio per inbound message: 20..=2000, a multiple of 20 (default 400).
    #[serde(default = "default_chunk")]
    pub chunk_size: u32,
    /// Record the call (default true).
    #[serde(default = "yes")]
    pub record: bool,
    /// Beta: the next flow, fetched when the stream ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_url: Option<String>,
}

fn default_chunk() -> u32 {
    400
}
fn yes() -> bool {
    true
}

fn check_url(field: &'static str, url: &str, schemes: &[&str]) -> Result<(), FlowError> {
    let lower = url.to_ascii_lowercase();
    let rest = schemes
        .iter()
        .find_map(|s| lower.strip_prefix(&format!("{s}://")).map(str::to_owned));
    let Some(rest) = rest else {
        let list: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
        return Err(err(
            field,
            format!("must be a {} URL, got {url:?}", list.join(" or ")),
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(err(field, format!("has no host: {url:?}")));
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(err(field, format!("must not contain spaces: {url:?}")));
    }
    Ok(())
}

impl Stream {
    fn validate(&self) -> Result<(), FlowError> {
        check_url("ws_url", &self.ws_url, &["ws", "wss"])?;
        if !(20..=2000).contains(&self.chunk_size) || !self.chunk_size.is_multiple_of(20) {
            return Err(err(
                "chunk_size",
                format!(
                    "must be a multiple of 20 from 20 to 2000 (milliseconds), got {}",
                    self.chunk_size
                ),
            ));
        }
        if let Some(u) = &self.flow_url {
            check_url("flow_url", u, &["http", "https"])?;
        }
        Ok(())
    }
}

/// Builds a [`Stream`] action.
#[derive(Debug, Clone)]
#[must_use]
pub struct StreamBuilder(Stream);

impl StreamBuilder {
    /// Inbound sample rate (default [`SampleRate::K8`]).
    pub fn sample_rate(mut self, r: SampleRate) -> Self {
        self.0.sample_rate = r;
        self
    }
    /// Milliseconds per inbound message (default 400).
    pub fn chunk_size(mut self, ms: u32) -> Self {
        self.0.chunk_size = ms;
        self
    }
    /// Record the call (default true).
    pub fn record(mut self, on: bool) -> Self {
        self.0.record = on;
        self
    }
    /// Beta: the next flow URL.
    pub fn flow_url(mut self, url: impl Into<String>) -> Self {
        self.0.flow_url = Some(url.into());
        self
    }
    /// Validates and returns the action.
    pub fn build(self) -> Result<Action, FlowError> {
        self.0.validate()?;
        Ok(Action::Stream(self.0))
    }
    /// Validates and returns the JSON text.
    pub fn to_json(self) -> Result<String, FlowError> {
        self.build().map(|a| a.to_json())
    }
}

/// The `play` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Play {
    /// The audio file (`http://` or `https://`). 0.2.x SDKs called it `file_url`.
    #[serde(alias = "file_url")]
    pub media_url: String,
    /// Beta: the next flow, fetched when playback ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_url: Option<String>,
}

impl Play {
    fn validate(&self) -> Result<(), FlowError> {
        check_url("media_url", &self.media_url, &["http", "https"])?;
        if let Some(u) = &self.flow_url {
            check_url("flow_url", u, &["http", "https"])?;
        }
        Ok(())
    }
}

/// Builds a [`Play`] action.
#[derive(Debug, Clone)]
#[must_use]
pub struct PlayBuilder(Play);

impl PlayBuilder {
    /// Beta: the next flow URL.
    pub fn flow_url(mut self, url: impl Into<String>) -> Self {
        self.0.flow_url = Some(url.into());
        self
    }
    /// Validates and returns the action.
    pub fn build(self) -> Result<Action, FlowError> {
        self.0.validate()?;
        Ok(Action::Play(self.0))
    }
    /// Validates and returns the JSON text.
    pub fn to_json(self) -> Result<String, FlowError> {
        self.build().map(|a| a.to_json())
    }
}

/// `record` of a `dial`: off, on, or a recording layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialRecord {
    /// `false` (the default).
    #[default]
    Off,
    /// `true`.
    On,
    /// `"stereo"`.
    Stereo,
    /// `"mono"`.
    Mono,
    /// `"per_leg"`.
    PerLeg,
}

impl Serialize for DialRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DialRecord::Off => s.serialize_bool(false),
            DialRecord::On => s.serialize_bool(true),
            DialRecord::Stereo => s.serialize_str("stereo"),
            DialRecord::Mono => s.serialize_str("mono"),
            DialRecord::PerLeg => s.serialize_str("per_leg"),
        }
    }
}

impl<'de> Deserialize<'de> for DialRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DialRecord;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"false, true, "stereo", "mono" or "per_leg""#)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<DialRecord, E> {
                Ok(if v { DialRecord::On } else { DialRecord::Off })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DialRecord, E> {
                match v {
                    "stereo" => Ok(DialRecord::Stereo),
                    "mono" => Ok(DialRecord::Mono),
                    "per_leg" => Ok(DialRecord::PerLeg),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl From<bool> for DialRecord {
    fn from(on: bool) -> Self {
        if on { DialRecord::On } else { DialRecord::Off }
    }
}

/// What the caller hears while the dialled party rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ringback {
    /// Pass the far end's ringing through (the default).
    #[default]
    Passthrough,
    /// Silence.
    Suppress,
}

/// An action nested in a `dial` (`dial_music`, `confirm_sound`, `on_no_answer`, `on_busy`,
/// `on_failure`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum NestedAction {
    /// Play a file.
    Play {
        /// The audio file (`http://` or `https://`).
        media_url: String,
        /// Repeat it.
        #[serde(rename = "loop", default, skip_serializing_if = "Option::is_none")]
        loop_: Option<bool>,
    },
    /// Hang up.
    Hangup,
}

impl NestedAction {
    /// `{"action":"play","media_url":…}`.
    pub fn play(media_url: impl Into<String>) -> Self {
        NestedAction::Play {
            media_url: media_url.into(),
            loop_: None,
        }
    }
    /// `{"action":"play","media_url":…,"loop":true}`.
    pub fn play_loop(media_url: impl Into<String>) -> Self {
        NestedAction::Play {
            media_url: media_url.into(),
            loop_: Some(true),
        }
    }
    /// `{"action":"hangup"}`.
    pub fn hangup() -> Self {
        NestedAction::Hangup
    }
}

/// SIP custom headers, in insertion order (a JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomHeaders(pub Vec<(String, String)>);

impl Serialize for CustomHeaders {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for CustomHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CustomHeaders;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string header values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<CustomHeaders, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = a.next_entry::<String, String>()? {
                    v.push((k, val));
                }
                Ok(CustomHeaders(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The `dial` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dial {
    /// One E.164 number (`+14155550100`) or `sip:user@host`.
    pub to: String,
    /// Seconds to ring, 1..=600 (default 30).
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    /// Recording (default off).
    #[serde(default)]
    pub record: DialRecord,
    /// SIP headers: keys start with `X-`, at most 16, values at most 256 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_headers: Option<CustomHeaders>,
    /// Where the dialled leg's status events go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_url: Option<String>,
    /// Ringback (default passthrough; always emitted, as the Python SDK does).
    #[serde(default)]
    pub ringback: Ringback,
    /// Played to the caller while dialling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_music: Option<NestedAction>,
    /// Played to the callee on answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_sound: Option<NestedAction>,
    /// On no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_no_answer: Option<NestedAction>,
    /// On busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy: Option<NestedAction>,
    /// On any other failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<NestedAction>,
}

fn default_timeout() -> u32 {
    30
}

/// Whether `s` is an E.164 number: `+`, then 2 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(d) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
}

/// Whether `s` is a `sip:user@host` URI.
pub fn is_sip_uri(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("sip:").or_else(|| s.strip_prefix("SIP:")) else {
        return false;
    };
    let Some((user, host)) = rest.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && !host.is_empty()
        && !host.contains('@')
        && !rest
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
}

impl Dial {
    fn validate(&self) -> Result<(), FlowError> {
        if !is_e164(&self.to) && !is_sip_uri(&self.to) {
            return Err(err(
                "to",
                format!(
                    "must be one E.164 number (+14155550100) or a sip:user@host URI, got {:?}",
                    self.to
                ),
            ));
        }
        if !(1..=600).contains(&self.timeout) {
            return Err(err(
                "timeout",
                format!("must be 1 to 600 seconds, got {}", self.timeout),
            ));
        }
        if let Some(h) = &self.custom_headers {
            if h.0.len() > 16 {
                return Err(err(
                    "custom_headers",
                    format!("may hold at most 16 headers, got {}", h.0.len()),
                ));
            }
            for (k, v) in &h.0 {
                let prefixed = k.len() > 2 && k.as_bytes()[..2].eq_ignore_ascii_case(b"x-");
                if !prefixed
                    || !k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(err(
                        "custom_headers",
                        format!("keys must start with X- and be a header name, got {k:?}"),
                    ));
                }
                if v.len() > 256 {
                    return Err(err(
                        "custom_headers",
                        format!(
                            "the value of {k} must be at most 256 bytes, got {}",
                            v.len()
                        ),
                    ));
                }
                if v.bytes().any(|b| b == b'\r' || b == b'\n') {
                    return Err(err(
                        "custom_headers",
                        format!("the value of {k} must not contain line breaks"),
                    ));
                }
            }
        }
        if let Some(u) = &self.status_callback_url {
            check_url("status_callback_url", u, &["http", "https"])?;
        }
        let nested = [
            ("dial_music.media_url", &self.dial_music),
            ("confirm_sound.media_url", &self.confirm_sound),
            ("on_no_answer.media_url", &self.on_no_answer),
            ("on_busy.media_url", &self.on_busy),
            ("on_failure.media_url", &self.on_failure),
        ];
        for (field, a) in nested {
            if let Some(NestedAction::Play { media_url, .. }) = a {
                check_url(field, media_url, &["http", "https"])?;
            }
        }
        Ok(())
    }
}

/// Builds a [`Dial`] action.
///
/// ```
/// use teler_core::flow::{CallFlow, DialRecord, NestedAction};
/// let a = CallFlow::dial("+14155550100")
///     .timeout(20)
///     .record(DialRecord::Stereo)
///     .custom_header("X-Ticket", "42")
///     .on_busy(NestedAction::hangup())
///     .build()?;
/// assert_eq!(a.to_json(), r#"{"action":"dial","to":"+14155550100","timeout":20,"record":"stereo","custom_headers":{"X-Ticket":"42"},"ringback":"passthrough","on_busy":{"action":"hangup"}}"#);
/// let e = CallFlow::dial("+14155550100").timeout(0).build().unwrap_err();
/// assert_eq!(e.field, "timeout");
/// # Ok::<(), teler_core::flow::FlowError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DialBuilder(Dial);

impl DialBuilder {
    /// Seconds to ring (default 30).
    pub fn timeout(mut self, secs: u32) -> Self {
        self.0.timeout = secs;
        self
    }
    /// Recording (`true`/`false` or a [`DialRecord`] layout).
    pub fn record(mut self, r: impl Into<DialRecord>) -> Self {
        self.0.record = r.into();
        self
    }
    /// Adds one SIP custom header (key starting with `X-`).
    pub fn custom_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0
            .custom_headers
            .get_or_insert_with(CustomHeaders::default)
            .0
            .push((key.into(), value.into()));
        self
    }
    /// Where the dialled leg's status events go.
    pub fn status_callback_url(mut self, url: impl Into<String>) -> Self {
        self.0.status_callback_url = Some(url.into());
        self
    }
    /// Ringback (default passthrough).
    pub fn ringback(mut self, r: Ringback) -> Self {
        self.0.ringback = r;
        self
    }
    /// Played to the caller while dialling.
    pub fn dial_music(mut self, a: NestedAction) -> Self {
        self.0.dial_music = Some(a);
        self
    }
    /// Played to the callee on answer.
    pub fn confirm_sound(mut self, a: NestedAction) -> Self {
        self.0.confirm_sound = Some(a);
        self
    }
    /// On no answer.
    pub fn on_no_answer(mut self, a: NestedAction) -> Self {
        self.0.on_no_answer = Some(a);
        self
    }
    /// On busy.
    pub fn on_busy(mut self, a: NestedAction) -> Self {
        self.0.on_busy = Some(a);
        self
    }
    /// On any other failure.
    pub fn on_failure(mut self, a: NestedAction) -> Self {
        self.0.on_failure = Some(a);
        self
    }
    /// Validates and returns the action.
    pub fn build(self) -> Result<Action, FlowError> {
        self.0.validate()?;
        Ok(Action::Dial(self.0))
    }
    /// Validates and returns the JSON text.
    pub fn to_json(self) -> Result<String, FlowError> {
        self.build().map(|a| a.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_rules() {
        for bad in [0, 10, 30, 2020, 4000] {
            let e = CallFlow::stream("wss://h/x")
                .chunk_size(bad)
                .build()
                .unwrap_err();
            assert_eq!(e.field, "chunk_size", "{bad}");
        }
        for good in [20, 40, 500, 2000] {
            CallFlow::stream("wss://h/x")
                .chunk_size(good)
                .build()
                .unwrap();
        }
        assert_eq!(
            CallFlow::stream("https://h").build().unwrap_err().field,
            "ws_url"
        );
        assert_eq!(
            CallFlow::stream("wss://").build().unwrap_err().field,
            "ws_url"
        );
        assert_eq!(
            CallFlow::stream("wss://h")
                .flow_url("ftp://x")
                .build()
                .unwrap_err()
                .field,
            "flow_url"
        );
    }

    #[test]
    fn dial_rules() {
        for to in ["+14155550100", "sip:alice@example.com", "+12"] {
            CallFlow::dial(to).build().unwrap();
        }
        for to in [
            "14155550100",
            "+0123",
            "+1234567890123456",
            "sip:@h",
            "sip:a@",
            "alice@x",
            "+1 415",
        ] {
            assert_eq!(CallFlow::dial(to).build().unwrap_err().field, "to", "{to}");
        }
        assert!(CallFlow::dial("+14155550100").timeout(601).build().is_err());
        assert!(CallFlow::dial("+14155550100").timeout(600).build().is_ok());
        let mut b = CallFlow::dial("+14155550100");
        for i in 0..17 {
            b = b.custom_header(format!("X-H{i}"), "v");
        }
        assert_eq!(b.build().unwrap_err().field, "custom_headers");
        assert!(
            CallFlow::dial("+14155550100")
                .custom_header("Ticket", "1")
                .build()
                .is_err()
        );
        assert!(
            CallFlow::dial("+14155550100")
                .custom_header("X-A", "v".repeat(257))
                .build()
                .is_err()
        );
        let e = CallFlow::dial("+14155550100")
            .on_failure(NestedAction::play("nope"))
            .build()
            .unwrap_err();
        assert_eq!(e.field, "on_failure.media_url");
        assert!(
            e.to_string()
                .starts_with("call flow field `on_failure.media_url` must be")
        );
    }

    #[test]
    fn round_trips_through_json() {
        let a = CallFlow::dial("sip:bob@example.com")
            .record(true)
            .custom_header("X-A", "1")
            .dial_music(NestedAction::play_loop("https://m/x.mp3"))
            .build()
            .unwrap();
        assert_eq!(Action::from_json(&a.to_json()).unwrap(), a);
        assert!(matches!(
            Action::from_json(r#"{"action":"stream","ws_url":"wss://h","chunk_size":7}"#),
            Err(FlowActionError::Invalid(_))
        ));
        assert!(matches!(
            Action::from_json("{}"),
            Err(FlowActionError::Json(_))
        ));
    }
}
