//! The load generator: many concurrent media streams, timed together, with round trips
//! measured end to end.
//!
//! Every outbound audio frame starts with a 12-byte marker in its PCM (a magic value, the
//! frame's sequence number and its send time), so an echo of the audio (the stand-in
//! [`agent`](crate::agent) in Teler echo mode, or any bridge whose agent echoes the caller)
//! can be matched back to its frame even when the echo regroups frames into chunks of
//! another size, as long as the bytes are not resampled and none are dropped: each stream
//! counts the PCM bytes echoed so far, so it knows where in the next echo message the next
//! frame (and its marker) starts. Frames are paced by one shared ticker per pace
//! slot (streams are spread over `slots` slots in each frame period); no task sleeps per
//! frame.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use teler_core::flow::Action;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tungstenite::Message;

use crate::util::{cpu_time, raise_fd_limit};
use crate::wav::Pcm;
use crate::ws::{WsClient, connect};

/// Where the streams go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LoadTarget {
    /// Open every media stream straight to this `ws://` URL (Teler frames, as Teler would).
    Connect(String),
    /// Place calls: POST the flow request to this URL for each call, then open the stream
    /// its `stream` action names (its `chunk_size` and `sample_rate` are used).
    Calls(String),
}

/// Settings of a load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where the streams go.
    pub target: LoadTarget,
    /// How many concurrent streams (calls).
    pub streams: usize,
    /// Milliseconds of audio per frame ([`LoadTarget::Connect`]; 20..=2000, a multiple
    /// of 20).
    pub chunk_ms: u32,
    /// 8000 or 16000 ([`LoadTarget::Connect`]).
    pub sample_rate: u32,
    /// How long frames are sent, once every stream is connected.
    pub duration: Duration,
    /// Connections opened at once during the connect phase.
    pub connect_concurrency: usize,
    /// Pace slots per frame period: streams are spread over this many tickers.
    pub slots: u32,
    /// How long to wait for the last echoes after the last frame.
    pub drain: Duration,
    /// Print a progress line every second to stderr.
    pub progress: bool,
}

impl LoadConfig {
    /// `streams` streams of 500 ms frames for 10 s, straight to `ws_url`.
    pub fn connect(ws_url: impl Into<String>, streams: usize) -> Self {
        LoadConfig {
            target: LoadTarget::Connect(ws_url.into()),
            streams,
            chunk_ms: 500,
            sample_rate: 8000,
            duration: Duration::from_secs(10),
            connect_concurrency: 200,
            slots: 10,
            drain: Duration::from_secs(2),
            progress: false,
        }
    }

    /// `calls` calls through `flow_url`, for 10 s.
    pub fn calls(flow_url: impl Into<String>, calls: usize) -> Self {
        LoadConfig {
            target: LoadTarget::Calls(flow_url.into()),
            ..LoadConfig::connect(String::new(), calls)
        }
    }
}

/// A load setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The setting and what it must be.
    #[error("invalid load setting: {0}")]
    Config(String),
}

impl LoadConfig {
    /// Checks the settings ([`run`] does it first).
    pub fn validate(&self) -> Result<(), LoadError> {
        if let LoadTarget::Connect(_) = self.target {
            if !(20..=2000).contains(&self.chunk_ms) || !self.chunk_ms.is_multiple_of(20) {
                return Err(LoadError::Config(format!(
                    "chunk_ms must be a multiple of 20 from 20 to 2000, got {}",
                    self.chunk_ms
                )));
            }
            if self.sample_rate != 8000 && self.sample_rate != 16000 {
                return Err(LoadError::Config(format!(
                    "sample_rate must be 8000 or 16000, got {}",
                    self.sample_rate
                )));
            }
        }
        if self.duration > Duration::from_secs(24 * 3600) {
            return Err(LoadError::Config("duration must be at most 24 h".into()));
        }
        Ok(())
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct LoadReport {
    /// Streams asked for.
    pub streams_requested: usize,
    /// Streams that connected (and got their `start`).
    pub streams_connected: usize,
    /// Streams that sent every frame without a socket failure.
    pub streams_completed: usize,
    /// Frame length in ms (of the first stream).
    pub chunk_ms: u32,
    /// Sample rate (of the first stream).
    pub sample_rate: u32,
    /// Audio frames sent.
    pub frames_sent: u64,
    /// Text messages received from the app.
    pub frames_received: u64,
    /// Sent frames whose echo came back.
    pub echoes_matched: u64,
    /// Sent frames whose echo never came back.
    pub lost_frames: u64,
    /// Round trip, median, ms.
    pub rtt_p50_ms: Option<f64>,
    /// Round trip, 99th percentile, ms.
    pub rtt_p99_ms: Option<f64>,
    /// Round trip, largest, ms.
    pub rtt_max_ms: Option<f64>,
    /// Largest delay of a pace tick behind its schedule, ms (the generator falling behind).
    pub pacing_lag_max_ms: f64,
    /// Errors (connects, sockets, flows).
    pub errors: u64,
    /// The first errors, verbatim.
    pub error_samples: Vec<String>,
    /// Time to connect every stream, s.
    pub connect_seconds: f64,
    /// Whole run, s.
    pub wall_seconds: f64,
    /// This process's CPU time (user + system) over the run, s.
    pub cpu_seconds: f64,
    /// CPU time / wall time, in percent of one core.
    pub cpu_percent: f64,
    /// The open-files limit in force.
    pub fd_limit: u64,
}

impl LoadReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as a few lines of text.
    pub fn to_text(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.1} ms"));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "streams: {} requested, {} connected, {} completed ({} ms frames at {} Hz)",
            self.streams_requested,
            self.streams_connected,
            self.streams_completed,
            self.chunk_ms,
            self.sample_rate
        );
        let _ = writeln!(
            s,
            "frames: {} sent, {} received, {} echoes matched, {} lost",
            self.frames_sent, self.frames_received, self.echoes_matched, self.lost_frames
        );
        let _ = writeln!(
            s,
            "round trip: p50 {}, p99 {}, max {}; pacing lag max {:.1} ms",
            ms(self.rtt_p50_ms),
            ms(self.rtt_p99_ms),
            ms(self.rtt_max_ms),
            self.pacing_lag_max_ms
        );
        let _ = writeln!(
            s,
            "cpu: {:.2} s over {:.2} s wall ({:.0}% of a core); connect phase {:.2} s; fd limit {}",
            self.cpu_seconds,
            self.wall_seconds,
            self.cpu_percent,
            self.connect_seconds,
            self.fd_limit
        );
        let _ = write!(s, "errors: {}", self.errors);
        for e in &self.error_samples {
            let _ = write!(s, "\n  {e}");
        }
        s
    }
}

const SUB: u64 = 32;
const BUCKETS: usize = 64 * SUB as usize;

fn bucket(v: u64) -> usize {
    if v < SUB {
        v as usize
    } else {
        let e = 63 - u64::from(v.leading_zeros());
        let m = (v >> (e - 5)) & (SUB - 1);
        ((e - 4) * SUB + m) as usize
    }
}

/// (low, width) of a bucket.
fn bucket_range(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        (i, 1)
    } else {
        let e = i / SUB + 4;
        let m = i % SUB;
        ((SUB + m) << (e - 5), 1 << (e - 5))
    }
}

/// Counters shared by every stream.
struct Stats {
    sent: AtomicU64,
    received: AtomicU64,
    matched: AtomicU64,
    errors: AtomicU64,
    completed: AtomicUsize,
    connected: AtomicUsize,
    samples: Mutex<Vec<String>>,
    hist: Box<[AtomicU64]>,
    max_us: AtomicU64,
    lag_max_us: AtomicU64,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            matched: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            completed: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
            samples: Mutex::new(Vec::new()),
            hist: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
            lag_max_us: AtomicU64::new(0),
        }
    }

    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut s = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if s.len() < 10 {
            s.push(e);
        }
    }

    fn rtt(&self, us: u64) {
        self.hist[bucket(us).min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The q-quantile in ms (bucket midpoint), if anything was recorded.
    fn quantile(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self
            .hist
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, c) in counts.iter().enumerate() {
            acc += c;
            if acc >= rank {
                let (lo, w) = bucket_range(i);
                return Some((lo as f64 + (w as f64 - 1.0) / 2.0) / 1000.0);
            }
        }
        None
    }
}

const MAGIC_HEAD: [u8; 2] = [0x5A, 0x7E];
const MAGIC_TAIL: [u8; 2] = [0xA5, 0xE7];
const MARKER: usize = 12;

/// The constant part of every frame of one (chunk, rate): the base64 of the PCM after the
/// marker.
struct Template {
    frame_bytes: usize,
    rest_b64: String,
}

impl Template {
    fn new(chunk_ms: u32, rate: u32) -> Template {
        let tone = Pcm::tone(rate, 440.0, 3000, chunk_ms);
        let bytes: Vec<u8> = tone.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        Template {
            frame_bytes: bytes.len(),
            rest_b64: B64.encode(&bytes[MARKER.min(bytes.len())..]),
        }
    }
}

fn marker_b64(seq: u32, sent_us: u32) -> [u8; 16] {
    let mut m = [0u8; MARKER];
    m[0..2].copy_from_slice(&MAGIC_HEAD);
    m[2..6].copy_from_slice(&seq.to_le_bytes());
    m[6..10].copy_from_slice(&sent_us.to_le_bytes());
    m[10..12].copy_from_slice(&MAGIC_TAIL);
    let mut out = [0u8; 16];
    // 12 bytes always encode to exactly 16 characters.
    let _ = B64.encode_slice(m, &mut out);
    out
}

/// Finds the markers at frame boundaries of an echoed payload: (seq, sent_us) each.
///
/// `echoed` is how many PCM bytes this stream's echo carried before this message: the echo
/// is the frames' bytes regrouped into chunks of any size, so a frame boundary falls at
/// `(frame_bytes - echoed % frame_bytes) % frame_bytes` into this message, not at 0. Returns
/// the number of PCM bytes the message decodes to (add it to `echoed`).
fn scan_markers(
    b64: &str,
    frame_bytes: usize,
    echoed: u64,
    mut found: impl FnMut(u32, u32),
) -> usize {
    let b = b64.as_bytes();
    let pad = b.iter().rev().take(2).take_while(|c| **c == b'=').count();
    let total = (b.len() / 4 * 3).saturating_sub(pad);
    if frame_bytes == 0 {
        return total;
    }
    let f = frame_bytes as u64;
    let mut o = ((f - echoed % f) % f) as usize;
    while o + MARKER <= total {
        let g = o / 3;
        let start = g * 4;
        let end = (start + 20).min(b.len());
        let mut buf = [0u8; 15];
        if let Ok(n) = B64.decode_slice(&b[start..end], &mut buf) {
            let k = o - g * 3;
            if k + MARKER <= n && buf[k..k + 2] == MAGIC_HEAD && buf[k + 10..k + 12] == MAGIC_TAIL {
                let seq = u32::from_le_bytes([buf[k + 2], buf[k + 3], buf[k + 4], buf[k + 5]]);
                let ts = u32::from_le_bytes([buf[k + 6], buf[k + 7], buf[k + 8], buf[k + 9]]);
                found(seq, ts);
            }
        }
        o += frame_bytes;
    }
    total
}

#[derive(Deserialize)]
struct AppFrame<'a> {
    #[serde(borrow, default)]
    audio_b64: Option<Cow<'a, str>>,
}

struct Conn {
    ws: WsClient,
    chunk_ms: u32,
    rate: u32,
    stream_id: String,
}

async fn open(i: usize, target: &LoadTarget, cfg: &LoadConfig) -> Result<Conn, String> {
    let (url, chunk_ms, rate) = match target {
        LoadTarget::Connect(u) => (u.clone(), cfg.chunk_ms, cfg.sample_rate),
        LoadTarget::Calls(flow) => {
            let body = serde_json::json!({
                "call_id": format!("cs_load{i:07}"),
                "account_id": "acc_load",
                "from_number": "+15550000000",
                "to_number": format!("+1555{:07}", i % 10_000_000),
                "direction": "outbound",
            });
            let a = crate::http::post_json(flow, body.to_string(), &[], Duration::from_secs(10))
                .await
                .map_err(|e| format!("flow: {e}"))?;
            if !(200..300).contains(&a.status) {
                return Err(format!("flow {flow} answered HTTP {}", a.status));
            }
            match Action::from_json(&String::from_utf8_lossy(&a.body)) {
                Ok(Action::Stream(s)) => (s.ws_url, s.chunk_size, s.sample_rate.hz()),
                Ok(other) => {
                    return Err(format!("flow answered {} (not a stream)", other.to_json()));
                }
                Err(e) => return Err(format!("flow: {e}")),
            }
        }
    };
    let mut ws = connect(&url, Duration::from_secs(10)).await?;
    let stream_id = format!("load-{i}");
    let start = format!(
        r#"{{"type":"start","account_id":"acc_load","call_app_id":"va_load","call_id":"cs_load{i:07}","stream_id":"{stream_id}","message_id":1,"data":{{"encoding":"audio/l16","sample_rate":{rate},"channels":1}}}}"#
    );
    ws.send(Message::text(start))
        .await
        .map_err(|e| format!("{url}: sending start: {e}"))?;
    Ok(Conn {
        ws,
        chunk_ms,
        rate,
        stream_id,
    })
}

/// Runs a load test and reports what it measured. Network trouble never fails the run:
/// every failure is counted in `errors`; only settings out of range are an `Err`.
pub async fn run(cfg: LoadConfig) -> Result<LoadReport, LoadError> {
    cfg.validate()?;
    let fd_limit = raise_fd_limit((cfg.streams as u64) * 2 + 512);
    let stats = Arc::new(Stats::new());
    let wall0 = Instant::now();
    let cpu0 = cpu_time();
    let epoch = std::time::Instant::now();
    let now_us = move || epoch.elapsed().as_micros() as u64;

    // Progress.
    let done = Arc::new(tokio::sync::Notify::new());
    let progress = cfg.progress.then(|| {
        let (stats, done) = (stats.clone(), done.clone());
        let n = cfg.streams;
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_secs(1));
            iv.tick().await;
            loop {
                tokio::select! {
                    _ = done.notified() => break,
                    _ = iv.tick() => {}
                }
                let t = wall0.elapsed().as_secs_f64();
                let cpu = (cpu_time() - cpu0).as_secs_f64();
                let p = |q| stats.quantile(q).map_or("-".into(), |v: f64| format!("{v:.1}"));
                eprintln!(
                    "[{t:6.1}s] streams {}/{n} | sent {} | recv {} | matched {} | rtt p50 {} p99 {} ms | errors {} | cpu {:.0}%",
                    stats.connected.load(Ordering::Relaxed),
                    stats.sent.load(Ordering::Relaxed),
                    stats.received.load(Ordering::Relaxed),
                    stats.matched.load(Ordering::Relaxed),
                    p(0.5),
                    p(0.99),
                    stats.errors.load(Ordering::Relaxed),
                    100.0 * cpu / t.max(0.001),
                );
            }
        })
    });

    // Phase 1: connect everything.
    let sem = Arc::new(Semaphore::new(cfg.connect_concurrency.max(1)));
    let cfg = Arc::new(cfg);
    let mut opening = Vec::with_capacity(cfg.streams);
    for i in 0..cfg.streams {
        let (sem, cfg, stats) = (sem.clone(), cfg.clone(), stats.clone());
        opening.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.ok()?;
            match open(i, &cfg.target, &cfg).await {
                Ok(c) => {
                    stats.connected.fetch_add(1, Ordering::Relaxed);
                    Some(c)
                }
                Err(e) => {
                    stats.error(e);
                    None
                }
            }
        }));
    }
    let mut conns = Vec::with_capacity(cfg.streams);
    for h in opening {
        if let Ok(Some(c)) = h.await {
            conns.push(c);
        }
    }
    let connect_seconds = wall0.elapsed().as_secs_f64();
    let (chunk_ms, rate) = conns
        .first()
        .map_or((cfg.chunk_ms, cfg.sample_rate), |c| (c.chunk_ms, c.rate));

    // Phase 2: one ticker per (frame length, slot); every stream starts together.
    let t0 = Instant::now() + Duration::from_millis(200);
    let slots = cfg.slots.max(1);
    let mut tickers: HashMap<(u32, u32), watch::Receiver<u64>> = HashMap::new();
    let mut templates: HashMap<(u32, u32), Arc<Template>> = HashMap::new();
    let mut tasks = Vec::with_capacity(conns.len());
    for (i, c) in conns.into_iter().enumerate() {
        let slot = (i as u32) % slots;
        let total = (cfg.duration.as_millis() as u64)
            .div_ceil(u64::from(c.chunk_ms))
            .max(1);
        let rx = tickers
            .entry((c.chunk_ms, slot))
            .or_insert_with(|| {
                let (tx, rx) = watch::channel(0u64);
                let period = Duration::from_millis(u64::from(c.chunk_ms));
                let offset = period * slot / slots;
                let stats = stats.clone();
                tokio::spawn(async move {
                    let mut iv = tokio::time::interval_at(t0 + offset, period);
                    iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    for n in 1..=total {
                        let due = iv.tick().await;
                        let lag = Instant::now().saturating_duration_since(due);
                        stats
                            .lag_max_us
                            .fetch_max(lag.as_micros() as u64, Ordering::Relaxed);
                        tx.send_replace(n);
                    }
                    // Keep the channel open through the drain; the streams end themselves.
                    tx.closed().await;
                });
                rx
            })
            .clone();
        let tpl = templates
            .entry((c.chunk_ms, c.rate))
            .or_insert_with(|| Arc::new(Template::new(c.chunk_ms, c.rate)))
            .clone();
        let (stats, drain) = (stats.clone(), cfg.drain);
        tasks.push(tokio::spawn(stream_task(
            c, rx, total, tpl, stats, drain, now_us,
        )));
    }
    drop(tickers);
    for t in tasks {
        let _ = t.await;
    }
    done.notify_waiters();
    if let Some(p) = progress {
        p.abort();
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu0).as_secs_f64();
    let sent = stats.sent.load(Ordering::Relaxed);
    let matched = stats.matched.load(Ordering::Relaxed);
    let max = stats.max_us.load(Ordering::Relaxed);
    Ok(LoadReport {
        streams_requested: cfg.streams,
        streams_connected: stats.connected.load(Ordering::Relaxed),
        streams_completed: stats.completed.load(Ordering::Relaxed),
        chunk_ms,
        sample_rate: rate,
        frames_sent: sent,
        frames_received: stats.received.load(Ordering::Relaxed),
        echoes_matched: matched,
        lost_frames: sent.saturating_sub(matched),
        rtt_p50_ms: stats.quantile(0.5),
        rtt_p99_ms: stats.quantile(0.99),
        rtt_max_ms: (matched > 0).then(|| max as f64 / 1000.0),
        pacing_lag_max_ms: stats.lag_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
        errors: stats.errors.load(Ordering::Relaxed),
        error_samples: stats.samples.lock().map(|s| s.clone()).unwrap_or_default(),
        connect_seconds,
        wall_seconds: wall,
        cpu_seconds: cpu,
        cpu_percent: 100.0 * cpu / wall.max(0.001),
        fd_limit,
    })
}

async fn stream_task(
    mut c: Conn,
    mut tick: watch::Receiver<u64>,
    total: u64,
    tpl: Arc<Template>,
    stats: Arc<Stats>,
    drain: Duration,
    now_us: impl Fn() -> u64,
) {
    let mut sent: u64 = 0;
    let mut matched: u64 = 0;
    // PCM bytes echoed so far on this stream: where the next frame boundary falls.
    let mut echoed: u64 = 0;
    let mut drain_until: Option<Instant> = None;
    let mut failed = false;
    loop {
        if sent >= total && matched >= sent {
            break;
        }
        let deadline = drain_until.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            m = c.ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    if let Ok(f) = serde_json::from_str::<AppFrame<'_>>(t.as_str())
                        && let Some(b64) = f.audio_b64
                    {
                        let now = now_us();
                        let n = scan_markers(&b64, tpl.frame_bytes, echoed, |seq, ts| {
                            if u64::from(seq) < sent {
                                matched += 1;
                                stats.matched.fetch_add(1, Ordering::Relaxed);
                                stats.rtt((now as u32).wrapping_sub(ts).into());
                            }
                        });
                        echoed += n as u64;
                    }
                }
                Some(Ok(Message::Close(_))) | None => {
                    if sent < total {
                        stats.error(format!("{}: closed by the peer after {sent} of {total} frames", c.stream_id));
                        failed = true;
                    }
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    stats.error(format!("{}: {e}", c.stream_id));
                    failed = true;
                    break;
                }
            },
            r = tick.changed(), if sent < total => {
                let due = if r.is_ok() { (*tick.borrow_and_update()).min(total) } else { total };
                while sent < due {
                    let marker = marker_b64(sent as u32, now_us() as u32);
                    let mut f = String::with_capacity(tpl.rest_b64.len() + 128);
                    let _ = write!(f, r#"{{"type":"audio","stream_id":"{}","message_id":{},"data":{{"audio_b64":""#, c.stream_id, sent + 2);
                    f.push_str(std::str::from_utf8(&marker).unwrap_or_default());
                    f.push_str(&tpl.rest_b64);
                    f.push_str("\"}}");
                    if let Err(e) = c.ws.send(Message::text(f)).await {
                        stats.error(format!("{}: send: {e}", c.stream_id));
                        failed = true;
                        break;
                    }
                    sent += 1;
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                if failed {
                    break;
                }
                if sent >= total {
                    drain_until = Some(Instant::now() + drain);
                }
            },
            _ = tokio::time::sleep_until(deadline), if drain_until.is_some() => break,
        }
    }
    if !failed && sent >= total {
        stats.completed.fetch_add(1, Ordering::Relaxed);
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), c.ws.close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in [0u64, 1, 31, 32, 33, 63, 64, 100, 1000, 12_345, 1 << 30] {
            let b = bucket(v);
            assert!(b >= last);
            last = b;
            let (lo, w) = bucket_range(b);
            assert!(lo <= v && v < lo + w, "{v} in [{lo}, {})", lo + w);
            assert!(w as f64 <= (v as f64 / 32.0).max(1.0));
        }
    }

    #[test]
    fn markers_survive_regrouping() {
        let tpl = Template::new(20, 8000);
        let frame = |seq| {
            let mut s = String::from_utf8(marker_b64(seq, seq * 10).to_vec()).unwrap();
            s.push_str(&tpl.rest_b64);
            B64.decode(s).unwrap()
        };
        // Three frames glued into one chunk, re-encoded (what an echoing agent does).
        let mut glued = Vec::new();
        for seq in 5..8 {
            glued.extend(frame(seq));
        }
        let mut got = Vec::new();
        let n = scan_markers(&B64.encode(&glued), tpl.frame_bytes, 0, |s, t| {
            got.push((s, t))
        });
        assert_eq!(n, glued.len());
        assert_eq!(got, vec![(5, 50), (6, 60), (7, 70)]);
        let mut none = Vec::new();
        scan_markers(&B64.encode(vec![0u8; 960]), 320, 0, |s, t| {
            none.push((s, t))
        });
        assert!(none.is_empty());
    }

    /// 400 ms frames echoed in 500 ms chunks (the agent's default): frame boundaries fall
    /// inside the echo messages, and every marker is still found.
    #[test]
    fn markers_found_when_echo_chunks_do_not_align_with_frames() {
        let tpl = Template::new(400, 8000);
        assert_eq!(tpl.frame_bytes, 6400);
        let mut stream = Vec::new();
        for seq in 0..20u32 {
            let mut s = String::from_utf8(marker_b64(seq, seq + 1000).to_vec()).unwrap();
            s.push_str(&tpl.rest_b64);
            stream.extend(B64.decode(s).unwrap());
        }
        let mut got = Vec::new();
        let mut echoed = 0u64;
        for chunk in stream.chunks(8000) {
            let n = scan_markers(&B64.encode(chunk), tpl.frame_bytes, echoed, |s, t| {
                got.push((s, t))
            });
            assert_eq!(n, chunk.len());
            echoed += n as u64;
        }
        let want: Vec<(u32, u32)> = (0..20).map(|s| (s, s + 1000)).collect();
        assert_eq!(got, want);
        // Odd-sized chunks, and a padded last one.
        let (mut got, mut echoed) = (Vec::new(), 0u64);
        for chunk in stream.chunks(4999) {
            echoed += scan_markers(&B64.encode(chunk), tpl.frame_bytes, echoed, |s, t| {
                got.push((s, t))
            }) as u64;
        }
        assert_eq!(got, want);
    }
}
