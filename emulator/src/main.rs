//! `teler-emulator`: a local FreJun Teler stand-in, a stand-in voice agent, and a load
//! generator. Run `teler-emulator --help`.

use std::process::ExitCode;
use std::time::Duration;

use teler_emulator::agent::{self, AgentConfig, AgentProtocol};
use teler_emulator::load::{self, LoadConfig, LoadTarget};
use teler_emulator::{
    AudioSource, CallRequest, Emulator, EmulatorError, SocketCallId, WebhookVersion,
};

const USAGE: &str = "\
teler-emulator: a local FreJun Teler for testing bridges with no phone number and no account

USAGE:
  teler-emulator [serve] [OPTIONS]      serve Teler's REST API (base URL printed) and play calls
  teler-emulator agent [OPTIONS]        a stand-in voice agent (WebSocket): ElevenLabs or
                                        OpenAI-Realtime-style protocol
  teler-emulator load [OPTIONS]         many concurrent media streams; text and JSON report

serve:
  --addr HOST:PORT          listen address (127.0.0.1:8089)
  --api-key KEY             the x-api-key clients must send (test-key)
  --webhook-version V       2025-08-01 or 2026-06-01 (2026-06-01)
  --secret SECRET           sign webhooks (X-Teler-Signature, X-Teler-Timestamp)
  --webhook-attempts N      tries per webhook; a failure (no answer, non-2xx) is retried
                            with the same body after a doubling backoff, later events
                            going first (4; 1 = no retry; at most 10)
  --webhook-backoff SECS    wait before the first retry, doubled after (0.2)
  --webhook-duplicates      deliver every webhook twice (same body, same event id)
  --balance ADDR,ADDR,...   stand in for a load balancer in front of a fleet: spread each
                            flow request, media socket and webhook attempt (retries and
                            duplicates too) round-robin over these HOST:PORT addresses
                            (the URL's host and port replaced, its path and query kept)
  --audio FILE.wav          caller audio: a 16-bit PCM mono WAV, looped
  --tone HZ | --silence     caller audio: a tone (440 Hz by default) or silence
  --fast                    send frames as fast as the app reads (no real-time pacing)
  --speed X                 pace at X times real time
  --call-duration SECS      how long each call streams before Teler hangs up (30)
  --ring SECS               ringing time before answer (0)
  --output-dir DIR          write what the app played, per call, to DIR/CALL_ID.wav
  --socket-call-id FORM     call_id in the stream's start frame: uuid (unlike the REST
                            cs_ id, as Teler may send) or rest (the REST id) (uuid)
  --call FLOW_URL           place one call at start (to --to from --from, webhooks to
                            --status-callback), print its final state as JSON and exit
  --from NUM --to NUM       numbers for --call (+15550100001, +15550100002)
  --status-callback URL     status_callback_url for --call
  --no-inspector            do not serve the call inspector and dev phone at / (served
                            by default; its one-time login link is printed at start)
  --quiet                   no log lines

agent:
  --addr HOST:PORT          listen address (127.0.0.1:8090); ws://ADDR/ speaks --protocol,
                            ws://ADDR/openai the OpenAI-style protocol (24 kHz PCM16),
                            ws://ADDR/gemini Gemini Live, ws://ADDR/devnagri Devnagri,
                            ws://ADDR/deepgram Deepgram Voice Agent,
                            ws://ADDR/ultravox?inputSampleRate=I&outputSampleRate=O Ultravox,
                            ws://ADDR/cartesia (or /agents/stream/ID) Cartesia Agents,
                            ws://ADDR/vapi?format=F&sampleRate=R Vapi WebSocket transport,
                            ws://ADDR/sarvam?user_identifier=U&user_identifier_type=custom
                            Sarvam, ws://ADDR/teler echoes Teler media frames
  --protocol P              what ws://ADDR/ speaks: elevenlabs, openai, gemini, devnagri,
                            deepgram, ultravox, cartesia, vapi or sarvam (elevenlabs)
  --greeting-ms MS          greeting tone length (1500; 0 = none)
  --echo-ms MS              echo chunk length (500; 0 = echo each message at once)
  --no-echo                 do not echo the caller
  --interrupt-rms LEVEL     caller loudness that interrupts the greeting (500; 0 = never)

load:
  --connect WS_URL          open the streams straight to this ws:// URL, or
  --calls N --flow-url URL  place N calls through this flow URL
  --streams N               streams for --connect (100)
  --chunk-ms MS             frame length for --connect (500)
  --sample-rate HZ          8000 or 16000 for --connect (8000)
  --duration SECS           sending time once all are connected (10)
  --slots N                 pace slots per frame period (10)
  --drain SECS              wait for the last echoes (2)
  --json FILE               also write the report as JSON to FILE ('-' = stdout)
  --no-progress             no progress line
";

/// Why the command failed: a bad command line (the message, then the usage text, exit 2),
/// or something that went wrong running it (one line, exit 1).
enum Failure {
    Usage(String),
    Runtime(String),
}

/// A plain message is a usage error: the argument parsers return them. Runtime failures
/// are made with [`runtime`].
impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

impl From<&str> for Failure {
    fn from(e: &str) -> Self {
        Failure::Usage(e.to_owned())
    }
}

/// A runtime failure; its message on one line.
fn runtime(e: impl std::fmt::Display) -> Failure {
    let text = e.to_string();
    Failure::Runtime(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An error from `Emulator::start`: a setting out of range is a usage error, not being
/// able to listen or to read the audio (`audio`, the `--audio` file) a runtime one.
fn start_failure(e: EmulatorError, audio: Option<&str>) -> Failure {
    match (e, audio) {
        (e @ EmulatorError::Config(_), _) => Failure::Usage(e.to_string()),
        (e @ EmulatorError::Audio(_), Some(path)) => runtime(format!("{path}: {e}")),
        (e, _) => runtime(e),
    }
}

struct Args(std::vec::IntoIter<String>);

impl Args {
    fn value(&mut self, flag: &str) -> Result<String, String> {
        self.0.next().ok_or_else(|| format!("{flag} needs a value"))
    }
    fn num<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.parse()
            .map_err(|_| format!("{flag}: not a number: {v:?}"))
    }
    fn secs(&mut self, flag: &str) -> Result<Duration, String> {
        let v: f64 = self.num(flag)?;
        Duration::try_from_secs_f64(v).map_err(|_| format!("{flag}: not a duration: {v}"))
    }
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let mode = match argv.first().map(String::as_str) {
        Some("serve") | Some("agent") | Some("load") => argv.remove(0),
        _ => "serve".to_owned(),
    };
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("teler-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args = Args(argv.into_iter());
    let r = rt.block_on(async move {
        match mode.as_str() {
            "agent" => run_agent(args).await,
            "load" => run_load(args).await,
            _ => run_serve(args).await,
        }
    });
    match r {
        Ok(code) => code,
        Err(Failure::Usage(e)) => {
            eprintln!("teler-emulator: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("teler-emulator: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_serve(mut a: Args) -> Result<ExitCode, Failure> {
    let mut b = Emulator::builder().inspector(true);
    let mut addr = "127.0.0.1:8089".to_owned();
    let mut audio = None;
    let (mut call, mut from, mut to, mut cb) = (
        None,
        "+15550100001".to_owned(),
        "+15550100002".to_owned(),
        None,
    );
    while let Some(f) = a.0.next() {
        b = match f.as_str() {
            "--addr" => {
                addr = a.value(&f)?;
                b
            }
            "--api-key" => b.api_key(a.value(&f)?),
            "--webhook-version" => b.webhook_version(a.value(&f)?.parse::<WebhookVersion>()?),
            "--secret" => b.secret(a.value(&f)?),
            "--webhook-attempts" => b.webhook_attempts(a.num(&f)?),
            "--webhook-backoff" => b.webhook_retry_backoff(a.secs(&f)?),
            "--webhook-duplicates" => b.webhook_duplicates(true),
            "--balance" => b.balance(a.value(&f)?.split(',').map(str::trim).map(str::to_owned)),
            "--audio" => {
                let path = a.value(&f)?;
                audio = Some(path.clone());
                b.audio(AudioSource::Wav(path.into()))
            }
            "--tone" => b.audio(AudioSource::Tone {
                freq_hz: a.num(&f)?,
                amplitude: 6000,
            }),
            "--silence" => b.audio(AudioSource::Silence),
            "--fast" => b.realtime(false),
            "--speed" => b.speed(a.num(&f)?),
            "--call-duration" => b.call_duration(a.secs(&f)?),
            "--ring" => b.ring_time(a.secs(&f)?),
            "--output-dir" => b.output_dir(a.value(&f)?),
            "--socket-call-id" => b.socket_call_id(a.value(&f)?.parse::<SocketCallId>()?),
            "--quiet" => b.log(false),
            "--no-inspector" => b.inspector(false),
            "--call" => {
                call = Some(a.value(&f)?);
                b
            }
            "--from" => {
                from = a.value(&f)?;
                b
            }
            "--to" => {
                to = a.value(&f)?;
                b
            }
            "--status-callback" => {
                cb = Some(a.value(&f)?);
                b
            }
            other => return Err(format!("unknown option {other:?}").into()),
        };
    }
    let emu = b
        .start(addr.as_str())
        .await
        .map_err(|e| start_failure(e, audio.as_deref()))?;
    eprintln!(
        "teler-emulator: REST API at {} (x-api-key: {})",
        emu.base_url(),
        emu.api_key()
    );
    if let Some(url) = emu.inspector_url() {
        eprintln!(
            "teler-emulator: call inspector and dev phone: {url} (a one-time link; or log in with the API key)"
        );
    }
    if let Some(flow_url) = call {
        let c = emu.place_call(CallRequest {
            from_number: from,
            to_number: to,
            flow_url,
            status_callback_url: cb,
            record: true,
        });
        let end = emu.wait_for_call_end(&c.id).await;
        let end = end.ok_or_else(|| runtime("the call vanished"))?;
        println!("{}", serde_json::to_string_pretty(&end).map_err(runtime)?);
        return Ok(if end.state.as_str() == "completed" {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}

async fn run_agent(mut a: Args) -> Result<ExitCode, Failure> {
    let mut cfg = AgentConfig::default();
    let mut addr = "127.0.0.1:8090".to_owned();
    while let Some(f) = a.0.next() {
        match f.as_str() {
            "--addr" => addr = a.value(&f)?,
            "--greeting-ms" => cfg.greeting_ms = a.num(&f)?,
            "--echo-ms" => cfg.chunk_ms = a.num(&f)?,
            "--no-echo" => cfg.echo = false,
            "--interrupt-rms" => cfg.interrupt_rms = a.num(&f)?,
            "--protocol" => cfg.protocol = a.value(&f)?.parse::<AgentProtocol>()?,
            other => return Err(format!("unknown option {other:?}").into()),
        }
    }
    teler_emulator::util::raise_fd_limit(1 << 20);
    let cfg_protocol = cfg.protocol;
    let h = agent::serve_with(addr.as_str(), cfg)
        .await
        .map_err(|e| runtime(format!("cannot listen on {addr}: {e}")))?;
    let default = match cfg_protocol {
        AgentProtocol::OpenAi => "OpenAI-Realtime-style (24 kHz)",
        AgentProtocol::Gemini => "Gemini Live",
        AgentProtocol::Devnagri => "Devnagri",
        AgentProtocol::Deepgram => "Deepgram Voice Agent",
        AgentProtocol::Ultravox => "Ultravox",
        AgentProtocol::Cartesia => "Cartesia Agents",
        AgentProtocol::Vapi => "Vapi WebSocket transport",
        AgentProtocol::Sarvam => "Sarvam",
        _ => "ElevenLabs",
    };
    eprintln!(
        "teler-emulator agent: {default} protocol at {}; OpenAI-Realtime-style (24 kHz) at {}; \
         Gemini Live at {}; Devnagri at {}; Deepgram Voice Agent at {}; \
         Ultravox at {}; Cartesia Agents at {}; Vapi at {}; Sarvam at {}; Teler echo at {}",
        h.url(),
        h.openai_url(),
        h.url_for(AgentProtocol::Gemini),
        h.url_for(AgentProtocol::Devnagri),
        h.url_for(AgentProtocol::Deepgram),
        h.url_for(AgentProtocol::Ultravox),
        h.url_for(AgentProtocol::Cartesia),
        h.url_for(AgentProtocol::Vapi),
        h.url_for(AgentProtocol::Sarvam),
        h.teler_url()
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}

async fn run_load(mut a: Args) -> Result<ExitCode, Failure> {
    let mut cfg = LoadConfig::connect(String::new(), 100);
    cfg.progress = true;
    let (mut connect, mut calls, mut flow, mut json) = (None, None, None, None);
    while let Some(f) = a.0.next() {
        match f.as_str() {
            "--connect" => connect = Some(a.value(&f)?),
            "--calls" => calls = Some(a.num::<usize>(&f)?),
            "--flow-url" => flow = Some(a.value(&f)?),
            "--streams" => cfg.streams = a.num(&f)?,
            "--chunk-ms" => cfg.chunk_ms = a.num(&f)?,
            "--sample-rate" => cfg.sample_rate = a.num(&f)?,
            "--duration" => cfg.duration = a.secs(&f)?,
            "--slots" => cfg.slots = a.num(&f)?,
            "--drain" => cfg.drain = a.secs(&f)?,
            "--json" => json = Some(a.value(&f)?),
            "--no-progress" => cfg.progress = false,
            other => return Err(format!("unknown option {other:?}").into()),
        }
    }
    cfg.target = match (connect, calls, flow) {
        (Some(u), None, None) => LoadTarget::Connect(u),
        (None, Some(n), Some(f)) => {
            cfg.streams = n;
            LoadTarget::Calls(f)
        }
        _ => return Err("load needs --connect WS_URL, or --calls N with --flow-url URL".into()),
    };
    // Settings out of range are usage errors; a running load reports its failures itself.
    cfg.validate().map_err(|e| Failure::Usage(e.to_string()))?;
    let report = load::run(cfg).await.map_err(runtime)?;
    println!("{}", report.to_text());
    match json.as_deref() {
        Some("-") => println!("{}", report.to_json()),
        Some(path) => std::fs::write(path, report.to_json())
            .map_err(|e| runtime(format!("cannot write {path}: {e}")))?,
        None => {}
    }
    Ok(if report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
