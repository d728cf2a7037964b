//! PCM16 <-> base64 and time arithmetic, as properties.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use proptest::prelude::*;
use teler_core::audio::{
    AudioError, SampleRate, base64_decoded_len, base64_len, decode_b64_bytes, decode_b64_pcm16,
    duration_of, encode_pcm16_b64, encode_pcm16le_bytes_b64, pcm16_duration, pcm16le_to_samples,
    samples_in, samples_to_pcm16le,
};

fn rate() -> impl Strategy<Value = SampleRate> {
    prop::sample::select(SampleRate::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn base64_round_trips_and_matches_the_base64_crate(
        pcm in prop::collection::vec(any::<i16>(), 0..3000),
        prefix in "[a-z]{0,5}",
    ) {
        let mut bytes = Vec::new();
        samples_to_pcm16le(&pcm, &mut bytes);
        let mut s = prefix.clone();
        encode_pcm16_b64(&pcm, &mut s);
        prop_assert_eq!(&s[prefix.len()..], STANDARD.encode(&bytes)); // appended, padded
        prop_assert_eq!(s.len() - prefix.len(), base64_len(bytes.len()));
        let mut s2 = String::new();
        encode_pcm16le_bytes_b64(&bytes, &mut s2).unwrap();
        prop_assert_eq!(&s2, &s[prefix.len()..]);

        let mut back = vec![42i16];
        prop_assert_eq!(decode_b64_pcm16(&s2, &mut back), Ok(pcm.len()));
        prop_assert_eq!(&back[1..], &pcm[..]);
        prop_assert_eq!(base64_decoded_len(&s2), bytes.len());
        // Unpadded input decodes the same.
        let mut back2 = Vec::new();
        let unpadded = STANDARD_NO_PAD.encode(&bytes);
        prop_assert_eq!(base64_decoded_len(&unpadded), bytes.len());
        decode_b64_pcm16(&unpadded, &mut back2).unwrap();
        prop_assert_eq!(&back2, &pcm);
        let mut raw = Vec::new();
        decode_b64_bytes(&s2, &mut raw).unwrap();
        prop_assert_eq!(&raw, &bytes);
        let mut from_raw = Vec::new();
        pcm16le_to_samples(&raw, &mut from_raw).unwrap();
        prop_assert_eq!(&from_raw, &pcm);
    }

    #[test]
    fn any_byte_string_decodes_or_errors_like_the_base64_crate(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let s = STANDARD.encode(&bytes);
        let mut out = Vec::new();
        let r = decode_b64_pcm16(&s, &mut out);
        if bytes.len() % 2 == 0 {
            prop_assert_eq!(r, Ok(bytes.len() / 2));
        } else {
            prop_assert_eq!(r, Err(AudioError::OddByteCount(bytes.len())));
            prop_assert!(out.is_empty());
        }
    }

    /// Garbage never panics, and is accepted only where the base64 crate accepts it.
    #[test]
    fn garbage_is_an_error_never_a_panic(s in "[A-Za-z0-9+/=*\\- ]{0,2100}") {
        let mut out = Vec::new();
        let ours = decode_b64_bytes(&s, &mut out);
        let theirs = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        )
        .decode(&s);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?} vs {:?}", ours, theirs);
        if let Ok(v) = theirs {
            prop_assert_eq!(out, v);
        } else {
            prop_assert!(out.is_empty());
        }
    }

    #[test]
    fn time_arithmetic_is_exact(n in 0u64..(1 << 40), r in rate()) {
        let d = duration_of(n, r);
        prop_assert_eq!(samples_in(d, r), n);
        prop_assert!(samples_in(d + Duration::from_nanos(1), r) <= n + 1);
        prop_assert_eq!(pcm16_duration((n as usize).saturating_mul(2), r), d);
    }
}

#[test]
fn teler_byte_maths() {
    // docs/PROTOCOL.md#byte-arithmetic: 8 kHz PCM16 = 16 bytes per ms; 20 ms = 320 bytes =
    // 428 base64 chars.
    let twenty = Duration::from_millis(20);
    assert_eq!(
        teler_core::audio::pcm16_bytes_in(twenty, SampleRate::Hz8000),
        320
    );
    assert_eq!(base64_len(320), 428);
    assert_eq!(teler_core::audio::TELER_BYTES_PER_MS * 20, 320);
    assert_eq!(
        teler_core::audio::pcm16_bytes_in(twenty, SampleRate::Hz16000),
        640
    );
    assert_eq!(samples_in(twenty, SampleRate::Hz44100), 882);
}
