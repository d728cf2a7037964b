//! A Teler bridge server on std threads (no async runtime): accepts Teler's media stream on
//! `/media-stream` and bridges each call to `REMOTE_WS_URL` with the ElevenLabs handlers,
//! one thread per call.
//!
//! ```text
//! REMOTE_WS_URL=wss://… BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_blocking
//! ```
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use teler_blocking::{StreamConnector, elevenlabs, tungstenite};
use teler_examples::{Settings, log_event, only_media_stream};

fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bridge_blocking: {e}");
            std::process::exit(2);
        }
    };
    let connector = Arc::new(
        StreamConnector::new(settings.config, || {
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
    for tcp in listener.incoming() {
        let tcp = match tcp {
            Ok(tcp) => tcp,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let connector = connector.clone();
        let spawned = thread::Builder::new()
            .name("teler-call".into())
            .spawn(move || {
                let config = Some(connector.websocket_config());
                match tungstenite::accept_hdr_with_config(tcp, only_media_stream, config) {
                    Ok(ws) => {
                        connector.bridge_stream(ws);
                    }
                    Err(e) => eprintln!("handshake failed: {e}"),
                }
            });
        if let Err(e) = spawned {
            eprintln!("cannot start a call thread: {e}");
        }
    }
}
