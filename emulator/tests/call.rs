//! Whole calls against a local test app: frames (docs/PROTOCOL.md#media-stream), webhooks
//! (docs/PROTOCOL.md#webhooks),
//! the output WAV and errors in the call state.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use common::{AppMode, LIMIT, TestApp, start_app};
use serde_json::{Value, json};
use teler_emulator::{Call, CallRequest, Emulator, EmulatorHandle, Pcm, WebhookVersion};

fn out_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("teler-emu-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

async fn run_call(e: &EmulatorHandle, app: &TestApp) -> Call {
    let c = e.place_call(CallRequest {
        from_number: "+14155550100".into(),
        to_number: "+14155550199".into(),
        flow_url: format!("{}/flow", app.http_base),
        status_callback_url: Some(format!("{}/hooks", app.http_base)),
        record: true,
    });
    e.wait_for_call_end(&c.id).await.unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| (*s).to_owned()).collect()
}

fn decode(b64: &str) -> Vec<i16> {
    let b = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Checks the signature independently of the emulator's code.
fn check_signature(secret: &str, headers: &axum::http::HeaderMap, body: &[u8]) {
    use hmac::{Hmac, KeyInit, Mac};
    let ts = headers["x-teler-timestamp"].to_str().unwrap();
    let sig = headers["x-teler-signature"].to_str().unwrap();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sig, want);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(ts.parse::<u64>().unwrap().abs_diff(now) < 60);
}

#[tokio::test]
async fn echo_call_frames_webhooks_and_output() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":200,"sample_rate":"8k"}"#,
            AppMode::Echo,
        )
        .await;
        let dir = out_dir("echo");
        let e = Emulator::builder()
            .webhook_version(WebhookVersion::V2025_08_01)
            .secret("whsec_test")
            // Real time: the last echo must come back within a frame (200 ms) of the last
            // caller frame to be played, and the first within 200 ms to be where it is looked
            // for below; at 5x speed those were 40 ms and 20 ms of a busy machine's time.
            .speed(1.0)
            .call_duration(Duration::from_secs(2))
            .output_dir(&dir)
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let call = run_call(&e, &app).await;
        assert_eq!(call.state.as_str(), "completed", "{:?}", call.errors);
        assert_eq!(call.reason.as_deref(), Some("call_duration_elapsed"));
        assert!(call.errors.is_empty(), "{:?}", call.errors);

        let seen = app.seen.lock().unwrap();
        // The flow request.
        let fr = &seen.flow_requests[0];
        assert_eq!(
            keys(fr),
            set(&[
                "call_id",
                "account_id",
                "from_number",
                "to_number",
                "direction"
            ])
        );
        assert_eq!(fr["call_id"], call.id.as_str());
        assert_eq!(fr["direction"], "outbound");
        let parsed = teler_core::webhook::FlowRequest::from_value(fr.clone()).unwrap();
        assert_eq!(parsed.call_id, call.id);
        assert_eq!(fr["to_number"], "+14155550199");
        assert_eq!(
            seen.ws_query.as_deref(),
            Some("token=abc"),
            "the ws_url query is kept"
        );

        // Frames: start first, then audio with increasing message_id and 200 ms of PCM.
        let frames: Vec<Value> = seen
            .frames
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        let start = &frames[0];
        assert_eq!(
            keys(start),
            set(&[
                "type",
                "account_id",
                "call_app_id",
                "call_id",
                "stream_id",
                "message_id",
                "data"
            ])
        );
        assert_eq!(start["type"], "start");
        // By default the socket's call_id differs in form from the REST id
        // (docs/PROTOCOL.md#teler-to-app-start): a UUID here, `cs_…` on REST, in the flow request
        // and in webhooks.
        let socket_id = start["call_id"].as_str().unwrap();
        assert_ne!(socket_id, call.id);
        assert_eq!(socket_id.len(), 36, "{socket_id}");
        assert_eq!(socket_id.matches('-').count(), 4, "{socket_id}");
        assert_eq!(call.media.socket_call_id.as_deref(), Some(socket_id));
        assert_eq!(
            start["data"],
            json!({"encoding":"audio/l16","sample_rate":8000,"channels":1})
        );
        let stream_id = start["stream_id"].as_str().unwrap();
        let audio = &frames[1..];
        assert_eq!(audio.len(), 10, "2 s of 200 ms frames");
        let tone = Pcm::tone(8000, 440.0, 6000, 1000).samples;
        let mut last = start["message_id"].as_u64().unwrap();
        for (i, f) in audio.iter().enumerate() {
            assert_eq!(keys(f), set(&["type", "stream_id", "message_id", "data"]));
            assert_eq!(f["type"], "audio");
            assert_eq!(f["stream_id"], stream_id);
            let id = f["message_id"].as_u64().unwrap();
            assert_eq!(id, last + 1);
            last = id;
            let b64 = f["data"]["audio_b64"].as_str().unwrap();
            assert_eq!(
                b64.len(),
                4268,
                "3200 bytes of PCM -> 4268 base64 chars (padded)"
            );
            let pcm = decode(b64);
            let off = (i * 1600) % 8000;
            assert_eq!(
                pcm,
                tone[off..off + 1600],
                "frame {i} is the next 200 ms of the tone"
            );
        }

        // Webhooks: all six, in order, flat shape, signed.
        let types: Vec<String> = seen
            .webhooks
            .iter()
            .map(|(_, b)| {
                let v: Value = serde_json::from_slice(b).unwrap();
                assert_eq!(v["account_id"], call.account_id.as_str());
                assert_eq!(v["data"]["call_id"], call.id.as_str());
                v["event"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(
            types,
            [
                "call.initiated",
                "call.ringing",
                "call.answered",
                "stream.initiated",
                "stream.completed",
                "call.completed"
            ]
        );
        let verifier = teler_core::webhook::Verifier::new(
            teler_core::webhook::WebhookSecret::new("whsec_test").unwrap(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        for (h, b) in &seen.webhooks {
            check_signature("whsec_test", h, b);
            // What an SDK user's receiver does with it.
            let pairs = h
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()));
            let ev = verifier.verify(pairs, b, now).unwrap();
            assert_eq!(ev.version, teler_core::webhook::ApiVersion::V2025_08_01);
            assert_eq!(ev.call_id.as_deref(), Some(call.id.as_str()));
        }
        let done: Value = serde_json::from_slice(&seen.webhooks[5].1).unwrap();
        assert!(done["data"]["duration"].is_u64());
        assert!(done["data"]["hangup_time"].is_string());

        // The output WAV holds the echoed tone on the call's timeline.
        assert_eq!(call.media.audio_chunks, 10);
        assert!(call.media.played_ms >= 1000, "{:?}", call.media);
        let wav = Pcm::read(std::path::Path::new(
            call.media.output_wav.as_ref().unwrap(),
        ))
        .unwrap();
        assert_eq!(wav.sample_rate, 8000);
        assert!(
            (15_000..=17_000).contains(&wav.samples.len()),
            "{}",
            wav.samples.len()
        );
        let needle = &tone[1..801];
        let at = wav
            .samples
            .windows(800)
            .position(|w| w == needle)
            .expect("the echoed tone is in the output");
        assert!(
            at < 1600,
            "played within 200 ms of the call's start, at sample {at}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn clear_drops_queued_audio_16k_envelope_webhooks() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":500,"sample_rate":"16k"}"#,
            AppMode::QueueThenClear,
        )
        .await;
        let dir = out_dir("clear");
        let e = Emulator::builder()
            .socket_call_id(teler_emulator::SocketCallId::SameAsRest)
            // At 2x, a 150 ms difference between the app's two answers moves the clear by
            // 300 ms on the call's timeline (at 10x it was 1.5 s).
            .speed(2.0)
            .call_duration(Duration::from_secs(3))
            .output_dir(&dir)
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let call = run_call(&e, &app).await;
        assert_eq!(call.state.as_str(), "completed", "{:?}", call.errors);
        assert_eq!(call.media.clears, 1);
        assert_eq!(call.media.audio_chunks, 3);
        // The clear came with the 2nd caller frame (500 ms in): about 500 ms played, the
        // rest of the 3 s queued dropped.
        assert!(
            (200..=1500).contains(&call.media.played_ms),
            "{:?}",
            call.media
        );
        assert_eq!(
            call.media.played_ms + call.media.dropped_ms,
            3000,
            "{:?}",
            call.media
        );
        let wav = Pcm::read(std::path::Path::new(
            call.media.output_wav.as_ref().unwrap(),
        ))
        .unwrap();
        let loud = wav.samples.iter().filter(|s| **s == 4000).count() as u64;
        assert_eq!(loud, call.media.played_ms * 8);
        assert!(
            wav.samples[wav.samples.len() - 8000..]
                .iter()
                .all(|s| *s == 0),
            "silence after the clear"
        );

        let seen = app.seen.lock().unwrap();
        let start: Value = serde_json::from_str(&seen.frames[0]).unwrap();
        assert_eq!(start["data"]["sample_rate"], 16000);
        assert_eq!(
            start["call_id"],
            call.id.as_str(),
            "SocketCallId::SameAsRest"
        );
        let a: Value = serde_json::from_str(&seen.frames[1]).unwrap();
        assert_eq!(
            decode(a["data"]["audio_b64"].as_str().unwrap()).len(),
            8000,
            "500 ms at 16 kHz"
        );
        let hooks: Vec<Value> = seen
            .webhooks
            .iter()
            .map(|(h, b)| {
                assert!(
                    h.get("x-teler-signature").is_none(),
                    "unsigned without a secret"
                );
                serde_json::from_slice(b).unwrap()
            })
            .collect();
        let types: Vec<&str> = hooks.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "call.initiated",
                "call.ringing",
                "call.answered",
                "stream.initiated",
                "stream.completed",
                "call.completed"
            ]
        );
        for (h, (_, raw)) in hooks.iter().zip(&seen.webhooks) {
            let ev = teler_core::webhook::WebhookEvent::from_json(raw).unwrap();
            assert_eq!(ev.version, teler_core::webhook::ApiVersion::V2026_06_01);
            assert_eq!(ev.event_type(), h["type"].as_str().unwrap());
            assert_eq!(ev.leg_id.as_deref(), Some(call.legs[0].id.as_str()));
            assert_eq!(h["api_version"], "2026-06-01");
            assert!(h["id"].as_str().unwrap().starts_with("evt_"));
            assert_eq!(h["call_id"], call.id.as_str());
            assert_eq!(h["leg_id"], call.legs[0].id.as_str());
            assert!(h["occurred_at"].is_string());
        }
        let ids: BTreeSet<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 6, "event ids are unique");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn interrupt_drops_one_chunk() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":500}"#,
            AppMode::QueueThenInterrupt,
        )
        .await;
        let dir = out_dir("interrupt");
        let e = Emulator::builder()
            // Chunks 1 and 3 (2 s) play in full if they arrive within 1 s of call time of the
            // start: 500 ms of the machine's time at 2x.
            .speed(2.0)
            .call_duration(Duration::from_secs(3))
            .output_dir(&dir)
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let call = run_call(&e, &app).await;
        assert_eq!(call.media.interrupts, 1);
        assert_eq!(call.media.played_ms, 2000, "{:?}", call.media);
        assert_eq!(call.media.dropped_ms, 1000, "{:?}", call.media);
        let wav = Pcm::read(std::path::Path::new(
            call.media.output_wav.as_ref().unwrap(),
        ))
        .unwrap();
        let count = |v: i16| wav.samples.iter().filter(|s| **s == v).count();
        assert_eq!((count(1000), count(2000), count(3000)), (8000, 0, 8000));
        let first = wav.samples.iter().position(|s| *s == 1000).unwrap();
        let third = wav.samples.iter().position(|s| *s == 3000).unwrap();
        assert_eq!(third, first + 8000, "chunk 3 follows chunk 1 directly");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}

/// An emulator whose calls outlast anything a test app does: a stream ends when the app
/// closes it, never by racing the call's own end. Real time, so an app's reaction a few
/// frames in is hundreds of milliseconds before the next frames, not a few.
async fn patient_emu() -> EmulatorHandle {
    Emulator::builder()
        .speed(1.0)
        .call_duration(Duration::from_secs(60))
        .http_timeout(Duration::from_secs(2))
        .log(false)
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

/// For calls that end by themselves at once (flow errors, a refused `ws_url`, actions other
/// than `stream`).
async fn quick_emu() -> EmulatorHandle {
    Emulator::builder()
        .speed(20.0)
        .call_duration(Duration::from_secs(2))
        .http_timeout(Duration::from_secs(2))
        .log(false)
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

#[tokio::test]
async fn errors_are_recorded_in_the_call_state() {
    tokio::time::timeout(LIMIT, async {
        let e = quick_emu().await;

        let app = start_app(r#"{"action":"stream","ws_url":"{WS}""#, AppMode::Echo).await;
        let c = run_call(&e, &app).await;
        assert_eq!(c.state.as_str(), "failed");
        assert_eq!(c.reason.as_deref(), Some("flow_error"));
        assert!(c.errors[0].contains("invalid action"), "{:?}", c.errors);

        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":30}"#,
            AppMode::Echo,
        )
        .await;
        let c = run_call(&e, &app).await;
        assert_eq!(c.reason.as_deref(), Some("flow_error"));
        assert!(c.errors[0].contains("chunk_size"), "{:?}", c.errors);

        let app = start_app(
            r#"{"action":"stream","ws_url":"ws://127.0.0.1:9/media"}"#,
            AppMode::Echo,
        )
        .await;
        let c = run_call(&e, &app).await;
        assert_eq!(c.state.as_str(), "failed");
        assert_eq!(c.reason.as_deref(), Some("ws_connect_failed"));
        assert!(
            c.errors[0].contains("cannot connect to ws://127.0.0.1:9/media"),
            "{:?}",
            c.errors
        );
        let seen = app.seen.lock().unwrap().webhooks.len();
        assert_eq!(seen, 4, "initiated, ringing, answered, completed");

        // The apps below end their streams themselves, after what they do.
        let e = patient_emu().await;

        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
            AppMode::BadFrame,
        )
        .await;
        let c = run_call(&e, &app).await;
        assert_eq!(c.state.as_str(), "completed");
        assert_eq!(c.media.bad_frames, 1);
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        assert!(c.errors[0].contains("nested under data"), "{:?}", c.errors);

        // chunk_id is an integer (docs/PROTOCOL.md#app-to-teler-audio): "1" is a bad frame,
        // not chunk 1.
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
            AppMode::StringChunkId,
        )
        .await;
        let c = run_call(&e, &app).await;
        assert_eq!(c.state.as_str(), "completed");
        assert_eq!(c.media.bad_frames, 2, "{:?}", c.errors);
        assert_eq!(c.media.audio_chunks, 1, "only the integer chunk is queued");
        assert_eq!(c.media.interrupts, 0);
        assert_eq!(c.errors.len(), 2, "{:?}", c.errors);
        for e in &c.errors {
            assert!(
                e.contains("chunk_id must be a non-negative JSON integer, got a string"),
                "{:?}",
                c.errors
            );
        }

        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
            AppMode::CloseAfter3,
        )
        .await;
        let placed_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let c = run_call(&e, &app).await;
        assert_eq!(c.state.as_str(), "completed");
        assert_eq!(c.reason.as_deref(), Some("stream_closed_by_app"));
        assert!(
            c.media.frames_sent < 10,
            "closed after 3 of 600 frames: {:?}",
            c.media
        );
        // When the app's close was read: after the call was placed, before the call ended.
        let ended_us = c.media.ended_unix_us.expect("the stream's end is timed");
        let ended_at = teler_emulator::util::parse_rfc3339(c.ended_at.as_deref().unwrap()).unwrap();
        assert!(
            placed_us <= ended_us && ended_us / 1000 <= ended_at,
            "placed {placed_us} us, stream ended {ended_us} us, call ended {ended_at} ms"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn play_hangup_and_dial_actions() {
    tokio::time::timeout(LIMIT, async {
        let e = quick_emu().await;
        let app = start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await;
        let c = run_call(&e, &app).await;
        assert_eq!(
            (c.state.as_str(), c.reason.as_deref()),
            ("completed", Some("flow_hangup"))
        );

        let app = start_app(
            r#"{"action":"play","media_url":"https://example.com/hi.wav"}"#,
            AppMode::Echo,
        )
        .await;
        let c = run_call(&e, &app).await;
        assert_eq!(c.reason.as_deref(), Some("play_finished"));
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("https://example.com/hi.wav")),
            "{:?}",
            c.notes
        );

        // A stream's flow_url is fetched when the app closes the stream (a call long enough
        // for the app to close it first).
        let next = start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await;
        let first = format!(
            r#"{{"action":"stream","ws_url":"{{WS}}","chunk_size":100,"flow_url":"{}/flow"}}"#,
            next.http_base
        );
        let app = start_app(&first, AppMode::CloseAfter3).await;
        let c = run_call(&patient_emu().await, &app).await;
        assert_eq!(
            (c.state.as_str(), c.reason.as_deref()),
            ("completed", Some("flow_hangup"))
        );
        assert_eq!(next.seen.lock().unwrap().flow_requests.len(), 1);

        let app = start_app(r#"{"action":"dial","to":"+14155550123"}"#, AppMode::Echo).await;
        let c = run_call(&e, &app).await;
        assert_eq!(
            (c.state.as_str(), c.reason.as_deref()),
            ("failed", Some("dial_not_emulated"))
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn unpaced_mode_is_fast_and_plays_everything() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":500}"#,
            AppMode::Echo,
        )
        .await;
        let dir = out_dir("unpaced");
        let e = Emulator::builder()
            .realtime(false)
            .call_duration(Duration::from_secs(60))
            .output_dir(&dir)
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let t = std::time::Instant::now();
        let c = run_call(&e, &app).await;
        // Paced, this would take 60 s (the bound is loose: this is not a benchmark).
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "60 s of audio took {:?}",
            t.elapsed()
        );
        assert_eq!(c.media.frames_sent, 121);
        assert_eq!(c.media.audio_chunks, 120);
        assert_eq!(c.media.played_ms, 60_000);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_audio_is_a_typed_error_not_a_panic() {
    tokio::time::timeout(LIMIT, async {
        let r = Emulator::builder()
            .audio(teler_emulator::AudioSource::Pcm(Pcm {
                sample_rate: 0,
                samples: vec![1, 2, 3],
            }))
            .log(false)
            .start("127.0.0.1:0")
            .await;
        match r {
            Err(teler_emulator::EmulatorError::Audio(teler_emulator::WavError::Unsupported(m))) => {
                assert!(m.contains("sample rate 0"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    })
    .await
    .unwrap();
}

/// A media server that completes the WebSocket handshake and resets the connection at once,
/// so the emulator cannot send `start`.
async fn reset_after_handshake() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/media", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = l.accept().await {
            let mut req = Vec::new();
            let mut buf = [0u8; 2048];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req).to_string();
            let key = text
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| v.trim().to_owned())
                })
                .unwrap();
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let res = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            tcp.write_all(res.as_bytes()).await.unwrap();
            tcp.set_zero_linger().unwrap();
            drop(tcp);
        }
    });
    url
}

#[tokio::test]
async fn no_stream_webhooks_when_start_cannot_be_sent() {
    tokio::time::timeout(LIMIT, async {
        let ws = reset_after_handshake().await;
        let app = start_app(
            &format!(r#"{{"action":"stream","ws_url":"{ws}","chunk_size":100}}"#),
            AppMode::Echo,
        )
        .await;
        let e = quick_emu().await;
        let c = run_call(&e, &app).await;
        assert!(
            c.errors.iter().any(|e| e.contains("sending start failed")),
            "{:?}",
            c.errors
        );
        assert_eq!(c.media.frames_sent, 0, "{:?}", c.media);
        let seen = app.seen.lock().unwrap();
        let types: Vec<String> = seen
            .webhooks
            .iter()
            .map(|(_, b)| {
                let v: Value = serde_json::from_slice(b).unwrap();
                v["type"].as_str().unwrap().to_owned()
            })
            .collect();
        assert!(
            !types.iter().any(|t| t.starts_with("stream.")),
            "a stream that never started is not reported: {types:?}"
        );
    })
    .await
    .unwrap();
}
