//! A real HTTP/1.1 server on 127.0.0.1 (port 0) for the REST clients' tests, shared by the
//! adapters' test suites (a dev-dependency). It records every request, answers from a script
//! (then a default), keeps connections alive and counts accepted TCP connections.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (for timeouts).
    pub delay: Duration,
    /// Close the connection without answering.
    pub hang_up: bool,
    /// Write these bytes verbatim instead of a formatted answer.
    pub raw: Option<Vec<u8>>,
    /// Close the connection after answering (without saying so in a header).
    pub close_after: bool,
    /// Close the connection once the request head is read, before reading its body.
    pub reset_early: bool,
    /// After the head (`raw` or formatted without a body), write the body as `drip`
    /// pieces of this size, one every `drip_every`.
    pub drip: Option<(Vec<u8>, usize, Duration)>,
    /// After the head, write zeros until the client goes away or this many bytes are out.
    pub endless: Option<u64>,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            hang_up: false,
            raw: None,
            close_after: false,
            reset_early: false,
            drip: None,
            endless: None,
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            hang_up: false,
            raw: None,
            close_after: false,
            reset_early: false,
            drip: None,
            endless: None,
        }
    }
    pub fn bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            body,
            delay: Duration::ZERO,
            hang_up: false,
            raw: None,
            close_after: false,
            reset_early: false,
            drip: None,
            endless: None,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
    /// An answer written byte for byte as given.
    pub fn raw(bytes: &[u8]) -> Reply {
        let mut r = Reply::empty(200);
        r.raw = Some(bytes.to_vec());
        r
    }
    pub fn then_close(mut self) -> Reply {
        self.close_after = true;
        self
    }
    pub fn hang_up() -> Reply {
        let mut r = Reply::empty(500);
        r.hang_up = true;
        r
    }
    /// Closes the connection as soon as the request head is read (the body unread).
    pub fn reset_early() -> Reply {
        let mut r = Reply::empty(500);
        r.reset_early = true;
        r
    }
    /// `head` (a raw status line and headers), then `piece`, `count` times, one every `every`.
    pub fn drip(head: &[u8], piece: &[u8], count: usize, every: Duration) -> Reply {
        let mut r = Reply::raw(head);
        r.drip = Some((piece.to_vec(), count, every));
        r
    }
    /// `head` (a raw status line and headers), then zeros until the client stops reading or
    /// `cap` bytes were written.
    pub fn endless(head: &[u8], cap: u64) -> Reply {
        let mut r = Reply::raw(head);
        r.endless = Some(cap);
        r
    }
}

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which accepted connection carried it (0-based).
    pub conn: usize,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

#[derive(Default)]
struct State {
    /// Body bytes written by `drip` and `endless` replies.
    streamed: u64,
    script: VecDeque<Reply>,
    default: Option<Reply>,
    requests: Vec<Recorded>,
}

/// The server. Its threads are detached; every socket has a read timeout, so none can
/// outlive the test process by much.
#[derive(Clone)]
pub struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let server = Server {
            addr,
            state: Arc::default(),
            connections: Arc::default(),
            closed: Arc::default(),
        };
        let s = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let conn = s.connections.fetch_add(1, Ordering::SeqCst);
                let s2 = s.clone();
                std::thread::spawn(move || {
                    s2.serve(stream, conn);
                    // Both halves are dropped: the socket is closed.
                    s2.closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        server
    }

    /// `http://127.0.0.1:PORT/api/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn push(&self, r: Reply) -> &Self {
        self.state.lock().unwrap().script.push_back(r);
        self
    }

    pub fn set_default(&self, r: Reply) {
        self.state.lock().unwrap().default = Some(r);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The only request so far (panics otherwise).
    pub fn only(&self) -> Recorded {
        let r = self.requests();
        assert_eq!(r.len(), 1, "expected exactly one request, got {r:#?}");
        r.into_iter().next().unwrap()
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections this server has closed.
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    /// Waits (at most 10 s) until this server has closed `n` connections, so a test can act
    /// once a close has surely gone out, instead of sleeping and hoping.
    pub fn wait_closed(&self, n: usize) {
        let t = std::time::Instant::now();
        while self.closed() < n {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the server did not close {n} connections"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Body bytes written so far by `drip` and `endless` replies.
    pub fn streamed(&self) -> u64 {
        self.state.lock().unwrap().streamed
    }

    /// Requests whose path (without the query) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }

    fn serve(&self, stream: TcpStream, conn: usize) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = stream.set_nodelay(true);
        let mut writer = match stream.try_clone() {
            Ok(w) => w,
            Err(_) => return,
        };
        let mut reader = BufReader::new(stream);
        loop {
            let Some((mut req, close_after, body_len)) = read_head(&mut reader, conn) else {
                return;
            };
            let reply = {
                let mut st = self.state.lock().unwrap();
                st.script
                    .pop_front()
                    .or_else(|| st.default.clone())
                    .unwrap_or_else(|| Reply::json(599, r#"{"message":"no scripted reply"}"#))
            };
            if reply.reset_early {
                self.state.lock().unwrap().requests.push(req);
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            match read_body(&mut reader, body_len) {
                Some(body) => req.body = body,
                None => return,
            }
            self.state.lock().unwrap().requests.push(req);
            if !reply.delay.is_zero() {
                std::thread::sleep(reply.delay);
            }
            if reply.hang_up {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            if let Some(raw) = &reply.raw {
                if writer.write_all(raw).is_err() || writer.flush().is_err() {
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                    return;
                }
                if let Some((piece, count, every)) = &reply.drip {
                    for _ in 0..*count {
                        std::thread::sleep(*every);
                        if writer.write_all(piece).is_err() || writer.flush().is_err() {
                            return;
                        }
                        self.state.lock().unwrap().streamed += piece.len() as u64;
                    }
                }
                if let Some(cap) = reply.endless {
                    let block = vec![0u8; 64 * 1024];
                    let mut sent = 0u64;
                    while sent < cap {
                        if writer.write_all(&block).is_err() {
                            break;
                        }
                        sent += block.len() as u64;
                        self.state.lock().unwrap().streamed += block.len() as u64;
                    }
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                    return;
                }
                if reply.close_after {
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                    return;
                }
                continue;
            }
            let mut out = format!("HTTP/1.1 {} Scripted\r\n", reply.status).into_bytes();
            for (k, v) in &reply.headers {
                out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
            }
            out.extend_from_slice(format!("Content-Length: {}\r\n", reply.body.len()).as_bytes());
            if close_after {
                out.extend_from_slice(b"Connection: close\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&reply.body);
            if writer.write_all(&out).is_err()
                || writer.flush().is_err()
                || close_after
                || reply.close_after
            {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

/// What the head says of the body to come.
enum BodyLen {
    None,
    Length(usize),
    Chunked,
}

fn read_head(reader: &mut BufReader<TcpStream>, conn: usize) -> Option<(Recorded, bool, BodyLen)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v): &(String, String)| v.clone())
    };
    let body_len = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        BodyLen::Chunked
    } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        BodyLen::Length(n)
    } else {
        BodyLen::None
    };
    let close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Some((
        Recorded {
            method,
            target,
            headers,
            body: Vec::new(),
            conn,
        },
        close,
        body_len,
    ))
}

fn read_body(reader: &mut BufReader<TcpStream>, len: BodyLen) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    if let BodyLen::Chunked = len {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let BodyLen::Length(n) = len {
        body = vec![0; n];
        reader.read_exact(&mut body).ok()?;
    }
    Some(body)
}

/// A port on 127.0.0.1 with nothing listening (connections are refused).
pub fn refused_base_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/api/v1")
}

/// Runs `f` on its own thread and fails the test if it takes longer than `secs`.
pub fn with_deadline<F: FnOnce() + Send + 'static>(secs: u64, f: F) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => {
            if let Err(p) = handle.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = handle.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs} s"),
    }
}
