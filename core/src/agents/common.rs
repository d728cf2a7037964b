//! What every vendor's handlers share, written once: caller audio converted into the
//! vendor's format (and held until the vendor says it is ready), and the agent's audio
//! packetised into Teler chunks with barge-in, flush and vendor errors.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audio::{AudioError, AudioFormat, InboundAudio, Packetiser, PacketiserConfig};
use crate::media::{
    HandlerError, Message, OutFrame, Outbox, StreamHandler, StreamOp, TelerMessage,
};

/// The most caller audio held (as vendor messages, in bytes) while the vendor is not ready
/// yet: about 10 s of 16 kHz PCM16 in base64. Older messages are dropped past it.
pub(crate) const MAX_HELD_BYTES: usize = 450_000;

/// What one vendor message means for Teler, as told by a vendor's classifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentEvent<'a> {
    /// Base64 agent audio in the vendor's output format.
    Audio(Cow<'a, str>),
    /// The caller talked over the agent: drop held audio, `clear` Teler.
    Clear,
    /// The agent's turn ended: send the held remainder as a last, shorter chunk.
    Flush,
    /// The vendor accepted the session: caller audio may flow.
    Ready,
}

/// Reads one vendor message into events (in order); an `Err` carries the vendor's text.
pub(crate) type Classify =
    for<'a> fn(&'a str, &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError>;

/// "The vendor is ready", shared by a call's two handlers (the remote side hears it, the
/// call side acts on it). Each pair has its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadyFlag(Arc<AtomicBool>);

impl ReadyFlag {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What a remote handler does with a binary frame from the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryFrames {
    /// The vendor sends JSON in binary frames too (Gemini Live): read as text.
    Json,
    /// Binary frames are raw agent audio in the vendor's output format (Deepgram,
    /// Ultravox, Vapi): packetised like audio events.
    Audio,
    /// Decline (the bridge's `binary_from_remote` policy applies).
    Decline,
}

/// The remote-side handler of every vendor in [`crate::agents`] but ElevenLabs: the
/// vendor's messages in, Teler `audio` chunks of the configured length (increasing
/// `chunk_id`, from 1 per call) and `clear` out. Built by each vendor module's `handlers`.
///
/// A vendor message that reports an error is a [`HandlerError`] with the vendor's text: a
/// `HandlerFailed` event, counted in the bridge's `handler_errors`.
pub struct RemoteHandler {
    vendor: &'static str,
    packetiser: Packetiser,
    classify: Classify,
    ready: ReadyFlag,
    binary: BinaryFrames,
    /// Flush the remainder after this long without agent audio (vendors that never say
    /// their turn ended); `None`: only the vendor's end-of-turn message flushes.
    idle_flush: Option<Duration>,
    /// When the idle flush is due (set by agent audio, on the bridge's clock).
    flush_at: Option<Instant>,
}

impl fmt::Debug for RemoteHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHandler")
            .field("vendor", &self.vendor)
            .field("packetiser", &self.packetiser)
            .field("ready", &self.ready.get())
            .finish_non_exhaustive()
    }
}

impl RemoteHandler {
    pub(crate) fn new(
        vendor: &'static str,
        format: AudioFormat,
        chunk: Duration,
        classify: Classify,
        ready: ReadyFlag,
        binary: BinaryFrames,
    ) -> Result<Self, AudioError> {
        Ok(RemoteHandler {
            vendor,
            packetiser: Packetiser::new(PacketiserConfig::new(format).chunk(chunk))?,
            classify,
            ready,
            binary,
            idle_flush: None,
            flush_at: None,
        })
    }

    /// Flushes the held remainder once no agent audio has come for `after` (on the bridge's
    /// clock: [`Outbox::now`]), for vendors without an end-of-turn message.
    pub(crate) fn idle_flush(mut self, after: Option<Duration>) -> Self {
        self.idle_flush = after;
        self
    }

    /// Agent audio came at `out`'s time: the idle flush is due `idle_flush` later.
    fn audio_came(&mut self, out: &Outbox) {
        if let (Some(after), Some(now)) = (self.idle_flush, out.now()) {
            self.flush_at = now.checked_add(after);
        }
    }

    /// The packetiser, e.g. to read [`held`](Packetiser::held) audio or the next chunk id.
    pub fn packetiser_mut(&mut self) -> &mut Packetiser {
        &mut self.packetiser
    }

    /// Whether the vendor has said it is ready (for vendors with such a message).
    pub fn vendor_ready(&self) -> bool {
        self.ready.get()
    }

    /// The text-in form: one vendor message in, what goes to Teler in `out`.
    ///
    /// # Errors
    /// A message that is not the vendor's JSON, audio that is not base64 of the vendor's
    /// format, or the vendor's own error message.
    pub fn handle_text(&mut self, text: &str, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        let mut events = Vec::new();
        (self.classify)(text, &mut events)?;
        let before = out.len();
        for ev in events {
            match ev {
                AgentEvent::Audio(b64) => {
                    self.packetiser.push_b64(&b64)?;
                    self.audio_came(out);
                }
                AgentEvent::Clear => {
                    self.flush_at = None;
                    out.send(self.packetiser.clear());
                }
                AgentEvent::Flush => {
                    self.flush_at = None;
                    self.packetiser.finish();
                }
                AgentEvent::Ready => self.ready.set(),
            }
            while let Some(m) = self.packetiser.pop_ready() {
                out.send(m);
            }
        }
        Ok(if out.len() > before {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }
}

impl RemoteHandler {
    /// Raw agent audio (a binary frame) in the vendor's output format.
    fn handle_audio_bytes(
        &mut self,
        data: &[u8],
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        self.packetiser.push_bytes(data)?;
        self.audio_came(out);
        let before = out.len();
        while let Some(m) = self.packetiser.pop_ready() {
            out.send(m);
        }
        Ok(if out.len() > before {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }
}

impl StreamHandler for RemoteHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        self.handle_text(message.text(), out)
    }

    fn handle_binary(
        &mut self,
        data: &[u8],
        out: &mut Outbox,
    ) -> Option<Result<StreamOp, HandlerError>> {
        match self.binary {
            BinaryFrames::Decline => None,
            BinaryFrames::Audio => Some(self.handle_audio_bytes(data, out)),
            BinaryFrames::Json => Some(match std::str::from_utf8(data) {
                Ok(text) => self.handle_text(text, out),
                Err(e) => Err(HandlerError::msg(format!(
                    "{} sent a binary frame that is not UTF-8 JSON: {e}",
                    self.vendor
                ))),
            }),
        }
    }

    /// The idle flush's time, while a remainder is held (see `idle_flush`).
    fn poll_timeout(&self) -> Option<Instant> {
        self.flush_at
            .filter(|_| self.packetiser.held() > Duration::ZERO)
    }

    /// The idle flush: the held remainder goes out as a last, shorter chunk.
    fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        if self.flush_at.is_none_or(|t| now < t) {
            return Ok(StreamOp::Pass);
        }
        self.flush_at = None;
        self.packetiser.finish();
        let before = out.len();
        while let Some(m) = self.packetiser.pop_ready() {
            out.send(m);
        }
        Ok(if out.len() > before {
            StreamOp::Relay
        } else {
            StreamOp::Pass
        })
    }
}

/// Caller audio for a vendor: Teler's format (from `start`) converted into the vendor's,
/// each frame wrapped into the vendor's message, held while the vendor is not ready.
#[derive(Debug)]
pub(crate) struct CallerAudio {
    audio: InboundAudio,
    vendor: AudioFormat,
    ready: Option<ReadyFlag>,
    held: VecDeque<OutFrame>,
    held_bytes: usize,
    dropped: u64,
}

impl CallerAudio {
    /// Teler's default caller audio (8 kHz PCM16) into `vendor`; with `ready`, messages are
    /// held until it is set.
    pub(crate) fn new(vendor: AudioFormat, ready: Option<ReadyFlag>) -> Self {
        CallerAudio {
            audio: InboundAudio::with_formats(AudioFormat::TELER_OUTBOUND, vendor),
            vendor,
            ready,
            held: VecDeque::new(),
            held_bytes: 0,
            dropped: 0,
        }
    }

    /// Teler's `start`: the caller audio's format.
    pub(crate) fn start(&mut self, s: &crate::media::StartFrame<'_>) -> Result<(), HandlerError> {
        let input = AudioFormat::from_teler(&s.format)?;
        self.audio = InboundAudio::with_formats(input, self.vendor);
        Ok(())
    }

    /// `prefix` + the frame's audio in the vendor's format (base64) + `suffix`.
    pub(crate) fn message(
        &mut self,
        b64: &str,
        prefix: &str,
        suffix: &str,
    ) -> Result<String, HandlerError> {
        // Up to 3x the samples (8 -> 24 kHz), base64 adds a third.
        let mut msg = String::with_capacity(b64.len() * 3 + prefix.len() + suffix.len());
        msg.push_str(prefix);
        self.audio.convert_b64(b64, &mut msg)?;
        msg.push_str(suffix);
        Ok(msg)
    }

    /// The frame's audio in the vendor's format as raw bytes (for a binary frame).
    pub(crate) fn bytes(&mut self, b64: &str) -> Result<Vec<u8>, HandlerError> {
        // Up to 3x the samples (8 -> 24 kHz); base64 is 4/3 of the bytes.
        let mut bytes = Vec::with_capacity(b64.len() / 4 * 3 * 3);
        self.audio.convert_b64_to_bytes(b64, &mut bytes)?;
        Ok(bytes)
    }

    /// Whether the vendor is ready (always, without a ready flag).
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.as_ref().is_none_or(ReadyFlag::get)
    }

    /// Sends `msg` (after anything held), or holds it while the vendor is not ready.
    pub(crate) fn send(&mut self, msg: String, out: &mut Outbox) -> StreamOp {
        self.send_frame(OutFrame::Text(msg), out)
    }

    /// Sends `frame` (text or binary) after anything held, or holds it while the vendor is
    /// not ready.
    pub(crate) fn send_frame(&mut self, msg: OutFrame, out: &mut Outbox) -> StreamOp {
        if !self.is_ready() {
            self.held_bytes += msg.len();
            self.held.push_back(msg);
            while self.held_bytes > MAX_HELD_BYTES {
                match self.held.pop_front() {
                    Some(old) => {
                        self.held_bytes -= old.len();
                        self.dropped += 1;
                    }
                    None => break,
                }
            }
            return StreamOp::Pass;
        }
        self.release(out);
        out.items.push(msg);
        StreamOp::Relay
    }

    /// Sends what was held, if the vendor is ready now; whether anything was sent.
    pub(crate) fn release(&mut self, out: &mut Outbox) -> bool {
        if self.held.is_empty() || !self.is_ready() {
            return false;
        }
        self.held_bytes = 0;
        out.items.extend(self.held.drain(..));
        true
    }

    /// Caller messages dropped because the vendor was not ready in time.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// The call-side handler of the vendors that take the caller's audio as binary frames (Vapi,
/// Ultravox): each Teler `media` frame's audio, converted to the vendor's format, in one binary
/// WebSocket frame; held until the vendor is ready when a ready flag is shared. Built by those
/// vendor modules' `handlers` (their `CallHandler`).
#[derive(Debug)]
pub struct BinaryCallHandler {
    audio: CallerAudio,
}

impl BinaryCallHandler {
    pub(crate) fn new(audio: CallerAudio) -> Self {
        BinaryCallHandler { audio }
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
                let bytes = self.audio.bytes(&a.audio_b64)?;
                Ok(self.audio.send_frame(OutFrame::Binary(bytes), out))
            }
            _ => Ok(StreamOp::Pass),
        }
    }
}

impl StreamHandler for BinaryCallHandler {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        with_teler(message, |m| self.reshape(m, out))
    }
}

/// The Teler message of `message`: parsed by the bridge, or parsed here.
pub(crate) fn with_teler<T>(
    message: &Message<'_>,
    f: impl FnOnce(&TelerMessage<'_>) -> Result<T, HandlerError>,
) -> Result<T, HandlerError> {
    match message.teler() {
        Some(m) => f(m),
        None => f(&TelerMessage::parse(message.text())?),
    }
}

/// A JSON string value, escaped (for building vendor messages without a JSON tree).
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::media::write_json_str(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SampleRate;

    fn classify<'a>(text: &'a str, ev: &mut Vec<AgentEvent<'a>>) -> Result<(), HandlerError> {
        match text {
            "ready" => ev.push(AgentEvent::Ready),
            "clear" => ev.push(AgentEvent::Clear),
            "flush" => ev.push(AgentEvent::Flush),
            "bad" => return Err(HandlerError::msg("vendor says no")),
            t => ev.push(AgentEvent::Audio(Cow::Borrowed(t))),
        }
        Ok(())
    }

    #[test]
    fn caller_audio_is_held_until_ready_then_sent_in_order() {
        let ready = ReadyFlag::default();
        let mut c = CallerAudio::new(AudioFormat::pcm16(SampleRate::Hz8000), Some(ready.clone()));
        let mut out = Outbox::default();
        assert_eq!(c.send("a".into(), &mut out), StreamOp::Pass);
        assert_eq!(c.send("b".into(), &mut out), StreamOp::Pass);
        assert!(out.is_empty());
        ready.set();
        assert_eq!(c.send("c".into(), &mut out), StreamOp::Relay);
        assert_eq!(out.messages(), ["a", "b", "c"]);
    }

    #[test]
    fn held_caller_audio_is_bounded() {
        let mut c = CallerAudio::new(
            AudioFormat::pcm16(SampleRate::Hz8000),
            Some(ReadyFlag::default()),
        );
        let mut out = Outbox::default();
        for _ in 0..10 {
            c.send("x".repeat(MAX_HELD_BYTES / 4), &mut out);
        }
        assert!(c.held_bytes <= MAX_HELD_BYTES);
        assert_eq!(c.dropped(), 6);
    }

    #[test]
    fn remote_handler_ready_clear_flush_and_errors() {
        let ready = ReadyFlag::default();
        let mut h = RemoteHandler::new(
            "test",
            AudioFormat::pcm16(SampleRate::Hz8000),
            Duration::from_millis(100),
            classify,
            ready.clone(),
            BinaryFrames::Json,
        )
        .unwrap();
        let mut out = Outbox::default();
        assert_eq!(h.handle_text("ready", &mut out).unwrap(), StreamOp::Pass);
        assert!(ready.get() && h.vendor_ready());
        let mut b64 = String::new();
        crate::audio::encode_pcm16_b64(&[100; 1200], &mut b64); // 150 ms
        assert_eq!(h.handle_text(&b64, &mut out).unwrap(), StreamOp::Relay);
        assert_eq!(out.len(), 1);
        assert_eq!(
            h.handle_binary(b"clear", &mut out).unwrap().unwrap(),
            StreamOp::Relay
        );
        assert_eq!(out.messages()[1], r#"{"type":"clear"}"#);
        assert_eq!(h.handle_text("flush", &mut out).unwrap(), StreamOp::Pass);
        assert!(h.handle_text("bad", &mut out).is_err());
        assert!(h.handle_binary(&[0xff, 0xfe], &mut out).unwrap().is_err());
        assert!(h.handle_text("!!", &mut out).is_err(), "not base64");
    }

    #[test]
    fn idle_flush_sends_the_remainder_once_audio_stops() {
        let mut h = RemoteHandler::new(
            "test",
            AudioFormat::pcm16(SampleRate::Hz8000),
            Duration::from_millis(100),
            classify,
            ReadyFlag::default(),
            BinaryFrames::Audio,
        )
        .unwrap()
        .idle_flush(Some(Duration::from_millis(200)));
        let t0 = crate::test_epoch();
        let mut out = Outbox::at(t0);
        h.handle_binary(&[1u8; 2 * 1200], &mut out)
            .unwrap()
            .unwrap(); // 150 ms
        assert_eq!(out.len(), 1);
        assert_eq!(h.poll_timeout(), Some(t0 + Duration::from_millis(200)));
        // More audio moves the deadline.
        let t1 = t0 + Duration::from_millis(100);
        let mut out = Outbox::at(t1);
        h.handle_binary(&[1u8; 2 * 80], &mut out).unwrap().unwrap();
        assert_eq!(h.poll_timeout(), Some(t1 + Duration::from_millis(200)));
        let at = t1 + Duration::from_millis(200);
        assert_eq!(h.handle_timeout(at, &mut out).unwrap(), StreamOp::Relay);
        assert_eq!(out.len(), 1, "the 60 ms remainder");
        assert_eq!(h.poll_timeout(), None);
        assert_eq!(h.handle_timeout(at, &mut out).unwrap(), StreamOp::Pass);
        // A flush by the vendor cancels the idle one.
        h.handle_binary(&[1u8; 2 * 80], &mut out).unwrap().unwrap();
        h.handle_text("flush", &mut out).unwrap();
        assert_eq!(h.poll_timeout(), None);
    }
}
