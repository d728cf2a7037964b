//! The dev phone's WebSocket (`/inspector/api/phone`): the browser as the person on the call.
//!
//! The page sends JSON text messages: `{"type":"dial","flow_url",…}` (call the app: the
//! emulator places a call whose caller is this page), `{"type":"ready"}` /
//! `{"type":"unready"}` (ring this page for calls the app places over REST),
//! `{"type":"answer"}`, `{"type":"reject"}`, `{"type":"hangup"}`, and the caller's audio as
//! Teler `audio` frames, `{"type":"audio","data":{"audio_b64":…}}`, one per `chunk_size`
//! at the stream's rate (the emulator stamps `stream_id` and `message_id` and sends them
//! on). It is sent `placed`, `incoming`, `start` (`sample_rate`, `chunk_ms`), the app's own
//! `audio`/`clear`/`interrupt` frames as the app sent them, `stream_end`, `ended`
//! (`state`, `reason`) and `error` (`message`) for a message it could not use.
//!
//! Both directions are bounded: the page's audio waits in a queue of [`TO_CALL`] frames
//! (more are dropped and counted), the app's frames for the page in one of [`TO_PAGE`]
//! messages (more are dropped and marked on the call).

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::lock;
use crate::model::Call;
use crate::store::Shared;

/// Caller frames from the page waiting for the call.
pub const TO_CALL: usize = 64;
/// App messages waiting for the page.
pub const TO_PAGE: usize = 1024;

/// What the page tells the call.
#[derive(Debug)]
pub(crate) enum PhoneIn {
    /// One frame of caller audio at the stream's rate.
    Audio(Vec<i16>),
    /// The page answered a ringing call.
    Answer,
}

/// The call's end of a dev phone. The page hanging up (or going away) closes `rx`.
#[derive(Debug)]
pub(crate) struct PhoneLink {
    pub rx: mpsc::Receiver<PhoneIn>,
    pub tx: mpsc::Sender<String>,
    /// The call rings until the page answers (a call the app placed).
    pub answer_needed: bool,
}

impl PhoneLink {
    /// Sends `msg` to the page; false if its queue is full or it has gone.
    pub fn send(&self, msg: String) -> bool {
        self.tx.try_send(msg).is_ok()
    }
}

/// The page's end.
struct PageLink {
    call_id: String,
    from: String,
    to: String,
    tx: Option<mpsc::Sender<PhoneIn>>,
    rx: mpsc::Receiver<String>,
}

fn pair(call: &Call, answer_needed: bool) -> (PhoneLink, PageLink) {
    let (in_tx, in_rx) = mpsc::channel(TO_CALL);
    let (out_tx, out_rx) = mpsc::channel(TO_PAGE);
    (
        PhoneLink {
            rx: in_rx,
            tx: out_tx,
            answer_needed,
        },
        PageLink {
            call_id: call.id.clone(),
            from: call.from_number.clone(),
            to: call.to_number.clone(),
            tx: Some(in_tx),
            rx: out_rx,
        },
    )
}

/// A page waiting for a call.
#[derive(Debug)]
pub(crate) struct Ready {
    offer: oneshot::Sender<PageLink>,
}

impl std::fmt::Debug for PageLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageLink({})", self.call_id)
    }
}

/// Rings a waiting page for `call` (placed over REST), if one is waiting.
pub(crate) fn claim(sh: &Shared, call: &Call) -> Option<PhoneLink> {
    if !sh.inspector.enabled() {
        return None;
    }
    let mut ready = lock(&sh.inspector.ready);
    while let Some(r) = ready.pop_front() {
        let (link, page) = pair(call, true);
        if r.offer.send(page).is_ok() {
            return Some(link);
        }
    }
    None
}

#[derive(Debug, Deserialize)]
struct AudioData {
    audio_b64: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FromPage {
    Dial {
        flow_url: String,
        #[serde(default)]
        status_callback_url: Option<String>,
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        to: Option<String>,
    },
    Ready,
    Unready,
    Answer,
    Reject,
    Hangup,
    Audio {
        data: AudioData,
    },
}

/// The next message from the page: `None` once it has gone, `Some(Err)` for one it
/// cannot use (the reason is sent back).
async fn next(ws: &mut WebSocket) -> Option<Result<FromPage, String>> {
    loop {
        match ws.recv().await? {
            Ok(Message::Text(t)) => {
                return Some(serde_json::from_str::<FromPage>(t.as_str()).map_err(|e| {
                    let snippet: String = t.as_str().chars().take(80).collect();
                    format!("cannot read {snippet:?}: {e}")
                }));
            }
            Ok(Message::Binary(_)) => {
                return Some(Err("binary messages are not read: send JSON text".into()));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn send(ws: &mut WebSocket, v: serde_json::Value) -> bool {
    ws.send(Message::Text(v.to_string().into())).await.is_ok()
}

async fn error(ws: &mut WebSocket, message: impl Into<String>) -> bool {
    send(ws, json!({ "type": "error", "message": message.into() })).await
}

fn check_url(name: &str, url: &str) -> Result<(), String> {
    if url.starts_with("http://")
        && !url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        Ok(())
    } else {
        Err(format!("{name} must be an http:// URL, got {url:?}"))
    }
}

fn check_number(name: &str, n: &str) -> Result<(), String> {
    if teler_core::flow::is_e164(n) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be an E.164 number like +15550100001, got {n:?}"
        ))
    }
}

/// Serves one page's phone until it goes away: one call at a time.
pub(crate) async fn run(sh: Arc<Shared>, mut ws: WebSocket) {
    loop {
        let Some(msg) = next(&mut ws).await else {
            return;
        };
        let ok = match msg {
            Err(e) => error(&mut ws, e).await,
            Ok(FromPage::Dial {
                flow_url,
                status_callback_url,
                from,
                to,
            }) => {
                let cb = status_callback_url.filter(|u| !u.trim().is_empty());
                let from = from.unwrap_or_else(|| "+15550100001".into());
                let to = to.unwrap_or_else(|| "+15550100002".into());
                let checked = check_url("flow_url", &flow_url)
                    .and_then(|()| {
                        cb.as_deref()
                            .map_or(Ok(()), |u| check_url("status_callback_url", u))
                    })
                    .and_then(|()| check_number("from", &from))
                    .and_then(|()| check_number("to", &to));
                match checked {
                    Err(e) => error(&mut ws, e).await,
                    Ok(()) => {
                        let mut page = None;
                        let call =
                            crate::runner::place_with(&sh, from, to, flow_url, cb, true, |call| {
                                let (link, p) = pair(call, false);
                                page = Some(p);
                                Some(link)
                            });
                        match page {
                            Some(p) => {
                                send(&mut ws, json!({ "type": "placed", "call_id": call.id })).await
                                    && session(&sh, &mut ws, p).await
                            }
                            None => error(&mut ws, "the call could not be placed").await,
                        }
                    }
                }
            }
            Ok(FromPage::Ready) => ready(&sh, &mut ws).await,
            // Late messages of a call that has ended.
            Ok(FromPage::Audio { .. } | FromPage::Hangup | FromPage::Unready) => true,
            Ok(FromPage::Answer | FromPage::Reject) => error(&mut ws, "no call is ringing").await,
        };
        if !ok {
            return;
        }
    }
}

/// Waits, ringing this page for the next call the app places; false once the page has gone.
async fn ready(sh: &Arc<Shared>, ws: &mut WebSocket) -> bool {
    let (tx, mut rx) = oneshot::channel();
    {
        let mut ready = lock(&sh.inspector.ready);
        ready.retain(|r| !r.offer.is_closed());
        ready.push_back(Ready { offer: tx });
    }
    if !send(ws, json!({ "type": "ready" })).await {
        return false;
    }
    loop {
        tokio::select! {
            offer = &mut rx => return match offer {
                Ok(p) => {
                    send(ws, json!({ "type": "incoming", "call_id": p.call_id, "from": p.from, "to": p.to })).await
                        && session(sh, ws, p).await
                }
                Err(_) => true,
            },
            m = next(ws) => match m {
                None => return false,
                Some(Ok(FromPage::Unready)) => {
                    return send(ws, json!({ "type": "unready" })).await;
                }
                Some(Ok(FromPage::Audio { .. } | FromPage::Hangup | FromPage::Ready)) => {}
                Some(Ok(_)) => {
                    if !error(ws, "waiting for a call: send unready first").await {
                        return false;
                    }
                }
                Some(Err(e)) => {
                    if !error(ws, e).await {
                        return false;
                    }
                }
            },
        }
    }
}

/// Carries one call between the page and the call; false once the page has gone.
async fn session(sh: &Arc<Shared>, ws: &mut WebSocket, mut p: PageLink) -> bool {
    let mut dropped: u64 = 0;
    loop {
        tokio::select! {
            out = p.rx.recv() => match out {
                Some(s) => {
                    if ws.send(Message::Text(s.into())).await.is_err() {
                        return false;
                    }
                }
                None => break,
            },
            m = next(ws) => match m {
                // Gone: closing our end hangs up.
                None => return false,
                Some(Ok(FromPage::Audio { data })) => {
                    match crate::runner::decode_pcm(&data.audio_b64) {
                        Ok(samples) => {
                            if let Some(tx) = &p.tx
                                && tx.try_send(PhoneIn::Audio(samples)).is_err()
                            {
                                dropped += 1;
                                if dropped.is_power_of_two() {
                                    sh.inspector.log(|l| l.mark(&p.call_id, "phone_dropped", format!("{dropped} caller frames dropped: the call is not keeping up")));
                                }
                            }
                        }
                        Err(e) => {
                            if !error(ws, e).await {
                                return false;
                            }
                        }
                    }
                }
                Some(Ok(FromPage::Answer)) => {
                    if let Some(tx) = &p.tx {
                        let _ = tx.try_send(PhoneIn::Answer);
                    }
                }
                Some(Ok(FromPage::Hangup | FromPage::Reject)) => p.tx = None,
                Some(Ok(FromPage::Dial { .. } | FromPage::Ready | FromPage::Unready)) => {
                    if !error(ws, "already on a call: hang up first").await {
                        return false;
                    }
                }
                Some(Err(e)) => {
                    if !error(ws, e).await {
                        return false;
                    }
                }
            },
        }
    }
    let (state, reason) = sh
        .with_call(&p.call_id, |c| (c.state.as_str(), c.reason.clone()))
        .unwrap_or(("failed", None));
    send(
        ws,
        json!({ "type": "ended", "call_id": p.call_id, "state": state, "reason": reason }),
    )
    .await
}
