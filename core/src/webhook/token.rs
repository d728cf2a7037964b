//! Signed, expiring tokens for the `ws_url` and `flow_url` query strings.
//!
//! Teler signs neither the flow request nor the media WebSocket, but it keeps the query
//! string of both URLs. So the app mints a token bound to the call and an expiry, appends it
//! to the URL it hands Teler, and checks it when Teler comes back.
//!
//! Format (`v1`): `v1.{expires_at}.{call_id}.{mac}` where `expires_at` is unix seconds in
//! decimal, `call_id` is base64url (no padding) of the call id's bytes, and `mac` is base64url
//! (no padding) of HMAC-SHA256, keyed with the [`UrlTokenKey`], over
//! `"teler-url-token." + "v1.{expires_at}.{call_id}"`. Every character is URL-unreserved
//! (`A-Z a-z 0-9 - _ .`), so the token needs no percent-encoding. The domain prefix keeps a
//! token MAC from ever equalling a webhook signature, even if the same secret is used for both.
//!
//! **Call ids on the socket**: the media stream's `start` message may carry a call id of a
//! different form than the flow request's (`docs/PROTOCOL.md`, section "Teler to app: start").
//! So the token carries the id it was minted for: read it back from [`TokenClaims::call_id`]
//! when the socket connects, and compare it to the `start` message only where your
//! deployment's ids are known to match.
//!
//! **Which URLs**: a call-bound token fits the `ws_url` of a `stream` action and the
//! `flow_url` inside an action, both written while answering a flow request for a known call.
//! The *first* flow URL is fixed before the call exists (at `calls/initiate`, or on the voice
//! app), so bind that token to something else you know instead (your own request id, or the
//! voice app id) and give it an expiry to match; the flow request body then tells you the call.
//!
//! Tokens are not single-use: one stays valid until it expires. Keep expiries short, or
//! remember used tokens (e.g. with a [`Dedupe`](super::Dedupe)) where a replay matters.

use super::SecretError;
use super::signature::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use std::fmt;

/// The query parameter the helpers use: `teler_token`.
pub const TOKEN_PARAM: &str = "teler_token";

const VERSION: &str = "v1";
const DOMAIN: &[u8] = b"teler-url-token.";
const MAX_TOKEN_LEN: usize = 2048;
const MIN_KEY_LEN: usize = 16;

/// The app's key for URL tokens (any secret of at least 16 bytes; 32 random bytes is ideal).
/// It never appears in `Debug` or errors.
///
/// ```
/// use teler_core::webhook::{TOKEN_PARAM, UrlTokenKey, append_token, token_from_query};
///
/// let key = UrlTokenKey::new("an app secret of 16+ bytes")?;
/// let now = 1_780_000_000; // unix seconds, from the caller's clock
///
/// // Answering the flow request for call cs_42: hand Teler a ws_url carrying a token.
/// let token = key.mint("cs_42", now + 600);
/// let ws_url = append_token("wss://app.example/media?lang=en", &token);
/// assert!(ws_url.starts_with("wss://app.example/media?lang=en&teler_token=v1."));
///
/// // Teler connects to that URL: read the token back from the request's path and query.
/// let request_target = &ws_url["wss://app.example".len()..]; // "/media?lang=en&teler_token=…"
/// let claims = key.verify(token_from_query(request_target).unwrap_or(""), now + 5)?;
/// assert_eq!(claims.call_id, "cs_42");
///
/// // Typically straight into the flow answer:
/// let answer = teler_core::flow::CallFlow::stream(ws_url.clone()).to_json()?;
/// assert!(answer.contains("teler_token=v1."));
///
/// // For a `flow_url` in an action, check against the call id of the flow request body.
/// key.verify_for_call(&token, "cs_42", now + 5)?;
/// assert!(key.verify_for_call(&token, "cs_43", now + 5).is_err());
/// assert!(key.verify(&token, now + 601).is_err()); // expired
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct UrlTokenKey(Vec<u8>);

impl UrlTokenKey {
    /// Wraps a key; shorter than 16 bytes is refused.
    pub fn new(key: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        if key.len() < MIN_KEY_LEN {
            return Err(SecretError::TooShort {
                min: MIN_KEY_LEN,
                len: key.len(),
            });
        }
        Ok(UrlTokenKey(key.to_vec()))
    }

    fn mac(&self, signed: &str) -> hmac::Hmac<sha2::Sha256> {
        hmac(&self.0, &[DOMAIN, signed.as_bytes()])
    }

    /// A token for `call_id`, valid until `expires_at` (unix seconds, inclusive).
    ///
    /// Call ids up to 1024 bytes are supported; [`verify`](Self::verify) refuses tokens longer
    /// than 2048 bytes, i.e. call ids beyond about 1400 bytes.
    pub fn mint(&self, call_id: &str, expires_at: u64) -> String {
        let signed = format!(
            "{VERSION}.{expires_at}.{}",
            URL_SAFE_NO_PAD.encode(call_id.as_bytes())
        );
        let mac = self.mac(&signed).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// Checks a token at `now` (unix seconds) and returns what it was minted for.
    /// The MAC is checked (in constant time) before anything the token claims is believed.
    pub fn verify(&self, token: &str, now: u64) -> Result<TokenClaims, TokenError> {
        let malformed = |reason| TokenError::Malformed { reason };
        if token.is_empty() {
            return Err(malformed("it is empty"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("it is longer than 2048 bytes"));
        }
        let mut parts = token.split('.');
        let (Some(version), Some(exp), Some(call), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(malformed("it does not have 4 dot-separated parts"));
        };
        if version != VERSION {
            return Err(malformed("its version is not `v1`"));
        }
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| malformed("its signature is not base64url"))?;
        if mac.len() != 32 {
            return Err(malformed("its signature is not 32 bytes"));
        }
        let signed = token.rsplit_once('.').map_or("", |(signed, _)| signed);
        if self.mac(signed).verify_slice(&mac).is_err() {
            return Err(TokenError::BadSignature);
        }
        // Authentic from here on: only this key's holder could have written these fields.
        if exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("its expiry is not decimal digits"));
        }
        let expires_at: u64 = exp
            .parse()
            .map_err(|_| malformed("its expiry is too large"))?;
        let call_id = URL_SAFE_NO_PAD
            .decode(call)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(malformed("its call id is not base64url of UTF-8"))?;
        if now > expires_at {
            return Err(TokenError::Expired { expires_at, now });
        }
        Ok(TokenClaims {
            call_id,
            expires_at,
        })
    }

    /// [`verify`](Self::verify), and the token must have been minted for `call_id`.
    pub fn verify_for_call(
        &self,
        token: &str,
        call_id: &str,
        now: u64,
    ) -> Result<TokenClaims, TokenError> {
        let claims = self.verify(token, now)?;
        if claims.call_id != call_id {
            return Err(TokenError::WrongCall {
                token_call_id: claims.call_id,
                expected: call_id.to_owned(),
            });
        }
        Ok(claims)
    }
}

impl fmt::Debug for UrlTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlTokenKey(<redacted>)")
    }
}

/// What a valid token was minted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The call id given to [`UrlTokenKey::mint`].
    pub call_id: String,
    /// The expiry (unix seconds, inclusive).
    pub expires_at: u64,
}

/// A URL token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a token of this format at all.
    #[error("URL token is malformed: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not minted with this key, or altered.
    #[error("URL token signature does not match: minted with another key, or altered")]
    BadSignature,
    /// Authentic but past its expiry.
    #[error("URL token expired at {expires_at} (now {now})")]
    Expired {
        /// The token's expiry (unix seconds).
        expires_at: u64,
        /// The `now` passed in.
        now: u64,
    },
    /// Authentic but minted for another call.
    #[error("URL token is for call `{token_call_id}`, not `{expected}`")]
    WrongCall {
        /// The call the token was minted for.
        token_call_id: String,
        /// The call it was presented for.
        expected: String,
    },
}

/// `url` with `teler_token={token}` added to its query string (before any `#fragment`).
/// The token's characters need no escaping.
///
/// ```
/// use teler_core::webhook::append_token;
/// assert_eq!(append_token("wss://a.example/ws", "T"), "wss://a.example/ws?teler_token=T");
/// assert_eq!(append_token("https://a.example/flow?x=1#f", "T"), "https://a.example/flow?x=1&teler_token=T#f");
/// ```
pub fn append_token(url: &str, token: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let sep = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{base}{sep}{TOKEN_PARAM}={token}{fragment}")
}

/// The value of the first `teler_token` parameter in a query string. Takes a bare query
/// (`a=1&teler_token=…`), or anything with a `?` (a full URL or a request target such as
/// `/media?teler_token=…`), in which case only what follows the `?` is searched.
/// The value is returned as is (tokens need no percent-decoding).
///
/// ```
/// use teler_core::webhook::token_from_query;
/// assert_eq!(token_from_query("/ws?a=1&teler_token=v1.x.y.z#frag"), Some("v1.x.y.z"));
/// assert_eq!(token_from_query("teler_token=abc"), Some("abc"));
/// assert_eq!(token_from_query("/ws?xteler_token=abc"), None);
/// ```
pub fn token_from_query(url_or_query: &str) -> Option<&str> {
    let query = match url_or_query.split_once('?') {
        Some((_, q)) => q,
        None => url_or_query,
    };
    let query = query.split('#').next().unwrap_or("");
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name == TOKEN_PARAM).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> UrlTokenKey {
        UrlTokenKey::new("0123456789abcdef").unwrap()
    }

    #[test]
    fn round_trip_and_errors() {
        let k = key();
        let t = k.mint("cs_1", 100);
        assert!(t.starts_with("v1.100.Y3NfMQ."), "{t}");
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(
            k.verify(&t, 100),
            Ok(TokenClaims {
                call_id: "cs_1".into(),
                expires_at: 100
            })
        );
        assert_eq!(
            k.verify(&t, 101),
            Err(TokenError::Expired {
                expires_at: 100,
                now: 101
            })
        );
        assert_eq!(
            k.verify_for_call(&t, "cs_2", 0),
            Err(TokenError::WrongCall {
                token_call_id: "cs_1".into(),
                expected: "cs_2".into()
            })
        );
        let other = UrlTokenKey::new("fedcba9876543210").unwrap();
        assert_eq!(other.verify(&t, 0), Err(TokenError::BadSignature));
        // Extending the expiry invalidates the MAC.
        let forged = t.replacen("v1.100.", "v1.900.", 1);
        assert_eq!(k.verify(&forged, 0), Err(TokenError::BadSignature));
        for bad in [
            "",
            "v1",
            "v1.1.2",
            "v2.1.Y3NfMQ.AAAA",
            "v1.1.2.3.4",
            "v1.1.x.!!!",
        ] {
            assert!(
                matches!(k.verify(bad, 0), Err(TokenError::Malformed { .. })),
                "{bad:?}"
            );
        }
        let big_id = "é".repeat(512); // 1024 bytes
        assert_eq!(
            k.verify(&k.mint(&big_id, 5), 5).map(|c| c.call_id),
            Ok(big_id)
        );
        let long = "v".repeat(2049);
        assert!(matches!(
            k.verify(&long, 0),
            Err(TokenError::Malformed { .. })
        ));
    }

    #[test]
    fn keys_are_checked_and_redacted() {
        assert_eq!(UrlTokenKey::new("").err(), Some(SecretError::Empty));
        assert_eq!(
            UrlTokenKey::new("short").err(),
            Some(SecretError::TooShort { min: 16, len: 5 })
        );
        assert!(!format!("{:?}", key()).contains("0123"));
    }

    #[test]
    fn query_helpers() {
        assert_eq!(append_token("/ws?", "T"), "/ws?teler_token=T");
        assert_eq!(append_token("/ws?a=1&", "T"), "/ws?a=1&teler_token=T");
        assert_eq!(token_from_query("/ws"), None);
        assert_eq!(token_from_query("/ws?teler_token"), Some(""));
        assert_eq!(
            token_from_query("/ws?teler_token=a&teler_token=b"),
            Some("a")
        );
        let url = append_token("wss://h/p?q=1#frag", "v1.1.2.3");
        assert_eq!(token_from_query(&url), Some("v1.1.2.3"));
    }
}

/// Tokens already used, remembered until they expire, so a media token opens one stream in
/// its whole life whatever its length.
///
/// Each token is remembered by its SHA-256 digest (32 bytes) with its expiry: memory is
/// bounded by `capacity` entries, not by the tokens' length, and entries go as soon as
/// their token has expired (a replay of an expired token fails [`UrlTokenKey::verify`]
/// anyway). When the store is full of unexpired tokens, [`use_once`](Self::use_once) refuses
/// (fails closed): it can no longer promise single use, and a flood of fresh tokens, which
/// only the key's holder can mint, is not a normal load. Size it for the calls you start
/// within a token's lifetime.
///
/// ```
/// use teler_core::webhook::UsedTokens;
/// let mut used = UsedTokens::new(1000);
/// assert!(used.use_once("v1.100.Y3NfMQ.sig", 100, 50));   // first use
/// assert!(!used.use_once("v1.100.Y3NfMQ.sig", 100, 60));  // a replay
/// assert!(used.use_once("v1.200.Y3NfMg.sig", 200, 150));  // (the first has expired: gone)
/// assert_eq!(used.len(), 1);
/// ```
#[derive(Clone)]
pub struct UsedTokens {
    capacity: usize,
    by_digest: std::collections::HashMap<[u8; 32], u64>,
    by_expiry: std::collections::BTreeSet<(u64, [u8; 32])>,
}

impl UsedTokens {
    /// Remembers at most `capacity` unexpired tokens (0 is taken as 1).
    pub fn new(capacity: usize) -> Self {
        UsedTokens {
            capacity: capacity.max(1),
            by_digest: std::collections::HashMap::new(),
            by_expiry: std::collections::BTreeSet::new(),
        }
    }

    /// Records the use of `token` (valid until `expires_at`, unix seconds) at `now`; `true`
    /// if it was not used before (accept it), `false` if it was (a replay) or the store is
    /// full of unexpired tokens (fail closed).
    pub fn use_once(&mut self, token: &str, expires_at: u64, now: u64) -> bool {
        use sha2::Digest;
        self.forget_expired(now);
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if self.by_digest.contains_key(&digest) {
            return false;
        }
        if self.by_digest.len() >= self.capacity {
            return false;
        }
        self.by_digest.insert(digest, expires_at);
        self.by_expiry.insert((expires_at, digest));
        true
    }

    /// Forgets the tokens that expired before `now`.
    pub fn forget_expired(&mut self, now: u64) {
        while let Some(&(expires_at, digest)) = self.by_expiry.first() {
            if expires_at >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.by_digest.remove(&digest);
        }
    }

    /// Unexpired tokens remembered.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

impl fmt::Debug for UsedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsedTokens")
            .field("len", &self.by_digest.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

#[cfg(test)]
mod used_tokens_tests {
    use super::*;

    #[test]
    fn long_tokens_are_single_use_and_memory_is_bounded() {
        let mut used = UsedTokens::new(3);
        assert!(used.is_empty());
        assert_eq!(used.len(), 0);
        let long = "x".repeat(2000);
        assert!(used.use_once(&long, 100, 0));
        assert!(!used.is_empty());
        assert!(
            !used.use_once(&long, 100, 99),
            "a long token is refused on reuse"
        );
        assert!(
            !used.use_once(&long, 100, 100),
            "still valid at its expiry second"
        );
        assert!(used.use_once("b", 100, 0));
        assert!(used.use_once("c", 100, 0));
        assert_eq!(used.len(), 3);
        assert!(
            !used.use_once("d", 100, 0),
            "full of unexpired tokens: fail closed"
        );
        // Once they expire, room comes back and the old ones are forgotten.
        assert!(used.use_once("d", 300, 101));
        assert_eq!(used.len(), 1);
        assert!(format!("{used:?}").contains("len: 1"));
    }
}
