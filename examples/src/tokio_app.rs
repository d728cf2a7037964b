//! The axum app of the `bridge_tokio` example, here so its tests can serve it.
//!
//! - `POST /flow`: answers the seed's `stream` action, pointing Teler's media stream at
//!   `wss://{backend_domain}/media-stream` (500 ms chunks, recorded).
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to the remote with the
//!   ElevenLabs handlers, fresh handler state per call.
//! - `POST /webhook`: logged, answered 200.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use teler_tokio::axum_ws::{self, AxumWs};
use teler_tokio::elevenlabs::{self, CallHandler, RemoteHandler};
use teler_tokio::media::EndSummary;
use teler_tokio::{CallFlow, StreamConnector};

use crate::{MEDIA_STREAM_PATH, Settings, log_event};

type Pair = (CallHandler, RemoteHandler);

struct App {
    connector: StreamConnector<fn() -> Pair>,
    backend_domain: String,
    on_end: Option<Box<dyn Fn(EndSummary) + Send + Sync>>,
}

fn eleven_pair() -> Pair {
    (elevenlabs::call_handler(), elevenlabs::remote_handler())
}

/// The app; `on_end` (if any) gets each call's summary.
pub fn router(settings: Settings, on_end: Option<Box<dyn Fn(EndSummary) + Send + Sync>>) -> Router {
    let pair: fn() -> Pair = eleven_pair;
    let app = Arc::new(App {
        connector: StreamConnector::new(settings.config, pair).on_event(log_event),
        backend_domain: settings.backend_domain,
        on_end,
    });
    Router::new()
        .route(MEDIA_STREAM_PATH, get(media_stream))
        .route("/flow", post(flow))
        .route("/webhook", post(webhook))
        .with_state(app)
}

async fn media_stream(State(app): State<Arc<App>>, ws: WebSocketUpgrade) -> Response {
    axum_ws::upgrade(ws, app.connector.config()).on_upgrade(move |socket| async move {
        let summary = app.connector.bridge_stream(AxumWs::new(socket)).await;
        if let Some(on_end) = &app.on_end {
            on_end(summary);
        }
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
