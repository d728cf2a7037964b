/// The shared backpressure tests (a peer that stops reading; memory stays bounded).
/// Invoked as `teler_test_support::backpressure_cases!();` at the root of each adapter's
/// `tests/backpressure.rs`, next to `mod common;`.
#[macro_export]
macro_rules! backpressure_cases {
    () => {
        use std::sync::Mutex;
        use std::time::Duration;

        use common::*;
        use teler_core::media::BridgeConfig;

        /// The tests measure the whole process's memory: one at a time.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

        #[test]
        fn a_remote_that_stops_reading_costs_bounded_memory_and_drops_newest() {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            watchdog(Duration::from_secs(60), || {
                let (stall_tx, stall_rx) = std::sync::mpsc::channel::<()>();
                let stall_rx = std::sync::Mutex::new(stall_rx);
                let remote = FakeRemote::ws(move |c| {
                    // Handshake done; now never read. Hold the socket until the test is over.
                    let _ = stall_rx
                        .lock()
                        .unwrap()
                        .recv_timeout(Duration::from_secs(30));
                    drop(c);
                });
                let config = BridgeConfig::builder(remote.url())
                    .max_frame_size(16 * 1024)
                    .socket_buffers(4096, 4096)
                    .build()
                    .unwrap();
                let server = BridgeServer::start(config, eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_14"));
                let big = "A".repeat(12 * 1024);
                let rss0 = rss_kib();
                const N: usize = 4000; // ~48 MiB of caller audio, far more than the socket buffers
                for i in 0..N {
                    send_text(&mut teler, audio_msg(i, &big));
                }
                let rss1 = rss_kib();
                close(&mut teler, 1000, "bye");
                let s = server.summary();
                drop(stall_tx);
                let d = s.stats.from_teler;
                assert_eq!(
                    d.relayed_frames, N as u64,
                    "every frame was handed to the driver"
                );
                assert!(
                    d.send_dropped > 0,
                    "a stalled remote makes the bridge drop: {d:?}"
                );
                assert!(
                    d.send_dropped < N as u64,
                    "some frames went out before the stall: {d:?}"
                );
                if let (Some(a), Some(b)) = (rss0, rss1) {
                    // 48 MiB went through; kernel socket buffers hold a few MiB at most.
                    assert!(
                        b.saturating_sub(a) < 24 * 1024,
                        "RSS grew from {a} KiB to {b} KiB"
                    );
                }
            })
        }

        #[test]
        fn teler_that_stops_reading_costs_bounded_memory_and_drops_newest() {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            watchdog(Duration::from_secs(60), || {
                const N: usize = 4000; // ~48 MiB of agent audio
                let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
                let done_tx = Mutex::new(done_tx);
                let remote = FakeRemote::ws(move |mut c| {
                    let big = agent_audio(&"A".repeat(12 * 1024));
                    for _ in 0..N {
                        if c.ws.send(tungstenite::Message::text(big.clone())).is_err() {
                            break;
                        }
                    }
                    // The agent ends the call once the bridge has taken everything in.
                    let _ =
                        c.ws.send(tungstenite::Message::text(r#"{"type":"end_call"}"#));
                    let _ = done_tx.lock().unwrap().send(());
                    let _ = read_until_close(&mut c.ws);
                });
                let config = BridgeConfig::builder(remote.url())
                    .max_frame_size(16 * 1024)
                    .socket_buffers(4096, 4096)
                    .build()
                    .unwrap();
                let server =
                    BridgeServer::start(config, || (eleven().0, remote_stops_on("end_call")));
                let rss0 = rss_kib();
                // Teler opens the stream, then reads nothing while the agent talks.
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_21"));
                done_rx.recv_timeout(Duration::from_secs(45)).unwrap();
                let rss1 = rss_kib();
                // Now read: what the bridge could hold, then its close.
                let got = read_until_close(&mut teler);
                assert_eq!(got.close.map(|c| c.0), Some(1000));
                let s = server.summary();
                let d = s.stats.from_remote;
                assert_eq!(
                    got.texts.len() as u64,
                    d.relayed_frames - d.send_dropped,
                    "{d:?}"
                );
                assert_eq!(d.relayed_frames, N as u64, "{d:?}");
                assert!(
                    d.send_dropped > 0,
                    "a stalled Teler makes the bridge drop: {d:?}"
                );
                assert!(d.send_dropped < N as u64, "{d:?}");
                assert_eq!(
                    s.reason,
                    teler_core::media::EndReason::Stopped {
                        by: teler_core::media::Side::Remote
                    }
                );
                if let (Some(a), Some(b)) = (rss0, rss1) {
                    assert!(
                        b.saturating_sub(a) < 24 * 1024,
                        "RSS grew from {a} KiB to {b} KiB"
                    );
                }
            })
        }
    };
}
