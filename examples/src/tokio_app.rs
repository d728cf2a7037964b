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
//! - `GET /calls`: the live calls as JSON (this process's `id`, Teler's `call_id` and
//!   `stream_id`, `since` in RFC 3339, the counters as `stats`) and whether a drain began.
//! - `POST /calls/{call_id}/hangup`: hangs the call up through the REST API
//!   (`POST /voice/calls/{call_id}/hangup`; a 409, already ended, counts as done), then stops
//!   that call's bridge (only the bridge when `TELER_API_KEY` is unset); 404 when no live
//!   call has that `call_id`, 502 (bridge stopped all the same) when Teler refused the hangup.
//!
//! `/initiate-call`, `/calls` and `/calls/{call_id}/hangup` have no authentication of their
//! own: they are for operators and must not be reachable from the internet. Expose only
//! `/flow`, `/webhook` and `/media-stream` through your proxy or load balancer.
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
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use teler_tokio::axum_ws::{self, AxumWs};
use teler_tokio::elevenlabs::{self, CallHandler, RemoteHandler};
use teler_tokio::fleet::{AsyncFleetGuard, AsyncRedisFleet, OnceKind, Outcome, Verdict};
use teler_tokio::media::EndSummary;
use teler_tokio::rest::AsyncClient;
use teler_tokio::rest::voice::Hangup;
use teler_tokio::webhook::{
    Dedupe, FlowRequest, UrlTokenKey, Verifier, WebhookEvent, append_token, token_from_query,
};
use teler_tokio::{CallFlow, CallHandle, SendError, StreamConnector};

use crate::{MEDIA_STREAM_PATH, Settings, TelerSettings};

type Pair = (CallHandler, RemoteHandler);

/// The app's connector: its [`calls`](StreamConnector::calls) and
/// [`drain`](StreamConnector::drain) are the server's live calls.
pub type Connector = StreamConnector<fn() -> Pair>;

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
    connector: Arc<Connector>,
    settings: Settings,
    rest: Option<(AsyncClient, TelerSettings)>,
    verifier: Option<Verifier>,
    seen: Mutex<Dedupe>,
    /// With `REDIS_URL`: this instance's fleet membership (its tasks stop when the app is
    /// dropped).
    fleet: Option<(Arc<AsyncRedisFleet>, AsyncFleetGuard)>,
    /// The call cap and, with `MEDIA_TOKEN_KEY` and no fleet, the single-use media token
    /// check.
    gate: axum_ws::Gate,
    /// A fleet member's media-token check (`MEDIA_TOKEN_KEY`): signature and expiry here,
    /// single use on Redis, awaited in the route.
    fleet_tokens: Option<teler_tokio::MediaTokens>,
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
    build(settings, hooks).map(|(router, _)| router)
}

/// The app and its connector, for a server that drains on shutdown or acts on live calls
/// (`bridge_tokio`, `seed_app`). Fails as [`router`] does.
pub fn build(settings: Settings, hooks: Hooks) -> Result<(Router, Arc<Connector>), String> {
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
    let connector = Arc::new(StreamConnector::new(settings.config.clone(), pair));
    let fleet = match &settings.fleet {
        None => None,
        Some(f) => {
            let fleet = Arc::new(
                AsyncRedisFleet::new(&f.redis_url, f.instance.clone())
                    .map_err(|e| format!("REDIS_URL: {e}"))?
                    .heartbeat_ttl(f.heartbeat_ttl),
            );
            let guard = fleet.serve(connector.calls());
            tracing::info!(instance = %f.instance, "fleet member: state shared on Redis");
            Some((fleet, guard))
        }
    };
    let app = Arc::new(App {
        verifier: settings.webhook_secret.clone().map(Verifier::new),
        rest,
        // While the connector drains, new media streams get 503 with Retry-After. A fleet
        // member checks media tokens in the route instead (on Redis, awaited).
        gate: axum_ws::Gate::new(match fleet {
            None => settings.serve_config(),
            Some(_) => settings.serve_config_without_tokens(),
        })
        .watch(connector.calls()),
        fleet_tokens: fleet.as_ref().and(settings.media_tokens()),
        fleet,
        connector: connector.clone(),
        settings,
        seen: Mutex::new(Dedupe::new(4096)),
        hooks,
    });
    let router = Router::new()
        .route(MEDIA_STREAM_PATH, get(media_stream))
        .route("/flow", post(flow))
        .route("/webhook", post(webhook))
        // Operator routes: as private as /initiate-call (see the module docs).
        .route("/initiate-call", post(initiate_call))
        .route("/calls", get(list_calls))
        .route("/calls/{call_id}/hangup", post(hangup))
        .with_state(app);
    Ok((router, connector))
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
    let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
    // A fleet member: a stranger's token is refused before anything else (401).
    if let Some(tokens) = &app.fleet_tokens
        && let Err(refused) = tokens.verify(target, unix_now())
    {
        return refused_response(&refused);
    }
    // The cap and the drain, and without a fleet the media token (single use, by digest,
    // until it expires), before the upgrade: a refused socket dials no agent.
    let slot = match app.gate.admit(&parts) {
        Ok(slot) => slot,
        Err(refused) => {
            tracing::info!(status = %refused.status(), "media stream refused");
            return refused;
        }
    };
    // A fleet member uses the token up fleet-wide only now, once the stream is admitted (a
    // stream refused for the drain keeps its token for the retry on another instance).
    if let (Some(tokens), Some((fleet, _))) = (&app.fleet_tokens, &app.fleet)
        && let Err(refused) = fleet.check_media_token(tokens, target, unix_now()).await
    {
        return refused_response(&refused);
    }
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

fn refused_response(refused: &teler_tokio::Refusal) -> Response {
    let status = StatusCode::from_u16(refused.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    tracing::info!(%status, reason = %refused.reason, "media stream refused");
    let mut resp = (status, refused.reason.clone()).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    resp
}

async fn flow(State(app): State<Arc<App>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    if let Some(key) = &app.settings.media_token_key {
        let target = format!("/flow?{}", query.unwrap_or_default());
        let token = token_from_query(&target).unwrap_or("");
        if let Err(e) = key.verify_for_call(token, FLOW_TOKEN_SUBJECT, unix_now()) {
            tracing::warn!(error = %e, "flow request refused");
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
            tracing::warn!(error = %e, "flow request refused");
            return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response();
        }
    };
    tracing::info!(
        call_id = %req.call_id,
        from = req.from_number.as_deref().unwrap_or("?"),
        to = req.to_number.as_deref().unwrap_or("?"),
        "flow request"
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
            tracing::warn!(%status, reason = %why, "webhook refused");
            return (status, why).into_response();
        }
    };
    let fresh = match (event.dedupe_key(), &app.fleet) {
        (None, _) => true,
        // A fleet dedupes across instances: a retried delivery may land on another one. If
        // Redis cannot answer, the delivery is processed (fail open) and counted.
        (Some(key), Some((fleet, _))) => {
            let verdict = fleet
                .remember_once(OnceKind::WebhookEvent, key.as_bytes(), WEBHOOK_DEDUPE_TTL)
                .await;
            verdict != Verdict::Duplicate
        }
        (Some(key), None) => app.seen.lock().map(|mut s| s.insert(&key)).unwrap_or(true),
    };
    if fresh {
        let verified = if app.verifier.is_some() {
            "verified"
        } else {
            "NOT verified"
        };
        tracing::info!(
            event = event.event_type(),
            verified,
            id = event.dedupe_key().as_deref().unwrap_or("-"),
            "webhook"
        );
        if let Some(hook) = &app.hooks.on_webhook {
            hook(&event);
        }
    } else {
        tracing::info!(
            event = event.event_type(),
            id = event.dedupe_key().as_deref().unwrap_or("-"),
            "webhook repeat skipped"
        );
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
            tracing::info!(call_id = %call.id, "call created");
            json_response(
                StatusCode::OK,
                serde_json::json!({"success": true, "call_id": call.id}),
            )
        }
        Err(e) => {
            let why = crate::with_base_url_hint(&e, e.status(), teler.base_url.as_deref());
            tracing::warn!(error = %why, "call not created");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"success": false, "error": why}),
            )
        }
    }
}

/// One live call as `GET /calls` shows it.
fn call_json(h: &CallHandle) -> serde_json::Value {
    serde_json::json!({
        "id": h.id(),
        "call_id": h.call_id(),
        "stream_id": h.stream_id(),
        "since": humantime::format_rfc3339_millis(h.since()).to_string(),
        "stats": h.stats(),
    })
}

async fn list_calls(State(app): State<Arc<App>>) -> Response {
    let calls = app.connector.calls();
    let live: Vec<serde_json::Value> = calls.list().iter().map(call_json).collect();
    json_response(
        StatusCode::OK,
        serde_json::json!({"calls": live, "draining": calls.is_draining()}),
    )
}

async fn hangup(State(app): State<Arc<App>>, Path(call_id): Path<String>) -> Response {
    // Teler's `call_id` from the stream's `start` frame.
    let Some(handle) = app.connector.calls().by_call_id(&call_id) else {
        if let Some((fleet, _)) = &app.fleet {
            return hangup_elsewhere(&app, fleet, call_id).await;
        }
        return json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({"success": false, "error": "no live call has this call_id"}),
        );
    };
    // The phone call first (`POST /voice/calls/{call_id}/hangup`): Teler then closes the
    // media stream itself. Stopping the bridge first would race it: a stream the app closes
    // can end the call on Teler's side before the hangup arrives (409, already ended).
    // Teler has been seen to use another id form on the media socket than in REST; then
    // Teler answers 404 and this says so (the bridge is stopped either way).
    let rest = match &app.rest {
        None => None,
        Some((client, teler)) => Some(
            match client
                .voice()
                .mutations()
                .hangup(Hangup::new(call_id.clone()))
                .await
            {
                Ok(_) => Ok("hung up"),
                // 409: the call had ended already, which is what was asked for.
                Err(e) if e.status() == Some(409) => Ok("had already ended"),
                Err(e) => Err(crate::with_base_url_hint(
                    &e,
                    e.status(),
                    teler.base_url.as_deref(),
                )),
            },
        ),
    };
    // Then the bridge (both sides closed with 1000), whatever Teler said; a call that
    // ended meanwhile is stopped already.
    let stopped = match handle.stop("hangup requested") {
        Ok(()) | Err(SendError::Ended) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    tracing::info!(
        call_id = %call_id,
        id = handle.id(),
        rest = ?rest,
        bridge = ?stopped,
        "hangup requested"
    );
    let (mut status, hung_up, mut answer) = match rest {
        // No REST client (TELER_API_KEY unset, as in bridge_tokio without it): the bridge
        // is stopped, which ends the media stream; the phone call is Teler's to end.
        None => (
            StatusCode::OK,
            false,
            serde_json::json!({"note": "TELER_API_KEY is unset: only the bridge was stopped"}),
        ),
        Some(Ok(how)) => (
            StatusCode::OK,
            true,
            serde_json::json!({"note": format!("the call {how}")}),
        ),
        Some(Err(why)) => (
            StatusCode::BAD_GATEWAY,
            false,
            serde_json::json!({"error": why}),
        ),
    };
    if let Err(why) = &stopped {
        // The call's command queue is full (its loop is behind): try again.
        answer["error"] = why.as_str().into();
        status = StatusCode::SERVICE_UNAVAILABLE;
    }
    answer["call_id"] = call_id.into();
    answer["bridge_stopped"] = stopped.is_ok().into();
    answer["hung_up"] = hung_up.into();
    answer["success"] = (status == StatusCode::OK).into();
    json_response(status, answer)
}

/// How long a webhook event id is remembered fleet-wide (Teler retries within hours).
const WEBHOOK_DEDUPE_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The hangup of a call bridged on another fleet instance: the REST hangup from here, and
/// the stop over the fleet's command bus to the instance that bridges it.
async fn hangup_elsewhere(app: &App, fleet: &AsyncRedisFleet, call_id: String) -> Response {
    let rest = match &app.rest {
        None => None,
        Some((client, _)) => Some(
            match client
                .voice()
                .mutations()
                .hangup(Hangup::new(call_id.clone()))
                .await
            {
                Ok(_) => true,
                Err(e) => e.status() == Some(409),
            },
        ),
    };
    let stop = teler_tokio::media::Command::stop("hangup requested");
    let sent = fleet
        .send_command(
            app.connector.calls(),
            &call_id,
            stop,
            std::time::Duration::from_secs(2),
        )
        .await;
    tracing::info!(call_id = %call_id, rest = ?rest, bus = ?sent, "hangup requested (fleet)");
    let (status, error) = match &sent {
        Ok(Outcome::Delivered | Outcome::Ended) => (StatusCode::OK, None),
        Ok(Outcome::NotFound) => (
            StatusCode::NOT_FOUND,
            Some("no live call has this call_id in the fleet".to_owned()),
        ),
        Ok(Outcome::Unreachable) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(
                "the instance bridging this call is not reachable (it died, or it is \
                 reconnecting to Redis): retry"
                    .to_owned(),
            ),
        ),
        Ok(other) => (StatusCode::SERVICE_UNAVAILABLE, Some(format!("{other:?}"))),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Some(e.to_string())),
    };
    json_response(
        status,
        serde_json::json!({
            "success": status == StatusCode::OK,
            "call_id": call_id,
            "bridged_here": false,
            "bridge_stopped": status == StatusCode::OK,
            "hung_up": rest.unwrap_or(false),
            "error": error,
        }),
    )
}
