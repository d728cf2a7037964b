//! The axum app of the `bridge_agent` example: Teler bridged to any vendor in
//! [`teler_tokio::agents`] with its ready-made handlers, chosen by [`Agent`]. Here (not in
//! the example file) so tests can serve it.
//!
//! - `POST /flow`: answers a `stream` action to `{BACKEND_DOMAIN}/media-stream` (500 ms
//!   chunks, recorded); a body without `call_id` gets 422.
//! - `GET /media-stream` (WebSocket): Teler's media stream, bridged to `REMOTE_WS_URL` with a
//!   fresh handler pair per call (Ultravox with `ULTRAVOX_API_KEY`: to a call created for it).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use teler_tokio::agents::{
    cartesia, deepgram, devnagri, elevenlabs, gemini, openai, sarvam, ultravox, vapi,
};
use teler_tokio::axum_ws::{self, AxumWs};
use teler_tokio::media::StreamHandler;
use teler_tokio::webhook::FlowRequest;
use teler_tokio::{BridgeConfig, CallFlow, StreamConnector};

use crate::tokio_app::OnEnd;
use crate::{MEDIA_STREAM_PATH, Settings};

/// The vendor a bridge talks to, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Agent {
    /// ElevenLabs Conversational AI (the seed app's agent).
    ElevenLabs,
    /// OpenAI Realtime; `Some` replaces the default `session.update`.
    OpenAi(Option<String>),
    /// Google Gemini Live.
    Gemini(gemini::Config),
    /// A Devnagri voice bot.
    Devnagri(devnagri::Config),
    /// A Deepgram voice agent.
    Deepgram(deepgram::Config),
    /// An Ultravox call on the `serverWebSocket` medium (`REMOTE_WS_URL` is its `joinUrl`).
    Ultravox(ultravox::Config),
    /// A Cartesia Line agent on its Agents WebSocket (`REMOTE_WS_URL` is
    /// `wss://api.cartesia.ai/agents/stream/{agent_id}`).
    Cartesia(cartesia::Config),
    /// A Vapi call on the WebSocket transport (`REMOTE_WS_URL` is its `websocketCallUrl`).
    Vapi(vapi::Config),
    /// A Sarvam voice agent (`REMOTE_WS_URL` is a session's signed URL from
    /// `sarvam::SignedUrl`).
    Sarvam(sarvam::Config),
}

/// Every `AGENT` value [`Agent::from_vars`] takes.
pub const AGENT_NAMES: &str =
    "elevenlabs, openai, gemini, devnagri, deepgram, ultravox, cartesia, vapi, sarvam";

impl Agent {
    /// Reads `AGENT` and the vendor's settings:
    ///
    /// | `AGENT` | settings |
    /// |---|---|
    /// | `elevenlabs` | none |
    /// | `openai` | `OPENAI_SESSION_UPDATE` (the `session.update` JSON) |
    /// | `gemini` | `GEMINI_MODEL`, `GEMINI_VOICE`, `GEMINI_SYSTEM_INSTRUCTION` |
    /// | `devnagri` | none |
    /// | `ultravox` | `ULTRAVOX_INPUT_RATE`, `ULTRAVOX_OUTPUT_RATE` (the rates the call is or was created with; 8000); `ULTRAVOX_API_KEY` (see [`headers`](Self::headers)) |
    /// | `cartesia` | `CARTESIA_INPUT_FORMAT` (`mulaw_8000`, `pcm_16000`, `pcm_24000`, `pcm_44100`; `mulaw_8000`), `CARTESIA_VOICE_ID`, `CARTESIA_INTRODUCTION`, `CARTESIA_SYSTEM_PROMPT` |
    /// | `vapi` | `VAPI_FORMAT` (`pcm_s16le` or `mulaw`), `VAPI_SAMPLE_RATE` (what the call was created with; `pcm_s16le` at 16000) |
    /// | `sarvam` | `SARVAM_INPUT_RATE` (8000, 16000 or 48000; 8000), `SARVAM_INITIAL_LANGUAGE`, `SARVAM_INITIAL_BOT_MESSAGE` |
    /// | `deepgram` | `DEEPGRAM_PROMPT`, `DEEPGRAM_GREETING`, `DEEPGRAM_THINK_PROVIDER`, `DEEPGRAM_THINK_MODEL`, `DEEPGRAM_SPEAK_MODEL`, `DEEPGRAM_LISTEN_MODEL` |
    ///
    /// # Errors
    /// `AGENT` unset or unknown; a rate that is not a number the resampler takes; a Cartesia
    /// format it does not document; a Sarvam input rate other than 8000, 16000 or 48000.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Agent, String> {
        let var = |n: &str| {
            var(n)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let name = var("AGENT").ok_or(format!("set AGENT to one of: {AGENT_NAMES}"))?;
        Ok(match name.to_ascii_lowercase().as_str() {
            "elevenlabs" => Agent::ElevenLabs,
            "openai" => Agent::OpenAi(var("OPENAI_SESSION_UPDATE")),
            "gemini" => {
                let mut c = gemini::Config::default();
                if let Some(m) = var("GEMINI_MODEL") {
                    c.model = m;
                }
                c.voice = var("GEMINI_VOICE");
                c.system_instruction = var("GEMINI_SYSTEM_INSTRUCTION");
                Agent::Gemini(c)
            }
            "devnagri" => Agent::Devnagri(devnagri::Config::default()),
            "deepgram" => {
                let mut c = deepgram::Config {
                    prompt: var("DEEPGRAM_PROMPT"),
                    greeting: var("DEEPGRAM_GREETING"),
                    ..deepgram::Config::default()
                };
                for (name, field) in [
                    ("DEEPGRAM_THINK_PROVIDER", &mut c.think_provider),
                    ("DEEPGRAM_THINK_MODEL", &mut c.think_model),
                    ("DEEPGRAM_SPEAK_MODEL", &mut c.speak_model),
                    ("DEEPGRAM_LISTEN_MODEL", &mut c.listen_model),
                ] {
                    if let Some(v) = var(name) {
                        *field = v;
                    }
                }
                Agent::Deepgram(c)
            }
            "ultravox" => {
                let rate = |name: &str, default: ultravox::Config| -> Result<_, String> {
                    let fallback = if name.ends_with("INPUT_RATE") {
                        default.input_rate
                    } else {
                        default.output_rate
                    };
                    match var(name) {
                        None => Ok(fallback),
                        Some(v) => v
                            .parse::<u32>()
                            .ok()
                            .and_then(|hz| teler_tokio::audio::SampleRate::from_hz(hz).ok())
                            .ok_or(format!("{name}={v:?}: 8000, 16000, 24000, …")),
                    }
                };
                Agent::Ultravox(ultravox::Config {
                    input_rate: rate("ULTRAVOX_INPUT_RATE", ultravox::Config::default())?,
                    output_rate: rate("ULTRAVOX_OUTPUT_RATE", ultravox::Config::default())?,
                    ..ultravox::Config::default()
                })
            }
            "cartesia" => {
                let mut c = cartesia::Config {
                    voice_id: var("CARTESIA_VOICE_ID"),
                    introduction: var("CARTESIA_INTRODUCTION"),
                    system_prompt: var("CARTESIA_SYSTEM_PROMPT"),
                    ..cartesia::Config::default()
                };
                if let Some(f) = var("CARTESIA_INPUT_FORMAT") {
                    c.format = cartesia::Format::from_name(&f).ok_or(format!(
                        "CARTESIA_INPUT_FORMAT={f:?}: mulaw_8000, pcm_16000, pcm_24000 or pcm_44100"
                    ))?;
                }
                Agent::Cartesia(c)
            }
            "vapi" => {
                let mut c = vapi::Config::default();
                if let Some(f) = var("VAPI_FORMAT") {
                    c.encoding = vapi::Encoding::from_name(&f)
                        .ok_or(format!("VAPI_FORMAT={f:?}: pcm_s16le or mulaw"))?;
                    if c.encoding == vapi::Encoding::Mulaw {
                        c.sample_rate = teler_tokio::audio::SampleRate::Hz8000;
                    }
                }
                if let Some(v) = var("VAPI_SAMPLE_RATE") {
                    c.sample_rate = v
                        .parse::<u32>()
                        .ok()
                        .and_then(|hz| teler_tokio::audio::SampleRate::from_hz(hz).ok())
                        .ok_or(format!("VAPI_SAMPLE_RATE={v:?}: 8000, 16000, 24000, …"))?;
                }
                Agent::Vapi(c)
            }
            "sarvam" => {
                let mut c = sarvam::Config {
                    initial_language_name: var("SARVAM_INITIAL_LANGUAGE"),
                    initial_bot_message: var("SARVAM_INITIAL_BOT_MESSAGE"),
                    clock: Some(sarvam::WallClock::new(
                        std::time::Instant::now(),
                        std::time::SystemTime::now(),
                    )),
                    ..sarvam::Config::default()
                };
                if let Some(v) = var("SARVAM_INPUT_RATE") {
                    c.input_rate = v
                        .parse::<u32>()
                        .ok()
                        .and_then(|hz| teler_tokio::audio::SampleRate::from_hz(hz).ok())
                        .filter(|r| sarvam::INPUT_RATES.contains(r))
                        .ok_or(format!("SARVAM_INPUT_RATE={v:?}: 8000, 16000 or 48000"))?;
                }
                Agent::Sarvam(c)
            }
            other => return Err(format!("AGENT={other:?}: use one of {AGENT_NAMES}")),
        })
    }

    /// A fresh handler pair for one call.
    pub fn handlers(&self) -> (Box<dyn StreamHandler>, Box<dyn StreamHandler>) {
        fn boxed(
            (c, r): (impl StreamHandler + 'static, impl StreamHandler + 'static),
        ) -> (Box<dyn StreamHandler>, Box<dyn StreamHandler>) {
            (Box::new(c), Box::new(r))
        }
        match self {
            Agent::ElevenLabs => boxed((elevenlabs::call_handler(), elevenlabs::remote_handler())),
            Agent::OpenAi(None) => boxed(openai::handlers()),
            Agent::OpenAi(Some(s)) => boxed((
                openai::call_handler().session_update(s.clone()),
                openai::remote_handler(),
            )),
            Agent::Gemini(c) => boxed(c.handlers()),
            Agent::Devnagri(c) => boxed(c.handlers()),
            Agent::Deepgram(c) => boxed(c.handlers()),
            Agent::Ultravox(c) => boxed(c.handlers()),
            Agent::Cartesia(c) => boxed(c.handlers()),
            Agent::Vapi(c) => boxed(c.handlers()),
            Agent::Sarvam(c) => boxed(c.handlers()),
        }
    }

    /// Headers the vendor's socket needs besides `REMOTE_AUTHORIZATION`, from the
    /// environment: Gemini's `x-goog-api-key` (`GEMINI_API_KEY`), Deepgram's
    /// `Authorization: Token …` (`DEEPGRAM_API_KEY`), Cartesia's `Authorization: Bearer …`
    /// (`CARTESIA_ACCESS_TOKEN`) with `Cartesia-Version`. Ultravox's `X-API-Key`
    /// (`ULTRAVOX_API_KEY`) goes to its REST API instead, not to the socket: with it, each
    /// media stream creates its own call (`ultravox::CreateCall` through the REST client's
    /// `vendor`) and is bridged to that call's `joinUrl`; without it, every stream goes to
    /// `REMOTE_WS_URL` (a fixed join URL, or the emulator's stand-in).
    pub fn headers(&self, var: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        match self {
            Agent::Gemini(_) => var("GEMINI_API_KEY")
                .map(|k| vec![("x-goog-api-key".to_owned(), k.trim().to_owned())])
                .unwrap_or_default(),
            Agent::Deepgram(_) => var("DEEPGRAM_API_KEY")
                .map(|k| vec![("Authorization".to_owned(), format!("Token {}", k.trim()))])
                .unwrap_or_default(),
            Agent::Ultravox(_) => var("ULTRAVOX_API_KEY")
                .map(|k| vec![(ULTRAVOX_KEY_HEADER.to_owned(), k.trim().to_owned())])
                .unwrap_or_default(),
            Agent::Cartesia(_) => var("CARTESIA_ACCESS_TOKEN")
                .map(|t| {
                    vec![
                        ("Authorization".to_owned(), format!("Bearer {}", t.trim())),
                        ("Cartesia-Version".to_owned(), cartesia::VERSION.to_owned()),
                    ]
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// The header name under which [`Agent::headers`] hands over `ULTRAVOX_API_KEY`.
const ULTRAVOX_KEY_HEADER: &str = "X-API-Key";

/// Ultravox with an API key: one call created per media stream.
struct UltravoxCalls {
    /// Sends the create-call requests (they carry their own key, not a Teler one).
    client: teler_tokio::AsyncClient,
    api_key: String,
    /// Ultravox's API ([`ultravox::API_BASE`]; a local server in tests).
    api_base: String,
    config: ultravox::Config,
    agent: Agent,
}

impl UltravoxCalls {
    /// A connector for one new Ultravox call: `base`'s settings, the call's `joinUrl`.
    ///
    /// Not registered with the app's connector: a call bridged through it is not in
    /// [`Connector::calls`](StreamConnector::calls), and [`Connector::drain`](StreamConnector::drain)
    /// (`bridge_agent` on SIGTERM/SIGINT) neither waits for it nor sends it away (only new
    /// streams are refused, by `media_stream`'s `is_draining` check).
    async fn connector(&self, base: &BridgeConfig) -> Result<StreamConnector<Factory>, String> {
        let req = ultravox::CreateCall::new(self.api_key.clone(), &self.config)
            .map_err(|e| e.to_string())?
            .base_url(self.api_base.clone());
        let join_url = self.client.vendor(req).await.map_err(|e| e.to_string())?;
        let mut b = BridgeConfig::builder(join_url);
        for (n, v) in base.remote_headers() {
            b = b.header(n.clone(), v.clone());
        }
        let agent = self.agent.clone();
        let factory: Factory = Box::new(move || agent.handlers());
        // A connector of its own, so its `calls()` are this one call only: the app's
        // connector (`App::connector`, which `build` returns for the drain) never sees it.
        Ok(StreamConnector::new(
            b.build().map_err(|e| e.to_string())?,
            factory,
        ))
    }
}

/// A call's boxed handler pair.
pub type Pair = (Box<dyn StreamHandler>, Box<dyn StreamHandler>);
/// What makes each call's handler pair.
pub type Factory = Box<dyn Fn() -> Pair + Send + Sync>;

/// What the app can be given besides [`Settings`] and the [`Agent`]. All optional.
#[derive(Default)]
pub struct Options {
    /// Extra headers for the vendor's socket (see [`Agent::headers`]).
    pub headers: Vec<(String, String)>,
    /// Gets each call's bridge summary when its media stream ends.
    pub on_end: Option<OnEnd>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are secrets (API keys): names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Options")
            .field("headers", &names)
            .field("on_end", &self.on_end.is_some())
            .finish()
    }
}

/// The app's connector: its [`calls`](StreamConnector::calls) and
/// [`drain`](StreamConnector::drain) are the server's live calls, except with `AGENT=ultravox`
/// and `ULTRAVOX_API_KEY`: each of those calls is bridged by a connector of its own (see
/// `UltravoxCalls::connector`), which this one's `calls()` and `drain` do not see.
pub type Connector = StreamConnector<Factory>;

struct App {
    connector: Arc<Connector>,
    settings: Settings,
    on_end: Option<OnEnd>,
    ultravox: Option<UltravoxCalls>,
}

/// The app: `POST /flow` and `GET /media-stream`.
///
/// # Errors
/// A header the bridge config refuses.
pub fn router(settings: Settings, agent: Agent, options: Options) -> Result<Router, String> {
    build(settings, agent, options).map(|(router, _)| router)
}

/// The app and its connector, for a server that drains on shutdown (`bridge_agent`).
///
/// # Errors
/// As [`router`].
pub fn build(
    settings: Settings,
    agent: Agent,
    mut options: Options,
) -> Result<(Router, Arc<Connector>), String> {
    let ultravox = match &agent {
        Agent::Ultravox(c) => match options
            .headers
            .iter()
            .position(|(n, _)| n == ULTRAVOX_KEY_HEADER)
        {
            Some(i) => Some(UltravoxCalls {
                // The REST client needs a key of its own; vendor requests never send it.
                client: teler_tokio::AsyncClient::new("unused-by-vendor-requests")
                    .map_err(|e| e.to_string())?,
                api_key: options.headers.remove(i).1,
                api_base: ultravox::API_BASE.to_owned(),
                config: c.clone(),
                agent: agent.clone(),
            }),
            None => None,
        },
        _ => None,
    };
    let mut config = settings.config.clone();
    if !options.headers.is_empty() {
        let mut b = BridgeConfig::builder(config.remote_url());
        for (n, v) in config.remote_headers().iter().chain(&options.headers) {
            b = b.header(n.clone(), v.clone());
        }
        config = b.build().map_err(|e| e.to_string())?;
    }
    let factory: Factory = Box::new(move || agent.handlers());
    let connector = Arc::new(StreamConnector::new(config, factory));
    let app = Arc::new(App {
        connector: connector.clone(),
        settings,
        on_end: options.on_end,
        ultravox,
    });
    let router = Router::new()
        .route(MEDIA_STREAM_PATH, get(media_stream))
        .route("/flow", post(flow))
        .with_state(app);
    Ok((router, connector))
}

async fn media_stream(State(app): State<Arc<App>>, ws: WebSocketUpgrade) -> Response {
    if app.connector.is_draining() {
        return crate::ops::draining_response();
    }
    axum_ws::upgrade(ws, app.connector.config()).on_upgrade(move |socket| async move {
        let summary = match &app.ultravox {
            None => app.connector.bridge_stream(AxumWs::new(socket)).await,
            // A per-call connector: this call is not in `app.connector.calls()`, and a
            // drain (SIGTERM in `bridge_agent`) neither waits for it nor sends it away.
            Some(uv) => match uv.connector(app.connector.config()).await {
                Ok(c) => c.bridge_stream(AxumWs::new(socket)).await,
                Err(e) => {
                    // The socket is dropped: Teler sees the stream end.
                    tracing::error!(error = %e, "ultravox: cannot create the call");
                    return;
                }
            },
        };
        if let Some(on_end) = &app.on_end {
            on_end(summary);
        }
    })
}

async fn flow(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req = match FlowRequest::from_json(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
    };
    tracing::info!(call_id = %req.call_id, "flow request");
    match CallFlow::stream(app.settings.backend_ws_url(MEDIA_STREAM_PATH))
        .chunk_size(500)
        .record(true)
        .to_json()
    {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a key, each stream's connector goes to a call created for it (the vendor's key
    /// sent, the socket settings kept); the API's refusal is an error with its text.
    #[test]
    fn ultravox_with_a_key_creates_a_call_per_stream() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = keys.clone();
            let api = Router::new().route(
                "/api/calls",
                post(move |headers: axum::http::HeaderMap| async move {
                    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
                    seen.lock().unwrap().push(key.map(str::to_owned));
                    match key {
                        Some("uv-key") => (
                            StatusCode::CREATED,
                            r#"{"callId":"c1","joinUrl":"ws://127.0.0.1:9/join/c1"}"#,
                        ),
                        _ => (StatusCode::FORBIDDEN, r#"{"detail":"Invalid API key."}"#),
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move { axum::serve(listener, api).await });
            let mut uv = UltravoxCalls {
                client: teler_tokio::AsyncClient::new("t").unwrap(),
                api_key: "uv-key".into(),
                api_base: format!("http://{addr}/api"),
                config: ultravox::Config::default(),
                agent: Agent::Ultravox(ultravox::Config::default()),
            };
            let base = BridgeConfig::builder("ws://fallback.invalid/")
                .header("Authorization", "Bearer b")
                .build()
                .unwrap();
            let c = uv.connector(&base).await.unwrap();
            assert_eq!(c.config().remote_url(), "ws://127.0.0.1:9/join/c1");
            assert_eq!(c.config().remote_headers(), base.remote_headers());
            uv.api_key = "wrong".into();
            let e = uv.connector(&base).await.err().unwrap();
            assert!(e.contains("Invalid API key."), "{e}");
            assert_eq!(
                *keys.lock().unwrap(),
                [Some("uv-key".to_owned()), Some("wrong".to_owned())]
            );
            server.abort();
        });
    }

    #[test]
    fn agent_from_vars() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(
            Agent::from_vars(vars(&[]))
                .unwrap_err()
                .contains(AGENT_NAMES)
        );
        assert!(Agent::from_vars(vars(&[("AGENT", "nope")])).is_err());
        let g = Agent::from_vars(vars(&[("AGENT", "Gemini"), ("GEMINI_VOICE", "Kore")])).unwrap();
        let Agent::Gemini(c) = &g else {
            panic!("{g:?}")
        };
        assert_eq!(c.voice.as_deref(), Some("Kore"));
        let h = g.headers(vars(&[("GEMINI_API_KEY", "k3y\n")]));
        assert_eq!(h, [("x-goog-api-key".to_owned(), "k3y".to_owned())]);
        let o = Options {
            headers: h,
            on_end: None,
        };
        assert!(
            !format!("{o:?}").contains("k3y"),
            "secrets stay out of Debug"
        );
        let d = Agent::from_vars(vars(&[
            ("AGENT", "deepgram"),
            ("DEEPGRAM_THINK_MODEL", "gpt-4o"),
        ]))
        .unwrap();
        let Agent::Deepgram(c) = &d else {
            panic!("{d:?}")
        };
        assert_eq!(c.think_model, "gpt-4o");
        assert_eq!(
            d.headers(vars(&[("DEEPGRAM_API_KEY", "dg")])),
            [("Authorization".to_owned(), "Token dg".to_owned())]
        );
        let u = Agent::from_vars(vars(&[
            ("AGENT", "ultravox"),
            ("ULTRAVOX_OUTPUT_RATE", "24000"),
        ]));
        let key = u
            .as_ref()
            .unwrap()
            .headers(vars(&[("ULTRAVOX_API_KEY", " uv ")]));
        assert_eq!(key, [(ULTRAVOX_KEY_HEADER.to_owned(), "uv".to_owned())]);
        let Ok(Agent::Ultravox(c)) = &u else {
            panic!("{u:?}")
        };
        assert_eq!((c.input_rate.hz(), c.output_rate.hz()), (8000, 24000));
        assert!(
            Agent::from_vars(vars(&[("AGENT", "ultravox"), ("ULTRAVOX_INPUT_RATE", "7")])).is_err()
        );
        let c = Agent::from_vars(vars(&[
            ("AGENT", "cartesia"),
            ("CARTESIA_INPUT_FORMAT", "pcm_16000"),
        ]))
        .unwrap();
        let Agent::Cartesia(cfg) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(cfg.format, cartesia::Format::Pcm16000);
        assert_eq!(
            c.headers(vars(&[("CARTESIA_ACCESS_TOKEN", "tok")])),
            [
                ("Authorization".to_owned(), "Bearer tok".to_owned()),
                ("Cartesia-Version".to_owned(), cartesia::VERSION.to_owned())
            ]
        );
        assert!(
            Agent::from_vars(vars(&[
                ("AGENT", "cartesia"),
                ("CARTESIA_INPUT_FORMAT", "pcm_8000")
            ]))
            .is_err()
        );
        let v = Agent::from_vars(vars(&[("AGENT", "vapi"), ("VAPI_FORMAT", "mulaw")])).unwrap();
        let Agent::Vapi(cfg) = &v else {
            panic!("{v:?}")
        };
        assert_eq!(cfg.encoding, vapi::Encoding::Mulaw);
        assert_eq!(cfg.sample_rate.hz(), 8000);
        assert!(Agent::from_vars(vars(&[("AGENT", "vapi"), ("VAPI_FORMAT", "opus")])).is_err());
        let s = Agent::from_vars(vars(&[("AGENT", "sarvam"), ("SARVAM_INPUT_RATE", "16000")]));
        let Ok(Agent::Sarvam(c)) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(c.input_rate.hz(), 16000);
        assert!(c.clock.is_some());
        assert!(
            Agent::from_vars(vars(&[("AGENT", "sarvam"), ("SARVAM_INPUT_RATE", "24000")])).is_err()
        );
    }
}
