//! WebSocket client plumbing shared by calls and the load generator.

use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::TokioAdapter;
use tokio::net::TcpStream;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;

/// A client WebSocket over plain TCP.
pub type WsClient = WebSocketStream<TokioAdapter<TcpStream>>;

/// The largest message accepted from a peer (16 MiB; a 2 s chunk of 16 kHz audio is ~85 KiB).
pub const MAX_MESSAGE: usize = 16 << 20;

/// Small per-socket buffers: thousands of streams must cost a few KiB each, not 128 KiB.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_MESSAGE)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Opens a `ws://` WebSocket as Teler does (the query string is kept), within `timeout`.
pub async fn connect(url: &str, timeout: Duration) -> Result<WsClient, String> {
    if !url.starts_with("ws://") {
        return Err(format!(
            "{url}: the emulator opens plain ws:// streams only (serve the app locally)"
        ));
    }
    let req = url
        .into_client_request()
        .map_err(|e| format!("{url}: {e}"))?;
    let host = req
        .uri()
        .host()
        .ok_or_else(|| format!("{url}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = req.uri().port_u16().unwrap_or(80);
    let fut = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        async_tungstenite::tokio::client_async_with_config(req, tcp, Some(ws_config()))
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| format!("WebSocket handshake with {url} failed: {e}"))
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(format!("{url}: no WebSocket within {timeout:?}")),
    }
}
