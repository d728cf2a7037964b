//! A Teler bridge server on tokio + axum 0.8, the Rust form of FreJun's sample app.
//!
//! - `POST /flow`: Teler asks what to do with a call; answers a `stream` action pointing
//!   Teler's media stream at `wss://{BACKEND_DOMAIN}/media-stream` (500 ms chunks,
//!   recorded).
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to `REMOTE_WS_URL` with
//!   the ElevenLabs handlers (caller audio -> `user_audio_chunk`, agent audio -> Teler
//!   `audio` with chunk ids, interruption -> `clear`), fresh handler state per call.
//! - `POST /webhook`: call and stream events; logged, answered 200.
//!
//! ```text
//! REMOTE_WS_URL=wss://api.elevenlabs.io/v1/convai/conversation?agent_id=… \
//! BACKEND_DOMAIN=my-bridge.example.com BIND_ADDR=0.0.0.0:8080 \
//!     cargo run -p teler-examples --example bridge_tokio
//! ```
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use teler_examples::{MEDIA_STREAM_PATH, Settings, log_event};
use teler_tokio::axum_ws::{self, AxumWs};
use teler_tokio::elevenlabs::{self, CallHandler, RemoteHandler};
use teler_tokio::{CallFlow, StreamConnector};

type Connector = StreamConnector<fn() -> (CallHandler, RemoteHandler)>;

struct App {
    connector: Connector,
    backend_domain: String,
}

fn eleven_pair() -> (CallHandler, RemoteHandler) {
    (elevenlabs::call_handler(), elevenlabs::remote_handler())
}

async fn media_stream(State(app): State<Arc<App>>, ws: WebSocketUpgrade) -> Response {
    axum_ws::upgrade(ws, app.connector.config()).on_upgrade(move |socket| async move {
        app.connector.bridge_stream(AxumWs::new(socket)).await;
    })
}

async fn flow(State(app): State<Arc<App>>, body: String) -> Response {
    eprintln!("flow request: {body}");
    let url = format!("wss://{}{MEDIA_STREAM_PATH}", app.backend_domain);
    match CallFlow::stream(url).chunk_size(500).record(true).to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn webhook(body: String) -> StatusCode {
    eprintln!("webhook: {body}");
    StatusCode::OK
}

#[tokio::main]
async fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bridge_tokio: {e}");
            std::process::exit(2);
        }
    };
    let pair: fn() -> (CallHandler, RemoteHandler) = eleven_pair;
    let app = Arc::new(App {
        connector: StreamConnector::new(settings.config, pair).on_event(log_event),
        backend_domain: settings.backend_domain,
    });
    let router = Router::new()
        .route(MEDIA_STREAM_PATH, get(media_stream))
        .route("/flow", post(flow))
        .route("/webhook", post(webhook))
        .with_state(app);
    let listener = match tokio::net::TcpListener::bind(&settings.bind_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bridge_tokio: cannot listen on {}: {e}", settings.bind_addr);
            std::process::exit(1);
        }
    };
    // Audio frames are small and latency-bound: no Nagle on Teler's socket either.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("bridge_tokio listening on {}", settings.bind_addr);
    if let Err(e) = axum::serve(listener, router).await {
        eprintln!("bridge_tokio: {e}");
        std::process::exit(1);
    }
}
