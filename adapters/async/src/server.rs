//! The media-stream server: an accept loop that backs off on errors, bounds handshakes, caps
//! calls and runs the auth hook before the upgrade, on any [`Runtime`].

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use teler_core::media::StreamHandler;
use teler_io::serve::{AcceptErrors, CallCount, ServeConfig};

use crate::{Runtime, StreamConnector};

/// Serves Teler's media streams on `listener`: each connection on the configured path that
/// passes the auth hook, within the call cap, is upgraded and bridged by `connector` on a
/// task of its own. Refusals (404, 401, 503 with `Retry-After`) are answered before the
/// upgrade, so no agent is dialed for them; a connection that does not finish its handshake
/// within the handshake timeout is closed, and at most `max_handshakes` may be pending. An
/// accept error (out of descriptors, …) costs a short sleep and at most one log line a
/// second. Runs until the task is dropped.
pub async fn serve<F, C, R, Rt>(
    listener: Rt::Listener,
    connector: Arc<StreamConnector<F, Rt>>,
    config: ServeConfig,
) -> io::Result<()>
where
    F: Fn() -> (C, R) + Send + Sync + 'static,
    C: StreamHandler + 'static,
    R: StreamHandler + 'static,
    Rt: Runtime,
{
    let config = Arc::new(config);
    let calls = CallCount::new();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let mut errors = AcceptErrors::default();
    loop {
        let tcp = match Rt::accept(&listener).await {
            Ok(tcp) => tcp,
            Err(e) => {
                Rt::sleep(errors.on_error(&e, Instant::now())).await;
                continue;
            }
        };
        let pending = handshakes.fetch_add(1, Ordering::AcqRel);
        if pending >= config.handshake_cap() {
            handshakes.fetch_sub(1, Ordering::AcqRel);
            #[cfg(feature = "tracing")]
            tracing::debug!("too many pending handshakes: connection closed");
            drop(tcp);
            continue;
        }
        let (connector, config, calls, handshakes) = (
            connector.clone(),
            config.clone(),
            calls.clone(),
            handshakes.clone(),
        );
        Rt::spawn(async move {
            let ws_config = connector.websocket_config();
            let mut slot = None;
            let upgrade = async_tungstenite::accept_hdr_async_with_config(
                tcp,
                config.callback(&calls, connector.calls(), &mut slot),
                Some(ws_config),
            );
            let ws = crate::timeout::<Rt, _>(config.handshake_limit(), upgrade).await;
            handshakes.fetch_sub(1, Ordering::AcqRel);
            let ws = match ws {
                Some(Ok(ws)) => ws,
                Some(Err(_e)) => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!(error = %_e, "media stream handshake failed");
                    return;
                }
                None => {
                    #[cfg(feature = "tracing")]
                    tracing::debug!("media stream handshake timed out");
                    return;
                }
            };
            // The call's place under the cap, held until the bridge ends.
            let _slot = slot;
            connector.bridge_stream(ws).await;
        });
    }
}
