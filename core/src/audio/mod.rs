//! Audio for Teler streams: PCM16 <-> base64, G.711, resampling, and outbound playout.
//!
//! Teler speaks base64 of 16-bit little-endian mono PCM: caller audio at the flow's rate
//! (8 or 16 kHz), and app audio at **8 kHz** only. Voice AI vendors speak 16 or 24 kHz PCM16,
//! mu-law or A-law, in chunks of any size. This module converts between them, correctly:
//!
//! - [`encode_pcm16_b64`] / [`decode_b64_pcm16`]: base64 straight into the caller's buffer;
//!   [`samples_in`], [`duration_of`], [`pcm16_duration`]: exact integer time arithmetic.
//! - [`g711`]: mu-law and A-law, bit-exact with the ITU-T reference.
//! - [`Resampler`]: streaming, anti-aliased, drift-free rate conversion between 8, 16, 24,
//!   44.1 and 48 kHz.
//! - [`Packetiser`]: vendor audio of any size, rate and encoding in; Teler `audio`
//!   messages of a fixed duration (500 ms by default, as FreJun recommends) with increasing
//!   `chunk_id` out; `clear` drops what it holds; optional real-time pacing so that barge-in
//!   has little queued audio to cut.
//! - [`OutboundAudio`]: a packetiser as a remote-side [`StreamHandler`](crate::media::StreamHandler);
//!   [`InboundAudio`] and [`OutboundConverter`]: one-line conversions inside your own handlers.
//!
//! ## A 24 kHz voice agent (OpenAI-Realtime-style) in two handlers
//!
//! (Ready-made, with the session config on connect and 16 kHz flows handled, as
//! [`crate::agents::openai`].)
//!
//! ```
//! use teler_core::audio::{InboundAudio, OutboundAudio, SampleRate, VendorEvent};
//! use teler_core::media::{Message, Outbox, StreamHandler, StreamOp, TelerMessage, typed, HandlerResult};
//!
//! // Caller audio (8 kHz) -> the vendor's 24 kHz `input_audio_buffer.append`.
//! let mut inbound = InboundAudio::new(SampleRate::Hz8000, SampleRate::Hz24000);
//! let mut call_side = typed(move |m: &TelerMessage<'_>| -> HandlerResult {
//!     let TelerMessage::Audio(a) = m else { return Ok((String::new(), StreamOp::Pass)) };
//!     let mut msg = String::from(r#"{"type":"input_audio_buffer.append","audio":""#);
//!     inbound.convert_b64(&a.audio_b64, &mut msg)?;
//!     msg.push_str(r#""}"#);
//!     Ok((msg, StreamOp::Relay))
//! });
//!
//! // Vendor events -> Teler: 24 kHz deltas become 500 ms 8 kHz chunks, speech_started
//! // becomes `clear`, response.done flushes the tail.
//! let mut remote_side = OutboundAudio::pcm16(SampleRate::Hz24000, |text: &str| {
//!     let v: serde_json::Value = serde_json::from_str(text)?;
//!     Ok(match v["type"].as_str().unwrap_or("") {
//!         "response.output_audio.delta" | "response.audio.delta" => {
//!             VendorEvent::Audio(v["delta"].as_str().unwrap_or("").to_owned().into())
//!         }
//!         "input_audio_buffer.speech_started" => VendorEvent::Clear,
//!         "response.done" => VendorEvent::Flush,
//!         _ => VendorEvent::Ignore,
//!     })
//! })
//! .unwrap();
//!
//! let mut out = Outbox::default();
//! let frame = r#"{"type":"audio","data":{"audio_b64":"AAAAAA=="}}"#;
//! let parsed = TelerMessage::parse(frame).unwrap();
//! assert_eq!(call_side.handle(&Message::from_teler(frame, &parsed), &mut out).unwrap(), StreamOp::Relay);
//!
//! // 300 ms of 24 kHz audio: held (less than one 500 ms chunk).
//! let mut delta = String::new();
//! teler_core::audio::encode_pcm16_b64(&[0; 7200], &mut delta);
//! let ev = format!(r#"{{"type":"response.output_audio.delta","delta":"{delta}"}}"#);
//! let mut out = Outbox::default();
//! assert_eq!(remote_side.handle(&Message::from_text(&ev), &mut out).unwrap(), StreamOp::Pass);
//! // The response ends: the 300 ms go out as one Teler message.
//! let done = r#"{"type":"response.done"}"#;
//! assert_eq!(remote_side.handle(&Message::from_text(done), &mut out).unwrap(), StreamOp::Relay);
//! assert_eq!(out.len(), 1);
//! ```

mod handler;
mod outbound;
mod pcm;
mod resample;

pub mod g711;

pub use handler::{InboundAudio, OutboundAudio, OutboundConverter, VendorEvent};
pub use outbound::{DEFAULT_CHUNK, DEFAULT_MAX_BUFFERED, Pacing, Packetiser, PacketiserConfig};
pub use pcm::{
    TELER_BYTES_PER_MS, base64_decoded_len, base64_len, decode_b64_bytes, decode_b64_pcm16,
    duration_of, encode_pcm16_b64, encode_pcm16le_bytes_b64, pcm16_bytes_in, pcm16_duration,
    pcm16le_to_samples, samples_in, samples_to_pcm16le,
};
pub use resample::Resampler;

use std::fmt;

/// A sample rate this module converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SampleRate {
    /// 8 kHz: telephony, and Teler's only outbound rate.
    Hz8000,
    /// 16 kHz: wideband; Teler's inbound rate on 16k flows; many speech vendors.
    Hz16000,
    /// 24 kHz: OpenAI Realtime and other TTS vendors.
    Hz24000,
    /// 44.1 kHz: CD audio, some TTS vendors.
    Hz44100,
    /// 48 kHz: WebRTC, some TTS vendors.
    Hz48000,
}

impl SampleRate {
    /// Every supported rate, ascending.
    pub const ALL: [SampleRate; 5] = [
        SampleRate::Hz8000,
        SampleRate::Hz16000,
        SampleRate::Hz24000,
        SampleRate::Hz44100,
        SampleRate::Hz48000,
    ];

    /// Teler's outbound (app -> Teler) rate.
    pub const TELER_OUTBOUND: SampleRate = SampleRate::Hz8000;

    /// The rate in Hz.
    pub const fn hz(self) -> u32 {
        match self {
            SampleRate::Hz8000 => 8000,
            SampleRate::Hz16000 => 16000,
            SampleRate::Hz24000 => 24000,
            SampleRate::Hz44100 => 44100,
            SampleRate::Hz48000 => 48000,
        }
    }

    /// The supported rate of `hz`.
    ///
    /// # Errors
    /// [`AudioError::UnsupportedRate`] for any other rate.
    pub const fn from_hz(hz: u32) -> Result<SampleRate, AudioError> {
        Ok(match hz {
            8000 => SampleRate::Hz8000,
            16000 => SampleRate::Hz16000,
            24000 => SampleRate::Hz24000,
            44100 => SampleRate::Hz44100,
            48000 => SampleRate::Hz48000,
            _ => return Err(AudioError::UnsupportedRate(hz)),
        })
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl TryFrom<u32> for SampleRate {
    type Error = AudioError;
    fn try_from(hz: u32) -> Result<Self, AudioError> {
        SampleRate::from_hz(hz)
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.hz())
    }
}

/// How audio samples are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// 16-bit signed little-endian PCM (`audio/l16` on Teler, `pcm16` at vendors).
    Pcm16,
    /// G.711 mu-law, one byte per sample (`ulaw`, `g711_ulaw`, `audio/x-mulaw`).
    MuLaw,
    /// G.711 A-law, one byte per sample (`alaw`, `g711_alaw`).
    ALaw,
}

impl Encoding {
    /// Reads the common names of an encoding, case-insensitively: Teler's `audio/l16`;
    /// `pcm16`, `l16`, `linear16`, `audio/pcm`; `ulaw`, `mulaw`, `g711_ulaw`,
    /// `audio/x-mulaw`, `pcmu`; `alaw`, `g711_alaw`, `audio/x-alaw`, `pcma`.
    ///
    /// # Errors
    /// [`AudioError::UnsupportedEncoding`] for any other name.
    pub fn from_name(name: &str) -> Result<Encoding, AudioError> {
        let n = name.trim().to_ascii_lowercase();
        let n = n.split(';').next().unwrap_or_default().trim(); // "audio/l16;rate=8000"
        Ok(match n {
            "audio/l16" | "l16" | "pcm16" | "pcm_s16le" | "linear16" | "audio/pcm" | "pcm" => {
                Encoding::Pcm16
            }
            "ulaw" | "mulaw" | "mu-law" | "g711_ulaw" | "audio/x-mulaw" | "audio/mulaw"
            | "audio/pcmu" | "pcmu" => Encoding::MuLaw,
            "alaw" | "a-law" | "g711_alaw" | "audio/x-alaw" | "audio/alaw" | "audio/pcma"
            | "pcma" => Encoding::ALaw,
            _ => return Err(AudioError::UnsupportedEncoding(name.to_owned())),
        })
    }
}

/// An audio format: encoding and rate (mono).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioFormat {
    /// The sample encoding.
    pub encoding: Encoding,
    /// The sample rate.
    pub rate: SampleRate,
}

impl AudioFormat {
    /// PCM16 at `rate`.
    pub const fn pcm16(rate: SampleRate) -> AudioFormat {
        AudioFormat {
            encoding: Encoding::Pcm16,
            rate,
        }
    }

    /// Mu-law at 8 kHz.
    pub const MULAW_8K: AudioFormat = AudioFormat {
        encoding: Encoding::MuLaw,
        rate: SampleRate::Hz8000,
    };

    /// A-law at 8 kHz.
    pub const ALAW_8K: AudioFormat = AudioFormat {
        encoding: Encoding::ALaw,
        rate: SampleRate::Hz8000,
    };

    /// Teler's outbound format: PCM16 at 8 kHz.
    pub const TELER_OUTBOUND: AudioFormat = AudioFormat::pcm16(SampleRate::Hz8000);

    /// The format a Teler `start` frame announces (`data.encoding`, `data.sample_rate`),
    /// defaulting to Teler's `audio/l16` at 8 kHz for absent fields.
    ///
    /// ```
    /// use teler_core::audio::{AudioFormat, SampleRate};
    /// use teler_core::media::TelerMessage;
    /// let start = r#"{"type":"start","data":{"encoding":"audio/l16","sample_rate":16000,"channels":1}}"#;
    /// let TelerMessage::Start(s) = TelerMessage::parse(start).unwrap() else { unreachable!() };
    /// assert_eq!(AudioFormat::from_teler(&s.format), Ok(AudioFormat::pcm16(SampleRate::Hz16000)));
    /// ```
    ///
    /// # Errors
    /// [`AudioError::UnsupportedRate`], [`AudioError::UnsupportedEncoding`], and
    /// [`AudioError::UnsupportedChannels`] for anything but mono.
    pub fn from_teler(format: &crate::media::MediaFormat) -> Result<AudioFormat, AudioError> {
        if let Some(c) = format.channels
            && c != 1
        {
            return Err(AudioError::UnsupportedChannels(c));
        }
        Ok(AudioFormat {
            encoding: match &format.encoding {
                Some(e) => Encoding::from_name(e)?,
                None => Encoding::Pcm16,
            },
            rate: SampleRate::from_hz(format.sample_rate.unwrap_or(8000))?,
        })
    }

    /// Bytes per sample (2 for PCM16, 1 for G.711).
    pub const fn bytes_per_sample(self) -> usize {
        match self.encoding {
            Encoding::Pcm16 => 2,
            Encoding::MuLaw | Encoding::ALaw => 1,
        }
    }
}

/// Why audio could not be converted. Messages say what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// PCM16 input with an odd number of bytes.
    #[error("PCM16 audio needs an even number of bytes (2 per sample), got {0}")]
    OddByteCount(usize),
    /// Invalid base64 (standard alphabet expected; padding optional but only at the end).
    #[error("audio is not valid base64: {0}")]
    Base64(base64::DecodeError),
    /// A sample rate other than 8000, 16000, 24000, 44100 or 48000 Hz.
    #[error("unsupported sample rate {0} Hz: use 8000, 16000, 24000, 44100 or 48000")]
    UnsupportedRate(u32),
    /// An encoding name [`Encoding::from_name`] does not know.
    #[error("unsupported audio encoding {0:?}: use PCM16 (audio/l16), mu-law or A-law")]
    UnsupportedEncoding(String),
    /// Audio with more than one channel.
    #[error("{0} audio channels: only mono is supported")]
    UnsupportedChannels(u16),
    /// A packetiser chunk duration outside 10 ms ..= 10 s.
    #[error("chunk duration {0:?} is out of range: use 10 ms to 10 s")]
    InvalidChunkDuration(std::time::Duration),
    /// Pushing this audio would hold more than the packetiser's limit; nothing was taken.
    #[error(
        "packetiser holds {held} samples and the limit is {limit}: drain poll_output, \
         clear, or raise PacketiserConfig::max_buffered"
    )]
    BufferFull {
        /// Samples (8 kHz) held now plus this push.
        held: usize,
        /// The limit in samples (8 kHz).
        limit: usize,
    },
}
