//! The outbound packetiser: sizes, ids, flush, clear, interrupt, pacing, errors.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use teler_core::audio::{
    AudioError, AudioFormat, Pacing, Packetiser, PacketiserConfig, Resampler, SampleRate,
    decode_b64_pcm16, encode_pcm16_b64, g711,
};

/// A Teler `audio` message, read back.
fn read(msg: &str) -> (Vec<i16>, u64) {
    let v: serde_json::Value = serde_json::from_str(msg).unwrap();
    assert_eq!(v["type"], "audio", "{msg}");
    assert_eq!(v.as_object().unwrap().len(), 3, "{msg}");
    let mut pcm = Vec::new();
    decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut pcm).unwrap();
    (pcm, v["chunk_id"].as_u64().unwrap())
}

fn drain(p: &mut Packetiser) -> Vec<(Vec<i16>, u64)> {
    let now = Instant::now();
    std::iter::from_fn(|| p.poll_output(now))
        .map(|m| read(&m))
        .collect()
}

fn b64(pcm: &[i16]) -> String {
    let mut s = String::new();
    encode_pcm16_b64(pcm, &mut s);
    s
}

fn rate() -> impl Strategy<Value = SampleRate> {
    prop::sample::select(SampleRate::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the rate and however the vendor splits its audio, the messages carry the
    /// one-shot resampled audio exactly, in full-size chunks with consecutive ids and one
    /// shorter tail.
    #[test]
    fn messages_carry_exactly_the_resampled_audio(
        from in rate(),
        input in prop::collection::vec(any::<i16>(), 0..12_000),
        cuts in prop::collection::vec(0usize..12_000, 0..10),
        chunk_ms in 10u64..700,
        first_id in 0u64..1_000_000,
    ) {
        let cfg = PacketiserConfig::new(AudioFormat::pcm16(from))
            .chunk(Duration::from_millis(chunk_ms))
            .first_chunk_id(first_id);
        let mut p = Packetiser::new(cfg).unwrap();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let mut msgs = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([input.len()]) {
            p.push_b64(&b64(&input[prev..c])).unwrap();
            msgs.extend(drain(&mut p));
            prev = c;
        }
        p.finish();
        msgs.extend(drain(&mut p));
        prop_assert_eq!(p.held(), Duration::ZERO);

        let mut want = Vec::new();
        let mut rs = Resampler::new(from, SampleRate::Hz8000);
        rs.process(&input, &mut want);
        rs.flush(&mut want);

        let chunk = (chunk_ms * 8) as usize;
        let mut got = Vec::new();
        for (i, (pcm, id)) in msgs.iter().enumerate() {
            prop_assert_eq!(*id, first_id + i as u64);
            if i + 1 < msgs.len() {
                prop_assert_eq!(pcm.len(), chunk);
            } else {
                prop_assert!(!pcm.is_empty() && pcm.len() <= chunk);
            }
            got.extend_from_slice(pcm);
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(p.next_chunk_id(), first_id + msgs.len() as u64);
    }

    /// G.711 input, base64 or raw, is decoded exactly (8 kHz in, 8 kHz out: no resampling).
    #[test]
    fn g711_input_decodes_exactly(codes in prop::collection::vec(any::<u8>(), 1..9000), alaw: bool) {
        let fmt = if alaw { AudioFormat::ALAW_8K } else { AudioFormat::MULAW_8K };
        let mut want = Vec::new();
        if alaw { g711::alaw_decode_into(&codes, &mut want) } else { g711::ulaw_decode_into(&codes, &mut want) }
        for raw in [false, true] {
            let mut p = Packetiser::new(PacketiserConfig::new(fmt)).unwrap();
            if raw {
                p.push_bytes(&codes).unwrap();
            } else {
                use base64::Engine as _;
                p.push_b64(&base64::engine::general_purpose::STANDARD.encode(&codes)).unwrap();
            }
            p.finish();
            let got: Vec<i16> = drain(&mut p).into_iter().flat_map(|(pcm, _)| pcm).collect();
            prop_assert_eq!(&got, &want);
        }
    }
}

#[test]
fn half_second_chunks_by_default() {
    let mut p = Packetiser::new(PacketiserConfig::new(AudioFormat::pcm16(
        SampleRate::Hz24000,
    )))
    .unwrap();
    p.push_samples(&vec![100; 24000 * 3 / 4]).unwrap(); // 750 ms
    let m = drain(&mut p);
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].0.len(), m[0].1), (4000, 1)); // 500 ms = 4000 samples = 8000 bytes
    assert!(p.held() >= Duration::from_millis(240)); // the rest waits for more audio
    p.finish();
    let m = drain(&mut p);
    assert_eq!((m.len(), m[0].0.len(), m[0].1), (1, 2000, 2));
}

#[test]
fn clear_drops_everything_held_and_ids_keep_increasing() {
    let mut p = Packetiser::new(PacketiserConfig::new(AudioFormat::TELER_OUTBOUND)).unwrap();
    p.push_samples(&[7; 9000]).unwrap(); // two chunks ready, 1000 samples pending
    assert_eq!(p.ready_len(), 2);
    assert_eq!(p.clear(), r#"{"type":"clear"}"#);
    assert_eq!(p.held(), Duration::ZERO);
    p.finish();
    assert!(drain(&mut p).is_empty());
    p.push_samples(&[1; 4000]).unwrap();
    assert_eq!(drain(&mut p)[0].1, 3);
}

#[test]
fn interrupt_drops_a_held_chunk_or_tells_teler() {
    let mut p = Packetiser::new(PacketiserConfig::new(AudioFormat::TELER_OUTBOUND)).unwrap();
    p.push_samples(&[7; 12000]).unwrap(); // chunks 1, 2, 3
    let first = p.pop_ready().unwrap();
    assert!(first.ends_with(r#""chunk_id":1}"#));
    assert_eq!(p.interrupt(2), None); // still here: dropped locally
    assert_eq!(
        p.interrupt(1).as_deref(),
        Some(r#"{"type":"interrupt","chunk_id":1}"#)
    );
    let rest = drain(&mut p);
    assert_eq!(rest.iter().map(|m| m.1).collect::<Vec<_>>(), [3]);
    assert_eq!(p.held(), Duration::ZERO);
}

#[test]
fn bad_input_is_a_typed_error_and_takes_nothing() {
    let mut p = Packetiser::new(PacketiserConfig::new(AudioFormat::pcm16(
        SampleRate::Hz16000,
    )))
    .unwrap();
    p.push_samples(&[1; 100]).unwrap();
    let held = p.held();
    assert_eq!(p.push_bytes(&[1, 2, 3]), Err(AudioError::OddByteCount(3)));
    assert_eq!(p.push_b64("AAAA"), Err(AudioError::OddByteCount(3)));
    assert!(matches!(p.push_b64("AA*A"), Err(AudioError::Base64(_))));
    assert!(matches!(p.push_b64("AAA=AAA="), Err(AudioError::Base64(_))));
    assert_eq!(p.held(), held);

    for bad in [
        Duration::ZERO,
        Duration::from_millis(9),
        Duration::from_secs(11),
    ] {
        assert_eq!(
            Packetiser::new(PacketiserConfig::new(AudioFormat::TELER_OUTBOUND).chunk(bad))
                .unwrap_err(),
            AudioError::InvalidChunkDuration(bad)
        );
    }
    assert_eq!(
        SampleRate::from_hz(22050),
        Err(AudioError::UnsupportedRate(22050))
    );
    assert_eq!(SampleRate::try_from(44100), Ok(SampleRate::Hz44100));
}

#[test]
fn memory_is_bounded() {
    let cfg =
        PacketiserConfig::new(AudioFormat::TELER_OUTBOUND).max_buffered(Duration::from_secs(2));
    let mut p = Packetiser::new(cfg).unwrap();
    p.push_samples(&[0; 15000]).unwrap();
    let err = p.push_samples(&[0; 1001]).unwrap_err();
    assert_eq!(
        err,
        AudioError::BufferFull {
            held: 16001,
            limit: 16000
        }
    );
    assert!(err.to_string().contains("max_buffered"));
    assert_eq!(p.held(), Duration::from_millis(1875)); // refused push took nothing
    p.push_samples(&[0; 1000]).unwrap();
    drain(&mut p);
    p.push_samples(&[0; 8000]).unwrap(); // draining frees room
}

/// A driver loop with a simulated clock: 10 s of audio arrive at once; the paced
/// packetiser keeps Teler's estimated queue within `lead` + one chunk, sends everything,
/// and a barge-in finds at most that much queued at Teler.
#[test]
fn pacing_keeps_teler_queue_short() {
    let lead = Duration::from_millis(300);
    let cfg = PacketiserConfig::new(AudioFormat::pcm16(SampleRate::Hz16000))
        .pacing(Some(Pacing { lead }));
    let mut p = Packetiser::new(cfg).unwrap();
    p.push_samples(&vec![5; 160_000]).unwrap();
    p.finish();

    let t0 = Instant::now();
    let mut now = t0;
    let mut sent: Vec<(Instant, u64)> = Vec::new();
    let mut queue_end = t0; // when Teler finishes what it has (the model the test checks)
    loop {
        while let Some(m) = p.poll_output(now) {
            let (pcm, id) = read(&m);
            let start = queue_end.max(now);
            assert!(
                start - now <= lead,
                "chunk {id} sent with {:?} queued",
                start - now
            );
            queue_end = start + Duration::from_micros(pcm.len() as u64 * 125);
            sent.push((now, id));
        }
        match p.poll_timeout() {
            Some(t) => {
                assert!(t > now, "a deadline in the past would spin the driver");
                now = t;
            }
            None => break,
        }
    }
    assert_eq!(sent.len(), 20);
    assert!(sent.windows(2).all(|w| w[1].1 == w[0].1 + 1));
    // Nothing waits needlessly: playback is continuous, ending exactly 10 s after start.
    assert_eq!(queue_end - t0, Duration::from_secs(10));
    // The last chunk goes out `lead` before the queue drains to it: sends are spread out.
    assert_eq!(sent[19].0 - t0, Duration::from_millis(9500) - lead);
    assert_eq!(p.poll_output(now + Duration::from_secs(60)), None);
}

#[test]
fn unpaced_packetiser_has_no_deadlines() {
    let mut p = Packetiser::new(PacketiserConfig::new(AudioFormat::TELER_OUTBOUND)).unwrap();
    p.push_samples(&[0; 20_000]).unwrap();
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(drain(&mut p).len(), 5);
}

/// With pacing, interrupting a chunk Teler has queued but not started shortens the
/// play-out estimate: the next chunk goes out at once, so playback has no gap.
#[test]
fn paced_interrupt_closes_the_gap() {
    let cfg = PacketiserConfig::new(AudioFormat::TELER_OUTBOUND).pacing(Some(Pacing::default()));
    let mut p = Packetiser::new(cfg).unwrap();
    p.push_samples(&[3; 16_000]).unwrap(); // four 500 ms chunks
    let t0 = Instant::now();
    assert!(p.poll_output(t0).is_some()); // 1 plays 0..500 ms
    assert!(p.poll_output(t0).is_some()); // 2 queued, 500..1000 ms
    assert_eq!(p.poll_output(t0), None);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    // Chunk 1 is playing: interrupting it tells Teler but changes no estimate.
    let later = t0 + Duration::from_millis(100);
    assert_eq!(p.poll_output(later), None);
    assert!(p.interrupt(1).is_some());
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    // Chunk 2 has not started: Teler drops it and chunk 3 may go now.
    assert_eq!(
        p.interrupt(2).as_deref(),
        Some(r#"{"type":"interrupt","chunk_id":2}"#)
    );
    assert_eq!(p.poll_timeout(), Some(t0));
    assert!(p.poll_output(later).unwrap().ends_with(r#""chunk_id":3}"#));
    // 3 now plays 500..1000 ms; 4 waits for 500 ms.
    assert_eq!(p.poll_output(later), None);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_millis(500)));
    // Unknown or long-finished ids: just the message for Teler.
    assert!(p.interrupt(99).is_some());
}

#[test]
fn formats_from_names_and_start_frames() {
    use teler_core::audio::Encoding;
    use teler_core::media::MediaFormat;
    for (name, want) in [
        ("audio/l16", Encoding::Pcm16),
        ("PCM16", Encoding::Pcm16),
        ("audio/L16;rate=16000", Encoding::Pcm16),
        ("g711_ulaw", Encoding::MuLaw),
        ("audio/x-mulaw", Encoding::MuLaw),
        ("pcma", Encoding::ALaw),
    ] {
        assert_eq!(Encoding::from_name(name), Ok(want), "{name}");
    }
    assert_eq!(
        Encoding::from_name("opus"),
        Err(AudioError::UnsupportedEncoding("opus".into()))
    );
    let f = |encoding: Option<&str>, rate: Option<u32>, channels: Option<u16>| MediaFormat {
        encoding: encoding.map(str::to_owned),
        sample_rate: rate,
        channels,
    };
    assert_eq!(
        AudioFormat::from_teler(&f(None, None, None)),
        Ok(AudioFormat::TELER_OUTBOUND)
    );
    assert_eq!(
        AudioFormat::from_teler(&f(Some("audio/x-mulaw"), Some(8000), Some(1))),
        Ok(AudioFormat::MULAW_8K)
    );
    assert_eq!(
        AudioFormat::from_teler(&f(None, Some(11025), None)),
        Err(AudioError::UnsupportedRate(11025))
    );
    assert_eq!(
        AudioFormat::from_teler(&f(None, None, Some(2))),
        Err(AudioError::UnsupportedChannels(2))
    );
}
