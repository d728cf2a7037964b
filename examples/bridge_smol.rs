//! A Teler bridge server on smol (no tokio): accepts Teler's media stream on
//! `/media-stream` and bridges each call to `REMOTE_WS_URL` with the ElevenLabs handlers,
//! one task per call.
//!
//! ```text
//! REMOTE_WS_URL=wss://… BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_smol
//! ```
//! Calls run on smol's global executor: `SMOL_THREADS` sets its threads (smol's default is
//! one; set it to the number of cores for a busy server).
//!
//! Operating it (`docs/OPERATING.md`): logs on stderr filtered by `RUST_LOG` (`info`);
//! with `METRICS_ADDR=127.0.0.1:9100` the `teler_*` metrics as Prometheus text on
//! `http://127.0.0.1:9100/metrics`; on SIGTERM or SIGINT a drain (new media streams get 503,
//! live calls get `DRAIN_SECONDS`, 30, then 1001), then exit status 0.
use std::sync::Arc;

use teler_examples::{Settings, ops};
use teler_smol::{StreamConnector, elevenlabs};

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
        smol::block_on(draining.drain(deadline))
    })
    .unwrap_or_else(|e| fail(&format!("cannot handle SIGTERM: {e}"), 1));
    smol::block_on(async {
        let listener = smol::net::TcpListener::bind(settings.bind_addr.as_str())
            .await
            .unwrap_or_else(|e| fail(&format!("cannot listen on {}: {e}", settings.bind_addr), 1));
        tracing::info!("bridge_smol listening on {}", settings.bind_addr);
        // The SDK's accept loop: /media-stream only, a bounded handshake, a call cap, the
        // media token check when MEDIA_TOKEN_KEY is set, 503 while draining, back-off on
        // accept errors. Calls run as tasks on smol's global executor.
        if let Err(e) = teler_smol::serve(listener, connector, settings.serve_config()).await {
            fail(&e.to_string(), 1);
        }
    })
}

fn fail(why: &str, code: i32) -> ! {
    tracing::error!("bridge_smol: {why}");
    std::process::exit(code)
}
