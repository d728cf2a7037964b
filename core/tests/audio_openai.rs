//! An OpenAI-Realtime-style voice agent (24 kHz PCM16 both ways) bridged to Teler (8 kHz)
//! with the ready-made `teler_core::openai` handlers, driven through a real `Bridge` with a
//! simulated clock. No network: the test plays both sockets.

use std::time::{Duration, Instant};

use teler_core::audio::{decode_b64_pcm16, encode_pcm16_b64};
use teler_core::media::{Bridge, BridgeConfig, Frame, OutFrame, Output, Side, StreamHandler};
use teler_core::openai;

fn tone(rate: u32, ms: u32, f: f64) -> Vec<i16> {
    (0..rate * ms / 1000)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin()) as i16)
        .collect()
}

fn b64(pcm: &[i16]) -> String {
    let mut s = String::new();
    encode_pcm16_b64(pcm, &mut s);
    s
}

fn sends(bridge: &mut Bridge<impl StreamHandler, impl StreamHandler>, side: Side) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(o) = bridge.poll_output() {
        if let Output::Send {
            side: s,
            frame: OutFrame::Text(t),
        } = o
            && s == side
        {
            v.push(t);
        }
    }
    v
}

#[test]
fn a_24k_agent_talks_to_an_8k_call() {
    let cfg = BridgeConfig::builder("wss://vendor.example/realtime")
        .build()
        .unwrap();
    let (call, remote) = openai::handlers();
    let mut bridge = Bridge::new(cfg, call, remote);
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);

    bridge.handle_teler_connected(t0);
    bridge.handle_teler_frame(
        t0,
        Frame::Text(br#"{"type":"start","call_id":"cs_1","data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#),
    );
    bridge.handle_remote_connected(at(30));
    let to_vendor = sends(&mut bridge, Side::Remote);
    assert_eq!(to_vendor, [openai::DEFAULT_SESSION_UPDATE]);

    // 20 ms of caller audio (160 samples at 8 kHz) reaches the vendor at 24 kHz.
    let frame = format!(
        r#"{{"type":"audio","stream_id":"s","message_id":2,"data":{{"audio_b64":"{}"}}}}"#,
        b64(&tone(8000, 20, 300.0))
    );
    bridge.handle_teler_frame(at(40), Frame::Text(frame.as_bytes()));
    let to_vendor = sends(&mut bridge, Side::Remote);
    assert_eq!(to_vendor.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&to_vendor[0]).unwrap();
    assert_eq!(v["type"], "input_audio_buffer.append");
    let mut pcm = Vec::new();
    decode_b64_pcm16(v["audio"].as_str().unwrap(), &mut pcm).unwrap();
    // 480 samples minus the resampler's look-ahead (about 6 ms), which comes out with the
    // next frame.
    assert!(pcm.len() > 300 && pcm.len() < 480, "{}", pcm.len());

    // The agent answers: 1.2 s of 24 kHz audio in 50 ms deltas.
    let answer = tone(24000, 1200, 440.0);
    let mut to_teler = Vec::new();
    for (i, d) in answer.chunks(1200).enumerate() {
        let ev = format!(
            r#"{{"type":"response.output_audio.delta","delta":"{}"}}"#,
            b64(d)
        );
        bridge.handle_remote_frame(at(100 + i as u64 * 10), Frame::Text(ev.as_bytes()));
        to_teler.extend(sends(&mut bridge, Side::Teler));
    }
    assert_eq!(to_teler.len(), 2); // two whole 500 ms chunks; 200 ms held
    bridge.handle_remote_frame(at(400), Frame::Text(br#"{"type":"response.done"}"#));
    to_teler.extend(sends(&mut bridge, Side::Teler));

    let mut total = 0;
    for (i, m) in to_teler.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        assert_eq!(v["type"], "audio");
        assert_eq!(v["chunk_id"], i as u64 + 1);
        let mut pcm = Vec::new();
        decode_b64_pcm16(v["audio_b64"].as_str().unwrap(), &mut pcm).unwrap();
        total += pcm.len();
    }
    assert_eq!(to_teler.len(), 3);
    assert_eq!(total, 9600); // 1.2 s at 8 kHz, exactly

    // Barge-in: the agent starts talking again, the caller interrupts.
    let ev = format!(
        r#"{{"type":"response.output_audio.delta","delta":"{}"}}"#,
        b64(&answer[..7200])
    );
    bridge.handle_remote_frame(at(500), Frame::Text(ev.as_bytes()));
    assert!(sends(&mut bridge, Side::Teler).is_empty()); // 300 ms held, not sent
    bridge.handle_remote_frame(
        at(520),
        Frame::Text(br#"{"type":"input_audio_buffer.speech_started"}"#),
    );
    assert_eq!(sends(&mut bridge, Side::Teler), [r#"{"type":"clear"}"#]);
    bridge.handle_remote_frame(at(600), Frame::Text(br#"{"type":"response.done"}"#));
    assert!(sends(&mut bridge, Side::Teler).is_empty()); // the held 300 ms were dropped
}
