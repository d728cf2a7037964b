//! End to end, offline, per vendor: two local Telers (emulators) each place a call to one
//! `bridge_agent` app, which bridges both to the emulator's stand-in for the vendor; all on
//! real sockets on 127.0.0.1, at the same time.
//!
//! Each caller says nothing for 1 s, then a tone for 3 s: 440 Hz on one call, 550 Hz on the
//! other. The agent greets with a 660 Hz tone of 1.5 s, is interrupted when the caller's
//! tone starts (barge-in: a `clear` to Teler) and echoes the caller. What each caller heard
//! (the emulator's 8 kHz WAV) must be the greeting at 660 Hz, then its own tone: audio that
//! went through the vendor's rates both ways and kept its pitch, and no audio of the other
//! call (per-call state is not shared).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use teler_core::media::{EndReason, EndSummary};
use teler_emulator::agent::{self, AgentConfig, AgentProtocol};
use teler_emulator::{AudioSource, CallRequest, Emulator, Pcm};
use teler_examples::Settings;
use teler_examples::agent_app::{self, Agent};

mod common;

const GREETING_HZ: f64 = 660.0;
const CALLER_HZ: [f64; 2] = [440.0, 550.0];

struct Run {
    calls: Vec<(teler_emulator::Call, Pcm)>,
    bridges: Vec<EndSummary>,
    connections: u64,
    audio_in_bytes: u64,
    interruptions: u64,
    sessions: u64,
    agent_errors: u64,
    keepalives: u64,
}

async fn run_calls(
    protocol: AgentProtocol,
    agent_name: &str,
    query: &str,
    extra: &[(&str, &str)],
    dir: &std::path::Path,
) -> Run {
    let agent = agent::serve_with(
        "127.0.0.1:0",
        AgentConfig {
            protocol,
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
    let mut vars = vec![
        ("AGENT", agent_name.to_owned()),
        ("BIND_ADDR", app_addr.to_string()),
        ("BACKEND_DOMAIN", format!("http://{app_addr}")),
        ("REMOTE_WS_URL", format!("{}{query}", agent.url())),
        ("GEMINI_API_KEY", "test-key".to_owned()),
        ("DEEPGRAM_API_KEY", "test-key".to_owned()),
        // What an Ultravox call would be created with (the stand-in reads them from the URL).
        ("ULTRAVOX_INPUT_RATE", "16000".to_owned()),
        ("ULTRAVOX_OUTPUT_RATE", "24000".to_owned()),
        ("CARTESIA_ACCESS_TOKEN", "test-token".to_owned()),
        // Sarvam: caller audio at 16 kHz (the agent answers at 16 kHz), so both ways are
        // resampled.
        ("SARVAM_INPUT_RATE", "16000".to_owned()),
    ];
    // The vendor's own settings first: `var` takes the first match.
    for (k, v) in extra.iter().rev() {
        vars.insert(0, (k, (*v).to_owned()));
    }
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let settings = Settings::from_vars(var).unwrap();
    let chosen = Agent::from_vars(var).unwrap();
    let (end_tx, mut end_rx) = tokio::sync::mpsc::unbounded_channel();
    let options = agent_app::Options {
        headers: chosen.headers(var),
        on_end: Some(Box::new(move |s| {
            let _ = end_tx.send(s);
        })),
    };
    let router = agent_app::router(settings, chosen, options).unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // Two Telers, one call each, at once: 1 s of silence, then the caller's tone; 4 s in
    // 500 ms frames, in real time (what the caller hears is the bridge's timing).
    let mut emus = Vec::new();
    let mut placed = Vec::new();
    for (i, hz) in CALLER_HZ.iter().enumerate() {
        let mut caller = Pcm::tone(8000, *hz, 6000, 4000);
        caller.samples[..8000].fill(0);
        let emu = Emulator::builder()
            .audio(AudioSource::Pcm(caller))
            .call_duration(Duration::from_secs(4))
            .speed(1.0)
            .output_dir(dir.join(i.to_string()))
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        placed.push(emu.place_call(CallRequest {
            from_number: "+15550100001".into(),
            to_number: "+15550100002".into(),
            flow_url: format!("http://{app_addr}/flow"),
            status_callback_url: None,
            record: true,
        }));
        emus.push(emu);
    }
    let mut calls = Vec::new();
    for (emu, p) in emus.iter().zip(&placed) {
        let call = emu.wait_for_call_end(&p.id).await.unwrap();
        let wav = Pcm::read(std::path::Path::new(
            call.media.output_wav.as_deref().expect("an output WAV"),
        ))
        .unwrap();
        calls.push((call, wav));
    }
    let mut bridges = Vec::new();
    for _ in 0..2 {
        bridges.push(
            tokio::time::timeout(Duration::from_secs(10), end_rx.recv())
                .await
                .expect("the bridge reported its end")
                .unwrap(),
        );
    }
    let load = |c: &AtomicU64| c.load(Ordering::Acquire);
    let s = agent.stats();
    // The counts are final once the agent has read to the end of the bridge's connections.
    tokio::time::timeout(Duration::from_secs(10), async {
        while load(&s.closed) < load(&s.connections) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the agent's connections ended with the calls");
    let run = Run {
        connections: load(&s.connections),
        audio_in_bytes: load(&s.audio_in_bytes),
        interruptions: load(&s.interruptions),
        sessions: load(&s.session_updates),
        agent_errors: load(&s.errors),
        keepalives: load(&s.keepalives),
        calls,
        bridges,
    };
    server.abort();
    for emu in emus {
        emu.shutdown().await;
    }
    run
}

/// Two concurrent calls through `bridge_agent` with `AGENT=agent_name` to the stand-in
/// speaking `protocol`, whose caller audio arrives at `vendor_in_rate`.
fn two_calls(protocol: AgentProtocol, agent_name: &str, vendor_in_rate: u64) {
    two_calls_at(protocol, agent_name, "", vendor_in_rate);
}

/// [`two_calls`] with `query` added to the stand-in's URL; the agent's keep-alives answered.
fn two_calls_at(
    protocol: AgentProtocol,
    agent_name: &str,
    query: &str,
    vendor_in_rate: u64,
) -> u64 {
    two_calls_with(protocol, agent_name, query, &[], vendor_in_rate)
}

/// [`two_calls_at`] with `extra` settings for the app; the agent's keep-alives answered.
fn two_calls_with(
    protocol: AgentProtocol,
    agent_name: &str,
    query: &str,
    extra: &[(&str, &str)],
    vendor_in_rate: u64,
) -> u64 {
    // One folder per test (two tests may run the same vendor at once).
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "teler-agents-test-{agent_name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            run_calls(protocol, agent_name, query, extra, &dir),
        )
        .await
        .expect("the calls did not finish in 60 s")
    });

    // The agent: one connection and one accepted session setup per call, no refusal, one
    // barge-in per call, and the caller audio at its own rate: 4 s per call, less the
    // resampler's look-ahead of the last frame (< 6 ms) when the rate is converted.
    assert_eq!(r.connections, 2);
    assert_eq!(r.sessions, 2, "one session setup per call");
    assert_eq!(r.agent_errors, 0);
    assert_eq!(r.interruptions, 2);
    let want = 2 * 4 * vendor_in_rate * 2;
    let slack = 2 * 6 * vendor_in_rate * 2 / 1000;
    assert!(
        r.audio_in_bytes <= want && r.audio_in_bytes + slack >= want,
        "agent received {} bytes of caller audio, want about {want}",
        r.audio_in_bytes
    );
    for b in &r.bridges {
        assert!(
            matches!(b.reason, EndReason::TelerHungUp(_)),
            "{:?}",
            b.reason
        );
        assert_eq!(b.stats.from_teler.handler_errors, 0, "{:?}", b.stats);
        assert_eq!(b.stats.from_remote.handler_errors, 0, "{:?}", b.stats);
        assert_eq!(b.stats.from_remote.rejected, 0, "{:?}", b.stats);
    }
    for ((c, wav), caller_hz) in r.calls.iter().zip(CALLER_HZ) {
        let m = &c.media;
        // Every audio message was valid 8 kHz PCM16 with a chunk_id greater than the one
        // before (the emulator records an error otherwise).
        assert_eq!(c.state.as_str(), "completed", "{:?}", c.errors);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(m.bad_frames, 0, "{m:?}");
        assert_eq!(m.clears, 1, "barge-in reached Teler: {m:?}");
        assert!(
            m.dropped_ms >= 400,
            "the rest of the greeting was dropped: {m:?}"
        );
        assert!(m.audio_chunks >= 3 + 6, "{m:?}");
        assert_eq!(wav.sample_rate, 8000);
        let heard = common::assert_heard(&wav.samples, GREETING_HZ, caller_hz);
        eprintln!(
            "{agent_name}: caller at {caller_hz} Hz heard {heard}; {} chunks, {} clear, {} ms \
             played, {} ms dropped",
            m.audio_chunks, m.clears, m.played_ms, m.dropped_ms
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    r.keepalives
}

#[test]
fn gemini_live_two_calls() {
    // Caller audio goes at 16 kHz, the model's input rate; the agent answers at 24 kHz.
    two_calls(AgentProtocol::Gemini, "gemini", 16_000);
}

#[test]
fn deepgram_two_calls() {
    // Caller audio goes in binary frames at 16 kHz; the agent answers at 24 kHz, binary.
    two_calls(AgentProtocol::Deepgram, "deepgram", 16_000);
}

#[test]
fn ultravox_two_calls() {
    // Created (as the stand-in's URL says) for 16 kHz in and 24 kHz out, so both ways are
    // resampled; binary frames both ways.
    two_calls_at(
        AgentProtocol::Ultravox,
        "ultravox",
        "?inputSampleRate=16000&outputSampleRate=24000",
        16_000,
    );
}

#[test]
fn cartesia_two_calls_mulaw() {
    // The default format, mulaw_8000: G.711 both ways at Teler's rate (the stand-in counts
    // the decoded PCM16); JSON events with base64 audio, no end-of-turn event.
    two_calls_with(AgentProtocol::Cartesia, "cartesia", "", &[], 8_000);
}

#[test]
fn cartesia_two_calls_pcm_16000() {
    // pcm_16000: caller audio resampled up, the agent's (16 kHz too) down.
    two_calls_with(
        AgentProtocol::Cartesia,
        "cartesia",
        "",
        &[("CARTESIA_INPUT_FORMAT", "pcm_16000")],
        16_000,
    );
}

#[test]
fn vapi_two_calls() {
    // Created (as the stand-in's URL says) for pcm_s16le at 16 kHz, Vapi's default: binary
    // frames both ways, resampled both ways; user-interrupted is the barge-in.
    two_calls_at(
        AgentProtocol::Vapi,
        "vapi",
        "vapi?format=pcm_s16le&sampleRate=16000",
        16_000,
    );
}

#[test]
fn vapi_two_calls_mulaw() {
    two_calls_with(
        AgentProtocol::Vapi,
        "vapi",
        "vapi?format=mulaw&sampleRate=8000",
        &[("VAPI_FORMAT", "mulaw")],
        8_000,
    );
}

#[test]
fn sarvam_two_calls() {
    // The socket of a signed session (the stand-in refuses one without the user); caller
    // audio in JSON at 16 kHz, the agent's at 16 kHz, so both ways are resampled; the agent
    // pings once per call and the call side answers.
    let keepalives = two_calls_at(
        AgentProtocol::Sarvam,
        "sarvam",
        "?interaction_type=call&user_identifier=teler&user_identifier_type=custom\
         &sample_rate=16000",
        16_000,
    );
    assert_eq!(keepalives, 2, "each call answered its ping");
}

#[test]
fn devnagri_two_calls() {
    two_calls(AgentProtocol::Devnagri, "devnagri", 8_000);
}

#[test]
fn openai_two_calls_through_bridge_agent() {
    two_calls(AgentProtocol::OpenAi, "openai", 24_000);
}
