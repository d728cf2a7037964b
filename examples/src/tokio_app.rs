//! The axum app of the `seed_app` and `bridge_tokio` examples: FreJun's sample app, in
//! Rust. Here (not in the example files) so tests can serve it.
//!
//! - `POST /flow`: Teler asks what to do with a call; answers the seed's `stream` action
//!   (`{BACKEND_DOMAIN}/media-stream`, 500 ms chunks, recorded).
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to the remote with the
//!   seed's ElevenLabs handlers, fresh handler state per call.
//! - `POST /webhook`: call and stream events. With `TELER_WEBHOOK_SECRET` set, a delivery
//!   without a valid signature is refused with 401 (a stale timestamp too); a body that is not
//!   a webhook gets 400; a repeated delivery (same event id) is acknowledged and skipped.
//! - `POST /initiate-call`: places a call from `FROM_NUMBER` to `TO_NUMBER` through Teler's
//!   REST API (or the emulator's, with `TELER_BASE_URL`), with this server's `/flow` and
//!   `/webhook` as the call's flow and status URLs. 503 when `TELER_API_KEY` is unset.
//!   Anyone who can reach this route can place calls on your account: keep it private.
//!
//! Teler signs neither the flow request nor the media socket, so with `MEDIA_TOKEN_KEY` set
//! both URLs carry signed, expiring tokens ([`UrlTokenKey`]): `/initiate-call` gives Teler a
//! flow URL with a flow token (valid an hour; for inbound calls, put one in the voice app's
//! flow URL: `seed_app --print-flow-url`), `/flow` refuses a request without one (401) and
//! answers with a `ws_url` carrying a media token bound to the call id (valid 10 minutes,
//! accepted once), and `/media-stream` refuses a connection without a valid, unused one (401)
//! before the upgrade. The media token's call id is only logged, not matched against the
//! `start` frame: Teler has been seen to use another id form on the socket than in REST and
//! flow requests.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use teler_tokio::axum_ws::{self, AxumWs};
use teler_tokio::elevenlabs::{self, CallHandler, RemoteHandler};
use teler_tokio::media::EndSummary;
use teler_tokio::rest::AsyncClient;
use teler_tokio::webhook::{
    Dedupe, FlowRequest, UrlTokenKey, Verifier, WebhookEvent, append_token, token_from_query,
};
use teler_tokio::{CallFlow, StreamConnector};

use crate::{MEDIA_STREAM_PATH, Settings, TelerSettings, log_event};

type Pair = (CallHandler, RemoteHandler);

/// How long a media-stream token minted in `/flow` stays valid.
const MEDIA_TOKEN_TTL_SECS: u64 = 600;
/// How long the flow token `/initiate-call` puts in the flow URL stays valid.
const FLOW_TOKEN_TTL_SECS: u64 = 3600;
/// What a flow token is bound to (in place of a call id, unknown when the call is placed).
pub const FLOW_TOKEN_SUBJECT: &str = "teler-flow";

/// The flow URL with a flow token valid for `ttl_secs`, for a voice app's settings or a call.
pub fn flow_url_with_token(settings: &Settings, key: &UrlTokenKey, ttl_secs: u64) -> String {
    let token = key.mint(FLOW_TOKEN_SUBJECT, unix_now() + ttl_secs);
    append_token(&settings.backend_url("/flow"), &token)
}

/// Called with each call's bridge summary.
pub type OnEnd = Box<dyn Fn(EndSummary) + Send + Sync>;
/// Called with each accepted webhook event.
pub type OnWebhook = Box<dyn Fn(&WebhookEvent) + Send + Sync>;

/// Callbacks for embedding the app (tests, the whole-story demo). All optional.
#[derive(Default)]
pub struct Hooks {
    /// Gets each call's bridge summary when its media stream ends.
    pub on_end: Option<OnEnd>,
    /// Gets each webhook event accepted by `/webhook` (verified, parsed, not a repeat).
    pub on_webhook: Option<OnWebhook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("on_end", &self.on_end.is_some())
            .field("on_webhook", &self.on_webhook.is_some())
            .finish()
    }
}

struct App {
    connector: StreamConnector<fn() -> Pair>,
    settings: Settings,
    rest: Option<(AsyncClient, TelerSettings)>,
    verifier: Option<Verifier>,
    seen: Mutex<Dedupe>,
    /// The call cap and, with `MEDIA_TOKEN_KEY`, the single-use media token check.
    gate: axum_ws::Gate,
    hooks: Hooks,
}

fn eleven_pair() -> Pair {
    (elevenlabs::call_handler(), elevenlabs::remote_handler())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The app. Fails only when the REST client cannot be built from the Teler settings (a
/// malformed `TELER_BASE_URL` or API key).
pub fn router(settings: Settings, hooks: Hooks) -> Result<Router, String> {
    let pair: fn() -> Pair = eleven_pair;
    let rest = match &settings.teler {
        None => None,
        Some(t) => {
            let mut builder = AsyncClient::builder(t.api_key.clone());
            if let Some(base) = &t.base_url {
                builder = builder.base_url(base.clone());
            }
            let client = builder
                .build()
                .map_err(|e| format!("TELER settings: {e}"))?;
            Some((client, t.clone()))
        }
    };
    let app = Arc::new(App {
        connector: StreamConnector::new(settings.config.clone(), pair).on_event(log_event),
        verifier: settings.webhook_secret.clone().map(Verifier::new),
        rest,
        gate: axum_ws::Gate::new(settings.serve_config()),
        settings,
        seen: Mutex::new(Dedupe::new(4096)),
        hooks,
    });
    Ok(Router::new()
        .route(MEDIA_STREAM_PATH, get(media_stream))
        .route("/flow", post(flow))
        .route("/webhook", post(webhook))
        .route("/initiate-call", post(initiate_call))
        .with_state(app))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn media_stream(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _body) = req.into_parts();
    // The cap and the media token (single use, by digest, until it expires), before the
    // upgrade: a refused socket dials no agent.
    let slot = match app.gate.admit(&parts) {
        Ok(slot) => slot,
        Err(refused) => {
            eprintln!("media stream refused: {}", refused.status());
            return refused;
        }
    };
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    axum_ws::upgrade(ws, app.connector.config()).on_upgrade(move |socket| async move {
        let _slot = slot;
        let summary = app.connector.bridge_stream(AxumWs::new(socket)).await;
        if let Some(on_end) = &app.hooks.on_end {
            on_end(summary);
        }
    })
}

async fn flow(State(app): State<Arc<App>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    if let Some(key) = &app.settings.media_token_key {
        let target = format!("/flow?{}", query.unwrap_or_default());
        let token = token_from_query(&target).unwrap_or("");
        if let Err(e) = key.verify_for_call(token, FLOW_TOKEN_SUBJECT, unix_now()) {
            eprintln!("flow request refused: {e}");
            return (
                StatusCode::UNAUTHORIZED,
                format!("flow request refused: {e}"),
            )
                .into_response();
        }
    }
    let req = match FlowRequest::from_json(&body) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flow request refused: {e}");
            return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response();
        }
    };
    eprintln!(
        "flow request: call {} from {} to {}",
        req.call_id,
        req.from_number.as_deref().unwrap_or("?"),
        req.to_number.as_deref().unwrap_or("?")
    );
    let mut ws_url = app.settings.backend_ws_url(MEDIA_STREAM_PATH);
    if let Some(key) = &app.settings.media_token_key {
        ws_url = with_token(key, &ws_url, &req.call_id);
    }
    match CallFlow::stream(ws_url)
        .chunk_size(500)
        .record(true)
        .to_json()
    {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn with_token(key: &UrlTokenKey, url: &str, call_id: &str) -> String {
    append_token(url, &key.mint(call_id, unix_now() + MEDIA_TOKEN_TTL_SECS))
}

async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed = match &app.verifier {
        Some(v) => {
            let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes()));
            v.verify(pairs, &body, unix_now()).map_err(|e| {
                let status =
                    StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                (status, e.to_string())
            })
        }
        None => {
            WebhookEvent::from_json(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
        }
    };
    let event = match parsed {
        Ok(ev) => ev,
        Err((status, why)) => {
            eprintln!("webhook refused ({status}): {why}");
            return (status, why).into_response();
        }
    };
    let fresh = match event.dedupe_key() {
        Some(key) => app.seen.lock().map(|mut s| s.insert(&key)).unwrap_or(true),
        None => true,
    };
    if fresh {
        let verified = if app.verifier.is_some() {
            "verified"
        } else {
            "NOT verified"
        };
        eprintln!(
            "webhook {} ({verified}, id {})",
            event.event_type(),
            event.dedupe_key().as_deref().unwrap_or("-")
        );
        if let Some(hook) = &app.hooks.on_webhook {
            hook(&event);
        }
    } else {
        eprintln!("webhook: repeat of {} skipped", event.event_type());
    }
    json_response(StatusCode::OK, serde_json::json!("Webhook received."))
}

async fn initiate_call(State(app): State<Arc<App>>) -> Response {
    let Some((client, teler)) = &app.rest else {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({
                "success": false,
                "error": "set TELER_API_KEY, FROM_NUMBER and TO_NUMBER to place calls"
            }),
        );
    };
    let flow_url = match &app.settings.media_token_key {
        Some(key) => flow_url_with_token(&app.settings, key, FLOW_TOKEN_TTL_SECS),
        None => app.settings.backend_url("/flow"),
    };
    let status_url = app.settings.backend_url("/webhook");
    match client
        .calls()
        .create(
            &teler.from_number,
            &teler.to_number,
            &flow_url,
            &status_url,
            true,
        )
        .await
    {
        Ok(call) => {
            eprintln!("call created: {}", call.id);
            json_response(
                StatusCode::OK,
                serde_json::json!({"success": true, "call_id": call.id}),
            )
        }
        Err(e) => {
            let why = crate::with_base_url_hint(&e, e.status(), teler.base_url.as_deref());
            eprintln!("call not created: {why}");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"success": false, "error": why}),
            )
        }
    }
}
