//! The async REST client, on any [`Runtime`]: [`AsyncClient`], over hyper 1 by default
//! ([`HyperTransport`]: pooled keep-alive HTTP/1.1 connections, rustls with ring and webpki
//! roots) or any [`AsyncTransport`].
//!
//! Everything about Teler (request building, validation, answers, errors, the retry
//! decision, pagination) lives in [`teler_core::rest`], re-exported here; this module only
//! moves bytes, sleeps between retries and reads the clock. `teler_tokio::rest` and
//! `teler_smol::rest` re-export it with the runtime filled in.
//!
//! No tokio runtime is needed: hyper 1 uses only tokio's `sync` primitives, the sockets and
//! timers come from the [`Runtime`], and each connection's task is started with
//! [`Runtime::spawn`].
//!
//! What the client does under faults (timeouts, retries, redirects, body limits, pagination)
//! is stated in the repository's `docs/REST.md`, the same for every client.
#![deny(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;

pub use teler_core::agents::VendorRequest;
use teler_core::rest::recordings::{
    MAX_DOWNLOAD_REDIRECTS, redirect_location, too_many_redirects, write_error,
};
use teler_core::rest::retry::{Outcome, is_replay_safe, jitter_from_bits};
pub use teler_core::rest::*;
use teler_io::random_bytes;

use crate::Runtime;

/// Idle connections kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 8;

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a recording download writes: the runtime's `AsyncWrite`, behind an object-safe
/// face so that [`AsyncTransport`] stays one trait for every runtime.
pub trait DownloadSink: Send {
    /// Writes all of `buf`.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> BoxFuture<'a, io::Result<()>>;
    /// Flushes what was written.
    fn flush(&mut self) -> BoxFuture<'_, io::Result<()>>;
}

/// A [`DownloadSink`] over the runtime's writer.
struct RtSink<'w, Rt: Runtime>(&'w mut Rt::Writer);

impl<Rt: Runtime> DownloadSink for RtSink<'_, Rt> {
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(Rt::write_all(self.0, buf))
    }

    fn flush(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(Rt::flush(self.0))
    }
}

/// Moves one HTTP exchange. Implement it to bring your own async HTTP client.
///
/// `send` must not follow redirects and must return answers of every status with their
/// bodies. Timeouts are applied around it by the client.
pub trait AsyncTransport: Send + Sync {
    /// Sends `req` and reads the whole answer.
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>>;

    /// Fetches `url` (a signed recording URL: no API key is sent), following redirects, and
    /// writes the body to `out`; returns the bytes written. The default reads the whole body
    /// through [`AsyncTransport::send`]; [`HyperTransport`] streams it.
    fn download<'a>(
        &'a self,
        url: &'a str,
        out: &'a mut dyn DownloadSink,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        Box::pin(async move {
            let mut url = url.to_string();
            for _ in 0..MAX_DOWNLOAD_REDIRECTS {
                let req = get_request(&url)?;
                let resp = self.send(req).await?;
                if let Some(next) = redirect_location(&url, resp.status(), resp.headers()) {
                    url = next;
                    continue;
                }
                check_status(&resp)?;
                out.write(resp.body()).await.map_err(write_error)?;
                out.flush().await.map_err(write_error)?;
                return Ok(resp.body().len() as u64);
            }
            Err(too_many_redirects())
        })
    }
}

fn get_request(url: &str) -> Result<http::Request<Vec<u8>>, Error> {
    http::Request::get(url)
        .body(Vec::new())
        .map_err(|e| Error::Config(format!("invalid download URL: {e}")))
}

fn timed_out(what: &str, d: Duration) -> TransportError {
    TransportError::new(
        TransportErrorKind::Timeout,
        format!("{what} took longer than {d:?}"),
    )
}

fn io_err(what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::new(TransportErrorKind::Io, format!("{what}: {e}"))
}

/// Runs `fut` for at most `limit`, as a [`TransportError`] of kind `Timeout` otherwise.
async fn within<Rt: Runtime, T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, TransportError> {
    crate::timeout::<Rt, _>(limit, fut)
        .await
        .unwrap_or_else(|| Err(timed_out(what, limit)))
}

// ------------------------------------------------------------------ the hyper transport

/// Scheme, host and port: connections are pooled per origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
                    format!("unsupported URL scheme {other:?} (http and https only)"),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| TransportError::new(TransportErrorKind::Other, "the URL has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }

    /// The `Host` header's value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.https { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// An idle connection: its request handle, and a probe on its socket.
struct Idle {
    sender: Sender,
    probe: Option<std::net::TcpStream>,
}

impl Idle {
    /// Whether the socket is still quiet and open: a peek that would block. EOF (the server
    /// closed it) or unread bytes (an answer nobody asked for) make it unusable. Without a
    /// probe, the connection task's view is all there is.
    fn quiet(&self) -> bool {
        let Some(probe) = &self.probe else {
            return true;
        };
        let mut byte = [0u8; 1];
        match probe.peek(&mut byte) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }
}

/// The default transport: HTTP/1.1 over hyper 1's client connections (keep-alive, a few
/// idle connections kept per origin), on the runtime's TCP, with rustls (ring, webpki roots)
/// for https. Redirects are not followed. Each connection runs as a task started with
/// [`Runtime::spawn`] and ends when the server closes it or the pool drops it.
pub struct HyperTransport<Rt> {
    timeout: Duration,
    max_response_size: usize,
    download_limit: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Arc<Mutex<HashMap<Origin, Vec<Idle>>>>,
    rt: PhantomData<fn() -> Rt>,
}

impl<Rt> Clone for HyperTransport<Rt> {
    fn clone(&self) -> Self {
        HyperTransport {
            timeout: self.timeout,
            max_response_size: self.max_response_size,
            download_limit: self.download_limit,
            tls: self.tls.clone(),
            idle: self.idle.clone(),
            rt: PhantomData,
        }
    }
}

impl<Rt> std::fmt::Debug for HyperTransport<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("timeout", &self.timeout)
            .field("max_response_size", &self.max_response_size)
            .field("download_limit", &self.download_limit)
            .finish_non_exhaustive()
    }
}

/// A pooled connection lent to one exchange; given back once its answer was read whole.
struct Lease {
    origin: Origin,
    sender: Sender,
    probe: Option<std::net::TcpStream>,
}

impl<Rt: Runtime> HyperTransport<Rt> {
    /// A transport whose every exchange ends after `timeout` (connect, send, read the body).
    ///
    /// TLS uses rustls with the `ring` provider, chosen explicitly (so it works even when
    /// another crate in the build enables a second rustls provider) and webpki roots.
    pub fn new(timeout: Duration) -> Self {
        // `None` only if rustls refused its own defaults: https then fails per request.
        Self::with_tls(timeout, teler_io::default_tls())
    }

    /// Like [`HyperTransport::new`], with your own TLS settings (e.g. extra root
    /// certificates for a proxy).
    pub fn with_tls_config(timeout: Duration, config: rustls::ClientConfig) -> Self {
        Self::with_tls(timeout, Some(Arc::new(config)))
    }

    fn with_tls(timeout: Duration, mut tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        // HTTP/1.1 only: say so in ALPN when the caller did not choose.
        if let Some(tls) = &mut tls
            && tls.alpn_protocols.is_empty()
        {
            Arc::make_mut(tls).alpn_protocols = vec![b"http/1.1".to_vec()];
        }
        HyperTransport {
            timeout,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            download_limit: DEFAULT_DOWNLOAD_LIMIT,
            tls,
            idle: Arc::default(),
            rt: PhantomData,
        }
    }

    /// The largest API answer read into memory (default [`DEFAULT_MAX_RESPONSE_SIZE`]); a
    /// larger one fails as [`Error::TooLarge`] once this many bytes have come.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// The longest a whole recording download may take (default
    /// [`DEFAULT_DOWNLOAD_LIMIT`]); each wait for more of it is bounded by the timeout too.
    pub fn download_limit(mut self, limit: Duration) -> Self {
        self.download_limit = limit;
        self
    }

    /// A live idle connection to `origin`, if the pool has one.
    async fn take_idle(&self, origin: &Origin) -> Option<Idle> {
        // Let connection tasks note a server's close before one is picked.
        Rt::yield_now().await;
        loop {
            let mut conn = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.get_mut(origin)?.pop()?
            };
            if conn.quiet() && !conn.sender.is_closed() && conn.sender.ready().await.is_ok() {
                return Some(conn);
            }
        }
    }

    fn give_back(&self, lease: Lease) {
        if lease.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(lease.origin).or_default();
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle {
                sender: lease.sender,
                probe: lease.probe,
            });
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<Idle, TransportError> {
        use async_tungstenite::stream::Stream as Either;
        let connect_err = |e: String| TransportError::new(TransportErrorKind::Connect, e);
        let tcp = Rt::connect_tcp(&origin.host, origin.port)
            .await
            .map_err(|e| connect_err(format!("cannot connect to {}: {e}", origin.host)))?;
        let probe = Rt::probe(&tcp);
        let io = if origin.https {
            let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
                .map_err(|e| connect_err(format!("bad TLS server name: {e}")))?;
            let config = self
                .tls
                .clone()
                .ok_or_else(|| connect_err("could not set up TLS".into()))?;
            let tls = futures_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                // A failed handshake (e.g. an untrusted certificate): nothing was sent.
                .map_err(|e| connect_err(format!("TLS with {}: {e}", origin.host)))?;
            Either::Tls(tls)
        } else {
            Either::Plain(tcp)
        };
        let (sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(
            smol_hyper::rt::FuturesIo::new(io),
        )
        .await
        .map_err(|e| connect_err(format!("HTTP handshake: {e}")))?;
        Rt::spawn(async move {
            let _ = conn.await;
        });
        Ok(Idle { sender, probe })
    }

    /// Sends `req` on a pooled or new connection; the answer's body is still to be read.
    async fn exchange(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<(http::Response<hyper::body::Incoming>, Lease), TransportError> {
        let origin = Origin::of(req.uri())?;
        let replay_safe = teler_core::rest::retry::is_replay_safe(&req);
        let (mut parts, body) = req.into_parts();
        // HTTP/1.1 wants the path in the request line and the authority in `Host`.
        parts.uri = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/")
            .parse()
            .map_err(|e| io_err("the request's path", e))?;
        if !parts.headers.contains_key(http::header::HOST) {
            let host = http::HeaderValue::from_str(&origin.host_header())
                .map_err(|e| io_err("the request's host", e))?;
            parts.headers.insert(http::header::HOST, host);
        }
        let body = Bytes::from(body);
        let (method, uri, headers) = (
            parts.method.clone(),
            parts.uri.clone(),
            parts.headers.clone(),
        );
        let again = || {
            let mut req = http::Request::new(Full::new(body.clone()));
            *req.method_mut() = method.clone();
            *req.uri_mut() = uri.clone();
            *req.headers_mut() = headers.clone();
            req
        };
        let mut req = http::Request::from_parts(parts, Full::new(body.clone()));
        loop {
            let (Idle { mut sender, probe }, pooled) = match self.take_idle(&origin).await {
                Some(conn) => (conn, true),
                None => (self.connect(&origin).await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    return Ok((
                        resp,
                        Lease {
                            origin,
                            sender,
                            probe,
                        },
                    ));
                }
                Err(mut e) => match e.take_message() {
                    // A pooled connection the server had closed: the request never went
                    // out, so it goes out again on another connection (any method).
                    Some(back) if pooled => req = back,
                    // The server closed a pooled connection just as the request went out
                    // (keep-alive's known race): a replay-safe request is sent again on
                    // a fresh connection; any other may have been acted on.
                    None if pooled && replay_safe && e.error().is_incomplete_message() => {
                        req = again();
                    }
                    back => {
                        let kind = if back.is_some() {
                            TransportErrorKind::Connect
                        } else {
                            TransportErrorKind::Io
                        };
                        return Err(TransportError::new(kind, full_message(e.error())));
                    }
                },
            }
        }
    }

    /// Reads a whole body of at most `max_response_size` bytes (memory stays within the
    /// limit: the body is not copied past it); the connection goes back to the pool when it
    /// was read to its end.
    async fn read_body(
        &self,
        mut body: hyper::body::Incoming,
        lease: Lease,
    ) -> Result<Vec<u8>, TransportError> {
        let limit = self.max_response_size;
        let mut all = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| io_err("reading the body", e))?;
            if let Ok(data) = frame.into_data() {
                if all.len() + data.len() > limit {
                    return Err(TransportError::new(
                        TransportErrorKind::TooLarge,
                        format!("the answer is larger than the limit of {limit} bytes"),
                    ));
                }
                all.extend_from_slice(&data);
            }
        }
        self.give_back(lease);
        Ok(all)
    }
}

/// The next frame of a body (`None` at its end).
async fn next_frame(
    body: &mut hyper::body::Incoming,
) -> Result<Option<hyper::body::Frame<Bytes>>, TransportError> {
    match body.frame().await {
        None => Ok(None),
        Some(Ok(f)) => Ok(Some(f)),
        Some(Err(e)) => Err(io_err("reading the download", e)),
    }
}

/// An error's text with its sources, so "connection refused" is not hidden behind a
/// generic first line.
fn full_message(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

impl<Rt: Runtime> AsyncTransport for HyperTransport<Rt> {
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(within::<Rt, _>(self.timeout, "the request", async move {
            let (resp, lease) = self.exchange(req).await?;
            let (parts, body) = resp.into_parts();
            let bytes = self.read_body(body, lease).await?;
            Ok(http::Response::from_parts(parts, bytes))
        }))
    }

    fn download<'a>(
        &'a self,
        url: &'a str,
        out: &'a mut dyn DownloadSink,
    ) -> BoxFuture<'a, Result<u64, Error>> {
        let whole = self.download_limit;
        Box::pin(async move {
            crate::timeout::<Rt, _>(whole, self.download_inner(url, out))
                .await
                .unwrap_or_else(|| Err(Error::Timeout(timed_out("the whole download", whole))))
        })
    }
}

impl<Rt: Runtime> HyperTransport<Rt> {
    async fn download_inner(&self, url: &str, out: &mut dyn DownloadSink) -> Result<u64, Error> {
        {
            let t = self.timeout;
            let mut url = url.to_string();
            for _ in 0..MAX_DOWNLOAD_REDIRECTS {
                // The timeout covers the answer's head, redirect and error bodies, and each
                // wait for more of the file: the file itself may take longer, but a stalled
                // one ends.
                let req = get_request(&url)?;
                let (resp, lease) =
                    within::<Rt, _>(t, "the download's answer", self.exchange(req)).await?;
                let (parts, mut body) = resp.into_parts();
                if let Some(next) = redirect_location(&url, parts.status, &parts.headers) {
                    within::<Rt, _>(t, "the redirect's body", self.read_body(body, lease)).await?;
                    url = next;
                    continue;
                }
                if parts.status.as_u16() >= 400 {
                    let bytes =
                        within::<Rt, _>(t, "the error body", self.read_body(body, lease)).await?;
                    return check_status(&http::Response::from_parts(parts, bytes)).map(|_| 0);
                }
                let mut total = 0u64;
                while let Some(frame) =
                    within::<Rt, _>(t, "waiting for more of the download", next_frame(&mut body))
                        .await?
                {
                    if let Ok(data) = frame.into_data() {
                        out.write(&data).await.map_err(write_error)?;
                        total += data.len() as u64;
                    }
                }
                out.flush().await.map_err(write_error)?;
                self.give_back(lease);
                return Ok(total);
            }
            Err(too_many_redirects())
        }
    }
}

// ------------------------------------------------------------------------ the client

/// Settings for an [`AsyncClient`].
pub struct AsyncClientBuilder<Rt> {
    api_key: String,
    base_url: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    max_response_size: usize,
    download_limit: Duration,
    retry: RetryPolicy,
    transport: Option<Arc<dyn AsyncTransport>>,
    rt: PhantomData<fn() -> Rt>,
}

impl<Rt> std::fmt::Debug for AsyncClientBuilder<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_response_size", &self.max_response_size)
            .field("download_limit", &self.download_limit)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<Rt: Runtime> AsyncClientBuilder<Rt> {
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

    /// The timeout of one attempt, and of each wait for more of a download (default
    /// [`DEFAULT_TIMEOUT`], 10 s). Ignored with a custom transport.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest API answer read into memory (default [`DEFAULT_MAX_RESPONSE_SIZE`],
    /// 64 MiB). Ignored with a custom transport.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// The longest a whole recording download may take (default [`DEFAULT_DOWNLOAD_LIMIT`],
    /// 30 min). Ignored with a custom transport.
    pub fn download_limit(mut self, limit: Duration) -> Self {
        self.download_limit = limit;
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
    /// [`Error::Config`]. Needs no runtime until the first request.
    pub fn build(self) -> Result<AsyncClient<Rt>, Error> {
        let mut cfg = RestConfig::new(self.api_key)?;
        if let Some(url) = self.base_url {
            cfg = cfg.with_base_url(url)?;
        }
        for (n, v) in &self.headers {
            cfg = cfg.with_header(n, v)?;
        }
        let transport = self.transport.unwrap_or_else(|| {
            Arc::new(
                HyperTransport::<Rt>::new(self.timeout)
                    .max_response_size(self.max_response_size)
                    .download_limit(self.download_limit),
            )
        });
        Ok(AsyncClient {
            inner: Arc::new(Inner {
                cfg,
                retry: self.retry,
                transport,
            }),
            rt: PhantomData,
        })
    }
}

struct Inner {
    cfg: RestConfig,
    retry: RetryPolicy,
    transport: Arc<dyn AsyncTransport>,
}

/// The async Teler REST client. Cheap to clone (one shared connection pool).
///
/// Namespaces follow the Python SDK 1.0: `client.voice().calls().create(…)`,
/// `client.voice().apps()`, `client.voice().mutations()`, `client.voice().operations()`,
/// `client.virtual_numbers()`, `client.sip().trunks()`, `client.sip().calls()`,
/// `client.sip().ip_acls()`, `client.secrets()`, `client.events()`,
/// `client.recordings()`; and the seed's shortcut `client.calls().create(…)`.
pub struct AsyncClient<Rt> {
    inner: Arc<Inner>,
    rt: PhantomData<fn() -> Rt>,
}

impl<Rt> Clone for AsyncClient<Rt> {
    fn clone(&self) -> Self {
        AsyncClient {
            inner: self.inner.clone(),
            rt: PhantomData,
        }
    }
}

impl<Rt> std::fmt::Debug for AsyncClient<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClient")
            .field("cfg", &self.inner.cfg)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl<Rt: Runtime> AsyncClient<Rt> {
    /// A client for the production API with the default settings.
    pub fn new(api_key: impl Into<String>) -> Result<AsyncClient<Rt>, Error> {
        Self::builder(api_key).build()
    }

    /// Settings, starting from the defaults.
    pub fn builder(api_key: impl Into<String>) -> AsyncClientBuilder<Rt> {
        AsyncClientBuilder {
            api_key: api_key.into(),
            base_url: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            download_limit: DEFAULT_DOWNLOAD_LIMIT,
            retry: RetryPolicy::default(),
            transport: None,
            rt: PhantomData,
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
        match self.exchange(http_req).await {
            Ok(resp) => req.parse(resp),
            Err(e) => Err(Error::from_transport(e)),
        }
    }

    /// Sends a voice-agent vendor's pre-socket request ([`VendorRequest`]:
    /// `ultravox::CreateCall`, `vapi::CreateCall`, `elevenlabs::SignedUrl`,
    /// `sarvam::SignedUrl`, `cartesia::AccessToken` in `teler_core::agents`) and reads its
    /// answer: the socket URL to bridge to (Cartesia's: the socket's access token). A bridge
    /// to such a vendor is this call and one `bridge_stream`.
    ///
    /// The request goes through this client's transport (its timeout and answer size limit)
    /// and retry policy (a POST without an `Idempotency-Key` is resent only when it cannot
    /// have arrived), exactly as the vendor request built it: with the vendor's own key, and
    /// neither the Teler key nor this client's extra headers.
    ///
    /// # Errors
    /// The vendor request's own: [`Error::Config`] for a value it cannot send, the typed API
    /// error for a status >= 400 (with the vendor's `message` or `detail`),
    /// [`Error::Decode`] for an answer without the socket URL; and the transport's
    /// ([`Error::Network`], [`Error::Timeout`], [`Error::TooLarge`]).
    pub async fn vendor<R: VendorRequest>(&self, req: R) -> Result<R::Response, Error> {
        let http_req = req.to_http()?;
        match self.exchange(http_req).await {
            Ok(resp) => req.parse(resp),
            Err(e) => Err(Error::from_transport(e)),
        }
    }

    /// Sends `http_req` with the retry policy; the last answer or transport error.
    async fn exchange(
        &self,
        http_req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let mut state = RetryState::new(self.inner.retry.clone(), is_replay_safe(&http_req));
        let start = Instant::now();
        let mut obs = teler_io::observe::RestObserver::new(
            http_req.method().as_str(),
            http_req.uri().path(),
            start,
        );
        loop {
            let result = self.inner.transport.send(clone_request(&http_req)).await;
            let status = result.as_ref().ok().map(|r| r.status().as_u16());
            let error = result.as_ref().err().map(|e| e as &dyn std::fmt::Display);
            obs.attempt(status, error);
            let jitter = jitter_from_bits(u64::from_le_bytes(random_bytes()));
            let outcome = match &result {
                Ok(resp) => Outcome::Status {
                    status: resp.status().as_u16(),
                    headers: resp.headers(),
                },
                Err(e) => Outcome::Transport(e),
            };
            match state.on_outcome(start.elapsed(), SystemTime::now(), jitter, outcome) {
                RetryDecision::RetryAfter(wait) => Rt::sleep(wait).await,
                RetryDecision::Stop => {
                    obs.finish(status, Instant::now());
                    return result;
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
        struct St<'c, R: PagedRequest, Rt> {
            client: &'c AsyncClient<Rt>,
            pager: Paginator<R>,
            buffer: std::vec::IntoIter<R::Item>,
            cut_short: Option<Error>,
            failed: bool,
        }
        let st = St {
            client: self,
            pager: Paginator::new(first),
            buffer: Vec::new().into_iter(),
            cut_short: None,
            failed: false,
        };
        futures_util::stream::unfold(st, |mut st| async move {
            loop {
                if let Some(item) = st.buffer.next() {
                    return Some((Ok(item), st));
                }
                if st.failed {
                    return None;
                }
                if let Some(e) = st.cut_short.take() {
                    st.failed = true;
                    return Some((Err(e), st));
                }
                let req = st.pager.next_request()?;
                match st.client.send(req.clone()).await {
                    Ok(page) => {
                        st.cut_short = st.pager.handle_page(&req, &page).err();
                        st.buffer = page.data.into_iter();
                    }
                    Err(e) => {
                        st.failed = true;
                        return Some((Err(e), st));
                    }
                }
            }
        })
    }

    /// Follows a recording's signed URL and streams the file into `out`, the runtime's
    /// `AsyncWrite` (no API key is sent to the storage host); returns the bytes written.
    pub async fn download_recording(
        &self,
        rec: &RecordingUrl,
        out: &mut Rt::Writer,
    ) -> Result<u64, Error> {
        let mut sink = RtSink::<Rt>(out);
        self.inner.transport.download(&rec.url, &mut sink).await
    }
}

teler_core::__teler_rest_namespaces!(AsyncClient<Rt: Runtime>, async, await);
