//! A local echo "voice agent" to try the bridge servers without a vendor account: it
//! answers each caller audio chunk with the same audio, ElevenLabs-shaped.
//!
//! ```text
//! AGENT_ADDR=127.0.0.1:9001 cargo run -p teler-examples --example echo_agent
//! REMOTE_WS_URL=ws://127.0.0.1:9001 cargo run -p teler-examples --example bridge_tokio
//! ```
fn main() {
    teler_examples::init_logging();
    let addr = std::env::var("AGENT_ADDR").unwrap_or_else(|_| "127.0.0.1:9001".to_owned());
    let listener = match std::net::TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("echo_agent: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!("echo_agent listening on {addr}");
    teler_examples::serve_echo_agent(listener);
}
