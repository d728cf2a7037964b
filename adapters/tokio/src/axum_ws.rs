//! Teler's media stream accepted with axum 0.8 (feature `axum`).
//!
//! axum's [`WebSocket`] speaks its own `Message` type; [`AxumWs`] wraps it as a
//! `Stream + Sink` of tungstenite [`Message`]s so it plugs into
//! [`StreamConnector::bridge_stream`](crate::StreamConnector::bridge_stream). Payloads move
//! without copying (text is re-checked as UTF-8 on the way through). [`upgrade`] gives the
//! upgrade the bridge's buffer sizes and frame limit. A read error from axum's socket is
//! classified as on every other socket: a protocol violation (invalid UTF-8 in a text frame,
//! reserved bits or opcodes, a frame over the limit) ends the bridge with
//! `EndReason::ProtocolError` and is counted; a reset is a hang-up.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, extract::{State, ws::WebSocketUpgrade}, response::Response, routing::get};
//! use teler_tokio::{BridgeConfig, StreamConnector, axum_ws, elevenlabs};
//! use teler_tokio::elevenlabs::{CallHandler, RemoteHandler};
//!
//! type Connector = StreamConnector<fn() -> (CallHandler, RemoteHandler)>;
//!
//! async fn media_stream(State(c): State<Arc<Connector>>, ws: WebSocketUpgrade) -> Response {
//!     axum_ws::upgrade(ws, c.config()).on_upgrade(move |socket| async move {
//!         let summary = c.bridge_stream(axum_ws::AxumWs::new(socket)).await;
//!         println!("call ended: {:?}", summary.reason);
//!     })
//! }
//!
//! # async fn run() {
//! let config = BridgeConfig::builder("wss://agent.example/ws").build().unwrap();
//! let pair: fn() -> (CallHandler, RemoteHandler) =
//!     || (elevenlabs::call_handler(), elevenlabs::remote_handler());
//! let app = Router::new()
//!     .route("/media-stream", get(media_stream))
//!     .with_state(Arc::new(StreamConnector::new(config, pair)));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use futures_util::{Sink, Stream};
use teler_core::media::BridgeConfig;

/// axum's WebSocket as a `Stream + Sink` of tungstenite messages.
#[derive(Debug)]
pub struct AxumWs(WebSocket);

impl AxumWs {
    /// Wraps an upgraded axum socket.
    pub fn new(socket: WebSocket) -> Self {
        AxumWs(socket)
    }

    /// The axum socket back.
    pub fn into_inner(self) -> WebSocket {
        self.0
    }
}

/// Applies the bridge's socket buffer sizes and frame limit to an axum upgrade.
pub fn upgrade(ws: WebSocketUpgrade, config: &BridgeConfig) -> WebSocketUpgrade {
    ws.read_buffer_size(config.read_buffer_size())
        .write_buffer_size(config.write_buffer_size())
        .max_write_buffer_size(config.max_write_buffer_size())
        .max_message_size(config.max_frame_size())
        .max_frame_size(config.max_frame_size())
}

fn from_axum(m: ws::Message) -> Option<Message> {
    Some(match m {
        ws::Message::Text(t) => Message::Text(Utf8Bytes::try_from(bytes_of(t)).ok()?),
        ws::Message::Binary(b) => Message::Binary(b),
        ws::Message::Ping(p) => Message::Ping(p),
        ws::Message::Pong(p) => Message::Pong(p),
        ws::Message::Close(cf) => Message::Close(cf.map(|c| CloseFrame {
            code: c.code.into(),
            reason: Utf8Bytes::from(c.reason.as_str()),
        })),
    })
}

fn bytes_of(t: ws::Utf8Bytes) -> axum::body::Bytes {
    t.into()
}

fn bytes_of_tungstenite(t: Utf8Bytes) -> axum::body::Bytes {
    t.into()
}

fn to_axum(m: Message) -> Option<ws::Message> {
    Some(match m {
        // Both wrap `Bytes`: no copy (the UTF-8 check is repeated, it cannot fail).
        Message::Text(t) => {
            ws::Message::Text(ws::Utf8Bytes::try_from(bytes_of_tungstenite(t)).ok()?)
        }
        Message::Binary(b) => ws::Message::Binary(b),
        Message::Ping(p) => ws::Message::Ping(p),
        Message::Pong(p) => ws::Message::Pong(p),
        Message::Close(cf) => ws::Message::Close(cf.map(|c| ws::CloseFrame {
            code: c.code.into(),
            reason: ws::Utf8Bytes::from(c.reason.as_str()),
        })),
        Message::Frame(_) => return None,
    })
}

/// axum's read error, classified (axum speaks tungstenite 0.29 underneath; the bridge reads
/// 0.30's errors).
fn classify(e: axum::Error) -> teler_io::ClassifiedReadError {
    use tungstenite_axum::error::ProtocolError::ResetWithoutClosingHandshake;
    let inner = e.into_inner();
    let failure = match inner.downcast_ref::<tungstenite_axum::Error>() {
        Some(tungstenite_axum::Error::Protocol(ResetWithoutClosingHandshake)) => {
            teler_io::ReadFailure::Closed
        }
        Some(
            e @ (tungstenite_axum::Error::Capacity(_)
            | tungstenite_axum::Error::Protocol(_)
            | tungstenite_axum::Error::Utf8(_)),
        ) => teler_io::ReadFailure::Protocol(e.to_string()),
        _ => teler_io::ReadFailure::Closed,
    };
    teler_io::ClassifiedReadError(failure)
}

impl Stream for AxumWs {
    type Item = Result<Message, teler_io::ClassifiedReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.0).poll_next(cx) {
                Poll::Ready(Some(Ok(m))) => match from_axum(m) {
                    Some(m) => Poll::Ready(Some(Ok(m))),
                    None => continue, // axum already checked text is UTF-8
                },
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(classify(e)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl Sink<Message> for AxumWs {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        match to_axum(item) {
            Some(m) => Pin::new(&mut self.0).start_send(m),
            None => Ok(()),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

// ------------------------------------------------------------------ serving an axum app

/// The server block's checks for an axum route: the call cap and the auth hook of a
/// [`ServeConfig`](crate::ServeConfig), run before the upgrade (so a refused socket dials no
/// agent). Keep one per server, shared by the route's handler.
#[derive(Debug, Clone)]
pub struct Gate {
    config: Arc<crate::ServeConfig>,
    calls: teler_io::serve::CallCount,
    live: Option<teler_io::Calls>,
}

impl Gate {
    /// A gate with `config`'s cap and auth hook.
    pub fn new(config: crate::ServeConfig) -> Self {
        Gate {
            config: Arc::new(config),
            calls: teler_io::serve::CallCount::new(),
            live: None,
        }
    }

    /// Refuses new streams (503, `Retry-After`) while these calls drain: pass the
    /// connector's [`calls`](crate::StreamConnector::calls). [`route`] does it for you.
    pub fn watch(mut self, calls: &teler_io::Calls) -> Self {
        self.live = Some(calls.clone());
        self
    }

    /// The settings.
    pub fn config(&self) -> &crate::ServeConfig {
        &self.config
    }

    /// Calls live now.
    pub fn live_calls(&self) -> usize {
        self.calls.get()
    }

    /// Admits an upgrade request: `Ok` holds the call's place under the cap (keep it for
    /// the call's life); `Err` is the answer to send instead (404, 401, 503 with
    /// `Retry-After`).
    #[allow(clippy::result_large_err)] // the answer is returned to axum as it is
    pub fn admit(
        &self,
        parts: &axum::http::request::Parts,
    ) -> Result<teler_io::serve::CallSlot, axum::response::Response> {
        use axum::response::IntoResponse;
        let mut req = axum::http::Request::new(());
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = parts.uri.clone();
        *req.headers_mut() = parts.headers.clone();
        let draining = self.live.as_ref().is_some_and(|c| c.is_draining());
        self.config
            .admit(&req, &self.calls, draining)
            .map_err(|refusal| {
                let status = axum::http::StatusCode::from_u16(refusal.status)
                    .unwrap_or(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                let mut resp = (status, refusal.reason).into_response();
                if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
                    resp.headers_mut().insert(
                        axum::http::header::RETRY_AFTER,
                        axum::http::HeaderValue::from_static("1"),
                    );
                }
                resp
            })
    }
}

/// A router with one route, the gate's path, that bridges each admitted media stream with
/// `connector` (for an app that needs nothing else; merge it into yours otherwise).
pub fn route<F, C, R>(connector: Arc<crate::StreamConnector<F>>, gate: Gate) -> axum::Router
where
    F: Fn() -> (C, R) + Send + Sync + 'static,
    C: teler_core::media::StreamHandler + 'static,
    R: teler_core::media::StreamHandler + 'static,
{
    use axum::extract::FromRequestParts;
    let path = gate.config().media_path().to_string();
    let gate = gate.watch(connector.calls());
    let handler = move |req: axum::extract::Request| {
        let (connector, gate) = (connector.clone(), gate.clone());
        async move {
            use axum::response::IntoResponse;
            let (mut parts, _body) = req.into_parts();
            let slot = match gate.admit(&parts) {
                Ok(slot) => slot,
                Err(refused) => return refused,
            };
            let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(ws) => ws,
                Err(e) => return e.into_response(),
            };
            upgrade(ws, connector.config()).on_upgrade(move |socket| async move {
                let _slot = slot;
                connector.bridge_stream(AxumWs::new(socket)).await;
            })
        }
    };
    axum::Router::new().route(&path, axum::routing::get(handler))
}

/// Serves an axum app (e.g. one with [`route`] or a [`Gate`] in it) on `listener` the way
/// the server block serves media streams: a client has `config`'s handshake timeout to send
/// its request head (a half-sent or silent connection is closed then), at most
/// `max_calls + max_handshakes` connections are open at once (more are closed at once), and an
/// accept error costs a short sleep and at most one log line a second. Upgrades (WebSockets)
/// work. Runs until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: &crate::ServeConfig,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut errors = teler_io::serve::AcceptErrors::default();
    let open = teler_io::serve::CallCount::new();
    let max_open = config.call_cap() + config.handshake_cap();
    let head_timeout = config.handshake_limit();
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tokio::time::sleep(errors.on_error(&e, Instant::now())).await;
                continue;
            }
        };
        let Some(slot) = open.acquire(max_open) else {
            #[cfg(feature = "tracing")]
            tracing::debug!("too many open connections: closed");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            if let Err(_e) = conn.await {
                #[cfg(feature = "tracing")]
                tracing::debug!(error = %_e, "connection ended with an error");
            }
        });
    }
}
