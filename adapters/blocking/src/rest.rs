//! The blocking REST client: [`Client`], over ureq 3 by default or any [`Transport`].
//!
//! Everything about Teler (request building, validation, answers, errors, the retry
//! decision, pagination) lives in [`teler_core::rest`], re-exported here; this module only
//! moves bytes, sleeps between retries and reads the clock.
//!
//! ```no_run
//! use teler_blocking::rest::{Client, Error};
//!
//! let client = Client::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
//! match client.calls().create(
//!     "+918000000000",
//!     "+919000000000",
//!     "https://example.com/flow",
//!     "https://example.com/status",
//!     true,
//! ) {
//!     Ok(call) => println!("placed {}", call.id),
//!     Err(Error::Validation(e)) => eprintln!("fix the parameter: {e}"),
//!     Err(Error::Unauthorized(e)) => eprintln!("check the API key: {}", e.message),
//!     Err(e @ (Error::Network(_) | Error::Timeout(_))) => eprintln!("no answer: {e}"),
//!     Err(e) => eprintln!("Teler refused: {e}"),
//! }
//! # Ok::<(), Error>(())
//! ```
//!
//! What the client does under faults (timeouts, retries, redirects, body limits, pagination)
//! is stated in the repository's `docs/REST.md`, the same for every client.
#![deny(missing_docs)]

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use teler_core::agents::VendorRequest;
use teler_core::rest::recordings::{
    MAX_DOWNLOAD_REDIRECTS, redirect_location, too_many_redirects, write_error,
};
use teler_core::rest::retry::{Outcome, is_replay_safe, jitter_from_bits};
pub use teler_core::rest::*;
use teler_io::random_bytes;

/// Moves one HTTP exchange. Implement it to bring your own HTTP client.
///
/// `send` must not follow redirects (a recording's answer is a redirect to read) and must
/// return answers of every status, errors included, with their bodies.
pub trait Transport: Send + Sync {
    /// Sends `req` and reads the whole answer.
    fn send(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError>;

    /// Fetches `url` (a signed recording URL: no API key is sent), following redirects, and
    /// writes the body to `out`; returns the bytes written. The default reads the whole body
    /// through [`Transport::send`] first; the ureq transport streams it.
    fn download(&self, url: &str, out: &mut dyn Write) -> Result<u64, Error> {
        let mut url = url.to_string();
        for _ in 0..MAX_DOWNLOAD_REDIRECTS {
            let req = http::Request::get(url.as_str())
                .body(Vec::new())
                .map_err(|e| Error::Config(format!("invalid download URL: {e}")))?;
            let resp = self.send(req)?;
            if let Some(next) = redirect_location(&url, resp.status(), resp.headers()) {
                url = next;
                continue;
            }
            check_status(&resp)?;
            out.write_all(resp.body()).map_err(write_error)?;
            return Ok(resp.body().len() as u64);
        }
        Err(too_many_redirects())
    }
}

/// The default transport: one pooled ureq 3 agent (keep-alive), rustls with ring and
/// webpki roots, redirects not followed, error statuses returned with their bodies.
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
    timeout: Duration,
    max_response_size: usize,
    download_limit: Duration,
}

impl UreqTransport {
    /// A transport whose every attempt ends after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self::with_tls_config(timeout, ureq::tls::TlsConfig::default())
    }

    /// Like [`UreqTransport::new`], with your own TLS settings (e.g. extra root
    /// certificates for a proxy).
    pub fn with_tls_config(timeout: Duration, tls: ureq::tls::TlsConfig) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent(USER_AGENT)
            .tls_config(tls)
            .build();
        UreqTransport {
            agent: config.into(),
            timeout,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            download_limit: DEFAULT_DOWNLOAD_LIMIT,
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

    /// The agent in use.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }
}

fn map_ureq(e: ureq::Error) -> TransportError {
    use ureq::Error as U;
    let kind = match &e {
        U::Timeout(_) => TransportErrorKind::Timeout,
        U::BodyExceedsLimit(_) => TransportErrorKind::TooLarge,
        U::HostNotFound | U::ConnectionFailed => TransportErrorKind::Connect,
        // A failed TLS handshake (e.g. an untrusted certificate): nothing was sent.
        U::Io(io) if io.get_ref().is_some_and(is_handshake_error) => TransportErrorKind::Connect,
        U::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable => {
                TransportErrorKind::Connect
            }
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                TransportErrorKind::Timeout
            }
            _ => TransportErrorKind::Io,
        },
        U::Tls(_) | U::Rustls(_) => TransportErrorKind::Connect,
        U::BadUri(_) | U::Http(_) => TransportErrorKind::Other,
        _ => TransportErrorKind::Io,
    };
    TransportError::new(kind, e.to_string())
}

/// An error reading a body: ureq's own (a timeout, a limit) when it is one inside.
fn map_read_error(e: std::io::Error) -> TransportError {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            TransportErrorKind::Timeout
        }
        _ => TransportErrorKind::Io,
    };
    let text = e.to_string();
    match e.into_inner().map(|inner| inner.downcast::<ureq::Error>()) {
        Some(Ok(ureq_error)) => map_ureq(*ureq_error),
        _ => TransportError::new(kind, text),
    }
}

fn is_handshake_error(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        e.downcast_ref::<rustls::Error>(),
        Some(
            rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::PeerIncompatible(_)
                | rustls::Error::InappropriateHandshakeMessage { .. }
        )
    )
}

impl Transport for UreqTransport {
    fn send(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError> {
        let (parts, body) = req.into_parts();
        let sends_body = !body.is_empty()
            || !matches!(
                parts.method,
                http::Method::GET | http::Method::HEAD | http::Method::DELETE
            );
        let resp = if sends_body {
            self.agent.run(http::Request::from_parts(parts, body))
        } else {
            self.agent.run(http::Request::from_parts(parts, ()))
        }
        .map_err(map_ureq)?;
        let (parts, mut body) = resp.into_parts();
        let bytes = body
            .with_config()
            .limit(self.max_response_size as u64)
            .read_to_vec()
            .map_err(map_ureq)?;
        Ok(http::Response::from_parts(parts, bytes))
    }

    fn download(&self, url: &str, out: &mut dyn Write) -> Result<u64, Error> {
        use ureq::RequestExt;
        let req = http::Request::get(url)
            .body(())
            .map_err(|e| Error::Config(format!("invalid download URL: {e}")))?;
        let resp = req
            .with_agent(&self.agent)
            .configure()
            .max_redirects(MAX_DOWNLOAD_REDIRECTS as u32)
            // Connecting, each answer's head and each wait for more of the file are bounded
            // by the client's timeout; the whole download by its limit.
            .timeout_global(Some(self.download_limit))
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .timeout_per_read(Some(self.timeout))
            .build()
            .run()
            .map_err(|e| Error::from_transport(map_ureq(e)))?;
        let (parts, mut body) = resp.into_parts();
        if parts.status.as_u16() >= 400 {
            let bytes = body.read_to_vec().unwrap_or_default();
            return check_status(&http::Response::from_parts(parts, bytes)).map(|_| 0);
        }
        let mut reader = body.as_reader();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from_transport(map_read_error(e))),
            };
            out.write_all(&buf[..n]).map_err(write_error)?;
            total += n as u64;
        }
        Ok(total)
    }
}

/// Settings for a [`Client`].
pub struct ClientBuilder {
    api_key: String,
    base_url: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    max_response_size: usize,
    download_limit: Duration,
    retry: RetryPolicy,
    transport: Option<Arc<dyn Transport>>,
}

impl std::fmt::Debug for dyn Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Transport")
    }
}

impl std::fmt::Debug for ClientBuilder {
    /// The key and the extra headers' values are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("max_response_size", &self.max_response_size)
            .field("download_limit", &self.download_limit)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
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
    pub fn transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Builds the client; an empty key, a bad base URL or a bad header is an
    /// [`Error::Config`].
    pub fn build(self) -> Result<Client, Error> {
        let mut cfg = RestConfig::new(self.api_key)?;
        if let Some(url) = self.base_url {
            cfg = cfg.with_base_url(url)?;
        }
        for (n, v) in &self.headers {
            cfg = cfg.with_header(n, v)?;
        }
        let transport = self.transport.unwrap_or_else(|| {
            Arc::new(
                UreqTransport::new(self.timeout)
                    .max_response_size(self.max_response_size)
                    .download_limit(self.download_limit),
            )
        });
        Ok(Client {
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
    transport: Arc<dyn Transport>,
}

/// The blocking Teler REST client. Cheap to clone (one shared connection pool).
///
/// Namespaces follow the Python SDK 1.0: `client.voice().calls().create(…)`,
/// `client.voice().apps()`, `client.voice().mutations()`, `client.voice().operations()`,
/// `client.virtual_numbers()`, `client.sip().trunks()`, `client.sip().calls()`,
/// `client.sip().ip_acls()`, `client.secrets()`, `client.events()`,
/// `client.recordings()`; and the seed's shortcut `client.calls().create(…)`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("cfg", &self.inner.cfg)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the production API with the default settings.
    pub fn new(api_key: impl Into<String>) -> Result<Client, Error> {
        Self::builder(api_key).build()
    }

    /// Settings, starting from the defaults.
    pub fn builder(api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            api_key: api_key.into(),
            base_url: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            download_limit: DEFAULT_DOWNLOAD_LIMIT,
            retry: RetryPolicy::default(),
            transport: None,
        }
    }

    /// The configuration in use (the key is redacted in its `Debug`).
    pub fn config(&self) -> &RestConfig {
        &self.inner.cfg
    }

    /// Sends any request value, with retries, and reads its typed answer.
    pub fn send<R: TelerRequest>(&self, mut req: R) -> Result<R::Response, Error> {
        ensure_idempotency_key(&mut req, || uuid_v4(random_bytes()));
        let http_req = req.to_http(&self.inner.cfg)?;
        match self.exchange(http_req) {
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
    /// ```no_run
    /// use teler_blocking::agents::ultravox;
    /// use teler_blocking::rest::Client;
    ///
    /// let client = Client::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
    /// let config = ultravox::Config::default();
    /// let join_url = client.vendor(ultravox::CreateCall::new("uv-key", &config)?)?;
    /// # let _ = join_url;
    /// # Ok::<(), teler_blocking::rest::Error>(())
    /// ```
    ///
    /// # Errors
    /// The vendor request's own: [`Error::Config`] for a value it cannot send, the typed API
    /// error for a status >= 400 (with the vendor's `message` or `detail`),
    /// [`Error::Decode`] for an answer without the socket URL; and the transport's
    /// ([`Error::Network`], [`Error::Timeout`], [`Error::TooLarge`]).
    pub fn vendor<R: VendorRequest>(&self, req: R) -> Result<R::Response, Error> {
        let http_req = req.to_http()?;
        match self.exchange(http_req) {
            Ok(resp) => req.parse(resp),
            Err(e) => Err(Error::from_transport(e)),
        }
    }

    /// Sends `http_req` with the retry policy; the last answer or transport error.
    fn exchange(
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
            let result = self.inner.transport.send(clone_request(&http_req));
            let status = result.as_ref().ok().map(|r| r.status().as_u16());
            let error = result.as_ref().err().map(|e| e as &dyn std::fmt::Display);
            obs.attempt(status, error);
            let jitter = jitter_from_bits(u64::from_le_bytes(random_bytes()));
            let decision = match &result {
                Ok(resp) => state.on_outcome(
                    start.elapsed(),
                    SystemTime::now(),
                    jitter,
                    Outcome::Status {
                        status: resp.status().as_u16(),
                        headers: resp.headers(),
                    },
                ),
                Err(e) => state.on_outcome(
                    start.elapsed(),
                    SystemTime::now(),
                    jitter,
                    Outcome::Transport(e),
                ),
            };
            match decision {
                RetryDecision::RetryAfter(wait) => std::thread::sleep(wait),
                RetryDecision::Stop => {
                    obs.finish(status, Instant::now());
                    return result;
                }
            }
        }
    }

    /// Walks every page of a list, yielding items; stops after the first error.
    pub fn paginate<R: PagedRequest>(&self, first: R) -> Items<'_, R> {
        Items {
            client: self,
            pager: Paginator::new(first),
            buffer: Vec::new().into_iter(),
            cut_short: None,
            failed: false,
        }
    }

    /// Follows a recording's signed URL and streams the file to `out` (no API key is sent
    /// to the storage host); returns the bytes written.
    pub fn download_recording(
        &self,
        rec: &RecordingUrl,
        out: &mut impl Write,
    ) -> Result<u64, Error> {
        self.inner.transport.download(&rec.url, out)
    }
}

teler_core::__teler_rest_namespaces!(Client, , );

/// The items of every page of a list, fetched lazily ([`Client::paginate`]).
pub struct Items<'c, R: PagedRequest> {
    client: &'c Client,
    pager: Paginator<R>,
    buffer: std::vec::IntoIter<R::Item>,
    cut_short: Option<Error>,
    failed: bool,
}

impl<R: PagedRequest> std::fmt::Debug for Items<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("buffered", &self.buffer.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<R: PagedRequest> Iterator for Items<'_, R> {
    type Item = Result<R::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.buffer.next() {
                return Some(Ok(item));
            }
            if self.failed {
                return None;
            }
            if let Some(e) = self.cut_short.take() {
                self.failed = true;
                return Some(Err(e));
            }
            let req = self.pager.next_request()?;
            match self.client.send(req.clone()) {
                Ok(page) => {
                    self.cut_short = self.pager.handle_page(&req, &page).err();
                    self.buffer = page.data.into_iter();
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
