//! A Teler bridge to an OpenAI-Realtime-style voice agent (24 kHz PCM16 both ways), on
//! tokio + axum 0.8, with the core's resampler and packetiser behind the ready-made
//! `teler_tokio::openai` handlers.
//!
//! - `POST /flow`: answers a `stream` action to `{BACKEND_DOMAIN}/media-stream` (500 ms
//!   chunks, recorded).
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to `REMOTE_WS_URL`:
//!   `session.update` first (PCM at 24 kHz; `OPENAI_SESSION_UPDATE` replaces it), caller
//!   audio 8 kHz -> 24 kHz `input_audio_buffer.append`, agent
//!   `response.output_audio.delta` 24 kHz -> 500 ms 8 kHz Teler `audio` chunks,
//!   `input_audio_buffer.speech_started` -> `clear`, `response.done` -> the last chunk.
//!
//! The app itself is `teler_examples::openai_app` (tested end to end with the emulator in
//! `examples/tests/openai.rs`).
//!
//! | variable | meaning |
//! |---|---|
//! | `REMOTE_WS_URL` | the agent (required): `wss://api.openai.com/v1/realtime?model=gpt-realtime`, or the emulator's `ws://127.0.0.1:8090/openai` |
//! | `REMOTE_AUTHORIZATION` | the `Authorization` header, `Bearer sk-…` for OpenAI |
//! | `OPENAI_SESSION_UPDATE` | the `session.update` JSON to send instead of the default (instructions, voice, …) |
//! | `BIND_ADDR` | listen address (`127.0.0.1:8080`) |
//! | `BACKEND_DOMAIN` | where Teler reaches this app: `example.com` (https/wss) or `http://host:port` |
//! | `DRAIN_SECONDS` | on SIGTERM or SIGINT: new media streams get 503, live calls get this long (30), then 1001; then exit 0 |
//! | `RUST_LOG` | the log filter (`info`) |
//!
//! Offline, against the emulator's stand-in agent:
//!
//! ```text
//! cargo run -p teler-emulator -- agent --protocol openai          # ws://127.0.0.1:8090/
//! REMOTE_WS_URL=ws://127.0.0.1:8090/ cargo run -p teler-examples --example bridge_openai
//! cargo run -p teler-emulator -- serve --call http://127.0.0.1:8080/flow --call-duration 5 \
//!     --output-dir /tmp/teler-openai                             # what the caller heard
//! ```
//!
//! Against OpenAI:
//!
//! ```text
//! REMOTE_WS_URL='wss://api.openai.com/v1/realtime?model=gpt-realtime' \
//! REMOTE_AUTHORIZATION="Bearer $OPENAI_API_KEY" BACKEND_DOMAIN=my-bridge.example.com \
//! BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_openai
//! ```
use teler_examples::ops::{self, ShutdownSignals};
use teler_examples::{Settings, openai_app};

#[tokio::main]
async fn main() {
    teler_examples::init_logging();
    let settings = Settings::from_env().unwrap_or_else(|e| fail(&e, 2));
    let bind_addr = settings.bind_addr.clone();
    let drain_for = settings.drain_timeout;
    // The handshake bound and connection cap of the SDK's server block.
    let serve = settings.serve_config();
    tracing::info!(
        flow = %settings.backend_url("/flow"),
        media = %settings.backend_ws_url(teler_examples::MEDIA_STREAM_PATH),
        remote = teler_examples::url_for_logs(settings.config.remote_url()),
        "bridge_openai"
    );
    let options = openai_app::Options {
        session_update: std::env::var("OPENAI_SESSION_UPDATE")
            .ok()
            .filter(|s| !s.trim().is_empty()),
        on_end: None,
    };
    let (router, connector) = openai_app::build(settings, options);
    let signals = ShutdownSignals::install()
        .unwrap_or_else(|e| fail(&format!("cannot handle SIGTERM: {e}"), 1));
    let listener = tokio::net::TcpListener::bind(&bind_addr)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind_addr}: {e}"), 1));
    tracing::info!("bridge_openai listening on {bind_addr}");
    let server = teler_tokio::axum_ws::serve(listener, router, &serve);
    let status = ops::serve_until_drained(server, signals, drain_for, |deadline| async move {
        connector.drain(deadline).await
    })
    .await;
    std::process::exit(status);
}

fn fail(why: &str, code: i32) -> ! {
    tracing::error!("bridge_openai: {why}");
    std::process::exit(code)
}
