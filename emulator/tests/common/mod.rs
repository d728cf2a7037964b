//! Test helpers: a tiny HTTP client and a scriptable test app (flow URL, webhook receiver
//! and media WebSocket server) on 127.0.0.1 port 0.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tungstenite::Message;

/// Every test is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(20);

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

/// Sends one HTTP/1.1 request and reads the answer as JSON (Null when not JSON).
pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let rest = url.strip_prefix("http://").unwrap();
    let (auth, path) = rest.split_at(rest.find('/').unwrap());
    let tcp = tokio::net::TcpStream::connect(auth).await.unwrap();
    let (mut s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", auth);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = s
        .send_request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let b = res.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        json: serde_json::from_slice(&b).unwrap_or(Value::Null),
    }
}

/// How the test app's media socket behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AppMode {
    /// Echo every caller audio frame back as an app `audio` chunk (8 kHz input only).
    Echo,
    /// Send 3 chunks of 1 s at once, then `clear` after the 2nd caller frame.
    QueueThenClear,
    /// Send a frame Teler cannot read after the first caller frame, then close the socket
    /// (so the stream ends once the frame has been read, whatever the call's length).
    BadFrame,
    /// Close the socket after 3 caller frames.
    CloseAfter3,
    /// Send 3 chunks of 1 s (levels 1000, 2000, 3000), then `interrupt` chunk 2.
    QueueThenInterrupt,
    /// Send an `audio` chunk and an `interrupt` whose `chunk_id` is a string (`"1"`), then
    /// a well-formed chunk, after the first caller frame; then close the socket.
    StringChunkId,
}

/// What the test app saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub flow_requests: Vec<Value>,
    /// Every webhook POST received, with what the receiver answered in `hook_status`.
    pub webhooks: Vec<(HeaderMap, Vec<u8>)>,
    pub hook_status: Vec<u16>,
    pub frames: Vec<String>,
    pub ws_query: Option<String>,
}

/// The test app.
pub struct TestApp {
    pub http_base: String,
    pub ws_url: String,
    pub seen: Arc<Mutex<Seen>>,
    /// While above 0, the webhook receiver answers 503 (and counts down).
    pub fail_hooks: Arc<std::sync::atomic::AtomicUsize>,
}

/// Starts the test app: `POST /flow` answers `flow_answer` (with `{WS}` replaced by the
/// media URL), `POST /hooks` records webhooks, the media server behaves as `mode`.
pub async fn start_app(flow_answer: &str, mode: AppMode) -> TestApp {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!("ws://{}/media?token=abc", ws_listener.local_addr().unwrap());
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = ws_listener.accept().await {
            let seen = s2.clone();
            tokio::spawn(media(tcp, mode, seen));
        }
    });
    let answer = flow_answer.replace("{WS}", &ws_url);
    let s3 = seen.clone();
    let s4 = seen.clone();
    let fail_hooks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let f4 = fail_hooks.clone();
    let app = axum::Router::new()
        .route(
            "/flow",
            axum::routing::post(move |body: Bytes| {
                let seen = s3.clone();
                let answer = answer.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .flow_requests
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    answer
                }
            }),
        )
        .route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let seen = s4.clone();
                let fail = f4
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    )
                    .is_ok();
                async move {
                    let status = if fail { 503 } else { 200 };
                    let mut s = seen.lock().unwrap();
                    s.webhooks.push((headers, body.to_vec()));
                    s.hook_status.push(status);
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        if fail { "busy" } else { "ok" },
                    )
                }
            }),
        );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    TestApp {
        http_base,
        ws_url,
        seen,
        fail_hooks,
    }
}

fn b64(pcm: &[i16]) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn media(tcp: tokio::net::TcpStream, mode: AppMode, seen: Arc<Mutex<Seen>>) {
    let query = Arc::new(Mutex::new(None));
    let q2 = query.clone();
    #[allow(clippy::result_large_err)]
    let cb = move |req: &tungstenite::handshake::server::Request,
                   res: tungstenite::handshake::server::Response| {
        *q2.lock().unwrap() = req.uri().query().map(str::to_owned);
        Ok(res)
    };
    let Ok(mut ws) = async_tungstenite::tokio::accept_hdr_async(tcp, cb).await else {
        return;
    };
    seen.lock().unwrap().ws_query = query.lock().unwrap().clone();
    let mut audio_frames = 0u64;
    let mut chunk_id = 0u64;
    while let Some(Ok(m)) = ws.next().await {
        let Message::Text(t) = m else { continue };
        seen.lock().unwrap().frames.push(t.to_string());
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        if v["type"] != "audio" {
            continue;
        }
        audio_frames += 1;
        match mode {
            AppMode::Echo => {
                chunk_id += 1;
                let out = format!(
                    r#"{{"type":"audio","audio_b64":"{}","chunk_id":{chunk_id}}}"#,
                    v["data"]["audio_b64"].as_str().unwrap()
                );
                if ws.send(Message::text(out)).await.is_err() {
                    return;
                }
            }
            AppMode::QueueThenClear => {
                if audio_frames == 1 {
                    for id in 1..=3 {
                        let out = format!(
                            r#"{{"type":"audio","audio_b64":"{}","chunk_id":{id}}}"#,
                            b64(&vec![4000i16; 8000])
                        );
                        let _ = ws.send(Message::text(out)).await;
                    }
                }
                if audio_frames == 2 {
                    let _ = ws.send(Message::text(r#"{"type":"clear"}"#)).await;
                }
            }
            AppMode::BadFrame => {
                if audio_frames == 1 {
                    let _ = ws
                        .send(Message::text(
                            r#"{"type":"audio","data":{"audio_b64":"AAA="},"chunk_id":1}"#,
                        ))
                        .await;
                    let _ = ws.close(None).await;
                    return;
                }
            }
            AppMode::QueueThenInterrupt => {
                if audio_frames == 1 {
                    for id in 1..=3i16 {
                        let out = format!(
                            r#"{{"type":"audio","audio_b64":"{}","chunk_id":{id}}}"#,
                            b64(&vec![1000 * id; 8000])
                        );
                        let _ = ws.send(Message::text(out)).await;
                    }
                    let _ = ws
                        .send(Message::text(r#"{"type":"interrupt","chunk_id":2}"#))
                        .await;
                }
            }
            AppMode::StringChunkId => {
                if audio_frames == 1 {
                    for f in [
                        format!(
                            r#"{{"type":"audio","audio_b64":"{}","chunk_id":"1"}}"#,
                            b64(&[500i16; 800])
                        ),
                        r#"{"type":"interrupt","chunk_id":"1"}"#.to_owned(),
                        format!(
                            r#"{{"type":"audio","audio_b64":"{}","chunk_id":2}}"#,
                            b64(&[700i16; 800])
                        ),
                    ] {
                        let _ = ws.send(Message::text(f)).await;
                    }
                    let _ = ws.close(None).await;
                    return;
                }
            }
            AppMode::CloseAfter3 => {
                if audio_frames == 3 {
                    let _ = ws.close(None).await;
                    return;
                }
            }
        }
    }
}
