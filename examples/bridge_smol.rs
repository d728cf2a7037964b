//! A Teler bridge server on smol (no tokio): accepts Teler's media stream on
//! `/media-stream` and bridges each call to `REMOTE_WS_URL` with the ElevenLabs handlers,
//! one task per call.
//!
//! ```text
//! REMOTE_WS_URL=wss://… BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_smol
//! ```
//! Calls run on smol's global executor: `SMOL_THREADS` sets its threads (smol's default is
//! one; set it to the number of cores for a busy server).
use std::sync::Arc;

use teler_examples::{Settings, log_event};
use teler_smol::{StreamConnector, elevenlabs};

fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bridge_smol: {e}");
            std::process::exit(2);
        }
    };
    let connector = Arc::new(
        StreamConnector::new(settings.config.clone(), || {
            (elevenlabs::call_handler(), elevenlabs::remote_handler())
        })
        .on_event(log_event),
    );
    smol::block_on(async {
        let listener = match smol::net::TcpListener::bind(settings.bind_addr.as_str()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bridge_smol: cannot listen on {}: {e}", settings.bind_addr);
                std::process::exit(1);
            }
        };
        eprintln!("bridge_smol listening on {}", settings.bind_addr);
        // The SDK's accept loop: /media-stream only, a bounded handshake, a call cap, the
        // media token check when MEDIA_TOKEN_KEY is set, back-off on accept errors. Calls
        // run as tasks on smol's global executor.
        if let Err(e) = teler_smol::serve(listener, connector, settings.serve_config()).await {
            eprintln!("bridge_smol: {e}");
            std::process::exit(1);
        }
    })
}
