//! FreJun's sample app in Rust, on tokio + axum: `POST /flow`, `POST /webhook`,
//! `POST /initiate-call` and the `/media-stream` bridge to an ElevenLabs agent with the
//! seed's two handlers.
//!
//! Settings come from the environment, like the seed's constants:
//!
//! | variable | meaning |
//! |---|---|
//! | `TELER_API_KEY` | your Teler API key (required) |
//! | `FROM_NUMBER`, `TO_NUMBER` | who calls whom on `/initiate-call` (required) |
//! | `BACKEND_DOMAIN` | where Teler reaches this app: `example.com` (https/wss) or `http://host:port` |
//! | `REMOTE_WS_URL` | the agent, e.g. `wss://api.elevenlabs.io/v1/convai/conversation?agent_id=…` (required) |
//! | `BIND_ADDR` | listen address (`127.0.0.1:8080`) |
//! | `TELER_BASE_URL` | Teler's REST base URL; the emulator's for local runs |
//! | `TELER_WEBHOOK_SECRET` | `whsec_…`: `/webhook` refuses unsigned deliveries with 401 |
//! | `MEDIA_TOKEN_KEY` | 16+ bytes: the flow and media stream URLs carry signed, expiring tokens |
//! | `DRAIN_SECONDS` | on SIGTERM, how long live calls may run before 1001 (30) |
//! | `RUST_LOG` | the log filter (`info`) |
//!
//! `seed_app --print-flow-url` prints the flow URL to put in your voice app's settings (for
//! inbound calls; with a token valid for a year when `MEDIA_TOKEN_KEY` is set). It reads only
//! `BACKEND_DOMAIN` (or `BIND_ADDR`) and `MEDIA_TOKEN_KEY`.
//!
//! Against the local emulator (three terminals):
//!
//! ```text
//! cargo run -p teler-emulator -- serve --secret whsec_local_demo_secret
//! cargo run -p teler-emulator -- agent
//! TELER_API_KEY=test-key TELER_BASE_URL=http://127.0.0.1:8089/api/v1 \
//! FROM_NUMBER=+15550100001 TO_NUMBER=+15550100002 BACKEND_DOMAIN=http://127.0.0.1:8080 \
//! REMOTE_WS_URL=ws://127.0.0.1:8090/ TELER_WEBHOOK_SECRET=whsec_local_demo_secret \
//!     cargo run -p teler-examples --example seed_app
//! curl -X POST http://127.0.0.1:8080/initiate-call
//! ```
//!
//! `cargo run -p teler-examples --example story` does all of that in one process.
//!
//! Operating it (`docs/OPERATING.md`): logs on stderr filtered by `RUST_LOG` (`info`);
//! `GET /metrics` (Prometheus text); `GET /calls` (the live calls) and
//! `POST /calls/{call_id}/hangup` (stops the bridge, hangs up through the REST API), as
//! private as `/initiate-call`; on SIGTERM or SIGINT a drain (new media streams get 503, live
//! calls get `DRAIN_SECONDS`, 30, then 1001), then exit status 0.
use teler_examples::ops::{self, ShutdownSignals};
use teler_examples::{FlowUrlSettings, Settings, tokio_app};

#[tokio::main]
async fn main() {
    teler_examples::init_logging();
    if std::env::args().any(|a| a == "--print-flow-url") {
        // For a voice app's flow URL (inbound calls): a flow token valid for a year. Only
        // what the URL needs is read: no agent, no outbound-call settings.
        match FlowUrlSettings::from_env() {
            Ok(s) => println!("{}", s.flow_url(365 * 86_400)),
            Err(e) => fail(&e, 2),
        }
        return;
    }
    let settings = match Settings::from_env() {
        Ok(s) if s.teler.is_some() => s,
        Ok(_) => fail("set TELER_API_KEY, FROM_NUMBER and TO_NUMBER", 2),
        Err(e) => fail(&e, 2),
    };
    if settings.webhook_secret.is_none() {
        tracing::warn!("TELER_WEBHOOK_SECRET is unset: webhooks are NOT verified");
    }
    let bind_addr = settings.bind_addr.clone();
    let drain_for = settings.drain_timeout;
    // The handshake bound and connection cap of the SDK's server block.
    let serve = settings.serve_config();
    tracing::info!(
        flow = %settings.backend_url("/flow"),
        webhooks = %settings.backend_url("/webhook"),
        media = %settings.backend_ws_url(teler_examples::MEDIA_STREAM_PATH),
        "seed_app"
    );
    // Before the first call: the adapters record into it from then on.
    let metrics = ops::install_metrics().unwrap_or_else(|e| fail(&e, 1));
    let (router, connector) =
        tokio_app::build(settings, Default::default()).unwrap_or_else(|e| fail(&e, 2));
    let router = router.merge(ops::metrics_route(metrics));
    let signals = ShutdownSignals::install()
        .unwrap_or_else(|e| fail(&format!("cannot handle SIGTERM: {e}"), 1));
    let listener = tokio::net::TcpListener::bind(&bind_addr)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind_addr}: {e}"), 1));
    tracing::info!("seed_app listening on {bind_addr}; POST /initiate-call to place a call");
    let server = teler_tokio::axum_ws::serve(listener, router, &serve);
    let status = ops::serve_until_drained(server, signals, drain_for, |deadline| async move {
        connector.drain(deadline).await
    })
    .await;
    std::process::exit(status);
}

fn fail(why: &str, code: i32) -> ! {
    tracing::error!("seed_app: {why}");
    std::process::exit(code)
}
