//! The bridge behind axum 0.8 (feature `axum`): Teler's socket accepted by axum, wrapped in
//! `AxumWs`, relayed to a fake remote on real sockets.
#![cfg(feature = "axum")]

mod common;

use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use common::*;
use teler_core::media::{BridgeConfig, EndReason, EndSummary};
use teler_tokio::StreamConnector;
use teler_tokio::axum_ws::{self, AxumWs};

type Connector = StreamConnector<fn() -> Pair>;

/// An axum server bridging `/media-stream` to `remote_url`; returns its address and the
/// summaries of its calls.
fn axum_server(remote_url: String) -> (std::net::SocketAddr, mpsc::Receiver<EndSummary>) {
    let config = BridgeConfig::builder(remote_url).build().unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (sum_tx, sum_rx) = mpsc::channel::<EndSummary>();
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let connector: Arc<Connector> =
                Arc::new(StreamConnector::new(config, eleven as fn() -> Pair));
            let app = Router::new()
                .route(
                    "/media-stream",
                    get(
                        move |State(c): State<Arc<Connector>>, ws: WebSocketUpgrade| {
                            let sum_tx = sum_tx.clone();
                            async move {
                                let r: Response = axum_ws::upgrade(ws, c.config()).on_upgrade(
                                    move |socket| async move {
                                        let s = c.bridge_stream(AxumWs::new(socket)).await;
                                        let _ = sum_tx.send(s);
                                    },
                                );
                                r
                            }
                        },
                    ),
                )
                .with_state(connector);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    (addr, sum_rx)
}

#[test]
fn axum_socket_relays_both_ways() {
    watchdog(Duration::from_secs(30), || {
        let remote = FakeRemote::echo_agent();
        let (addr, sum_rx) = axum_server(remote.url());
        let mut teler = teler_connect(addr);
        send_text(&mut teler, start_msg("cs_ax"));
        for i in 0..50 {
            send_text(&mut teler, audio_msg(i, &payload(7, i)));
        }
        let got = read_texts(&mut teler, 50);
        let want: Vec<String> = (0..50)
            .map(|i| teler_audio(&payload(7, i), i + 1))
            .collect();
        assert_eq!(got.texts, want);
        close(&mut teler, 1000, "bye");
        let s = sum_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            matches!(s.reason, EndReason::TelerHungUp(Some(_))),
            "{:?}",
            s.reason
        );
        assert_eq!(s.stats.from_teler.relayed_frames, 50);
    })
}

#[test]
fn axum_socket_gets_the_bridges_close_code() {
    watchdog(Duration::from_secs(30), || {
        let (addr, sum_rx) = axum_server(format!("ws://{}/agent", refused_addr()));
        let mut teler = teler_connect(addr);
        send_text(&mut teler, start_msg("cs_ax2"));
        let got = read_until_close(&mut teler);
        assert_eq!(got.close, Some((1011, "remote unreachable".to_owned())));
        let s = sum_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            matches!(s.reason, EndReason::RemoteUnreachable(_)),
            "{:?}",
            s.reason
        );
    })
}

#[test]
fn axum_reports_protocol_violations_like_every_other_socket() {
    watchdog(Duration::from_secs(30), || {
        for how in PROTOCOL_VIOLATIONS {
            let remote = FakeRemote::echo_agent();
            let (addr, sum_rx) = axum_server(remote.url());
            let mut teler = teler_connect(addr);
            send_text(&mut teler, start_msg("cs_axpv"));
            send_violation(&mut teler, how);
            let _ = read_until_close(&mut teler);
            let s = sum_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            assert!(
                matches!(&s.reason, EndReason::ProtocolError { .. }),
                "{how}: {:?} (axum must not report a hang-up)",
                s.reason
            );
            assert_eq!(s.stats.from_teler.protocol_errors, 1, "{how}");
        }
    })
}

#[test]
fn debug_output_of_a_connector_hides_the_agent_credentials() {
    let config = BridgeConfig::builder("wss://agent.example/ws?token=s3cret-q")
        .header("Authorization", "Bearer s3cret-h")
        .build()
        .unwrap();
    let connector: Connector = StreamConnector::new(config, eleven as fn() -> Pair);
    let text = format!("{connector:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("agent.example"), "{text}");
}
