//! A stand-in voice agent speaking the ElevenLabs conversational protocol (what FreJun's
//! sample app bridges to), so a bridge can be tested end to end with no vendor account.
//!
//! On each WebSocket connection it:
//! 1. sends `{"type":"conversation_initiation_metadata",…}` first;
//! 2. speaks a greeting (a tone, `greeting_ms` long) as
//!    `{"type":"audio","audio_event":{"audio_base_64":…,"event_id":n}}` chunks of `chunk_ms`,
//!    sent at once as the vendor does (faster than real time);
//! 3. reads `{"user_audio_chunk": b64}` (PCM16 LE mono at `sample_rate`); while the greeting
//!    would still be playing, caller audio louder than `interrupt_rms` makes it send
//!    `{"type":"interruption","interruption_event":{"event_id":n}}` and stop speaking;
//! 4. echoes the caller's audio back in `chunk_ms` chunks (`echo`), or at once when
//!    `chunk_ms` is 0.
//!
//! A connection whose path starts with `/teler` (or whose first frame is a Teler `start`)
//! is treated as a Teler media stream instead: caller `audio` frames are echoed back as the
//! app's `{"type":"audio","audio_b64":…,"chunk_id":n}`. The load generator uses this to
//! measure round trips without a bridge in between.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tungstenite::Message;

use crate::util::new_id;
use crate::wav::Pcm;

/// How the stand-in agent behaves.
/// Build it with struct update syntax: `AgentConfig { greeting_ms: 0, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Length of the greeting tone spoken on connect (0: none). Default 1500 ms.
    pub greeting_ms: u32,
    /// Greeting tone frequency. Default 660 Hz.
    pub tone_hz: f64,
    /// Greeting tone peak amplitude. Default 5000.
    pub amplitude: i16,
    /// Echo the caller's audio back. Default true.
    pub echo: bool,
    /// Milliseconds of audio per message sent (greeting and echo); 0 echoes each message at
    /// once. Default 500.
    pub chunk_ms: u32,
    /// RMS level of caller audio that interrupts the greeting (0: never). Default 500.
    pub interrupt_rms: f64,
    /// Sample rate of the audio both ways. Default 8000 (what Teler plays).
    pub sample_rate: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            greeting_ms: 1500,
            tone_hz: 660.0,
            amplitude: 5000,
            echo: true,
            chunk_ms: 500,
            interrupt_rms: 500.0,
            sample_rate: 8000,
        }
    }
}

/// Counters of a running agent.
#[derive(Debug, Default)]
pub struct AgentStats {
    /// WebSocket connections accepted.
    pub connections: AtomicU64,
    /// Text messages received.
    pub messages_in: AtomicU64,
    /// Audio messages sent.
    pub audio_out: AtomicU64,
    /// Interruptions sent.
    pub interruptions: AtomicU64,
    /// Messages that could not be read.
    pub errors: AtomicU64,
}

/// A running agent; dropping it stops accepting connections.
#[derive(Debug)]
pub struct AgentHandle {
    addr: SocketAddr,
    stats: Arc<AgentStats>,
    task: tokio::task::JoinHandle<()>,
}

impl AgentHandle {
    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// The ElevenLabs-protocol URL, `ws://ADDR/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
    /// The Teler-protocol echo URL, `ws://ADDR/teler`.
    pub fn teler_url(&self) -> String {
        format!("ws://{}/teler", self.addr)
    }
    /// Live counters.
    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }
    /// Stops accepting connections (open ones run on until their peer closes).
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the agent with default settings on `addr` (port 0 picks a free port).
pub async fn serve(addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<AgentHandle> {
    serve_with(addr, AgentConfig::default()).await
}

/// Starts the agent with `cfg` on `addr`.
pub async fn serve_with(
    addr: impl tokio::net::ToSocketAddrs,
    cfg: AgentConfig,
) -> std::io::Result<AgentHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(AgentStats::default());
    let s2 = stats.clone();
    let cfg = Arc::new(cfg);
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(connection(tcp, cfg.clone(), s2.clone()));
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    Ok(AgentHandle { addr, stats, task })
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_audio_chunk: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<TelerData<'a>>,
}

#[derive(Deserialize)]
struct TelerData<'a> {
    #[serde(borrow, default)]
    audio_b64: Option<Cow<'a, str>>,
}

fn rms(pcm: &[u8]) -> f64 {
    let n = pcm.len() / 2;
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = pcm
        .chunks_exact(2)
        .map(|c| {
            let v = f64::from(i16::from_le_bytes([c[0], c[1]]));
            v * v
        })
        .sum();
    (sum / n as f64).sqrt()
}

fn el_audio(b64: &str, event_id: u64) -> String {
    format!(r#"{{"type":"audio","audio_event":{{"audio_base_64":"{b64}","event_id":{event_id}}}}}"#)
}

fn teler_audio(b64: &str, chunk_id: u64) -> String {
    format!(r#"{{"type":"audio","audio_b64":"{b64}","chunk_id":{chunk_id}}}"#)
}

async fn connection(tcp: TcpStream, cfg: Arc<AgentConfig>, stats: Arc<AgentStats>) {
    let teler_path = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tp = teler_path.clone();
    // The callback's signature is tungstenite's (its error type is an HTTP response).
    #[allow(clippy::result_large_err)]
    let cb = move |req: &tungstenite::handshake::server::Request,
                   res: tungstenite::handshake::server::Response| {
        tp.store(req.uri().path().starts_with("/teler"), Ordering::Relaxed);
        Ok(res)
    };
    let Ok(mut ws) = async_tungstenite::tokio::accept_hdr_async_with_config(
        tcp,
        cb,
        Some(crate::ws::ws_config()),
    )
    .await
    else {
        return;
    };
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let mut teler = teler_path.load(Ordering::Relaxed);
    let mut event_id = 0u64;
    let chunk_bytes = (cfg.sample_rate as usize * cfg.chunk_ms as usize / 1000) * 2;
    let mut speaking_until = Instant::now();
    if !teler {
        let meta = format!(
            r#"{{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{{"conversation_id":"{}","agent_output_audio_format":"pcm_{rate}","user_input_audio_format":"pcm_{rate}"}}}}"#,
            new_id("conv"),
            rate = cfg.sample_rate
        );
        if ws.send(Message::text(meta)).await.is_err() {
            return;
        }
        if cfg.greeting_ms > 0 {
            let tone = Pcm::tone(cfg.sample_rate, cfg.tone_hz, cfg.amplitude, cfg.greeting_ms);
            let bytes: Vec<u8> = tone.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            let step = if chunk_bytes == 0 {
                bytes.len()
            } else {
                chunk_bytes
            };
            for c in bytes.chunks(step.max(2)) {
                event_id += 1;
                if ws
                    .send(Message::text(el_audio(&B64.encode(c), event_id)))
                    .await
                    .is_err()
                {
                    return;
                }
                stats.audio_out.fetch_add(1, Ordering::Relaxed);
            }
            speaking_until = Instant::now() + Duration::from_millis(u64::from(cfg.greeting_ms));
        }
    }
    let mut pending: Vec<u8> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    while let Some(msg) = ws.next().await {
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        stats.messages_in.fetch_add(1, Ordering::Relaxed);
        let Ok(m) = serde_json::from_str::<Incoming<'_>>(text.as_str()) else {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if m.kind.as_deref() == Some("start") {
            teler = true;
            continue;
        }
        let b64 = if teler {
            match (m.kind.as_deref(), m.data.and_then(|d| d.audio_b64)) {
                (Some("audio"), Some(a)) => a,
                _ => continue,
            }
        } else {
            match m.user_audio_chunk {
                Some(a) => a,
                None => continue, // pong, user_activity, contextual_update, …
            }
        };
        let mut out: Vec<String> = Vec::new();
        if teler && chunk_bytes == 0 {
            // Echo at once, without decoding.
            event_id += 1;
            out.push(teler_audio(&b64, event_id));
        } else {
            scratch.clear();
            if B64.decode_vec(b64.as_bytes(), &mut scratch).is_err() {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if !teler
                && cfg.interrupt_rms > 0.0
                && Instant::now() < speaking_until
                && rms(&scratch) > cfg.interrupt_rms
            {
                speaking_until = Instant::now();
                event_id += 1;
                out.push(format!(
                    r#"{{"type":"interruption","interruption_event":{{"event_id":{event_id}}}}}"#
                ));
                stats.interruptions.fetch_add(1, Ordering::Relaxed);
            }
            if teler || cfg.echo {
                if chunk_bytes == 0 {
                    event_id += 1;
                    out.push(el_audio(&b64, event_id));
                } else {
                    pending.extend_from_slice(&scratch);
                    while pending.len() >= chunk_bytes {
                        let rest = pending.split_off(chunk_bytes);
                        let chunk = std::mem::replace(&mut pending, rest);
                        event_id += 1;
                        let b = B64.encode(&chunk);
                        out.push(if teler {
                            teler_audio(&b, event_id)
                        } else {
                            el_audio(&b, event_id)
                        });
                    }
                }
            }
        }
        for o in out {
            let audio = o.starts_with(r#"{"type":"audio""#);
            if ws.send(Message::text(o)).await.is_err() {
                return;
            }
            if audio {
                stats.audio_out.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
