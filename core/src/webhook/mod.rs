//! Webhooks and call-time security (see `docs/PROTOCOL.md`, sections "Flow request",
//! "Webhooks" and "URL tokens").
//!
//! - [`WebhookEvent`]: typed lifecycle events of both webhook versions (2025-08-01 flat,
//!   2026-06-01 envelope), version detected from the body; unknown types and fields are kept.
//! - [`FlowRequest`]: the body Teler POSTs to your flow URL.
//! - [`Verifier`] / [`WebhookSecret`]: the `X-Teler-Signature` check (and signing, for
//!   emulators and tests). The scheme is unconfirmed by FreJun; it all sits in one file.
//! - [`UrlTokenKey`]: signed, expiring tokens for the `ws_url` and `flow_url` query strings,
//!   since Teler signs neither the flow request nor the media socket.
//! - [`Dedupe`]: a bounded memory of event ids, to drop duplicate deliveries.
//!
//! Everything here is pure: the current time is an argument (unix seconds), headers come as
//! plain `(name, value)` pairs, and nothing does I/O.
//!
//! # Receiving a webhook
//!
//! What a `/webhook` route does, whatever the HTTP stack (names of `http` types aside):
//!
//! ```
//! use teler_core::webhook::{Dedupe, Verifier, WebhookError, WebhookSecret, EventKind};
//!
//! // Once, at start-up (the secret comes from your config, never from code):
//! let verifier = Verifier::new(WebhookSecret::new("whsec_from_config")?);
//! let mut seen = Dedupe::new(10_000);
//!
//! // Per request: the raw body bytes (before any JSON parsing), the headers, the clock.
//! # let body: &[u8] = br#"{"id":"evt_1","type":"stream.completed","api_version":"2026-06-01","call_id":"cs_1","data":{"stream_id":"st_1"}}"#;
//! # let now = 1_780_000_000;
//! # let headers = WebhookSecret::new("whsec_from_config")?.sign(now, body).headers(Default::default());
//! let status = match verifier.verify(headers, body, now) {
//!     Err(e) => {
//!         // 401 for a bad signature, 400 for a bad body; log `e`, it holds no secret.
//!         e.http_status()
//!     }
//!     Ok(event) => {
//!         let key = event.dedupe_key().map(|k| k.into_owned());
//!         if key.as_deref().is_some_and(|k| seen.contains(k)) {
//!             200 // a duplicate delivery: already handled
//!         } else {
//!             match &event.kind {
//!                 EventKind::StreamCompleted(_) => { /* the media stream ended; the call may not have */ }
//!                 EventKind::CallCompleted(_) => { /* the call ended */ }
//!                 _ => {}
//!             }
//!             if let Some(k) = key { seen.insert(&k); } // only once handled
//!             200
//!         }
//!     }
//! };
//! assert_eq!(status, 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Retries and ordering
//!
//! - Deliveries are **retried** until your endpoint answers 2xx, so the same event can arrive
//!   **twice or more**. Deduplicate by [`WebhookEvent::dedupe_key`] (the event `id` in
//!   2026-06-01) and keep handlers idempotent: the dedupe window is finite, and a process
//!   restart forgets it.
//! - Deliveries may arrive **out of order**: a `call.completed` can come before that call's
//!   `call.answered`. Order by `occurred_at`, or model the call so each event moves its state
//!   forward only (never back from "completed").
//! - `stream.completed` means the media stream ended, **not** that the call did: after a
//!   `stream` action with a follow-up `flow_url`, the call goes on. Wait for `call.completed`
//!   (or `call.failed`) to know the call is over.
//! - Answer fast (2xx first, work later): Teler's delivery timeout is unpublished, and a
//!   delivery that times out is, like any failure, retried.
//! - Verify against the **raw body bytes**; re-serialising parsed JSON changes them.

mod dedupe;
mod event;
mod signature;
mod token;

pub use dedupe::Dedupe;
pub use event::{
    ApiVersion, CallData, Direction, EventKind, FailReason, FlowRequest, ParseError, RecordingData,
    StreamData, Timestamp, WebhookEvent,
};
pub use signature::{
    DEFAULT_TOLERANCE, SIGNATURE_HEADER, Signature, SignatureEncoding, SignatureError,
    TIMESTAMP_HEADER, Verifier, WebhookSecret,
};
pub use token::{
    TOKEN_PARAM, TokenClaims, TokenError, UrlTokenKey, UsedTokens, append_token, token_from_query,
};

/// A secret or key was refused when constructed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// It is empty (often an unset environment variable).
    #[error("the secret is empty")]
    Empty,
    /// It is shorter than the minimum.
    #[error("the key is {len} bytes; at least {min} are needed")]
    TooShort {
        /// The minimum length in bytes.
        min: usize,
        /// The length given.
        len: usize,
    },
}

/// A webhook delivery was refused: bad signature, or a body that is not a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signature check failed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The signature is good but the body is not a webhook event.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl WebhookError {
    /// The HTTP status to answer with: 401 for a signature failure, 400 for a bad body.
    ///
    /// ```
    /// use teler_core::webhook::{SignatureError, WebhookError};
    /// assert_eq!(WebhookError::from(SignatureError::WrongSignature).http_status(), 401);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::Signature(_) => 401,
            WebhookError::Parse(_) => 400,
        }
    }
}

impl Verifier {
    /// Checks the signature ([`verify_signature`](Self::verify_signature)), then reads the
    /// body as a [`WebhookEvent`]. The one call a `/webhook` route needs.
    pub fn verify<I, K, V>(
        &self,
        headers: I,
        body: &[u8],
        now: u64,
    ) -> Result<WebhookEvent, WebhookError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        self.verify_signature(headers, body, now)?;
        Ok(WebhookEvent::from_json(body)?)
    }
}

/// The fuzz target's body (`fuzz/fuzz_targets/webhook.rs`), also replayed over the seed
/// corpus by `cargo test`. Never panics unless an invariant is broken:
/// parsing never panics; a parsed event written back reads back equal; a body signed here
/// verifies and a changed one does not; a minted URL token verifies.
///
/// Input: the whole of `data` is tried as a webhook and a flow request body; it is also split
/// at its first two newlines into (signature header, timestamp header, body).
#[doc(hidden)]
pub fn fuzz_webhook(data: &[u8]) {
    // 1. Parsing.
    if let Ok(event) = WebhookEvent::from_json(data) {
        let again = WebhookEvent::from_value(event.to_value());
        assert_eq!(again.as_ref(), Ok(&event), "event did not round-trip");
        let _ = event.dedupe_key();
    }
    if let Ok(req) = FlowRequest::from_json(data) {
        assert_eq!(FlowRequest::from_value(req.to_value()), Ok(req));
    }

    // 2. Signature headers from the input, against a fixed secret.
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let sig = parts.next().unwrap_or_default();
    let ts = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let Ok(secret) = WebhookSecret::new("whsec_fuzz") else {
        unreachable!("a non-empty secret is accepted")
    };
    let verifier = Verifier::new(secret.clone());
    let now = 1_780_000_000;
    let _ = verifier.verify([(SIGNATURE_HEADER, sig), (TIMESTAMP_HEADER, ts)], body, now);

    // 3. Sign the body; it must verify, and a changed body must not.
    let signed = secret.sign(now, body);
    for enc in [SignatureEncoding::Hex, SignatureEncoding::Base64] {
        assert_eq!(
            verifier.verify_signature(signed.headers(enc), body, now),
            Ok(())
        );
    }
    let mut tampered = body.to_vec();
    match tampered.first_mut() {
        Some(b) => *b ^= 1,
        None => tampered.push(b'x'),
    }
    assert_eq!(
        verifier.verify_signature(signed.headers(SignatureEncoding::Hex), &tampered, now),
        Err(SignatureError::WrongSignature)
    );

    // 4. URL tokens: the input as a token never panics; the input as a call id round-trips.
    let Ok(key) = UrlTokenKey::new("fuzz-url-token-key") else {
        unreachable!("a 16+ byte key is accepted")
    };
    let text = String::from_utf8_lossy(data);
    let _ = key.verify(&text, now);
    let _ = token_from_query(&text);
    let call_id: String = text.chars().take(200).collect();
    let token = key.mint(&call_id, now);
    let url = append_token("wss://h/ws?a=1", &token);
    assert_eq!(token_from_query(&url), Some(token.as_str()));
    assert_eq!(
        key.verify_for_call(&token, &call_id, now)
            .map(|c| c.call_id),
        Ok(call_id)
    );

    // 5. Dedupe stays within its capacity.
    let mut seen = Dedupe::new(4);
    for chunk in data.split(|&b| b == b',') {
        seen.insert(&String::from_utf8_lossy(chunk));
    }
    assert!(seen.len() <= 4);
}
