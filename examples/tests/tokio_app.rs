//! The `bridge_tokio` example's axum app on a real socket: the flow answer, the webhook, and
//! a call relayed through the local echo agent. Every test runs under a watchdog.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use teler_core::media::{EndReason, EndSummary};
use teler_core::webhook::{SignatureEncoding, UrlTokenKey, WebhookSecret, token_from_query};
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
    serve_with(remote, &[])
}

/// [`serve`] with more settings (`NAME`, value).
fn serve_with(remote: &str, vars: &[(&str, &str)]) -> (SocketAddr, mpsc::Receiver<EndSummary>) {
    let remote = remote.to_owned();
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::from_vars(|name| match name {
        "REMOTE_WS_URL" => Some(remote.clone()),
        "BACKEND_DOMAIN" => Some("bridge.example.com".to_owned()),
        _ => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
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
            let hooks = tokio_app::Hooks {
                on_end: Some(Box::new(on_end)),
                ..Default::default()
            };
            let app = tokio_app::router(settings, hooks).unwrap();
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
    post_with(addr, path, &[], body)
}

/// [`post`] with extra request headers.
fn post_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

const SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1zZWVkLWFwcA";
const COMPLETED: &str =
    r#"{"event":"call.completed","event_id":"ev_1","call_id":"cs_1","status":"completed"}"#;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signed(secret: &str, at: u64, body: &str) -> Vec<(&'static str, String)> {
    let sig = WebhookSecret::new(secret)
        .unwrap()
        .sign(at, body.as_bytes());
    sig.headers(SignatureEncoding::Hex).to_vec()
}

#[test]
fn webhook_with_a_secret_refuses_bad_signatures_with_401() {
    watchdog(|| {
        let (addr, _) = serve_with(
            "ws://127.0.0.1:9/agent",
            &[("TELER_WEBHOOK_SECRET", SECRET)],
        );
        let now = unix_now();
        // Good signature: accepted.
        let (status, _, body) =
            post_with(addr, "/webhook", &signed(SECRET, now, COMPLETED), COMPLETED);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, r#""Webhook received.""#);
        // No signature, another secret, a changed body, a stale timestamp: 401.
        let (status, _, _) = post(addr, "/webhook", COMPLETED);
        assert_eq!(status, 401);
        let other = "whsec_c29tZS1vdGhlci1zZWNyZXQtb2YtZW5vdWdoLWxlbmd0aA";
        let (status, _, _) = post_with(addr, "/webhook", &signed(other, now, COMPLETED), COMPLETED);
        assert_eq!(status, 401);
        let tampered = COMPLETED.replace("completed\"}", "failed\"}");
        let (status, _, _) =
            post_with(addr, "/webhook", &signed(SECRET, now, COMPLETED), &tampered);
        assert_eq!(status, 401);
        let (status, _, body) = post_with(
            addr,
            "/webhook",
            &signed(SECRET, now - 3600, COMPLETED),
            COMPLETED,
        );
        assert_eq!(status, 401, "{body}");
        // Signed but not a webhook: 400.
        let (status, _, _) = post_with(addr, "/webhook", &signed(SECRET, now, "[1]"), "[1]");
        assert_eq!(status, 400);
    })
}

#[test]
#[allow(clippy::result_large_err)] // tungstenite's handshake error, in a test
fn with_a_token_key_flow_and_media_stream_need_tokens() {
    watchdog(|| {
        let key = "a media token key of 16+ bytes";
        let (addr, _) = serve_with("ws://127.0.0.1:9/agent", &[("MEDIA_TOKEN_KEY", key)]);
        let tokens = UrlTokenKey::new(key).unwrap();

        // /flow without a flow token, or with a media token: 401.
        let (status, _, _) = post(addr, "/flow", r#"{"call_id":"cs_7"}"#);
        assert_eq!(status, 401);
        let media = tokens.mint("cs_7", unix_now() + 60);
        let (status, _, _) = post(
            addr,
            &format!("/flow?teler_token={media}"),
            r#"{"call_id":"cs_7"}"#,
        );
        assert_eq!(status, 401);

        // With a flow token: the answer's ws_url carries a media token for the call.
        let flow = tokens.mint(tokio_app::FLOW_TOKEN_SUBJECT, unix_now() + 60);
        let (status, _, body) = post(
            addr,
            &format!("/flow?teler_token={flow}"),
            r#"{"call_id":"cs_7"}"#,
        );
        assert_eq!(status, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let ws_url = answer["ws_url"].as_str().unwrap();
        assert!(
            ws_url.starts_with("wss://bridge.example.com/media-stream?teler_token=v1."),
            "{ws_url}"
        );
        let claims = tokens
            .verify(token_from_query(ws_url).unwrap(), unix_now())
            .unwrap();
        assert_eq!(claims.call_id, "cs_7");

        let connect = |path: &str| {
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tungstenite::client(format!("ws://{addr}{path}"), tcp)
        };
        let refused = |path: &str| match connect(path) {
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                assert_eq!(resp.status(), 401, "{path}")
            }
            other => panic!("{path}: expected a 401, got {:?}", other.map(|_| ())),
        };
        // No token, a forged one, the flow token: refused before the upgrade.
        refused("/media-stream");
        refused("/media-stream?teler_token=v1.1.Y3NfNw.AAAA");
        refused(&format!("/media-stream?teler_token={flow}"));
        // The media token: accepted once.
        let query = &ws_url[ws_url.find('?').unwrap()..];
        let (mut ws, resp) = connect(&format!("/media-stream{query}")).unwrap();
        assert_eq!(resp.status(), 101);
        ws.close(None).unwrap();
        refused(&format!("/media-stream{query}"));
    })
}

#[test]
fn blank_security_settings_are_errors_not_off() {
    for name in ["TELER_WEBHOOK_SECRET", "MEDIA_TOKEN_KEY"] {
        let e = Settings::from_vars(|n| match n {
            "REMOTE_WS_URL" => Some("ws://127.0.0.1:9/agent".to_owned()),
            n if n == name => Some("  \n".to_owned()),
            _ => None,
        })
        .unwrap_err();
        assert!(e.contains(name) && e.contains("empty"), "{e}");
    }
    // A real Teler key without a public BACKEND_DOMAIN would hand Teler a loopback flow URL.
    let e = Settings::from_vars(|n| match n {
        "REMOTE_WS_URL" => Some("ws://127.0.0.1:9/agent".to_owned()),
        "TELER_API_KEY" | "FROM_NUMBER" | "TO_NUMBER" => Some("x".to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert!(e.contains("BACKEND_DOMAIN"), "{e}");
}

#[test]
fn flow_refuses_a_body_without_a_call_id_and_initiate_needs_teler_settings() {
    watchdog(|| {
        let (addr, _) = serve("ws://127.0.0.1:9/agent");
        let (status, _, body) = post(addr, "/flow", r#"{"account_id":"acc_1"}"#);
        assert_eq!(status, 422);
        assert!(body.contains("call_id"), "{body}");
        let (status, _, body) = post(addr, "/initiate-call", "");
        assert_eq!(status, 503);
        assert!(body.contains("TELER_API_KEY"), "{body}");
    })
}

#[test]
fn settings_never_print_secrets() {
    let s = teler_examples::Settings::from_vars(|name| {
        Some(
            match name {
                "REMOTE_WS_URL" => "wss://agent.example/ws?token=s3cret-url",
                "REMOTE_AUTHORIZATION" => "Bearer s3cret-auth",
                "TELER_API_KEY" => "s3cret-api-key",
                "FROM_NUMBER" => "+15550100001",
                "TO_NUMBER" => "+15550100002",
                "TELER_WEBHOOK_SECRET" => "whsec_s3cretwebhooksecret0123",
                "MEDIA_TOKEN_KEY" => "s3cret media token key",
                "BACKEND_DOMAIN" => "bridge.example.com",
                _ => return None,
            }
            .to_owned(),
        )
    })
    .unwrap();
    let text = format!("{s:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("agent.example"), "{text}");
}

/// One HTTP/1.1 GET; the status code, headers (lower case) and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

type CallWs = tungstenite::WebSocket<TcpStream>;

/// A media stream that sent `start` for `call_id` and one audio frame, and got its echo
/// back (so the call is registered, started and relaying).
fn live_call(addr: SocketAddr, call_id: &str) -> CallWs {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/media-stream"), tcp).unwrap();
    ws.send(Message::text(format!(
        r#"{{"type":"start","call_id":"{call_id}","stream_id":"st_{call_id}","data":{{"encoding":"audio/l16","sample_rate":8000,"channels":1}}}}"#
    )))
    .unwrap();
    ws.send(Message::text(
        r#"{"type":"audio","data":{"audio_b64":"AAAA"}}"#,
    ))
    .unwrap();
    loop {
        if let Message::Text(_) = ws.read().unwrap() {
            return ws;
        }
    }
}

/// Reads until the bridge closes the socket; the close code.
fn close_code(ws: &mut CallWs) -> Option<u16> {
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn live_calls_are_listed_hung_up_and_drained() {
    watchdog(|| {
        let agent = TcpListener::bind("127.0.0.1:0").unwrap();
        let agent_url = format!("ws://{}/agent", agent.local_addr().unwrap());
        thread::spawn(move || serve_echo_agent(agent));
        let settings = Settings::from_vars(|name| match name {
            "REMOTE_WS_URL" => Some(agent_url.clone()),
            _ => None,
        })
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (router, connector) = tokio_app::build(settings, Default::default()).unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, router).await });

        let (status, head, body) = get(addr, "/calls");
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(body, r#"{"calls":[],"draining":false}"#);

        // A live call is listed with Teler's ids, a timestamp and its counters.
        let mut first = live_call(addr, "cs_live");
        let (status, _, body) = get(addr, "/calls");
        assert_eq!(status, 200);
        let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
        let call = &listed["calls"][0];
        assert_eq!(listed["calls"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(call["id"], 1, "{body}");
        assert_eq!(call["call_id"], "cs_live", "{body}");
        assert_eq!(call["stream_id"], "st_cs_live", "{body}");
        let since = call["since"].as_str().unwrap();
        assert!(since.len() == 24 && since.ends_with('Z'), "{since}");
        assert!(
            call["stats"]["from_teler"]["relayed_frames"].as_u64() >= Some(1),
            "{body}"
        );

        // Hang-up: 404 for an unknown id; the live one's bridge is stopped (1000), and
        // without TELER_API_KEY only the bridge.
        let (status, _, _) = post(addr, "/calls/cs_nope/hangup", "");
        assert_eq!(status, 404);
        let (status, _, body) = post(addr, "/calls/cs_live/hangup", "");
        assert_eq!(status, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["bridge_stopped"], true, "{body}");
        assert_eq!(answer["hung_up"], false, "{body}");
        assert_eq!(close_code(&mut first), Some(1000));
        let started = std::time::Instant::now();
        while !connector.calls().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "call not gone");
            thread::sleep(Duration::from_millis(10));
        }
        let (status, _, _) = post(addr, "/calls/cs_live/hangup", "");
        assert_eq!(status, 404, "an ended call is not live");

        // A drain: new media streams get 503 with Retry-After; the live call is sent away
        // with 1001 at the deadline.
        let mut second = live_call(addr, "cs_second");
        let draining = connector.clone();
        let report = rt.spawn(async move {
            draining
                .drain(std::time::Instant::now() + Duration::from_millis(300))
                .await
        });
        while !connector.is_draining() {
            thread::sleep(Duration::from_millis(5));
        }
        let tcp = TcpStream::connect(addr).unwrap();
        match tungstenite::client(format!("ws://{addr}/media-stream"), tcp) {
            Err(tungstenite::handshake::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                assert_eq!(r.status(), 503);
                assert!(r.headers().contains_key("retry-after"), "{r:?}");
            }
            other => panic!("expected 503, got {:?}", other.map(|_| ())),
        }
        let (_, _, body) = get(addr, "/calls");
        assert!(body.ends_with(r#""draining":true}"#), "{body}");
        assert_eq!(close_code(&mut second), Some(1001));
        let report = rt.block_on(report).unwrap();
        assert_eq!(
            (report.live_at_start, report.sent_away, report.still_live),
            (1, 1, 0)
        );
    })
}
