//! A benchmark anchor: the relay a Rust user would write **without** this SDK.
//!
//! One `current_thread` tokio runtime, async-tungstenite, `serde_json::Value` handlers with
//! the seed's behaviour (caller audio -> `{"user_audio_chunk": …}`; agent audio -> Teler
//! `audio` with an increasing `chunk_id`; `interruption` -> `clear`; everything else
//! dropped). Listens on `BIND_ADDR` (default `127.0.0.1:8080`), accepts Teler's media
//! stream on `/media-stream`, dials `REMOTE_WS_URL` for each call. Library defaults
//! throughout (tungstenite's buffer sizes, a flush per message), no backpressure policy, no
//! keepalive, no timeouts: the plain, idiomatic version, used by `bench/run.py` to put the
//! SDK's bridges in context.
//!
//! ```text
//! REMOTE_WS_URL=ws://127.0.0.1:8090/ BIND_ADDR=127.0.0.1:8081 \
//!     cargo run --release -p teler-examples --example relay_handwritten
//! ```
use async_tungstenite::tokio::{accept_hdr_async, connect_async};
use async_tungstenite::tungstenite::Message;
use futures_util::StreamExt;
use serde_json::{Value, json};
use teler_examples::only_media_stream;
use tokio::net::{TcpListener, TcpStream};

/// Teler -> agent: caller audio becomes `{"user_audio_chunk": …}`; anything else is dropped.
fn call_handler(text: &str) -> Option<String> {
    let msg: Value = serde_json::from_str(text).ok()?;
    if msg["type"] == "audio" {
        let b64 = msg["data"]["audio_b64"].as_str()?;
        return Some(json!({ "user_audio_chunk": b64 }).to_string());
    }
    None
}

/// Agent -> Teler: agent audio becomes Teler `audio` with the next chunk id; an interruption
/// becomes `clear`; anything else is dropped.
fn remote_handler(text: &str, chunk_id: &mut u64) -> Option<String> {
    let msg: Value = serde_json::from_str(text).ok()?;
    match msg["type"].as_str()? {
        "audio" => {
            let b64 = msg["audio_event"]["audio_base_64"].as_str()?;
            let out = json!({ "type": "audio", "audio_b64": b64, "chunk_id": *chunk_id });
            *chunk_id += 1;
            Some(out.to_string())
        }
        "interruption" => Some(json!({ "type": "clear" }).to_string()),
        _ => None,
    }
}

async fn handle_call(tcp: TcpStream, remote_url: String) {
    let _ = tcp.set_nodelay(true);
    let call_ws = match accept_hdr_async(tcp, only_media_stream).await {
        Ok(ws) => ws,
        Err(e) => return tracing::warn!("handshake failed: {e}"),
    };
    let remote_ws = match connect_async(remote_url.as_str()).await {
        Ok((ws, _)) => ws,
        Err(e) => return tracing::warn!("cannot reach the agent: {e}"),
    };
    let (mut call_tx, mut call_rx) = call_ws.split();
    let (mut remote_tx, mut remote_rx) = remote_ws.split();

    let to_remote = async {
        while let Some(Ok(msg)) = call_rx.next().await {
            match msg {
                Message::Text(t) => {
                    if let Some(out) = call_handler(&t)
                        && remote_tx.send(Message::text(out)).await.is_err()
                    {
                        break;
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    let to_call = async {
        let mut chunk_id = 1;
        while let Some(Ok(msg)) = remote_rx.next().await {
            match msg {
                Message::Text(t) => {
                    if let Some(out) = remote_handler(&t, &mut chunk_id)
                        && call_tx.send(Message::text(out)).await.is_err()
                    {
                        break;
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    // Either side ending ends the call.
    tokio::select! {
        _ = to_remote => {}
        _ = to_call => {}
    }
    let _ = remote_tx.close(None).await;
    let _ = call_tx.close(None).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    teler_examples::init_logging();
    let bind_addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let Ok(remote_url) = std::env::var("REMOTE_WS_URL") else {
        tracing::error!("relay_handwritten: set REMOTE_WS_URL");
        std::process::exit(2);
    };
    let listener = match TcpListener::bind(&bind_addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("relay_handwritten: cannot listen on {bind_addr}: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!("relay_handwritten listening on {bind_addr}");
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(handle_call(tcp, remote_url.clone()));
            }
            Err(e) => tracing::warn!("accept failed: {e}"),
        }
    }
}
