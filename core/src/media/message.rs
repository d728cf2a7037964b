//! Typed media-stream messages (Teler's WebSocket protocol; see `docs/PROTOCOL.md`, section
//! "Media stream").
//!
//! Teler -> app frames are parsed *borrowed*: [`TelerMessage::parse`] returns views into
//! the frame text, so reading an `audio` frame copies nothing. The base64 payload is
//! decoded only when asked ([`AudioFrame::decode_pcm`]).
//!
//! App -> Teler messages ([`AppMessage`]) serialise to exactly the shapes Teler reads:
//! `audio` fields at the top level, `interrupt` with a `chunk_id`, `clear` alone.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

/// Why a Teler frame could not be read as a Teler message.
///
/// The message names what is wrong, e.g. `audio frame has no data.audio_b64`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The text is not JSON, or a field has the wrong JSON type.
    #[error("frame is not valid Teler JSON: {0}")]
    Json(String),
    /// The JSON is valid but is not an object.
    #[error("frame is not a JSON object")]
    NotAnObject,
    /// The object has no `type` field (or it is not a string).
    #[error("frame has no \"type\" field")]
    MissingType,
    /// An app -> Teler frame of a type Teler does not read.
    #[error("Teler does not read frames of type {0:?} (audio, interrupt, clear)")]
    UnknownType(String),
    /// A field that the message type requires is absent.
    #[error("{kind} frame has no {field}")]
    MissingField {
        /// The frame's `type` (`start`, `audio`).
        kind: &'static str,
        /// The dotted path of the missing field, e.g. `data.audio_b64`.
        field: &'static str,
    },
    /// An app -> Teler field is present with the wrong JSON type, e.g. `"chunk_id":"7"`
    /// (Teler reads `chunk_id` as an integer only).
    #[error("{kind} frame: {field} must be {expected}, got {got}")]
    WrongFieldType {
        /// The frame's `type` (`audio`, `interrupt`).
        kind: &'static str,
        /// The field, e.g. `chunk_id`.
        field: &'static str,
        /// What Teler reads, e.g. `a non-negative integer`.
        expected: &'static str,
        /// What was sent, e.g. `a string`.
        got: &'static str,
    },
}

/// The audio format announced by a `start` frame (`data` of the frame).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct MediaFormat {
    /// `data.encoding`, e.g. `audio/l16`.
    pub encoding: Option<String>,
    /// `data.sample_rate` in Hz, e.g. 8000.
    pub sample_rate: Option<u32>,
    /// `data.channels`, e.g. 1.
    pub channels: Option<u16>,
}

/// A `start` frame: always the first frame Teler sends on a media stream.
///
/// Every field is kept optional but `type`: Teler has sent ids in more than one form, and a
/// missing id must not lose the call. The strings borrow from the frame text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartFrame<'a> {
    /// `account_id`.
    pub account_id: Option<Cow<'a, str>>,
    /// `call_app_id` (the voice app).
    pub call_app_id: Option<Cow<'a, str>>,
    /// `call_id`; on the socket it can differ in form from the REST call id.
    pub call_id: Option<Cow<'a, str>>,
    /// `stream_id`.
    pub stream_id: Option<Cow<'a, str>>,
    /// `message_id` (an integer that increments per frame).
    pub message_id: Option<i64>,
    /// `data`: encoding, sample rate and channels.
    pub format: MediaFormat,
}

impl StartFrame<'_> {
    /// An owned copy, to keep past the frame's lifetime (the session's `Started` event).
    pub fn to_owned_info(&self) -> StartInfo {
        StartInfo {
            account_id: self.account_id.as_deref().map(str::to_owned),
            call_app_id: self.call_app_id.as_deref().map(str::to_owned),
            call_id: self.call_id.as_deref().map(str::to_owned),
            stream_id: self.stream_id.as_deref().map(str::to_owned),
            message_id: self.message_id,
            format: self.format.clone(),
        }
    }
}

/// The metadata of a `start` frame, owned (see [`StartFrame`] for the fields).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct StartInfo {
    /// `account_id`.
    pub account_id: Option<String>,
    /// `call_app_id`.
    pub call_app_id: Option<String>,
    /// `call_id`.
    pub call_id: Option<String>,
    /// `stream_id`.
    pub stream_id: Option<String>,
    /// `message_id`.
    pub message_id: Option<i64>,
    /// Encoding, sample rate, channels.
    pub format: MediaFormat,
}

/// An `audio` frame from Teler: caller audio, base64 of PCM16 LE mono.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame<'a> {
    /// `stream_id`.
    pub stream_id: Option<Cow<'a, str>>,
    /// `message_id`, increasing per frame.
    pub message_id: Option<i64>,
    /// `data.audio_b64`, exactly as sent (standard alphabet, padded).
    pub audio_b64: Cow<'a, str>,
}

impl AudioFrame<'_> {
    /// The number of PCM bytes the payload decodes to (no decoding done).
    pub fn pcm_len(&self) -> usize {
        base64_decoded_len(&self.audio_b64)
    }

    /// Decodes the payload into PCM16 LE bytes, appended to `out`.
    pub fn decode_pcm_into(&self, out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode_vec(self.audio_b64.as_bytes(), out)
    }

    /// Decodes the payload into PCM16 samples (little-endian pairs). A trailing odd byte is
    /// ignored.
    pub fn decode_pcm(&self) -> Result<Vec<i16>, base64::DecodeError> {
        let mut bytes = Vec::with_capacity(self.pcm_len());
        self.decode_pcm_into(&mut bytes)?;
        Ok(bytes
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]))
            .collect())
    }
}

/// The decoded length of a padded base64 string, without decoding it.
fn base64_decoded_len(b64: &str) -> usize {
    let bytes = b64.as_bytes();
    let pad = bytes.iter().rev().take(2).filter(|&&b| b == b'=').count();
    (bytes.len() / 4 * 3).saturating_sub(pad)
}

/// One message from Teler, parsed without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TelerMessage<'a> {
    /// `start`: stream metadata, always first.
    Start(StartFrame<'a>),
    /// `audio`: caller audio.
    Audio(AudioFrame<'a>),
    /// Any other `type`: kept as raw JSON for the application (Teler may add types).
    Other {
        /// The frame's `type` value.
        kind: Cow<'a, str>,
        /// The whole frame text.
        raw: &'a str,
    },
}

impl<'a> TelerMessage<'a> {
    /// Parses one Teler text frame. Extra fields are ignored; never panics.
    ///
    /// ```
    /// use teler_core::media::TelerMessage;
    /// let m = TelerMessage::parse(r#"{"type":"audio","stream_id":"s1","message_id":7,"data":{"audio_b64":"AAA="}}"#).unwrap();
    /// let TelerMessage::Audio(a) = m else { panic!() };
    /// assert_eq!(a.audio_b64, "AAA=");
    /// assert_eq!(a.decode_pcm().unwrap(), vec![0]);
    ///
    /// let err = TelerMessage::parse(r#"{"type":"audio","data":{}}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "audio frame has no data.audio_b64");
    /// ```
    pub fn parse(text: &'a str) -> Result<Self, FrameError> {
        if !text.trim_start().starts_with('{') {
            // serde would read an array positionally: answer for non-objects here.
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => FrameError::NotAnObject,
                Err(e) => FrameError::Json(e.to_string()),
            });
        }
        let raw: RawFrame<'a> =
            serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
        let RawFrame {
            kind,
            account_id,
            call_app_id,
            call_id,
            stream_id,
            message_id,
            data,
        } = raw;
        let kind = kind.ok_or(FrameError::MissingType)?;
        match &*kind {
            "audio" => {
                let audio_b64 = data
                    .and_then(|d| d.audio_b64)
                    .ok_or(FrameError::MissingField {
                        kind: "audio",
                        field: "data.audio_b64",
                    })?;
                Ok(TelerMessage::Audio(AudioFrame {
                    stream_id,
                    message_id,
                    audio_b64,
                }))
            }
            "start" => {
                let format = data
                    .map(|d| MediaFormat {
                        encoding: d.encoding.map(Cow::into_owned),
                        sample_rate: d.sample_rate,
                        channels: d.channels,
                    })
                    .unwrap_or_default();
                Ok(TelerMessage::Start(StartFrame {
                    account_id,
                    call_app_id,
                    call_id,
                    stream_id,
                    message_id,
                    format,
                }))
            }
            _ => Ok(TelerMessage::Other { kind, raw: text }),
        }
    }

    /// The frame's `type` (`start`, `audio`, or the unknown type's name).
    pub fn kind(&self) -> &str {
        match self {
            TelerMessage::Start(_) => "start",
            TelerMessage::Audio(_) => "audio",
            TelerMessage::Other { kind, .. } => kind,
        }
    }
}

/// Every field optional: presence rules are checked after, so errors can name the field.
#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "strict_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    account_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    call_app_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    stream_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_int")]
    message_id: Option<i64>,
    #[serde(borrow, default)]
    data: Option<RawData<'a>>,
}

#[derive(Deserialize)]
struct RawData<'a> {
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    audio_b64: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "lenient_str")]
    encoding: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_int")]
    sample_rate: Option<u32>,
    #[serde(default, deserialize_with = "lenient_int")]
    channels: Option<u16>,
}

/// Accepts a string (borrowed where it has no escapes) or an integer (as its digits); any
/// other JSON value reads as absent, so a `null` where an id was expected never loses the
/// frame.
fn lenient_str<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    d.deserialize_any(V::<true>)
}

/// Accepts only a string; any other JSON value reads as absent.
fn strict_str<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    d.deserialize_any(V::<false>)
}

struct V<const NUMBERS: bool>;
impl<'de, const NUMBERS: bool> serde::de::Visitor<'de> for V<NUMBERS> {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(NUMBERS.then(|| Cow::Owned(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(NUMBERS.then(|| Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        while a
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
}

/// Accepts an integer (or an integer in a string); anything else, or out of range, reads
/// as absent.
fn lenient_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: TryFrom<i64> + TryFrom<u64>> serde::de::Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(T::try_from(v).ok())
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(T::try_from(v).ok())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim()
                .parse::<i64>()
                .ok()
                .and_then(|i| T::try_from(i).ok()))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// A message from the app to Teler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppMessage<'a> {
    /// Play audio: base64 PCM16 LE mono 8 kHz, queued by Teler and played in order.
    Audio {
        /// The base64 payload (standard alphabet, padded).
        audio_b64: Cow<'a, str>,
        /// Unique per stream, increasing.
        chunk_id: u64,
    },
    /// Drop one queued chunk.
    Interrupt {
        /// The chunk to drop.
        chunk_id: u64,
    },
    /// Drop the whole playback queue (barge-in).
    Clear,
}

/// Fields of an app -> Teler frame, all optional so errors can name what is missing.
#[derive(Deserialize)]
struct RawAppFrame<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "strict_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "strict_str")]
    audio_b64: Option<Cow<'a, str>>,
    #[serde(default)]
    chunk_id: StrictUint,
    #[serde(default)]
    data: Option<serde::de::IgnoredAny>,
}

/// An app -> Teler integer field read strictly, the way Teler reads it: only a JSON integer
/// from 0 to `u64::MAX` is a value. Frames *from* Teler are read leniently (an id may come
/// as a string); frames *to* Teler are not, so an app that sends `"chunk_id":"7"` finds out
/// from the emulator instead of from a silent Teler.
#[derive(Debug, Default)]
enum StrictUint {
    /// Absent or `null`.
    #[default]
    Absent,
    /// A JSON integer.
    Value(u64),
    /// Present with another JSON type (the name of what it was).
    Wrong(&'static str),
}

impl StrictUint {
    /// The value, or why there is none.
    fn require(self, kind: &'static str, field: &'static str) -> Result<u64, FrameError> {
        match self {
            StrictUint::Value(v) => Ok(v),
            StrictUint::Absent => Err(FrameError::MissingField { kind, field }),
            StrictUint::Wrong(got) => Err(FrameError::WrongFieldType {
                kind,
                field,
                expected: "a non-negative JSON integer",
                got,
            }),
        }
    }
}

impl<'de> Deserialize<'de> for StrictUint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct W;
        impl<'de> serde::de::Visitor<'de> for W {
            type Value = StrictUint;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_u64<E>(self, v: u64) -> Result<StrictUint, E> {
                Ok(StrictUint::Value(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<StrictUint, E> {
                Ok(u64::try_from(v)
                    .map_or(StrictUint::Wrong("a negative integer"), StrictUint::Value))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StrictUint, E> {
                Ok(StrictUint::Wrong(
                    "a number that is not an integer in range",
                ))
            }
            fn visit_str<E>(self, _: &str) -> Result<StrictUint, E> {
                Ok(StrictUint::Wrong("a string"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StrictUint, E> {
                Ok(StrictUint::Wrong("a boolean"))
            }
            fn visit_unit<E>(self) -> Result<StrictUint, E> {
                Ok(StrictUint::Absent)
            }
            fn visit_none<E>(self) -> Result<StrictUint, E> {
                Ok(StrictUint::Absent)
            }
            fn visit_some<D2: serde::Deserializer<'de>>(
                self,
                d: D2,
            ) -> Result<StrictUint, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<StrictUint, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(StrictUint::Wrong("an array"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<StrictUint, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(StrictUint::Wrong("an object"))
            }
        }
        d.deserialize_any(W)
    }
}

impl<'a> AppMessage<'a> {
    /// Reads an app -> Teler frame the way Teler does (what the emulator and tests use):
    /// `audio` needs a top-level `audio_b64` and an integer `chunk_id`; a payload nested
    /// under `data` is not read (Teler is reported to ignore it silently; here it is an
    /// error that says so). `chunk_id` must be a JSON integer (`docs/PROTOCOL.md`, section
    /// "App to Teler: audio"): a string such as `"7"`, a float, a negative number is a
    /// [`FrameError::WrongFieldType`], unlike the lenient reading of frames *from* Teler.
    ///
    /// ```
    /// use teler_core::media::AppMessage;
    /// let m = AppMessage::parse(r#"{"type":"audio","audio_b64":"AAA=","chunk_id":7}"#).unwrap();
    /// assert_eq!(m, AppMessage::Audio { audio_b64: "AAA=".into(), chunk_id: 7 });
    /// let e = AppMessage::parse(r#"{"type":"audio","data":{"audio_b64":"AAA="},"chunk_id":1}"#).unwrap_err();
    /// assert!(e.to_string().contains("nested"));
    /// let e = AppMessage::parse(r#"{"type":"interrupt","chunk_id":"7"}"#).unwrap_err();
    /// assert!(e.to_string().contains("chunk_id must be"));
    /// ```
    pub fn parse(text: &'a str) -> Result<Self, FrameError> {
        if !text.trim_start().starts_with('{') {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => FrameError::NotAnObject,
                Err(e) => FrameError::Json(e.to_string()),
            });
        }
        let raw: RawAppFrame<'a> =
            serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))?;
        let kind = raw.kind.ok_or(FrameError::MissingType)?;
        match &*kind {
            "audio" => {
                let audio_b64 = raw.audio_b64.ok_or(FrameError::MissingField {
                    kind: "audio",
                    field: if raw.data.is_some() {
                        "top-level audio_b64 (a payload nested under data is ignored by Teler)"
                    } else {
                        "audio_b64"
                    },
                })?;
                let chunk_id = raw.chunk_id.require("audio", "chunk_id")?;
                Ok(AppMessage::Audio {
                    audio_b64,
                    chunk_id,
                })
            }
            "interrupt" => Ok(AppMessage::Interrupt {
                chunk_id: raw.chunk_id.require("interrupt", "chunk_id")?,
            }),
            "clear" => Ok(AppMessage::Clear),
            other => Err(FrameError::UnknownType(other.to_owned())),
        }
    }

    /// Serialises to the JSON text Teler reads, e.g.
    /// `{"type":"audio","audio_b64":"…","chunk_id":1}`.
    ///
    /// ```
    /// use teler_core::media::AppMessage;
    /// assert_eq!(AppMessage::Clear.to_json(), r#"{"type":"clear"}"#);
    /// let a = AppMessage::Audio { audio_b64: "AAA=".into(), chunk_id: 3 };
    /// assert_eq!(a.to_json(), r#"{"type":"audio","audio_b64":"AAA=","chunk_id":3}"#);
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Appends the JSON text to `out` (one copy of the payload, no intermediate tree).
    pub fn write_json(&self, out: &mut String) {
        match self {
            AppMessage::Audio {
                audio_b64,
                chunk_id,
            } => {
                out.reserve(48 + audio_b64.len());
                out.push_str(r#"{"type":"audio","audio_b64":"#);
                write_json_str(out, audio_b64);
                out.push_str(r#","chunk_id":"#);
                out.push_str(itoa(*chunk_id).as_str());
                out.push('}');
            }
            AppMessage::Interrupt { chunk_id } => {
                out.push_str(r#"{"type":"interrupt","chunk_id":"#);
                out.push_str(itoa(*chunk_id).as_str());
                out.push('}');
            }
            AppMessage::Clear => out.push_str(r#"{"type":"clear"}"#),
        }
    }
}

/// A small stack buffer for integer formatting.
pub(crate) struct Itoa {
    buf: [u8; 20],
    start: usize,
}

impl Itoa {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits are written; fall back to "" rather than panic.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or_default()
    }
}

pub(crate) fn itoa(mut n: u64) -> Itoa {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Itoa { buf, start: i }
}

/// Writes `s` as a JSON string literal. Base64 needs no escaping, so the common case is one
/// scan and one copy.
pub fn write_json_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut last = 0;
    loop {
        let i = last + next_escape(&bytes[last..]);
        out.push_str(&s[last..i]);
        let Some(&b) = bytes.get(i) else { break };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        last = i + 1;
    }
    out.push('"');
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The index of the first byte of `bytes` that JSON must escape, or `bytes.len()`.
/// Clean 32-byte blocks are checked without branching per byte (the compiler vectorises the
/// fold), which makes the scan of a base64 payload several times faster than a byte loop.
fn next_escape(bytes: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let mut blocks = bytes.chunks_exact(BLOCK);
    let mut at = 0;
    for block in blocks.by_ref() {
        if block
            .iter()
            .fold(false, |dirty, &b| dirty | needs_escape(b))
        {
            break;
        }
        at += BLOCK;
    }
    bytes[at..]
        .iter()
        .position(|&b| needs_escape(b))
        .map_or(bytes.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_json_str_matches_serde_json_around_block_edges() {
        let base: String = (0..100).map(|i| (b'A' + (i % 26) as u8) as char).collect();
        for special in [
            "\"", "\\", "\n", "\r", "\t", "\u{1}", "\u{1f}", "é", "\u{7f}",
        ] {
            for at in [0, 1, 31, 32, 33, 63, 64, 65, 99, 100] {
                let mut s = base.clone();
                s.insert_str(at, special);
                s.push_str(special);
                let mut out = String::new();
                write_json_str(&mut out, &s);
                assert_eq!(
                    out,
                    serde_json::to_string(&s).unwrap(),
                    "{special:?} at {at}"
                );
            }
        }
        let mut out = String::new();
        write_json_str(&mut out, "");
        assert_eq!(out, "\"\"");
    }

    #[test]
    fn parses_start_with_every_field() {
        let t = r#"{"type":"start","account_id":"acc_1","call_app_id":"va_2","call_id":"cs_3","stream_id":"st_4","message_id":1,"data":{"encoding":"audio/l16","sample_rate":8000,"channels":1},"extra":{"x":[1,2]}}"#;
        let TelerMessage::Start(s) = TelerMessage::parse(t).unwrap() else {
            panic!("not start")
        };
        assert_eq!(s.account_id.as_deref(), Some("acc_1"));
        assert_eq!(s.call_app_id.as_deref(), Some("va_2"));
        assert_eq!(s.call_id.as_deref(), Some("cs_3"));
        assert_eq!(s.stream_id.as_deref(), Some("st_4"));
        assert_eq!(s.message_id, Some(1));
        assert_eq!(s.format.encoding.as_deref(), Some("audio/l16"));
        assert_eq!(s.format.sample_rate, Some(8000));
        assert_eq!(s.format.channels, Some(1));
    }

    #[test]
    fn audio_borrows_payload() {
        let t =
            r#"{"type":"audio","stream_id":"s","message_id":2,"data":{"audio_b64":"AQACAA=="}}"#;
        let TelerMessage::Audio(a) = TelerMessage::parse(t).unwrap() else {
            panic!()
        };
        assert!(matches!(a.audio_b64, Cow::Borrowed(_)));
        assert_eq!(a.pcm_len(), 4);
        assert_eq!(a.decode_pcm().unwrap(), vec![1, 2]);
    }

    #[test]
    fn escaped_payload_still_parses() {
        let t = r#"{"type":"audio","data":{"audio_b64":"AQ\/CAA=="}}"#;
        let TelerMessage::Audio(a) = TelerMessage::parse(t).unwrap() else {
            panic!()
        };
        assert_eq!(a.audio_b64, "AQ/CAA==");
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let cases = [
            ("not json", "frame is not valid Teler JSON"),
            ("[1,2]", "frame is not a JSON object"),
            ("{}", "frame has no \"type\" field"),
            (r#"{"type":5}"#, "frame has no \"type\" field"),
            (r#"{"type":"audio"}"#, "audio frame has no data.audio_b64"),
            (
                r#"{"type":"audio","data":{"audio_b64":null}}"#,
                "audio frame has no data.audio_b64",
            ),
        ];
        for (input, want) in cases {
            let err = TelerMessage::parse(input).unwrap_err().to_string();
            assert!(err.starts_with(want), "{input}: {err}");
        }
    }

    #[test]
    fn unknown_types_are_kept() {
        let t = r#"{"type":"dtmf","digit":"5"}"#;
        let m = TelerMessage::parse(t).unwrap();
        assert_eq!(
            m,
            TelerMessage::Other {
                kind: "dtmf".into(),
                raw: t
            }
        );
        assert_eq!(m.kind(), "dtmf");
    }

    #[test]
    fn odd_field_types_do_not_lose_the_frame() {
        let t = r#"{"type":"start","call_id":123,"message_id":"9","data":{"sample_rate":"x"}}"#;
        let TelerMessage::Start(s) = TelerMessage::parse(t).unwrap() else {
            panic!()
        };
        assert_eq!(s.call_id.as_deref(), Some("123"));
        assert_eq!(s.message_id, Some(9));
        assert_eq!(s.format.sample_rate, None);
    }

    #[test]
    fn app_messages_round_trip_and_errors_say_why() {
        for m in [
            AppMessage::Clear,
            AppMessage::Interrupt { chunk_id: 4 },
            AppMessage::Audio {
                audio_b64: "AQI=".into(),
                chunk_id: 9,
            },
        ] {
            assert_eq!(AppMessage::parse(&m.to_json()).unwrap(), m);
        }
        let cases = [
            (
                r#"{"type":"audio","chunk_id":1}"#,
                "audio frame has no audio_b64",
            ),
            (
                r#"{"type":"audio","audio_b64":"AA=="}"#,
                "audio frame has no chunk_id",
            ),
            (r#"{"type":"interrupt"}"#, "interrupt frame has no chunk_id"),
            (
                r#"{"type":"mark"}"#,
                "Teler does not read frames of type \"mark\"",
            ),
            (r#"{"chunk_id":1}"#, "frame has no \"type\" field"),
            ("7", "frame is not a JSON object"),
            (
                r#"{"type":"audio","audio_b64":"AA==","chunk_id":null}"#,
                "audio frame has no chunk_id",
            ),
        ];
        for (input, want) in cases {
            let got = AppMessage::parse(input).unwrap_err().to_string();
            assert!(got.starts_with(want), "{input}: {got}");
        }
    }

    #[test]
    fn app_chunk_id_is_read_strictly() {
        // Teler reads chunk_id as an integer: anything else is a bad frame, said so.
        for (input, got) in [
            (
                r#"{"type":"audio","audio_b64":"AA==","chunk_id":"7"}"#,
                "a string",
            ),
            (r#"{"type":"interrupt","chunk_id":"3"}"#, "a string"),
            (r#"{"type":"interrupt","chunk_id":3.0}"#, "a number"),
            (
                r#"{"type":"interrupt","chunk_id":-1}"#,
                "a negative integer",
            ),
            (r#"{"type":"interrupt","chunk_id":true}"#, "a boolean"),
            (r#"{"type":"interrupt","chunk_id":[3]}"#, "an array"),
            (
                r#"{"type":"audio","audio_b64":"AA==","chunk_id":{"n":3}}"#,
                "an object",
            ),
        ] {
            let e = AppMessage::parse(input).unwrap_err();
            assert!(
                matches!(
                    e,
                    FrameError::WrongFieldType {
                        field: "chunk_id",
                        ..
                    }
                ),
                "{input}: {e:?}"
            );
            let text = e.to_string();
            assert!(
                text.contains("chunk_id must be a non-negative JSON integer"),
                "{text}"
            );
            assert!(text.contains(got), "{input}: {text}");
        }
        assert_eq!(
            AppMessage::parse(r#"{"type":"interrupt","chunk_id":18446744073709551615}"#),
            Ok(AppMessage::Interrupt { chunk_id: u64::MAX })
        );
        // Frames from Teler stay lenient: a message_id in a string is still read.
        let TelerMessage::Audio(a) =
            TelerMessage::parse(r#"{"type":"audio","message_id":"7","data":{"audio_b64":""}}"#)
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(a.message_id, Some(7));
    }

    #[test]
    fn app_messages_serialise_exactly() {
        assert_eq!(
            AppMessage::Interrupt {
                chunk_id: 18446744073709551615
            }
            .to_json(),
            r#"{"type":"interrupt","chunk_id":18446744073709551615}"#
        );
        let a = AppMessage::Audio {
            audio_b64: "a\"b\\\u{1}".into(),
            chunk_id: 0,
        };
        let v: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(v["audio_b64"], "a\"b\\\u{1}");
        assert_eq!(v["chunk_id"], 0);
    }
}
