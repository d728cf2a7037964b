//! Plays one call as Teler does: webhooks, the flow request, the media stream, the end.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use teler_core::flow::{Action, Stream};
use teler_core::media::AppMessage;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tungstenite::Message;

use crate::SocketCallId;
use crate::inspector::{Dir, PhoneIn, PhoneLink};
use crate::model::{Call, CallState, MediaStats, WebhookDelivery};
use crate::store::Shared;
use crate::util::{new_uuid, now_unix_ms, rfc3339};
use crate::wav::WavWriter;
use crate::webhook::{EventSubject, WebhookVersion, event_body, signature_headers};

/// How long a send to the app may block before the stream is declared dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The most app audio queued for playback (2 minutes at 8 kHz).
const MAX_QUEUED_SAMPLES: usize = 8000 * 120;

/// The longest call the dev phone can hold.
const PHONE_MAX: Duration = Duration::from_secs(3600);
/// How long a call rings a dev phone before it counts as not answered.
const PHONE_RING: Duration = Duration::from_secs(60);

/// Creates the call record and starts playing it. A dev phone waiting for calls in the
/// inspector rings and becomes the callee.
pub(crate) fn place(
    sh: &Arc<Shared>,
    from: String,
    to: String,
    flow_url: String,
    cb: Option<String>,
    record: bool,
) -> Call {
    place_with(sh, from, to, flow_url, cb, record, |_| None)
}

/// As [`place`]; `phone` may make the call's caller a dev phone (an inbound call to the
/// app), otherwise a waiting dev phone, if any, is rung.
pub(crate) fn place_with(
    sh: &Arc<Shared>,
    from: String,
    to: String,
    flow_url: String,
    cb: Option<String>,
    record: bool,
    phone: impl FnOnce(&Call) -> Option<PhoneLink>,
) -> Call {
    let mut call = crate::rest::new_call(sh, from, to, flow_url, cb, record);
    let phone = match phone(&call) {
        Some(p) => {
            call.direction = "inbound".into();
            for l in &mut call.legs {
                l.direction = "inbound".into();
                l.role = "caller".into();
            }
            Some(p)
        }
        None => crate::inspector::claim_phone(sh, &call),
    };
    let (hangup_rx, id) = sh.store().insert(call.clone());
    sh.inspector.log(|l| {
        l.state(&id, "initiated");
        l.entry(&id).phone = phone
            .as_ref()
            .map(|p| if p.answer_needed { "callee" } else { "caller" });
    });
    sh.inspector.touch(&id);
    sh.log(
        &id,
        format_args!("initiated {} -> {}", call.from_number, call.to_number),
    );
    tokio::spawn(run_call(sh.clone(), id, hangup_rx, phone));
    call
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// One event waiting for a delivery attempt.
struct Pending {
    event: &'static str,
    body: String,
    event_id: Option<String>,
    /// The attempt about to be made (1 = first).
    attempt: u32,
    duplicate: bool,
    due: Instant,
}

impl Pending {
    /// The first attempt of an event that just happened (its body is made now).
    fn new(
        sh: &Shared,
        subject: &EventSubject,
        event: &'static str,
        data: Map<String, Value>,
    ) -> Pending {
        let (body, event_id) = event_body(sh.cfg.webhook_version, event, subject, data);
        Pending {
            event,
            body,
            event_id,
            attempt: 1,
            duplicate: false,
            due: Instant::now(),
        }
    }
}

/// Delivers one call's webhooks one at a time, in the order they happen; a failed delivery
/// is retried after a doubling backoff while later events go ahead (see `webhook`).
struct Hooks {
    tx: mpsc::UnboundedSender<(&'static str, Map<String, Value>)>,
    task: JoinHandle<()>,
}

impl Hooks {
    fn spawn(sh: &Arc<Shared>, subject: EventSubject, url: Option<String>) -> Hooks {
        let (tx, mut rx) = mpsc::unbounded_channel::<(&'static str, Map<String, Value>)>();
        let sh = sh.clone();
        let task = tokio::spawn(async move {
            let mut queue: VecDeque<Pending> = VecDeque::new();
            let mut open = true;
            loop {
                // Take every event already sent (the body is made when the event happens).
                while open {
                    match rx.try_recv() {
                        Ok((event, data)) => {
                            if url.is_some() {
                                queue.push_back(Pending::new(&sh, &subject, event, data));
                            }
                        }
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => open = false,
                    }
                }
                let now = Instant::now();
                if let Some(i) = queue.iter().position(|p| p.due <= now)
                    && let (Some(p), Some(url)) = (queue.remove(i), &url)
                {
                    deliver(&sh, &subject.call_id, url, p, &mut queue).await;
                    continue;
                }
                if !open && queue.is_empty() {
                    break;
                }
                let next_due = queue.iter().map(|p| p.due).min();
                tokio::select! {
                    m = rx.recv(), if open => match m {
                        Some((event, data)) => {
                            if url.is_some() {
                                queue.push_back(Pending::new(&sh, &subject, event, data));
                            }
                        }
                        None => open = false,
                    },
                    _ = tokio::time::sleep_until(next_due.unwrap_or(now)), if next_due.is_some() => {}
                }
            }
        });
        Hooks { tx, task }
    }

    fn send(&self, event: &'static str, data: Value) {
        let _ = self.tx.send((event, obj(data)));
    }

    /// Waits until every queued event has been delivered, retried to the last attempt, or
    /// `limit` has passed.
    async fn finish(self, limit: Duration) {
        drop(self.tx);
        let mut task = self.task;
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Makes one delivery attempt of `p`; queues its retry or its duplicate.
async fn deliver(sh: &Shared, call_id: &str, url: &str, p: Pending, queue: &mut VecDeque<Pending>) {
    // Signed afresh on every attempt: same body, a current timestamp.
    let headers: Vec<(&str, String)> = match &sh.cfg.secret {
        Some(secret) => signature_headers(secret, now_unix_ms() / 1000, p.body.as_bytes()),
        None => Vec::new(),
    };
    // Each attempt (a retry, a duplicate) takes the balancer's next turn.
    let target = sh.route(url);
    let r = crate::http::post_json(&target, p.body.clone(), &headers, sh.cfg.http_timeout).await;
    let (status, error) = match r {
        Ok(a) if (200..300).contains(&a.status) => (Some(a.status), None),
        Ok(a) => (
            Some(a.status),
            Some(format!("the receiver answered HTTP {}", a.status)),
        ),
        Err(e) => (None, Some(e)),
    };
    let ok = error.is_none();
    if let Some(e) = &error {
        let next = if p.attempt < sh.cfg.webhook_attempts {
            "will retry"
        } else {
            "giving up"
        };
        sh.log(
            call_id,
            format_args!("webhook {} (attempt {}): {e}; {next}", p.event, p.attempt),
        );
    }
    let d = WebhookDelivery {
        event: p.event.into(),
        event_id: p.event_id.clone(),
        attempt: p.attempt,
        duplicate: p.duplicate,
        url: target,
        status,
        error,
    };
    sh.with_call(call_id, |c| {
        if c.webhooks.len() < 500 {
            c.webhooks.push(d)
        }
    });
    if !ok && p.attempt < sh.cfg.webhook_attempts {
        let wait = sh.cfg.webhook_backoff * 2u32.saturating_pow(p.attempt - 1);
        queue.push_back(Pending {
            attempt: p.attempt + 1,
            due: Instant::now() + wait,
            ..p
        });
    } else if ok && sh.cfg.webhook_duplicates && !p.duplicate {
        queue.push_back(Pending {
            attempt: 1,
            duplicate: true,
            due: Instant::now(),
            ..p
        });
    }
}

/// Resolves with the reason once a REST hangup arrives; never if none does.
async fn hangup_signal(rx: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(r) = rx.borrow_and_update().clone() {
            return r;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

struct End {
    state: CallState,
    /// The detailed reason shown on REST (`reason`), e.g. `flow_error`.
    reason: String,
    ended_by: &'static str,
    /// `call.failed`'s `reason` in 2026-06-01 (`docs/PROTOCOL.md#event-types` lists `no_answer`,
    /// `user_busy`, `canceled`, `carrier_error`), for a failed call.
    webhook_reason: &'static str,
}

impl End {
    fn completed(reason: impl Into<String>, by: &'static str) -> End {
        End {
            state: CallState::Completed,
            reason: reason.into(),
            ended_by: by,
            webhook_reason: "",
        }
    }
    /// A failure of the emulator's own making: the flow URL, the action, the `ws_url`, an
    /// app that stops reading. Teler's `call.failed` reasons are about the callee and the
    /// network; none names an app error, so these are `carrier_error` (the call could not
    /// be carried), with the detail in the call's `reason` and `errors` on REST.
    fn failed(reason: impl Into<String>) -> End {
        End {
            state: CallState::Failed,
            reason: reason.into(),
            ended_by: "system",
            webhook_reason: "carrier_error",
        }
    }
    /// A REST hangup before the call was answered.
    fn canceled(reason: String) -> End {
        End {
            state: CallState::Failed,
            reason: format!("canceled: {}", reason.to_ascii_lowercase()),
            ended_by: "api",
            webhook_reason: "canceled",
        }
    }
    fn hangup(reason: String) -> End {
        End::completed(reason.to_ascii_lowercase(), "api")
    }
    /// A dev phone that did not answer (`no_answer`) or refused (`user_busy`).
    fn not_answered(reason: &str, webhook_reason: &'static str) -> End {
        End {
            state: CallState::Failed,
            reason: reason.into(),
            ended_by: "callee",
            webhook_reason,
        }
    }
}

fn scaled(sh: &Shared, d: Duration) -> Duration {
    match sh.cfg.speed {
        Some(s) if s > 0.0 => d.div_f64(s),
        _ => Duration::ZERO,
    }
}

fn set_state(sh: &Shared, id: &str, state: CallState) {
    sh.with_call(id, |c| {
        c.state = state;
        for l in &mut c.legs {
            l.state = state;
        }
    });
    sh.inspector.log(|l| l.state(id, state.as_str()));
}

/// Marks the call done however `run_call` ends (even by a panic), so
/// `wait_for_call_end` can never wait forever.
struct DoneGuard(Arc<Shared>, String);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let mut st = self.0.store();
        if let Some(e) = st.calls.get_mut(&self.1) {
            if !e.call.state.is_final() {
                e.call.state = CallState::Failed;
                e.call.reason = Some("emulator_error".into());
                e.call
                    .push_error("the emulator stopped playing this call".into());
            }
            e.done.send_replace(true);
        }
        drop(st);
        self.0.inspector.touch(&self.1);
    }
}

/// How a dev phone's ringing ended.
enum Ring {
    Answered,
    /// The page rejected the call, hung up or went away.
    Rejected,
}

async fn wait_answer(p: &mut PhoneLink) -> Ring {
    loop {
        match p.rx.recv().await {
            Some(PhoneIn::Answer) => return Ring::Answered,
            Some(PhoneIn::Audio(_)) => {}
            None => return Ring::Rejected,
        }
    }
}

async fn run_call(
    sh: Arc<Shared>,
    id: String,
    mut hangup: watch::Receiver<Option<String>>,
    mut phone: Option<PhoneLink>,
) {
    let _done = DoneGuard(sh.clone(), id.clone());
    let Some(c) = sh.with_call(&id, |c| c.clone()) else {
        return;
    };
    let subject = EventSubject {
        call_id: c.id.clone(),
        leg_id: c.legs.first().map(|l| l.id.clone()).unwrap_or_default(),
        account_id: c.account_id.clone(),
        voice_app_id: c.voice_app_id.clone(),
        from: c.from_number.clone(),
        to: c.to_number.clone(),
    };
    let cb = c.properties["status_callback_url"]
        .as_str()
        .map(str::to_owned);
    let hooks = Hooks::spawn(&sh, subject, cb);
    hooks.send("call.initiated", json!({ "start_time": c.created_at }));
    set_state(&sh, &id, CallState::Ringing);
    hooks.send("call.ringing", json!({}));

    let mut answered_ms = None;
    let end = 'call: {
        match phone.as_mut().filter(|p| p.answer_needed) {
            // A dev phone rings until it answers (in real time, whatever the speed).
            Some(p) => tokio::select! {
                r = hangup_signal(&mut hangup) => break 'call End::canceled(r),
                a = wait_answer(p) => if let Ring::Rejected = a {
                    break 'call End::not_answered("rejected_by_phone", "user_busy");
                },
                _ = tokio::time::sleep(PHONE_RING) => {
                    break 'call End::not_answered("phone_not_answered", "no_answer");
                }
            },
            None => tokio::select! {
                r = hangup_signal(&mut hangup) => break 'call End::canceled(r),
                _ = tokio::time::sleep(scaled(&sh, sh.cfg.ring_time)) => {}
            },
        }
        let now = now_unix_ms();
        answered_ms = Some(now);
        let answered_at = rfc3339(now);
        sh.with_call(&id, |c| {
            c.state = CallState::InProgress;
            c.answered_at = Some(answered_at.clone());
            for l in &mut c.legs {
                l.state = CallState::InProgress;
                l.answered_at = Some(answered_at.clone());
            }
        });
        sh.inspector.log(|l| l.state(&id, "in_progress"));
        sh.log(&id, "answered");
        hooks.send("call.answered", json!({ "answer_time": answered_at }));

        let mut next = c.properties["flow_url"].as_str().map(str::to_owned);
        let mut streams = 0u32;
        // The call's id on its media streams (docs/PROTOCOL.md#teler-to-app-start: it can differ
        // in form from
        // the REST id); one per call, the same on every stream of it.
        let socket_call_id = match sh.cfg.socket_call_id {
            SocketCallId::SameAsRest => id.clone(),
            _ => new_uuid(),
        };
        loop {
            let Some(url) = next.take() else {
                break 'call End::completed("flow_finished", "flow");
            };
            let action = tokio::select! {
                r = hangup_signal(&mut hangup) => break 'call End::hangup(r),
                a = fetch_flow(&sh, &c, &url) => a,
            };
            let action = match action {
                Ok(a) => a,
                Err(e) => {
                    sh.error(&id, e);
                    break 'call End::failed("flow_error");
                }
            };
            sh.log(&id, format_args!("flow action {}", action.to_json()));
            sh.with_call(&id, |c| c.push_note(format!("flow {}", action.to_json())));
            match action {
                Action::Stream(s) => {
                    streams += 1;
                    match run_stream(
                        &sh,
                        &id,
                        &socket_call_id,
                        &s,
                        streams,
                        &mut hangup,
                        &hooks,
                        &mut phone,
                    )
                    .await
                    {
                        StreamEnd::Duration => {
                            break 'call End::completed("call_duration_elapsed", "timer");
                        }
                        StreamEnd::Hangup(r) => break 'call End::hangup(r),
                        StreamEnd::CallerHangup => {
                            break 'call End::completed("caller_hangup", "caller");
                        }
                        StreamEnd::AppClosed => match s.flow_url {
                            Some(f) => next = Some(f),
                            None => break 'call End::completed("stream_closed_by_app", "app"),
                        },
                        StreamEnd::Failed(reason) => break 'call End::failed(reason),
                    }
                }
                Action::Play(p) => {
                    tokio::select! {
                        r = hangup_signal(&mut hangup) => break 'call End::hangup(r),
                        _ = tokio::time::sleep(scaled(&sh, sh.cfg.play_duration)) => {}
                    }
                    match p.flow_url {
                        Some(f) => next = Some(f),
                        None => break 'call End::completed("play_finished", "flow"),
                    }
                }
                Action::Hangup => break 'call End::completed("flow_hangup", "flow"),
                Action::Dial(d) => {
                    sh.error(
                        &id,
                        format!("the dial action (to {}) is not emulated", d.to),
                    );
                    break 'call End::failed("dial_not_emulated");
                }
                other => {
                    sh.error(&id, format!("unsupported flow action {}", other.to_json()));
                    break 'call End::failed("unsupported_action");
                }
            }
        }
    };

    let now = now_unix_ms();
    let ended_at = rfc3339(now);
    sh.with_call(&id, |c| {
        c.state = end.state;
        c.ended_at = Some(ended_at.clone());
        c.reason = Some(end.reason.clone());
        for l in &mut c.legs {
            l.state = end.state;
            l.ended_at = Some(ended_at.clone());
            l.reason = Some(end.reason.clone());
            l.ended_by = Some(end.ended_by.to_owned());
        }
    });
    sh.inspector.log(|l| l.state(&id, end.state.as_str()));
    sh.inspector.touch(&id);
    // The dev phone learns the end now, not after the last webhook retry.
    drop(phone);
    sh.log(&id, format_args!("{} ({})", end.state.as_str(), end.reason));
    let duration = answered_ms.map_or(0, |a| now.saturating_sub(a) / 1000);
    if end.state == CallState::Failed && sh.cfg.webhook_version == WebhookVersion::V2026_06_01 {
        // 2026-06-01 has call.failed, with one of Teler's four reasons (the detail stays on
        // REST). 2025-08-01 knows call.completed only (docs/PROTOCOL.md#event-types).
        hooks.send(
            "call.failed",
            json!({ "reason": end.webhook_reason, "hangup_time": ended_at, "duration": duration }),
        );
    } else {
        hooks.send(
            "call.completed",
            json!({ "hangup_time": ended_at, "duration": duration, "reason": end.reason }),
        );
    }
    // Long enough for every event's last retry (and its copy) to be tried.
    let attempts = sh.cfg.webhook_attempts * if sh.cfg.webhook_duplicates { 2 } else { 1 };
    let backoff = sh.cfg.webhook_backoff * 2u32.saturating_pow(sh.cfg.webhook_attempts);
    hooks
        .finish(sh.cfg.http_timeout * 8 * attempts + backoff)
        .await;
}

async fn fetch_flow(sh: &Shared, c: &Call, url: &str) -> Result<Action, String> {
    let body = json!({
        "call_id": c.id,
        "account_id": c.account_id,
        "from_number": c.from_number,
        "to_number": c.to_number,
        "direction": c.direction,
    });
    let url = &sh.route(url);
    let a = crate::http::post_json(url, body.to_string(), &[], sh.cfg.http_timeout).await;
    sh.inspector.log(|l| match &a {
        Ok(a) => l.flow(
            &c.id,
            url,
            Some(a.status),
            &String::from_utf8_lossy(&a.body),
            None,
        ),
        Err(e) => l.flow(&c.id, url, None, "", Some(e.clone())),
    });
    let a = a.map_err(|e| format!("flow request failed: {e}"))?;
    let text = String::from_utf8_lossy(&a.body);
    if !(200..300).contains(&a.status) {
        let snippet: String = text.chars().take(200).collect();
        return Err(format!(
            "flow URL {url} answered HTTP {}: {snippet}",
            a.status
        ));
    }
    Action::from_json(&text).map_err(|e| format!("flow URL {url} answered an invalid action: {e}"))
}

enum StreamEnd {
    Duration,
    /// The dev phone hung up or went away.
    CallerHangup,
    Hangup(String),
    AppClosed,
    Failed(String),
}

/// What the caller hears: app audio queued in order, played on the call's timeline.
struct Player {
    queue: VecDeque<(u64, Vec<i16>, usize)>,
    queued: usize,
    cursor: u64,
    out: Option<WavWriter>,
    /// What the caller heard, for the inspector (when it is on).
    heard: Option<Vec<i16>>,
    played: u64,
    dropped: u64,
    write_error: Option<String>,
}

impl Player {
    fn write(&mut self, samples: Option<&[i16]>, n: usize) {
        if let Some(h) = &mut self.heard {
            let room = (8000 * crate::inspector::MAX_RECORDING_SECS).saturating_sub(h.len());
            match samples {
                Some(s) => h.extend_from_slice(&s[..s.len().min(room)]),
                None => h.resize(h.len() + n.min(room), 0),
            }
        }
        if let Some(w) = &mut self.out {
            let r = match samples {
                Some(s) => w.write(s),
                None => w.silence(n),
            };
            if let Err(e) = r {
                self.write_error = Some(format!("writing the output WAV: {e}"));
                self.out = None;
            }
        }
    }

    /// Plays up to `to_ms` of the call's timeline (silence where nothing is queued).
    fn advance(&mut self, to_ms: u64) {
        let target = to_ms * 8;
        while self.cursor < target {
            let want = (target - self.cursor) as usize;
            let Some((_, samples, pos)) = self.queue.front_mut() else {
                self.write(None, want);
                self.cursor += want as u64;
                break;
            };
            let n = want.min(samples.len() - *pos);
            let (start, end) = (*pos, *pos + n);
            *pos = end;
            let done = end == samples.len();
            let chunk = std::mem::take(samples);
            self.write(Some(&chunk[start..end]), n);
            if let Some(front) = self.queue.front_mut() {
                front.1 = chunk;
            }
            self.cursor += n as u64;
            self.played += n as u64;
            self.queued -= n;
            if done {
                self.queue.pop_front();
            }
        }
    }

    fn push(&mut self, id: u64, samples: Vec<i16>) -> Result<(), String> {
        if samples.is_empty() {
            return Ok(());
        }
        if self.queued + samples.len() > MAX_QUEUED_SAMPLES {
            self.dropped += samples.len() as u64;
            return Err(format!(
                "audio chunk {id} dropped: more than {} s of audio already queued",
                MAX_QUEUED_SAMPLES / 8000
            ));
        }
        self.queued += samples.len();
        self.queue.push_back((id, samples, 0));
        Ok(())
    }

    fn clear(&mut self) {
        self.dropped += self.queued as u64;
        self.queued = 0;
        self.queue.clear();
    }

    fn interrupt(&mut self, id: u64) -> bool {
        match self.queue.iter().position(|(c, _, _)| *c == id) {
            Some(i) => {
                if let Some((_, s, pos)) = self.queue.remove(i) {
                    let left = s.len() - pos;
                    self.queued -= left;
                    self.dropped += left as u64;
                }
                true
            }
            None => false,
        }
    }

    fn finish(mut self, end_ms: u64) -> (u64, u64, Option<String>) {
        self.advance(end_ms);
        self.clear();
        if let Some(w) = self.out.take()
            && let Err(e) = w.finish()
        {
            self.write_error = Some(format!("writing the output WAV: {e}"));
        }
        (self.played / 8, self.dropped / 8, self.write_error)
    }
}

pub(crate) fn decode_pcm(b64: &str) -> Result<Vec<i16>, String> {
    let bytes = B64
        .decode(b64)
        .map_err(|e| format!("audio_b64 is not valid base64: {e}"))?;
    if bytes.len() % 2 != 0 {
        return Err(format!(
            "audio_b64 decodes to {} bytes, not whole 16-bit samples",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn run_stream(
    sh: &Arc<Shared>,
    id: &str,
    socket_call_id: &str,
    s: &Stream,
    n: u32,
    hangup: &mut watch::Receiver<Option<String>>,
    hooks: &Hooks,
    phone: &mut Option<PhoneLink>,
) -> StreamEnd {
    let ws_target = sh.route(&s.ws_url);
    let mut ws = match crate::ws::connect(&ws_target, sh.cfg.http_timeout).await {
        Ok(ws) => ws,
        Err(e) => {
            sh.error(id, format!("media stream: {e}"));
            return StreamEnd::Failed("ws_connect_failed".into());
        }
    };
    let hz = s.sample_rate.hz();
    let stream_id = new_uuid();
    let pcm = sh.sources.at(hz);
    let per_frame = (hz as usize * s.chunk_size as usize) / 1000;
    let chunk_ms = u64::from(s.chunk_size);
    // A dev phone's call lasts until someone hangs up (at most PHONE_MAX).
    let total_ms = match phone {
        Some(_) => PHONE_MAX.as_millis() as u64,
        None => sh.cfg.call_duration.as_millis() as u64,
    };
    let frames_total = total_ms.div_ceil(chunk_ms).max(1);
    let output = sh.cfg.output_dir.as_ref().map(|d| {
        if n == 1 {
            d.join(format!("{id}.wav"))
        } else {
            d.join(format!("{id}-{n}.wav"))
        }
    });
    let mut stats = MediaStats {
        stream_id: Some(stream_id.clone()),
        socket_call_id: Some(socket_call_id.to_owned()),
        ws_url: Some(s.ws_url.clone()),
        sample_rate: Some(hz),
        chunk_size_ms: Some(s.chunk_size),
        output_wav: output.as_ref().map(|p| p.display().to_string()),
        ..MediaStats::default()
    };
    let mut player = Player {
        queue: VecDeque::new(),
        queued: 0,
        cursor: 0,
        out: None,
        heard: sh.inspector.enabled().then(Vec::new),
        played: 0,
        dropped: 0,
        write_error: None,
    };
    if let Some(p) = &output {
        match WavWriter::create(p, 8000) {
            Ok(w) => player.out = Some(w),
            Err(e) => sh.error(id, format!("cannot create {}: {e}", p.display())),
        }
    }

    let mut message_id: u64 = 1;
    let start = json!({
        "type": "start",
        "account_id": sh.cfg.account_id,
        "call_app_id": sh.cfg.voice_app_id,
        "call_id": socket_call_id,
        "stream_id": stream_id,
        "message_id": message_id,
        "data": { "encoding": "audio/l16", "sample_rate": hz, "channels": 1 },
    });
    let sent = tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(start.to_string()))).await;
    if let Err(why) = match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("not read within {SEND_TIMEOUT:?}")),
    } {
        // The stream never started: no stream.initiated, no stream.completed.
        sh.error(
            id,
            format!("media stream to {ws_target}: sending start failed: {why}"),
        );
        let (_, _, werr) = player.finish(0);
        if let Some(e) = werr {
            sh.error(id, e);
        }
        sh.with_call(id, |c| c.media = stats);
        return StreamEnd::AppClosed;
    }
    let mut end = None;
    stats.frames_sent += 1;
    sh.inspector.log(|l| {
        l.frame(id, Dir::ToApp);
        l.mark(
            id,
            "start",
            format!("stream {stream_id} to {ws_target} ({hz} Hz, {chunk_ms} ms frames)"),
        );
    });
    if let Some(p) = phone.as_ref() {
        p.send(json!({ "type": "start", "call_id": id, "stream_id": stream_id, "sample_rate": hz, "chunk_ms": chunk_ms }).to_string());
    }
    // What the caller said, for the inspector (when it is on).
    let mut said: Option<Vec<i16>> = sh.inspector.enabled().then(Vec::new);
    let said_max = hz as usize * crate::inspector::MAX_RECORDING_SECS;
    let phone_tx = phone.as_ref().map(|p| p.tx.clone());
    let mut phone_rx = phone.as_mut().map(|p| &mut p.rx);
    let to_phone = |msg: &str| {
        if let Some(tx) = &phone_tx
            && tx.try_send(msg.to_owned()).is_err()
        {
            sh.inspector.log(|l| {
                l.mark(
                    id,
                    "phone_dropped",
                    "a frame for the dev phone was dropped: the page is not keeping up".into(),
                )
            });
        }
    };
    let mut last_snapshot = Instant::now();
    sh.log(id, format_args!("stream {stream_id} open to {ws_target}"));
    hooks.send(
        "stream.initiated",
        json!({ "call_id": id, "stream_id": stream_id }),
    );

    // A dev phone is its own clock: its frames come at real-time pace.
    let speed = sh.cfg.speed.filter(|s| *s > 0.0 && phone_rx.is_none());
    let period = Duration::from_millis(chunk_ms).div_f64(speed.unwrap_or(1.0));
    let mut ticker = speed.map(|_| {
        let mut i = tokio::time::interval(period);
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
        i
    });
    let t0 = Instant::now();
    let mut sent_audio: u64 = 0;
    let mut pos = 0usize;
    let mut frame_pcm: Vec<u8> = Vec::with_capacity(per_frame * 2);
    let mut last_activity = Instant::now();
    let mut last_chunk_id: Option<u64> = None;
    let media_ms = |sent: u64| -> u64 {
        match speed {
            Some(sp) => ((t0.elapsed().as_secs_f64() * 1000.0 * sp) as u64).min(total_ms),
            None => (sent * chunk_ms).min(total_ms),
        }
    };

    while end.is_none() {
        let all_sent = sent_audio >= frames_total;
        let deadline = match speed {
            Some(_) => last_activity + period,
            None => last_activity + sh.cfg.drain_idle,
        };
        tokio::select! {
            r = hangup_signal(hangup) => end = Some(StreamEnd::Hangup(r)),
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if speed.is_none() {
                        last_activity = Instant::now();
                    }
                    stats.frames_received += 1;
                    sh.inspector.log(|l| l.frame(id, Dir::FromApp));
                    let now_ms = media_ms(sent_audio);
                    match AppMessage::parse(t.as_str()) {
                        Ok(AppMessage::Audio { audio_b64, chunk_id }) => match decode_pcm(&audio_b64) {
                            Ok(samples) => {
                                if let Some(last) = last_chunk_id
                                    && chunk_id <= last
                                {
                                    sh.error(id, format!("audio chunk_id {chunk_id} is not greater than the previous {last} (chunk ids must increase)"));
                                }
                                last_chunk_id = Some(chunk_id);
                                stats.audio_chunks += 1;
                                to_phone(t.as_str());
                                player.advance(now_ms);
                                if let Err(e) = player.push(chunk_id, samples) {
                                    sh.error(id, e);
                                }
                            }
                            Err(e) => {
                                stats.bad_frames += 1;
                                sh.error(id, format!("bad audio frame from the app (chunk_id {chunk_id}): {e}"));
                            }
                        },
                        Ok(AppMessage::Interrupt { chunk_id }) => {
                            stats.interrupts += 1;
                            to_phone(t.as_str());
                            sh.inspector.log(|l| l.mark(id, "interrupt", format!("chunk {chunk_id}")));
                            player.advance(now_ms);
                            if !player.interrupt(chunk_id) {
                                sh.with_call(id, |c| c.push_note(format!("interrupt {chunk_id}: no such chunk queued")));
                            }
                        }
                        Ok(AppMessage::Clear) => {
                            stats.clears += 1;
                            to_phone(t.as_str());
                            player.advance(now_ms);
                            sh.inspector.log(|l| l.mark(id, "clear", format!("{} ms of queued audio dropped", player.queued / 8)));
                            player.clear();
                        }
                        Ok(other) => {
                            stats.bad_frames += 1;
                            sh.error(id, format!("app frame not handled by the emulator: {}", other.to_json()));
                        }
                        Err(e) => {
                            stats.bad_frames += 1;
                            let snippet: String = t.as_str().chars().take(120).collect();
                            sh.error(id, format!("bad frame from the app: {e}: {snippet}"));
                        }
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    stats.bad_frames += 1;
                    sh.error(id, format!("bad frame from the app: a binary frame of {} bytes (Teler reads JSON text frames only)", b.len()));
                }
                Some(Ok(Message::Close(_))) | None => end = Some(StreamEnd::AppClosed),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    sh.error(id, format!("media stream error: {e}"));
                    end = Some(StreamEnd::AppClosed);
                }
            },
            src = async {
                match (&mut phone_rx, &mut ticker) {
                    (Some(rx), _) => match rx.recv().await {
                        Some(PhoneIn::Audio(samples)) => Some(samples),
                        Some(PhoneIn::Answer) => Some(Vec::new()),
                        None => None,
                    },
                    (None, Some(t)) => { t.tick().await; Some(Vec::new()) }
                    (None, None) => { tokio::task::yield_now().await; Some(Vec::new()) }
                }
            }, if !all_sent => {
                frame_pcm.clear();
                match src {
                    // The dev phone hung up or went away.
                    None => {
                        end = Some(StreamEnd::CallerHangup);
                        continue;
                    }
                    Some(samples) if phone_tx.is_some() => {
                        if samples.len() != per_frame {
                            if !samples.is_empty() {
                                to_phone(&json!({ "type": "error", "message": format!(
                                    "an audio frame of {} samples was dropped: this stream takes {per_frame} ({chunk_ms} ms at {hz} Hz)",
                                    samples.len()) }).to_string());
                            }
                            continue;
                        }
                        for v in &samples {
                            frame_pcm.extend_from_slice(&v.to_le_bytes());
                        }
                        if let Some(said) = &mut said {
                            said.extend_from_slice(&samples[..samples.len().min(said_max.saturating_sub(said.len()))]);
                        }
                    }
                    Some(_) => {
                        for _ in 0..per_frame {
                            let v = pcm.samples.get(pos).copied().unwrap_or(0);
                            frame_pcm.extend_from_slice(&v.to_le_bytes());
                            if let Some(said) = &mut said && said.len() < said_max {
                                said.push(v);
                            }
                            pos += 1;
                            if pos >= pcm.samples.len() {
                                pos = 0;
                            }
                        }
                    }
                }
                message_id += 1;
                let frame = format!(
                    r#"{{"type":"audio","stream_id":"{stream_id}","message_id":{message_id},"data":{{"audio_b64":"{}"}}}}"#,
                    B64.encode(&frame_pcm)
                );
                match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::text(frame))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => end = Some(StreamEnd::AppClosed),
                    Err(_) => {
                        sh.error(id, format!("the app did not read its media stream for {SEND_TIMEOUT:?}"));
                        end = Some(StreamEnd::Failed("app_not_reading".into()));
                    }
                }
                sent_audio += 1;
                stats.frames_sent += 1;
                sh.inspector.log(|l| l.frame(id, Dir::ToApp));
                // REST's counters: refreshed every 16 frames or half a second, whichever
                // comes first (while the stream sends).
                if sent_audio.is_multiple_of(16)
                    || last_snapshot.elapsed() >= Duration::from_millis(500)
                {
                    last_snapshot = Instant::now();
                    let snapshot = stats.clone();
                    sh.with_call(id, |c| c.media = snapshot);
                }
                if sent_audio >= frames_total {
                    last_activity = Instant::now();
                }
            },
            _ = tokio::time::sleep_until(deadline), if all_sent => end = Some(StreamEnd::Duration),
        }
    }
    // Right after the loop: for an app's close, when it was read.
    stats.ended_unix_us = Some(crate::util::now_unix_us());
    let end = end.unwrap_or(StreamEnd::Duration);
    if !matches!(end, StreamEnd::AppClosed) {
        // Teler ends a stream by closing the socket (there is no stop message).
        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    }
    let end_ms = match speed {
        Some(_) => media_ms(sent_audio),
        // Unpaced: the timeline stretches to play what the app queued.
        None => (sent_audio * chunk_ms).max(player.cursor / 8 + player.queued as u64 / 8),
    };
    player.advance(end_ms);
    if let (Some(said), Some(heard)) = (said, player.heard.take()) {
        sh.inspector.log(|l| {
            l.record(id, (hz, &said), (8000, &heard));
            l.mark(id, "stream_end", format!("stream {stream_id}"));
        });
    }
    if let Some(tx) = &phone_tx {
        let _ = tx.try_send(json!({ "type": "stream_end", "stream_id": stream_id }).to_string());
    }
    let (played, dropped, werr) = player.finish(end_ms);
    if let Some(e) = werr {
        sh.error(id, e);
    }
    stats.played_ms = played;
    stats.dropped_ms = dropped;
    sh.log(
        id,
        format_args!(
            "stream {stream_id} closed: {} frames sent, {} received, {played} ms played",
            stats.frames_sent, stats.frames_received
        ),
    );
    sh.with_call(id, |c| c.media = stats);
    hooks.send(
        "stream.completed",
        json!({ "call_id": id, "stream_id": stream_id }),
    );
    end
}
