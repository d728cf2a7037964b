//! The whole story on one machine, with no account and no internet: a local Teler (the
//! emulator), a stand-in ElevenLabs agent, and the seed's sample app ([`tokio_app`]) on
//! real sockets; a call placed through the app's `/initiate-call` (the REST client, pointed
//! at the emulator), the flow fetched, audio both ways through the bridge, signed webhooks
//! verified by the app, the call ended, a summary and the caller-side audio in a WAV file.
//!
//! Run it with `cargo run -p teler-examples --example story`; the `story` integration test
//! runs the same thing faster.
//!
//! [`tokio_app`]: crate::tokio_app

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teler_core::media::{EndReason, EndSummary};
use teler_emulator::agent::{self, AgentConfig};
use teler_emulator::{AudioSource, Call, Emulator, WebhookVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Settings, tokio_app};

/// How to run the story.
#[derive(Debug, Clone)]
pub struct StoryOptions {
    /// How much caller audio the call streams before Teler hangs up (default 6 s).
    pub call_duration: Duration,
    /// Pace factor: 1.0 is real time (default); the test uses more.
    pub speed: f64,
    /// Where the caller-side WAV goes (default: the system temp dir).
    pub output_dir: PathBuf,
    /// Webhook body shape the emulator sends (default 2026-06-01).
    pub webhook_version: WebhookVersion,
    /// Print the components' log lines (default true).
    pub log: bool,
}

impl Default for StoryOptions {
    fn default() -> Self {
        StoryOptions {
            call_duration: Duration::from_secs(6),
            speed: 1.0,
            output_dir: std::env::temp_dir().join("teler-story"),
            webhook_version: WebhookVersion::V2026_06_01,
            log: true,
        }
    }
}

/// The longest call the story places.
pub const MAX_STORY_SECONDS: u64 = 600;

/// Reads the `STORY_SECONDS` setting, the call's length: `None` (the default) when unset or
/// blank, else a whole number of seconds from 1 to [`MAX_STORY_SECONDS`]; anything else is
/// an error saying so, never the default in silence.
///
/// ```
/// use std::time::Duration;
/// use teler_examples::story::story_seconds;
/// assert_eq!(story_seconds(Some(" 12 ")), Ok(Some(Duration::from_secs(12))));
/// assert_eq!(story_seconds(None), Ok(None));
/// assert!(story_seconds(Some("abc")).unwrap_err().contains("\"abc\""));
/// ```
pub fn story_seconds(value: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match v.parse::<u64>() {
        Ok(secs) if (1..=MAX_STORY_SECONDS).contains(&secs) => Ok(Some(Duration::from_secs(secs))),
        _ => Err(format!(
            "STORY_SECONDS must be a whole number of seconds from 1 to {MAX_STORY_SECONDS}, \
             got {v:?}"
        )),
    }
}

/// What happened.
#[derive(Debug)]
pub struct StoryReport {
    /// The call as the emulator (Teler) saw it at the end, webhook deliveries included.
    pub call: Call,
    /// The bridge's summary of the media stream, from the app.
    pub bridge: EndSummary,
    /// Webhook event types the app accepted (signature verified, parsed, not repeats), in
    /// arrival order.
    pub webhooks_received: Vec<String>,
    /// Connections and messages the stand-in agent saw.
    pub agent_messages_in: u64,
    /// Audio messages the agent sent.
    pub agent_audio_out: u64,
    /// Interruptions the agent sent (the caller talked over its greeting).
    pub agent_interruptions: u64,
}

impl StoryReport {
    /// A short human summary.
    pub fn to_text(&self) -> String {
        let c = &self.call;
        let m = &c.media;
        let b = &self.bridge.stats;
        let mut s = String::new();
        let _ = writeln!(s, "call {} {} -> {}", c.id, c.from_number, c.to_number);
        let _ = writeln!(
            s,
            "  ended: {} ({})",
            c.state.as_str(),
            c.reason.as_deref().unwrap_or("-")
        );
        let _ = writeln!(
            s,
            "  teler -> app: start + {} audio frames of {} ms at {} Hz",
            m.frames_sent.saturating_sub(1),
            m.chunk_size_ms.unwrap_or(0),
            m.sample_rate.unwrap_or(0)
        );
        let _ = writeln!(
            s,
            "  app -> teler: {} audio chunks ({} ms played), {} clear, {} interrupt, {} bad frames",
            m.audio_chunks, m.played_ms, m.clears, m.interrupts, m.bad_frames
        );
        let _ = writeln!(
            s,
            "  bridge: ended {}; relayed {} to the agent, {} to Teler; dropped {} / {}",
            describe(&self.bridge.reason),
            b.from_teler.relayed_frames,
            b.from_remote.relayed_frames,
            b.from_teler.dropped + b.from_teler.send_dropped,
            b.from_remote.dropped + b.from_remote.send_dropped,
        );
        let _ = writeln!(
            s,
            "  agent: {} messages in, {} audio out, {} interruptions",
            self.agent_messages_in, self.agent_audio_out, self.agent_interruptions
        );
        let sent: Vec<String> = c
            .webhooks
            .iter()
            .map(|w| match (w.status, &w.error) {
                (Some(st), _) => format!("{} {st}", w.event),
                (None, Some(e)) => format!("{} failed: {e}", w.event),
                (None, None) => w.event.clone(),
            })
            .collect();
        let _ = writeln!(s, "  webhooks sent (signed): {}", sent.join(", "));
        let _ = writeln!(
            s,
            "  webhooks verified by the app: {}",
            self.webhooks_received.join(", ")
        );
        if !c.errors.is_empty() {
            let _ = writeln!(s, "  errors: {}", c.errors.join("; "));
        }
        if let Some(wav) = &m.output_wav {
            let _ = writeln!(s, "  what the caller heard: {wav}");
        }
        s
    }
}

fn describe(r: &EndReason) -> String {
    match r {
        EndReason::TelerHungUp(Some(c)) => format!("Teler hung up (close code {})", c.code),
        EndReason::TelerHungUp(None) => "Teler hung up".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Runs the story once; the error says which part failed.
pub async fn run(opts: StoryOptions) -> Result<StoryReport, String> {
    let api_key = "story-key";
    let secret = "whsec_c3Rvcnktc2VjcmV0LWZvci10aGUtbG9jYWwtZGVtbw";
    std::fs::create_dir_all(&opts.output_dir)
        .map_err(|e| format!("output dir {}: {e}", opts.output_dir.display()))?;

    // 1. Teler, locally.
    let emu = Emulator::builder()
        .api_key(api_key)
        .secret(secret)
        .webhook_version(opts.webhook_version)
        .audio(AudioSource::Tone {
            freq_hz: 440.0,
            amplitude: 6000,
        })
        .call_duration(opts.call_duration)
        .speed(opts.speed)
        .output_dir(&opts.output_dir)
        .log(opts.log)
        .start("127.0.0.1:0")
        .await
        .map_err(|e| format!("emulator: {e}"))?;

    // 2. The voice agent: greets with a tone, is interrupted by the caller, echoes.
    let agent = agent::serve_with("127.0.0.1:0", AgentConfig::default())
        .await
        .map_err(|e| format!("agent: {e}"))?;

    // 3. The seed's sample app, configured as a user would with env variables.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("app: {e}"))?;
    let app_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let vars = [
        ("BIND_ADDR", app_addr.to_string()),
        ("BACKEND_DOMAIN", format!("http://{app_addr}")),
        ("REMOTE_WS_URL", agent.url()),
        ("TELER_API_KEY", api_key.to_owned()),
        ("TELER_BASE_URL", emu.base_url()),
        ("FROM_NUMBER", "+15550100001".to_owned()),
        ("TO_NUMBER", "+15550100002".to_owned()),
        ("TELER_WEBHOOK_SECRET", secret.to_owned()),
        (
            "MEDIA_TOKEN_KEY",
            "story-media-token-key-0123456789".to_owned(),
        ),
    ];
    let settings = Settings::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })?;
    let webhooks = Arc::new(Mutex::new(Vec::<String>::new()));
    let (end_tx, mut end_rx) = tokio::sync::mpsc::unbounded_channel();
    let hooks = tokio_app::Hooks {
        on_end: Some(Box::new(move |s| {
            let _ = end_tx.send(s);
        })),
        on_webhook: Some(Box::new({
            let webhooks = webhooks.clone();
            move |ev| {
                if let Ok(mut w) = webhooks.lock() {
                    w.push(ev.event_type().to_owned());
                }
            }
        })),
    };
    let router = tokio_app::router(settings, hooks)?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // 4. Place the call the seed's way: POST /initiate-call.
    let answer = post(app_addr, "/initiate-call").await?;
    let created: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| format!("/initiate-call answered {answer:?}: {e}"))?;
    let call_id = created["call_id"]
        .as_str()
        .ok_or_else(|| format!("/initiate-call failed: {answer}"))?
        .to_owned();

    // 5. Wait for the end: the call's, its webhooks', and the bridge's.
    let limit = opts.call_duration.div_f64(opts.speed.max(0.01)) + Duration::from_secs(30);
    let call = tokio::time::timeout(limit, emu.wait_for_call_end(&call_id))
        .await
        .map_err(|_| format!("call {call_id} did not end within {limit:?}"))?
        .ok_or_else(|| format!("the emulator does not know call {call_id}"))?;
    let bridge = tokio::time::timeout(Duration::from_secs(10), end_rx.recv())
        .await
        .ok()
        .flatten()
        .ok_or("the bridge never reported the end of the media stream")?;
    let stats = agent.stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Acquire);
    // The agent counts messages as it reads them: wait until it has read to the end of the
    // bridge's connection (closed when the bridge ended) so the counts below are final.
    let settled = async {
        while load(&stats.closed) < load(&stats.connections) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), settled)
        .await
        .map_err(|_| "the agent's connection did not end with the call")?;
    let report = StoryReport {
        webhooks_received: webhooks.lock().map(|w| w.clone()).unwrap_or_default(),
        agent_messages_in: load(&stats.messages_in),
        agent_audio_out: load(&stats.audio_out),
        agent_interruptions: load(&stats.interruptions),
        call,
        bridge,
    };
    server.abort();
    emu.shutdown().await;
    Ok(report)
}

/// `POST {path}` with an empty body on `addr`; the body of a 2xx answer.
async fn post(addr: std::net::SocketAddr, path: &str) -> Result<String, String> {
    let io = |e: std::io::Error| format!("POST {path}: {e}");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.map_err(io)?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut answer))
        .await
        .map_err(|_| format!("POST {path}: no answer in 30 s"))?
        .map_err(io)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("POST {path}: not HTTP: {answer:?}"))?;
    if !head.starts_with("HTTP/1.1 2") {
        return Err(format!("POST {path}: {head}\n{body}"));
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn story_seconds_is_a_number_or_an_error() {
        assert_eq!(story_seconds(Some("6")), Ok(Some(Duration::from_secs(6))));
        assert_eq!(
            story_seconds(Some("600")),
            Ok(Some(Duration::from_secs(600)))
        );
        assert_eq!(story_seconds(Some("")), Ok(None));
        assert_eq!(story_seconds(Some("  ")), Ok(None));
        for bad in ["abc", "0", "601", "-1", "1.5", "6s", "\u{fffd}"] {
            let e = story_seconds(Some(bad)).unwrap_err();
            assert!(
                e.starts_with("STORY_SECONDS must be a whole number"),
                "{bad}: {e}"
            );
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
