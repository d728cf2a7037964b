//! The tokio REST client: [`AsyncClient`], over hyper 1 (hyper-util's pooled client, rustls
//! with ring and webpki roots) by default, or any [`AsyncTransport`].
//!
//! Everything about Teler (request building, validation, answers, errors, the retry
//! decision, pagination) lives in [`teler_core::rest`], re-exported here; this module only
//! moves bytes, sleeps between retries and reads the clock.
//!
//! ```no_run
//! use teler_tokio::rest::{AsyncClient, Error};
//!
//! # async fn run() -> Result<(), Error> {
//! let client = AsyncClient::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
//! match client
//!     .calls()
//!     .create(
//!         "+918000000000",
//!         "+919000000000",
//!         "https://example.com/flow",
//!         "https://example.com/status",
//!         true,
//!     )
//!     .await
//! {
//!     Ok(call) => println!("placed {}", call.id),
//!     Err(Error::Validation(e)) => eprintln!("fix the parameter: {e}"),
//!     Err(Error::Unauthorized(e)) => eprintln!("check the API key: {}", e.message),
//!     Err(e @ (Error::Network(_) | Error::Timeout(_))) => eprintln!("no answer: {e}"),
//!     Err(e) => eprintln!("Teler refused: {e}"),
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::Stream;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use teler_core::rest::retry::{Outcome, is_replay_safe, jitter_from_bits};
pub use teler_core::rest::*;

/// The default timeout of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
    /// through [`AsyncTransport::send`]; the hyper transport streams it.
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

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// The default transport: hyper-util's pooled client (keep-alive) with rustls (ring,
/// webpki roots); redirects are not followed.
#[derive(Clone)]
pub struct HyperTransport {
    client: HyperClient<Https, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport whose every exchange ends after `timeout` (connect, send, read the body).
    ///
    /// TLS uses rustls with the `ring` provider, chosen explicitly (so it works even when
    /// another crate in the build enables a second rustls provider) and webpki roots.
    pub fn new(timeout: Duration) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth();
        Self::with_tls_config(timeout, config)
    }

    /// Like [`HyperTransport::new`], with your own TLS settings (e.g. extra root
    /// certificates for a proxy).
    pub fn with_tls_config(timeout: Duration, config: rustls::ClientConfig) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = HyperClient::builder(TokioExecutor::new()).build(https);
        HyperTransport { client, timeout }
    }

    async fn exchange(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<hyper::body::Incoming>, TransportError> {
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        self.client.request(req).await.map_err(map_hyper_util)
    }
}

fn map_hyper_util(e: hyper_util::client::legacy::Error) -> TransportError {
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Io
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError::new(kind, message)
}

/// Largest response body read into memory (API answers; downloads stream instead), as in
/// the blocking client.
const MAX_BODY: usize = 64 * 1024 * 1024;

fn timed_out(what: &str, d: Duration) -> TransportError {
    TransportError::new(
        TransportErrorKind::Timeout,
        format!("{what} took longer than {d:?}"),
    )
}

impl AsyncTransport for HyperTransport {
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            let work = async {
                let resp = self.exchange(req).await?;
                let (parts, body) = resp.into_parts();
                let bytes = http_body_util::Limited::new(body, MAX_BODY)
                    .collect()
                    .await
                    .map_err(|e| {
                        TransportError::new(
                            TransportErrorKind::Io,
                            format!("reading the body: {e}"),
                        )
                    })?;
                Ok(http::Response::from_parts(parts, bytes.to_bytes().to_vec()))
            };
            tokio::time::timeout(self.timeout, work)
                .await
                .map_err(|_| timed_out("the request", self.timeout))?
        })
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
                let resp = tokio::time::timeout(self.timeout, self.exchange(req))
                    .await
                    .map_err(|_| timed_out("the download's answer", self.timeout))??;
                if let Some(next) = redirect_target(resp.status(), resp.headers()) {
                    url = next;
                    continue;
                }
                let (parts, mut body) = resp.into_parts();
                if parts.status.as_u16() >= 400 {
                    let limited = http_body_util::Limited::new(body, MAX_BODY);
                    let bytes = tokio::time::timeout(self.timeout, limited.collect())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .map(|b| b.to_bytes().to_vec());
                    let resp = http::Response::from_parts(parts, bytes.unwrap_or_default());
                    return check_status(&resp).map(|_| 0);
                }
                let mut total = 0u64;
                // Each wait for more of the file is bounded by the timeout: the file may take
                // longer in all, but a stalled one ends.
                let stalled = || timed_out("waiting for more of the download", self.timeout);
                while let Some(frame) = tokio::time::timeout(self.timeout, body.frame())
                    .await
                    .map_err(|_| Error::Timeout(stalled()))?
                {
                    let frame = frame.map_err(|e| {
                        Error::Network(TransportError::new(TransportErrorKind::Io, e.to_string()))
                    })?;
                    if let Ok(data) = frame.into_data() {
                        out.write_all(&data).await.map_err(write_err)?;
                        total += data.len() as u64;
                    }
                }
                out.flush().await.map_err(write_err)?;
                return Ok(total);
            }
            Err(too_many_redirects())
        })
    }
}

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
    /// [`Error::Config`]. Needs no runtime until the first request.
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
            .unwrap_or_else(|| Arc::new(HyperTransport::new(self.timeout)));
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

/// The tokio Teler REST client. Cheap to clone (one shared connection pool).
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
                RetryDecision::RetryAfter(wait) => tokio::time::sleep(wait).await,
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
        futures_util::stream::unfold(st, |mut st| async move {
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
