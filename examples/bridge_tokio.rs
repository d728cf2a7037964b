//! A Teler bridge server on tokio + axum 0.8, the Rust form of FreJun's sample app.
//!
//! - `POST /flow`: Teler asks what to do with a call; answers a `stream` action pointing
//!   Teler's media stream at `wss://{BACKEND_DOMAIN}/media-stream` (500 ms chunks,
//!   recorded).
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to `REMOTE_WS_URL` with
//!   the ElevenLabs handlers (caller audio -> `user_audio_chunk`, agent audio -> Teler
//!   `audio` with chunk ids, interruption -> `clear`), fresh handler state per call.
//! - `POST /webhook`: call and stream events; logged, answered 200. With
//!   `TELER_WEBHOOK_SECRET` set, unsigned or badly signed deliveries get 401.
//! - `POST /initiate-call`: places a call through the REST API when `TELER_API_KEY`,
//!   `FROM_NUMBER` and `TO_NUMBER` are set (the `seed_app` example is this server with those
//!   required).
//!
//! - `GET /calls`, `POST /calls/{call_id}/hangup`: the live calls, and stopping one (see
//!   `teler_examples::tokio_app`; keep them private, like `/initiate-call`).
//! - `GET /metrics`: Prometheus text of the `teler_*` metrics.
//!
//! On SIGTERM or SIGINT it drains: new media streams get 503, live calls run until they end
//! or `DRAIN_SECONDS` (30) pass and are then closed with 1001, and it exits with status 0.
//! Logs go to stderr, filtered by `RUST_LOG` (`info`).
//!
//! The app itself is `teler_examples::tokio_app` (tested in `examples/tests/`).
//!
//! ```text
//! REMOTE_WS_URL=wss://api.elevenlabs.io/v1/convai/conversation?agent_id=… \
//! BACKEND_DOMAIN=my-bridge.example.com BIND_ADDR=0.0.0.0:8080 \
//!     cargo run -p teler-examples --example bridge_tokio
//! ```
use teler_examples::ops::{self, ShutdownSignals};
use teler_examples::{Settings, tokio_app};

#[tokio::main]
async fn main() {
    teler_examples::init_logging();
    let settings = Settings::from_env().unwrap_or_else(|e| fail(&e, 2));
    let bind_addr = settings.bind_addr.clone();
    let drain_for = settings.drain_timeout;
    // The handshake bound and connection cap of the SDK's server block.
    let serve = settings.serve_config();
    // Before the first call: the adapters record into it from then on.
    let metrics = ops::install_metrics().unwrap_or_else(|e| fail(&e, 1));
    let (router, connector) =
        tokio_app::build(settings, Default::default()).unwrap_or_else(|e| fail(&e, 2));
    let router = router.merge(ops::metrics_route(metrics));
    let signals = ShutdownSignals::install()
        .unwrap_or_else(|e| fail(&format!("cannot handle SIGTERM: {e}"), 1));
    let listener = tokio::net::TcpListener::bind(&bind_addr)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind_addr}: {e}"), 1));
    tracing::info!("bridge_tokio listening on {bind_addr}");
    let server = teler_tokio::axum_ws::serve(listener, router, &serve);
    let status = ops::serve_until_drained(server, signals, drain_for, |deadline| async move {
        connector.drain(deadline).await
    })
    .await;
    std::process::exit(status);
}

fn fail(why: &str, code: i32) -> ! {
    tracing::error!("bridge_tokio: {why}");
    std::process::exit(code)
}
