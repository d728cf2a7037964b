//! Shared bits of the runnable examples: settings from the environment, the media-stream
//! path check, logging ([`init_logging`]), metrics and the graceful drain ([`ops`]), the
//! tokio example's axum app ([`tokio_app`]), the OpenAI-Realtime-style bridge's app
//! ([`openai_app`]) and a local echo agent.
#![forbid(unsafe_code)]

pub mod ops;
pub mod story;

/// The README's examples, compiled and run as doc tests here, where every crate of the
/// workspace is a dependency.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub mod agent_app;
pub mod openai_app;
pub mod tokio_app;

use std::time::Duration;

use teler_core::media::BridgeConfig;
use teler_core::webhook::{UrlTokenKey, WebhookSecret};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// The path Teler's media stream connects to.
pub const MEDIA_STREAM_PATH: &str = "/media-stream";

/// How long a drain lets live calls run when `DRAIN_SECONDS` is unset.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(30);
/// The longest `DRAIN_SECONDS` taken (a day).
pub const MAX_DRAIN_SECONDS: u64 = 86_400;

/// Logs to stderr through `tracing-subscriber`, filtered by `RUST_LOG` (`info` when unset;
/// e.g. `RUST_LOG=info,teler_io=debug`, or `warn` for a quiet server). Every example calls it
/// first. stdout stays for what a program prints on purpose (the story's report, the
/// scripted call's transcript, `seed_app --print-flow-url`). Colours only on a terminal.
/// Calling it again does nothing.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let requested = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (filter, bad) = match requested.as_deref().map(EnvFilter::try_new) {
        None => (EnvFilter::new("info"), None),
        Some(Ok(f)) => (f, None),
        Some(Err(e)) => (EnvFilter::new("info"), Some(e)),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init()
        .is_ok();
    if let (true, Some(e)) = (installed, bad) {
        tracing::warn!(error = %e, "RUST_LOG is not a valid filter: logging at info");
    }
}

/// What a bridge server needs, read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND_ADDR` (default `127.0.0.1:8080`).
    pub bind_addr: String,
    /// `BACKEND_DOMAIN`: where Teler reaches this server. A bare host (and port), as in the
    /// seed (`example.com`), means `https://…/flow` and `wss://…/media-stream`; a base URL
    /// with a scheme (`http://127.0.0.1:8080`) is used as given, with `ws://` for an `http://`
    /// base (local testing against the emulator). Default: `http://{bind_addr}`.
    pub backend_domain: String,
    /// The bridge config: `REMOTE_WS_URL` (required) and, if set, `REMOTE_AUTHORIZATION`
    /// sent as the remote handshake's `Authorization` header.
    pub config: BridgeConfig,
    /// What `/initiate-call` needs: `TELER_API_KEY`, `FROM_NUMBER`, `TO_NUMBER` and
    /// optionally `TELER_BASE_URL` (the emulator's, for local runs). `None` when
    /// `TELER_API_KEY` is unset.
    pub teler: Option<TelerSettings>,
    /// `TELER_WEBHOOK_SECRET` (`whsec_…`): when set, `/webhook` answers 401 to a delivery
    /// without a valid signature.
    pub webhook_secret: Option<WebhookSecret>,
    /// `MEDIA_TOKEN_KEY` (16+ bytes): when set, `/flow` puts a signed, expiring token bound to
    /// the call id in the `ws_url`, and `/media-stream` refuses a connection without one (401).
    pub media_token_key: Option<UrlTokenKey>,
    /// `DRAIN_SECONDS` (whole seconds, 0 to [`MAX_DRAIN_SECONDS`]; default 30): on SIGTERM or
    /// SIGINT a server refuses new media streams and lets live calls run this long before
    /// sending them away with 1001 (see [`ops`]).
    pub drain_timeout: Duration,
    /// `METRICS_ADDR` (`host:port`): where `bridge_smol` and `bridge_blocking` serve
    /// Prometheus text on `GET /metrics` (no metrics endpoint when unset). The tokio servers
    /// serve `/metrics` on their own port instead.
    pub metrics_addr: Option<String>,
    /// `MAX_CALLS` (default 1000, the server block's): media streams bridged at
    /// once; more are refused with 503 and `Retry-After` before the upgrade.
    pub max_calls: usize,
    /// `REDIS_URL` (and `INSTANCE_ID`, default `seed-{pid}`; `FLEET_HEARTBEAT_MS`): when
    /// set, the seed app runs as a fleet member sharing webhook dedupe, used media tokens,
    /// the live-call directory and a command bus with the other instances on that Redis
    /// (README, "Running a fleet").
    pub fleet: Option<FleetSettings>,
}

/// A fleet member's settings. Its `Debug` hides the Redis URL (it may carry a password).
#[derive(Clone)]
pub struct FleetSettings {
    /// `REDIS_URL`, e.g. `redis://127.0.0.1:6379/0`.
    pub redis_url: String,
    /// `INSTANCE_ID`: this instance's name in the fleet (`A-Z a-z 0-9 . _ -`, 1 to 64).
    pub instance: teler_tokio::fleet::InstanceId,
    /// `FLEET_HEARTBEAT_MS` (whole milliseconds, [`MIN_FLEET_HEARTBEAT_MS`] to
    /// [`MAX_FLEET_HEARTBEAT_MS`]; default 15 000, the library's): how long this instance's
    /// live-call directory entries outlive its last heartbeat (refreshed every third of it),
    /// so how soon the fleet forgets the calls of an instance that died. Shorter costs more
    /// Redis writes.
    pub heartbeat_ttl: Duration,
}

/// The shortest `FLEET_HEARTBEAT_MS` taken (the library's floor).
pub const MIN_FLEET_HEARTBEAT_MS: u64 = 30;
/// The longest `FLEET_HEARTBEAT_MS` taken (an hour).
pub const MAX_FLEET_HEARTBEAT_MS: u64 = 3_600_000;

impl std::fmt::Debug for FleetSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetSettings")
            .field("redis_url", &"<hidden>")
            .field("instance", &self.instance)
            .field("heartbeat_ttl", &self.heartbeat_ttl)
            .finish()
    }
}

/// The REST side of the seed app: who places the call, from where to where. Its `Debug`
/// hides the API key.
#[derive(Clone)]
pub struct TelerSettings {
    /// `TELER_API_KEY`.
    pub api_key: String,
    /// `TELER_BASE_URL` (default: Teler's own, [`teler_core::rest::DEFAULT_BASE_URL`]).
    pub base_url: Option<String>,
    /// `FROM_NUMBER`: one of your virtual numbers (E.164).
    pub from_number: String,
    /// `TO_NUMBER`: the number to call (E.164).
    pub to_number: String,
}

impl std::fmt::Debug for TelerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelerSettings")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("from_number", &self.from_number)
            .field("to_number", &self.to_number)
            .finish()
    }
}

impl Settings {
    /// The server block's settings for these settings: `/media-stream`, the defaults, and
    /// the signed media tokens when `MEDIA_TOKEN_KEY` is set (a flow token is refused).
    pub fn serve_config(&self) -> teler_tokio::ServeConfig {
        let serve = self.serve_config_without_tokens();
        match self.media_tokens() {
            Some(tokens) => serve.auth(tokens.hook()),
            None => serve,
        }
    }

    /// `/media-stream` and `MAX_CALLS`, without the media-token check (a fleet member checks
    /// tokens in its route, on Redis).
    pub fn serve_config_without_tokens(&self) -> teler_tokio::ServeConfig {
        teler_tokio::ServeConfig::new()
            .path(MEDIA_STREAM_PATH)
            .max_calls(self.max_calls)
    }

    /// The media-token check when `MEDIA_TOKEN_KEY` is set (flow tokens refused), with used
    /// tokens remembered in this process.
    pub fn media_tokens(&self) -> Option<teler_tokio::MediaTokens> {
        self.media_token_key.as_ref().map(|key| {
            teler_tokio::MediaTokens::new(key.clone()).refuse_subject(tokio_app::FLOW_TOKEN_SUBJECT)
        })
    }

    /// Reads the settings; the error says which variable is missing or wrong.
    ///
    /// ```
    /// let s = teler_examples::Settings::from_vars(|name| match name {
    ///     "REMOTE_WS_URL" => Some("ws://127.0.0.1:9000/agent".to_owned()),
    ///     _ => None,
    /// }).unwrap();
    /// assert_eq!(s.bind_addr, "127.0.0.1:8080");
    /// assert_eq!(s.backend_url("/flow"), "http://127.0.0.1:8080/flow");
    /// assert!(s.teler.is_none());
    /// assert_eq!(s.drain_timeout, teler_examples::DEFAULT_DRAIN);
    /// assert!(s.metrics_addr.is_none());
    /// assert!(teler_examples::Settings::from_vars(|_| None).is_err());
    ///
    /// let with = |name: &str, value: &str| {
    ///     let (name, value) = (name.to_owned(), value.to_owned());
    ///     teler_examples::Settings::from_vars(move |n| match n {
    ///         "REMOTE_WS_URL" => Some("ws://127.0.0.1:9000/agent".to_owned()),
    ///         n if n == name => Some(value.clone()),
    ///         _ => None,
    ///     })
    /// };
    /// assert_eq!(with("DRAIN_SECONDS", " 5\n").unwrap().drain_timeout.as_secs(), 5);
    /// assert!(with("DRAIN_SECONDS", "-1").is_err());
    /// assert!(with("DRAIN_SECONDS", "86401").is_err());
    /// assert_eq!(with("METRICS_ADDR", "127.0.0.1:9100").unwrap().metrics_addr.as_deref(), Some("127.0.0.1:9100"));
    ///
    /// // A fleet member: REDIS_URL, with INSTANCE_ID and FLEET_HEARTBEAT_MS.
    /// let fleet = |vars: Vec<(&'static str, &'static str)>| {
    ///     teler_examples::Settings::from_vars(move |n| match n {
    ///         "REMOTE_WS_URL" => Some("ws://127.0.0.1:9000/agent".to_owned()),
    ///         n => vars.iter().find(|(k, _)| *k == n).map(|(_, v)| (*v).to_owned()),
    ///     })
    /// };
    /// assert!(fleet(vec![]).unwrap().fleet.is_none());
    /// let f = fleet(vec![("REDIS_URL", "redis://127.0.0.1:6379/0"), ("INSTANCE_ID", "seed-a")])
    ///     .unwrap().fleet.unwrap();
    /// assert_eq!(f.instance.as_str(), "seed-a");
    /// assert_eq!(f.heartbeat_ttl, std::time::Duration::from_secs(15));
    /// let f = fleet(vec![("REDIS_URL", "redis://r/0"), ("FLEET_HEARTBEAT_MS", "1500")])
    ///     .unwrap().fleet.unwrap();
    /// assert_eq!(f.heartbeat_ttl.as_millis(), 1500);
    /// for bad in ["0", "29", "1.5", "3600001", "-1"] {
    ///     let e = fleet(vec![("REDIS_URL", "redis://r/0"), ("FLEET_HEARTBEAT_MS", bad)]);
    ///     assert!(e.unwrap_err().contains("FLEET_HEARTBEAT_MS"));
    /// }
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        // Values are trimmed (a mounted secret often ends in a newline); blank means unset,
        // except for the two security settings, where a blank value is an error: it usually
        // means a missing secret, and treating it as unset would turn verification off.
        let raw = |name: &str| var(name).map(|v| v.trim().to_owned());
        let var = |name: &str| raw(name).filter(|v| !v.is_empty());
        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        if var("BACKEND_DOMAIN").is_none()
            && var("TELER_API_KEY").is_some()
            && var("TELER_BASE_URL").is_none()
        {
            return Err(
                "set BACKEND_DOMAIN to the public host Teler reaches this app at: calls \
                        placed through Teler need a public flow URL"
                    .to_owned(),
            );
        }
        let backend_domain = backend_domain(&var, &bind_addr);
        let remote =
            var("REMOTE_WS_URL").ok_or("set REMOTE_WS_URL to the agent's ws:// or wss:// URL")?;
        let mut builder = BridgeConfig::builder(remote);
        if let Some(auth) = var("REMOTE_AUTHORIZATION") {
            builder = builder.header("Authorization", auth);
        }
        let config = builder.build().map_err(|e| format!("REMOTE_WS_URL: {e}"))?;
        let teler = match var("TELER_API_KEY") {
            None => None,
            Some(api_key) => Some(TelerSettings {
                api_key,
                base_url: var("TELER_BASE_URL"),
                from_number: var("FROM_NUMBER")
                    .ok_or("set FROM_NUMBER (one of your virtual numbers) with TELER_API_KEY")?,
                to_number: var("TO_NUMBER")
                    .ok_or("set TO_NUMBER (who to call) with TELER_API_KEY")?,
            }),
        };
        let webhook_secret = secret(&raw, "TELER_WEBHOOK_SECRET")?
            .map(WebhookSecret::new)
            .transpose()
            .map_err(|e| format!("TELER_WEBHOOK_SECRET: {e}"))?;
        let media_token_key = media_token_key(&raw)?;
        let max_calls = match var("MAX_CALLS") {
            None => teler_tokio::teler_async::DEFAULT_MAX_CALLS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(format!(
                        "MAX_CALLS={v:?}: a whole number of calls, at least 1"
                    ));
                }
            },
        };
        let drain_timeout = match var("DRAIN_SECONDS") {
            None => DEFAULT_DRAIN,
            Some(v) => match v.parse::<u64>() {
                Ok(secs) if secs <= MAX_DRAIN_SECONDS => Duration::from_secs(secs),
                _ => {
                    return Err(format!(
                        "DRAIN_SECONDS={v:?}: whole seconds, 0 to {MAX_DRAIN_SECONDS}"
                    ));
                }
            },
        };
        let fleet = match var("REDIS_URL") {
            None => None,
            Some(redis_url) => {
                let id =
                    var("INSTANCE_ID").unwrap_or_else(|| format!("seed-{}", std::process::id()));
                let instance = teler_tokio::fleet::InstanceId::new(id)
                    .map_err(|e| format!("INSTANCE_ID: {e}"))?;
                let heartbeat_ttl = match var("FLEET_HEARTBEAT_MS") {
                    None => teler_tokio::fleet::DEFAULT_HEARTBEAT_TTL,
                    Some(v) => match v.parse::<u64>() {
                        Ok(ms)
                            if (MIN_FLEET_HEARTBEAT_MS..=MAX_FLEET_HEARTBEAT_MS).contains(&ms) =>
                        {
                            Duration::from_millis(ms)
                        }
                        _ => {
                            return Err(format!(
                                "FLEET_HEARTBEAT_MS={v:?}: whole milliseconds, \
                                 {MIN_FLEET_HEARTBEAT_MS} to {MAX_FLEET_HEARTBEAT_MS}"
                            ));
                        }
                    },
                };
                Some(FleetSettings {
                    redis_url,
                    instance,
                    heartbeat_ttl,
                })
            }
        };
        Ok(Settings {
            bind_addr,
            backend_domain,
            config,
            teler,
            webhook_secret,
            media_token_key,
            drain_timeout,
            metrics_addr: var("METRICS_ADDR"),
            max_calls,
            fleet,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// The public URL of `path` on this server (`/flow`, `/webhook`).
    ///
    /// ```
    /// let s = teler_examples::Settings::from_vars(|name| match name {
    ///     "REMOTE_WS_URL" => Some("wss://agent.example/ws".to_owned()),
    ///     "BACKEND_DOMAIN" => Some("bridge.example.com".to_owned()),
    ///     _ => None,
    /// }).unwrap();
    /// assert_eq!(s.backend_url("/flow"), "https://bridge.example.com/flow");
    /// assert_eq!(s.backend_ws_url("/media-stream"), "wss://bridge.example.com/media-stream");
    /// ```
    pub fn backend_url(&self, path: &str) -> String {
        backend_url(&self.backend_domain, path)
    }

    /// The public WebSocket URL of `path` on this server (`/media-stream`): `wss://` unless
    /// `BACKEND_DOMAIN` is an `http://` base.
    pub fn backend_ws_url(&self, path: &str) -> String {
        let http = self.backend_url(path);
        if let Some(rest) = http.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = http.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            http
        }
    }
}

/// `BACKEND_DOMAIN` without a trailing `/`, or `http://{bind_addr}` when unset.
fn backend_domain(var: &impl Fn(&str) -> Option<String>, bind_addr: &str) -> String {
    var("BACKEND_DOMAIN")
        .unwrap_or_else(|| format!("http://{bind_addr}"))
        .trim_end_matches('/')
        .to_owned()
}

/// A security setting (`raw` gives trimmed values): unset is `None`, blank an error.
fn secret(raw: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<String>, String> {
    match raw(name) {
        Some(v) if v.is_empty() => Err(format!(
            "{name} is set but empty: set it to the secret, or unset it"
        )),
        other => Ok(other),
    }
}

/// `MEDIA_TOKEN_KEY` (`raw` gives trimmed values).
fn media_token_key(raw: &impl Fn(&str) -> Option<String>) -> Result<Option<UrlTokenKey>, String> {
    secret(raw, "MEDIA_TOKEN_KEY")?
        .map(UrlTokenKey::new)
        .transpose()
        .map_err(|e| format!("MEDIA_TOKEN_KEY: {e}"))
}

fn backend_url(backend_domain: &str, path: &str) -> String {
    match backend_domain.split_once("://") {
        Some((scheme, rest)) => format!("{}://{rest}{path}", scheme.to_ascii_lowercase()),
        None => format!("https://{backend_domain}{path}"),
    }
}

/// What the flow URL needs, and only that: `BACKEND_DOMAIN` (or `BIND_ADDR`) and
/// `MEDIA_TOKEN_KEY`, read as [`Settings::from_vars`] reads them. `seed_app --print-flow-url`
/// uses it, so printing the URL for a voice app's settings needs neither the agent nor the
/// outbound-call settings.
#[derive(Debug, Clone)]
pub struct FlowUrlSettings {
    /// As [`Settings::backend_domain`].
    pub backend_domain: String,
    /// As [`Settings::media_token_key`].
    pub media_token_key: Option<UrlTokenKey>,
}

impl FlowUrlSettings {
    /// Reads the settings; the error says which variable is wrong.
    ///
    /// ```
    /// let s = teler_examples::FlowUrlSettings::from_vars(|name| match name {
    ///     "BACKEND_DOMAIN" => Some("bridge.example.com".to_owned()),
    ///     _ => None,
    /// }).unwrap();
    /// assert_eq!(s.flow_url(3600), "https://bridge.example.com/flow");
    /// let s = teler_examples::FlowUrlSettings::from_vars(|name| match name {
    ///     "MEDIA_TOKEN_KEY" => Some("a media token key of 16+ bytes".to_owned()),
    ///     _ => None,
    /// }).unwrap();
    /// assert!(s.flow_url(3600).starts_with("http://127.0.0.1:8080/flow?teler_token=v1."));
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<FlowUrlSettings, String> {
        let raw = |name: &str| var(name).map(|v| v.trim().to_owned());
        let var = |name: &str| raw(name).filter(|v| !v.is_empty());
        let bind_addr = var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        Ok(FlowUrlSettings {
            backend_domain: backend_domain(&var, &bind_addr),
            media_token_key: media_token_key(&raw)?,
        })
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<FlowUrlSettings, String> {
        FlowUrlSettings::from_vars(|name| std::env::var(name).ok())
    }

    /// The flow URL: with a flow token valid for `ttl_secs` when `MEDIA_TOKEN_KEY` is set (the
    /// token `/flow` asks for, as [`tokio_app::flow_url_with_token`] makes it).
    pub fn flow_url(&self, ttl_secs: u64) -> String {
        let url = backend_url(&self.backend_domain, "/flow");
        match &self.media_token_key {
            None => url,
            Some(key) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let token = key.mint(tokio_app::FLOW_TOKEN_SUBJECT, now + ttl_secs);
                teler_core::webhook::append_token(&url, &token)
            }
        }
    }
}

/// A failed REST call's message for the user, with a hint when the answer was a 404 and
/// `TELER_BASE_URL` (`base_url`) is set but does not end with `/api/v1`: the usual cause is a
/// base URL without the API path (the emulator's is `http://HOST:PORT/api/v1`), which makes
/// every path, `/voice/calls/initiate` included, one the server does not have.
///
/// ```
/// use teler_examples::with_base_url_hint;
/// let m = with_base_url_hint("not found (404)", Some(404), Some("http://127.0.0.1:8089"));
/// assert!(m.starts_with("not found (404) (hint: TELER_BASE_URL should end with /api/v1"), "{m}");
/// for (status, base) in [
///     (Some(404), Some("http://127.0.0.1:8089/api/v1")),
///     (Some(404), Some("http://127.0.0.1:8089/api/v1/")),
///     (Some(404), None),
///     (Some(401), Some("http://127.0.0.1:8089")),
///     (None, Some("http://127.0.0.1:8089")),
/// ] {
///     assert_eq!(with_base_url_hint("e", status, base), "e");
/// }
/// ```
pub fn with_base_url_hint(
    error: impl std::fmt::Display,
    status: Option<u16>,
    base_url: Option<&str>,
) -> String {
    match base_url {
        Some(base) if status == Some(404) && !base.trim_end_matches('/').ends_with("/api/v1") => {
            format!(
                "{error} (hint: TELER_BASE_URL should end with /api/v1, e.g. \
                 http://127.0.0.1:8089/api/v1; it is {base})"
            )
        }
        _ => error.to_string(),
    }
}

/// A tungstenite handshake callback that accepts only [`MEDIA_STREAM_PATH`] (404 otherwise).
#[allow(clippy::result_large_err)] // tungstenite's callback signature
pub fn only_media_stream(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    if req.uri().path() == MEDIA_STREAM_PATH {
        Ok(resp)
    } else {
        let mut err = ErrorResponse::new(Some(format!("no WebSocket at {}", req.uri().path())));
        *err.status_mut() = tungstenite::http::StatusCode::NOT_FOUND;
        Err(err)
    }
}

/// `url` without its query and fragment, for logs: vendors put agent ids and keys there.
///
/// ```
/// use teler_examples::url_for_logs;
/// assert_eq!(url_for_logs("wss://a.example/v1/ws?key=secret#x"), "wss://a.example/v1/ws");
/// assert_eq!(url_for_logs("ws://127.0.0.1:8090/"), "ws://127.0.0.1:8090/");
/// ```
pub fn url_for_logs(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// A local stand-in for a voice agent, for trying the bridges and for the load benchmark:
/// answers every `{"user_audio_chunk": B}` with ElevenLabs-shaped agent audio carrying the
/// same `B`, at once. Serves each connection on its own thread, forever.
pub fn serve_echo_agent(listener: std::net::TcpListener) {
    for tcp in listener.incoming() {
        let Ok(tcp) = tcp else { continue };
        let _ = tcp.set_nodelay(true);
        std::thread::spawn(move || {
            let Ok(mut ws) = tungstenite::accept(tcp) else {
                return;
            };
            loop {
                match ws.read() {
                    Ok(tungstenite::Message::Text(t)) => {
                        let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) else {
                            continue;
                        };
                        let Some(b64) = v.get("user_audio_chunk").and_then(|b| b.as_str()) else {
                            continue;
                        };
                        let reply = serde_json::json!({
                            "type": "audio",
                            "audio_event": {"audio_base_64": b64, "event_id": 1}
                        });
                        if ws
                            .send(tungstenite::Message::text(reply.to_string()))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
}
