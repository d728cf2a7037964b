//! Typed webhook events (both versions) and the flow request body.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// A webhook or flow-request body could not be read. Says what is wrong and where.
///
/// Unknown event types and unknown fields are never errors; neither is a known field with an
/// unexpected JSON type (it is kept in the `extra` map under its own name instead). Only a body
/// whose overall shape is wrong is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not JSON at all.
    #[error("body is not valid JSON: {0}")]
    Json(String),
    /// The body is JSON, but not an object.
    #[error("body is a JSON {found}, expected an object")]
    NotAnObject {
        /// What was found instead, e.g. `array`.
        found: &'static str,
    },
    /// A webhook body with neither `event` (version 2025-08-01) nor `type` (version 2026-06-01).
    #[error(
        "webhook body has neither `event` (version 2025-08-01) nor `type` (version 2026-06-01)"
    )]
    UnknownShape,
    /// A required field is absent (or `null`).
    #[error("required field `{field}` is missing")]
    MissingField {
        /// The field, e.g. `call_id`.
        field: &'static str,
    },
    /// A field that decides the body's shape has the wrong JSON type.
    #[error("field `{field}` is a JSON {found}, expected {expected}")]
    InvalidField {
        /// The field, e.g. `data`.
        field: &'static str,
        /// What it must be, e.g. `an object`.
        expected: &'static str,
        /// What it was, e.g. `array`.
        found: &'static str,
    },
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ParseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    into_object(v)
}

fn into_object(v: Value) -> Result<Map<String, Value>, ParseError> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(ParseError::NotAnObject {
            found: json_kind(&other),
        }),
    }
}

/// Takes known fields out of a JSON object, leniently: a field of the expected type is moved
/// out, `null` is dropped, anything else stays behind for the `extra` map.
struct Fields(Map<String, Value>);

impl Fields {
    fn string(&mut self, key: &str) -> Option<String> {
        match self.0.get(key) {
            Some(Value::String(_)) => match self.0.remove(key) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            Some(Value::Null) => {
                self.0.remove(key);
                None
            }
            _ => None,
        }
    }

    fn required_string(&mut self, key: &'static str) -> Result<String, ParseError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Err(ParseError::MissingField { field: key }),
            Some(Value::String(_)) => Ok(self.string(key).unwrap_or_default()),
            Some(other) => Err(ParseError::InvalidField {
                field: key,
                expected: "a string",
                found: json_kind(other),
            }),
        }
    }

    fn time(&mut self, key: &str) -> Option<Timestamp> {
        match self.0.get(key) {
            Some(Value::Number(n)) => {
                let n = n.clone();
                self.0.remove(key);
                Some(Timestamp::Number(n))
            }
            _ => self.string(key).map(Timestamp::Text),
        }
    }

    fn uint(&mut self, key: &str) -> Option<u64> {
        let n = match self.0.get(key)? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()?
            }
            Value::Null => {
                self.0.remove(key);
                return None;
            }
            _ => return None,
        };
        self.0.remove(key);
        Some(n)
    }

    /// `data`: absent or `null` is `None`; anything else is returned raw.
    fn raw(&mut self, key: &str) -> Option<Value> {
        match self.0.remove(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }
}

/// Builds a JSON object, skipping `None`s.
struct Out(Map<String, Value>);

impl Out {
    fn new(extra: &Map<String, Value>) -> Self {
        Out(extra.clone())
    }
    fn put(&mut self, key: &str, v: impl Into<Value>) {
        self.0.insert(key.to_owned(), v.into());
    }
    fn opt(&mut self, key: &str, v: Option<impl Into<Value>>) {
        if let Some(v) = v {
            self.put(key, v);
        }
    }
}

/// The webhook version a body was written in, detected from the body itself.
///
/// ```
/// use teler_core::webhook::ApiVersion;
/// assert_eq!(ApiVersion::from("2026-06-01"), ApiVersion::V2026_06_01);
/// assert_eq!(ApiVersion::from("2027-01-01").as_str(), "2027-01-01");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(non_camel_case_types)] // the version is a date; `V2025_08_01` reads like one
pub enum ApiVersion {
    /// The flat shape: `{"event", "account_id", "call_app_id", "data"}`.
    V2025_08_01,
    /// The envelope: `{"id", "type", "api_version", "occurred_at", …, "data"}`.
    V2026_06_01,
    /// An envelope naming a version this SDK does not know yet (read as the envelope shape).
    Other(String),
}

impl ApiVersion {
    /// The version string, e.g. `2026-06-01`.
    pub fn as_str(&self) -> &str {
        match self {
            ApiVersion::V2025_08_01 => "2025-08-01",
            ApiVersion::V2026_06_01 => "2026-06-01",
            ApiVersion::Other(s) => s,
        }
    }
}

impl From<&str> for ApiVersion {
    fn from(s: &str) -> Self {
        match s {
            "2025-08-01" => ApiVersion::V2025_08_01,
            "2026-06-01" => ApiVersion::V2026_06_01,
            other => ApiVersion::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point in time exactly as Teler wrote it. Teler documents these only as "timestamp":
/// it may be text (e.g. RFC 3339) or a number (e.g. unix seconds), so both are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// A JSON string, e.g. `2026-06-01T10:00:00Z`.
    Text(String),
    /// A JSON number, e.g. `1780308000`.
    Number(Number),
}

impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Value {
        match t {
            Timestamp::Text(s) => Value::String(s),
            Timestamp::Number(n) => Value::Number(n),
        }
    }
}

/// Why a call failed (`call.failed`'s `reason`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// `no_answer`.
    NoAnswer,
    /// `user_busy`.
    UserBusy,
    /// `canceled`.
    Canceled,
    /// `carrier_error`.
    CarrierError,
    /// Any other reason, as sent.
    Other(String),
}

impl FailReason {
    /// The reason as Teler spells it.
    pub fn as_str(&self) -> &str {
        match self {
            FailReason::NoAnswer => "no_answer",
            FailReason::UserBusy => "user_busy",
            FailReason::Canceled => "canceled",
            FailReason::CarrierError => "carrier_error",
            FailReason::Other(s) => s,
        }
    }
}

impl From<String> for FailReason {
    fn from(s: String) -> Self {
        match s.as_str() {
            "no_answer" => FailReason::NoAnswer,
            "user_busy" => FailReason::UserBusy,
            "canceled" => FailReason::Canceled,
            "carrier_error" => FailReason::CarrierError,
            _ => FailReason::Other(s),
        }
    }
}

/// The `data` of a `call.*` event. Every field is optional; which ones arrive depends on the
/// event (`start_time` on `call.initiated`, `answer_time` on `call.answered`, `duration` and
/// `hangup_time` on `call.completed`, `reason` on `call.failed`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallData {
    /// The calling number (`from`).
    pub from: Option<String>,
    /// The called number (`to`).
    pub to: Option<String>,
    /// `start_time` (call.initiated).
    pub start_time: Option<Timestamp>,
    /// `answer_time` (call.answered).
    pub answer_time: Option<Timestamp>,
    /// `hangup_time` (call.completed).
    pub hangup_time: Option<Timestamp>,
    /// `duration` in seconds (call.completed); a decimal string is accepted too.
    pub duration: Option<u64>,
    /// `reason` (call.failed).
    pub reason: Option<FailReason>,
    /// Every other field of `data`, as sent.
    pub extra: Map<String, Value>,
}

impl CallData {
    fn take(f: &mut Fields) -> Self {
        CallData {
            from: f.string("from"),
            to: f.string("to"),
            start_time: f.time("start_time"),
            answer_time: f.time("answer_time"),
            hangup_time: f.time("hangup_time"),
            duration: f.uint("duration"),
            reason: f.string("reason").map(FailReason::from),
            extra: Map::new(),
        }
    }
    fn put(&self, o: &mut Out) {
        o.opt("from", self.from.clone());
        o.opt("to", self.to.clone());
        o.opt("start_time", self.start_time.clone());
        o.opt("answer_time", self.answer_time.clone());
        o.opt("hangup_time", self.hangup_time.clone());
        o.opt("duration", self.duration);
        o.opt(
            "reason",
            self.reason.as_ref().map(|r| r.as_str().to_owned()),
        );
    }
}

/// The `data` of a `stream.*` event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamData {
    /// `stream_id`.
    pub stream_id: Option<String>,
    /// Every other field of `data`, as sent.
    pub extra: Map<String, Value>,
}

/// The `data` of a `recording.*` event (its shape is unconfirmed: only the id is typed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordingData {
    /// `recording_id` (a `rec_…` id).
    pub recording_id: Option<String>,
    /// Every other field of `data`, as sent.
    pub extra: Map<String, Value>,
}

/// What happened: the event type with its typed `data`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// `call.initiated` (2025-08-01).
    CallInitiated(CallData),
    /// `call.ringing` (2025-08-01).
    CallRinging(CallData),
    /// `call.answered`.
    CallAnswered(CallData),
    /// `call.completed`.
    CallCompleted(CallData),
    /// `call.failed` (2026-06-01), with a [`FailReason`].
    CallFailed(CallData),
    /// `stream.initiated`.
    StreamInitiated(StreamData),
    /// `stream.completed`. The media stream ended; the call may go on (see the module docs).
    StreamCompleted(StreamData),
    /// `recording.completed` (2026-06-01).
    RecordingCompleted(RecordingData),
    /// `recording.failed` (2026-06-01).
    RecordingFailed(RecordingData),
    /// Any other event type, kept as sent.
    Other {
        /// The type string, e.g. `call.transferred`.
        event_type: String,
        /// The raw `data` (`Value::Null` when absent).
        data: Value,
    },
}

impl EventKind {
    /// The event type string, e.g. `call.completed`.
    pub fn event_type(&self) -> &str {
        match self {
            EventKind::CallInitiated(_) => "call.initiated",
            EventKind::CallRinging(_) => "call.ringing",
            EventKind::CallAnswered(_) => "call.answered",
            EventKind::CallCompleted(_) => "call.completed",
            EventKind::CallFailed(_) => "call.failed",
            EventKind::StreamInitiated(_) => "stream.initiated",
            EventKind::StreamCompleted(_) => "stream.completed",
            EventKind::RecordingCompleted(_) => "recording.completed",
            EventKind::RecordingFailed(_) => "recording.failed",
            EventKind::Other { event_type, .. } => event_type,
        }
    }

    /// Types the raw `data` of `event_type`. `data` of a known type must be an object (or
    /// absent); for unknown types it is kept raw whatever it is.
    /// With `lift_call_id` (the flat shape), `data.call_id` is taken out and returned.
    fn build(
        event_type: String,
        data: Option<Value>,
        lift_call_id: bool,
    ) -> Result<(Self, Option<String>), ParseError> {
        let known = matches!(
            event_type.as_str(),
            "call.initiated"
                | "call.ringing"
                | "call.answered"
                | "call.completed"
                | "call.failed"
                | "stream.initiated"
                | "stream.completed"
                | "recording.completed"
                | "recording.failed"
        );
        if !known {
            let mut data = data.unwrap_or(Value::Null);
            let mut call_id = None;
            if let (true, Value::Object(m)) = (lift_call_id, &mut data) {
                let mut f = Fields(std::mem::take(m));
                call_id = f.string("call_id");
                *m = f.0;
            }
            return Ok((EventKind::Other { event_type, data }, call_id));
        }
        let mut f = Fields(match data {
            None => Map::new(),
            Some(v) => match v {
                Value::Object(m) => m,
                other => {
                    return Err(ParseError::InvalidField {
                        field: "data",
                        expected: "an object",
                        found: json_kind(&other),
                    });
                }
            },
        });
        let call_id = if lift_call_id {
            f.string("call_id")
        } else {
            None
        };
        let mut kind = match event_type.as_str() {
            "call.initiated" => EventKind::CallInitiated(CallData::take(&mut f)),
            "call.ringing" => EventKind::CallRinging(CallData::take(&mut f)),
            "call.answered" => EventKind::CallAnswered(CallData::take(&mut f)),
            "call.completed" => EventKind::CallCompleted(CallData::take(&mut f)),
            "call.failed" => EventKind::CallFailed(CallData::take(&mut f)),
            "stream.initiated" | "stream.completed" => {
                let d = StreamData {
                    stream_id: f.string("stream_id"),
                    extra: Map::new(),
                };
                if event_type == "stream.initiated" {
                    EventKind::StreamInitiated(d)
                } else {
                    EventKind::StreamCompleted(d)
                }
            }
            _ => {
                let d = RecordingData {
                    recording_id: f.string("recording_id"),
                    extra: Map::new(),
                };
                if event_type == "recording.completed" {
                    EventKind::RecordingCompleted(d)
                } else {
                    EventKind::RecordingFailed(d)
                }
            }
        };
        if let Some(extra) = kind.extra_mut() {
            *extra = f.0;
        }
        Ok((kind, call_id))
    }

    fn extra_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            EventKind::CallInitiated(d)
            | EventKind::CallRinging(d)
            | EventKind::CallAnswered(d)
            | EventKind::CallCompleted(d)
            | EventKind::CallFailed(d) => Some(&mut d.extra),
            EventKind::StreamInitiated(d) | EventKind::StreamCompleted(d) => Some(&mut d.extra),
            EventKind::RecordingCompleted(d) | EventKind::RecordingFailed(d) => Some(&mut d.extra),
            EventKind::Other { .. } => None,
        }
    }

    /// The `data` object to send, with `call_id` put back in (the 2025-08-01 shape keeps it there).
    fn data_value(&self, call_id: Option<&str>) -> Option<Value> {
        let mut o = match self {
            EventKind::CallInitiated(d)
            | EventKind::CallRinging(d)
            | EventKind::CallAnswered(d)
            | EventKind::CallCompleted(d)
            | EventKind::CallFailed(d) => {
                let mut o = Out::new(&d.extra);
                d.put(&mut o);
                o
            }
            EventKind::StreamInitiated(d) | EventKind::StreamCompleted(d) => {
                let mut o = Out::new(&d.extra);
                o.opt("stream_id", d.stream_id.clone());
                o
            }
            EventKind::RecordingCompleted(d) | EventKind::RecordingFailed(d) => {
                let mut o = Out::new(&d.extra);
                o.opt("recording_id", d.recording_id.clone());
                o
            }
            EventKind::Other { data, .. } => {
                return match data {
                    Value::Null => None,
                    Value::Object(m) if call_id.is_some() => {
                        let mut o = Out::new(m);
                        o.opt("call_id", call_id);
                        Some(Value::Object(o.0))
                    }
                    other => Some(other.clone()),
                };
            }
        };
        o.opt("call_id", call_id);
        Some(Value::Object(o.0))
    }
}

/// One webhook delivery, of either version, typed.
///
/// Both shapes land in this one type: the 2025-08-01 `call_app_id` is read into
/// [`voice_app_id`](Self::voice_app_id) and its `data.call_id` into
/// [`call_id`](Self::call_id); [`version`](Self::version) says which shape it came in, and
/// [`to_value`](Self::to_value) writes that shape back.
///
/// ```
/// use teler_core::webhook::{ApiVersion, EventKind, WebhookEvent};
///
/// let old = br#"{"event":"call.completed","account_id":"acc_1","call_app_id":"va_1",
///     "data":{"call_id":"cs_1","from":"+15550001","to":"+15550002","duration":42,"hangup_time":"2025-09-01T10:00:00Z"}}"#;
/// let e = WebhookEvent::from_json(old)?;
/// assert_eq!(e.version, ApiVersion::V2025_08_01);
/// assert_eq!(e.call_id.as_deref(), Some("cs_1"));
/// let EventKind::CallCompleted(data) = &e.kind else { panic!() };
/// assert_eq!(data.duration, Some(42));
///
/// let new = br#"{"id":"evt_9","type":"call.failed","api_version":"2026-06-01","occurred_at":"2026-06-02T08:00:00Z",
///     "call_id":"cs_2","data":{"reason":"user_busy","sip_code":486}}"#;
/// let e = WebhookEvent::from_json(new)?;
/// assert_eq!(e.id.as_deref(), Some("evt_9"));
/// let EventKind::CallFailed(data) = &e.kind else { panic!() };
/// assert_eq!(data.reason, Some(teler_core::webhook::FailReason::UserBusy));
/// assert_eq!(data.extra["sip_code"], 486); // unknown fields are kept
///
/// // Unknown types are kept too.
/// let e = WebhookEvent::from_json(br#"{"id":"evt_3","type":"call.transferred","data":[1]}"#)?;
/// assert_eq!(e.event_type(), "call.transferred");
/// # Ok::<(), teler_core::webhook::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The version the body was written in.
    pub version: ApiVersion,
    /// The event id (`evt_…`; 2026-06-01 only). Deduplicate by it.
    pub id: Option<String>,
    /// When it happened (`occurred_at`; 2026-06-01 only).
    pub occurred_at: Option<Timestamp>,
    /// `account_id`.
    pub account_id: Option<String>,
    /// `voice_app_id` (2026-06-01) or `call_app_id` (2025-08-01).
    pub voice_app_id: Option<String>,
    /// `sip_trunk_id` (2026-06-01).
    pub sip_trunk_id: Option<String>,
    /// The call: top-level `call_id` (2026-06-01) or `data.call_id` (2025-08-01).
    pub call_id: Option<String>,
    /// `leg_id` (2026-06-01).
    pub leg_id: Option<String>,
    /// The type and its typed `data`.
    pub kind: EventKind,
    /// Every other top-level field, as sent.
    pub extra: Map<String, Value>,
}

impl WebhookEvent {
    /// Reads a webhook body (the raw bytes Teler POSTed), detecting the version.
    ///
    /// Detection: an `api_version` other than `2025-08-01` means the envelope; otherwise an
    /// `event` field means the flat 2025-08-01 shape, and a `type` field the envelope.
    pub fn from_json(body: &[u8]) -> Result<Self, ParseError> {
        Self::from_object(parse_object(body)?)
    }

    /// Like [`from_json`](Self::from_json), from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        Self::from_object(into_object(value)?)
    }

    fn from_object(obj: Map<String, Value>) -> Result<Self, ParseError> {
        let flat = match obj.get("api_version") {
            Some(Value::String(v)) if v != "2025-08-01" => false,
            _ if obj.contains_key("event") => true,
            _ if obj.contains_key("type") => false,
            _ => return Err(ParseError::UnknownShape),
        };
        let mut f = Fields(obj);
        if flat {
            let event_type = f.required_string("event")?;
            let account_id = f.string("account_id");
            let voice_app_id = f.string("call_app_id");
            if matches!(f.0.get("api_version"), Some(Value::String(_))) {
                f.string("api_version"); // it said 2025-08-01: implied by the shape
            }
            let (kind, call_id) = EventKind::build(event_type, f.raw("data"), true)?;
            Ok(WebhookEvent {
                version: ApiVersion::V2025_08_01,
                id: None,
                occurred_at: None,
                account_id,
                voice_app_id,
                sip_trunk_id: None,
                call_id,
                leg_id: None,
                kind,
                extra: f.0,
            })
        } else {
            let event_type = f.required_string("type")?;
            let version = f
                .string("api_version")
                .map_or(ApiVersion::V2026_06_01, |v| ApiVersion::from(v.as_str()));
            let mut e = WebhookEvent {
                version,
                id: f.string("id"),
                occurred_at: f.time("occurred_at"),
                account_id: f.string("account_id"),
                voice_app_id: f.string("voice_app_id"),
                sip_trunk_id: f.string("sip_trunk_id"),
                call_id: f.string("call_id"),
                leg_id: f.string("leg_id"),
                kind: EventKind::Other {
                    event_type: String::new(),
                    data: Value::Null,
                },
                extra: Map::new(),
            };
            // A `data.call_id` in the envelope is not the envelope's call id: it stays in data.
            e.kind = EventKind::build(event_type, f.raw("data"), false)?.0;
            e.extra = f.0;
            Ok(e)
        }
    }

    /// The event type string, e.g. `call.completed`.
    pub fn event_type(&self) -> &str {
        self.kind.event_type()
    }

    /// A key to deduplicate deliveries by: the event `id` (2026-06-01), or, for the flat
    /// 2025-08-01 shape which has no id, `"{event}/{call_id}"` for the call lifecycle events
    /// and `"{event}/{call_id}/{stream_id}"` for stream events, since each of those happens at
    /// most once per call (per stream). `None` otherwise (no id, an event type that may repeat,
    /// a stream event without its stream id): such deliveries cannot be deduplicated.
    ///
    /// ```
    /// use teler_core::webhook::WebhookEvent;
    /// let e = WebhookEvent::from_json(br#"{"event":"call.answered","data":{"call_id":"cs_1"}}"#)?;
    /// assert_eq!(e.dedupe_key().as_deref(), Some("call.answered/cs_1"));
    /// let dtmf = WebhookEvent::from_json(br#"{"event":"call.dtmf","data":{"call_id":"cs_1","digit":"1"}}"#)?;
    /// assert_eq!(dtmf.dedupe_key(), None); // may happen many times in a call
    /// # Ok::<(), teler_core::webhook::ParseError>(())
    /// ```
    pub fn dedupe_key(&self) -> Option<Cow<'_, str>> {
        if let Some(id) = &self.id {
            return Some(Cow::Borrowed(id));
        }
        if self.version != ApiVersion::V2025_08_01 {
            return None;
        }
        let call_id = self.call_id.as_deref()?;
        // Only events known to happen once per call (or per stream) get a key: an unknown
        // type (say a DTMF event) may repeat within a call, and a stream event without its
        // stream id cannot tell one stream of the call from the next.
        let stream = match &self.kind {
            EventKind::CallInitiated(_)
            | EventKind::CallRinging(_)
            | EventKind::CallAnswered(_)
            | EventKind::CallCompleted(_)
            | EventKind::CallFailed(_) => None,
            EventKind::StreamInitiated(StreamData {
                stream_id: Some(s), ..
            })
            | EventKind::StreamCompleted(StreamData {
                stream_id: Some(s), ..
            }) => Some(s),
            _ => return None,
        };
        let mut key = format!("{}/{}", self.event_type(), call_id);
        if let Some(s) = stream {
            key.push('/');
            key.push_str(s);
        }
        Some(Cow::Owned(key))
    }

    /// The body in the shape of [`version`](Self::version) (the emulator sends these).
    ///
    /// ```
    /// use teler_core::webhook::WebhookEvent;
    /// let body = br#"{"event":"call.ringing","account_id":"acc_1","data":{"call_id":"cs_1","to":"+1555"}}"#;
    /// let e = WebhookEvent::from_json(body)?;
    /// assert_eq!(WebhookEvent::from_json(e.to_json().as_bytes())?, e);
    /// # Ok::<(), teler_core::webhook::ParseError>(())
    /// ```
    pub fn to_value(&self) -> Value {
        let mut o = Out::new(&self.extra);
        if self.version == ApiVersion::V2025_08_01 {
            o.put("event", self.event_type());
            o.opt("account_id", self.account_id.clone());
            o.opt("call_app_id", self.voice_app_id.clone());
            o.opt("data", self.kind.data_value(self.call_id.as_deref()));
        } else {
            o.opt("id", self.id.clone());
            o.put("type", self.event_type());
            // A non-string `api_version` was kept raw in `extra`: write it back as received.
            if !self.extra.contains_key("api_version") {
                o.put("api_version", self.version.as_str());
            }
            o.opt("occurred_at", self.occurred_at.clone());
            o.opt("account_id", self.account_id.clone());
            o.opt("voice_app_id", self.voice_app_id.clone());
            o.opt("sip_trunk_id", self.sip_trunk_id.clone());
            o.opt("call_id", self.call_id.clone());
            o.opt("leg_id", self.leg_id.clone());
            o.opt("data", self.kind.data_value(None));
        }
        Value::Object(o.0)
    }

    /// [`to_value`](Self::to_value) as a JSON string.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        WebhookEvent::from_value(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The call's direction in a flow request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// `inbound`: someone called one of your numbers.
    Inbound,
    /// `outbound`: your app placed the call.
    Outbound,
    /// Anything else, as sent.
    Other(String),
}

impl Direction {
    /// The direction as Teler spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Other(s) => s,
        }
    }
}

impl From<String> for Direction {
    fn from(s: String) -> Self {
        match s.as_str() {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            _ => Direction::Other(s),
        }
    }
}

/// The JSON Teler POSTs to your flow URL when a call needs its flow (see `docs/PROTOCOL.md`,
/// section "Flow request").
/// Only `call_id` is required. This request is **not signed**: put a
/// [`UrlTokenKey`](super::UrlTokenKey) token in the flow URL's query string to authenticate it.
///
/// ```
/// use teler_core::webhook::{Direction, FlowRequest};
/// let r = FlowRequest::from_json(br#"{"call_id":"cs_1","account_id":"acc_1","from_number":"+1555","to_number":"+1666","direction":"inbound"}"#)?;
/// assert_eq!(r.call_id, "cs_1");
/// assert_eq!(r.direction, Some(Direction::Inbound));
/// assert!(FlowRequest::from_json(br#"{"account_id":"acc_1"}"#).is_err());
/// # Ok::<(), teler_core::webhook::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRequest {
    /// `call_id`.
    pub call_id: String,
    /// `account_id`.
    pub account_id: Option<String>,
    /// `from_number`.
    pub from_number: Option<String>,
    /// `to_number`.
    pub to_number: Option<String>,
    /// `direction` (sometimes absent).
    pub direction: Option<Direction>,
    /// Every other field, as sent.
    pub extra: Map<String, Value>,
}

impl FlowRequest {
    /// Reads a flow request body.
    pub fn from_json(body: &[u8]) -> Result<Self, ParseError> {
        Self::from_object(parse_object(body)?)
    }

    /// Like [`from_json`](Self::from_json), from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        Self::from_object(into_object(value)?)
    }

    fn from_object(obj: Map<String, Value>) -> Result<Self, ParseError> {
        let mut f = Fields(obj);
        Ok(FlowRequest {
            call_id: f.required_string("call_id")?,
            account_id: f.string("account_id"),
            from_number: f.string("from_number"),
            to_number: f.string("to_number"),
            direction: f.string("direction").map(Direction::from),
            extra: f.0,
        })
    }

    /// The body as JSON (the emulator sends these).
    pub fn to_value(&self) -> Value {
        let mut o = Out::new(&self.extra);
        o.put("call_id", self.call_id.clone());
        o.opt("account_id", self.account_id.clone());
        o.opt("from_number", self.from_number.clone());
        o.opt("to_number", self.to_number.clone());
        o.opt(
            "direction",
            self.direction.as_ref().map(|d| d.as_str().to_owned()),
        );
        Value::Object(o.0)
    }
}

impl Serialize for FlowRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for FlowRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        FlowRequest::from_value(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
