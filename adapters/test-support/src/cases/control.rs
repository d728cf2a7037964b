/// Acting on live calls and draining, run by every adapter: invoke
/// `teler_test_support::control_cases!(teler_ADAPTER);` at the root of `tests/control.rs`,
/// next to `mod common;` whose `server::Serving` runs that adapter's `serve` and exposes the
/// connector's `calls` and `drainer()`.
#[macro_export]
macro_rules! control_cases {
    ($krate:ident) => {
        use std::net::{SocketAddr, TcpStream};
        use std::time::{Duration, Instant};

        use common::*;
        use teler_core::media::{BridgeConfig, EndReason, STOP_REASON};
        use $krate::{SendError, ServeConfig};

        const LIMIT: Duration = Duration::from_secs(60);

        /// Waits (on state, under the test's watchdog) until `done` holds.
        fn until(mut done: impl FnMut() -> bool) {
            while !done() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }

        /// The status and `Retry-After` a media-stream upgrade gets.
        fn upgrade(addr: SocketAddr) -> (u16, Option<String>) {
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
            match tungstenite::client(format!("ws://{addr}/media-stream").as_str(), tcp) {
                Ok((_ws, resp)) => (resp.status().as_u16(), None),
                Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => (
                    resp.status().as_u16(),
                    resp.headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap_or("").to_owned()),
                ),
                Err(e) => panic!("upgrade: {e}"),
            }
        }

        /// A call through `s` that is live and relaying: `start`, one frame and its echo.
        fn live_call(s: &Serving, call_id: &str) -> tungstenite::WebSocket<TcpStream> {
            let mut teler = teler_connect(s.addr);
            send_text(&mut teler, start_msg(call_id));
            send_text(&mut teler, audio_msg(0, &payload(9, 0)));
            let got = read_texts(&mut teler, 1);
            assert_eq!(got.texts, [teler_audio(&payload(9, 0), 1)]);
            teler
        }

        #[test]
        fn a_handle_finds_the_call_injects_a_clear_in_order_and_stops_it() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::echo_agent();
                let config = BridgeConfig::builder(remote.url()).build().unwrap();
                let s = Serving::start(config, ServeConfig::new(), eleven);
                let mut teler = live_call(&s, "cs_ctl");
                assert_eq!(s.calls.len(), 1);
                let h = s
                    .calls
                    .by_call_id("cs_ctl")
                    .expect("found by Teler's call_id");
                assert_eq!(h.stream_id(), Some("st_1"));
                assert_eq!(s.calls.by_stream_id("st_1").map(|h| h.id()), Some(h.id()));
                assert!(s.calls.by_call_id("cs_other").is_none());
                assert!(matches!(
                    h.send(teler_core::media::Command::SendToTeler("not json".into())),
                    Err(SendError::Invalid(_))
                ));

                // The clear is queued before the next frame is even sent: it reaches Teler
                // before that frame's answer, and after the answers already relayed.
                h.clear().unwrap();
                send_text(&mut teler, audio_msg(1, &payload(9, 1)));
                let got = read_texts(&mut teler, 2);
                assert_eq!(
                    got.texts,
                    [
                        r#"{"type":"clear"}"#.to_owned(),
                        teler_audio(&payload(9, 1), 2)
                    ]
                );
                let stats = h.stats();
                assert_eq!(stats.app_to_teler, 1);
                assert_eq!(stats.from_remote.relayed_frames, 2);
                // A text event for the agent goes out too (the echo agent ignores it).
                h.send_to_remote(r#"{"type":"contextual_update","text":"VIP"}"#)
                    .unwrap();

                h.stop("operator hung up").unwrap();
                let rest = read_until_close(&mut teler);
                assert_eq!(rest.close, Some((1000, STOP_REASON.to_owned())));
                let sum = s.summary();
                assert_eq!(
                    sum.reason,
                    EndReason::StoppedByApp {
                        reason: "operator hung up".into()
                    }
                );
                assert_eq!(sum.stats.app_to_remote, 1);
                until(|| s.calls.is_empty());
                assert!(h.is_ended());
                assert_eq!(h.send_to_remote("late"), Err(SendError::Ended));
                assert_eq!(h.stats(), sum.stats, "the handle keeps the final counters");
            });
        }

        #[test]
        fn a_drain_refuses_new_streams_and_lets_live_calls_finish() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::echo_agent();
                let config = BridgeConfig::builder(remote.url()).build().unwrap();
                let s = Serving::start(config, ServeConfig::new(), eleven);
                let mut teler = live_call(&s, "cs_live");
                let drainer = s.drainer();
                let drain =
                    std::thread::spawn(move || drainer(Instant::now() + Duration::from_secs(120)));
                until(|| s.calls.is_draining());
                assert_eq!(upgrade(s.addr), (503, Some("1".to_owned())));
                // The live call goes on: nothing it sends is lost.
                const N: usize = 50;
                for i in 1..=N {
                    send_text(&mut teler, audio_msg(i, &payload(9, i)));
                }
                let got = read_texts(&mut teler, N);
                let want: Vec<String> = (1..=N)
                    .map(|i| teler_audio(&payload(9, i), i + 1))
                    .collect();
                assert_eq!(got.texts, want);
                assert!(!drain.is_finished(), "the drain waits for the live call");
                close(&mut teler, 1000, "caller hung up");
                let report = drain.join().unwrap();
                assert_eq!(report.live_at_start, 1);
                assert_eq!(report.sent_away, 0, "the call ended before the deadline");
                assert_eq!(report.still_live, 0);
                assert!(matches!(s.summary().reason, EndReason::TelerHungUp(_)));
            });
        }

        #[test]
        fn at_the_drain_deadline_live_calls_are_sent_away_with_1001() {
            watchdog(LIMIT, || {
                let (remote, seen) = Recorder::remote();
                let config = BridgeConfig::builder(remote.url()).build().unwrap();
                let s = Serving::start(config, ServeConfig::new(), eleven);
                let mut teler = teler_connect(s.addr);
                send_text(&mut teler, start_msg("cs_away"));
                send_text(&mut teler, audio_msg(0, &payload(3, 0)));
                assert_eq!(
                    seen.texts(1).len(),
                    1,
                    "the remote is connected and relaying"
                );
                // A deadline already passed: the calls are sent away at once.
                let report = s.drainer()(Instant::now());
                assert_eq!(report.live_at_start, 1);
                assert_eq!(report.sent_away, 1);
                assert_eq!(report.still_live, 0);
                let got = read_until_close(&mut teler);
                assert_eq!(got.close, Some((1001, "going away".to_owned())));
                assert_eq!(seen.close(), Some((1001, "going away".to_owned())));
                let sum = s.summary();
                assert_eq!(sum.reason, EndReason::GoingAway);
                assert_eq!(sum.stats.from_teler.relayed_frames, 1);
                assert_eq!(upgrade(s.addr).0, 503, "still refusing after the drain");
            });
        }

        /// Every command sent through a handle arrives, in order; prints the latency from
        /// `clear()` to Teler reading it (median and 90th percentile; measured, not asserted).
        #[test]
        fn commands_arrive_in_order_and_their_latency_is_reported() {
            watchdog(LIMIT, || {
                let remote = FakeRemote::echo_agent();
                let config = BridgeConfig::builder(remote.url()).build().unwrap();
                let s = Serving::start(config, ServeConfig::new(), eleven);
                let mut teler = live_call(&s, "cs_lat");
                let h = s.calls.by_call_id("cs_lat").unwrap();
                let mut took = Vec::new();
                for i in 0..200u64 {
                    let t = Instant::now();
                    h.send_to_teler(&teler_core::media::AppMessage::Interrupt { chunk_id: i })
                        .unwrap();
                    let got = read_texts(&mut teler, 1);
                    took.push(t.elapsed());
                    assert_eq!(
                        got.texts,
                        [format!(r#"{{"type":"interrupt","chunk_id":{i}}}"#)]
                    );
                }
                took.sort();
                println!(
                    "{}: handle -> Teler latency: median {:?}, p90 {:?}",
                    stringify!($krate),
                    took[took.len() / 2],
                    took[took.len() * 9 / 10]
                );
                assert_eq!(h.stats().app_to_teler, 200);
            });
        }
    };
}
