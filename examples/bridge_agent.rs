//! A Teler bridge to any ready-made voice agent (`AGENT=elevenlabs|openai|gemini|devnagri|deepgram|ultravox|cartesia|vapi|sarvam`),
//! on tokio + axum 0.8: the vendor's handlers from `teler_tokio::agents`, fresh per call.
//! The app is `teler_examples::agent_app` (tested end to end against the emulator's
//! stand-ins in `examples/tests/agents.rs`).
//!
//! | variable | meaning |
//! |---|---|
//! | `AGENT` | the vendor (required): `elevenlabs`, `openai`, `gemini`, `devnagri`, `deepgram`, `ultravox`, `cartesia`, `vapi`, `sarvam` |
//! | `REMOTE_WS_URL` | the vendor's socket (required), or the emulator's stand-in |
//! | `REMOTE_AUTHORIZATION` | the `Authorization` header (`Bearer sk-…` for OpenAI) |
//! | `GEMINI_API_KEY` | Gemini: sent as `x-goog-api-key` |
//! | `GEMINI_MODEL`, `GEMINI_VOICE`, `GEMINI_SYSTEM_INSTRUCTION` | Gemini: the `setup` message |
//! | `DEEPGRAM_API_KEY` | Deepgram: sent as `Authorization: Token …` |
//! | `DEEPGRAM_PROMPT`, `DEEPGRAM_GREETING`, `DEEPGRAM_THINK_PROVIDER`, `DEEPGRAM_THINK_MODEL`, `DEEPGRAM_SPEAK_MODEL`, `DEEPGRAM_LISTEN_MODEL` | Deepgram: the `Settings` message |
//! | `ULTRAVOX_INPUT_RATE`, `ULTRAVOX_OUTPUT_RATE`, `ULTRAVOX_API_KEY` | Ultravox: the call's rates (8000); with `ULTRAVOX_API_KEY` a call is created per media stream (`ultravox::CreateCall`) and bridged to its `joinUrl`, without it `REMOTE_WS_URL` is a call's `joinUrl` |
//! | `CARTESIA_ACCESS_TOKEN` | Cartesia: sent as `Authorization: Bearer …` with `Cartesia-Version` (a token from `teler_core::agents::cartesia::AccessToken`); `REMOTE_WS_URL` is `wss://api.cartesia.ai/agents/stream/{agent_id}` |
//! | `CARTESIA_INPUT_FORMAT`, `CARTESIA_VOICE_ID`, `CARTESIA_INTRODUCTION`, `CARTESIA_SYSTEM_PROMPT` | Cartesia: the `start` event (`mulaw_8000` by default) |
//! | `VAPI_FORMAT`, `VAPI_SAMPLE_RATE` | Vapi: the `audioFormat` the call was created with (`pcm_s16le` at 16000); `REMOTE_WS_URL` is the call's `websocketCallUrl` from `teler_core::agents::vapi::CreateCall` |
//! | `SARVAM_INPUT_RATE`, `SARVAM_INITIAL_LANGUAGE`, `SARVAM_INITIAL_BOT_MESSAGE` | Sarvam: the caller-audio rate (8000) and `interaction_start`; `REMOTE_WS_URL` is a session's signed URL from `teler_core::agents::sarvam::SignedUrl` |
//! | `OPENAI_SESSION_UPDATE` | OpenAI: the `session.update` JSON instead of the default |
//! | `BIND_ADDR` | listen address (`127.0.0.1:8080`) |
//! | `BACKEND_DOMAIN` | where Teler reaches this app: `example.com` (https/wss) or `http://host:port` |
//! | `DRAIN_SECONDS` | on SIGTERM or SIGINT: new media streams get 503, live calls get this long (30), then 1001; then exit 0 |
//! | `RUST_LOG` | the log filter (`info`) |
//!
//! Offline, against the emulator's stand-in (one block per terminal):
//!
//! ```text
//! cargo run -p teler-emulator -- agent --protocol gemini          # ws://127.0.0.1:8090/
//! AGENT=gemini REMOTE_WS_URL=ws://127.0.0.1:8090/ cargo run -p teler-examples --example bridge_agent
//! cargo run -p teler-emulator -- serve --call http://127.0.0.1:8080/flow --call-duration 5 \
//!     --output-dir /tmp/teler-agent                                # what the caller heard
//! ```
use std::future::IntoFuture;

use axum::serve::ListenerExt;
use teler_examples::ops::{self, ShutdownSignals};
use teler_examples::{Settings, agent_app};

#[tokio::main]
async fn main() {
    teler_examples::init_logging();
    let env = |n: &str| std::env::var(n).ok();
    let agent = agent_app::Agent::from_vars(env).unwrap_or_else(|e| fail(&e, 2));
    let settings = Settings::from_env().unwrap_or_else(|e| fail(&e, 2));
    let bind_addr = settings.bind_addr.clone();
    let drain_for = settings.drain_timeout;
    tracing::info!(
        agent = ?agent,
        flow = %settings.backend_url("/flow"),
        media = %settings.backend_ws_url(teler_examples::MEDIA_STREAM_PATH),
        remote = teler_examples::url_for_logs(settings.config.remote_url()),
        "bridge_agent"
    );
    let options = agent_app::Options {
        headers: agent.headers(env),
        on_end: None,
    };
    let (router, connector) =
        agent_app::build(settings, agent, options).unwrap_or_else(|e| fail(&e, 2));
    let signals = ShutdownSignals::install()
        .unwrap_or_else(|e| fail(&format!("cannot handle SIGTERM: {e}"), 1));
    let listener = tokio::net::TcpListener::bind(&bind_addr)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind_addr}: {e}"), 1));
    // Audio frames are small and latency-bound: no Nagle on Teler's socket either.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!("bridge_agent listening on {bind_addr}");
    let server = axum::serve(listener, router).into_future();
    let status = ops::serve_until_drained(server, signals, drain_for, |deadline| async move {
        connector.drain(deadline).await
    })
    .await;
    std::process::exit(status);
}

fn fail(why: &str, code: i32) -> ! {
    tracing::error!("bridge_agent: {why}");
    std::process::exit(code)
}
