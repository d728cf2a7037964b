//! Typed REST errors: one kind per API status, plus transport, decode and validation errors.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Everything a REST call can fail with.
///
/// API answers with status >= 400 become the kind for their status (the same mapping as the
/// Python SDK 1.0); every API kind carries an [`ApiError`] with the status, message, code,
/// type, field errors and the raw body. Use [`Error::api`] to reach it whatever the kind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 400: the API refused a parameter.
    #[error("bad request (400): {0}")]
    BadRequest(Box<ApiError>),
    /// 401: the API key is missing or wrong.
    #[error("unauthorized (401): {0}")]
    Unauthorized(Box<ApiError>),
    /// 403: the key may not do this.
    #[error("forbidden (403): {0}")]
    Forbidden(Box<ApiError>),
    /// 404: no such resource.
    #[error("not found (404): {0}")]
    NotFound(Box<ApiError>),
    /// 409: the resource is in a state that forbids this (e.g. an IP ACL still used by a trunk).
    #[error("conflict (409): {0}")]
    Conflict(Box<ApiError>),
    /// 410: gone (e.g. an event outside the replay window).
    #[error("gone (410): {0}")]
    Gone(Box<ApiError>),
    /// 422: the request was understood but its values are refused.
    #[error("unprocessable request (422): {0}")]
    Unprocessable(Box<ApiError>),
    /// 429: rate limited (after any retries the policy allowed).
    #[error("rate limited (429): {0}")]
    RateLimited(Box<ApiError>),
    /// 500: the API failed.
    #[error("internal server error (500): {0}")]
    InternalServer(Box<ApiError>),
    /// 501: not implemented by the API.
    #[error("not implemented (501): {0}")]
    NotImplemented(Box<ApiError>),
    /// Any other status >= 400 (e.g. 502, 503 after retries).
    #[error("API error ({status}): {0}", status = .0.status)]
    Api(Box<ApiError>),
    /// No answer: the connection could not be made, broke, or the transport failed.
    #[error("network error: {0}")]
    Network(TransportError),
    /// No answer within the configured timeout.
    #[error("timed out: {0}")]
    Timeout(TransportError),
    /// The answer was larger than the client's body limit (`max_response_size`): it was not
    /// read whole, and is never retried.
    #[error("answer too large: {0}")]
    TooLarge(TransportError),
    /// A paginated walk was cut short: the API repeated a cursor.
    #[error("pagination stopped: {0}")]
    Pagination(String),
    /// A successful answer whose body is not what the endpoint returns.
    #[error("could not decode the {status} answer: {message}")]
    Decode {
        /// HTTP status of the answer.
        status: u16,
        /// What was wrong.
        message: String,
        /// The raw body.
        body: Vec<u8>,
    },
    /// The request was refused before sending: a parameter breaks a documented rule.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The client was configured wrongly (e.g. an empty API key or a bad base URL).
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// The API error details, when the API answered with a status >= 400.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::BadRequest(e)
            | Error::Unauthorized(e)
            | Error::Forbidden(e)
            | Error::NotFound(e)
            | Error::Conflict(e)
            | Error::Gone(e)
            | Error::Unprocessable(e)
            | Error::RateLimited(e)
            | Error::InternalServer(e)
            | Error::NotImplemented(e)
            | Error::Api(e) => Some(&**e),
            _ => None,
        }
    }

    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Decode { status, .. } => Some(*status),
            _ => self.api().map(|e| e.status),
        }
    }

    /// Maps an API error to the kind for its status.
    pub fn from_api(e: ApiError) -> Error {
        let e = Box::new(e);
        match e.status {
            400 => Error::BadRequest(e),
            401 => Error::Unauthorized(e),
            403 => Error::Forbidden(e),
            404 => Error::NotFound(e),
            409 => Error::Conflict(e),
            410 => Error::Gone(e),
            422 => Error::Unprocessable(e),
            429 => Error::RateLimited(e),
            500 => Error::InternalServer(e),
            501 => Error::NotImplemented(e),
            _ => Error::Api(e),
        }
    }

    /// Maps a transport failure: timeouts to [`Error::Timeout`], the rest to [`Error::Network`].
    pub fn from_transport(e: TransportError) -> Error {
        match e.kind {
            TransportErrorKind::Timeout => Error::Timeout(e),
            TransportErrorKind::TooLarge => Error::TooLarge(e),
            _ => Error::Network(e),
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::from_transport(e)
    }
}

/// What the API said about a failed request.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The body's `message`, or a generic text naming the status when it has none.
    pub message: String,
    /// The body's `code`, as text (the API has sent both strings and numbers).
    pub code: Option<String>,
    /// The body's `type`.
    pub error_type: Option<String>,
    /// The body's `errors`: one entry per refused field.
    pub errors: Vec<FieldError>,
    /// The `Retry-After` header's delay, when it was a number of seconds (429, 503).
    pub retry_after: Option<Duration>,
    /// The `Retry-After` header's time, when it was an HTTP date (the delay depends on the
    /// clock: [`RetryAfter::delay_from`](super::RetryAfter::delay_from)).
    pub retry_at: Option<std::time::SystemTime>,
    /// The raw body, for anything the typed fields miss.
    pub body: Vec<u8>,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("message", &self.message)
            .field("code", &self.code)
            .field("error_type", &self.error_type)
            .field("errors", &self.errors)
            .field("retry_after", &self.retry_after)
            .field("retry_at", &self.retry_at)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.code {
            write!(f, " [code {code}]")?;
        }
        for e in &self.errors {
            write!(f, "; {}: {}", e.loc.join("."), e.msg)?;
        }
        Ok(())
    }
}

/// One refused field in an API error body (`errors[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldError {
    /// Where the error is, e.g. `["body", "addresses", "0"]` (numbers become text).
    pub loc: Vec<String>,
    /// What is wrong.
    pub msg: String,
    /// The error's type, if given.
    pub error_type: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawErrorBody {
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default, rename = "type")]
    error_type: Option<serde_json::Value>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl ApiError {
    /// Reads an error answer. Never fails: a body that is not the documented JSON keeps its
    /// raw bytes and gets a generic message.
    pub fn from_parts(status: u16, retry_after: Option<Duration>, body: Vec<u8>) -> ApiError {
        let raw: RawErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let mut errors = Vec::new();
        let list = raw.errors.as_ref().or(raw.detail.as_ref());
        if let Some(serde_json::Value::Array(items)) = list {
            for item in items {
                let loc = match item.get("loc") {
                    Some(serde_json::Value::Array(parts)) => {
                        parts.iter().filter_map(value_text).collect()
                    }
                    Some(v) => value_text(v).into_iter().collect(),
                    None => Vec::new(),
                };
                errors.push(FieldError {
                    loc,
                    msg: item.get("msg").and_then(value_text).unwrap_or_default(),
                    error_type: item.get("type").and_then(value_text),
                });
            }
        }
        let message = raw
            .message
            .as_ref()
            .and_then(value_text)
            .or_else(|| match &raw.detail {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                _ => None,
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("Request failed with status {status}."));
        ApiError {
            status,
            message,
            code: raw.code.as_ref().and_then(value_text),
            error_type: raw.error_type.as_ref().and_then(value_text),
            errors,
            retry_after,
            retry_at: None,
            body,
        }
    }
}

/// A parameter breaks a documented rule; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter `{param}`: {rule}")]
#[non_exhaustive]
pub struct ValidationError {
    /// The parameter, e.g. `limit` or `addresses[2].address`.
    pub param: String,
    /// The rule it breaks, with the offending value where that helps.
    pub rule: String,
}

impl ValidationError {
    /// A new validation error.
    pub fn new(param: impl Into<String>, rule: impl Into<String>) -> Self {
        ValidationError {
            param: param.into(),
            rule: rule.into(),
        }
    }
}

/// How a transport failed to bring back an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (refused, DNS, TLS handshake): nothing was sent, so any
    /// request may be retried.
    Connect,
    /// The timeout passed; the request may have reached the server.
    Timeout,
    /// The connection failed after the request may have been sent.
    Io,
    /// The answer exceeded the client's body limit. Retrying would only fetch it again.
    TooLarge,
    /// Anything else (e.g. an invalid URL for the transport).
    Other,
}

/// A transport could not bring back an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
#[non_exhaustive]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportErrorKind,
    /// The transport's own description.
    pub message: String,
}

impl TransportError {
    /// A new transport error.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }
}

pub(crate) fn invalid(param: impl Into<String>, rule: impl Into<String>) -> Error {
    Error::Validation(ValidationError::new(param, rule))
}
