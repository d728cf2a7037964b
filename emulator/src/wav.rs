//! A tiny WAV (RIFF, PCM16 mono) reader and writer, and the generated test signal.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// Why a WAV file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// The file could not be read or written.
    #[error("WAV file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Not a RIFF/WAVE file, or a chunk is cut short.
    #[error("not a WAV file: {0}")]
    Malformed(&'static str),
    /// A WAV file in a format other than 16-bit PCM mono.
    #[error("unsupported WAV format: {0} (16-bit PCM mono is needed)")]
    Unsupported(String),
}

/// Decoded PCM16 mono audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

impl Pcm {
    /// Reads a 16-bit PCM mono WAV file held in memory.
    pub fn from_wav_bytes(b: &[u8]) -> Result<Pcm, WavError> {
        if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
            return Err(WavError::Malformed("no RIFF/WAVE header"));
        }
        let mut pos = 12;
        let mut fmt: Option<(u16, u16, u32, u16)> = None;
        while pos + 8 <= b.len() {
            let id = &b[pos..pos + 4];
            let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
            let body = pos + 8;
            let end = body
                .checked_add(len)
                .ok_or(WavError::Malformed("chunk length"))?;
            match id {
                b"fmt " => {
                    if len < 16 || end > b.len() {
                        return Err(WavError::Malformed("short fmt chunk"));
                    }
                    let u16at = |i: usize| u16::from_le_bytes([b[body + i], b[body + i + 1]]);
                    let rate =
                        u32::from_le_bytes([b[body + 4], b[body + 5], b[body + 6], b[body + 7]]);
                    fmt = Some((u16at(0), u16at(2), rate, u16at(14)));
                }
                b"data" => {
                    let (format, channels, rate, bits) =
                        fmt.ok_or(WavError::Malformed("data chunk before fmt chunk"))?;
                    // 1 = PCM; 0xFFFE = WAVE_FORMAT_EXTENSIBLE (accepted when 16-bit mono).
                    if !(format == 1 || format == 0xFFFE) || channels != 1 || bits != 16 {
                        return Err(WavError::Unsupported(format!(
                            "format {format}, {channels} channel(s), {bits} bits"
                        )));
                    }
                    if rate == 0 {
                        return Err(WavError::Unsupported("sample rate 0".into()));
                    }
                    // A streaming writer may leave the length at 0 or u32::MAX: read to the end.
                    let end = end.min(b.len());
                    let samples = b[body..end]
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    return Ok(Pcm {
                        sample_rate: rate,
                        samples,
                    });
                }
                _ => {}
            }
            pos = end + (len & 1);
        }
        Err(WavError::Malformed("no data chunk"))
    }

    /// Reads a 16-bit PCM mono WAV file.
    pub fn read(path: &Path) -> Result<Pcm, WavError> {
        Pcm::from_wav_bytes(&std::fs::read(path)?)
    }

    /// A sine tone of `freq` Hz at `amplitude`, `ms` long, starting at phase 0.
    pub fn tone(sample_rate: u32, freq: f64, amplitude: i16, ms: u32) -> Pcm {
        let n = (u64::from(sample_rate) * u64::from(ms) / 1000) as usize;
        let samples = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(sample_rate);
                (f64::from(amplitude) * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect();
        Pcm {
            sample_rate,
            samples,
        }
    }

    /// Linear-interpolation resampling to `rate` (good enough for test input). A rate of 0
    /// (source or target) has no samples to give: the result is empty, never a panic.
    pub fn resampled(&self, rate: u32) -> Pcm {
        if self.sample_rate == 0 || rate == 0 {
            return Pcm {
                sample_rate: rate,
                samples: Vec::new(),
            };
        }
        if rate == self.sample_rate || self.samples.is_empty() {
            return Pcm {
                sample_rate: rate,
                samples: self.samples.clone(),
            };
        }
        let n_out =
            (self.samples.len() as u64 * u64::from(rate) / u64::from(self.sample_rate)) as usize;
        let step = f64::from(self.sample_rate) / f64::from(rate);
        let last = self.samples.len() - 1;
        let samples = (0..n_out)
            .map(|i| {
                let x = i as f64 * step;
                let j = (x as usize).min(last);
                let k = (j + 1).min(last);
                let f = x - j as f64;
                (f64::from(self.samples[j]) * (1.0 - f) + f64::from(self.samples[k]) * f) as i16
            })
            .collect();
        Pcm {
            sample_rate: rate,
            samples,
        }
    }

    /// The WAV file bytes.
    pub fn to_wav_bytes(&self) -> Vec<u8> {
        let mut out = header(self.sample_rate, (self.samples.len() * 2) as u32).to_vec();
        for s in &self.samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }
}

fn header(rate: u32, data_len: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&1u16.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
    h[32..34].copy_from_slice(&2u16.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

/// Writes PCM16 mono to a WAV file as it arrives (bounded memory); the header's lengths are
/// patched by [`WavWriter::finish`].
#[derive(Debug)]
pub struct WavWriter {
    out: BufWriter<File>,
    rate: u32,
    data_len: u32,
}

impl WavWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path, rate: u32) -> std::io::Result<WavWriter> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&header(rate, 0))?;
        Ok(WavWriter {
            out,
            rate,
            data_len: 0,
        })
    }

    /// Appends samples.
    pub fn write(&mut self, samples: &[i16]) -> std::io::Result<()> {
        for s in samples {
            self.out.write_all(&s.to_le_bytes())?;
        }
        self.data_len = self.data_len.saturating_add((samples.len() * 2) as u32);
        Ok(())
    }

    /// Appends `n` samples of silence.
    pub fn silence(&mut self, n: usize) -> std::io::Result<()> {
        const Z: [u8; 1024] = [0; 1024];
        let mut left = n * 2;
        while left > 0 {
            let k = left.min(Z.len());
            self.out.write_all(&Z[..k])?;
            left -= k;
        }
        self.data_len = self.data_len.saturating_add((n * 2) as u32);
        Ok(())
    }

    /// Patches the header and flushes.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let mut f = self.out.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&header(self.rate, self.data_len))?;
        f.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip_and_errors() {
        let p = Pcm::tone(8000, 440.0, 8000, 100);
        assert_eq!(p.samples.len(), 800);
        let b = p.to_wav_bytes();
        assert_eq!(Pcm::from_wav_bytes(&b).unwrap(), p);
        assert!(matches!(
            Pcm::from_wav_bytes(b"nope"),
            Err(WavError::Malformed(_))
        ));
        let mut stereo = b.clone();
        stereo[22] = 2;
        assert!(matches!(
            Pcm::from_wav_bytes(&stereo),
            Err(WavError::Unsupported(_))
        ));
        assert!(Pcm::from_wav_bytes(&b[..30]).is_err());
        let up = p.resampled(16000);
        assert_eq!(up.samples.len(), 1600);
        // A rate of 0 gives nothing back instead of dividing by zero.
        let zero = Pcm {
            sample_rate: 0,
            samples: vec![1, 2, 3],
        };
        assert!(zero.resampled(8000).samples.is_empty());
        assert!(p.resampled(0).samples.is_empty());
    }
}
