//! The call inspector and dev phone over plain HTTP, SSE and WebSocket (no browser): access
//! control, the live feed, a call's detail, recordings, secrets kept out, typed errors.

mod common;

use std::time::Duration;

use axum::body::Bytes;
use base64::Engine as _;
use common::{AppMode, LIMIT, start_app};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use teler_emulator::{CallRequest, Emulator, EmulatorHandle, Pcm};
use tungstenite::Message;

const KEY: &str = "inspector-test-key-7f3a";
const SECRET: &str = "whsec_inspector_secret_91c2";
const FLOW_TOKEN: &str = "flowtoken-5e8d";

/// A raw answer: status, headers, body.
struct Raw {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> hyper::Response<hyper::body::Incoming> {
    let auth = base.strip_prefix("http://").unwrap();
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
    s.send_request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap()
}

async fn raw(method: &str, base: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Raw {
    let res = send(method, base, path, headers, body).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Raw {
        status,
        headers,
        body,
    }
}

/// Server-Sent Events read off a response body.
struct Sse {
    body: hyper::body::Incoming,
    buf: String,
    /// Everything read, to check for secrets.
    all: String,
}

impl Sse {
    /// The next `(event, data)`.
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut event = "message".to_owned();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim().to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.strip_prefix(' ').unwrap_or(d));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return (event, data);
            }
            let frame = self.body.frame().await.unwrap().unwrap();
            if let Ok(d) = frame.into_data() {
                let s = String::from_utf8_lossy(&d).into_owned();
                self.all.push_str(&s);
                self.buf.push_str(&s);
            }
        }
    }
}

async fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .secret(SECRET)
        .speed(10.0)
        .call_duration(Duration::from_secs(2))
        .inspector(true)
        .log(false)
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

fn base(e: &EmulatorHandle) -> String {
    format!("http://{}", e.local_addr())
}

/// Logs in with a fresh one-time link; the session cookie.
async fn login(e: &EmulatorHandle) -> String {
    let url = e.inspector_url().unwrap();
    let path = url.strip_prefix(&base(e)).unwrap();
    let r = raw("GET", &base(e), path, &[], "").await;
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = r.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    // Spent: the same link does not log in twice.
    let again = raw("GET", &base(e), path, &[], "").await;
    assert_eq!(again.status, 401);
    cookie.split(';').next().unwrap().to_owned()
}

fn assert_no_secrets(what: &str, text: &str) {
    for s in [KEY, SECRET, FLOW_TOKEN, "token=abc"] {
        assert!(!text.contains(s), "{what} shows {s:?}: {text}");
    }
}

#[tokio::test]
async fn access_needs_a_token_or_the_key() {
    tokio::time::timeout(LIMIT, async {
        let e = emulator().await;
        let b = base(&e);
        for path in [
            "/inspector/api/calls",
            "/inspector/api/events",
            "/inspector/api/calls/cs_x",
        ] {
            let r = raw("GET", &b, path, &[], "").await;
            assert_eq!(r.status, 401, "{path}");
            assert_eq!(r.json()["error"], "unauthorized", "{path}");
        }
        let wrong = raw(
            "GET",
            &b,
            "/inspector/api/calls",
            &[("x-api-key", "nope")],
            "",
        )
        .await;
        assert_eq!(wrong.status, 401);
        // The page without a session is the login form, with no data.
        let page = raw("GET", &b, "/", &[], "").await;
        assert_eq!(page.status, 401);
        assert!(page.text().contains("<form"), "{}", page.text());
        let bad = raw("GET", &b, "/?token=0123456789abcdef", &[], "").await;
        assert_eq!(bad.status, 401);
        // The API key in the login form opens a session; from another origin it does not.
        let form = format!("secret={KEY}");
        let evil = raw(
            "POST",
            &b,
            "/inspector/login",
            &[("origin", "http://evil.example")],
            &form,
        )
        .await;
        assert_eq!(evil.status, 403);
        assert_eq!(evil.json()["error"], "wrong_origin");
        let ok = raw(
            "POST",
            &b,
            "/inspector/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            &form,
        )
        .await;
        assert_eq!(ok.status, 303);
        let cookie = ok.headers["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let calls = raw(
            "GET",
            &b,
            "/inspector/api/calls",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(calls.status, 200);
        let page = raw("GET", &b, "/", &[("cookie", &cookie)], "").await;
        assert_eq!(page.status, 200);
        assert!(page.text().contains("inspector.js"));
        assert_no_secrets("the page", &page.text());
        let js = raw("GET", &b, "/inspector/assets/inspector.js", &[], "").await;
        assert_eq!(js.status, 200);
        assert_no_secrets("the script", &js.text());
        // The one-time link logs in once.
        let c = login(&e).await;
        assert_eq!(
            raw("GET", &b, "/inspector/api/calls", &[("cookie", &c)], "")
                .await
                .status,
            200
        );
        // Off by default: no page, REST's own 404.
        let off = Emulator::builder()
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        assert!(off.inspector_url().is_none());
        let r = raw("GET", &base(&off), "/", &[], "").await;
        assert_eq!(r.status, 404);
    })
    .await
    .unwrap();
}

/// A whole call seen live: the feed announces it until it has ended; its detail has the
/// flow, every webhook with its status, the counters, `clear`, frames per second, the end
/// reason; both legs download as WAV; no secret anywhere.
#[tokio::test]
async fn a_call_live_in_the_feed_and_in_detail() {
    tokio::time::timeout(LIMIT, async {
        let e = emulator().await;
        let b = base(&e);
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":500}"#,
            AppMode::QueueThenClear,
        )
        .await;
        let cookie = login(&e).await;
        let res = send(
            "GET",
            &b,
            "/inspector/api/events",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let mut sse = Sse {
            body: res.into_body(),
            buf: String::new(),
            all: String::new(),
        };
        let (ev, data) = sse.next().await;
        assert_eq!(ev, "resync");
        assert_eq!(
            serde_json::from_str::<Value>(&data).unwrap()["calls"],
            json!([])
        );

        let call = e.place_call(CallRequest {
            from_number: "+14155550100".into(),
            to_number: "+14155550199".into(),
            flow_url: format!("{}/flow?token={FLOW_TOKEN}", app.http_base),
            status_callback_url: Some(format!("{}/hooks", app.http_base)),
            record: true,
        });
        // Follow the feed until the call has ended and its last webhook is in.
        let mut states = Vec::new();
        loop {
            let (ev, data) = sse.next().await;
            if ev != "call" {
                continue;
            }
            let v: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(v["call"]["id"], call.id.as_str());
            let state = v["call"]["state"].as_str().unwrap().to_owned();
            if states.last() != Some(&state) {
                states.push(state.clone());
            }
            let hooks = v["call"]["webhooks"].as_array().unwrap();
            if state == "completed" && hooks.iter().any(|h| h["event"] == "call.completed") {
                break;
            }
        }
        assert_eq!(
            states.last().map(String::as_str),
            Some("completed"),
            "{states:?}"
        );
        // (At 10x speed the call can start and end within one feed tick: the transitions
        // are checked in the detail below, not here.)
        e.wait_for_call_end(&call.id).await.unwrap();

        let d = raw(
            "GET",
            &b,
            &format!("/inspector/api/calls/{}", call.id),
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(d.status, 200);
        let v = d.json();
        let log = &v["log"];
        let names: Vec<&str> = log["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["initiated", "ringing", "in_progress", "completed"]);
        assert!(log["states"][0]["at"].as_str().unwrap().ends_with('Z'));
        let flow = &log["flows"][0];
        assert_eq!(flow["status"], 200);
        assert!(
            flow["answer"]
                .as_str()
                .unwrap()
                .contains(r#""action":"stream""#),
            "{flow}"
        );
        assert!(
            flow["url"]
                .as_str()
                .unwrap()
                .ends_with("/flow?token=[redacted]"),
            "{flow}"
        );
        let hooks = v["call"]["webhooks"].as_array().unwrap();
        let events: Vec<&str> = hooks.iter().map(|h| h["event"].as_str().unwrap()).collect();
        assert_eq!(
            events,
            [
                "call.initiated",
                "call.ringing",
                "call.answered",
                "stream.initiated",
                "stream.completed",
                "call.completed"
            ]
        );
        assert!(hooks.iter().all(|h| h["status"] == 200), "{hooks:?}");
        assert_eq!(v["signed"], true);
        let media = &v["call"]["media"];
        assert_eq!(media["frames_sent"], 5, "{media}"); // start + 4 x 500 ms
        assert!(media["frames_received"].as_u64().unwrap() >= 4, "{media}");
        assert_eq!(media["clears"], 1);
        assert!(
            media["ws_url"]
                .as_str()
                .unwrap()
                .ends_with("?token=[redacted]"),
            "{media}"
        );
        assert_eq!(v["call"]["reason"], "call_duration_elapsed");
        let marks = log["marks"].as_array().unwrap();
        let kinds: Vec<&str> = marks.iter().map(|m| m["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["start", "clear", "stream_end"], "{marks:?}");
        let seconds = log["seconds"].as_array().unwrap();
        let total = |i: usize| seconds.iter().map(|s| s[i].as_u64().unwrap()).sum::<u64>();
        assert_eq!(total(0), 5);
        assert_eq!(total(1), media["frames_received"].as_u64().unwrap());
        assert_eq!(total(2), 1);
        assert_eq!(log["recording"]["caller_ms"], 2000);

        // Both legs: what the caller said (the 440 Hz tone) and what the caller heard.
        let said = raw(
            "GET",
            &b,
            &format!("/inspector/api/calls/{}/recording/caller.wav", call.id),
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(said.status, 200);
        assert_eq!(said.headers["content-type"], "audio/wav");
        assert!(
            said.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("-caller.wav")
        );
        let p = Pcm::from_wav_bytes(&said.body).unwrap();
        assert_eq!((p.sample_rate, p.samples.len()), (8000, 16000));
        let crossings = p
            .samples
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        assert!(
            (1700..1820).contains(&crossings),
            "440 Hz for 2 s: {crossings} zero crossings"
        );
        let heard = raw(
            "GET",
            &b,
            &format!("/inspector/api/calls/{}/recording/heard.wav", call.id),
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(heard.status, 200);
        let h = Pcm::from_wav_bytes(&heard.body).unwrap();
        assert_eq!(h.sample_rate, 8000);
        // The app queued 3 s at level 4000 and cleared it after the 2nd caller frame.
        assert!(h.samples.contains(&4000), "nothing heard");
        assert!(h.samples.len() >= 15000, "{}", h.samples.len());

        // Bad input: typed errors.
        let r = raw(
            "GET",
            &b,
            &format!("/inspector/api/calls/{}/recording/x.mp3", call.id),
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (400, Some("bad_request"))
        );
        let r = raw(
            "GET",
            &b,
            "/inspector/api/calls/cs_nope",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (404, Some("not_found"))
        );
        let r = raw(
            "GET",
            &b,
            "/inspector/api/calls/cs_nope/recording/caller.wav",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(r.status, 404);

        // Nothing secret in the feed, the list or the detail.
        let list = raw(
            "GET",
            &b,
            "/inspector/api/calls",
            &[("cookie", &cookie)],
            "",
        )
        .await;
        assert_eq!(list.json()["calls"].as_array().unwrap().len(), 1);
        assert_no_secrets("the feed", &sse.all);
        assert_no_secrets("the list", &list.text());
        assert_no_secrets("the detail", &d.text());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn feeds_are_limited() {
    tokio::time::timeout(LIMIT, async {
        let e = emulator().await;
        let b = base(&e);
        let mut open = Vec::new();
        for _ in 0..32 {
            let r = send(
                "GET",
                &b,
                "/inspector/api/events",
                &[("x-api-key", KEY)],
                "",
            )
            .await;
            assert_eq!(r.status(), 200);
            open.push(r);
        }
        let r = raw(
            "GET",
            &b,
            "/inspector/api/events",
            &[("x-api-key", KEY)],
            "",
        )
        .await;
        assert_eq!((r.status, r.json()["error"].as_str()), (503, Some("busy")));
        // A closed feed frees its place (its stream is dropped once the server notices).
        open.clear();
        loop {
            let r = send(
                "GET",
                &b,
                "/inspector/api/events",
                &[("x-api-key", KEY)],
                "",
            )
            .await;
            if r.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

type Ws = async_tungstenite::WebSocketStream<
    async_tungstenite::tokio::TokioAdapter<tokio::net::TcpStream>,
>;

async fn phone(
    e: &EmulatorHandle,
    cookie: &str,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/inspector/api/phone", e.local_addr())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    let tcp = tokio::net::TcpStream::connect(e.local_addr())
        .await
        .unwrap();
    async_tungstenite::tokio::client_async(req, tcp)
        .await
        .map(|(ws, _)| ws)
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

async fn recv_type(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = recv(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

fn audio(samples: &[i16]) -> Message {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Message::text(json!({ "type": "audio", "data": { "audio_b64": b64 } }).to_string())
}

/// The dev phone's protocol without a browser: the page calls the app, its frames reach
/// the app and come back, a frame of the wrong size is refused, hang up ends the call.
/// Then the app calls out and the waiting phone answers.
#[tokio::test]
async fn the_phone_calls_the_app_and_answers_its_calls() {
    tokio::time::timeout(LIMIT, async {
        let e = emulator().await;
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
            AppMode::Echo,
        )
        .await;
        let cookie = login(&e).await;
        assert!(
            phone(&e, &cookie, Some("http://evil.example"))
                .await
                .is_err()
        );
        assert!(phone(&e, "teler_inspector=forged", None).await.is_err());
        let mut ws = phone(&e, &cookie, None).await.unwrap();

        // Bad input gets a typed error and the socket stays open.
        ws.send(Message::text("not json")).await.unwrap();
        assert_eq!(recv(&mut ws).await["type"], "error");
        ws.send(Message::text(r#"{"type":"dial","flow_url":"ftp://x"}"#))
            .await
            .unwrap();
        let err = recv(&mut ws).await;
        assert!(
            err["message"].as_str().unwrap().contains("flow_url"),
            "{err}"
        );
        ws.send(Message::text(r#"{"type":"answer"}"#))
            .await
            .unwrap();
        assert_eq!(recv(&mut ws).await["type"], "error");

        let dial = json!({ "type": "dial", "flow_url": format!("{}/flow", app.http_base),
            "status_callback_url": format!("{}/hooks", app.http_base) });
        ws.send(Message::text(dial.to_string())).await.unwrap();
        let placed = recv(&mut ws).await;
        assert_eq!(placed["type"], "placed");
        let id = placed["call_id"].as_str().unwrap().to_owned();
        let start = recv_type(&mut ws, "start").await;
        assert_eq!(
            (start["sample_rate"].as_u64(), start["chunk_ms"].as_u64()),
            (Some(8000), Some(100))
        );
        ws.send(audio(&[7; 10])).await.unwrap();
        let err = recv_type(&mut ws, "error").await;
        assert!(
            err["message"].as_str().unwrap().contains("takes 800"),
            "{err}"
        );
        for level in [1000i16, 2000, 3000] {
            ws.send(audio(&[level; 800])).await.unwrap();
        }
        // The app's echoes, as the app sent them, in order.
        for (i, level) in [1000i16, 2000, 3000].into_iter().enumerate() {
            let a = recv_type(&mut ws, "audio").await;
            assert_eq!(a["chunk_id"], i as u64 + 1);
            let pcm = base64::engine::general_purpose::STANDARD
                .decode(a["audio_b64"].as_str().unwrap())
                .unwrap();
            assert_eq!(i16::from_le_bytes([pcm[0], pcm[1]]), level);
        }
        ws.send(Message::text(r#"{"type":"hangup"}"#))
            .await
            .unwrap();
        let ended = recv_type(&mut ws, "ended").await;
        assert_eq!(
            (ended["state"].as_str(), ended["reason"].as_str()),
            (Some("completed"), Some("caller_hangup"))
        );
        let c = e.wait_for_call_end(&id).await.unwrap();
        assert_eq!(c.direction, "inbound");
        assert_eq!(c.media.frames_sent, 4); // start + 3
        let flow = app.seen.lock().unwrap().flow_requests[0].clone();
        assert_eq!(flow["direction"], "inbound");

        // The app places a call over REST: the waiting phone rings and answers.
        ws.send(Message::text(r#"{"type":"ready"}"#)).await.unwrap();
        assert_eq!(recv(&mut ws).await["type"], "ready");
        let call = e.place_call(CallRequest {
            from_number: "+14155550100".into(),
            to_number: "+14155550199".into(),
            flow_url: format!("{}/flow", app.http_base),
            status_callback_url: None,
            record: true,
        });
        let inc = recv_type(&mut ws, "incoming").await;
        assert_eq!(inc["call_id"], call.id.as_str());
        assert_eq!(e.call(&call.id).unwrap().state.as_str(), "ringing");
        ws.send(Message::text(r#"{"type":"answer"}"#))
            .await
            .unwrap();
        recv_type(&mut ws, "start").await;
        ws.send(audio(&[500; 800])).await.unwrap();
        recv_type(&mut ws, "audio").await;
        // The page goes away: the call ends as a caller hangup.
        drop(ws);
        let c = e.wait_for_call_end(&call.id).await.unwrap();
        assert_eq!(c.reason.as_deref(), Some("caller_hangup"));
        assert_eq!(c.direction, "outbound");
    })
    .await
    .unwrap();
}

/// The app's `clear` and `interrupt` reach the phone as the app sent them, after the
/// chunks they act on.
#[tokio::test]
async fn the_phone_gets_clear_and_interrupt() {
    tokio::time::timeout(LIMIT, async {
        let e = emulator().await;
        let cookie = login(&e).await;
        for (mode, last) in [
            (
                AppMode::QueueThenInterrupt,
                json!({ "type": "interrupt", "chunk_id": 2 }),
            ),
            (AppMode::QueueThenClear, json!({ "type": "clear" })),
        ] {
            let app = start_app(
                r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
                mode,
            )
            .await;
            let mut ws = phone(&e, &cookie, None).await.unwrap();
            let dial = json!({ "type": "dial", "flow_url": format!("{}/flow", app.http_base) });
            ws.send(Message::text(dial.to_string())).await.unwrap();
            let id = recv_type(&mut ws, "placed").await["call_id"]
                .as_str()
                .unwrap()
                .to_owned();
            recv_type(&mut ws, "start").await;
            ws.send(audio(&[100; 800])).await.unwrap();
            ws.send(audio(&[100; 800])).await.unwrap();
            for chunk in 1..=3 {
                assert_eq!(recv_type(&mut ws, "audio").await["chunk_id"], chunk);
            }
            let m = recv(&mut ws).await;
            assert_eq!(m, last, "{mode:?}");
            ws.send(Message::text(r#"{"type":"hangup"}"#))
                .await
                .unwrap();
            recv_type(&mut ws, "ended").await;
            let d = raw(
                "GET",
                &base(&e),
                &format!("/inspector/api/calls/{id}"),
                &[("cookie", &cookie)],
                "",
            )
            .await;
            let kinds: Vec<String> = d.json()["log"]["marks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["kind"].as_str().unwrap().to_owned())
                .collect();
            assert!(
                kinds.contains(&last["type"].as_str().unwrap().to_owned()),
                "{kinds:?}"
            );
        }
    })
    .await
    .unwrap();
}
