//! The emulator's shared state: configuration, calls, idempotency answers.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::model::Call;
use crate::wav::Pcm;
use crate::webhook::WebhookVersion;

/// The most calls kept; beyond it the oldest ended calls are forgotten.
pub const MAX_CALLS: usize = 100_000;
/// The most idempotency answers kept; beyond it the oldest are forgotten.
pub const MAX_IDEMPOTENCY_KEYS: usize = 10_000;
/// The most bytes of idempotency answers kept (keys and answers; request bodies are kept as
/// a 32-byte digest); beyond it the oldest are forgotten.
pub const MAX_IDEMPOTENCY_BYTES: usize = 8 * 1024 * 1024;

/// What a remembered request body is compared by: its SHA-256, so a replay with another
/// body is told apart without keeping the body.
pub(crate) fn body_digest(body: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(body).into()
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub api_key: String,
    pub account_id: String,
    pub voice_app_id: String,
    pub webhook_version: WebhookVersion,
    pub secret: Option<String>,
    /// None: as fast as the app reads; Some(s): s times real time.
    pub speed: Option<f64>,
    pub call_duration: Duration,
    pub ring_time: Duration,
    pub play_duration: Duration,
    pub drain_idle: Duration,
    pub http_timeout: Duration,
    pub output_dir: Option<PathBuf>,
    pub log: bool,
    pub socket_call_id: crate::SocketCallId,
    /// Attempts per webhook delivery (1 = no retry).
    pub webhook_attempts: u32,
    /// Wait before the first retry; doubled before each next one.
    pub webhook_backoff: Duration,
    /// Deliver every webhook twice.
    pub webhook_duplicates: bool,
    /// Serve the call inspector and dev phone.
    pub inspector: bool,
    /// Addresses (`HOST:PORT`) every request to the app is spread over, round-robin; empty:
    /// URLs are used as given.
    pub balance: Vec<String>,
}

/// The inbound audio, ready at both sample rates.
#[derive(Debug)]
pub(crate) struct Sources {
    pub k8: Arc<Pcm>,
    pub k16: Arc<Pcm>,
}

impl Sources {
    pub fn at(&self, hz: u32) -> Arc<Pcm> {
        if hz == 16000 {
            self.k16.clone()
        } else {
            self.k8.clone()
        }
    }
}

pub(crate) struct Entry {
    pub call: Call,
    pub hangup: watch::Sender<Option<String>>,
    pub done: watch::Sender<bool>,
}

#[derive(Default)]
pub(crate) struct Store {
    pub calls: HashMap<String, Entry>,
    /// Call ids, oldest first.
    pub order: VecDeque<String>,
    pub next_seq: u64,
    /// key -> (request body's digest, status, answer).
    pub idem: HashMap<String, ([u8; 32], u16, serde_json::Value)>,
    /// Keys, oldest first, with the bytes each entry holds.
    pub idem_order: VecDeque<(String, usize)>,
    /// Bytes held by `idem` (keys, digests, answers).
    pub idem_bytes: usize,
}

impl Store {
    pub fn insert(&mut self, mut call: Call) -> (watch::Receiver<Option<String>>, String) {
        call.seq = self.next_seq;
        self.next_seq += 1;
        let id = call.id.clone();
        let (hangup, hangup_rx) = watch::channel(None);
        let (done, _) = watch::channel(false);
        self.calls.insert(id.clone(), Entry { call, hangup, done });
        self.order.push_back(id.clone());
        if self.order.len() > MAX_CALLS {
            let ended = self
                .order
                .iter()
                .position(|i| self.calls.get(i).is_some_and(|e| e.call.state.is_final()));
            if let Some(pos) = ended
                && let Some(old) = self.order.remove(pos)
            {
                self.calls.remove(&old);
            }
        }
        (hangup_rx, id)
    }

    pub fn remember(&mut self, key: String, body: &[u8], status: u16, answer: serde_json::Value) {
        let size = key.len() + 32 + answer.to_string().len();
        if self
            .idem
            .insert(key.clone(), (body_digest(body), status, answer))
            .is_none()
        {
            self.idem_order.push_back((key, size));
            self.idem_bytes += size;
        }
        while self.idem_order.len() > MAX_IDEMPOTENCY_KEYS
            || (self.idem_bytes > MAX_IDEMPOTENCY_BYTES && self.idem_order.len() > 1)
        {
            if let Some((old, size)) = self.idem_order.pop_front() {
                self.idem.remove(&old);
                self.idem_bytes -= size;
            }
        }
    }
}

pub(crate) struct Shared {
    pub cfg: Config,
    pub sources: Sources,
    pub store: Mutex<Store>,
    /// The call inspector and dev phone (`/`).
    pub inspector: crate::inspector::Inspector,
    /// Where each request to the app goes (`cfg.balance`).
    pub balancer: crate::balance::Balancer,
}

impl Shared {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a call half-written in a way that
        // matters more than losing the emulator: keep serving.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The URL to request for the app's `url` (a flow URL, a `ws_url`, a status callback
    /// URL): `url`, or with [`balance`](crate::EmulatorBuilder::balance) the next address in
    /// turn in its place.
    pub fn route(&self, url: &str) -> String {
        self.balancer.route(url)
    }

    /// Runs `f` on a call, if it exists.
    pub fn with_call<R>(&self, id: &str, f: impl FnOnce(&mut Call) -> R) -> Option<R> {
        let r = self.store().calls.get_mut(id).map(|e| f(&mut e.call));
        self.inspector.touch(id);
        r
    }

    pub fn log(&self, call_id: &str, msg: impl std::fmt::Display) {
        if self.cfg.log {
            eprintln!("teler-emulator [{call_id}] {msg}");
        }
    }

    /// Logs and records an error on the call.
    pub fn error(&self, call_id: &str, msg: String) {
        self.log(call_id, format_args!("error: {msg}"));
        self.with_call(call_id, |c| c.push_error(msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_answers_are_bounded_in_bytes_not_by_request_bodies() {
        let mut st = Store::default();
        let big_body = vec![b'x'; 1_900_000];
        for i in 0..60 {
            st.remember(
                format!("cs_1/hangup/key-{i}"),
                &big_body,
                200,
                serde_json::json!({"request_id": i}),
            );
        }
        assert_eq!(st.idem.len(), 60, "all 60 kept: bodies are held as digests");
        assert!(
            st.idem_bytes < 10_000,
            "{} bytes for 60 answers",
            st.idem_bytes
        );
        let (digest, _, _) = &st.idem["cs_1/hangup/key-0"];
        assert_eq!(*digest, body_digest(&big_body));
        assert_ne!(*digest, body_digest(b"another body"));
        // Large answers: the byte bound forgets the oldest.
        let big_answer = serde_json::json!({"data": "y".repeat(1 << 20)});
        for i in 0..20 {
            st.remember(format!("k{i}"), b"{}", 200, big_answer.clone());
        }
        assert!(st.idem_bytes <= MAX_IDEMPOTENCY_BYTES, "{}", st.idem_bytes);
        assert!(!st.idem.contains_key("k0"), "the oldest went first");
        assert!(st.idem.contains_key("k19"));
    }
}
