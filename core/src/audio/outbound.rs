//! The outbound packetiser: vendor audio in, Teler `audio` messages out.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{AudioError, AudioFormat, Encoding, Resampler, SampleRate, g711, pcm};
use crate::media::AppMessage;

/// The default chunk duration: FreJun recommends chunks of at least 500 ms.
pub const DEFAULT_CHUNK: Duration = Duration::from_millis(500);
/// The default limit on audio a packetiser holds: 2 minutes (1.9 MB at 8 kHz).
pub const DEFAULT_MAX_BUFFERED: Duration = Duration::from_secs(120);

/// Real-time pacing: release a chunk only when Teler is estimated to hold at most `lead`
/// of unplayed audio.
///
/// The estimate assumes Teler starts playing a chunk when it receives it, or when the
/// previous one ends. Pacing keeps Teler's queue short, so a barge-in (`clear`) has little
/// to cut and the packetiser, not Teler, holds the rest (where `clear` drops it for free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// How much unplayed audio Teler may hold before the next chunk is released. Larger
    /// values ride out network jitter; smaller values make barge-in cheaper.
    pub lead: Duration,
}

impl Default for Pacing {
    /// A lead of 500 ms (one default chunk).
    fn default() -> Self {
        Pacing {
            lead: DEFAULT_CHUNK,
        }
    }
}

/// Configuration of a [`Packetiser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketiserConfig {
    input: AudioFormat,
    chunk: Duration,
    pacing: Option<Pacing>,
    max_buffered: Duration,
    first_chunk_id: u64,
}

impl PacketiserConfig {
    /// A configuration for input in `input` format: 500 ms chunks, no pacing, a 2 minute
    /// limit, chunk ids from 1.
    pub fn new(input: AudioFormat) -> Self {
        PacketiserConfig {
            input,
            chunk: DEFAULT_CHUNK,
            pacing: None,
            max_buffered: DEFAULT_MAX_BUFFERED,
            first_chunk_id: 1,
        }
    }

    /// The duration of each message (10 ms to 10 s; the last one of an utterance may be
    /// shorter).
    pub fn chunk(mut self, d: Duration) -> Self {
        self.chunk = d;
        self
    }

    /// Enables real-time pacing.
    pub fn pacing(mut self, p: Option<Pacing>) -> Self {
        self.pacing = p;
        self
    }

    /// The most audio held (not yet polled); a push beyond it is refused with
    /// [`AudioError::BufferFull`].
    pub fn max_buffered(mut self, d: Duration) -> Self {
        self.max_buffered = d;
        self
    }

    /// The first `chunk_id` (default 1). Ids increase by one per message.
    pub fn first_chunk_id(mut self, id: u64) -> Self {
        self.first_chunk_id = id;
        self
    }

    /// The input format.
    pub fn input(&self) -> AudioFormat {
        self.input
    }
}

#[derive(Debug)]
struct Ready {
    chunk_id: u64,
    samples: usize,
    json: String,
}

/// Turns vendor audio of any size, rate and encoding into Teler `audio` messages.
///
/// Audio is decoded, resampled to 8 kHz PCM16 (state carried across pushes), and cut into
/// messages of the configured duration with increasing `chunk_id`. [`finish`](Self::finish)
/// sends the remainder; [`clear`](Self::clear) drops everything held and answers the
/// `clear` message for Teler.
///
/// Driving it: after each push, drain [`poll_output`](Self::poll_output). With pacing on,
/// also sleep until [`poll_timeout`](Self::poll_timeout) and drain again. Time is always an
/// argument; the packetiser never reads a clock.
///
/// ```
/// use std::time::{Duration, Instant};
/// use teler_core::audio::{AudioFormat, Packetiser, PacketiserConfig, Pacing, SampleRate};
///
/// let cfg = PacketiserConfig::new(AudioFormat::pcm16(SampleRate::Hz16000))
///     .pacing(Some(Pacing { lead: Duration::from_millis(500) }));
/// let mut p = Packetiser::new(cfg).unwrap();
/// p.push_samples(&vec![0i16; 16000 * 2]).unwrap(); // 2 s arrive at once
/// p.finish();
///
/// let t0 = Instant::now();
/// let mut sent = Vec::new();
/// while let Some(m) = p.poll_output(t0) { sent.push(m) }
/// assert_eq!(sent.len(), 2); // 500 ms playing + 500 ms queued: the rest waits
/// assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(500)));
/// assert!(p.poll_output(t0 + Duration::from_millis(500)).unwrap().ends_with(r#""chunk_id":3}"#));
/// assert_eq!(p.clear(), r#"{"type":"clear"}"#); // barge-in: the 4th chunk is dropped here
/// assert_eq!(p.poll_output(t0 + Duration::from_secs(5)), None);
/// ```
#[derive(Debug)]
pub struct Packetiser {
    cfg: PacketiserConfig,
    chunk_samples: usize,
    max_samples: usize,
    resampler: Resampler,
    /// 8 kHz samples of the chunk being filled (always fewer than `chunk_samples`).
    pending: Vec<i16>,
    ready: VecDeque<Ready>,
    ready_samples: usize,
    next_chunk_id: u64,
    /// When the audio released so far will have played out (pacing).
    play_end: Option<Instant>,
    /// Released chunks not yet played out, by the pacing estimate: (id, start, duration).
    /// At most `lead / chunk + 2` entries.
    in_flight: VecDeque<(u64, Instant, Duration)>,
    /// The latest time given to `poll_output`.
    last_now: Option<Instant>,
    scratch_bytes: Vec<u8>,
    scratch_in: Vec<i16>,
    scratch_b64: String,
}

impl Packetiser {
    /// A packetiser for `cfg`.
    ///
    /// # Errors
    /// [`AudioError::InvalidChunkDuration`] for a chunk outside 10 ms ..= 10 s.
    pub fn new(cfg: PacketiserConfig) -> Result<Self, AudioError> {
        if cfg.chunk < Duration::from_millis(10) || cfg.chunk > Duration::from_secs(10) {
            return Err(AudioError::InvalidChunkDuration(cfg.chunk));
        }
        let out = SampleRate::TELER_OUTBOUND;
        let chunk_samples = pcm::samples_in(cfg.chunk, out) as usize;
        let max_samples = pcm::samples_in(cfg.max_buffered, out).min(usize::MAX as u64) as usize;
        Ok(Packetiser {
            resampler: Resampler::new(cfg.input.rate, out),
            chunk_samples,
            max_samples,
            pending: Vec::with_capacity(chunk_samples),
            ready: VecDeque::new(),
            ready_samples: 0,
            next_chunk_id: cfg.first_chunk_id,
            play_end: None,
            in_flight: VecDeque::new(),
            last_now: None,
            scratch_bytes: Vec::new(),
            scratch_in: Vec::new(),
            scratch_b64: String::new(),
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PacketiserConfig {
        &self.cfg
    }

    /// Pushes base64 audio in the input format (standard alphabet, padding optional).
    ///
    /// # Errors
    /// [`AudioError::Base64`], [`AudioError::OddByteCount`] (PCM16),
    /// [`AudioError::BufferFull`]. On error nothing was taken.
    pub fn push_b64(&mut self, b64: &str) -> Result<(), AudioError> {
        let mut input = std::mem::take(&mut self.scratch_in);
        input.clear();
        let res = match self.cfg.input.encoding {
            Encoding::Pcm16 => pcm::decode_b64_pcm16(b64, &mut input).map(drop),
            Encoding::MuLaw | Encoding::ALaw => {
                self.scratch_bytes.clear();
                pcm::decode_b64_bytes(b64, &mut self.scratch_bytes)
                    .map(|_| decode_g711(self.cfg.input.encoding, &self.scratch_bytes, &mut input))
            }
        };
        let res = res.and_then(|()| self.push_samples(&input));
        self.scratch_in = input;
        res
    }

    /// Pushes raw audio bytes in the input format (PCM16 LE, or G.711 codes).
    ///
    /// # Errors
    /// [`AudioError::OddByteCount`] (PCM16), [`AudioError::BufferFull`]. On error nothing
    /// was taken.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), AudioError> {
        let mut input = std::mem::take(&mut self.scratch_in);
        input.clear();
        let res = match self.cfg.input.encoding {
            Encoding::Pcm16 => pcm::pcm16le_to_samples(bytes, &mut input),
            e => {
                decode_g711(e, bytes, &mut input);
                Ok(())
            }
        };
        let res = res.and_then(|()| self.push_samples(&input));
        self.scratch_in = input;
        res
    }

    /// Pushes PCM16 samples at the input rate (whatever the input encoding).
    ///
    /// # Errors
    /// [`AudioError::BufferFull`]; nothing was taken then.
    pub fn push_samples(&mut self, samples: &[i16]) -> Result<(), AudioError> {
        let incoming = self.resampler.max_output_len(samples.len());
        let held = self.held_samples().saturating_add(incoming);
        if held > self.max_samples {
            return Err(AudioError::BufferFull {
                held,
                limit: self.max_samples,
            });
        }
        self.resampler.process(samples, &mut self.pending);
        self.cut(false);
        Ok(())
    }

    /// Ends the utterance: the resampler's tail and any partial chunk become messages.
    pub fn finish(&mut self) {
        self.resampler.flush(&mut self.pending);
        self.cut(true);
    }

    /// Barge-in: drops all held audio (partial and ready chunks, resampler state) and
    /// returns `{"type":"clear"}` for Teler, which drops its queue. Chunk ids keep
    /// increasing.
    pub fn clear(&mut self) -> String {
        self.pending.clear();
        self.ready.clear();
        self.ready_samples = 0;
        self.resampler.reset();
        self.play_end = None;
        self.in_flight.clear();
        AppMessage::Clear.to_json()
    }

    /// Drops one chunk. If it is still held here it is removed and `None` is returned;
    /// otherwise the `interrupt` message for Teler is returned. With pacing, a released
    /// chunk that had not started playing (as of the last `poll_output` time) is taken out
    /// of the play-out estimate, so the next chunks go out that much sooner and playback
    /// has no gap.
    pub fn interrupt(&mut self, chunk_id: u64) -> Option<String> {
        if let Some(i) = self.ready.iter().position(|r| r.chunk_id == chunk_id) {
            if let Some(r) = self.ready.remove(i) {
                self.ready_samples -= r.samples;
            }
            return None;
        }
        if let (Some(i), Some(now)) = (
            self.in_flight.iter().position(|f| f.0 == chunk_id),
            self.last_now,
        ) && self.in_flight[i].1 > now
            && let Some((_, _, dur)) = self.in_flight.remove(i)
        {
            for f in self.in_flight.iter_mut().skip(i) {
                f.1 -= dur;
            }
            self.play_end = self.play_end.map(|e| e - dur);
        }
        Some(AppMessage::Interrupt { chunk_id }.to_json())
    }

    /// The next message for Teler, if one may be sent at `now`. Without pacing, `now` is
    /// ignored and every ready chunk comes out at once.
    pub fn poll_output(&mut self, now: Instant) -> Option<String> {
        let Some(p) = self.cfg.pacing else {
            return self.pop_ready();
        };
        self.last_now = Some(self.last_now.map_or(now, |t| t.max(now)));
        while let Some(&(_, start, dur)) = self.in_flight.front()
            && start + dur <= now
        {
            self.in_flight.pop_front();
        }
        if let Some(end) = self.play_end
            && end.saturating_duration_since(now) > p.lead
        {
            return None;
        }
        let r = self.pop()?;
        let start = self.play_end.map_or(now, |e| e.max(now));
        let dur = pcm::duration_of(r.samples as u64, SampleRate::Hz8000);
        self.play_end = Some(start + dur);
        self.in_flight.push_back((r.chunk_id, start, dur));
        Some(r.json)
    }

    /// When [`poll_output`](Self::poll_output) will next have something to release, if a
    /// chunk is waiting for pacing. `None` without pacing or with nothing waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let p = self.cfg.pacing?;
        if self.ready.is_empty() {
            return None;
        }
        let end = self.play_end?;
        Some(end.checked_sub(p.lead).unwrap_or(end))
    }

    /// The next ready message, ignoring pacing (for handlers, which have no clock).
    pub fn pop_ready(&mut self) -> Option<String> {
        self.pop().map(|r| r.json)
    }

    /// The `chunk_id` the next message will carry.
    pub fn next_chunk_id(&self) -> u64 {
        self.next_chunk_id
    }

    /// How much 8 kHz audio is held (ready chunks and the partial one).
    pub fn held(&self) -> Duration {
        pcm::duration_of(self.held_samples() as u64, SampleRate::Hz8000)
    }

    /// How many whole messages wait to be polled.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    fn held_samples(&self) -> usize {
        self.pending.len() + self.ready_samples
    }

    fn pop(&mut self) -> Option<Ready> {
        let r = self.ready.pop_front()?;
        self.ready_samples -= r.samples;
        Some(r)
    }

    /// Moves whole chunks (and with `all`, the remainder) from `pending` to `ready`.
    fn cut(&mut self, all: bool) {
        let mut start = 0;
        while self.pending.len() - start >= self.chunk_samples
            || (all && self.pending.len() > start)
        {
            let n = self.chunk_samples.min(self.pending.len() - start);
            self.scratch_b64.clear();
            pcm::encode_pcm16_b64(&self.pending[start..start + n], &mut self.scratch_b64);
            let chunk_id = self.next_chunk_id;
            self.next_chunk_id += 1;
            let json = AppMessage::Audio {
                audio_b64: Cow::Borrowed(&self.scratch_b64),
                chunk_id,
            }
            .to_json();
            self.ready.push_back(Ready {
                chunk_id,
                samples: n,
                json,
            });
            self.ready_samples += n;
            start += n;
        }
        self.pending.drain(..start);
    }
}

fn decode_g711(e: Encoding, bytes: &[u8], out: &mut Vec<i16>) {
    match e {
        Encoding::MuLaw => g711::ulaw_decode_into(bytes, out),
        Encoding::ALaw => g711::alaw_decode_into(bytes, out),
        Encoding::Pcm16 => {}
    }
}
