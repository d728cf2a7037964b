//! End to end, offline: the emulator (a local Teler) places a call to the `bridge_openai`
//! app, which bridges it to the emulator's stand-in agent speaking the OpenAI-Realtime-style
//! protocol at 24 kHz; all on real sockets on 127.0.0.1.
//!
//! The caller says nothing for 1 s, then a 440 Hz tone for 3 s. The agent greets with a
//! 660 Hz tone of 1.5 s, is interrupted when the caller's tone starts (barge-in: a `clear`
//! to Teler) and echoes the caller. What the caller heard (the emulator's 8 kHz WAV) must be
//! the greeting at 660 Hz, then the echo at 440 Hz: audio that went 8 kHz -> 24 kHz -> agent
//! -> 24 kHz -> 8 kHz and kept its pitch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use teler_core::media::{EndReason, EndSummary};
use teler_emulator::agent::{self, AgentConfig, AgentProtocol};
use teler_emulator::{AudioSource, CallRequest, Emulator, Pcm};
use teler_examples::{Settings, openai_app};

mod common;

const GREETING_HZ: f64 = 660.0;
const CALLER_HZ: f64 = 440.0;

struct Run {
    call: teler_emulator::Call,
    bridge: EndSummary,
    wav: Pcm,
    audio_in_bytes: u64,
    interruptions: u64,
    session_updates: u64,
    agent_errors: u64,
}

async fn run_call(dir: &std::path::Path) -> Run {
    // The stand-in agent, OpenAI-style on its root path (the CLI's --protocol openai).
    let agent = agent::serve_with(
        "127.0.0.1:0",
        AgentConfig {
            protocol: AgentProtocol::OpenAi,
            tone_hz: GREETING_HZ,
            greeting_ms: 1500,
            ..AgentConfig::default()
        },
    )
    .await
    .unwrap();

    // The bridge app, configured as a user would with env variables.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = listener.local_addr().unwrap();
    let vars = [
        ("BIND_ADDR", app_addr.to_string()),
        ("BACKEND_DOMAIN", format!("http://{app_addr}")),
        ("REMOTE_WS_URL", agent.url()),
        ("REMOTE_AUTHORIZATION", "Bearer sk-test".to_owned()),
    ];
    let settings = Settings::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    assert_eq!(
        settings.config.remote_headers(),
        [("Authorization".to_owned(), "Bearer sk-test".to_owned())]
    );
    let (end_tx, mut end_rx) = tokio::sync::mpsc::unbounded_channel();
    let router = openai_app::router(
        settings,
        openai_app::Options {
            on_end: Some(Box::new(move |s| {
                let _ = end_tx.send(s);
            })),
            ..Default::default()
        },
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // Teler: 1 s of silence, then the caller's 440 Hz tone; 4 s in 500 ms frames, in real
    // time: what the caller hears is the bridge's timing, and at 4x every millisecond the
    // machine took (a debug build on a busy CI runner) was 4 ms of the call, which moved the
    // greeting and the echo past the bounds below.
    let mut caller = Pcm::tone(8000, CALLER_HZ, 6000, 4000);
    caller.samples[..8000].fill(0);
    let emu = Emulator::builder()
        .audio(AudioSource::Pcm(caller))
        .call_duration(Duration::from_secs(4))
        .speed(1.0)
        .output_dir(dir)
        .log(false)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let placed = emu.place_call(CallRequest {
        from_number: "+15550100001".into(),
        to_number: "+15550100002".into(),
        flow_url: format!("http://{app_addr}/flow"),
        status_callback_url: None,
        record: true,
    });
    let call = emu.wait_for_call_end(&placed.id).await.unwrap();
    let bridge = tokio::time::timeout(Duration::from_secs(10), end_rx.recv())
        .await
        .expect("the bridge reported its end")
        .unwrap();
    let wav = Pcm::read(std::path::Path::new(
        call.media.output_wav.as_deref().expect("an output WAV"),
    ))
    .unwrap();
    let load = |c: &AtomicU64| c.load(Ordering::Acquire);
    let s = agent.stats();
    // The counts are final once the agent has read to the end of the bridge's connection.
    tokio::time::timeout(Duration::from_secs(10), async {
        while load(&s.closed) < load(&s.connections) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the agent's connection ended with the call");
    let run = Run {
        audio_in_bytes: load(&s.audio_in_bytes),
        interruptions: load(&s.interruptions),
        session_updates: load(&s.session_updates),
        agent_errors: load(&s.errors),
        call,
        bridge,
        wav,
    };
    server.abort();
    emu.shutdown().await;
    run
}

#[test]
fn a_call_through_bridge_openai_to_a_24k_agent() {
    let dir = std::env::temp_dir().join(format!("teler-openai-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), run_call(&dir))
            .await
            .expect("the call did not finish in 60 s")
    });
    let c = &r.call;
    let m = &c.media;
    let ctx = format!("{:?}\n{:?}", c.media, r.bridge.stats);

    // The call ran its course with no error: in particular every audio message was valid
    // 8 kHz PCM16 and its chunk_id greater than the previous one (the emulator records an
    // error otherwise).
    assert_eq!(c.state.as_str(), "completed", "{:?}", c.errors);
    assert_eq!(c.reason.as_deref(), Some("call_duration_elapsed"));
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(m.bad_frames, 0, "{ctx}");
    assert!(
        matches!(r.bridge.reason, EndReason::TelerHungUp(_)),
        "{:?}",
        r.bridge.reason
    );
    assert_eq!(m.chunk_size_ms, Some(500));
    assert_eq!(m.frames_sent, 1 + 8, "start + 4 s of 500 ms frames: {ctx}");
    assert_eq!(r.bridge.stats.from_teler.relayed_frames, 8, "{ctx}");
    assert_eq!(r.bridge.stats.from_teler.handler_errors, 0, "{ctx}");
    assert_eq!(r.bridge.stats.from_remote.handler_errors, 0, "{ctx}");

    // The agent got the session config and 24 kHz audio: 4 s is 192,000 bytes at 24 kHz
    // (8 kHz would be 64,000), less the resampler's look-ahead of the last frame (< 6 ms).
    assert_eq!(r.session_updates, 1);
    assert_eq!(r.agent_errors, 0);
    let want = 4 * 24_000 * 2;
    assert!(
        r.audio_in_bytes <= want && r.audio_in_bytes > want - 6 * 48,
        "agent received {} bytes of caller audio, want about {want}",
        r.audio_in_bytes
    );

    // Barge-in: the caller's tone interrupted the greeting once, and a clear reached Teler.
    assert_eq!(r.interruptions, 1);
    assert_eq!(m.clears, 1, "{ctx}");
    assert!(
        m.dropped_ms >= 400,
        "the rest of the greeting was dropped: {ctx}"
    );
    // Greeting (3 x 500 ms) + echoes of 500 ms each, all chunked by the packetiser.
    assert!(m.audio_chunks >= 3 + 6, "{ctx}");
    assert!(m.played_ms >= 3000, "{ctx}");

    // What the caller heard: the greeting's pitch, then the caller's own.
    assert_eq!(r.wav.sample_rate, 8000);
    let heard = common::assert_heard(&r.wav.samples, GREETING_HZ, CALLER_HZ);
    eprintln!(
        "heard: {heard}; Teler got {} audio chunks, {} clear; {} ms played, {} ms dropped; the \
         agent got {} bytes of caller audio",
        m.audio_chunks, m.clears, m.played_ms, m.dropped_ms, r.audio_in_bytes
    );
    let _ = std::fs::remove_dir_all(&dir);
}
