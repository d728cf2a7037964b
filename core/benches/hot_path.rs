//! The media hot path: one Teler audio frame through parse -> the seed's ElevenLabs call
//! handler -> serialise, and one agent audio event through the seed's remote handler, for
//! 20 ms and 500 ms frames at 8 kHz. Measured through the `Bridge` (what an adapter runs per
//! frame: size and UTF-8 checks, parse once, handler, output) and, for comparison, through
//! the handlers' text-in/text-out form (the Python SDK's handler shape, which parses again).
//!
//! Run: `cargo bench -p teler-core --bench hot_path`.

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use teler_core::elevenlabs;
use teler_core::media::{Bridge, BridgeConfig, Frame, Output};

fn payload(ms: usize) -> String {
    // 8 kHz PCM16 mono = 16 bytes per ms; a quiet ramp, like real audio not all zeros.
    let pcm: Vec<u8> = (0..ms * 8)
        .flat_map(|i| ((i as i16 % 200) - 100).to_le_bytes())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(pcm)
}

fn teler_frame(ms: usize) -> String {
    format!(
        r#"{{"type":"audio","stream_id":"2f1c7a2e-5b7d-4c43-9b1e-3f4a5c6d7e8f","message_id":1234,"data":{{"audio_b64":"{}"}}}}"#,
        payload(ms)
    )
}

fn agent_frame(ms: usize) -> String {
    format!(
        r#"{{"type":"audio","audio_event":{{"audio_base_64":"{}","event_id":42}}}}"#,
        payload(ms)
    )
}

fn bench(c: &mut Criterion) {
    for ms in [20usize, 500] {
        let tf = teler_frame(ms);
        let af = agent_frame(ms);
        let mut g = c.benchmark_group(format!("{ms}ms"));

        let cfg = BridgeConfig::builder("wss://agent.example/ws")
            .build()
            .unwrap();
        let mut bridge = Bridge::new(
            cfg,
            elevenlabs::call_handler(),
            elevenlabs::remote_handler(),
        );
        let t = Instant::now();
        bridge.handle_teler_connected(t);
        bridge.handle_remote_connected(t);
        while bridge.poll_output().is_some() {}

        g.throughput(Throughput::Bytes(tf.len() as u64));
        g.bench_function("teler_to_remote/bridge", |b| {
            b.iter(|| {
                bridge.handle_teler_frame(t, Frame::Text(black_box(tf.as_bytes())));
                match bridge.poll_output() {
                    Some(Output::Send { frame, .. }) => black_box(frame),
                    other => panic!("unexpected {other:?}"),
                };
            })
        });
        g.throughput(Throughput::Bytes(af.len() as u64));
        g.bench_function("remote_to_teler/bridge", |b| {
            b.iter(|| {
                bridge.handle_remote_frame(t, Frame::Text(black_box(af.as_bytes())));
                match bridge.poll_output() {
                    Some(Output::Send { frame, .. }) => black_box(frame),
                    other => panic!("unexpected {other:?}"),
                };
            })
        });

        let mut call = elevenlabs::call_handler();
        let mut remote = elevenlabs::remote_handler();
        g.throughput(Throughput::Bytes(tf.len() as u64));
        g.bench_function("teler_to_remote/text_handler", |b| {
            b.iter(|| black_box(call.handle_text(black_box(&tf)).unwrap()))
        });
        g.throughput(Throughput::Bytes(af.len() as u64));
        g.bench_function("remote_to_teler/text_handler", |b| {
            b.iter(|| black_box(remote.handle_text(black_box(&af)).unwrap()))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
