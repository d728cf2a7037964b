//! Teler's REST API (see `docs/PROTOCOL.md`, section "REST API"), sans-IO.
//!
//! Every endpoint is a value (e.g. [`voice::ListCalls`]) implementing [`TelerRequest`]: it
//! validates itself and becomes an [`http::Request<Vec<u8>>`], and it reads the
//! [`http::Response<Vec<u8>>`] into its typed answer or a typed [`Error`]. The blocking and
//! async clients in the adapter crates share all of it, plus the paginator ([`page`]) and
//! the one retry decision ([`retry`]). No I/O, no clock and no randomness live here: the
//! clients pass in "now" and random numbers.
//!
//! ```
//! use teler_core::rest::{RestConfig, TelerRequest, voice::CreateCall};
//!
//! let cfg = RestConfig::new("my-api-key")?;
//! let req = CreateCall::new("+918000000000", "+919000000000",
//!     "https://example.com/flow", "https://example.com/status");
//! let http_req = req.to_http(&cfg)?;
//! assert_eq!(http_req.uri(), "https://api.frejun.ai/api/v1/voice/calls/initiate");
//! assert_eq!(http_req.headers()["x-api-key"], "my-api-key");
//!
//! let answer = http::Response::builder().status(201)
//!     .body(br#"{"message":"ok","data":{"id":"cs_1","record":true}}"#.to_vec())?;
//! let call = req.parse(answer)?;
//! assert_eq!(call.id, "cs_1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

mod error;
#[macro_use]
mod macros;
pub mod events;
pub mod model;
mod namespaces;
pub mod numbers;
pub mod page;
pub mod recordings;
pub mod retry;
pub mod secrets;
// For the `by_id!` expansion of `RetrieveSecret` (it names `$crate::rest::$parse`).
use secrets::parse_secret;
pub mod sip;
pub mod validate;
pub mod voice;

pub use error::{ApiError, Error, FieldError, TransportError, TransportErrorKind, ValidationError};
pub use model::*;
pub use page::{Page, PagedRequest, Paginator};
pub use retry::{RetryAfter, RetryDecision, RetryPolicy, RetryState};

/// The production API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.frejun.ai/api/v1";

/// The `User-Agent` every request carries: `teler-rs/<version>`.
pub const USER_AGENT: &str = concat!("teler-rs/", env!("CARGO_PKG_VERSION"));

/// The longest `Idempotency-Key` the API accepts.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// The clients' default time for one attempt of an API request (connect, send, answer),
/// and for each wait for more of a recording download. `docs/REST.md` has the whole contract.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The clients' default limit on an API answer's body, read into memory: 64 MiB. A larger
/// answer fails as [`Error::TooLarge`] after at most this many bytes, and is not retried.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 64 * 1024 * 1024;

/// The clients' default limit on a whole recording download: 30 minutes (each wait for more
/// of it is bounded by the attempt timeout as well).
pub const DEFAULT_DOWNLOAD_LIMIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; an empty (or all-blank) key is a [`Error::Config`] error.
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        if key.trim().is_empty() {
            return Err(Error::Config(
                "api_key is required: pass the key from the Teler dashboard".into(),
            ));
        }
        if HeaderValue::from_str(&key).is_err() {
            return Err(Error::Config(
                "api_key contains characters not allowed in an HTTP header".into(),
            ));
        }
        Ok(ApiKey(key))
    }

    /// The key itself, for the `x-api-key` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What every request needs: the key, the base URL and any extra headers.
#[derive(Debug, Clone)]
pub struct RestConfig {
    api_key: ApiKey,
    base_url: String,
    headers: HeaderMap,
}

impl RestConfig {
    /// A configuration for the production API with `api_key`; an empty key is an error.
    pub fn new(api_key: impl Into<String>) -> Result<Self, Error> {
        Ok(RestConfig {
            api_key: ApiKey::new(api_key)?,
            base_url: DEFAULT_BASE_URL.to_string(),
            headers: HeaderMap::new(),
        })
    }

    /// Overrides the base URL (e.g. `http://127.0.0.1:8080/api/v1`); it must be http(s)
    /// and a trailing `/` is dropped.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Result<Self, Error> {
        let url = url.into();
        let trimmed = url.trim().trim_end_matches('/');
        let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
            && trimmed.len() > "https://".len() - 1
            && trimmed.parse::<http::Uri>().is_ok();
        if !ok || trimmed.contains('?') || trimmed.contains('#') {
            return Err(Error::Config(format!(
                "base_url must be an http(s) URL without query or fragment, got {url:?}"
            )));
        }
        self.base_url = trimmed.to_string();
        Ok(self)
    }

    /// Adds a header sent with every request. It overrides the SDK's defaults
    /// (`Content-Type`, `Accept`, `User-Agent`); `x-api-key` always comes from the key.
    ///
    /// Headers that belong to one request or to the connection are refused with
    /// [`Error::Config`]: `Idempotency-Key` (set it per mutation: one key on every request
    /// would make the API answer every call placed with the first call's answer, and would
    /// mark non-idempotent requests safe to retry), and the framing headers `Content-Length`,
    /// `Transfer-Encoding`, `Host`, `Connection`, `TE`, `Upgrade`.
    ///
    /// ```
    /// use teler_core::rest::RestConfig;
    /// assert!(RestConfig::new("key")?.with_header("X-Trace", "on").is_ok());
    /// assert!(RestConfig::new("key")?.with_header("Idempotency-Key", "k1").is_err());
    /// # Ok::<(), teler_core::rest::Error>(())
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
        const PER_REQUEST: [&str; 7] = [
            "idempotency-key",
            "content-length",
            "transfer-encoding",
            "host",
            "connection",
            "te",
            "upgrade",
        ];
        if PER_REQUEST.contains(&name.as_str()) {
            return Err(Error::Config(format!(
                "header {name} cannot be set for every request: it belongs to one request or \
                 to the connection"
            )));
        }
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| Error::Config(format!("invalid value for header {name}")))?;
        // Extra headers may carry credentials of their own: keep them out of `Debug`.
        value.set_sensitive(true);
        if name != "x-api-key" {
            self.headers.insert(name, value);
        }
        Ok(self)
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API key.
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// The extra headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

/// One REST endpoint call: how to become an HTTP request and how to read its answer.
///
/// In the spirit of async-stripe's request trait: the request value carries its answer type,
/// so `client.send(req)` is typed.
pub trait TelerRequest {
    /// The typed answer.
    type Response;

    /// Validates the request and builds the HTTP request, or says which parameter breaks
    /// which rule.
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error>;

    /// Reads the answer: a status >= 400 becomes the typed API error, a body that does not
    /// fit becomes [`Error::Decode`].
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Self::Response, Error>;

    /// For mutations (hangup, mute, dtmf, play, transfer): the slot for the
    /// `Idempotency-Key`. A client fills an empty slot with a fresh UUIDv4 before
    /// [`TelerRequest::to_http`], so every retry reuses the same key. Other requests: `None`.
    fn idempotency_key_slot(&mut self) -> Option<&mut Option<String>> {
        None
    }
}

/// Formats 16 random bytes as a UUIDv4 string (the version and variant bits are set here).
/// The clients get the bytes from the OS; the core never draws randomness itself.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Fills a request's empty idempotency slot with `fresh()` (a mutation without a caller key).
pub fn ensure_idempotency_key<R: TelerRequest + ?Sized>(
    req: &mut R,
    fresh: impl FnOnce() -> String,
) {
    if let Some(slot) = req.idempotency_key_slot()
        && slot.is_none()
    {
        *slot = Some(fresh());
    }
}

/// Copies a request (an `http::Request` is not `Clone`), so each retry sends the same bytes.
pub fn clone_request(req: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut out = http::Request::new(req.body().clone());
    *out.method_mut() = req.method().clone();
    *out.uri_mut() = req.uri().clone();
    *out.version_mut() = req.version();
    *out.headers_mut() = req.headers().clone();
    out
}

// ---------------------------------------------------------------------------------------
// Building requests.

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn encode_component(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// A path segment from a caller's id: non-empty, not `.`/`..`, percent-encoded.
pub(crate) fn id_segment(param: &str, id: &str) -> Result<String, Error> {
    if id.trim().is_empty() {
        return Err(error::invalid(param, "must not be empty"));
    }
    if id == "." || id == ".." {
        return Err(error::invalid(param, format!("{id:?} is not an id")));
    }
    let mut s = String::new();
    encode_component(id, &mut s);
    Ok(s)
}

/// The parts of one request, before headers are added.
pub(crate) struct Parts {
    pub method: http::Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    pub idempotency_key: Option<String>,
}

impl Parts {
    pub fn new(method: http::Method, path: String) -> Self {
        Parts {
            method,
            path,
            query: Vec::new(),
            body: None,
            idempotency_key: None,
        }
    }

    pub fn q(&mut self, key: &'static str, v: Option<impl ToString>) -> &mut Self {
        if let Some(v) = v {
            self.query.push((key, v.to_string()));
        }
        self
    }

    pub fn q_all<T: ToString>(&mut self, key: &'static str, vs: &[T]) -> &mut Self {
        for v in vs {
            self.query.push((key, v.to_string()));
        }
        self
    }

    pub fn json(&mut self, body: &impl serde::Serialize) -> Result<&mut Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Config(format!("could not encode the request body: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Mutations: the caller's key (checked) is required by now.
    pub fn idempotency(&mut self, key: &Option<String>) -> Result<&mut Self, Error> {
        let key = key.as_deref().ok_or_else(|| {
            error::invalid(
                "idempotency_key",
                "a mutation needs an Idempotency-Key: set one, or send it through a client, \
                 which generates a UUIDv4",
            )
        })?;
        validate::idempotency_key(key)?;
        self.idempotency_key = Some(key.to_string());
        Ok(self)
    }

    pub fn build(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let mut url = String::with_capacity(cfg.base_url.len() + self.path.len() + 32);
        url.push_str(&cfg.base_url);
        url.push_str(&self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            encode_component(k, &mut url);
            url.push('=');
            encode_component(v, &mut url);
        }
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(url);
        let headers = builder.headers_mut().expect("fresh builder");
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        for (name, value) in cfg.headers.iter() {
            headers.insert(name.clone(), value.clone());
        }
        let mut key = HeaderValue::from_str(cfg.api_key.expose())
            .map_err(|_| Error::Config("invalid api_key".into()))?;
        key.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-api-key"), key);
        if let Some(k) = &self.idempotency_key {
            let v = HeaderValue::from_str(k)
                .map_err(|_| error::invalid("idempotency_key", "must be visible ASCII"))?;
            headers.insert(HeaderName::from_static("idempotency-key"), v);
        }
        builder
            .body(self.body.clone().unwrap_or_default())
            .map_err(|e| Error::Config(format!("could not build the request: {e}")))
    }
}

// ---------------------------------------------------------------------------------------
// Reading answers.

/// Turns a status >= 400 into its typed error. 1xx-3xx pass (a 3xx is not an error).
pub fn check_status(resp: &http::Response<Vec<u8>>) -> Result<(), Error> {
    let status = resp.status().as_u16();
    if status < 400 {
        return Ok(());
    }
    let hint = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry::RetryAfter::parse);
    let (retry_after, retry_at) = match hint {
        Some(retry::RetryAfter::Delay(d)) => (Some(d), None),
        Some(retry::RetryAfter::At(t)) => (None, Some(t)),
        None => (None, None),
    };
    let mut err = ApiError::from_parts(status, retry_after, resp.body().clone());
    err.retry_at = retry_at;
    Err(Error::from_api(err))
}

fn decode_err(resp: &http::Response<Vec<u8>>, message: impl Into<String>) -> Error {
    Error::Decode {
        status: resp.status().as_u16(),
        message: message.into(),
        body: resp.body().clone(),
    }
}

/// Reads a single object, bare or wrapped as `{"data": {...}}`; unknown fields are ignored.
pub fn parse_object<T: DeserializeOwned>(resp: http::Response<Vec<u8>>) -> Result<T, Error> {
    check_status(&resp)?;
    let value: serde_json::Value = serde_json::from_slice(resp.body())
        .map_err(|e| decode_err(&resp, format!("body is not JSON: {e}")))?;
    let value = unwrap_data(value);
    serde_json::from_value(value).map_err(|e| decode_err(&resp, e.to_string()))
}

/// Like [`parse_object`], but an empty body (e.g. 204) reads as `T::default()`.
pub fn parse_object_or_default<T: DeserializeOwned + Default>(
    resp: http::Response<Vec<u8>>,
) -> Result<T, Error> {
    check_status(&resp)?;
    if resp.body().iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_object(resp)
}

/// Unwraps `{"data": {...}}` when `data` is an object; anything else is returned as is.
pub fn unwrap_data(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(mut map) if map.get("data").is_some_and(|d| d.is_object()) => {
            map.remove("data").unwrap_or_default()
        }
        other => other,
    }
}

/// Reads a list page: `{"data": [...], "next_cursor", "previous_cursor", "has_more"}` (or a
/// bare array, read as a last page).
pub fn parse_page<T: DeserializeOwned>(resp: http::Response<Vec<u8>>) -> Result<Page<T>, Error> {
    check_status(&resp)?;
    let value: serde_json::Value = serde_json::from_slice(resp.body())
        .map_err(|e| decode_err(&resp, format!("body is not JSON: {e}")))?;
    let value = match value {
        serde_json::Value::Array(items) => serde_json::json!({ "data": items }),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| decode_err(&resp, e.to_string()))
}

/// Serialises a body with every unset (`None`) field left out, at any depth.
pub(crate) fn json_body(v: &impl serde::Serialize) -> Result<serde_json::Value, Error> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.retain(|_, x| !x.is_null());
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(v)
        .map_err(|e| Error::Config(format!("could not encode the request body: {e}")))?;
    strip(&mut value);
    Ok(value)
}

#[cfg(test)]
mod tests;
