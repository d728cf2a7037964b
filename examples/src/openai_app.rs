//! The axum app of the `bridge_openai` example: Teler bridged to an OpenAI-Realtime-style
//! agent (24 kHz PCM16 both ways) with the ready-made [`teler_tokio::openai`] handlers.
//! Here (not in the example file) so tests can serve it.
//!
//! - `POST /flow`: answers a `stream` action to `{BACKEND_DOMAIN}/media-stream` (500 ms
//!   chunks, recorded); a body without `call_id` gets 422.
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to `REMOTE_WS_URL`
//!   (with `REMOTE_AUTHORIZATION` as the `Authorization` header), fresh handlers per call:
//!   the session config first, caller audio resampled to 24 kHz as
//!   `input_audio_buffer.append`, the agent's 24 kHz `response.output_audio.delta` audio
//!   resampled to 8 kHz and cut into 500 ms Teler `audio` chunks (`response.done` flushes),
//!   `input_audio_buffer.speech_started` turned into Teler's `clear` (barge-in).
//!
//! Of [`Settings`] it uses `BIND_ADDR`, `BACKEND_DOMAIN` and the bridge config; the REST,
//! webhook and media-token settings belong to the seed app ([`crate::tokio_app`]).
//!
//! Against OpenAI itself: `REMOTE_WS_URL=wss://api.openai.com/v1/realtime?model=gpt-realtime`
//! and `REMOTE_AUTHORIZATION="Bearer $OPENAI_API_KEY"`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use teler_tokio::axum_ws::{self, AxumWs};
use teler_tokio::openai::{self, CallHandler, RemoteHandler};
use teler_tokio::webhook::FlowRequest;
use teler_tokio::{CallFlow, StreamConnector};

use crate::tokio_app::OnEnd;
use crate::{MEDIA_STREAM_PATH, Settings};

/// What makes each call's handler pair.
pub type Factory = Box<dyn Fn() -> (CallHandler, RemoteHandler) + Send + Sync>;

/// What the app can be given besides [`Settings`]. All optional.
#[derive(Default)]
pub struct Options {
    /// The `session.update` sent to the agent when it connects, instead of
    /// [`openai::DEFAULT_SESSION_UPDATE`] (e.g. with instructions and a voice; keep the
    /// 24 kHz `audio/pcm` formats). The example reads it from `OPENAI_SESSION_UPDATE`.
    pub session_update: Option<String>,
    /// Gets each call's bridge summary when its media stream ends.
    pub on_end: Option<OnEnd>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("session_update", &self.session_update.is_some())
            .field("on_end", &self.on_end.is_some())
            .finish()
    }
}

/// The app's connector: its [`calls`](StreamConnector::calls) and
/// [`drain`](StreamConnector::drain) are the server's live calls.
pub type Connector = StreamConnector<Factory>;

struct App {
    connector: Arc<Connector>,
    settings: Settings,
    on_end: Option<OnEnd>,
}

/// The app: `POST /flow` and `GET /media-stream`.
pub fn router(settings: Settings, options: Options) -> Router {
    build(settings, options).0
}

/// The app and its connector, for a server that drains on shutdown (`bridge_openai`).
pub fn build(settings: Settings, options: Options) -> (Router, Arc<Connector>) {
    let session = options.session_update;
    let factory: Factory = Box::new(move || {
        let call = match &session {
            Some(s) => openai::call_handler().session_update(s.clone()),
            None => openai::call_handler(),
        };
        (call, openai::remote_handler())
    });
    let connector = Arc::new(StreamConnector::new(settings.config.clone(), factory));
    let app = Arc::new(App {
        connector: connector.clone(),
        settings,
        on_end: options.on_end,
    });
    let router = Router::new()
        .route(MEDIA_STREAM_PATH, get(media_stream))
        .route("/flow", post(flow))
        .with_state(app);
    (router, connector)
}

async fn media_stream(State(app): State<Arc<App>>, ws: WebSocketUpgrade) -> Response {
    if app.connector.is_draining() {
        return crate::ops::draining_response();
    }
    axum_ws::upgrade(ws, app.connector.config()).on_upgrade(move |socket| async move {
        let summary = app.connector.bridge_stream(AxumWs::new(socket)).await;
        if let Some(on_end) = &app.on_end {
            on_end(summary);
        }
    })
}

async fn flow(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req = match FlowRequest::from_json(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
    };
    tracing::info!(call_id = %req.call_id, "flow request");
    match CallFlow::stream(app.settings.backend_ws_url(MEDIA_STREAM_PATH))
        .chunk_size(500)
        .record(true)
        .to_json()
    {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
