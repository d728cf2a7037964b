//! The size of one call's bridge future: it lives as long as the call, once per call, so
//! it is part of the memory per call (held within 10% of what it was when written for tokio alone).

use std::net::TcpListener;

use teler_tokio::{BridgeConfig, StreamConnector, elevenlabs};

/// Bytes of the bridge future over an accepted tokio WebSocket.
fn bridge_future_size() -> usize {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let (ws, _) = tungstenite::connect(format!("ws://{addr}/")).unwrap();
        ws
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_nonblocking(true).unwrap();
        let tcp = tokio::net::TcpStream::from_std(tcp).unwrap();
        let ws = async_tungstenite::tokio::accept_async(tcp).await.unwrap();
        let _client = client.join().unwrap();
        let config = BridgeConfig::builder("ws://127.0.0.1:9/agent")
            .build()
            .unwrap();
        let connector = StreamConnector::new(config, || {
            (elevenlabs::call_handler(), elevenlabs::remote_handler())
        });
        let fut = connector.bridge_stream(ws);
        std::mem::size_of_val(&fut)
    })
}

#[test]
fn a_calls_bridge_future_stays_small() {
    let size = bridge_future_size();
    println!("bridge future: {size} bytes");
    // 3,720 bytes before the bridge became generic over the Runtime trait, plus 10%, plus
    // what observing and controlling a live call costs: the observer's last counters (for
    // metric deltas) and warning limiters, the call's handle, its start time and the span
    // (4,304 bytes with tracing), and with the `metrics` feature (on in these tests) the
    // call's metric handles (4,688).
    assert!(size <= 4_800, "the bridge future grew to {size} bytes");
}
