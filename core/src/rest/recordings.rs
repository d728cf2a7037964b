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
