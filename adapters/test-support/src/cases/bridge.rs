/// The shared real-socket bridge tests. Every adapter's `tests/bridge.rs` invokes
/// `teler_test_support::bridge_cases!();` at its root, next to `mod common;` (that crate's
/// fake peers and its own bridge server, `common::server`): only the server differs.
#[macro_export]
macro_rules! bridge_cases {
    () => {

        use std::thread;
        use std::time::{Duration, Instant};

        use common::*;
        use teler_core::media::{BridgeConfig, BridgeConfigBuilder, EndReason, Event, Side, TimeoutKind};
        use tungstenite::Message;

        const LIMIT: Duration = Duration::from_secs(30);

        fn cfg(remote: &FakeRemote) -> BridgeConfigBuilder {
            BridgeConfig::builder(remote.url())
        }

        #[test]
        fn relays_both_ways_transformed_in_order_with_headers_and_subprotocol() {
            watchdog(LIMIT, || {
                let (hdr_tx, hdr_rx) = std::sync::mpsc::channel();
                let remote = FakeRemote::ws(move |mut c| {
                    let _ = hdr_tx.send((
                        c.header("authorization").map(str::to_owned),
                        c.header("sec-websocket-protocol").map(str::to_owned),
                    ));
                    echo(&mut c.ws)
                });
                let config = cfg(&remote)
                    .header("Authorization", "Bearer t0ken")
                    .subprotocol("convai")
                    .build()
                    .unwrap();
                let server = BridgeServer::start(config, eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_1"));
                const N: usize = 200;
                for i in 0..N {
                    send_text(&mut teler, audio_msg(i, &payload(1, i)));
                }
                let got = read_texts(&mut teler, N);
                let want: Vec<String> = (0..N).map(|i| teler_audio(&payload(1, i), i + 1)).collect();
                assert_eq!(
                    got.texts, want,
                    "agent audio arrives reshaped, in order, none lost"
                );
                close(&mut teler, 1000, "bye");

                let (auth, proto) = hdr_rx.recv_timeout(Duration::from_secs(5)).unwrap();
                assert_eq!(auth.as_deref(), Some("Bearer t0ken"));
                assert_eq!(proto.as_deref(), Some("convai"));
                let s = server.summary();
                assert!(
                    matches!(&s.reason, EndReason::TelerHungUp(Some(c)) if c.code == 1000),
                    "{:?}",
                    s.reason
                );
                assert_eq!(s.stats.from_teler.relayed_frames, N as u64);
                assert_eq!(s.stats.from_teler.passed, 1, "start is passed");
                assert_eq!(s.stats.from_remote.relayed_frames, N as u64);
                assert_eq!(
                    s.start.as_ref().and_then(|s| s.call_id.as_deref()),
                    Some("cs_1")
                );
                // The on_event hook saw the call start, the remote connect, and the end, last.
                let events: Vec<Event> = server.events.try_iter().collect();
                let started =
                    |e: &Event| matches!(e, Event::Started(i) if i.call_id.as_deref() == Some("cs_1"));
                assert!(events.iter().any(started), "{events:?}");
                assert!(
                    events.iter().any(|e| matches!(e, Event::RemoteConnected)),
                    "{events:?}"
                );
                assert!(
                    matches!(events.last(), Some(Event::Ended(e)) if **e == s),
                    "{events:?}"
                );
            })
        }

        #[test]
        fn stop_from_the_call_handler_closes_both_sides() {
            watchdog(LIMIT, || {
                let (remote, rec) = Recorder::remote();
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), || {
                    (call_stops_on("bye"), eleven().1)
                });
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_2"));
                send_text(&mut teler, audio_msg(0, "AAAA"));
                assert_eq!(rec.texts(1), [r#"{"user_audio_chunk":"AAAA"}"#]);
                send_text(&mut teler, r#"{"type":"bye"}"#.to_owned());
                let got = read_until_close(&mut teler);
                assert_eq!(
                    got.close,
                    Some((1000, "Stream stopped by client".to_owned()))
                );
                let s = server.summary();
                assert_eq!(s.reason, EndReason::Stopped { by: Side::Teler });
                assert_eq!(
                    rec.close(),
                    Some((1000, "Stream stopped by client".to_owned()))
                );
            })
        }

        #[test]
        fn stop_from_the_remote_handler_closes_both_sides() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::ws(|mut c| {
                    c.ws.send(Message::text(agent_audio("QUJD"))).unwrap();
                    c.ws.send(Message::text(r#"{"type":"end_call"}"#)).unwrap();
                    let _ = read_until_close(&mut c.ws);
                });
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), || {
                    (eleven().0, remote_stops_on("end_call"))
                });
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_3"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.texts, [teler_audio("QUJD", 1)]);
                assert_eq!(
                    got.close,
                    Some((1000, "Stream stopped by client".to_owned()))
                );
                let s = server.summary();
                assert_eq!(s.reason, EndReason::Stopped { by: Side::Remote });
            })
        }

        #[test]
        fn teler_hanging_up_mid_call_closes_the_remote() {
            watchdog(LIMIT, || {
                let (remote, rec) = Recorder::remote();
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_4"));
                for i in 0..5 {
                    send_text(&mut teler, audio_msg(i, &payload(4, i)));
                }
                assert_eq!(rec.texts(5).len(), 5);
                // Hang up abruptly: no close frame, the TCP socket just goes.
                drop(teler);
                assert_eq!(rec.close(), Some((1000, "call ended".to_owned())));
                let s = server.summary();
                assert_eq!(s.reason, EndReason::TelerHungUp(None));
            })
        }

        #[test]
        fn remote_closing_mid_call_closes_teler() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::ws(|mut c| {
                    c.ws.send(Message::text(agent_audio("QUJD"))).unwrap();
                    close(&mut c.ws, 1000, "agent done");
                });
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_5"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.texts, [teler_audio("QUJD", 1)]);
                assert_eq!(got.close, Some((1000, "remote closed".to_owned())));
                let s = server.summary();
                assert!(
                    matches!(&s.reason, EndReason::RemoteClosed(Some(c)) if c.reason == "agent done"),
                    "{:?}",
                    s.reason
                );
            })
        }

        #[test]
        fn remote_refusing_the_connection_ends_the_call() {
            watchdog(LIMIT, || {
                let url = format!("ws://{}/agent", refused_addr());
                let server = BridgeServer::start(BridgeConfig::builder(url).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_6"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.close, Some((1011, "remote unreachable".to_owned())));
                let s = server.summary();
                assert!(
                    matches!(s.reason, EndReason::RemoteUnreachable(_)),
                    "{:?}",
                    s.reason
                );
            })
        }

        #[test]
        fn remote_never_completing_the_handshake_times_out() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::raw(|tcp| {
                    thread::sleep(Duration::from_secs(10)); // accept, then say nothing
                    drop(tcp);
                });
                let config = cfg(&remote)
                    .connect_timeout(Duration::from_millis(300))
                    .build()
                    .unwrap();
                let server = BridgeServer::start(config, eleven);
                let t0 = Instant::now();
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_7"));
                send_text(&mut teler, audio_msg(0, "AAAA"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.close, Some((1011, "remote connect timeout".to_owned())));
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "took {:?}",
                    t0.elapsed()
                );
                let s = server.summary();
                assert_eq!(s.reason, EndReason::Timeout(TimeoutKind::Connect));
                assert_eq!(
                    s.stats.from_teler.dropped, 1,
                    "queued caller audio is dropped"
                );
            })
        }

        #[test]
        fn remote_answering_garbage_to_the_handshake_is_unreachable() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::raw(|tcp| {
                    write_raw(
                        tcp,
                        b"SSH-2.0-OpenSSH\r\n\r\n\x00\xff garbage",
                        Duration::from_secs(2),
                    )
                });
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_8"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.close.map(|c| c.0), Some(1011));
                let s = server.summary();
                assert!(
                    matches!(s.reason, EndReason::RemoteUnreachable(_)),
                    "{:?}",
                    s.reason
                );
            })
        }

        #[test]
        fn remote_sending_garbage_frames_is_dropped_and_the_call_goes_on() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::ws(|mut c| {
                    c.ws.send(Message::text("this is not json")).unwrap();
                    c.ws.send(Message::text(r#"{"type":"audio"}"#)).unwrap();
                    c.ws.send(Message::text(agent_audio("QUJD"))).unwrap();
                    let _ = read_until_close(&mut c.ws);
                });
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_9"));
                let got = read_texts(&mut teler, 1);
                assert_eq!(got.texts, [teler_audio("QUJD", 1)]);
                close(&mut teler, 1000, "bye");
                let s = server.summary();
                assert_eq!(s.stats.from_remote.handler_errors, 2);
                assert_eq!(s.stats.from_remote.relayed_frames, 1);
            })
        }

        #[test]
        fn binary_frames_from_either_side_are_rejected_and_the_call_goes_on() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::ws(|mut c| {
                    c.ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
                    c.ws.send(Message::text(agent_audio("QUJD"))).unwrap();
                    echo(&mut c.ws);
                });
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                teler.send(Message::binary(vec![0u8; 64])).unwrap();
                send_text(&mut teler, start_msg("cs_10"));
                send_text(&mut teler, audio_msg(0, "RUZH"));
                let got = read_texts(&mut teler, 2);
                assert_eq!(got.texts, [teler_audio("QUJD", 1), teler_audio("RUZH", 2)]);
                assert_eq!(got.binary, 0);
                close(&mut teler, 1000, "bye");
                let s = server.summary();
                assert_eq!(s.stats.from_teler.rejected, 1);
                assert_eq!(s.stats.from_remote.rejected, 1);
                assert!(matches!(s.reason, EndReason::TelerHungUp(_)));
            })
        }

        #[test]
        fn protocol_violations_from_teler_end_the_call_as_such_and_are_counted() {
            watchdog(LIMIT, || {
                for how in PROTOCOL_VIOLATIONS {
                    let remote = FakeRemote::echo_agent();
                    let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                    let mut teler = teler_connect(server.addr);
                    send_text(&mut teler, start_msg("cs_pv"));
                    send_violation(&mut teler, how);
                    let _ = read_until_close(&mut teler);
                    let s = server.summary();
                    assert!(
                        matches!(&s.reason, EndReason::ProtocolError { side: Side::Teler, .. }),
                        "{how}: {:?}",
                        s.reason
                    );
                    assert!(!s.reason.is_normal(), "{how}");
                    assert_eq!(s.stats.from_teler.protocol_errors, 1, "{how}");
                }
            })
        }

        #[test]
        fn oversized_frame_from_teler_ends_with_a_protocol_error() {
            watchdog(LIMIT, || {
                let (remote, rec) = Recorder::remote();
                let config = cfg(&remote).max_frame_size(4096).build().unwrap();
                let server = BridgeServer::start(config, eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_11"));
                send_text(&mut teler, audio_msg(0, "AAAA"));
                assert_eq!(rec.texts(1).len(), 1); // the remote is connected
                send_text(&mut teler, audio_msg(1, &"A".repeat(64 * 1024)));
                let _ = read_until_close(&mut teler);
                let s = server.summary();
                assert!(
                    matches!(
                        &s.reason,
                        EndReason::ProtocolError {
                            side: Side::Teler,
                            ..
                        }
                    ),
                    "{:?}",
                    s.reason
                );
                assert_eq!(rec.close().map(|c| c.0), Some(1011));
            })
        }

        #[test]
        fn oversized_frame_from_the_remote_ends_with_a_protocol_error() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::ws(|mut c| {
                    let _ =
                        c.ws.send(Message::text(agent_audio(&"A".repeat(64 * 1024))));
                    let _ = read_until_close(&mut c.ws);
                });
                let config = cfg(&remote).max_frame_size(4096).build().unwrap();
                let server = BridgeServer::start(config, eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_12"));
                let got = read_until_close(&mut teler);
                assert!(got.texts.is_empty());
                assert_eq!(got.close, Some((1011, "protocol error".to_owned())));
                let s = server.summary();
                assert!(
                    matches!(
                        &s.reason,
                        EndReason::ProtocolError {
                            side: Side::Remote,
                            ..
                        }
                    ),
                    "{:?}",
                    s.reason
                );
            })
        }

        #[test]
        fn a_hundred_concurrent_calls_through_one_server_keep_their_own_state() {
            watchdog(Duration::from_secs(90), || {
                let remote = FakeRemote::echo_agent();
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                const CALLS: usize = 100;
                const FRAMES: usize = 20;
                let addr = server.addr;
                let calls: Vec<_> = (0..CALLS)
                    .map(|call| {
                        thread::spawn(move || {
                            let mut teler = teler_connect(addr);
                            send_text(&mut teler, start_msg(&format!("cs_{call}")));
                            for i in 0..FRAMES {
                                send_text(&mut teler, audio_msg(i, &payload(call, i)));
                            }
                            let got = read_texts(&mut teler, FRAMES);
                            let want: Vec<String> = (0..FRAMES)
                                .map(|i| teler_audio(&payload(call, i), i + 1))
                                .collect();
                            assert_eq!(got.texts, want, "call {call}");
                            close(&mut teler, 1000, "bye");
                        })
                    })
                    .collect();
                for c in calls {
                    c.join().expect("a call failed");
                }
                for _ in 0..CALLS {
                    let s = server.summary();
                    assert_eq!(s.stats.from_remote.relayed_frames, FRAMES as u64);
                    assert!(matches!(s.reason, EndReason::TelerHungUp(_)));
                }
            })
        }

        #[test]
        fn keepalive_pings_keep_a_quiet_remote_and_a_silent_one_is_ended() {
            watchdog(LIMIT, || {
                // A remote that says nothing but keeps reading answers the bridge's pings.
                // (Its idle timeout is long: a busy machine that answers a ping late must not
                // end this call.)
                let (quiet, rec) = Recorder::remote();
                let config = cfg(&quiet)
                    .keepalive_interval(Some(Duration::from_millis(50)))
                    .remote_idle_timeout(Some(Duration::from_secs(10)))
                    .build()
                    .unwrap();
                let server = BridgeServer::start(config, eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_15"));
                // 30 keepalive periods; 5 pings are asked for below.
                thread::sleep(Duration::from_millis(1500));
                close(&mut teler, 1000, "bye");
                let s = server.summary();
                assert!(
                    matches!(s.reason, EndReason::TelerHungUp(_)),
                    "{:?}",
                    s.reason
                );
                assert!(s.stats.pings_sent >= 5, "{:?}", s.stats);
                assert_eq!(rec.close(), Some((1000, "call ended".to_owned())));

                // A remote that stops reading never answers: the idle timeout ends the call.
                let silent = FakeRemote::ws(|c| {
                    thread::sleep(Duration::from_secs(5));
                    drop(c);
                });
                let config = cfg(&silent)
                    .keepalive_interval(Some(Duration::from_millis(50)))
                    .remote_idle_timeout(Some(Duration::from_millis(250)))
                    .build()
                    .unwrap();
                let server = BridgeServer::start(config, eleven);
                let t0 = Instant::now();
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_16"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.close, Some((1011, "remote idle timeout".to_owned())));
                assert!(
                    t0.elapsed() < Duration::from_secs(4),
                    "took {:?}",
                    t0.elapsed()
                );
                let s = server.summary();
                assert_eq!(s.reason, EndReason::Timeout(TimeoutKind::RemoteIdle));
            })
        }

        #[test]
        fn wss_remote_is_dialed_over_tls_and_an_untrusted_one_is_unreachable() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::wss_echo_agent();
                let config = BridgeConfig::builder(remote.wss_url()).build().unwrap();
                let server = BridgeServer::start_tls(config.clone(), eleven, Some(test_client_tls()));
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_17"));
                for i in 0..20 {
                    send_text(&mut teler, audio_msg(i, &payload(17, i)));
                }
                let got = read_texts(&mut teler, 20);
                let want: Vec<String> = (0..20)
                    .map(|i| teler_audio(&payload(17, i), i + 1))
                    .collect();
                assert_eq!(got.texts, want);
                close(&mut teler, 1000, "bye");
                assert!(matches!(server.summary().reason, EndReason::TelerHungUp(_)));

                // With the default roots (webpki), the test CA is not trusted.
                let server = BridgeServer::start(config, eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_18"));
                let got = read_until_close(&mut teler);
                assert_eq!(got.close, Some((1011, "remote unreachable".to_owned())));
                let s = server.summary();
                assert!(
                    matches!(&s.reason, EndReason::RemoteUnreachable(why) if why.contains("certificate") || why.contains("Certificate")),
                    "{:?}",
                    s.reason
                );
            })
        }

        #[test]
        fn a_slow_handler_slows_only_its_own_call() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::echo_agent();
                // Call A's handler takes 60 ms on each of its frames (marked "slow") and says
                // when it starts on the first; B's are quick.
                let (a_started_tx, a_started) = std::sync::mpsc::channel::<()>();
                let a_started_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(a_started_tx)));
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), move || {
                    let started = a_started_tx.clone();
                    let mut inner = teler_core::elevenlabs::call_handler();
                    let call: Box<dyn teler_core::media::StreamHandler> =
                        Box::new(move |m: &str| -> teler_core::media::HandlerResult {
                            if m.contains("slow") {
                                if let Some(tx) = started.lock().unwrap().take() {
                                    let _ = tx.send(());
                                }
                                thread::sleep(Duration::from_millis(60));
                            }
                            inner.handle_text(m)
                        });
                    (call, eleven().1)
                });
                const A_FRAMES: usize = 40; // 2.4 s of handler sleep, all queued at once
                let addr = server.addr;
                let a = thread::spawn(move || {
                    let mut teler = teler_connect(addr);
                    send_text(&mut teler, start_msg("cs_slow"));
                    for i in 0..A_FRAMES {
                        send_text(&mut teler, audio_msg(i, &format!("slow{i:08}")));
                    }
                    let got = read_texts(&mut teler, A_FRAMES);
                    let done = Instant::now();
                    close(&mut teler, 1000, "bye");
                    (got.texts, done)
                });
                // A's handler is on its first frame: its backlog is under way.
                a_started.recv().unwrap();
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_fast"));
                for i in 0..10 {
                    send_text(&mut teler, audio_msg(i, &payload(19, i)));
                }
                let got = read_texts(&mut teler, 10);
                let b_done = Instant::now();
                assert_eq!(got.texts.len(), 10);
                close(&mut teler, 1000, "bye");
                let want: Vec<String> = (0..A_FRAMES)
                    .map(|i| teler_audio(&format!("slow{i:08}"), i + 1))
                    .collect();
                let (a_texts, a_done) = a.join().unwrap();
                assert_eq!(a_texts, want, "A's audio is late but whole and in order");
                // B started once A's backlog (2.4 s of sleeping handler) was under way: had B
                // waited for it, B would have ended after A. An order, not a clock
                // window: a busy machine only makes A's sleeps later.
                assert!(b_done < a_done, "call B waited for call A's backlog: B done {:?} after A", b_done.saturating_duration_since(a_done));
            })
        }

        #[test]
        fn caller_audio_sent_while_the_remote_is_connecting_arrives_in_order() {
            watchdog(LIMIT, || {
                // The remote accepts TCP at once but completes the handshake only after 300 ms.
                let remote = FakeRemote::raw(|tcp| {
                    thread::sleep(Duration::from_millis(300));
                    tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
                    if let Ok(mut ws) = tungstenite::accept(tcp) {
                        echo(&mut ws);
                    }
                });
                let server = BridgeServer::start(cfg(&remote).build().unwrap(), eleven);
                let mut teler = teler_connect(server.addr);
                send_text(&mut teler, start_msg("cs_20"));
                for i in 0..30 {
                    send_text(&mut teler, audio_msg(i, &payload(20, i)));
                }
                let got = read_texts(&mut teler, 30);
                let want: Vec<String> = (0..30)
                    .map(|i| teler_audio(&payload(20, i), i + 1))
                    .collect();
                assert_eq!(got.texts, want);
                close(&mut teler, 1000, "bye");
                let s = server.summary();
                assert_eq!(s.stats.from_teler.relayed_frames, 30);
                assert_eq!(s.stats.from_teler.dropped, 0);
            })
        }
    };
}
