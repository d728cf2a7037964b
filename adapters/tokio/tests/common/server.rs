//! A bridge server on tokio for the tests: accepts Teler's socket on 127.0.0.1 port 0 and
//! bridges each call with `teler_tokio::StreamConnector`, one task per call.

use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use teler_tokio::StreamConnector;
use teler_tokio::async_tungstenite;
use teler_tokio::media::{BridgeConfig, EndSummary, Event};

use super::peers::Pair;

/// A running bridge server; each call's summary arrives on `summaries`.
pub struct BridgeServer {
    pub addr: SocketAddr,
    pub summaries: mpsc::Receiver<EndSummary>,
    /// Every event of every call, through the connector's `on_event` hook.
    pub events: mpsc::Receiver<Event>,
}

impl BridgeServer {
    pub fn start(config: BridgeConfig, factory: impl Fn() -> Pair + Send + Sync + 'static) -> Self {
        Self::start_tls(config, factory, None)
    }

    /// A server whose connector dials `wss://` remotes with `tls` (default roots if `None`).
    pub fn start_tls(
        config: BridgeConfig,
        factory: impl Fn() -> Pair + Send + Sync + 'static,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Self {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (sum_tx, summaries) = mpsc::channel();
        let (ev_tx, events) = mpsc::channel();
        let ev_tx = std::sync::Mutex::new(ev_tx);
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let mut connector = StreamConnector::new(config, factory).on_event(move |e| {
                    let _ = ev_tx.lock().unwrap().send(e.clone());
                });
                if let Some(tls) = tls {
                    connector = connector.tls_config(tls);
                }
                let connector = Arc::new(connector);
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let connector = connector.clone();
                    let sum_tx = sum_tx.clone();
                    tokio::spawn(async move {
                        let ws = async_tungstenite::tokio::accept_async_with_config(
                            tcp,
                            Some(connector.websocket_config()),
                        )
                        .await;
                        if let Ok(ws) = ws {
                            let summary = connector.bridge_stream(ws).await;
                            let _ = sum_tx.send(summary);
                        }
                    });
                }
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        BridgeServer {
            addr,
            summaries,
            events,
        }
    }

    /// The next call's summary (fails the test after 20 s).
    pub fn summary(&self) -> EndSummary {
        self.summaries
            .recv_timeout(Duration::from_secs(20))
            .expect("the bridge ended within 20 s")
    }
}

/// A server run by this adapter's `serve` (the SDK's own accept loop), for the server
/// block's tests; each call's summary arrives on `summaries`.
pub struct Serving {
    pub addr: SocketAddr,
    pub summaries: mpsc::Receiver<EndSummary>,
    /// The connector's live calls.
    pub calls: teler_tokio::Calls,
    drainer: std::sync::Arc<dyn Fn(std::time::Instant) -> teler_tokio::DrainReport + Send + Sync>,
}

impl Serving {
    /// The next call's summary (fails the test after 20 s).
    pub fn summary(&self) -> EndSummary {
        self.summaries
            .recv_timeout(Duration::from_secs(20))
            .expect("the bridge ended within 20 s")
    }

    /// Drains the connector (blocks the test thread until it is done).
    pub fn drainer(
        &self,
    ) -> std::sync::Arc<dyn Fn(std::time::Instant) -> teler_tokio::DrainReport + Send + Sync> {
        self.drainer.clone()
    }
}

impl Serving {
    pub fn start(
        config: BridgeConfig,
        serve: teler_tokio::ServeConfig,
        factory: impl Fn() -> Pair + Send + Sync + 'static,
    ) -> Self {
        Self::start_on("127.0.0.1:0", config, serve, factory)
    }

    pub fn start_on(
        bind: &str,
        config: BridgeConfig,
        serve: teler_tokio::ServeConfig,
        factory: impl Fn() -> Pair + Send + Sync + 'static,
    ) -> Self {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (sum_tx, summaries) = mpsc::channel();
        let sum_tx = std::sync::Mutex::new(sum_tx);
        let bind = bind.to_string();
        let connector = Arc::new(StreamConnector::new(config, factory).on_call_event(
            move |call, e| {
                if let Event::Ended(s) = e {
                    // The hook knows whose event it is (a mismatch loses the summary).
                    let id = s.start.as_ref().and_then(|s| s.call_id.as_deref());
                    assert_eq!(call.call_id(), id);
                    let _ = sum_tx.lock().unwrap().send((**s).clone());
                }
            },
        ));
        let (calls, c) = (connector.calls().clone(), connector.clone());
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
                addr_tx
                    .send((
                        listener.local_addr().unwrap(),
                        tokio::runtime::Handle::current(),
                    ))
                    .unwrap();
                let _ = teler_tokio::serve(listener, connector, serve).await;
            });
        });
        let (addr, rt) = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Serving {
            addr,
            summaries,
            calls,
            drainer: std::sync::Arc::new(move |d| rt.block_on(c.drain(d))),
        }
    }
}
