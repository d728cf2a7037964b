//! A Teler bridge server on smol (no tokio): accepts Teler's media stream on
//! `/media-stream` and bridges each call to `REMOTE_WS_URL` with the ElevenLabs handlers,
//! one task per call.
//!
//! ```text
//! REMOTE_WS_URL=wss://… BIND_ADDR=0.0.0.0:8080 cargo run -p teler-examples --example bridge_smol
//! ```
//! Calls run on an executor with one thread per CPU (`SMOL_THREADS` overrides).
use std::sync::Arc;
use std::thread;

use teler_examples::{Settings, log_event, only_media_stream};
use teler_smol::{StreamConnector, async_tungstenite, elevenlabs};

fn main() {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bridge_smol: {e}");
            std::process::exit(2);
        }
    };
    let connector = Arc::new(
        StreamConnector::new(settings.config, || {
            (elevenlabs::call_handler(), elevenlabs::remote_handler())
        })
        .on_event(log_event),
    );
    let threads = std::env::var("SMOL_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .or_else(|| thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);
    let ex = Arc::new(smol::Executor::new());
    for _ in 1..threads {
        let ex = ex.clone();
        thread::spawn(move || smol::block_on(ex.run(smol::future::pending::<()>())));
    }
    smol::block_on(ex.clone().run(async {
        let listener = match smol::net::TcpListener::bind(settings.bind_addr.as_str()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bridge_smol: cannot listen on {}: {e}", settings.bind_addr);
                std::process::exit(1);
            }
        };
        eprintln!("bridge_smol listening on {}", settings.bind_addr);
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let connector = connector.clone();
            ex.spawn(async move {
                let config = Some(connector.websocket_config());
                match async_tungstenite::accept_hdr_async_with_config(
                    tcp,
                    only_media_stream,
                    config,
                )
                .await
                {
                    Ok(ws) => {
                        connector.bridge_stream(ws).await;
                    }
                    Err(e) => eprintln!("handshake failed: {e}"),
                }
            })
            .detach();
        }
    }))
}
