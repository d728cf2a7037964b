//! The media-stream server on std threads: an accept loop that backs off on errors, bounds
//! handshakes, caps calls and runs the auth hook before the upgrade.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use teler_core::media::StreamHandler;
use teler_io::serve::{AcceptErrors, CallCount, ServeConfig};

use crate::StreamConnector;

/// A handshake the reaper ends if it is not done by its deadline. The handshake thread takes
/// the socket's clone back when it is done, so no descriptor outlives its connection.
struct Pending {
    deadline: Instant,
    socket: Arc<Mutex<Option<TcpStream>>>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

/// One thread for every server: shuts down the sockets whose handshake outlived its
/// deadline (a read timeout alone would let a client that sends a byte now and then hold a
/// thread for ever).
fn reaper(rx: Receiver<Pending>) {
    let mut heap: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|Reverse(p)| p.deadline);
        let got = match next {
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(p) => heap.push(Reverse(p)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if heap.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => {}
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(p)| p.deadline <= now) {
            if let Some(Reverse(p)) = heap.pop()
                && let Some(socket) = p.socket.lock().ok().and_then(|mut s| s.take())
            {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Serves Teler's media streams on `listener`, one thread per connection for the handshake
/// (it then waits for the call's end, which runs on the connector's threads): each
/// connection on the configured path that passes the auth hook, within the call cap, is
/// upgraded and bridged by `connector`. Refusals (404, 401, 503 with `Retry-After`) are answered before the upgrade,
/// so no agent is dialed for them; a connection that does not finish its handshake within
/// the handshake timeout is shut down, and at most `max_handshakes` may be pending. An accept
/// error (out of descriptors, …) costs a short sleep and at most one log line a second.
/// Blocks the calling thread for as long as the listener works.
pub fn serve<F, C, R>(
    listener: TcpListener,
    connector: Arc<StreamConnector<F>>,
    config: ServeConfig,
) -> io::Result<()>
where
    F: Fn() -> (C, R) + Send + Sync + 'static,
    C: StreamHandler + 'static,
    R: StreamHandler + 'static,
{
    let config = Arc::new(config);
    let calls = CallCount::new();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let mut errors = AcceptErrors::default();
    let (reap_tx, reap_rx): (Sender<Pending>, _) = mpsc::channel();
    thread::Builder::new()
        .name("teler-handshake-reaper".into())
        .spawn(move || reaper(reap_rx))?;
    loop {
        let tcp = match listener.accept() {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                thread::sleep(errors.on_error(&e, Instant::now()));
                continue;
            }
        };
        if handshakes.fetch_add(1, Ordering::AcqRel) >= config.handshake_cap() {
            handshakes.fetch_sub(1, Ordering::AcqRel);
            #[cfg(feature = "tracing")]
            tracing::debug!("too many pending handshakes: connection closed");
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let watched = Arc::new(Mutex::new(tcp.try_clone().ok()));
        let _ = reap_tx.send(Pending {
            deadline: Instant::now() + config.handshake_limit(),
            socket: watched.clone(),
        });
        let (connector, config, calls, handshakes) = (
            connector.clone(),
            config.clone(),
            calls.clone(),
            handshakes.clone(),
        );
        let spawned = thread::Builder::new()
            .name("teler-call".into())
            .spawn(move || {
                let mut slot = None;
                let upgraded = tungstenite::accept_hdr_with_config(
                    tcp,
                    config.callback(&calls, connector.calls(), &mut slot),
                    Some(connector.websocket_config()),
                )
                .map_err(|e| e.to_string());
                // Done in time (or failed): the reaper's clone goes now.
                if let Ok(mut clone) = watched.lock() {
                    clone.take();
                }
                handshakes.fetch_sub(1, Ordering::AcqRel);
                match upgraded {
                    Ok(ws) => {
                        // The call's place under the cap, held until the bridge ends.
                        let _slot = slot;
                        connector.bridge_stream(ws);
                    }
                    Err(_e) => {
                        #[cfg(feature = "tracing")]
                        tracing::debug!(error = _e, "media stream handshake failed");
                    }
                }
            });
        if let Err(_e) = spawned {
            #[cfg(feature = "tracing")]
            tracing::warn!(error = %_e, "cannot start a call thread");
        }
    }
}
