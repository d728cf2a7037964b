//! The `bridge_tokio` example's axum app on a real socket: the flow answer, the webhook, and
//! a call relayed through the local echo agent. Every test runs under a watchdog.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use teler_core::media::{EndReason, EndSummary};
use teler_examples::{Settings, serve_echo_agent, tokio_app};
use tungstenite::Message;

fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test timed out"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!(),
        },
    }
}

/// Serves the app on 127.0.0.1 port 0, bridging to `remote`; each call's summary arrives
/// on the receiver.
fn serve(remote: &str) -> (SocketAddr, mpsc::Receiver<EndSummary>) {
    let remote = remote.to_owned();
    let settings = Settings::from_vars(|name| match name {
        "REMOTE_WS_URL" => Some(remote.clone()),
        "BACKEND_DOMAIN" => Some("bridge.example.com".to_owned()),
        _ => None,
    })
    .unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (sum_tx, sum_rx) = mpsc::channel();
    let sum_tx = std::sync::Mutex::new(sum_tx);
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let on_end = move |s: EndSummary| {
                let _ = sum_tx.lock().unwrap().send(s);
            };
            let app = tokio_app::router(settings, Some(Box::new(on_end)));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (
        addr_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        sum_rx,
    )
}

/// One HTTP/1.1 POST; the status code, headers and body.
fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[test]
fn flow_answers_the_seeds_stream_action() {
    watchdog(|| {
        let (addr, _) = serve("ws://127.0.0.1:9/agent");
        let (status, head, body) = post(addr, "/flow", r#"{"call_id":"cs_1"}"#);
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(
            body,
            r#"{"action":"stream","ws_url":"wss://bridge.example.com/media-stream","sample_rate":"8k","chunk_size":500,"record":true}"#
        );
    })
}

#[test]
fn webhook_is_answered_200_and_unknown_paths_404() {
    watchdog(|| {
        let (addr, _) = serve("ws://127.0.0.1:9/agent");
        let (status, _, _) = post(addr, "/webhook", r#"{"event":"call.completed"}"#);
        assert_eq!(status, 200);
        let (status, _, _) = post(addr, "/nope", "{}");
        assert_eq!(status, 404);
    })
}

#[test]
fn media_stream_is_bridged_to_the_echo_agent() {
    watchdog(|| {
        let agent = TcpListener::bind("127.0.0.1:0").unwrap();
        let agent_url = format!("ws://{}/agent", agent.local_addr().unwrap());
        thread::spawn(move || serve_echo_agent(agent));
        let (addr, summaries) = serve(&agent_url);

        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (mut ws, _) = tungstenite::client(format!("ws://{addr}/media-stream"), tcp).unwrap();
        ws.send(Message::text(
            r#"{"type":"start","call_id":"cs_9","data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#,
        ))
        .unwrap();
        for b64 in ["AAAA", "AQID", "BAUG"] {
            let frame = format!(r#"{{"type":"audio","data":{{"audio_b64":"{b64}"}}}}"#);
            ws.send(Message::text(frame)).unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 3 {
            if let Message::Text(t) = ws.read().unwrap() {
                got.push(t.as_str().to_owned());
            }
        }
        assert_eq!(
            got,
            [
                r#"{"type":"audio","audio_b64":"AAAA","chunk_id":1}"#,
                r#"{"type":"audio","audio_b64":"AQID","chunk_id":2}"#,
                r#"{"type":"audio","audio_b64":"BAUG","chunk_id":3}"#,
            ]
        );
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
        let s = summaries.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            matches!(s.reason, EndReason::TelerHungUp(_)),
            "{:?}",
            s.reason
        );
        assert_eq!(s.stats.from_remote.relayed_frames, 3);
    })
}
