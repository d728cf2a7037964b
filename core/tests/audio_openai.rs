//! An OpenAI-Realtime-style voice agent (24 kHz PCM16 both ways) bridged to Teler (8 kHz),
//! built from the audio helpers and driven through a real `Bridge` with a simulated clock.
//! No network: the test plays both sockets.

use std::time::{Duration, Instant};

use teler_core::audio::{
    InboundAudio, OutboundAudio, SampleRate, VendorEvent, decode_b64_pcm16, encode_pcm16_b64,
};
use teler_core::media::{
    Bridge, BridgeConfig, Frame, HandlerError, Message, OutFrame, Outbox, Output, Side,
    StreamHandler, StreamOp, TelerMessage,
};

/// Call side: greets the vendor with its session config, then turns caller audio (Teler's
/// 8 kHz) into `input_audio_buffer.append` at 24 kHz.
struct CallSide {
    audio: InboundAudio,
}

impl StreamHandler for CallSide {
    fn handle(&mut self, m: &Message<'_>, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        let Some(TelerMessage::Audio(a)) = m.teler() else {
            return Ok(StreamOp::Pass);
        };
        let mut msg = String::from(r#"{"type":"input_audio_buffer.append","audio":""#);
        self.audio.convert_b64(&a.audio_b64, &mut msg)?;
        msg.push_str(r#""}"#);
        out.send(msg);
        Ok(StreamOp::Relay)
    }

    fn on_remote_connected(&mut self, out: &mut Outbox) -> Result<(), HandlerError> {
        out.send(r#"{"type":"session.update","session":{"audio":{"input":{"format":{"type":"audio/pcm","rate":24000}}}}}"#.into());
        Ok(())
    }
}

/// Remote side: the vendor's events, classified; the packetiser does the audio.
fn remote_side() -> impl StreamHandler {
    OutboundAudio::pcm16(SampleRate::Hz24000, |text: &str| {
        let v: serde_json::Value = serde_json::from_str(text)?;
        Ok(match v["type"].as_str().unwrap_or_default() {
            "response.output_audio.delta" | "response.audio.delta" => {
                let delta = v["delta"]
                    .as_str()
                    .ok_or_else(|| HandlerError::msg("audio delta without \"delta\""))?;
                VendorEvent::Audio(delta.to_owned().into())
            }
            "input_audio_buffer.speech_started" => VendorEvent::Clear,
            "response.done" => VendorEvent::Flush,
            _ => VendorEvent::Ignore,
        })
    })
    .unwrap()
}

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

fn sends(bridge: &mut Bridge<CallSide, impl StreamHandler>, side: Side) -> Vec<String> {
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
    let call = CallSide {
        audio: InboundAudio::new(SampleRate::Hz8000, SampleRate::Hz24000),
    };
    let mut bridge = Bridge::new(cfg, call, remote_side());
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);

    bridge.handle_teler_connected(t0);
    bridge.handle_teler_frame(
        t0,
        Frame::Text(br#"{"type":"start","call_id":"cs_1","data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#),
    );
    bridge.handle_remote_connected(at(30));
    let to_vendor = sends(&mut bridge, Side::Remote);
    assert!(to_vendor[0].contains("session.update"));

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
