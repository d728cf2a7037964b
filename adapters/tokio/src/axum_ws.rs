//! Teler's media stream accepted with axum 0.8 (feature `axum`).
//!
//! axum's [`WebSocket`] speaks its own `Message` type; [`AxumWs`] wraps it as a
//! `Stream + Sink` of tungstenite [`Message`]s so it plugs into
//! [`StreamConnector::bridge_stream`](crate::StreamConnector::bridge_stream). Payloads move
//! without copying (text is re-checked as UTF-8 on the way through). [`upgrade`] gives the
//! upgrade the bridge's buffer sizes and frame limit. An error from axum's socket ends the
//! bridge as a hang-up without a close frame (`EndReason::TelerHungUp(None)`): axum does not
//! say whether the peer broke the protocol.
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
use std::task::{Context, Poll};

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

impl Stream for AxumWs {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.0).poll_next(cx) {
                Poll::Ready(Some(Ok(m))) => match from_axum(m) {
                    Some(m) => Poll::Ready(Some(Ok(m))),
                    None => continue, // axum already checked text is UTF-8
                },
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
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
