//! A Teler bridge server on std threads (no async runtime): accepts Teler's media stream on
//! `/media-stream` and bridges each call to `REMOTE_WS_URL` with the ElevenLabs handlers,
//! one thread per call.
//!
//! ```text
//! REMOTE_WS_URL=wss://… BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_blocking
//! ```
use std::net::TcpListener;
use std::sync::Arc;

use teler_blocking::{StreamConnector, elevenlabs};
use teler_examples::{Settings, log_event};

fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bridge_blocking: {e}");
            std::process::exit(2);
        }
    };
    let connector = Arc::new(
        StreamConnector::new(settings.config.clone(), || {
            (elevenlabs::call_handler(), elevenlabs::remote_handler())
        })
        .on_event(log_event),
    );
    let listener = match TcpListener::bind(&settings.bind_addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "bridge_blocking: cannot listen on {}: {e}",
                settings.bind_addr
            );
            std::process::exit(1);
        }
    };
    eprintln!("bridge_blocking listening on {}", settings.bind_addr);
    // The SDK's accept loop: /media-stream only, a bounded handshake, a call cap, the media
    // token check when MEDIA_TOKEN_KEY is set, back-off on accept errors; a thread per call.
    let serve = settings.serve_config();
    if let Err(e) = teler_blocking::serve(listener, connector, serve) {
        eprintln!("bridge_blocking: {e}");
        std::process::exit(1);
    }
}
