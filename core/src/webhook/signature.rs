//! The webhook signature scheme, all of it in this file (see `docs/PROTOCOL.md`, section
//! "Webhook signatures"; unconfirmed).
//!
//! - Headers: [`SIGNATURE_HEADER`] (`X-Teler-Signature`) and [`TIMESTAMP_HEADER`]
//!   (`X-Teler-Timestamp`), names matched case-insensitively.
//! - Timestamp: unix seconds, decimal ASCII digits.
//! - Signed bytes: `"{timestamp}.{raw body}"`, with the timestamp exactly as the header has it.
//! - MAC: HMAC-SHA256, keyed with **the whole secret string's UTF-8 bytes, `whsec_` prefix
//!   included** (the Stripe convention; not base64-decoded as Standard Webhooks does). That
//!   choice lives in one private function, `hmac_key`.
//! - Digest: 32 bytes, accepted as 64 hex digits (either case) or base64 (standard or URL-safe
//!   alphabet, padded or not), optionally prefixed `sha256=`; written as lowercase hex.
//! - Check order: headers present and well-formed, then the MAC (constant time), then the
//!   timestamp's age, so a stale error is only ever reported for an authentic delivery.

use super::SecretError;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::Duration;

/// The header carrying the digest.
pub const SIGNATURE_HEADER: &str = "X-Teler-Signature";
/// The header carrying the unix-seconds timestamp that was signed with the body.
pub const TIMESTAMP_HEADER: &str = "X-Teler-Timestamp";
/// How far a timestamp may be from `now`, either way, by default: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Longest header value read; anything longer is malformed.
const MAX_HEADER_LEN: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`. Hmac accepts keys of any length.
pub(super) fn hmac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .expect("HMAC-SHA256 accepts keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac
}

/// A webhook signing secret (`whsec_…`). Its value never appears in `Debug`, `Display` or
/// any error.
///
/// ```
/// use teler_core::webhook::WebhookSecret;
/// let s = WebhookSecret::new("whsec_test_123")?;
/// assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
/// assert!(WebhookSecret::new("").is_err());
/// # Ok::<(), teler_core::webhook::SecretError>(())
/// ```
#[derive(Clone)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret as shown by Teler (`GET /secrets/{id}`'s `secret_value`). An empty
    /// secret is refused: it usually means an unset environment variable, and would let
    /// anyone sign.
    pub fn new(secret: impl Into<String>) -> Result<Self, SecretError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(WebhookSecret(secret))
    }

    /// The HMAC key: THE one place deciding how a secret becomes key bytes.
    fn hmac_key(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn mac(&self, timestamp: &[u8], body: &[u8]) -> HmacSha256 {
        hmac(self.hmac_key(), &[timestamp, b".", body])
    }

    /// Signs `body` as sent at `timestamp` (unix seconds), as Teler does.
    ///
    /// ```
    /// use teler_core::webhook::{SignatureEncoding, Verifier, WebhookSecret};
    /// let secret = WebhookSecret::new("whsec_test_123")?;
    /// let body = br#"{"event":"call.ringing","data":{"call_id":"cs_1"}}"#;
    /// let sig = secret.sign(1_780_000_000, body);
    /// let headers = sig.headers(SignatureEncoding::Hex);
    /// assert_eq!(headers[1], ("X-Teler-Timestamp", "1780000000".to_string()));
    /// let event = Verifier::new(secret).verify(headers, body, 1_780_000_010)?;
    /// assert_eq!(event.event_type(), "call.ringing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> Signature {
        let ts = timestamp.to_string();
        let digest = self.mac(ts.as_bytes(), body).finalize().into_bytes();
        let mut mac = [0u8; 32];
        mac.copy_from_slice(&digest);
        Signature { timestamp, mac }
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// How a [`Signature`] writes its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureEncoding {
    /// 64 lowercase hex digits.
    #[default]
    Hex,
    /// Standard base64, padded (44 characters).
    Base64,
}

/// A computed signature: the timestamp and the 32-byte HMAC-SHA256 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    timestamp: u64,
    mac: [u8; 32],
}

impl Signature {
    /// The signed timestamp (unix seconds).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The digest as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.mac {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s
    }

    /// The digest as padded standard base64.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.mac)
    }

    /// The two headers to send: `[(SIGNATURE_HEADER, digest), (TIMESTAMP_HEADER, timestamp)]`.
    pub fn headers(&self, encoding: SignatureEncoding) -> [(&'static str, String); 2] {
        let digest = match encoding {
            SignatureEncoding::Hex => self.to_hex(),
            SignatureEncoding::Base64 => self.to_base64(),
        };
        [
            (SIGNATURE_HEADER, digest),
            (TIMESTAMP_HEADER, self.timestamp.to_string()),
        ]
    }
}

/// A signature check failed. Each case is distinct so a receiver can log the cause; all of
/// them should be answered alike (401) to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A header is absent.
    #[error("webhook header `{header}` is missing")]
    MissingHeader {
        /// The header name.
        header: &'static str,
    },
    /// A header is present but unreadable.
    #[error("webhook header `{header}` is malformed: {reason}")]
    MalformedHeader {
        /// The header name.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The delivery is authentic but its timestamp is too far from `now`: a replay, or a
    /// clock that is off.
    #[error(
        "webhook timestamp {timestamp} is more than {tolerance_secs} s away from now ({now}): replayed, or a clock is off"
    )]
    StaleTimestamp {
        /// The signed timestamp (unix seconds).
        timestamp: u64,
        /// The `now` passed in (unix seconds).
        now: u64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
    /// The digest does not match the body, timestamp and secret(s).
    #[error("webhook signature does not match: wrong secret, or the body or timestamp was changed")]
    WrongSignature,
}

/// Checks webhook signatures. Holds one or more secrets (the current one and, during a
/// rotation, the previous ones) and the timestamp tolerance.
///
/// ```
/// use std::time::Duration;
/// use teler_core::webhook::{SignatureError, Verifier, WebhookSecret};
///
/// let verifier = Verifier::new(WebhookSecret::new("whsec_new")?)
///     .with_secret(WebhookSecret::new("whsec_old")?) // still accepted while rotating
///     .with_tolerance(Duration::from_secs(60));
///
/// let body = b"{}";
/// let sig = WebhookSecret::new("whsec_old")?.sign(1000, body);
/// // Any (name, value) pairs work: names are matched case-insensitively.
/// let headers = [("x-teler-signature", sig.to_base64()), ("x-teler-timestamp", "1000".into())];
/// verifier.verify_signature(headers.clone(), body, 1030)?;
/// assert!(matches!(
///     verifier.verify_signature(headers, body, 1061),
///     Err(SignatureError::StaleTimestamp { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier for one secret, with the [`DEFAULT_TOLERANCE`].
    pub fn new(secret: WebhookSecret) -> Self {
        Verifier {
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Also accepts signatures made with `secret` (e.g. the previous one, during a rotation).
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// How far the signed timestamp may be from `now`, in either direction (whole seconds).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks the signature headers against the raw `body` at `now` (unix seconds).
    ///
    /// `headers` is any iterator of (name, value) pairs: `[(&str, String)]`, a
    /// `Vec<(String, Vec<u8>)>`, or `http::HeaderMap::iter()`. Names are matched
    /// case-insensitively; a header given twice is malformed.
    pub fn verify_signature<I, K, V>(
        &self,
        headers: I,
        body: &[u8],
        now: u64,
    ) -> Result<(), SignatureError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut signature: Option<V> = None;
        let mut timestamp: Option<V> = None;
        for (name, value) in headers {
            let name = name.as_ref();
            let (slot, header) = if name.eq_ignore_ascii_case(SIGNATURE_HEADER) {
                (&mut signature, SIGNATURE_HEADER)
            } else if name.eq_ignore_ascii_case(TIMESTAMP_HEADER) {
                (&mut timestamp, TIMESTAMP_HEADER)
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(SignatureError::MalformedHeader {
                    header,
                    reason: "it appears more than once",
                });
            }
        }
        let signature = signature.ok_or(SignatureError::MissingHeader {
            header: SIGNATURE_HEADER,
        })?;
        let timestamp = timestamp.ok_or(SignatureError::MissingHeader {
            header: TIMESTAMP_HEADER,
        })?;
        self.verify_values(signature.as_ref(), timestamp.as_ref(), body, now)
    }

    /// Like [`verify_signature`](Self::verify_signature), given the two header values.
    pub fn verify_values(
        &self,
        signature: &[u8],
        timestamp: &[u8],
        body: &[u8],
        now: u64,
    ) -> Result<(), SignatureError> {
        let digest = parse_digest(signature)?;
        let (ts_text, ts) = parse_timestamp(timestamp)?;
        let authentic = self
            .secrets
            .iter()
            .any(|s| s.mac(ts_text, body).verify_slice(&digest).is_ok());
        if !authentic {
            return Err(SignatureError::WrongSignature);
        }
        let tolerance_secs = self.tolerance.as_secs();
        if ts.abs_diff(now) > tolerance_secs {
            return Err(SignatureError::StaleTimestamp {
                timestamp: ts,
                now,
                tolerance_secs,
            });
        }
        Ok(())
    }
}

fn malformed_sig(reason: &'static str) -> SignatureError {
    SignatureError::MalformedHeader {
        header: SIGNATURE_HEADER,
        reason,
    }
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Reads the digest header: hex or base64 (either alphabet), optional `sha256=` prefix.
fn parse_digest(value: &[u8]) -> Result<[u8; 32], SignatureError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(malformed_sig("it is too long"));
    }
    let mut v = trim(value);
    if v.len() >= 7 && v[..7].eq_ignore_ascii_case(b"sha256=") {
        v = &v[7..];
    }
    if v.is_empty() {
        return Err(malformed_sig("it is empty"));
    }
    let mut out = [0u8; 32];
    if v.len() == 64 && v.iter().all(u8::is_ascii_hexdigit) {
        for (o, pair) in out.iter_mut().zip(v.chunks_exact(2)) {
            *o = (hex_val(pair[0]) << 4) | hex_val(pair[1]);
        }
        return Ok(out);
    }
    const INDIFFERENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, INDIFFERENT);
    const URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, INDIFFERENT);
    let decoded = STD
        .decode(v)
        .or_else(|_| URL.decode(v))
        .map_err(|_| malformed_sig("it is neither 64 hex digits nor base64"))?;
    if decoded.len() != 32 {
        return Err(malformed_sig(
            "it does not decode to 32 bytes (an HMAC-SHA256 digest)",
        ));
    }
    out.copy_from_slice(&decoded);
    Ok(out)
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0, // only called on validated hex digits
    }
}

/// Reads the timestamp header: returns the exact text (what was signed) and its value.
fn parse_timestamp(value: &[u8]) -> Result<(&[u8], u64), SignatureError> {
    let malformed = |reason| SignatureError::MalformedHeader {
        header: TIMESTAMP_HEADER,
        reason,
    };
    let v = trim(value);
    if v.is_empty() {
        return Err(malformed("it is empty"));
    }
    if !v.iter().all(u8::is_ascii_digit) {
        return Err(malformed("it is not unix seconds in decimal digits"));
    }
    let mut n: u64 = 0;
    for d in v {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(malformed("it is too large"))?;
    }
    Ok((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> Verifier {
        Verifier::new(WebhookSecret::new("whsec_test").unwrap())
    }

    #[test]
    fn known_vector() {
        // Computed independently with Python: hmac.new(b"whsec_test", b'1700000000.{"a":1}', sha256)
        let sig = WebhookSecret::new("whsec_test")
            .unwrap()
            .sign(1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            sig.to_hex(),
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn accepts_hex_upper_base64_urlsafe_unpadded_and_prefix() {
        let body = b"hello";
        let sig = WebhookSecret::new("whsec_test").unwrap().sign(50, body);
        let b64 = sig.to_base64();
        let forms = [
            sig.to_hex(),
            sig.to_hex().to_uppercase(),
            format!("sha256={}", sig.to_hex()),
            b64.clone(),
            b64.trim_end_matches('=').to_string(),
            b64.replace('+', "-").replace('/', "_"),
            format!("  {b64} "),
        ];
        for f in forms {
            assert_eq!(
                verifier().verify_values(f.as_bytes(), b"50", body, 50),
                Ok(()),
                "{f}"
            );
        }
    }

    #[test]
    fn distinct_errors() {
        let v = verifier();
        let body = b"x";
        let sig = WebhookSecret::new("whsec_test").unwrap().sign(100, body);
        let hex = sig.to_hex();
        assert_eq!(
            v.verify_signature([(TIMESTAMP_HEADER, "100")], body, 100),
            Err(SignatureError::MissingHeader {
                header: SIGNATURE_HEADER
            })
        );
        assert_eq!(
            v.verify_signature([(SIGNATURE_HEADER, hex.as_str())], body, 100),
            Err(SignatureError::MissingHeader {
                header: TIMESTAMP_HEADER
            })
        );
        for bad_sig in ["", "zz", "abcd", &hex[..62], &format!("{hex}00")] {
            assert!(
                matches!(
                    v.verify_values(bad_sig.as_bytes(), b"100", body, 100),
                    Err(SignatureError::MalformedHeader {
                        header: SIGNATURE_HEADER,
                        ..
                    })
                ),
                "{bad_sig:?}"
            );
        }
        for bad_ts in ["", "-5", "1e3", "99999999999999999999999", "12 3"] {
            assert!(
                matches!(
                    v.verify_values(hex.as_bytes(), bad_ts.as_bytes(), body, 100),
                    Err(SignatureError::MalformedHeader {
                        header: TIMESTAMP_HEADER,
                        ..
                    })
                ),
                "{bad_ts:?}"
            );
        }
        assert_eq!(
            v.verify_values(hex.as_bytes(), b"100", body, 401),
            Err(SignatureError::StaleTimestamp {
                timestamp: 100,
                now: 401,
                tolerance_secs: 300
            })
        );
        // In the future beyond tolerance is stale too; at the edge is fine.
        assert!(v.verify_values(hex.as_bytes(), b"100", body, 400).is_ok());
        assert!(matches!(
            verifier().verify_values(hex.as_bytes(), b"100", body, 0),
            Ok(())
        ));
        let v0 = verifier().with_tolerance(Duration::ZERO);
        assert!(matches!(
            v0.verify_values(hex.as_bytes(), b"100", body, 99),
            Err(SignatureError::StaleTimestamp { .. })
        ));
        assert_eq!(
            v.verify_values(hex.as_bytes(), b"101", body, 100),
            Err(SignatureError::WrongSignature)
        );
        assert_eq!(
            v.verify_values(hex.as_bytes(), b"100", b"y", 100),
            Err(SignatureError::WrongSignature)
        );
        // Wrong signature wins over stale: stale is only reported for authentic deliveries.
        assert_eq!(
            v.verify_values(hex.as_bytes(), b"100", b"y", 10_000),
            Err(SignatureError::WrongSignature)
        );
        let wrong = Verifier::new(WebhookSecret::new("whsec_other").unwrap());
        assert_eq!(
            wrong.verify_values(hex.as_bytes(), b"100", body, 100),
            Err(SignatureError::WrongSignature)
        );
    }

    #[test]
    fn duplicate_header_is_malformed_and_names_are_case_insensitive() {
        let sig = WebhookSecret::new("whsec_test").unwrap().sign(7, b"");
        let hex = sig.to_hex();
        let ok = [
            ("X-TELER-SIGNATURE", hex.as_str()),
            ("x-teler-timestamp", "7"),
        ];
        assert_eq!(verifier().verify_signature(ok, b"", 7), Ok(()));
        let dup = [
            ("x-teler-signature", hex.as_str()),
            ("X-Teler-Signature", hex.as_str()),
            ("x-teler-timestamp", "7"),
        ];
        assert!(matches!(
            verifier().verify_signature(dup, b"", 7),
            Err(SignatureError::MalformedHeader {
                header: SIGNATURE_HEADER,
                ..
            })
        ));
    }

    #[test]
    fn secret_never_printed() {
        let secret = "whsec_SUPERSECRETVALUE";
        let v = Verifier::new(WebhookSecret::new(secret).unwrap());
        assert!(!format!("{v:?}").contains("SUPERSECRET"));
        let err = v.verify_values(b"00", b"1", b"", 1).unwrap_err();
        assert!(!format!("{err:?}{err}").contains("SUPERSECRET"));
    }

    #[test]
    fn hex_val_is_right() {
        let all: Vec<u8> = b"0123456789abcdefABCDEF"
            .iter()
            .map(|&c| hex_val(c))
            .collect();
        assert_eq!(
            all,
            [
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15
            ]
        );
    }
}
