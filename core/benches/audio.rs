//! Audio throughput: each iteration converts one second of audio, fed in 20 ms chunks as a
//! stream would be, so "x real time" = 1 s / time per iteration.
//!
//! `cargo bench -p teler-core --bench audio`; medians are in
//! `target/criterion/<group>/<name>/new/estimates.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use teler_core::audio::{
    AudioFormat, Packetiser, PacketiserConfig, Resampler, SampleRate, decode_b64_pcm16,
    encode_pcm16_b64, g711,
};

/// One second of a speech-band signal (two tones and a little noise) at `rate`.
fn signal(rate: SampleRate) -> Vec<i16> {
    let fs = rate.hz() as f64;
    let mut seed = 0x2545_f491u32;
    (0..rate.hz())
        .map(|i| {
            let t = i as f64 / fs;
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 2001) as f64 - 1000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                + 6000.0 * (2.0 * std::f64::consts::PI * 2300.0 * t).sin()
                + noise) as i16
        })
        .collect()
}

fn resample(c: &mut Criterion) {
    let mut g = c.benchmark_group("resample_1s");
    use SampleRate::*;
    for (from, to) in [
        (Hz24000, Hz8000),
        (Hz16000, Hz8000),
        (Hz48000, Hz8000),
        (Hz44100, Hz8000),
        (Hz8000, Hz16000),
        (Hz8000, Hz24000),
        (Hz8000, Hz48000),
        (Hz44100, Hz48000),
    ] {
        let input = signal(from);
        let chunk = from.hz() as usize / 50;
        let mut rs = Resampler::new(from, to);
        let mut out = Vec::with_capacity(to.hz() as usize + 64);
        g.bench_function(format!("{}_to_{}", from.hz(), to.hz()), |b| {
            b.iter(|| {
                out.clear();
                for c in input.chunks(chunk) {
                    rs.process(black_box(c), &mut out);
                }
                black_box(&out);
            })
        });
    }
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec_1s_8k");
    let pcm = signal(SampleRate::Hz8000);
    let mut b64 = String::new();
    encode_pcm16_b64(&pcm, &mut b64);
    let mut codes = Vec::new();
    g711::ulaw_encode_into(&pcm, &mut codes);
    g.bench_function("pcm16_to_base64", |b| {
        let mut s = String::with_capacity(b64.len());
        b.iter(|| {
            s.clear();
            encode_pcm16_b64(black_box(&pcm), &mut s);
            black_box(&s);
        })
    });
    g.bench_function("base64_to_pcm16", |b| {
        let mut v = Vec::with_capacity(pcm.len());
        b.iter(|| {
            v.clear();
            decode_b64_pcm16(black_box(&b64), &mut v).unwrap();
            black_box(&v);
        })
    });
    g.bench_function("ulaw_encode", |b| {
        let mut v = Vec::with_capacity(pcm.len());
        b.iter(|| {
            v.clear();
            g711::ulaw_encode_into(black_box(&pcm), &mut v);
            black_box(&v);
        })
    });
    g.bench_function("ulaw_decode", |b| {
        let mut v = Vec::with_capacity(pcm.len());
        b.iter(|| {
            v.clear();
            g711::ulaw_decode_into(black_box(&codes), &mut v);
            black_box(&v);
        })
    });
    g.bench_function("alaw_encode", |b| {
        let mut v = Vec::with_capacity(pcm.len());
        b.iter(|| {
            v.clear();
            g711::alaw_encode_into(black_box(&pcm), &mut v);
            black_box(&v);
        })
    });
    g.finish();
}

fn packetiser(c: &mut Criterion) {
    // The whole outbound path: 24 kHz base64 deltas (40 ms each) -> 500 ms Teler messages.
    let mut g = c.benchmark_group("packetiser_1s");
    let pcm = signal(SampleRate::Hz24000);
    let deltas: Vec<String> = pcm
        .chunks(960)
        .map(|c| {
            let mut s = String::new();
            encode_pcm16_b64(c, &mut s);
            s
        })
        .collect();
    g.bench_function("b64_24k_to_teler_messages", |b| {
        let cfg = PacketiserConfig::new(AudioFormat::pcm16(SampleRate::Hz24000));
        let mut p = Packetiser::new(cfg).unwrap();
        b.iter(|| {
            for d in &deltas {
                p.push_b64(black_box(d)).unwrap();
                while let Some(m) = p.pop_ready() {
                    black_box(m);
                }
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = resample, codecs, packetiser
}
criterion_main!(benches);
