//! The smol REST client: [`AsyncClient`], with no tokio anywhere in its dependency tree.
//!
//! The default transport is a small HTTP/1.1 client over async-net sockets (futures-rustls
//! with ring and webpki roots for https), with a per-origin pool so keep-alive works. It
//! needs no executor: each request's future does its own I/O. (hyper 1 is not used because
//! it always depends on tokio.) Bring your own HTTP client with [`AsyncTransport`].
//!
//! Everything about Teler (request building, validation, answers, errors, the retry
//! decision, pagination) lives in [`teler_core::rest`], re-exported here.
//!
//! ```no_run
//! use teler_smol::rest::{AsyncClient, Error};
//!
//! async_io::block_on(async {
//!     let client = AsyncClient::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
//!     match client
//!         .calls()
//!         .create(
//!             "+918000000000",
//!             "+919000000000",
//!             "https://example.com/flow",
//!             "https://example.com/status",
//!             true,
//!         )
//!         .await
//!     {
//!         Ok(call) => println!("placed {}", call.id),
//!         Err(Error::Validation(e)) => eprintln!("fix the parameter: {e}"),
//!         Err(Error::Unauthorized(e)) => eprintln!("check the API key: {}", e.message),
//!         Err(e @ (Error::Network(_) | Error::Timeout(_))) => eprintln!("no answer: {e}"),
//!         Err(e) => eprintln!("Teler refused: {e}"),
//!     }
//!     Ok::<(), Error>(())
//! })?;
//! # Ok::<(), Error>(())
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_lite::{Stream, StreamExt as _};

use teler_core::rest::retry::{Outcome, is_replay_safe, jitter_from_bits};
pub use teler_core::rest::*;

/// The default timeout of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 8;

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Moves one HTTP exchange. Implement it to bring your own async HTTP client.
///
/// `send` must not follow redirects and must return answers of every status with their
/// bodies.
pub trait AsyncTransport: Send + Sync {
    /// Sends `req` and reads the whole answer.
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>>;

    /// Fetches `url` (a signed recording URL: no API key is sent), following redirects, and
    /// writes the body to `out`; returns the bytes written. The default reads the whole body
    /// through [`AsyncTransport::send`]; the built-in transport streams it.
    fn download<'a>(
        &'a self,
        url: &'a str,
        out: &'a mut (dyn AsyncWrite + Unpin + Send),
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let mut url = url.to_string();
            for _ in 0..5 {
                let req = http::Request::get(url.as_str())
                    .body(Vec::new())
                    .map_err(|e| Error::Config(format!("invalid download URL: {e}")))?;
                let resp = self.send(req).await?;
                if let Some(next) = redirect_target(resp.status(), resp.headers()) {
                    url = next;
                    continue;
                }
                check_status(&resp)?;
                out.write_all(resp.body()).await.map_err(write_err)?;
                out.flush().await.map_err(write_err)?;
                return Ok(resp.body().len() as u64);
            }
            Err(too_many_redirects())
        })
    }
}

fn redirect_target(status: http::StatusCode, headers: &http::HeaderMap) -> Option<String> {
    if !status.is_redirection() {
        return None;
    }
    headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn write_err(e: std::io::Error) -> Error {
    Error::Network(TransportError::new(
        TransportErrorKind::Io,
        format!("writing the recording: {e}"),
    ))
}

fn too_many_redirects() -> Error {
    Error::Network(TransportError::new(
        TransportErrorKind::Other,
        "too many redirects downloading the recording",
    ))
}

fn io_err(what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::new(TransportErrorKind::Io, format!("{what}: {e}"))
}

// ------------------------------------------------------------------------ the socket

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One HTTP/1.1 connection and the bytes read from it but not consumed yet.
struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
}

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body read into memory (API answers; downloads stream instead), as in
/// the blocking client.
const MAX_BODY: usize = 64 * 1024 * 1024;

impl Conn {
    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.io.read(&mut tmp).await?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    async fn read_line(&mut self) -> Result<String, TransportError> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io_err("reading the answer", "line too long"));
            }
            if self
                .fill()
                .await
                .map_err(|e| io_err("reading the answer", e))?
                == 0
            {
                return Err(io_err("reading the answer", "connection closed mid-answer"));
            }
        }
    }

    /// Reads a response head (skipping 1xx answers).
    async fn read_head(&mut self) -> Result<http::response::Parts, TransportError> {
        loop {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; 128];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(&self.buf) {
                    Ok(httparse::Status::Complete(len)) => {
                        let version = if resp.version == Some(0) {
                            http::Version::HTTP_10
                        } else {
                            http::Version::HTTP_11
                        };
                        let mut b = http::Response::builder()
                            .status(resp.code.unwrap_or(0))
                            .version(version);
                        for h in resp.headers.iter() {
                            b = b.header(h.name, h.value);
                        }
                        let head = b
                            .body(())
                            .map_err(|e| io_err("reading the answer", e))?
                            .into_parts()
                            .0;
                        Some((len, head))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(e) => return Err(io_err("reading the answer", e)),
                }
            };
            match parsed {
                Some((len, head)) => {
                    self.buf.drain(..len);
                    if head.status.is_informational() {
                        continue;
                    }
                    return Ok(head);
                }
                None => {
                    if self.buf.len() > MAX_HEAD {
                        return Err(io_err("reading the answer", "head too large"));
                    }
                    let n = self
                        .fill()
                        .await
                        .map_err(|e| io_err("reading the answer", e))?;
                    if n == 0 {
                        return Err(io_err(
                            "reading the answer",
                            "connection closed before an answer",
                        ));
                    }
                }
            }
        }
    }
}

/// How an answer's body is framed.
enum Framing {
    Length(u64),
    Chunked { left: u64, done: bool },
    UntilClose,
}

/// Reads one answer's body chunk by chunk.
struct BodyReader<'c> {
    conn: &'c mut Conn,
    framing: Framing,
    finished: bool,
}

impl BodyReader<'_> {
    /// The reader for `head`'s body; an unreadable `Content-Length` is an error (guessing
    /// a framing would desynchronise the connection).
    fn new<'c>(
        conn: &'c mut Conn,
        method: &http::Method,
        head: &http::response::Parts,
    ) -> Result<BodyReader<'c>, TransportError> {
        let s = head.status.as_u16();
        let chunked = head
            .headers
            .get(http::header::TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = match head.headers.get(http::header::CONTENT_LENGTH) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| io_err("reading the answer", "invalid Content-Length"))?,
            ),
        };
        let framing = if *method == http::Method::HEAD || s == 204 || s == 304 {
            Framing::Length(0)
        } else if chunked {
            Framing::Chunked {
                left: 0,
                done: false,
            }
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        Ok(BodyReader {
            conn,
            framing,
            finished: false,
        })
    }

    /// Whether the connection can carry another request after this body.
    fn reusable(&self) -> bool {
        self.finished && !matches!(self.framing, Framing::UntilClose)
    }

    /// Takes up to `max` buffered bytes (filling the buffer first if empty).
    async fn take(&mut self, max: u64) -> Result<Vec<u8>, TransportError> {
        if self.conn.buf.is_empty()
            && self
                .conn
                .fill()
                .await
                .map_err(|e| io_err("reading the body", e))?
                == 0
        {
            return Err(io_err("reading the body", "connection closed mid-body"));
        }
        let n = (self.conn.buf.len() as u64).min(max) as usize;
        Ok(self.conn.buf.drain(..n).collect())
    }

    /// The next piece of the body, or `None` at its end.
    async fn next(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        if self.finished {
            return Ok(None);
        }
        match &mut self.framing {
            Framing::Length(0) => {
                self.finished = true;
                Ok(None)
            }
            Framing::Length(left) => {
                let want = *left;
                let data = self.take(want).await?;
                if let Framing::Length(left) = &mut self.framing {
                    *left -= data.len() as u64;
                }
                Ok(Some(data))
            }
            Framing::UntilClose => {
                if self.conn.buf.is_empty()
                    && self
                        .conn
                        .fill()
                        .await
                        .map_err(|e| io_err("reading the body", e))?
                        == 0
                {
                    self.finished = true;
                    return Ok(None);
                }
                Ok(Some(std::mem::take(&mut self.conn.buf)))
            }
            Framing::Chunked { left, done } => {
                if *done {
                    self.finished = true;
                    return Ok(None);
                }
                if *left == 0 {
                    let line = self.conn.read_line().await?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16)
                        .map_err(|_| io_err("reading the body", "bad chunk size"))?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !self.conn.read_line().await?.is_empty() {}
                        if let Framing::Chunked { done, .. } = &mut self.framing {
                            *done = true;
                        }
                        self.finished = true;
                        return Ok(None);
                    }
                    if let Framing::Chunked { left, .. } = &mut self.framing {
                        *left = size;
                    }
                }
                let want = match &self.framing {
                    Framing::Chunked { left, .. } => *left,
                    _ => 0,
                };
                let data = self.take(want).await?;
                let mut end_of_chunk = false;
                if let Framing::Chunked { left, .. } = &mut self.framing {
                    *left -= data.len() as u64;
                    end_of_chunk = *left == 0;
                }
                if end_of_chunk {
                    let rest = self.conn.read_line().await?;
                    if !rest.is_empty() {
                        return Err(io_err("reading the body", "bad chunk end"));
                    }
                }
                Ok(Some(data))
            }
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &http::Uri) -> Result<Origin, TransportError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(TransportError::new(
                    TransportErrorKind::Other,
                    format!("unsupported URL scheme {other:?}"),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| TransportError::new(TransportErrorKind::Other, "URL without host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

/// The default transport: a small HTTP/1.1 client over async-net sockets, TLS by
/// futures-rustls (ring, webpki roots), a per-origin keep-alive pool; redirects are not
/// followed. (hyper 1 always depends on tokio, so it is not used here.)
#[derive(Clone)]
pub struct SmolTransport {
    inner: Arc<TransportInner>,
}

struct TransportInner {
    timeout: Duration,
    tls: futures_rustls::TlsConnector,
    pool: Mutex<HashMap<Origin, Vec<Conn>>>,
}

impl std::fmt::Debug for SmolTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmolTransport")
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

async fn with_timeout<T>(
    d: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, TransportError> {
    let timer = async {
        async_io::Timer::after(d).await;
        Err(TransportError::new(
            TransportErrorKind::Timeout,
            format!("{what} took longer than {d:?}"),
        ))
    };
    futures_lite::future::or(fut, timer).await
}

/// The request's bytes: head in origin form with `Host`, then the body.
fn encode_request(req: &http::Request<Vec<u8>>) -> Result<Vec<u8>, TransportError> {
    let uri = req.uri();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut out = Vec::with_capacity(256 + req.body().len());
    out.extend_from_slice(format!("{} {path} HTTP/1.1\r\n", req.method()).as_bytes());
    if !req.headers().contains_key(http::header::HOST) {
        let host = uri.host().unwrap_or_default();
        match uri.port_u16() {
            Some(p) => out.extend_from_slice(format!("host: {host}:{p}\r\n").as_bytes()),
            None => out.extend_from_slice(format!("host: {host}\r\n").as_bytes()),
        }
    }
    for (name, value) in req.headers() {
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let has_body = !req.body().is_empty()
        || !matches!(
            *req.method(),
            http::Method::GET | http::Method::HEAD | http::Method::DELETE | http::Method::OPTIONS
        );
    if has_body {
        out.extend_from_slice(format!("content-length: {}\r\n", req.body().len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body());
    Ok(out)
}

impl SmolTransport {
    /// A transport whose every exchange ends after `timeout` (connect, send, read the body).
    pub fn new(timeout: Duration) -> Self {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self::with_tls_config(timeout, config)
    }

    /// Like [`SmolTransport::new`], with your own TLS settings (e.g. extra root
    /// certificates for a proxy). ALPN is set to `http/1.1`.
    pub fn with_tls_config(timeout: Duration, mut config: rustls::ClientConfig) -> Self {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        SmolTransport {
            inner: Arc::new(TransportInner {
                timeout,
                tls: futures_rustls::TlsConnector::from(Arc::new(config)),
                pool: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn take_idle(&self, origin: &Origin) -> Option<Conn> {
        let mut pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.get_mut(origin)?.pop()
    }

    /// A pooled connection that still looks open: one that has already seen the peer's
    /// close (or stray bytes) is dropped before anything is written to it.
    async fn take_live(&self, origin: &Origin) -> Option<Conn> {
        while let Some(mut conn) = self.take_idle(origin) {
            if !conn.buf.is_empty() {
                continue; // bytes beyond the last answer: the stream cannot be trusted
            }
            let mut probe = [0u8; 1];
            match futures_lite::future::poll_once(conn.io.read(&mut probe)).await {
                None => return Some(conn), // nothing to read: still open
                Some(_) => continue,       // closed, failed, or unexpected bytes
            }
        }
        None
    }

    fn put_idle(&self, origin: Origin, conn: Conn) {
        let mut pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        let idle = pool.entry(origin).or_default();
        if idle.len() < MAX_IDLE_PER_ORIGIN {
            idle.push(conn);
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<Conn, TransportError> {
        let connect_err =
            |e: std::io::Error| TransportError::new(TransportErrorKind::Connect, e.to_string());
        let tcp = async_net::TcpStream::connect((origin.host.as_str(), origin.port))
            .await
            .map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = if origin.https {
            let name =
                rustls::pki_types::ServerName::try_from(origin.host.clone()).map_err(|e| {
                    TransportError::new(TransportErrorKind::Connect, format!("bad host name: {e}"))
                })?;
            Box::new(
                self.inner
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(connect_err)?,
            )
        } else {
            Box::new(tcp)
        };
        Ok(Conn {
            io,
            buf: Vec::new(),
        })
    }

    /// Sends `req` on a pooled connection (a fresh one when the pooled one turns out to be
    /// closed before any answer byte) and reads the answer's head. Hand the connection back
    /// with [`SmolTransport::finish`] once the body was read.
    async fn start(
        &self,
        req: &http::Request<Vec<u8>>,
    ) -> Result<(Origin, Conn, http::response::Parts), TransportError> {
        let origin = Origin::of(req.uri())?;
        let bytes = encode_request(req)?;
        let replay_safe = is_replay_safe(req);
        loop {
            let (mut conn, pooled) = match self.take_live(&origin).await {
                Some(c) => (c, true),
                None => (self.connect(&origin).await?, false),
            };
            let sent = async {
                conn.io.write_all(&bytes).await?;
                conn.io.flush().await
            }
            .await;
            let head = match sent {
                Ok(()) => conn.read_head().await,
                Err(e) => Err(io_err("sending the request", e)),
            };
            match head {
                Ok(head) => return Ok((origin, conn, head)),
                // A pooled connection the server closed while we wrote: nothing was
                // answered. Resend on a fresh connection only when a replay is harmless,
                // since the server may have read the request.
                Err(_) if pooled && conn.buf.is_empty() && replay_safe => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Pools the connection again if its answer was read exactly to the end (no bytes left
    /// over: they would be read as the next answer) and the server keeps it open.
    fn finish(&self, origin: Origin, conn: Conn, head: &http::response::Parts, body_done: bool) {
        if body_done && conn.buf.is_empty() && keeps_alive(head) {
            self.put_idle(origin, conn);
        }
    }
}

/// Whether the server lets the connection carry another request: HTTP/1.1 without a
/// `close` token, HTTP/1.0 only with `keep-alive`; never after an answer framed both by
/// length and chunked (a sign of a confused or hostile peer).
fn keeps_alive(head: &http::response::Parts) -> bool {
    let has_token = |token: &str| {
        head.headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let ambiguous = head.headers.contains_key(http::header::CONTENT_LENGTH)
        && head.headers.contains_key(http::header::TRANSFER_ENCODING);
    let persistent = if head.version == http::Version::HTTP_10 {
        has_token("keep-alive")
    } else {
        !has_token("close")
    };
    persistent && !ambiguous
}

/// The whole body, at most [`MAX_BODY`] bytes.
async fn read_all(body: &mut BodyReader<'_>) -> Result<Vec<u8>, TransportError> {
    let mut all = Vec::new();
    while let Some(part) = body.next().await? {
        if all.len() + part.len() > MAX_BODY {
            return Err(io_err(
                "reading the body",
                format!("the answer is larger than {MAX_BODY} bytes"),
            ));
        }
        all.extend_from_slice(&part);
    }
    Ok(all)
}

impl AsyncTransport for SmolTransport {
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(with_timeout(
            self.inner.timeout,
            "the request",
            async move {
                let (origin, mut conn, head) = self.start(&req).await?;
                let mut body = BodyReader::new(&mut conn, req.method(), &head)?;
                let bytes = read_all(&mut body).await?;
                let done = body.reusable();
                self.finish(origin, conn, &head, done);
                Ok(http::Response::from_parts(head, bytes))
            },
        ))
    }

    fn download<'a>(
        &'a self,
        url: &'a str,
        out: &'a mut (dyn AsyncWrite + Unpin + Send),
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let mut url = url.to_string();
            for _ in 0..5 {
                let req = http::Request::get(url.as_str())
                    .body(Vec::new())
                    .map_err(|e| Error::Config(format!("invalid download URL: {e}")))?;
                // The timeout covers the answer's head, redirect and error bodies, and each
                // wait for more of the file: the file itself may take longer, but a stalled
                // one ends.
                let t = self.inner.timeout;
                let (origin, mut conn, head) =
                    with_timeout(t, "the download's answer", self.start(&req)).await?;
                let mut body = BodyReader::new(&mut conn, req.method(), &head)?;
                if let Some(next) = redirect_target(head.status, &head.headers) {
                    with_timeout(t, "the redirect's body", read_all(&mut body)).await?;
                    let done = body.reusable();
                    self.finish(origin, conn, &head, done);
                    url = next;
                    continue;
                }
                if head.status.as_u16() >= 400 {
                    let bytes = with_timeout(t, "the error body", read_all(&mut body)).await?;
                    return check_status(&http::Response::from_parts(head, bytes)).map(|_| 0);
                }
                let mut total = 0u64;
                while let Some(part) =
                    with_timeout(t, "waiting for more of the download", body.next()).await?
                {
                    out.write_all(&part).await.map_err(write_err)?;
                    total += part.len() as u64;
                }
                out.flush().await.map_err(write_err)?;
                let done = body.reusable();
                self.finish(origin, conn, &head, done);
                return Ok(total);
            }
            Err(too_many_redirects())
        })
    }
}

// ------------------------------------------------------------------------ the client

/// Settings for an [`AsyncClient`].
pub struct AsyncClientBuilder {
    api_key: String,
    base_url: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retry: RetryPolicy,
    transport: Option<Arc<dyn AsyncTransport>>,
}

impl std::fmt::Debug for AsyncClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl AsyncClientBuilder {
    /// Overrides the base URL (default `https://api.frejun.ai/api/v1`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Adds a header to every request (it overrides `Content-Type`, `Accept` or
    /// `User-Agent`; `x-api-key` always comes from the key).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The timeout of one attempt (default 10 s). Ignored with a custom transport.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]; [`RetryPolicy::none`] turns
    /// retries off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Uses your own HTTP client.
    pub fn transport(mut self, transport: impl AsyncTransport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Builds the client; an empty key, a bad base URL or a bad header is an
    /// [`Error::Config`].
    pub fn build(self) -> Result<AsyncClient, Error> {
        let mut cfg = RestConfig::new(self.api_key)?;
        if let Some(url) = self.base_url {
            cfg = cfg.with_base_url(url)?;
        }
        for (n, v) in &self.headers {
            cfg = cfg.with_header(n, v)?;
        }
        let transport = self
            .transport
            .unwrap_or_else(|| Arc::new(SmolTransport::new(self.timeout)));
        Ok(AsyncClient {
            inner: Arc::new(Inner {
                cfg,
                retry: self.retry,
                transport,
            }),
        })
    }
}

struct Inner {
    cfg: RestConfig,
    retry: RetryPolicy,
    transport: Arc<dyn AsyncTransport>,
}

/// The smol Teler REST client. Cheap to clone (one shared connection pool).
///
/// Namespaces follow the Python SDK 1.0: `client.voice().calls().create(…)`,
/// `client.voice().apps()`, `client.voice().mutations()`, `client.voice().operations()`,
/// `client.virtual_numbers()`, `client.sip().trunks()`, `client.sip().calls()`,
/// `client.sip().ip_acls()`, `client.secrets()`, `client.events()`,
/// `client.recordings()`; and the seed's shortcut `client.calls().create(…)`.
#[derive(Clone)]
pub struct AsyncClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClient")
            .field("cfg", &self.inner.cfg)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: the clock and a counter still make keys unique in this process.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = ((t ^ c.rotate_left(32)) >> ((i % 8) * 8)) as u8 ^ (i as u8);
        }
    }
    b
}

impl AsyncClient {
    /// A client for the production API with the default settings.
    pub fn new(api_key: impl Into<String>) -> Result<AsyncClient, Error> {
        Self::builder(api_key).build()
    }

    /// Settings, starting from the defaults.
    pub fn builder(api_key: impl Into<String>) -> AsyncClientBuilder {
        AsyncClientBuilder {
            api_key: api_key.into(),
            base_url: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            transport: None,
        }
    }

    /// The configuration in use (the key is redacted in its `Debug`).
    pub fn config(&self) -> &RestConfig {
        &self.inner.cfg
    }

    /// Sends any request value, with retries, and reads its typed answer.
    pub async fn send<R: TelerRequest>(&self, mut req: R) -> Result<R::Response, Error> {
        ensure_idempotency_key(&mut req, || uuid_v4(random_bytes()));
        let http_req = req.to_http(&self.inner.cfg)?;
        let mut state = RetryState::new(self.inner.retry.clone(), is_replay_safe(&http_req));
        let start = Instant::now();
        loop {
            let result = self.inner.transport.send(clone_request(&http_req)).await;
            let jitter = jitter_from_bits(u64::from_le_bytes(random_bytes()));
            let outcome = match &result {
                Ok(resp) => Outcome::Status {
                    status: resp.status().as_u16(),
                    headers: resp.headers(),
                },
                Err(e) => Outcome::Transport(e),
            };
            match state.on_outcome(start.elapsed(), SystemTime::now(), jitter, outcome) {
                RetryDecision::RetryAfter(wait) => {
                    async_io::Timer::after(wait).await;
                }
                RetryDecision::Stop => {
                    return match result {
                        Ok(resp) => req.parse(resp),
                        Err(e) => Err(Error::from_transport(e)),
                    };
                }
            }
        }
    }

    /// Walks every page of a list as a stream of items; it ends after the first error.
    pub fn paginate<R>(&self, first: R) -> impl Stream<Item = Result<R::Item, Error>> + Send + '_
    where
        R: PagedRequest + Send + Sync + 'static,
        R::Item: Send,
    {
        struct St<'c, R: PagedRequest> {
            client: &'c AsyncClient,
            pager: Paginator<R>,
            buffer: std::vec::IntoIter<R::Item>,
            failed: bool,
        }
        let st = St {
            client: self,
            pager: Paginator::new(first),
            buffer: Vec::new().into_iter(),
            failed: false,
        };
        futures_lite::stream::unfold(st, |mut st| async move {
            loop {
                if let Some(item) = st.buffer.next() {
                    return Some((Ok(item), st));
                }
                if st.failed {
                    return None;
                }
                let req = st.pager.next_request()?;
                match st.client.send(req.clone()).await {
                    Ok(page) => {
                        st.pager.handle_page(&req, &page);
                        st.buffer = page.data.into_iter();
                    }
                    Err(e) => {
                        st.failed = true;
                        return Some((Err(e), st));
                    }
                }
            }
        })
        .boxed()
    }

    /// Follows a recording's signed URL and streams the file into `out` (no API key is sent
    /// to the storage host); returns the bytes written.
    pub async fn download_recording<W>(&self, rec: &RecordingUrl, out: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        self.inner.transport.download(&rec.url, out).await
    }
}

teler_core::__teler_rest_namespaces!(AsyncClient, async, await);
