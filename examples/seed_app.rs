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
use teler_examples::{FlowUrlSettings, Settings, tokio_app};

#[tokio::main]
async fn main() {
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
        eprintln!("seed_app: TELER_WEBHOOK_SECRET is unset: webhooks are NOT verified");
    }
    let bind_addr = settings.bind_addr.clone();
    // The handshake bound and connection cap of the SDK's server block.
    let serve = settings.serve_config();
    eprintln!(
        "seed_app: flow {}, webhooks {}, media {}",
        settings.backend_url("/flow"),
        settings.backend_url("/webhook"),
        settings.backend_ws_url(teler_examples::MEDIA_STREAM_PATH)
    );
    let router = tokio_app::router(settings, Default::default()).unwrap_or_else(|e| fail(&e, 2));
    let listener = tokio::net::TcpListener::bind(&bind_addr)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind_addr}: {e}"), 1));
    eprintln!("seed_app listening on {bind_addr}; POST /initiate-call to place a call");
    if let Err(e) = teler_tokio::axum_ws::serve(listener, router, &serve).await {
        fail(&e.to_string(), 1);
    }
}

fn fail(why: &str, code: i32) -> ! {
    eprintln!("seed_app: {why}");
    std::process::exit(code)
}
