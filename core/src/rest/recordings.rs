//! `/recordings`: a recording's short-lived signed download URL.

use http::Method;
use serde::Deserialize;

use super::model::RecordingUrl;
use super::{Error, Parts, RestConfig, TelerRequest, check_status, unwrap_data, validate};

/// The default lifetime of a signed URL, seconds.
pub const DEFAULT_EXPIRES_IN: u64 = 900;

/// `GET /recordings?recording_id=…&expires_in=…`.
///
/// The API answers with a redirect (documented 302, observed 307) whose `Location` is the
/// signed URL, or with JSON `{url, expires_in}` (maybe under `data`). The redirect is read,
/// never followed: the clients' download helpers fetch the URL (without the API key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetRecording {
    /// The recording (`rec_…`).
    pub recording_id: String,
    /// Seconds the URL should stay valid (default 900).
    pub expires_in: u64,
}

impl GetRecording {
    /// For this recording, valid 900 s.
    pub fn new(recording_id: impl Into<String>) -> Self {
        GetRecording {
            recording_id: recording_id.into(),
            expires_in: DEFAULT_EXPIRES_IN,
        }
    }
    /// Sets the URL's lifetime.
    pub fn expires_in(mut self, secs: u64) -> Self {
        self.expires_in = secs;
        self
    }
}

#[derive(Deserialize)]
struct UrlBody {
    url: Option<String>,
    expires_in: Option<u64>,
}

impl TelerRequest for GetRecording {
    type Response = RecordingUrl;

    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::required("recording_id", &self.recording_id)?;
        if self.expires_in == 0 {
            return Err(super::error::invalid(
                "expires_in",
                "must be at least 1 second",
            ));
        }
        let mut p = Parts::new(Method::GET, "/recordings".into());
        p.q("recording_id", Some(&self.recording_id))
            .q("expires_in", Some(self.expires_in));
        p.build(cfg)
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<RecordingUrl, Error> {
        check_status(&resp)?;
        let location = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        if let Some(url) = location {
            return Ok(RecordingUrl {
                url: url.to_string(),
                recording_id: self.recording_id.clone(),
                expires_in: self.expires_in,
            });
        }
        let body = serde_json::from_slice::<serde_json::Value>(resp.body())
            .ok()
            .map(unwrap_data)
            .and_then(|v| serde_json::from_value::<UrlBody>(v).ok());
        match body {
            Some(UrlBody {
                url: Some(url),
                expires_in,
            }) if !url.is_empty() => Ok(RecordingUrl {
                url,
                recording_id: self.recording_id.clone(),
                expires_in: expires_in.unwrap_or(self.expires_in),
            }),
            _ => Err(Error::Decode {
                status: resp.status().as_u16(),
                message: "the recording answer has neither a Location header nor a JSON url".into(),
                body: resp.body().clone(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Following a signed URL: what every client's download does the same way.

/// How many redirects a recording download follows before giving up.
pub const MAX_DOWNLOAD_REDIRECTS: usize = 5;

/// Where a download answer redirects to, if it is a redirect with a `Location`: an absolute
/// URL, resolved against `base` (the URL that answered) when the `Location` is a relative
/// reference (RFC 9110 section 10.2.2 allows them: `/path`, `//host/path`, `file.wav`).
pub fn redirect_location(
    base: &str,
    status: http::StatusCode,
    headers: &http::HeaderMap,
) -> Option<String> {
    if !status.is_redirection() {
        return None;
    }
    let loc = headers.get(http::header::LOCATION)?.to_str().ok()?.trim();
    Some(resolve_reference(base, loc))
}

/// Resolves a URL reference against an absolute base URL (the cases storage services
/// use: absolute, scheme-relative, absolute-path and relative-path references).
pub fn resolve_reference(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if reference.starts_with('/') {
        return format!("{scheme}://{authority}{reference}");
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    if reference.is_empty() {
        return base.to_string();
    }
    if reference.starts_with('?') {
        return format!("{scheme}://{authority}{path}{reference}");
    }
    format!("{scheme}://{authority}{dir}{reference}")
}

/// The error for a download that redirected more than [`MAX_DOWNLOAD_REDIRECTS`] times.
pub fn too_many_redirects() -> Error {
    Error::Network(super::TransportError::new(
        super::TransportErrorKind::Other,
        "too many redirects downloading the recording",
    ))
}

/// The error for a recording that could not be written where the caller asked.
pub fn write_error(e: impl std::fmt::Display) -> Error {
    Error::Network(super::TransportError::new(
        super::TransportErrorKind::Io,
        format!("writing the recording: {e}"),
    ))
}

#[cfg(test)]
mod download_tests {
    use super::*;

    #[test]
    fn references_resolve_against_the_answering_url() {
        let base = "https://store.example/a/b/file.wav?sig=1";
        assert_eq!(
            resolve_reference(base, "https://x.example/y"),
            "https://x.example/y"
        );
        assert_eq!(
            resolve_reference(base, "//cdn.example/z"),
            "https://cdn.example/z"
        );
        assert_eq!(
            resolve_reference(base, "/root.wav?s=2"),
            "https://store.example/root.wav?s=2"
        );
        assert_eq!(
            resolve_reference(base, "other.wav"),
            "https://store.example/a/b/other.wav"
        );
        assert_eq!(
            resolve_reference(base, "?sig=3"),
            "https://store.example/a/b/file.wav?sig=3"
        );
        assert_eq!(resolve_reference("http://h:8080", "x"), "http://h:8080/x");
    }

    #[test]
    fn only_redirects_with_a_location_redirect() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::LOCATION, "/next".parse().unwrap());
        let base = "http://h/first";
        assert_eq!(
            redirect_location(base, http::StatusCode::FOUND, &h).as_deref(),
            Some("http://h/next")
        );
        assert_eq!(redirect_location(base, http::StatusCode::OK, &h), None);
        let empty = http::HeaderMap::new();
        assert_eq!(
            redirect_location(base, http::StatusCode::FOUND, &empty),
            None
        );
    }
}
