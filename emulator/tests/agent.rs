//! The stand-in ElevenLabs agent: protocol, barge-in, echo, Teler echo mode, and a whole
//! call emulator -> bridge (teler-core's ElevenLabs handlers) -> agent.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::LIMIT;
use futures_util::StreamExt;
use serde_json::Value;
use teler_core::media::{AppMessage, StreamOp};
use teler_emulator::agent::{self, AgentConfig};
use teler_emulator::ws::{WsClient, connect};
use teler_emulator::{CallRequest, Emulator, Pcm};
use tungstenite::Message;

async fn next_json(ws: &mut WsClient) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

fn pcm_b64(s: &[i16]) -> String {
    let b: Vec<u8> = s.iter().flat_map(|x| x.to_le_bytes()).collect();
    B64.encode(b)
}

fn decode(b64: &str) -> Vec<i16> {
    B64.decode(b64)
        .unwrap()
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[tokio::test]
async fn greets_is_interrupted_and_echoes() {
    tokio::time::timeout(LIMIT, async {
        let talk = Pcm::tone(8000, 300.0, 8000, 500).samples;
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let mut ws = connect(&a.url(), Duration::from_secs(5)).await.unwrap();
        let meta = next_json(&mut ws).await;
        assert_eq!(meta["type"], "conversation_initiation_metadata");
        assert!(meta["conversation_initiation_metadata_event"]["conversation_id"].is_string());
        for i in 1..=3u64 {
            let m = next_json(&mut ws).await;
            assert_eq!(m["type"], "audio");
            assert_eq!(m["audio_event"]["event_id"], i);
            assert_eq!(
                decode(m["audio_event"]["audio_base_64"].as_str().unwrap()).len(),
                4000,
                "500 ms at 8 kHz"
            );
        }
        // The caller talks over the greeting (its first audio, well inside the greeting's
        // 1500 ms of caller audio): interruption, then the echo of what it said.
        for c in talk.chunks(800) {
            ws.send(Message::text(format!(
                r#"{{"user_audio_chunk":"{}"}}"#,
                pcm_b64(c)
            )))
            .await
            .unwrap();
        }
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "interruption");
        assert!(m["interruption_event"].is_object());
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "audio");
        assert_eq!(
            decode(m["audio_event"]["audio_base_64"].as_str().unwrap()),
            talk,
            "the echo is what the caller said"
        );
        assert_eq!(
            a.stats()
                .interruptions
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn quiet_caller_does_not_interrupt() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve_with(
            "127.0.0.1:0",
            AgentConfig {
                greeting_ms: 1000,
                ..AgentConfig::default()
            },
        )
        .await
        .unwrap();
        let mut ws = connect(&a.url(), Duration::from_secs(5)).await.unwrap();
        for _ in 0..3 {
            next_json(&mut ws).await; // metadata + 2 greeting chunks
        }
        for _ in 0..5 {
            ws.send(Message::text(format!(
                r#"{{"user_audio_chunk":"{}"}}"#,
                pcm_b64(&[20i16; 800])
            )))
            .await
            .unwrap();
        }
        let m = next_json(&mut ws).await;
        assert_eq!(
            m["type"], "audio",
            "no interruption for a quiet caller: {m}"
        );
        assert_eq!(
            decode(m["audio_event"]["audio_base_64"].as_str().unwrap()),
            vec![20i16; 4000]
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn teler_echo_mode() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let mut ws = connect(&a.teler_url(), Duration::from_secs(5))
            .await
            .unwrap();
        ws.send(Message::text(
            r#"{"type":"start","stream_id":"s","message_id":1,"data":{"sample_rate":8000}}"#,
        ))
        .await
        .unwrap();
        let tone = Pcm::tone(8000, 440.0, 3000, 1000).samples;
        for (i, c) in tone.chunks(800).enumerate() {
            let f = format!(
                r#"{{"type":"audio","stream_id":"s","message_id":{},"data":{{"audio_b64":"{}"}}}}"#,
                i + 2,
                pcm_b64(c)
            );
            ws.send(Message::text(f)).await.unwrap();
        }
        for (i, want) in tone.chunks(4000).enumerate() {
            let Message::Text(t) = ws.next().await.unwrap().unwrap() else {
                panic!("text expected")
            };
            match AppMessage::parse(t.as_str()).unwrap() {
                AppMessage::Audio {
                    audio_b64,
                    chunk_id,
                } => {
                    assert_eq!(chunk_id, i as u64 + 1);
                    assert_eq!(decode(&audio_b64), want);
                }
                other => panic!("audio expected, got {other:?}"),
            }
        }
        // Once the connection has ended, `closed` says so: the counters are final.
        ws.close(None).await.unwrap();
        let s = a.stats();
        while s.closed.load(std::sync::atomic::Ordering::Acquire) < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(s.connections.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(s.messages_in.load(std::sync::atomic::Ordering::Relaxed), 11);
    })
    .await
    .unwrap();
}

/// A minimal bridge built from teler-core's ElevenLabs handlers (the seed app's logic).
async fn bridge(tcp: tokio::net::TcpStream, agent_url: String) {
    let Ok(mut teler) = async_tungstenite::tokio::accept_async(tcp).await else {
        return;
    };
    let Ok(mut remote) = connect(&agent_url, Duration::from_secs(5)).await else {
        return;
    };
    let mut call_h = teler_core::elevenlabs::call_handler();
    let mut remote_h = teler_core::elevenlabs::remote_handler();
    loop {
        tokio::select! {
            m = teler.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if let Ok((out, StreamOp::Relay)) = call_h.handle_text(t.as_str())
                        && remote.send(Message::text(out)).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
            m = remote.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if let Ok((out, StreamOp::Relay)) = remote_h.handle_text(t.as_str())
                        && teler.send(Message::text(out)).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    let _ = teler.close(None).await;
    let _ = remote.close(None).await;
}

#[tokio::test]
async fn whole_call_through_a_bridge_to_the_agent() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_url = format!("ws://{}/media", l.local_addr().unwrap());
        let agent_url = a.url();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                tokio::spawn(bridge(tcp, agent_url.clone()));
            }
        });
        let flow = format!(r#"{{"action":"stream","ws_url":"{ws_url}","chunk_size":100}}"#);
        let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let flow_url = format!("http://{}/flow", fl.local_addr().unwrap());
        tokio::spawn(async move {
            let app = axum::Router::new()
                .route("/flow", axum::routing::post(move || async move { flow }));
            let _ = axum::serve(fl, app).await;
        });
        // At 2x, the assertions on what was played below leave 500 ms or more of the
        // machine's time for the bridge's round trips (at 5x it was 200 ms).
        let e = Emulator::builder()
            .speed(2.0)
            .call_duration(Duration::from_secs(3))
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let c = e.place_call(CallRequest {
            from_number: "+14155550100".into(),
            to_number: "+14155550101".into(),
            flow_url,
            status_callback_url: None,
            record: true,
        });
        let c = e.wait_for_call_end(&c.id).await.unwrap();
        assert_eq!(c.state.as_str(), "completed", "{:?}", c.errors);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(
            c.media.clears, 1,
            "the caller's tone barged in on the greeting: {:?}",
            c.media
        );
        assert!(
            c.media.audio_chunks >= 6,
            "greeting + echoes: {:?}",
            c.media
        );
        assert!(c.media.played_ms >= 1500, "{:?}", c.media);
        assert!(c.media.dropped_ms > 0, "{:?}", c.media);
    })
    .await
    .unwrap();
}

/// The dominant frequency of `pcm` at `rate`, from a Goertzel scan in 1 Hz steps.
fn dominant_hz(pcm: &[i16], rate: f64) -> f64 {
    let power = |f: f64| {
        let w = 2.0 * std::f64::consts::PI * f / rate;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in pcm {
            let s0 = f64::from(x) + c * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - c * s1 * s2
    };
    (100..3000)
        .map(f64::from)
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .unwrap()
}

#[tokio::test]
async fn openai_protocol_greets_is_interrupted_and_echoes_at_24k() {
    tokio::time::timeout(LIMIT, async {
        // All audio is made first: nothing below does work between reads and writes.
        let want = Pcm::tone(24000, 660.0, 5000, 1500).samples;
        let talk = Pcm::tone(24000, 300.0, 8000, 500).samples;
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let mut ws = connect(&a.openai_url(), Duration::from_secs(5))
            .await
            .unwrap();
        let created = next_json(&mut ws).await;
        assert_eq!(created["type"], "session.created");
        assert!(created["session"]["id"].as_str().unwrap().starts_with("sess_"));
        assert_eq!(created["session"]["audio"]["input"]["format"]["rate"], 24000);
        assert_eq!(created["session"]["audio"]["output"]["format"]["type"], "audio/pcm");

        // The greeting: one response of three 500 ms deltas of a 660 Hz tone at 24 kHz.
        let r = next_json(&mut ws).await;
        assert_eq!(r["type"], "response.created");
        let resp = r["response"]["id"].as_str().unwrap().to_owned();
        let mut greeting = Vec::new();
        for _ in 0..3 {
            let m = next_json(&mut ws).await;
            assert_eq!(m["type"], "response.output_audio.delta");
            assert_eq!(m["response_id"], resp.as_str());
            let d = decode(m["delta"].as_str().unwrap());
            assert_eq!(d.len(), 12000, "500 ms at 24 kHz");
            greeting.extend(d);
        }
        assert_eq!(greeting, want);
        assert_eq!(dominant_hz(&greeting, 24000.0), 660.0);
        let done = next_json(&mut ws).await;
        assert_eq!(done["type"], "response.done");
        assert_eq!(done["response"]["id"], resp.as_str());
        assert_eq!(done["response"]["status"], "completed");

        // The bridge's session config is acknowledged; a rate OpenAI refuses is an error.
        ws.send(Message::text(
            r#"{"type":"session.update","session":{"type":"realtime","audio":{"input":{"format":{"type":"audio/pcm","rate":24000}},"output":{"format":{"type":"audio/pcm","rate":24000}}}}}"#,
        ))
        .await
        .unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "session.updated");
        assert_eq!(m["session"]["audio"]["output"]["format"]["rate"], 24000);
        ws.send(Message::text(
            r#"{"type":"session.update","session":{"audio":{"input":{"format":{"type":"audio/pcm","rate":16000}}}}}"#,
        ))
        .await
        .unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "error");
        assert_eq!(m["error"]["type"], "invalid_request_error");
        assert!(m["error"]["message"].as_str().unwrap().contains("16000"), "{m}");

        // The caller talks over the greeting (24 kHz appends of 100 ms): speech_started,
        // then the echo of what it said as a response of its own. The greeting plays until
        // the agent has heard 1500 ms of caller audio, however long the test took to get here.
        for c in talk.chunks(2400) {
            ws.send(Message::text(format!(
                r#"{{"type":"input_audio_buffer.append","audio":"{}"}}"#,
                pcm_b64(c)
            )))
            .await
            .unwrap();
        }
        ws.send(Message::text(r#"{"type":"input_audio_buffer.commit"}"#))
            .await
            .unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "input_audio_buffer.speech_started", "{m}");
        assert_eq!(m["audio_start_ms"], 0, "the caller's first audio: {m}");
        assert!(m["item_id"].is_string(), "{m}");
        let r = next_json(&mut ws).await;
        assert_eq!(r["type"], "response.created");
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "response.output_audio.delta");
        assert_eq!(m["response_id"], r["response"]["id"]);
        assert_eq!(
            decode(m["delta"].as_str().unwrap()),
            talk,
            "the echo is what the caller said, at 24 kHz"
        );
        assert_eq!(next_json(&mut ws).await["type"], "response.done");

        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let s = a.stats();
        assert_eq!(load(&s.interruptions), 1);
        assert_eq!(load(&s.session_updates), 1);
        assert_eq!(load(&s.errors), 1, "the refused session.update");
        assert_eq!(load(&s.audio_in_bytes), 24000, "500 ms at 24 kHz, 2 bytes a sample");
        assert_eq!(load(&s.audio_out), 4, "3 greeting deltas and 1 echo");
        assert_eq!(load(&s.messages_in), 8);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn openai_protocol_by_config_echoes_each_append_at_once() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve_with(
            "127.0.0.1:0",
            AgentConfig {
                protocol: "openai".parse().unwrap(),
                greeting_ms: 0,
                chunk_ms: 0,
                ..AgentConfig::default()
            },
        )
        .await
        .unwrap();
        // The root path speaks the configured protocol; /teler still echoes Teler frames.
        let mut ws = connect(&a.url(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(next_json(&mut ws).await["type"], "session.created");
        for n in [480usize, 7] {
            let pcm: Vec<i16> = (0..n as i16).collect();
            ws.send(Message::text(format!(
                r#"{{"type":"input_audio_buffer.append","audio":"{}"}}"#,
                pcm_b64(&pcm)
            )))
            .await
            .unwrap();
            assert_eq!(next_json(&mut ws).await["type"], "response.created");
            let m = next_json(&mut ws).await;
            assert_eq!(decode(m["delta"].as_str().unwrap()), pcm);
            assert_eq!(next_json(&mut ws).await["type"], "response.done");
        }
        let mut t = connect(&a.teler_url(), Duration::from_secs(5))
            .await
            .unwrap();
        t.send(Message::text(format!(
            r#"{{"type":"audio","data":{{"audio_b64":"{}"}}}}"#,
            pcm_b64(&[5, 6])
        )))
        .await
        .unwrap();
        assert_eq!(
            next_json(&mut t).await,
            serde_json::json!({"type":"audio","audio_b64":pcm_b64(&[5, 6]),"chunk_id":1})
        );
        assert!("nope".parse::<agent::AgentProtocol>().is_err());
        assert_eq!(
            "gemini".parse::<agent::AgentProtocol>(),
            Ok(agent::AgentProtocol::Gemini)
        );
    })
    .await
    .unwrap();
}

/// Sends `ms` of caller audio at `level` (a constant, so its RMS is `level`) as OpenAI-style
/// appends of 100 ms at 24 kHz.
async fn append(ws: &mut WsClient, ms: usize, level: i16) {
    for _ in 0..ms / 100 {
        ws.send(Message::text(format!(
            r#"{{"type":"input_audio_buffer.append","audio":"{}"}}"#,
            pcm_b64(&[level; 2400])
        )))
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn the_greeting_plays_for_its_length_of_caller_audio() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve_with(
            "127.0.0.1:0",
            AgentConfig {
                protocol: agent::AgentProtocol::OpenAi,
                greeting_ms: 1000,
                echo: false,
                ..AgentConfig::default()
            },
        )
        .await
        .unwrap();
        let greeted = async |ws: &mut WsClient| {
            assert_eq!(next_json(ws).await["type"], "session.created");
            assert_eq!(next_json(ws).await["type"], "response.created");
            for _ in 0..2 {
                assert_eq!(next_json(ws).await["type"], "response.output_audio.delta");
            }
            assert_eq!(next_json(ws).await["type"], "response.done");
        };

        // Loud after 900 ms of quiet caller audio: still over the 1000 ms greeting.
        let mut ws = connect(&a.openai_url(), Duration::from_secs(5))
            .await
            .unwrap();
        greeted(&mut ws).await;
        append(&mut ws, 900, 20).await;
        append(&mut ws, 200, 8000).await;
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "input_audio_buffer.speech_started", "{m}");
        assert_eq!(m["audio_start_ms"], 900, "{m}");

        // Loud after 1000 ms of quiet: the greeting is over, nothing to interrupt. The
        // session.update's answer comes next, in order, when no speech_started came first.
        let mut ws = connect(&a.openai_url(), Duration::from_secs(5))
            .await
            .unwrap();
        greeted(&mut ws).await;
        append(&mut ws, 1000, 20).await;
        append(&mut ws, 200, 8000).await;
        ws.send(Message::text(r#"{"type":"session.update","session":{}}"#))
            .await
            .unwrap();
        let m = next_json(&mut ws).await;
        assert_eq!(
            m["type"], "session.updated",
            "no interruption after the greeting: {m}"
        );

        let s = a.stats();
        assert_eq!(
            s.interruptions.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            s.audio_in_bytes.load(std::sync::atomic::Ordering::Relaxed),
            (1100 + 1200) * 48,
            "every append was read"
        );
    })
    .await
    .unwrap();
}

/// The Gemini stand-in refuses audio before `setup` by closing with 1007, as the service
/// does; the Devnagri stand-in answers `media` before `start` with an error event; the
/// Deepgram one answers audio before `Settings` and settings it cannot take with `Error`;
/// the Ultravox one refuses rates and audio its call could not take; the Sarvam one refuses
/// a handshake without the user, and messages out of order or of the wrong shape.
#[tokio::test]
async fn vendor_stand_ins_refuse_what_the_vendor_refuses() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let mut g = connect(
            &a.url_for(agent::AgentProtocol::Gemini),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        g.send(Message::text(
            r#"{"realtimeInput":{"audio":{"data":"AAAA","mimeType":"audio/pcm;rate=16000"}}}"#,
        ))
        .await
        .unwrap();
        let close = loop {
            match g.next().await {
                Some(Ok(Message::Close(c))) => break c,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        };
        let close = close.expect("a close frame");
        assert_eq!(u16::from(close.code), 1007);
        assert!(close.reason.contains("setup"), "{close:?}");

        let mut d = connect(
            &a.url_for(agent::AgentProtocol::Devnagri),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        d.send(Message::text(
            r#"{"event":"media","media":{"payload":"AAAA"}}"#,
        ))
        .await
        .unwrap();
        let v = next_json(&mut d).await;
        assert_eq!(v["event"], "error", "{v}");
        assert_eq!(v["message"], "media before start");

        // Deepgram: Welcome first; audio before Settings, or Settings with a format the
        // stand-in does not take, get an Error and a close.
        let url = a.url_for(agent::AgentProtocol::Deepgram);
        let mut dg = connect(&url, Duration::from_secs(5)).await.unwrap();
        assert_eq!(next_json(&mut dg).await["type"], "Welcome");
        dg.send(Message::binary(vec![0u8; 320])).await.unwrap();
        let v = next_json(&mut dg).await;
        assert_eq!(
            (v["type"].as_str(), v["code"].as_str()),
            (Some("Error"), Some("BINARY_BEFORE_SETTINGS")),
            "{v}"
        );
        let mut dg = connect(&url, Duration::from_secs(5)).await.unwrap();
        next_json(&mut dg).await;
        dg.send(Message::text(
            r#"{"type":"Settings","audio":{"input":{"encoding":"linear16","sample_rate":16000},"output":{"encoding":"mp3","sample_rate":24000}},"agent":{}}"#,
        ))
        .await
        .unwrap();
        let v = next_json(&mut dg).await;
        assert_eq!(v["code"], "INVALID_SETTINGS", "{v}");
        assert!(v["description"].as_str().unwrap().contains("mp3"), "{v}");
        let mut dg = connect(&url, Duration::from_secs(5)).await.unwrap();
        next_json(&mut dg).await;
        dg.send(Message::text(
            r#"{"type":"Settings","audio":{"input":{"encoding":"linear16","sample_rate":8000},"output":{"encoding":"linear16","sample_rate":8000,"container":"none"}},"agent":{}}"#,
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut dg).await["type"], "SettingsApplied");

        // Ultravox: a rate the call could not have been created with is refused at once;
        // audio that is not whole PCM16 samples closes with 1007.
        let closed = |mut ws: WsClient| async move {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Close(c))) => break c.expect("a close frame"),
                    Some(Ok(_)) => continue,
                    other => panic!("{other:?}"),
                }
            }
        };
        let url = a.url_for(agent::AgentProtocol::Ultravox);
        let uv = connect(&format!("{url}?inputSampleRate=7"), Duration::from_secs(5))
            .await
            .unwrap();
        let c = closed(uv).await;
        assert_eq!(u16::from(c.code), 1008);
        assert!(c.reason.contains("inputSampleRate=7"), "{c:?}");
        let mut uv = connect(&url, Duration::from_secs(5)).await.unwrap();
        uv.send(Message::binary(vec![0u8; 3])).await.unwrap();
        assert_eq!(u16::from(closed(uv).await.code), 1007);

        // Sarvam: no user in the query is a 403 at the handshake; a bad rate in it closes at
        // once; audio before interaction_start, a wrong origin or a wrong format close.
        let url = a.url_for(agent::AgentProtocol::Sarvam);
        let e = connect(&url, Duration::from_secs(5)).await.unwrap_err();
        assert!(e.contains("403"), "{e}");
        let e = connect(&format!("{url}?user_identifier=u"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(e.contains("403"), "{e}");
        let user = "user_identifier=u&user_identifier_type=custom";
        let sv = connect(&format!("{url}?{user}&sample_rate=22050"), Duration::from_secs(5))
            .await
            .unwrap();
        let c = closed(sv).await;
        assert_eq!(u16::from(c.code), 1008);
        assert!(c.reason.contains("sample_rate=22050"), "{c:?}");
        let url = format!("{url}?{user}&interaction_type=call&sample_rate=8000");
        let audio = |format: &str, origin: &str| {
            format!(
                r#"{{"type":"client.media.audio_chunk","origin":"{origin}","timestamp":1.0,"audio_base64":"AAAA","format":"{format}","sample_rate":8000}}"#
            )
        };
        let start = r#"{"type":"client.action.interaction_start","origin":"client","timestamp":1.0,"agent_variables":{}}"#;
        let mut sv = connect(&url, Duration::from_secs(5)).await.unwrap();
        sv.send(Message::text(audio("audio/wav", "client"))).await.unwrap();
        let c = closed(sv).await;
        assert_eq!(u16::from(c.code), 1008);
        assert!(c.reason.contains("before client.action.interaction_start"), "{c:?}");
        let mut sv = connect(&url, Duration::from_secs(5)).await.unwrap();
        sv.send(Message::text(start.replace(r#""client""#, r#""CLIENT""#)))
            .await
            .unwrap();
        assert_eq!(u16::from(closed(sv).await.code), 1008);
        let mut sv = connect(&url, Duration::from_secs(5)).await.unwrap();
        sv.send(Message::text(start)).await.unwrap();
        let v = next_json(&mut sv).await;
        assert_eq!(v["type"], "server.action.interaction_connected", "{v}");
        sv.send(Message::text(audio("LINEAR16", "client"))).await.unwrap();
        let c = closed(sv).await;
        assert_eq!(u16::from(c.code), 1007);
        assert!(c.reason.contains("audio/wav"), "{c:?}");
    })
    .await
    .unwrap();
}

/// The Sarvam stand-in: connected and a ping after `interaction_start`, a 16 kHz greeting
/// ending in a `completed` chunk, the pong counted, `user_interrupt` when the caller talks
/// over the greeting, then the echo at 16 kHz.
#[tokio::test]
async fn sarvam_protocol_greets_keeps_alive_is_interrupted_and_echoes_at_16k() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let url = format!(
            "{}?interaction_type=call&user_identifier=%2B9198&user_identifier_type=phone_number\
             &sample_rate=8000",
            a.url_for(agent::AgentProtocol::Sarvam)
        );
        let mut ws = connect(&url, Duration::from_secs(5)).await.unwrap();
        ws.send(Message::text(
            r#"{"type":"client.action.interaction_start","origin":"client","timestamp":1.0,"agent_variables":{"name":"Asha"},"initial_language_name":"Hindi"}"#,
        ))
        .await
        .unwrap();
        let v = next_json(&mut ws).await;
        assert_eq!(v["type"], "server.action.interaction_connected");
        assert_eq!(v["origin"], "server");
        assert!(v["timestamp"].as_f64().unwrap() > 1.7e9, "Unix seconds: {v}");
        assert!(v["reference_id"].is_string() && v["interaction_id"].is_string());
        assert_eq!(v["agent_variables"]["name"], "Asha");
        assert_eq!(v["initial_language_name"], "Hindi");
        let ping = next_json(&mut ws).await;
        assert_eq!(ping["type"], "server.system.ping");
        for _ in 0..3 {
            let m = next_json(&mut ws).await;
            assert_eq!(m["type"], "server.media.audio_chunk");
            assert_eq!((m["format"].as_str(), m["status"].as_str()), (Some("audio/wav"), Some("pending")));
            assert_eq!(m["sample_rate"], 16000);
            assert_eq!(decode(m["audio_base64"].as_str().unwrap()).len(), 8000, "500 ms at 16 kHz");
        }
        let end = next_json(&mut ws).await;
        assert_eq!((end["status"].as_str(), end["audio_base64"].as_str()), (Some("completed"), Some("")));
        ws.send(Message::text(format!(
            r#"{{"type":"client.system.pong","origin":"client","timestamp":2.0,"event_id":{}}}"#,
            ping["event_id"]
        )))
        .await
        .unwrap();
        // The caller talks over the greeting: 1 s of a loud tone at 8 kHz, in two messages
        // (the echo needs a whole 500 ms past the resampler's look-ahead).
        let talk = Pcm::tone(8000, 300.0, 8000, 1000).samples;
        for part in talk.chunks(4000) {
            ws.send(Message::text(format!(
                r#"{{"type":"client.media.audio_chunk","origin":"client","timestamp":2.1,"audio_base64":"{}","format":"audio/wav","sample_rate":8000}}"#,
                pcm_b64(part)
            )))
            .await
            .unwrap();
        }
        assert_eq!(next_json(&mut ws).await["type"], "server.event.user_interrupt");
        let echo = next_json(&mut ws).await;
        assert_eq!(echo["type"], "server.media.audio_chunk");
        let pcm = decode(echo["audio_base64"].as_str().unwrap());
        assert_eq!(pcm.len(), 8000, "500 ms at 16 kHz");
        let hz = dominant_hz(&pcm, 16_000.0);
        assert!((hz - 300.0).abs() < 15.0, "echoed at the caller's pitch: {hz}");
        // Everything before the echo was read, the pong included.
        let s = a.stats();
        assert_eq!(s.keepalives.load(std::sync::atomic::Ordering::Acquire), 1);
        assert_eq!(s.interruptions.load(std::sync::atomic::Ordering::Acquire), 1);
        assert_eq!(s.errors.load(std::sync::atomic::Ordering::Acquire), 0);
    })
    .await
    .unwrap();
}

/// Opens the Cartesia stand-in with the handshake headers Cartesia needs (`None`: none).
async fn cartesia(
    a: &agent::AgentHandle,
    headers: Option<(&str, &str)>,
) -> Result<WsClient, String> {
    use tungstenite::client::IntoClientRequest as _;
    let url = format!("ws://{}/agents/stream/agent_1", a.local_addr());
    let mut req = url.as_str().into_client_request().unwrap();
    if let Some((auth, version)) = headers {
        req.headers_mut()
            .insert("Authorization", auth.parse().unwrap());
        req.headers_mut()
            .insert("Cartesia-Version", version.parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(a.local_addr())
        .await
        .unwrap();
    async_tungstenite::tokio::client_async(req, tcp)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn close_of(ws: &mut WsClient) -> tungstenite::protocol::CloseFrame {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => break c.expect("a close frame"),
            Ok(Some(Ok(_))) => continue,
            other => panic!("{other:?}"),
        }
    }
}

/// The Cartesia stand-in: the handshake's headers, `start` first with a documented format,
/// `ack`, the greeting in that format (μ-law encoded for `mulaw_8000`), `clear` when the
/// caller talks over it, the echo; and the refusals (HTTP 401 / 400, closes 1008, 1007, 1003).
#[tokio::test]
async fn cartesia_stand_in_speaks_the_agents_websocket() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let good = Some(("Bearer t0ken", "2025-04-16"));
        let e = cartesia(&a, None).await.unwrap_err();
        assert!(e.contains("401"), "{e}");
        let e = cartesia(&a, Some(("Bearer t0ken", " "))).await.unwrap_err();
        assert!(e.contains("400"), "{e}");

        // Anything before start, an undocumented format, a second start, another stream's
        // audio, a binary frame: closed.
        let mut ws = cartesia(&a, good).await.unwrap();
        ws.send(Message::text(r#"{"event":"media_input","stream_id":"s","media":{"payload":""}}"#))
            .await
            .unwrap();
        let c = close_of(&mut ws).await;
        assert_eq!(u16::from(c.code), 1008);
        assert!(c.reason.contains("first message must be start"), "{c:?}");
        let mut ws = cartesia(&a, good).await.unwrap();
        ws.send(Message::text(r#"{"event":"start","config":{"input_format":"pcm_8000"}}"#))
            .await
            .unwrap();
        let c = close_of(&mut ws).await;
        assert_eq!(u16::from(c.code), 1008);
        assert!(c.reason.contains("pcm_8000"), "{c:?}");
        let mut ws = cartesia(&a, good).await.unwrap();
        ws.send(Message::binary(vec![0u8; 4])).await.unwrap();
        assert_eq!(u16::from(close_of(&mut ws).await.code), 1003);

        // pcm_16000: the ack names the stream; the greeting is 16 kHz PCM16, 500 ms a message.
        let mut ws = cartesia(&a, good).await.unwrap();
        ws.send(Message::text(
            r#"{"event":"start","stream_id":"s1","config":{"input_format":"pcm_16000"}}"#,
        ))
        .await
        .unwrap();
        let ack = next_json(&mut ws).await;
        assert_eq!(ack["event"], "ack");
        assert_eq!(ack["stream_id"], "s1");
        assert_eq!(ack["config"]["input_format"], "pcm_16000");
        for _ in 0..3 {
            let m = next_json(&mut ws).await;
            assert_eq!(m["event"], "media_output");
            assert_eq!(m["stream_id"], "s1");
            assert_eq!(decode(m["media"]["payload"].as_str().unwrap()).len(), 8000);
        }
        ws.send(Message::text(r#"{"event":"start","config":{"input_format":"pcm_16000"}}"#))
            .await
            .unwrap();
        assert!(close_of(&mut ws).await.reason.contains("twice"));
        let mut ws = cartesia(&a, good).await.unwrap();
        ws.send(Message::text(r#"{"event":"start","config":{"input_format":"pcm_16000"}}"#))
            .await
            .unwrap();
        let sid = next_json(&mut ws).await["stream_id"].as_str().unwrap().to_owned();
        assert!(!sid.is_empty(), "a generated stream id");
        ws.send(Message::text(r#"{"event":"media_input","stream_id":"other","media":{"payload":"AAA="}}"#))
            .await
            .unwrap();
        assert_eq!(u16::from(close_of(&mut ws).await.code), 1008);

        // mulaw_8000: μ-law both ways; a loud caller clears the greeting, then is echoed.
        let mut ws = cartesia(&a, good).await.unwrap();
        ws.send(Message::text(
            r#"{"event":"start","stream_id":"s2","config":{"input_format":"mulaw_8000"}}"#,
        ))
        .await
        .unwrap();
        assert_eq!(next_json(&mut ws).await["event"], "ack");
        let first = next_json(&mut ws).await;
        let greeting = B64.decode(first["media"]["payload"].as_str().unwrap()).unwrap();
        assert_eq!(greeting.len(), 4000, "500 ms of 8 kHz μ-law, a byte a sample");
        let talk: Vec<u8> = Pcm::tone(8000, 300.0, 8000, 500)
            .samples
            .iter()
            .map(|&s| teler_core::audio::g711::ulaw_encode(s))
            .collect();
        let media = serde_json::json!({"event":"media_input","stream_id":"s2","media":{"payload":B64.encode(&talk)}});
        ws.send(Message::text(media.to_string())).await.unwrap();
        let (mut cleared, mut echo) = (false, None);
        while echo.is_none() {
            let m = next_json(&mut ws).await;
            match m["event"].as_str() {
                Some("clear") => {
                    assert_eq!(m["stream_id"], "s2");
                    cleared = true;
                }
                Some("media_output") if cleared => {
                    echo = Some(B64.decode(m["media"]["payload"].as_str().unwrap()).unwrap());
                }
                _ => {}
            }
        }
        assert_eq!(echo.unwrap(), talk, "the caller's μ-law, echoed");
        ws.send(Message::text(r#"{"event":"dtmf","stream_id":"s2","dtmf":"5"}"#))
            .await
            .unwrap();
        ws.send(Message::text(r#"{"event":"media_input","stream_id":"s2","media":{"payload":"!"}}"#))
            .await
            .unwrap();
        assert_eq!(u16::from(close_of(&mut ws).await.code), 1007);
    })
    .await
    .unwrap();
}

/// The Vapi stand-in: the call's format from the URL (refusing what the create-call request
/// would refuse), binary audio at once, `user-interrupted` when the caller talks over the
/// greeting, μ-law echoed as μ-law, and `hangup` ending the call.
#[tokio::test]
async fn vapi_stand_in_speaks_the_websocket_transport() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let url = a.url_for(agent::AgentProtocol::Vapi);
        for bad in [
            "?format=opus",
            "?format=mulaw&sampleRate=16000",
            "?sampleRate=7",
        ] {
            let mut ws = connect(&format!("{url}{bad}"), Duration::from_secs(5))
                .await
                .unwrap();
            let c = close_of(&mut ws).await;
            assert_eq!(u16::from(c.code), 1008, "{bad}: {c:?}");
        }
        // The default: pcm_s16le at 16 kHz, greeting at once in binary frames.
        let mut ws = connect(
            &format!("ws://{}/c-1/transport", a.local_addr()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(next_binary(&mut ws).await.len(), 16_000, "500 ms at 16 kHz");
        ws.send(Message::binary(vec![0u8; 3])).await.unwrap();
        assert_eq!(u16::from(close_of(&mut ws).await.code), 1007);

        // mulaw at 8 kHz: a loud caller interrupts, then is echoed byte for byte.
        let mut ws = connect(
            &format!("{url}?format=mulaw&sampleRate=8000"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(next_binary(&mut ws).await.len(), 4000);
        let talk: Vec<u8> = Pcm::tone(8000, 300.0, 8000, 500)
            .samples
            .iter()
            .map(|&s| teler_core::audio::g711::ulaw_encode(s))
            .collect();
        ws.send(Message::binary(talk.clone())).await.unwrap();
        let mut interrupted = false;
        let echo = loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    interrupted |= v["type"] == "user-interrupted";
                }
                Ok(Some(Ok(Message::Binary(b)))) if interrupted => break b.to_vec(),
                Ok(Some(Ok(_))) => {}
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(echo, talk);
        ws.send(Message::text(r#"{"type":"hangup"}"#))
            .await
            .unwrap();
        assert_eq!(u16::from(close_of(&mut ws).await.code), 1000);
    })
    .await
    .unwrap();
}

async fn next_binary(ws: &mut WsClient) -> Vec<u8> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => break b.to_vec(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("{other:?}"),
        }
    }
}
