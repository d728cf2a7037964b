//! A Teler bridge server on std threads (no async runtime): accepts Teler's media stream on
//! `/media-stream` and bridges each call to `REMOTE_WS_URL` with the ElevenLabs handlers
//! (on the connector's shared threads, one per core; a thread per connection waits for its
//! call's end).
//!
//! ```text
//! REMOTE_WS_URL=wss://… BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_blocking
//! ```
//!
//! Operating it (`docs/OPERATING.md`): logs on stderr filtered by `RUST_LOG` (`info`);
//! with `METRICS_ADDR=127.0.0.1:9100` the `teler_*` metrics as Prometheus text on
//! `http://127.0.0.1:9100/metrics`; on SIGTERM or SIGINT a drain (new media streams get 503,
//! live calls get `DRAIN_SECONDS`, 30, then 1001), then exit status 0.
use std::net::TcpListener;
use std::sync::Arc;

use teler_blocking::{StreamConnector, elevenlabs};
use teler_examples::{Settings, ops};

fn main() {
    teler_examples::init_logging();
    let settings = Settings::from_env().unwrap_or_else(|e| fail(&e, 2));
    if let Some(addr) = &settings.metrics_addr {
        // Before the first call: the adapter records into it from then on.
        let handle = ops::install_metrics().unwrap_or_else(|e| fail(&e, 1));
        let local = ops::serve_metrics(addr, handle)
            .unwrap_or_else(|e| fail(&format!("cannot listen on METRICS_ADDR {addr}: {e}"), 1));
        tracing::info!("metrics on http://{local}/metrics");
    }
    let connector = Arc::new(StreamConnector::new(settings.config.clone(), || {
        (elevenlabs::call_handler(), elevenlabs::remote_handler())
    }));
    let draining = connector.clone();
    ops::drain_on_signal(settings.drain_timeout, move |deadline| {
        draining.drain(deadline)
    })
    .unwrap_or_else(|e| fail(&format!("cannot handle SIGTERM: {e}"), 1));
    let listener = TcpListener::bind(&settings.bind_addr)
        .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", settings.bind_addr), 1));
    tracing::info!("bridge_blocking listening on {}", settings.bind_addr);
    // The SDK's accept loop: /media-stream only, a bounded handshake, a call cap, the media
    // token check when MEDIA_TOKEN_KEY is set, 503 while draining, back-off on accept errors;
    // a thread per connection, which waits while the call runs on the connector's threads.
    let serve = settings.serve_config();
    if let Err(e) = teler_blocking::serve(listener, connector, serve) {
        fail(&e.to_string(), 1);
    }
}

fn fail(why: &str, code: i32) -> ! {
    tracing::error!("bridge_blocking: {why}");
    std::process::exit(code)
}
