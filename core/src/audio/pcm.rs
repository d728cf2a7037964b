//! PCM16 little-endian <-> base64, and sample-count / duration arithmetic.
//!
//! Every function appends to a caller-provided buffer and copies nothing else: samples are
//! converted through a small stack block, never through a temporary `Vec`. Decoding is
//! transactional: on error the output buffer is left exactly as it was.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{AudioError, SampleRate};

/// Bytes of 8 kHz PCM16 per millisecond: Teler's outbound format (20 ms = 320 bytes).
pub const TELER_BYTES_PER_MS: usize = 16;

/// Encoder: standard alphabet, padded (what Teler sends and reads).
const ENCODER: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decoder: standard alphabet; padding accepted but not required (some vendors strip it).
/// Padding in the middle (two padded strings glued together) is still an error.
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Samples per stack block when encoding: 384 samples = 768 bytes, a multiple of 3, so the
/// blocks' base64 concatenates without inner padding.
const ENC_BLOCK: usize = 384;
/// Base64 characters per block when decoding: 1024 chars = 768 bytes (even, multiple of 3).
const DEC_BLOCK: usize = 1024;

/// The base64 length (padded) of `bytes` bytes.
pub const fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// The number of bytes a padded or unpadded base64 string decodes to, assuming it is valid
/// (no decoding is done).
pub fn base64_decoded_len(b64: &str) -> usize {
    let b = b64.as_bytes();
    let pad = b.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let n = b.len() - pad;
    n / 4 * 3 + (n % 4 * 3) / 4
}

/// Appends the base64 (standard, padded) of PCM16 samples, little-endian, to `out`.
///
/// ```
/// let mut s = String::new();
/// teler_core::audio::encode_pcm16_b64(&[1, -2], &mut s);
/// assert_eq!(s, "AQD+/w==");
/// ```
pub fn encode_pcm16_b64(samples: &[i16], out: &mut String) {
    out.reserve(base64_len(samples.len() * 2));
    let mut block = [0u8; ENC_BLOCK * 2];
    for chunk in samples.chunks(ENC_BLOCK) {
        let bytes = &mut block[..chunk.len() * 2];
        for (b, s) in bytes.chunks_exact_mut(2).zip(chunk) {
            b.copy_from_slice(&s.to_le_bytes());
        }
        ENCODER.encode_string(&*bytes, out);
    }
}

/// Appends the base64 of raw PCM16 LE bytes to `out`.
///
/// # Errors
/// [`AudioError::OddByteCount`] if `bytes` has an odd length (PCM16 is two bytes per sample);
/// `out` is untouched then.
pub fn encode_pcm16le_bytes_b64(bytes: &[u8], out: &mut String) -> Result<(), AudioError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(AudioError::OddByteCount(bytes.len()));
    }
    ENCODER.encode_string(bytes, out);
    Ok(())
}

/// Decodes base64 (standard alphabet, padding optional) of PCM16 LE and appends the samples
/// to `out`. Returns the number of samples appended.
///
/// ```
/// let mut pcm = Vec::new();
/// assert_eq!(teler_core::audio::decode_b64_pcm16("AQD+/w==", &mut pcm), Ok(2));
/// assert_eq!(pcm, [1, -2]);
/// assert!(teler_core::audio::decode_b64_pcm16("AQD=", &mut pcm).is_err()); // 1 byte: odd
/// assert_eq!(pcm, [1, -2]); // untouched on error
/// ```
///
/// # Errors
/// [`AudioError::Base64`] for invalid base64 (including two padded strings glued
/// together), [`AudioError::OddByteCount`] if it decodes to an odd number of bytes. On error
/// `out` is left as it was.
pub fn decode_b64_pcm16(b64: &str, out: &mut Vec<i16>) -> Result<usize, AudioError> {
    let start = out.len();
    let res = decode_blocks(b64, |bytes| {
        out.extend(
            bytes
                .chunks_exact(2)
                .map(|p| i16::from_le_bytes([p[0], p[1]])),
        )
    });
    match res {
        Ok(n) if n.is_multiple_of(2) => Ok(n / 2),
        Ok(n) => {
            out.truncate(start);
            Err(AudioError::OddByteCount(n))
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Decodes base64 (standard alphabet, padding optional) and appends the raw bytes to `out`
/// (any length: G.711 payloads are one byte per sample). Returns the number of bytes.
///
/// # Errors
/// [`AudioError::Base64`]; `out` is left as it was.
pub fn decode_b64_bytes(b64: &str, out: &mut Vec<u8>) -> Result<usize, AudioError> {
    let start = out.len();
    out.reserve(base64_decoded_len(b64));
    decode_blocks(b64, |bytes| out.extend_from_slice(bytes)).inspect_err(|_| out.truncate(start))
}

/// Decodes in stack blocks, handing each block's bytes to `sink`; returns the byte count.
fn decode_blocks(b64: &str, mut sink: impl FnMut(&[u8])) -> Result<usize, AudioError> {
    let input = b64.as_bytes();
    let mut block = [0u8; DEC_BLOCK / 4 * 3];
    let mut total = 0;
    let mut offset = 0;
    let mut chunks = input.chunks(DEC_BLOCK).peekable();
    while let Some(chunk) = chunks.next() {
        let n = DECODER
            .decode_slice(chunk, &mut block)
            .map_err(|e| match e {
                base64::DecodeSliceError::DecodeError(e) => AudioError::Base64(shift(e, offset)),
                // A block never decodes to more than DEC_BLOCK/4*3 bytes.
                base64::DecodeSliceError::OutputSliceTooSmall => {
                    AudioError::Base64(base64::DecodeError::InvalidLength(input.len()))
                }
            })?;
        if n != block.len() && chunks.peek().is_some() {
            // Padding inside the string: a short block that is not the last one.
            return Err(AudioError::Base64(base64::DecodeError::InvalidPadding));
        }
        sink(&block[..n]);
        total += n;
        offset += chunk.len();
    }
    Ok(total)
}

/// Makes a block-relative error offset absolute.
fn shift(e: base64::DecodeError, offset: usize) -> base64::DecodeError {
    use base64::DecodeError::*;
    match e {
        InvalidByte(o, b) => InvalidByte(o + offset, b),
        InvalidLastSymbol(o, b) => InvalidLastSymbol(o + offset, b),
        InvalidLength(n) => InvalidLength(n + offset),
        other => other,
    }
}

/// Appends PCM16 LE bytes as samples to `out`.
///
/// # Errors
/// [`AudioError::OddByteCount`]; `out` is untouched then.
pub fn pcm16le_to_samples(bytes: &[u8], out: &mut Vec<i16>) -> Result<(), AudioError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(AudioError::OddByteCount(bytes.len()));
    }
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]])),
    );
    Ok(())
}

/// Appends samples as PCM16 LE bytes to `out`.
pub fn samples_to_pcm16le(samples: &[i16], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
}

/// The number of whole samples in `duration` at `rate` (rounded down, exact integer maths).
///
/// ```
/// use std::time::Duration;
/// use teler_core::audio::{samples_in, SampleRate};
/// assert_eq!(samples_in(Duration::from_millis(20), SampleRate::Hz8000), 160);
/// assert_eq!(samples_in(Duration::from_secs(3600), SampleRate::Hz44100), 158_760_000);
/// ```
pub fn samples_in(duration: Duration, rate: SampleRate) -> u64 {
    let n = duration.as_nanos() * u128::from(rate.hz()) / 1_000_000_000;
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The duration of `samples` samples at `rate`, rounded up to the nanosecond so that
/// `samples_in(duration_of(n, rate), rate) == n`.
///
/// ```
/// use std::time::Duration;
/// use teler_core::audio::{duration_of, SampleRate};
/// assert_eq!(duration_of(4000, SampleRate::Hz8000), Duration::from_millis(500));
/// ```
pub fn duration_of(samples: u64, rate: SampleRate) -> Duration {
    let nanos = (u128::from(samples) * 1_000_000_000).div_ceil(u128::from(rate.hz()));
    Duration::new(
        u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX),
        (nanos % 1_000_000_000) as u32,
    )
}

/// The duration of `bytes` bytes of PCM16 at `rate` (a trailing odd byte counts for nothing).
///
/// ```
/// use std::time::Duration;
/// use teler_core::audio::{pcm16_duration, SampleRate};
/// assert_eq!(pcm16_duration(320, SampleRate::Hz8000), Duration::from_millis(20));
/// ```
pub fn pcm16_duration(bytes: usize, rate: SampleRate) -> Duration {
    duration_of((bytes / 2) as u64, rate)
}

/// The number of PCM16 bytes in `duration` at `rate` (whole samples only).
///
/// ```
/// use std::time::Duration;
/// use teler_core::audio::{pcm16_bytes_in, SampleRate};
/// assert_eq!(pcm16_bytes_in(Duration::from_millis(500), SampleRate::Hz8000), 8000);
/// ```
pub fn pcm16_bytes_in(duration: Duration, rate: SampleRate) -> u64 {
    samples_in(duration, rate).saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_boundaries_encode_like_one_shot() {
        for n in [0, 1, 2, 383, 384, 385, 767, 768, 769, 2000] {
            let s: Vec<i16> = (0..n).map(|i| (i * 7919 % 65536) as u16 as i16).collect();
            let mut bytes = Vec::new();
            samples_to_pcm16le(&s, &mut bytes);
            let mut a = String::from("x");
            encode_pcm16_b64(&s, &mut a);
            assert_eq!(&a[1..], ENCODER.encode(&bytes), "n={n}");
            let mut back = vec![9];
            assert_eq!(decode_b64_pcm16(&a[1..], &mut back), Ok(n as usize));
            assert_eq!(back[1..], s[..]);
            assert_eq!(base64_decoded_len(&a[1..]), bytes.len());
        }
    }

    #[test]
    fn errors_are_typed_and_transactional() {
        let mut out = vec![5i16];
        // Two padded strings glued together, the inner padding landing mid-block.
        assert!(matches!(
            decode_b64_pcm16("AAA=AAA=", &mut out),
            Err(AudioError::Base64(_))
        ));
        // Inner padding exactly at a block end.
        let mut glued = "A".repeat(DEC_BLOCK - 4);
        glued.push_str("AA==AAAA");
        assert_eq!(
            decode_b64_pcm16(&glued, &mut out),
            Err(AudioError::Base64(base64::DecodeError::InvalidPadding))
        );
        let mut bad = "A".repeat(2 * DEC_BLOCK);
        bad.push('*');
        bad.push_str("AAA");
        assert_eq!(
            decode_b64_pcm16(&bad, &mut out),
            Err(AudioError::Base64(base64::DecodeError::InvalidByte(
                2 * DEC_BLOCK,
                b'*'
            )))
        );
        assert_eq!(
            decode_b64_pcm16("AAAA", &mut out),
            Err(AudioError::OddByteCount(3))
        );
        assert_eq!(out, [5]);
        assert_eq!(
            encode_pcm16le_bytes_b64(&[1, 2, 3], &mut String::new()),
            Err(AudioError::OddByteCount(3))
        );
        // Unpadded input is accepted.
        assert_eq!(decode_b64_pcm16("AQD+/w", &mut out), Ok(2));
        assert_eq!(out, [5, 1, -2]);
    }
}
