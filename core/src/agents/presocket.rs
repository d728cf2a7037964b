//! The HTTP request some vendors need before their socket ([`ultravox::CreateCall`]
//! creates a call and answers with its socket URL; [`elevenlabs::SignedUrl`] gets a private
//! agent's signed socket URL; [`cartesia::AccessToken`] gets the token the socket takes;
//! [`vapi::CreateCall`] creates a call and answers its `websocketCallUrl`;
//! [`sarvam::SignedUrl`] signs a socket URL for one session of a Sarvam app), as values in
//! the style of Teler's REST requests: each
//! becomes an [`http::Request<Vec<u8>>`] and reads the [`http::Response<Vec<u8>>`] into the
//! socket URL or a typed [`rest::Error`](crate::rest::Error). No I/O here.
//!
//! They implement [`VendorRequest`] rather than [`TelerRequest`](crate::rest::TelerRequest):
//! a `TelerRequest` is built from a [`RestConfig`](crate::rest::RestConfig) (Teler's base URL
//! and key), while these go to the vendor's API with the vendor's key, which each value
//! holds (hidden from `Debug`). Send one with any HTTP client:
//!
//! ```
//! use teler_core::agents::{VendorRequest, ultravox};
//!
//! let req = ultravox::CreateCall::new("uv-key", &ultravox::Config::default())?;
//! let http_req = req.to_http()?;
//! assert_eq!(http_req.uri(), "https://api.ultravox.ai/api/calls");
//! assert!(!format!("{req:?}").contains("uv-key"));
//! let answer = http::Response::builder().status(201)
//!     .body(br#"{"callId":"c1","joinUrl":"wss://voice.example/c1"}"#.to_vec())?;
//! assert_eq!(req.parse(answer)?, "wss://voice.example/c1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::de::DeserializeOwned;

#[cfg(doc)]
use super::{cartesia, elevenlabs, sarvam, ultravox, vapi};

use crate::rest::{ApiError, Error};

/// A request to a vendor's HTTP API made before its socket: the HTTP request, and its
/// answer read into [`Response`](Self::Response) (the socket URL, for the requests here).
pub trait VendorRequest {
    /// The typed answer.
    type Response;

    /// The HTTP request (method, URL, headers with the vendor's key, JSON body).
    ///
    /// # Errors
    /// [`Error::Config`] when a value cannot go into a URL or header.
    fn to_http(&self) -> Result<http::Request<Vec<u8>>, Error>;

    /// Reads the answer: a status >= 400 is the typed API error (with the vendor's
    /// `message` or `detail`), a body without what the endpoint returns is
    /// [`Error::Decode`].
    ///
    /// # Errors
    /// As above.
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Self::Response, Error>;
}

/// `method url` with `headers` and a JSON `body` (if any).
pub(crate) fn request(
    method: http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Result<http::Request<Vec<u8>>, Error> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::USER_AGENT, crate::rest::USER_AGENT)
        .header(http::header::ACCEPT, "application/json");
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let body = match body {
        Some(v) => {
            b = b.header(http::header::CONTENT_TYPE, "application/json");
            serde_json::to_vec(v).map_err(|e| Error::Config(e.to_string()))?
        }
        None => Vec::new(),
    };
    // The builder's error names no value (keys stay out of it).
    b.body(body)
        .map_err(|e| Error::Config(format!("cannot build the vendor request: {e}")))
}

/// The JSON body of a successful answer, or the typed error of a failed one.
pub(crate) fn parse_json<T: DeserializeOwned>(resp: http::Response<Vec<u8>>) -> Result<T, Error> {
    let status = resp.status().as_u16();
    let body = resp.into_body();
    if status >= 400 {
        return Err(Error::from_api(ApiError::from_parts(status, None, body)));
    }
    serde_json::from_slice(&body).map_err(|e| Error::Decode {
        status,
        message: e.to_string(),
        body,
    })
}

/// A socket URL from an answer: `ws://` or `wss://`, else [`Error::Decode`].
pub(crate) fn socket_url(status: u16, url: String) -> Result<String, Error> {
    if url.starts_with("wss://") || url.starts_with("ws://") {
        Ok(url)
    } else {
        Err(Error::Decode {
            status,
            message: format!("the socket URL {url:?} is not ws:// or wss://"),
            body: Vec::new(),
        })
    }
}
