//! A fleet of bridge instances sharing state: the pure half.
//!
//! Several bridge processes behind a load balancer must agree on three things a single
//! process keeps in memory: which webhook deliveries and media tokens were already seen
//! (remember-once with a TTL), which instance bridges which call (a live-call directory with
//! a heartbeat TTL), and how a command for a call reaches the instance that bridges it (a
//! command bus with a reply). This module holds what those need that does no I/O: the store
//! keys, the bus messages and their parser (peer data: fuzzed), the failure policies as pure
//! decisions, and [`MemoryOnce`], the in-process store that is the default.
//!
//! A call's audio never leaves its instance; only these small records are shared.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::media::{Command, OutFrame};

/// The default prefix of every key and channel.
pub const DEFAULT_PREFIX: &str = "teler";
/// How long a live call's directory entry lives without a heartbeat: an instance that dies
/// loses its calls from the directory within this.
pub const DEFAULT_HEARTBEAT_TTL: Duration = Duration::from_secs(15);
/// The longest bus message accepted: a command carries at most one frame for a peer, so the
/// bridge's default frame limit in base64 (4/3 larger), and 64 KiB for the rest.
pub const MAX_BUS_MESSAGE: usize = crate::media::DEFAULT_MAX_FRAME_SIZE / 3 * 4 + 4 + 64 * 1024;

/// Why a fleet value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// An instance id must be 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    #[error("an instance id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    BadInstanceId,
    /// A key prefix must be 1 to 32 characters of `A-Z a-z 0-9 . _ -`.
    #[error("a key prefix must be 1 to 32 characters of A-Z a-z 0-9 . _ -")]
    BadPrefix,
    /// A bus message over [`MAX_BUS_MESSAGE`].
    #[error("a bus message of {0} bytes is over the limit")]
    TooLarge(usize),
    /// A bus message that does not parse.
    #[error("not a bus message: {0}")]
    Malformed(String),
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One bridge instance's name in the fleet (a host name, a pod name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceId(String);

impl InstanceId {
    /// Checks and wraps an instance id.
    ///
    /// # Errors
    /// [`FleetError::BadInstanceId`] unless it is 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    pub fn new(id: impl Into<String>) -> Result<Self, FleetError> {
        let id = id.into();
        match is_name(&id, 64) {
            true => Ok(InstanceId(id)),
            false => Err(FleetError::BadInstanceId),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InstanceId {
    type Error = FleetError;
    fn try_from(s: String) -> Result<Self, FleetError> {
        InstanceId::new(s)
    }
}

impl From<InstanceId> for String {
    fn from(id: InstanceId) -> String {
        id.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a remember-once key remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnceKind {
    /// A webhook delivery's event id (dedupe fails **open**: a delivery is processed when
    /// the store cannot answer).
    WebhookEvent,
    /// A single-use media token (reuse checks fail **closed**: the token is refused when the
    /// store cannot answer).
    MediaToken,
}

impl OnceKind {
    fn tag(self) -> &'static str {
        match self {
            OnceKind::WebhookEvent => "event",
            OnceKind::MediaToken => "token",
        }
    }
}

/// The names of every key and channel, under one prefix.
///
/// Untrusted ids (event ids, tokens, call ids) are hashed into keys, so a key's length is
/// bounded and a token never appears in the store or its logs.
///
/// ```
/// use teler_core::fleet::{InstanceId, Keys, OnceKind};
/// let keys = Keys::default();
/// let k = keys.once(OnceKind::MediaToken, b"v1.secret-token");
/// assert!(k.starts_with("teler:once:token:") && !k.contains("secret"));
/// assert_eq!(keys.bus(&InstanceId::new("pod-a").unwrap()), "teler:bus:pod-a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

fn hex_digest(data: &[u8]) -> String {
    let d = sha2::Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Keys {
    /// Keys under `prefix` (several fleets can share one Redis under different prefixes).
    ///
    /// # Errors
    /// [`FleetError::BadPrefix`] unless it is 1 to 32 characters of `A-Z a-z 0-9 . _ -`.
    pub fn new(prefix: impl Into<String>) -> Result<Self, FleetError> {
        let prefix = prefix.into();
        match is_name(&prefix, 32) {
            true => Ok(Keys { prefix }),
            false => Err(FleetError::BadPrefix),
        }
    }

    /// The remember-once key of `id` (an event id, a token).
    pub fn once(&self, kind: OnceKind, id: &[u8]) -> String {
        format!("{}:once:{}:{}", self.prefix, kind.tag(), hex_digest(id))
    }

    /// The directory key of a live call.
    pub fn call(&self, call_id: &str) -> String {
        format!("{}:call:{}", self.prefix, hex_digest(call_id.as_bytes()))
    }

    /// The bus channel an instance listens on (commands for its calls, replies to its own
    /// commands).
    pub fn bus(&self, instance: &InstanceId) -> String {
        format!("{}{}", self.bus_prefix(), instance.as_str())
    }

    /// What every bus channel of this fleet starts with (to check a `reply_to` before
    /// publishing to it).
    pub fn bus_prefix(&self) -> String {
        format!("{}:bus:", self.prefix)
    }
}

/// A live call's directory entry: who bridges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEntry {
    /// Teler's call id.
    pub call_id: String,
    /// The instance that bridges it.
    pub instance: InstanceId,
}

impl CallEntry {
    /// The entry as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored entry.
    ///
    /// # Errors
    /// [`FleetError`] for an entry that is too large or does not parse.
    pub fn parse(bytes: &[u8]) -> Result<Self, FleetError> {
        if bytes.len() > 1024 {
            return Err(FleetError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| FleetError::Malformed(e.to_string()))
    }
}

/// A command as it crosses the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WireCommand {
    /// [`Command::SendToTeler`].
    SendToTeler {
        /// The JSON text.
        text: String,
    },
    /// [`Command::SendToRemote`] with a text frame.
    SendToRemote {
        /// The text.
        text: String,
    },
    /// [`Command::SendToRemote`] with a binary frame.
    SendBinaryToRemote {
        /// The bytes, base64.
        b64: String,
    },
    /// [`Command::Stop`].
    Stop {
        /// Why.
        reason: String,
    },
    /// [`Command::GoAway`].
    GoAway,
}

impl WireCommand {
    /// The wire form of a command (`None` for a kind the bus does not carry: pings).
    pub fn from_command(c: &Command) -> Option<WireCommand> {
        use base64::Engine as _;
        Some(match c {
            Command::SendToTeler(text) => WireCommand::SendToTeler { text: text.clone() },
            Command::SendToRemote(OutFrame::Text(text)) => {
                WireCommand::SendToRemote { text: text.clone() }
            }
            Command::SendToRemote(OutFrame::Binary(b)) => WireCommand::SendBinaryToRemote {
                b64: base64::engine::general_purpose::STANDARD.encode(b),
            },
            Command::Stop { reason } => WireCommand::Stop {
                reason: reason.clone(),
            },
            Command::GoAway => WireCommand::GoAway,
            _ => return None,
        })
    }

    /// The command it carries.
    ///
    /// # Errors
    /// [`FleetError::Malformed`] for binary data that is not base64.
    pub fn into_command(self) -> Result<Command, FleetError> {
        use base64::Engine as _;
        Ok(match self {
            WireCommand::SendToTeler { text } => Command::SendToTeler(text),
            WireCommand::SendToRemote { text } => Command::SendToRemote(OutFrame::Text(text)),
            WireCommand::SendBinaryToRemote { b64 } => Command::SendToRemote(OutFrame::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| FleetError::Malformed(e.to_string()))?,
            )),
            WireCommand::Stop { reason } => Command::Stop { reason },
            WireCommand::GoAway => Command::GoAway,
        })
    }
}

/// What happened to a command sent over the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The instance bridging the call queued it.
    Delivered,
    /// No instance bridges that call (not in the directory, or its instance no longer has
    /// it).
    NotFound,
    /// The call had ended.
    Ended,
    /// The call's command queue was full.
    QueueFull,
    /// The directory names an instance that is not listening on the bus: it died and its
    /// entry has not expired yet (within the heartbeat TTL), or it is reconnecting to
    /// Redis. Nothing was delivered; retry shortly.
    Unreachable,
    /// The command was refused as invalid.
    Invalid {
        /// Why.
        message: String,
    },
}

/// One bus message: a command for a call, or the reply to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BusMessage {
    /// Carry out `command` on call `call_id`, and publish the outcome on `reply_to`.
    Request {
        /// Matches the reply to the request (unique per sender).
        id: u64,
        /// Teler's call id.
        call_id: String,
        /// The command.
        command: WireCommand,
        /// The sender's bus channel.
        reply_to: String,
    },
    /// The outcome of request `id`.
    Reply {
        /// The request's id.
        id: u64,
        /// What happened.
        outcome: Outcome,
    },
}

impl BusMessage {
    /// The message as published.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a message from the bus (anything may arrive there: it is checked and bounded).
    ///
    /// ```
    /// use teler_core::fleet::{BusMessage, Outcome};
    /// let m = BusMessage::Reply { id: 7, outcome: Outcome::Delivered };
    /// assert_eq!(BusMessage::parse(m.to_json().as_bytes()), Ok(m));
    /// assert!(BusMessage::parse(b"{}").is_err());
    /// ```
    ///
    /// # Errors
    /// [`FleetError::TooLarge`] over [`MAX_BUS_MESSAGE`], [`FleetError::Malformed`] when it
    /// is not a bus message.
    pub fn parse(bytes: &[u8]) -> Result<Self, FleetError> {
        if bytes.len() > MAX_BUS_MESSAGE {
            return Err(FleetError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| FleetError::Malformed(e.to_string()))
    }
}

/// A store's answer could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store did not answer within its timeout.
    #[error("the store timed out")]
    Timeout,
    /// The store could not be reached or refused the operation.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The in-memory store is full of unexpired entries.
    #[error(
        "the in-memory store is full of unexpired entries: raise its capacity or shorten the TTL"
    )]
    Full,
}

/// What to do with a webhook delivery or a media token, given the store's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First time seen: go ahead.
    Accept,
    /// Seen before: a duplicate delivery to skip, or a reused token to refuse.
    Duplicate,
    /// The store could not answer and the policy is to fail open: go ahead, unchecked (count
    /// it).
    AcceptUnchecked,
    /// The store could not answer and the policy is to fail closed: refuse (count it).
    Refuse,
}

/// The failure policy, as a pure decision: webhook dedupe fails open (a delivery processed
/// twice is better than one lost), token reuse checks fail closed (a replayed token must not
/// open a call).
///
/// ```
/// use teler_core::fleet::{OnceKind, StoreError, Verdict, verdict};
/// assert_eq!(verdict(OnceKind::WebhookEvent, Err(StoreError::Timeout)), Verdict::AcceptUnchecked);
/// assert_eq!(verdict(OnceKind::MediaToken, Err(StoreError::Timeout)), Verdict::Refuse);
/// assert_eq!(verdict(OnceKind::MediaToken, Ok(false)), Verdict::Duplicate);
/// ```
pub fn verdict(kind: OnceKind, first_time: Result<bool, StoreError>) -> Verdict {
    match (first_time, kind) {
        (Ok(true), _) => Verdict::Accept,
        (Ok(false), _) => Verdict::Duplicate,
        (Err(_), OnceKind::WebhookEvent) => Verdict::AcceptUnchecked,
        (Err(_), OnceKind::MediaToken) => Verdict::Refuse,
    }
}

/// Remember-once in this process (the default, and a fleet member's fallback for nothing:
/// a fleet uses the shared store). Bounded: past `capacity` unexpired entries it answers
/// [`StoreError::Full`], which the policies turn into accept-unchecked (webhooks) or refuse
/// (tokens). Time is passed in.
#[derive(Debug)]
pub struct MemoryOnce {
    capacity: usize,
    until: HashMap<String, Instant>,
    by_expiry: BTreeSet<(Instant, String)>,
}

impl MemoryOnce {
    /// A store of at most `capacity` unexpired entries (0 is taken as 1).
    pub fn new(capacity: usize) -> Self {
        MemoryOnce {
            capacity: capacity.max(1),
            until: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// `Ok(true)` the first time `key` is seen within `ttl` of `now`, `Ok(false)` after.
    ///
    /// # Errors
    /// [`StoreError::Full`] when `capacity` unexpired entries are held.
    pub fn first_time(
        &mut self,
        key: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<bool, StoreError> {
        while let Some((at, _)) = self.by_expiry.first()
            && *at <= now
        {
            if let Some((_, k)) = self.by_expiry.pop_first() {
                self.until.remove(&k);
            }
        }
        if self.until.contains_key(key) {
            return Ok(false);
        }
        if self.until.len() >= self.capacity {
            return Err(StoreError::Full);
        }
        let until = now + ttl;
        self.until.insert(key.to_owned(), until);
        self.by_expiry.insert((until, key.to_owned()));
        Ok(true)
    }

    /// Unexpired entries held (as of the last call).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_at_their_bounds() {
        assert!(InstanceId::new("a").is_ok());
        assert!(InstanceId::new("a".repeat(64)).is_ok());
        assert_eq!(
            InstanceId::new("a".repeat(65)),
            Err(FleetError::BadInstanceId)
        );
        assert_eq!(InstanceId::new(""), Err(FleetError::BadInstanceId));
        assert_eq!(InstanceId::new("a b"), Err(FleetError::BadInstanceId));
        assert_eq!(InstanceId::new("a:b"), Err(FleetError::BadInstanceId));
        assert!(InstanceId::new("pod-1.zone_a").is_ok());
        assert!(Keys::new("x".repeat(32)).is_ok());
        assert_eq!(Keys::new("x".repeat(33)), Err(FleetError::BadPrefix));
        assert_eq!(Keys::new(""), Err(FleetError::BadPrefix));
        // An instance id from the bus is checked too.
        let bad = r#"{"call_id":"c","instance":"a b"}"#;
        assert!(CallEntry::parse(bad.as_bytes()).is_err());
    }

    #[test]
    fn ids_read_back_and_entries_round_trip_within_their_bound() {
        let id = InstanceId::new("pod-a").unwrap();
        assert_eq!((id.as_str(), id.to_string()), ("pod-a", "pod-a".to_owned()));
        assert_eq!(String::from(id.clone()), "pod-a");
        assert_eq!(Keys::new("f").unwrap().bus(&id), "f:bus:pod-a");
        assert_eq!(Keys::new("f").unwrap().bus_prefix(), "f:bus:");
        let e = CallEntry {
            call_id: "cs_1".into(),
            instance: id,
        };
        assert_eq!(e.to_json(), r#"{"call_id":"cs_1","instance":"pod-a"}"#);
        assert_eq!(CallEntry::parse(e.to_json().as_bytes()), Ok(e.clone()));
        // 1024 bytes is the bound: padded with spaces to exactly it, it parses; one more does not.
        let mut at = e.to_json().into_bytes();
        at.resize(1024, b' ');
        assert_eq!(CallEntry::parse(&at), Ok(e));
        at.push(b' ');
        assert_eq!(CallEntry::parse(&at), Err(FleetError::TooLarge(1025)));
    }

    #[test]
    fn a_command_with_the_largest_default_frame_fits_on_the_bus() {
        let frame = vec![7u8; crate::media::DEFAULT_MAX_FRAME_SIZE];
        let m = BusMessage::Request {
            id: u64::MAX,
            call_id: "c".repeat(128),
            command: WireCommand::from_command(&Command::SendToRemote(OutFrame::Binary(frame)))
                .unwrap(),
            reply_to: "teler:bus:pod-a".into(),
        };
        let json = m.to_json();
        assert!(json.len() <= MAX_BUS_MESSAGE, "{} bytes", json.len());
        assert_eq!(BusMessage::parse(json.as_bytes()), Ok(m));
    }

    #[test]
    fn keys_hash_untrusted_ids_and_differ_by_kind() {
        let k = Keys::new("fleet1").unwrap();
        let a = k.once(OnceKind::WebhookEvent, b"evt_1");
        let b = k.once(OnceKind::MediaToken, b"evt_1");
        assert_ne!(a, b);
        assert_eq!(a.len(), "fleet1:once:event:".len() + 64);
        assert_eq!(k.once(OnceKind::WebhookEvent, b"evt_1"), a, "stable");
        assert_ne!(k.once(OnceKind::WebhookEvent, b"evt_2"), a);
        let long = "c".repeat(10_000);
        assert_eq!(k.call(&long).len(), "fleet1:call:".len() + 64);
        assert_ne!(k.call("cs_1"), k.call("cs_2"));
    }

    #[test]
    fn commands_cross_the_bus_unchanged() {
        for c in [
            Command::SendToTeler(r#"{"type":"clear"}"#.into()),
            Command::to_remote("hi"),
            Command::SendToRemote(OutFrame::Binary(vec![0, 1, 255])),
            Command::stop("operator"),
            Command::GoAway,
        ] {
            let w = WireCommand::from_command(&c).unwrap();
            let m = BusMessage::Request {
                id: 1,
                call_id: "cs_1".into(),
                command: w,
                reply_to: "teler:bus:a".into(),
            };
            let BusMessage::Request { command, .. } =
                BusMessage::parse(m.to_json().as_bytes()).unwrap()
            else {
                panic!("not a request");
            };
            assert_eq!(command.into_command().unwrap(), c);
        }
        let bad = WireCommand::SendBinaryToRemote { b64: "!!".into() };
        assert!(bad.into_command().is_err());
    }

    #[test]
    fn bus_messages_are_bounded_and_checked() {
        let big = vec![b' '; MAX_BUS_MESSAGE + 1];
        assert_eq!(
            BusMessage::parse(&big),
            Err(FleetError::TooLarge(MAX_BUS_MESSAGE + 1))
        );
        let at = vec![b' '; MAX_BUS_MESSAGE];
        assert!(matches!(
            BusMessage::parse(&at),
            Err(FleetError::Malformed(_))
        ));
        assert!(BusMessage::parse(br#"{"kind":"reply","id":1}"#).is_err());
        assert!(
            BusMessage::parse(br#"{"kind":"reply","id":-1,"outcome":{"outcome":"delivered"}}"#)
                .is_err()
        );
        let ok = br#"{"kind":"reply","id":1,"outcome":{"outcome":"invalid","message":"x"}}"#;
        assert_eq!(
            BusMessage::parse(ok),
            Ok(BusMessage::Reply {
                id: 1,
                outcome: Outcome::Invalid {
                    message: "x".into()
                }
            })
        );
    }

    #[test]
    fn the_policies_fail_open_for_webhooks_and_closed_for_tokens() {
        for e in [
            StoreError::Timeout,
            StoreError::Full,
            StoreError::Unavailable("x".into()),
        ] {
            assert_eq!(
                verdict(OnceKind::WebhookEvent, Err(e.clone())),
                Verdict::AcceptUnchecked
            );
            assert_eq!(verdict(OnceKind::MediaToken, Err(e)), Verdict::Refuse);
        }
        for kind in [OnceKind::WebhookEvent, OnceKind::MediaToken] {
            assert_eq!(verdict(kind, Ok(true)), Verdict::Accept);
            assert_eq!(verdict(kind, Ok(false)), Verdict::Duplicate);
        }
    }

    #[test]
    fn memory_once_remembers_for_the_ttl_and_is_bounded() {
        let t0 = crate::test_epoch();
        let ttl = Duration::from_secs(10);
        let mut m = MemoryOnce::new(2);
        assert!(m.is_empty());
        assert_eq!(m.first_time("a", ttl, t0), Ok(true));
        assert!(!m.is_empty());
        assert_eq!(
            m.first_time("a", ttl, t0 + ttl - Duration::from_nanos(1)),
            Ok(false)
        );
        assert_eq!(m.first_time("b", ttl, t0), Ok(true));
        assert_eq!(m.len(), 2);
        assert_eq!(m.first_time("c", ttl, t0), Err(StoreError::Full));
        // At its expiry exactly, an entry is forgotten.
        assert_eq!(m.first_time("a", ttl, t0 + ttl), Ok(true));
        assert_eq!(m.len(), 1, "b expired with a");
        assert_eq!(m.first_time("c", ttl, t0 + ttl), Ok(true));
        assert_eq!(MemoryOnce::new(0).first_time("x", ttl, t0), Ok(true));
    }
}
