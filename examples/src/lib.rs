//! Shared bits of the runnable examples: settings from the environment, the media-stream
//! path check, event logging, the tokio example's axum app ([`tokio_app`]) and a local
//! echo agent.
#![forbid(unsafe_code)]

pub mod tokio_app;

use teler_core::media::{BridgeConfig, Event};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// The path Teler's media stream connects to.
pub const MEDIA_STREAM_PATH: &str = "/media-stream";

/// What a bridge server needs, read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8080`).
    pub bind_addr: String,
    /// `BACKEND_DOMAIN`: the public host (and port) Teler reaches this server at, used in
    /// the `stream` action's `wss://` URL (default: `bind_addr`).
    pub backend_domain: String,
    /// The bridge config: `REMOTE_WS_URL` (required) and, if set, `REMOTE_AUTHORIZATION`
    /// sent as the remote handshake's `Authorization` header.
    pub config: BridgeConfig,
}

impl Settings {
    /// Reads the settings; the error says which variable is missing or wrong.
    ///
    /// ```
    /// let s = teler_examples::Settings::from_vars(|name| match name {
    ///     "REMOTE_WS_URL" => Some("ws://127.0.0.1:9000/agent".to_owned()),
    ///     _ => None,
    /// }).unwrap();
    /// assert_eq!(s.bind_addr, "127.0.0.1:8080");
    /// assert!(teler_examples::Settings::from_vars(|_| None).is_err());
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let backend_domain = var("BACKEND_DOMAIN").unwrap_or_else(|| bind_addr.clone());
        let remote =
            var("REMOTE_WS_URL").ok_or("set REMOTE_WS_URL to the agent's ws:// or wss:// URL")?;
        let mut builder = BridgeConfig::builder(remote);
        if let Some(auth) = var("REMOTE_AUTHORIZATION") {
            builder = builder.header("Authorization", auth);
        }
        let config = builder.build().map_err(|e| format!("REMOTE_WS_URL: {e}"))?;
        Ok(Settings {
            bind_addr,
            backend_domain,
            config,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }
}

/// A tungstenite handshake callback that accepts only [`MEDIA_STREAM_PATH`] (404 otherwise).
#[allow(clippy::result_large_err)] // tungstenite's callback signature
pub fn only_media_stream(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    if req.uri().path() == MEDIA_STREAM_PATH {
        Ok(resp)
    } else {
        let mut err = ErrorResponse::new(Some(format!("no WebSocket at {}", req.uri().path())));
        *err.status_mut() = tungstenite::http::StatusCode::NOT_FOUND;
        Err(err)
    }
}

/// Logs a bridge event on stderr, one line each.
pub fn log_event(ev: &Event) {
    match ev {
        Event::Started(s) => eprintln!("call started: {s:?}"),
        Event::RemoteConnected => eprintln!("remote connected"),
        Event::FrameRejected { side, reason } => {
            eprintln!("frame from {side:?} rejected: {reason}")
        }
        Event::HandlerFailed { side, error } => eprintln!("handler for {side:?} failed: {error}"),
        Event::Ended(s) => eprintln!(
            "call ended: {:?}; teler->remote {} relayed, {} dropped; remote->teler {} relayed, {} dropped",
            s.reason,
            s.stats.from_teler.relayed_frames,
            s.stats.from_teler.dropped + s.stats.from_teler.send_dropped,
            s.stats.from_remote.relayed_frames,
            s.stats.from_remote.dropped + s.stats.from_remote.send_dropped,
        ),
        other => eprintln!("{other:?}"),
    }
}

/// A local stand-in for a voice agent, for trying the bridges and for the load benchmark:
/// answers every `{"user_audio_chunk": B}` with ElevenLabs-shaped agent audio carrying the
/// same `B`, at once. Serves each connection on its own thread, forever.
pub fn serve_echo_agent(listener: std::net::TcpListener) {
    for tcp in listener.incoming() {
        let Ok(tcp) = tcp else { continue };
        let _ = tcp.set_nodelay(true);
        std::thread::spawn(move || {
            let Ok(mut ws) = tungstenite::accept(tcp) else {
                return;
            };
            loop {
                match ws.read() {
                    Ok(tungstenite::Message::Text(t)) => {
                        let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) else {
                            continue;
                        };
                        let Some(b64) = v.get("user_audio_chunk").and_then(|b| b.as_str()) else {
                            continue;
                        };
                        let reply = serde_json::json!({
                            "type": "audio",
                            "audio_event": {"audio_base_64": b64, "event_id": 1}
                        });
                        if ws
                            .send(tungstenite::Message::text(reply.to_string()))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
}
