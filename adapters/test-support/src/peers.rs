//! Fake peers on real sockets (127.0.0.1, port 0), written with blocking tungstenite so the
//! same helpers serve the tests of every adapter: a fake Teler client and a fake remote
//! server. Shared verbatim by the tokio, smol and blocking adapters' tests.
#![allow(dead_code, clippy::result_large_err)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use teler_core::media::{HandlerResult, StreamHandler, StreamOp};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

/// How long a fake peer waits on a read before giving up (no test can hang on a read).
pub const PEER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `f` on its own thread and fails the test if it takes longer than `limit`.
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
    }
}

/// A boxed (call-side, remote-side) handler pair, so tests can mix handler types.
pub type Pair = (Box<dyn StreamHandler>, Box<dyn StreamHandler>);

/// The seed app's two ElevenLabs handlers.
pub fn eleven() -> Pair {
    (
        Box::new(teler_core::elevenlabs::call_handler()),
        Box::new(teler_core::elevenlabs::remote_handler()),
    )
}

/// The call-side ElevenLabs handler, except a Teler frame containing `word` stops the bridge.
pub fn call_stops_on(word: &'static str) -> Box<dyn StreamHandler> {
    let mut inner = teler_core::elevenlabs::call_handler();
    Box::new(move |m: &str| -> HandlerResult {
        if m.contains(word) {
            Ok((String::new(), StreamOp::Stop))
        } else {
            inner.handle_text(m)
        }
    })
}

/// The remote-side ElevenLabs handler, except a remote frame containing `word` stops.
pub fn remote_stops_on(word: &'static str) -> Box<dyn StreamHandler> {
    let mut inner = teler_core::elevenlabs::remote_handler();
    Box::new(move |m: &str| -> HandlerResult {
        if m.contains(word) {
            Ok((String::new(), StreamOp::Stop))
        } else {
            inner.handle_text(m)
        }
    })
}

// ---------------------------------------------------------------- Teler messages

pub fn start_msg(call: &str) -> String {
    format!(
        r#"{{"type":"start","account_id":"acc_1","call_app_id":"va_1","call_id":"{call}","stream_id":"st_1","message_id":1,"data":{{"encoding":"audio/l16","sample_rate":8000,"channels":1}}}}"#
    )
}

/// A distinct, valid base64 payload per (call, frame).
pub fn payload(call: usize, i: usize) -> String {
    format!("{call:04}{i:08}")
}

pub fn audio_msg(i: usize, b64: &str) -> String {
    format!(
        r#"{{"type":"audio","stream_id":"st_1","message_id":{},"data":{{"audio_b64":"{b64}"}}}}"#,
        i + 2
    )
}

/// What Teler should get back for agent audio `b64` as chunk `chunk_id`.
pub fn teler_audio(b64: &str, chunk_id: usize) -> String {
    format!(r#"{{"type":"audio","audio_b64":"{b64}","chunk_id":{chunk_id}}}"#)
}

pub fn agent_audio(b64: &str) -> String {
    format!(r#"{{"type":"audio","audio_event":{{"audio_base_64":"{b64}","event_id":1}}}}"#)
}

// ---------------------------------------------------------------- fake Teler

/// A fake Teler: opens the media stream to the bridge server.
pub fn teler_connect(addr: SocketAddr) -> WebSocket<TcpStream> {
    let tcp = TcpStream::connect(addr).expect("connect to the bridge server");
    tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
    let url = format!("ws://{addr}/media-stream");
    let (ws, _) = tungstenite::client(url.as_str(), tcp).expect("handshake with the bridge");
    ws
}

pub fn send_text(ws: &mut WebSocket<TcpStream>, text: String) {
    ws.send(Message::text(text)).expect("send");
}

/// What a peer got until its socket closed: text frames, and the close frame if any.
#[derive(Debug, Default)]
pub struct Received {
    pub texts: Vec<String>,
    pub binary: usize,
    pub close: Option<(u16, String)>,
}

/// Reads until the socket closes (or the read timeout passes).
pub fn read_until_close<S: Read + Write>(ws: &mut WebSocket<S>) -> Received {
    let mut got = Received::default();
    read_while(ws, &mut got, |_| true);
    got
}

/// Reads `n` text frames (or until the socket closes).
pub fn read_texts<S: Read + Write>(ws: &mut WebSocket<S>, n: usize) -> Received {
    let mut got = Received::default();
    read_while(ws, &mut got, |g| g.texts.len() < n);
    got
}

fn read_while<S: Read + Write>(
    ws: &mut WebSocket<S>,
    got: &mut Received,
    more: impl Fn(&Received) -> bool,
) {
    while more(got) {
        match ws.read() {
            Ok(Message::Text(t)) => got.texts.push(t.as_str().to_owned()),
            Ok(Message::Binary(_)) => got.binary += 1,
            Ok(Message::Close(cf)) => {
                got.close = cf.map(|c| (u16::from(c.code), c.reason.as_str().to_owned()));
                // Let tungstenite answer the close, then stop.
                let _ = ws.flush();
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

pub fn close(ws: &mut WebSocket<TcpStream>, code: u16, reason: &str) {
    let _ = ws.close(Some(CloseFrame {
        code: code.into(),
        reason: reason.to_owned().into(),
    }));
    // Drain until the bridge answers the close (bounded by the read timeout).
    while ws.read().is_ok() {}
}

// ---------------------------------------------------------------- fake remote

/// One accepted remote connection and its handshake headers (lower-case names).
pub struct RemoteConn {
    pub ws: WebSocket<TcpStream>,
    pub headers: Vec<(String, String)>,
}

impl RemoteConn {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A fake remote server; each connection runs `on_conn` on its own thread.
pub struct FakeRemote {
    pub addr: SocketAddr,
}

impl FakeRemote {
    pub fn url(&self) -> String {
        format!("ws://{}/agent?id=1", self.addr)
    }

    /// A WebSocket remote: completes the handshake (choosing the first offered
    /// subprotocol) and hands the socket to `on_conn`.
    pub fn ws(on_conn: impl Fn(RemoteConn) + Send + Sync + 'static) -> FakeRemote {
        let on_conn = Arc::new(on_conn);
        FakeRemote::raw(move |tcp| {
            tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
            let mut headers = Vec::new();
            let cb = |req: &Request, mut resp: Response| {
                for (n, v) in req.headers() {
                    headers.push((n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()));
                }
                if let Some(p) = req.headers().get("sec-websocket-protocol") {
                    let first = p.to_str().unwrap_or("").split(',').next().unwrap_or("");
                    resp.headers_mut()
                        .insert("sec-websocket-protocol", first.trim().parse().unwrap());
                }
                Ok(resp)
            };
            let Ok(ws) = tungstenite::accept_hdr(tcp, cb) else {
                return;
            };
            on_conn(RemoteConn { ws, headers });
        })
    }

    /// A raw TCP remote: `on_conn` gets each accepted socket.
    pub fn raw(on_conn: impl Fn(TcpStream) + Send + Sync + 'static) -> FakeRemote {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let on_conn = Arc::new(on_conn);
        thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let on_conn = on_conn.clone();
                thread::spawn(move || on_conn(tcp));
            }
        });
        FakeRemote { addr }
    }

    /// A local echo agent: answers each `{"user_audio_chunk":B}` with agent audio `B`.
    pub fn echo_agent() -> FakeRemote {
        FakeRemote::ws(|mut c| echo(&mut c.ws))
    }

    /// The echo agent behind TLS (a test CA's certificate for 127.0.0.1, see
    /// [`test_client_tls`]); dial it at `wss_url()`.
    pub fn wss_echo_agent() -> FakeRemote {
        let tls = test_server_tls();
        FakeRemote::raw(move |tcp| {
            tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
            let Ok(conn) = rustls::ServerConnection::new(tls.clone()) else {
                return;
            };
            let Ok(mut ws) = tungstenite::accept(rustls::StreamOwned::new(conn, tcp)) else {
                return;
            };
            echo(&mut ws);
        })
    }

    pub fn wss_url(&self) -> String {
        format!("wss://{}/agent", self.addr)
    }
}

/// A test CA, and a certificate it signed for 127.0.0.1 and localhost (both valid until
/// 2126) with its key; made with openssl for these tests only.
const TEST_CA: &[u8] = include_bytes!("test-ca.pem");
const TEST_CERT: &[u8] = include_bytes!("test-cert.pem");
const TEST_KEY: &[u8] = include_bytes!("test-key.pem");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client TLS config that trusts only the test CA.
pub fn test_client_tls() -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(TEST_CA).unwrap())
        .unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

fn test_server_tls() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let cert = CertificateDer::from_pem_slice(TEST_CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    Arc::new(cfg)
}

/// What a [`Recorder`] remote saw.
#[derive(Debug)]
pub enum Seen {
    Text(String),
    /// Its socket closed: the close frame, if any.
    Closed(Option<(u16, String)>),
}

/// The other end of a recording remote: what it got, as it got it.
pub struct Recorder(mpsc::Receiver<Seen>);

impl Recorder {
    /// A remote that reports every text frame and its close; its handle.
    pub fn remote() -> (FakeRemote, Recorder) {
        let (tx, rx) = mpsc::channel();
        let remote = FakeRemote::ws(move |mut c| {
            loop {
                match c.ws.read() {
                    Ok(Message::Text(t)) => {
                        let _ = tx.send(Seen::Text(t.as_str().to_owned()));
                    }
                    Ok(Message::Close(cf)) => {
                        let _ = c.ws.flush();
                        let cf = cf.map(|c| (u16::from(c.code), c.reason.as_str().to_owned()));
                        let _ = tx.send(Seen::Closed(cf));
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = tx.send(Seen::Closed(None));
                        return;
                    }
                }
            }
        });
        (remote, Recorder(rx))
    }

    /// Waits for the next `n` text frames (fails the test after 10 s).
    pub fn texts(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match self.0.recv_timeout(Duration::from_secs(10)) {
                Ok(Seen::Text(t)) => t,
                other => panic!("remote: expected a text frame, got {other:?}"),
            })
            .collect()
    }

    /// Waits for the socket to close, skipping text; the close frame, if any.
    pub fn close(&self) -> Option<(u16, String)> {
        loop {
            match self.0.recv_timeout(Duration::from_secs(10)) {
                Ok(Seen::Text(_)) => {}
                Ok(Seen::Closed(c)) => return c,
                Err(e) => panic!("remote: no close within 10 s: {e}"),
            }
        }
    }
}

/// The echo agent's loop.
pub fn echo<S: Read + Write>(ws: &mut WebSocket<S>) {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: serde_json::Value = match serde_json::from_str(t.as_str()) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                if let Some(b64) = v.get("user_audio_chunk").and_then(|b| b.as_str())
                    && ws.send(Message::text(agent_audio(b64))).is_err()
                {
                    return;
                }
            }
            Ok(Message::Close(_)) => {
                let _ = ws.flush();
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// A port nothing listens on.
pub fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// This process's resident set size in KiB (Linux), if it can be read.
pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Writes raw bytes (for garbage handshakes) and keeps the socket open a while.
pub fn write_raw(mut tcp: TcpStream, bytes: &[u8], hold: Duration) {
    let _ = tcp.write_all(bytes);
    thread::sleep(hold);
}

/// The three ways a peer breaks the WebSocket protocol that a library must catch: a text
/// frame that is not UTF-8, a frame with a reserved bit set, a reserved opcode.
pub const PROTOCOL_VIOLATIONS: [&str; 3] = ["invalid utf-8", "rsv1 set", "reserved opcode"];

/// Sends one raw frame breaking the protocol as `how` (one of [`PROTOCOL_VIOLATIONS`]).
pub fn send_violation(ws: &mut WebSocket<TcpStream>, how: &str) {
    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    let frame = match how {
        "invalid utf-8" => Frame::message(vec![0xff, 0xfe, b'{'], OpCode::Data(Data::Text), true),
        "rsv1 set" => {
            let mut f = Frame::message(b"{}".to_vec(), OpCode::Data(Data::Text), true);
            f.header_mut().rsv1 = true;
            f
        }
        "reserved opcode" => Frame::message(b"{}".to_vec(), OpCode::Data(Data::Reserved(3)), true),
        other => panic!("unknown violation {other}"),
    };
    ws.send(Message::Frame(frame)).expect("send a raw frame");
}
