//! Audio conversion shaped for stream handlers.

use std::borrow::Cow;
use std::fmt;

use super::{
    AudioError, AudioFormat, Encoding, Packetiser, PacketiserConfig, Resampler, SampleRate, g711,
    pcm,
};
use crate::media::{AppMessage, HandlerError, Message, Outbox, StreamHandler, StreamOp};

/// What a vendor message means for Teler, as told by the classifier of [`OutboundAudio`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VendorEvent<'a> {
    /// Base64 audio in the packetiser's input format.
    Audio(Cow<'a, str>),
    /// The caller started speaking (barge-in): drop held audio, send `{"type":"clear"}`.
    Clear,
    /// The vendor's response ended: send the held remainder.
    Flush,
    /// Send this text to Teler unchanged.
    Send(String),
    /// Nothing for Teler.
    Ignore,
}

/// A remote-side [`StreamHandler`] backed by a [`Packetiser`]: your classifier says what
/// each vendor message is, the adapter does the audio.
///
/// With [`PacketiserConfig::pacing`] set, chunks are released in real time by the clock the
/// bridge hands handlers ([`Outbox::now`]); the handler asks for a wake-up through
/// [`StreamHandler::poll_timeout`] while chunks wait. Without pacing (the default), or
/// outside a bridge, messages go out as soon as a chunk is complete. See the
/// [module example](super) for a full handler pair.
pub struct OutboundAudio<F> {
    packetiser: Packetiser,
    classify: F,
}

impl<F> fmt::Debug for OutboundAudio<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundAudio")
            .field("packetiser", &self.packetiser)
            .finish_non_exhaustive()
    }
}

impl<F> OutboundAudio<F>
where
    F: for<'a> FnMut(&'a str) -> Result<VendorEvent<'a>, HandlerError> + Send,
{
    /// An adapter with a packetiser configured by `cfg`.
    ///
    /// # Errors
    /// As [`Packetiser::new`].
    pub fn new(cfg: PacketiserConfig, classify: F) -> Result<Self, AudioError> {
        Ok(OutboundAudio {
            packetiser: Packetiser::new(cfg)?,
            classify,
        })
    }

    /// An adapter for base64 PCM16 at `rate`, with default chunks (500 ms).
    ///
    /// # Errors
    /// As [`Packetiser::new`] (never with the defaults).
    pub fn pcm16(rate: SampleRate, classify: F) -> Result<Self, AudioError> {
        Self::new(PacketiserConfig::new(AudioFormat::pcm16(rate)), classify)
    }

    /// The packetiser, e.g. to [`interrupt`](Packetiser::interrupt) a chunk.
    pub fn packetiser_mut(&mut self) -> &mut Packetiser {
        &mut self.packetiser
    }
}

impl<F> StreamHandler for OutboundAudio<F>
where
    F: for<'a> FnMut(&'a str) -> Result<VendorEvent<'a>, HandlerError> + Send,
{
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        let before = out.len();
        match (self.classify)(message.text())? {
            VendorEvent::Audio(b64) => self.packetiser.push_b64(&b64)?,
            VendorEvent::Clear => out.send(self.packetiser.clear()),
            VendorEvent::Flush => self.packetiser.finish(),
            VendorEvent::Send(text) => out.send(text),
            VendorEvent::Ignore => {}
        }
        self.release(out.now(), out);
        Ok(if out.len() > before {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }

    fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.packetiser.poll_timeout()
    }

    fn handle_timeout(
        &mut self,
        now: std::time::Instant,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        self.release(Some(now), out);
        Ok(if out.is_empty() {
            StreamOp::Pass
        } else {
            StreamOp::Relay
        })
    }
}

impl<F> OutboundAudio<F> {
    /// Moves what may go out at `now` into `out` (everything ready when there is no clock).
    fn release(&mut self, now: Option<std::time::Instant>, out: &mut Outbox) {
        match now {
            Some(now) => {
                while let Some(m) = self.packetiser.poll_output(now) {
                    out.send(m);
                }
            }
            None => {
                while let Some(m) = self.packetiser.pop_ready() {
                    out.send(m);
                }
            }
        }
    }
}

/// Converts a vendor's audio deltas one by one into Teler `audio` messages (8 kHz PCM16),
/// with resampler state carried across deltas. No accumulation: one message per delta
/// (use a [`Packetiser`] for 500 ms chunks).
///
/// ```
/// use teler_core::audio::{OutboundConverter, SampleRate};
/// let mut conv = OutboundConverter::pcm16(SampleRate::Hz24000);
/// let mut delta_b64 = String::new();
/// teler_core::audio::encode_pcm16_b64(&[0; 2400], &mut delta_b64); // 100 ms at 24 kHz
/// let msg = conv.to_message(&delta_b64).unwrap().unwrap();
/// assert!(msg.starts_with(r#"{"type":"audio","audio_b64":""#) && msg.ends_with(r#""chunk_id":1}"#));
/// ```
#[derive(Debug)]
pub struct OutboundConverter {
    inbound: InboundAudio,
    next_chunk_id: u64,
    b64: String,
}

impl OutboundConverter {
    /// A converter from `input` to Teler's 8 kHz PCM16, chunk ids from 1.
    pub fn new(input: AudioFormat) -> Self {
        OutboundConverter {
            inbound: InboundAudio::with_formats(input, AudioFormat::TELER_OUTBOUND),
            next_chunk_id: 1,
            b64: String::new(),
        }
    }

    /// A converter from base64 PCM16 at `rate`.
    pub fn pcm16(rate: SampleRate) -> Self {
        Self::new(AudioFormat::pcm16(rate))
    }

    /// Converts one base64 delta into a Teler `audio` message; `None` if it completed no
    /// 8 kHz sample yet (tiny deltas).
    ///
    /// # Errors
    /// [`AudioError::Base64`], [`AudioError::OddByteCount`].
    pub fn to_message(&mut self, b64: &str) -> Result<Option<String>, AudioError> {
        self.b64.clear();
        self.inbound.convert_b64(b64, &mut self.b64)?;
        Ok(self.message())
    }

    /// Ends the utterance: the resampler's tail as a last message, if any.
    pub fn finish(&mut self) -> Option<String> {
        self.b64.clear();
        self.inbound.finish_b64(&mut self.b64);
        self.message()
    }

    /// Forgets resampler state (barge-in). Chunk ids keep increasing.
    pub fn reset(&mut self) {
        self.inbound.reset();
    }

    fn message(&mut self) -> Option<String> {
        if self.b64.is_empty() {
            return None;
        }
        let chunk_id = self.next_chunk_id;
        self.next_chunk_id += 1;
        Some(
            AppMessage::Audio {
                audio_b64: Cow::Borrowed(&self.b64),
                chunk_id,
            }
            .to_json(),
        )
    }
}

/// Converts a stream of base64 audio between formats (e.g. Teler's 8 kHz caller audio to a
/// vendor's 24 kHz PCM16), resampler state carried across messages.
///
/// ```
/// use teler_core::audio::{InboundAudio, SampleRate};
/// let mut conv = InboundAudio::new(SampleRate::Hz8000, SampleRate::Hz16000);
/// let mut b64 = String::new();
/// // 20 ms of Teler audio (160 samples of silence) -> 16 kHz, less the filter's look-ahead.
/// let n = conv.convert_b64(&format!("{}=", "A".repeat(427)), &mut b64).unwrap();
/// assert!(n > 200 && n < 320);
/// // The end of the stream: the look-ahead comes out, 320 samples in all.
/// assert_eq!(n + conv.finish_b64(&mut b64), 320);
/// ```
#[derive(Debug)]
pub struct InboundAudio {
    input: AudioFormat,
    output: AudioFormat,
    resampler: Resampler,
    bytes: Vec<u8>,
    samples: Vec<i16>,
    resampled: Vec<i16>,
}

impl InboundAudio {
    /// PCM16 at `from` to PCM16 at `to`.
    pub fn new(from: SampleRate, to: SampleRate) -> Self {
        Self::with_formats(AudioFormat::pcm16(from), AudioFormat::pcm16(to))
    }

    /// Any format to any format (e.g. 8 kHz PCM16 to 8 kHz mu-law).
    pub fn with_formats(input: AudioFormat, output: AudioFormat) -> Self {
        InboundAudio {
            input,
            output,
            resampler: Resampler::new(input.rate, output.rate),
            bytes: Vec::new(),
            samples: Vec::new(),
            resampled: Vec::new(),
        }
    }

    /// Decodes `b64`, converts it, and appends the output's base64 to `out`. Returns the
    /// number of output samples.
    ///
    /// # Errors
    /// [`AudioError::Base64`], [`AudioError::OddByteCount`]; `out` is untouched then.
    pub fn convert_b64(&mut self, b64: &str, out: &mut String) -> Result<usize, AudioError> {
        self.samples.clear();
        match self.input.encoding {
            Encoding::Pcm16 => {
                pcm::decode_b64_pcm16(b64, &mut self.samples)?;
            }
            e => {
                self.bytes.clear();
                pcm::decode_b64_bytes(b64, &mut self.bytes)?;
                match e {
                    Encoding::MuLaw => g711::ulaw_decode_into(&self.bytes, &mut self.samples),
                    _ => g711::alaw_decode_into(&self.bytes, &mut self.samples),
                }
            }
        }
        self.resampled.clear();
        self.resampler.process(&self.samples, &mut self.resampled);
        Ok(self.emit(out))
    }

    /// Decodes `b64`, converts it, and appends the output as raw bytes (PCM16 LE, or G.711
    /// codes) to `out`, for vendors that take audio in binary frames. Returns the number of
    /// output samples.
    ///
    /// # Errors
    /// [`AudioError::Base64`], [`AudioError::OddByteCount`]; `out` is untouched then.
    pub fn convert_b64_to_bytes(
        &mut self,
        b64: &str,
        out: &mut Vec<u8>,
    ) -> Result<usize, AudioError> {
        self.samples.clear();
        match self.input.encoding {
            Encoding::Pcm16 => {
                pcm::decode_b64_pcm16(b64, &mut self.samples)?;
            }
            e => {
                self.bytes.clear();
                pcm::decode_b64_bytes(b64, &mut self.bytes)?;
                match e {
                    Encoding::MuLaw => g711::ulaw_decode_into(&self.bytes, &mut self.samples),
                    _ => g711::alaw_decode_into(&self.bytes, &mut self.samples),
                }
            }
        }
        self.resampled.clear();
        self.resampler.process(&self.samples, &mut self.resampled);
        let n = self.resampled.len();
        match self.output.encoding {
            Encoding::Pcm16 => pcm::samples_to_pcm16le(&self.resampled, out),
            Encoding::MuLaw => g711::ulaw_encode_into(&self.resampled, out),
            _ => g711::alaw_encode_into(&self.resampled, out),
        }
        Ok(n)
    }

    /// Ends the stream: appends the base64 of the resampler's tail to `out` (maybe
    /// nothing) and resets. Returns the number of samples.
    pub fn finish_b64(&mut self, out: &mut String) -> usize {
        self.resampled.clear();
        self.resampler.flush(&mut self.resampled);
        self.emit(out)
    }

    /// Forgets resampler state.
    pub fn reset(&mut self) {
        self.resampler.reset();
    }

    fn emit(&mut self, out: &mut String) -> usize {
        let n = self.resampled.len();
        match self.output.encoding {
            Encoding::Pcm16 => pcm::encode_pcm16_b64(&self.resampled, out),
            e => {
                self.bytes.clear();
                match e {
                    Encoding::MuLaw => g711::ulaw_encode_into(&self.resampled, &mut self.bytes),
                    _ => g711::alaw_encode_into(&self.resampled, &mut self.bytes),
                }
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode_string(&self.bytes, out);
            }
        }
        n
    }
}
