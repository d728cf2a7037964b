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
//! The app itself is `teler_examples::tokio_app` (tested in `examples/tests/`).
//!
//! ```text
//! REMOTE_WS_URL=wss://api.elevenlabs.io/v1/convai/conversation?agent_id=… \
//! BACKEND_DOMAIN=my-bridge.example.com BIND_ADDR=0.0.0.0:8080 \
//!     cargo run -p teler-examples --example bridge_tokio
//! ```
use teler_examples::Settings;

#[tokio::main]
async fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bridge_tokio: {e}");
            std::process::exit(2);
        }
    };
    let bind_addr = settings.bind_addr.clone();
    // The handshake bound and connection cap of the SDK's server block.
    let serve = settings.serve_config();
    let router = match teler_examples::tokio_app::router(settings, Default::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bridge_tokio: {e}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&bind_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bridge_tokio: cannot listen on {bind_addr}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("bridge_tokio listening on {bind_addr}");
    if let Err(e) = teler_tokio::axum_ws::serve(listener, router, &serve).await {
        eprintln!("bridge_tokio: {e}");
        std::process::exit(1);
    }
}
