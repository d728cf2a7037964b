//! Scenario tests of the bridge session, and a transcript test of a whole call against a
//! golden file (`golden/transcript_seed_call.txt`; regenerate with `UPDATE_GOLDEN=1`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use teler_core::elevenlabs;
use teler_core::media::*;

/// The scenarios below were written for a bridge that dials at once (as the Python SDK
/// does); the default, dialing once `start` arrives, has its own tests at the end.
fn cfg() -> BridgeConfigBuilder {
    BridgeConfig::builder("wss://agent.example/convai?agent_id=a1")
        .header("xi-api-key", "k")
        .dial(Dial::OnConnect)
}

fn drain<C: StreamHandler, R: StreamHandler>(b: &mut Bridge<C, R>) -> Vec<Output> {
    std::iter::from_fn(|| b.poll_output()).collect()
}

fn audio(id: u64, b64: &str) -> String {
    format!(
        r#"{{"type":"audio","stream_id":"st_1","message_id":{id},"data":{{"audio_b64":"{b64}"}}}}"#
    )
}

const START: &[u8] = br#"{"type":"start","account_id":"acc_1","call_app_id":"va_1","call_id":"cs_1","stream_id":"st_1","message_id":0,"data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#;

fn seed() -> Bridge<elevenlabs::CallHandler, elevenlabs::RemoteHandler> {
    Bridge::new(
        cfg().build().unwrap(),
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    )
}

fn ended(outs: &[Output]) -> Option<&EndSummary> {
    outs.iter().find_map(|o| match o {
        Output::Event(Event::Ended(s)) => Some(&**s),
        _ => None,
    })
}

fn closes(outs: &[Output]) -> Vec<(Side, u16, String)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Close { side, close } => Some((*side, close.code, close.reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn config_errors_name_the_parameter() {
    let e = BridgeConfig::builder("http://x").build().unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"bad parameter remote_url: must start with ws:// or wss://, got "http://x""#
    );
    assert!(BridgeConfig::builder("  ").build().is_err());
    assert!(BridgeConfig::builder("wss:///path").build().is_err());
    assert!(
        BridgeConfig::builder("wss://h")
            .header("bad name", "v")
            .build()
            .is_err()
    );
    assert!(
        BridgeConfig::builder("wss://h")
            .header("X", "a\r\nb")
            .build()
            .is_err()
    );
    assert!(
        BridgeConfig::builder("wss://h")
            .subprotocol("a b")
            .build()
            .is_err()
    );
    assert!(
        BridgeConfig::builder("wss://h")
            .connect_timeout(Duration::ZERO)
            .build()
            .is_err()
    );
    let e = BridgeConfig::builder("wss://h")
        .stream_type(StreamType::Unidirectional)
        .build()
        .unwrap_err();
    assert!(e.to_string().starts_with("not implemented: unidirectional"));
    assert_eq!(
        BridgeConfig::builder(" WSS://h/x ")
            .build()
            .unwrap()
            .remote_url(),
        "WSS://h/x"
    );
}

#[test]
fn frames_before_the_remote_opens_are_held_in_order_then_flushed() {
    let mut b = seed();
    let t = Instant::now();
    b.handle_teler_connected(t);
    b.handle_teler_frame(t, Frame::Text(START));
    for i in 1..=5 {
        b.handle_teler_frame(t, Frame::Text(audio(i, &format!("AAA{i}")).as_bytes()));
    }
    let outs = drain(&mut b);
    assert!(
        matches!(outs[0], Output::ConnectRemote(ref r) if r.headers == [("xi-api-key".to_owned(), "k".to_owned())])
    );
    assert!(
        matches!(outs[1], Output::Event(Event::Started(ref s)) if s.call_id.as_deref() == Some("cs_1"))
    );
    assert_eq!(outs.len(), 2, "nothing is sent before the remote opens");
    assert_eq!(b.pending_len(), 5);
    b.handle_remote_connected(t);
    let sent: Vec<String> = drain(&mut b)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send {
                side: Side::Remote,
                frame: OutFrame::Text(t),
            } => Some(t),
            _ => None,
        })
        .collect();
    let want: Vec<String> = (1..=5)
        .map(|i| format!(r#"{{"user_audio_chunk":"AAA{i}"}}"#))
        .collect();
    assert_eq!(sent, want);
}

#[test]
fn pre_connect_overflow_drops_oldest_and_counts() {
    let mut b = Bridge::new(
        cfg().pre_connect_limits(3, 1 << 20).build().unwrap(),
        elevenlabs::call_handler(),
        relay(),
    );
    let t = Instant::now();
    for i in 1..=10 {
        b.handle_teler_frame(t, Frame::Text(audio(i, &format!("A{i}")).as_bytes()));
    }
    assert_eq!(b.pending_len(), 3);
    assert_eq!(b.stats().from_teler.dropped, 7);
    b.handle_remote_connected(t);
    let sent: Vec<String> = drain(&mut b)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send {
                frame: OutFrame::Text(t),
                ..
            } => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [8, 9, 10].map(|i| format!(r#"{{"user_audio_chunk":"A{i}"}}"#))
    );
}

#[test]
fn stop_from_the_remote_handler_closes_both_sides() {
    let stop_on_bye = |m: &str| -> HandlerResult {
        Ok((
            m.to_owned(),
            if m == "bye" {
                StreamOp::Stop
            } else {
                StreamOp::Relay
            },
        ))
    };
    let mut b = Bridge::new(cfg().build().unwrap(), relay(), stop_on_bye);
    let t = Instant::now();
    b.handle_teler_connected(t);
    b.handle_remote_connected(t);
    drain(&mut b);
    b.handle_remote_frame(t, Frame::Text(b"bye"));
    let outs = drain(&mut b);
    assert_eq!(
        closes(&outs),
        [
            (Side::Teler, 1000, "Stream stopped by client".to_owned()),
            (Side::Remote, 1000, "Stream stopped by client".to_owned())
        ]
    );
    assert_eq!(
        ended(&outs).unwrap().reason,
        EndReason::Stopped { by: Side::Remote }
    );
    // Nothing after the end.
    b.handle_teler_frame(t, Frame::Text(START));
    b.handle_timeout(t + Duration::from_secs(100));
    assert!(drain(&mut b).is_empty());
}

#[test]
fn each_way_of_ending_closes_the_other_side_with_a_code_that_says_why() {
    let t = Instant::now();
    type Seed = Bridge<elevenlabs::CallHandler, elevenlabs::RemoteHandler>;
    type Case = (&'static str, Box<dyn Fn(&mut Seed)>, Vec<(Side, u16)>);
    let cases: Vec<Case> = vec![
        (
            "teler hangs up",
            Box::new(move |b: &mut Bridge<_, _>| b.handle_teler_closed(t, None)),
            vec![(Side::Remote, 1000)],
        ),
        (
            "remote closes normally",
            Box::new(move |b: &mut Bridge<_, _>| {
                b.handle_remote_closed(
                    t,
                    Some(CloseInfo {
                        code: 1000,
                        reason: "bye".into(),
                    }),
                )
            }),
            vec![(Side::Teler, 1000)],
        ),
        (
            "remote breaks",
            Box::new(move |b: &mut Bridge<_, _>| b.handle_remote_closed(t, None)),
            vec![(Side::Teler, 1011)],
        ),
        (
            "idle timeout",
            Box::new(move |b: &mut Bridge<_, _>| b.handle_timeout(t + Duration::from_secs(61))),
            vec![(Side::Teler, 1011), (Side::Remote, 1011)],
        ),
    ];
    for (name, act, want) in cases {
        let mut b = seed();
        b.handle_teler_connected(t);
        b.handle_remote_connected(t);
        drain(&mut b);
        act(&mut b);
        let outs = drain(&mut b);
        let got: Vec<(Side, u16)> = closes(&outs).into_iter().map(|(s, c, _)| (s, c)).collect();
        assert_eq!(got, want, "{name}");
        assert!(
            matches!(outs.last(), Some(Output::Event(Event::Ended(_)))),
            "{name}: Ended is last"
        );
    }
}

#[test]
fn unreachable_remote_and_connect_timeout() {
    let t = Instant::now();
    let mut b = seed();
    b.handle_teler_connected(t);
    drain(&mut b);
    b.handle_remote_connect_failed(t, "connection refused");
    let outs = drain(&mut b);
    assert_eq!(
        closes(&outs),
        [(Side::Teler, 1011, "remote unreachable".to_owned())]
    );
    assert_eq!(
        ended(&outs).unwrap().reason,
        EndReason::RemoteUnreachable("connection refused".into())
    );

    let mut b = Bridge::new(
        cfg()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap(),
        relay(),
        relay(),
    );
    b.handle_teler_connected(t);
    assert_eq!(b.poll_timeout(), Some(t + Duration::from_secs(3)));
    b.handle_timeout(t + Duration::from_secs(2));
    assert!(!b.is_ended());
    b.handle_timeout(t + Duration::from_secs(3));
    let outs = drain(&mut b);
    assert_eq!(
        ended(&outs).unwrap().reason,
        EndReason::Timeout(TimeoutKind::Connect)
    );
    assert_eq!(
        closes(&outs)[1].0,
        Side::Remote,
        "the connect attempt is abandoned"
    );
}

#[test]
fn keepalive_pings_and_idle_deadline() {
    let t = Instant::now();
    let mut b = Bridge::new(
        cfg()
            .keepalive_interval(Some(Duration::from_secs(5)))
            .remote_idle_timeout(Some(Duration::from_secs(12)))
            .build()
            .unwrap(),
        relay(),
        relay(),
    );
    b.handle_teler_connected(t);
    b.handle_remote_connected(t);
    drain(&mut b);
    assert_eq!(b.poll_timeout(), Some(t + Duration::from_secs(5)));
    b.handle_timeout(t + Duration::from_secs(5));
    assert!(drain(&mut b).iter().any(|o| matches!(
        o,
        Output::Send {
            side: Side::Remote,
            frame: OutFrame::Ping(_)
        }
    )));
    assert_eq!(b.poll_timeout(), Some(t + Duration::from_secs(10)));
    b.handle_remote_frame(t + Duration::from_secs(9), Frame::Pong(b""));
    b.handle_timeout(t + Duration::from_secs(10));
    b.handle_timeout(t + Duration::from_secs(15));
    assert!(!b.is_ended(), "a pong keeps the remote alive");
    b.handle_timeout(t + Duration::from_secs(21));
    assert!(b.is_ended());
    assert_eq!(b.stats().pings_sent, 3);
}

#[test]
fn a_silent_teler_ends_the_bridge_after_its_idle_timeout() {
    let t = Instant::now();
    let secs = Duration::from_secs;
    let mut b = Bridge::new(
        cfg()
            .keepalive_interval(None)
            .remote_idle_timeout(None)
            .teler_idle_timeout(Some(secs(8)))
            .build()
            .unwrap(),
        relay(),
        relay(),
    );
    b.handle_teler_connected(t);
    b.handle_remote_connected(t);
    drain(&mut b);
    assert_eq!(b.poll_timeout(), Some(t + secs(8)));
    // Audio keeps it alive; the remote talking does not.
    b.handle_teler_frame(
        t + secs(5),
        Frame::Text(br#"{"type":"audio","data":{"audio_b64":"AAA="}}"#),
    );
    b.handle_remote_frame(t + secs(12), Frame::Text(b"{}"));
    assert_eq!(b.poll_timeout(), Some(t + secs(13)));
    b.handle_timeout(t + secs(12));
    assert!(!b.is_ended());
    b.handle_timeout(t + secs(13));
    let outs = drain(&mut b);
    assert_eq!(
        ended(&outs).unwrap().reason,
        EndReason::Timeout(TimeoutKind::TelerIdle)
    );
    assert_eq!(
        closes(&outs),
        [
            (Side::Teler, 1011, "idle timeout".to_owned()),
            (Side::Remote, 1011, "call idle timeout".to_owned())
        ]
    );

    // Off: nothing to wait for.
    let mut b = Bridge::new(
        cfg()
            .keepalive_interval(None)
            .remote_idle_timeout(None)
            .teler_idle_timeout(None)
            .build()
            .unwrap(),
        relay(),
        relay(),
    );
    b.handle_teler_connected(t);
    b.handle_remote_connected(t);
    assert_eq!(b.poll_timeout(), None);
    assert!(
        cfg()
            .teler_idle_timeout(Some(Duration::ZERO))
            .build()
            .is_err()
    );
}

#[test]
fn bad_frames_are_rejected_with_typed_events_and_the_call_goes_on() {
    let t = Instant::now();
    let mut b = Bridge::new(
        cfg().max_frame_size(64).build().unwrap(),
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    b.handle_teler_connected(t);
    b.handle_remote_connected(t);
    drain(&mut b);
    b.handle_teler_frame(t, Frame::Binary(&[1, 2, 3]));
    b.handle_teler_frame(t, Frame::Text(&[0xff, 0xfe]));
    b.handle_teler_frame(t, Frame::Text(b"{not json"));
    b.handle_teler_frame(t, Frame::Text(br#"{"type":"audio","data":{}}"#));
    b.handle_teler_frame(t, Frame::Text(&[b'x'; 65]));
    b.handle_remote_frame(t, Frame::Binary(&[9; 10]));
    b.handle_remote_frame(t, Frame::Text(b"not json either"));
    let outs = drain(&mut b);
    let rejected: Vec<String> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Event(Event::FrameRejected { side, reason }) => {
                Some(format!("{side:?}: {reason}"))
            }
            Output::Event(Event::HandlerFailed { side, error }) => {
                Some(format!("{side:?} handler: {error}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 7, "{rejected:#?}");
    assert_eq!(
        rejected[0],
        "Teler: binary frame of 3 bytes where text was expected"
    );
    assert_eq!(rejected[1], "Teler: text frame is not valid UTF-8");
    assert!(rejected[2].starts_with("Teler: frame is not valid Teler JSON"));
    assert_eq!(rejected[3], "Teler: audio frame has no data.audio_b64");
    assert_eq!(
        rejected[4],
        "Teler: frame of 65 bytes is over the 64-byte limit"
    );
    assert_eq!(
        rejected[5],
        "Remote: binary frame of 10 bytes where text was expected"
    );
    assert!(
        rejected[6].starts_with("Remote handler: expected ident"),
        "{}",
        rejected[6]
    );
    assert!(!b.is_ended());
    let s = b.stats();
    assert_eq!(
        (
            s.from_teler.rejected,
            s.from_remote.rejected,
            s.from_remote.handler_errors
        ),
        (5, 1, 1)
    );

    // With the End policies the same frames end the bridge with 1011.
    let mut b = Bridge::new(
        cfg().frame_policy(FramePolicy::End).build().unwrap(),
        relay(),
        relay(),
    );
    b.handle_teler_frame(t, Frame::Text(b"{oops"));
    let outs = drain(&mut b);
    assert!(matches!(
        ended(&outs).unwrap().reason,
        EndReason::ProtocolError {
            side: Side::Teler,
            ..
        }
    ));
    assert!(closes(&outs).iter().all(|c| c.1 == 1011));
}

#[test]
fn handler_state_is_kept_and_greeting_goes_first() {
    struct Greeter {
        n: u32,
    }
    impl StreamHandler for Greeter {
        fn handle(&mut self, m: &Message<'_>, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
            self.n += 1;
            out.send(format!(
                "{}:{}",
                self.n,
                m.teler().map(|t| t.kind()).unwrap_or("?")
            ));
            if self.n == 2 {
                out.send("two".to_owned());
            }
            Ok(StreamOp::Relay)
        }
        fn on_remote_connected(&mut self, out: &mut Outbox) -> Result<(), HandlerError> {
            out.send(r#"{"type":"conversation_initiation_client_data"}"#.to_owned());
            Ok(())
        }
    }
    let t = Instant::now();
    let mut b = Bridge::new(cfg().build().unwrap(), Greeter { n: 0 }, relay());
    b.handle_teler_frame(t, Frame::Text(START));
    b.handle_teler_frame(t, Frame::Text(audio(1, "AA==").as_bytes()));
    b.handle_remote_connected(t);
    let sent: Vec<String> = drain(&mut b)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send {
                frame: OutFrame::Text(t),
                ..
            } => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        [
            r#"{"type":"conversation_initiation_client_data"}"#,
            "1:start",
            "2:audio",
            "two"
        ]
    );
}

fn fmt_out(o: &Output) -> String {
    match o {
        Output::ConnectRemote(r) => format!("connect {} headers={:?}", r.url, r.headers),
        Output::Send {
            side,
            frame: OutFrame::Text(t),
        } => format!("send {side:?} {t}"),
        Output::Send {
            side,
            frame: OutFrame::Ping(p),
        } => format!("ping {side:?} {p:?}"),
        Output::Close { side, close } => {
            format!("close {side:?} {} {:?}", close.code, close.reason)
        }
        Output::Event(e) => format!("event {}", serde_json::to_string(e).unwrap()),
        other => format!("{other:?}"),
    }
}

/// A whole seed call: Teler connects, sends start and audio while the agent connects, the
/// agent answers with audio, the caller barges in, the caller hangs up.
#[test]
fn transcript_of_a_seed_call_matches_the_golden_file() {
    let t0 = Instant::now();
    let mut b = seed();
    let mut log = String::new();
    let mut step =
        |b: &mut Bridge<_, _>, ms: u64, what: &str, f: &dyn Fn(&mut Bridge<_, _>, Instant)| {
            f(b, t0 + Duration::from_millis(ms));
            writeln!(log, "t={ms}ms {what}").unwrap();
            for o in drain(b) {
                writeln!(log, "  {}", fmt_out(&o)).unwrap();
            }
            if let Some(d) = b.poll_timeout() {
                writeln!(log, "  next deadline t={}ms", (d - t0).as_millis()).unwrap();
            }
        };
    step(&mut b, 0, "teler connected", &|b, t| {
        b.handle_teler_connected(t)
    });
    step(&mut b, 1, "teler start", &|b, t| {
        b.handle_teler_frame(t, Frame::Text(START))
    });
    step(&mut b, 20, "teler audio 1", &|b, t| {
        b.handle_teler_frame(t, Frame::Text(audio(1, "AAAAAA==").as_bytes()))
    });
    step(&mut b, 35, "remote connected", &|b, t| {
        b.handle_remote_connected(t)
    });
    step(&mut b, 40, "teler audio 2", &|b, t| {
        b.handle_teler_frame(t, Frame::Text(audio(2, "AQEBAQ==").as_bytes()))
    });
    step(&mut b, 300, "agent metadata", &|b, t| {
        b.handle_remote_frame(t, Frame::Text(br#"{"type":"conversation_initiation_metadata","conversation_initiation_metadata_event":{"conversation_id":"c1"}}"#))
    });
    step(&mut b, 600, "agent audio", &|b, t| {
        b.handle_remote_frame(
            t,
            Frame::Text(
                br#"{"type":"audio","audio_event":{"audio_base_64":"//8AAA==","event_id":1}}"#,
            ),
        )
    });
    step(&mut b, 700, "agent audio", &|b, t| {
        b.handle_remote_frame(
            t,
            Frame::Text(
                br#"{"type":"audio","audio_event":{"audio_base_64":"AAD//w==","event_id":2}}"#,
            ),
        )
    });
    step(&mut b, 800, "caller barges in", &|b, t| {
        b.handle_remote_frame(
            t,
            Frame::Text(br#"{"type":"interruption","interruption_event":{"event_id":2}}"#),
        )
    });
    step(&mut b, 20035, "keepalive due", &|b, t| b.handle_timeout(t));
    step(&mut b, 20040, "pong", &|b, t| {
        b.handle_remote_frame(t, Frame::Pong(b""))
    });
    step(&mut b, 21000, "teler hangs up", &|b, t| {
        b.handle_teler_closed(
            t,
            Some(CloseInfo {
                code: 1000,
                reason: String::new(),
            }),
        )
    });

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/transcript_seed_call.txt"
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &log).unwrap();
    }
    let golden =
        std::fs::read_to_string(path).expect("golden transcript (run with UPDATE_GOLDEN=1 once)");
    assert_eq!(log, golden, "transcript changed:\n{log}");
}

fn start() -> String {
    r#"{"type":"start","account_id":"acc_1","call_app_id":"va_1","call_id":"cs_1","stream_id":"st_1","message_id":1,"data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#.to_string()
}

#[test]
fn by_default_the_remote_is_dialed_only_once_start_arrives() {
    let config = BridgeConfig::builder("wss://agent.example/ws")
        .build()
        .unwrap();
    assert_eq!(config.dial(), Dial::OnStart);
    let mut b = Bridge::new(
        config,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    let t0 = Instant::now();
    b.handle_teler_connected(t0);
    assert!(
        !drain(&mut b)
            .iter()
            .any(|o| matches!(o, Output::ConnectRemote(_))),
        "no agent session before start"
    );
    b.handle_teler_frame(
        t0 + Duration::from_millis(5),
        Frame::Text(start().as_bytes()),
    );
    let out = drain(&mut b);
    assert!(
        matches!(out[0], Output::Event(Event::Started(_))),
        "{out:?}"
    );
    assert!(matches!(out[1], Output::ConnectRemote(_)), "{out:?}");
    // Audio while the agent connects is held, then goes out in order.
    b.handle_teler_frame(
        t0 + Duration::from_millis(10),
        Frame::Text(audio(2, "AAAA").as_bytes()),
    );
    assert_eq!(b.pending_len(), 1);
    b.handle_remote_connected(t0 + Duration::from_millis(40));
    let sent: Vec<_> = drain(&mut b)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send {
                side: Side::Remote,
                frame: OutFrame::Text(t),
            } => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(sent, [r#"{"user_audio_chunk":"AAAA"}"#]);
}

#[test]
fn a_socket_that_never_sends_start_ends_at_the_start_timeout_without_an_agent() {
    let config = BridgeConfig::builder("wss://agent.example/ws")
        .start_timeout(Some(Duration::from_secs(3)))
        .build()
        .unwrap();
    let mut b = Bridge::new(
        config,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    let t0 = Instant::now();
    b.handle_teler_connected(t0);
    assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    // Not yet: one nanosecond before the deadline nothing happens.
    b.handle_timeout(t0 + Duration::from_secs(3) - Duration::from_nanos(1));
    assert!(!b.is_ended());
    b.handle_timeout(t0 + Duration::from_secs(3));
    let out = drain(&mut b);
    assert!(!out.iter().any(|o| matches!(o, Output::ConnectRemote(_))));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Close { side: Side::Teler, close } if close.code == CLOSE_POLICY
    )));
    match out.last() {
        Some(Output::Event(Event::Ended(s))) => {
            assert_eq!(s.reason, EndReason::Timeout(TimeoutKind::Start))
        }
        other => panic!("{other:?}"),
    }
    // With start in time, the start deadline is gone.
    let config = BridgeConfig::builder("wss://agent.example/ws")
        .build()
        .unwrap();
    let mut b = Bridge::new(
        config,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    b.handle_teler_connected(t0);
    b.handle_teler_frame(t0, Frame::Text(start().as_bytes()));
    b.handle_remote_connected(t0);
    b.handle_timeout(t0 + DEFAULT_START_TIMEOUT);
    assert!(
        !b.is_ended(),
        "start came: the start deadline no longer applies"
    );
}

#[test]
fn binary_frames_from_the_remote_can_be_read_as_text() {
    let config = BridgeConfig::builder("wss://agent.example/ws")
        .dial(Dial::OnConnect)
        .binary_from_remote(BinaryFrames::AsText)
        .build()
        .unwrap();
    let mut b = Bridge::new(
        config,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    let t0 = Instant::now();
    b.handle_teler_connected(t0);
    b.handle_remote_connected(t0);
    drain(&mut b);
    let agent = br#"{"type":"audio","audio_event":{"audio_base_64":"AAAA","event_id":1}}"#;
    b.handle_remote_frame(t0, Frame::Binary(agent));
    let out = drain(&mut b);
    assert!(
        out.iter().any(|o| matches!(o, Output::Send { side: Side::Teler, frame: OutFrame::Text(t) } if t.contains("AAAA"))),
        "{out:?}"
    );
    // Binary that is not UTF-8 is rejected as such.
    b.handle_remote_frame(t0, Frame::Binary(&[0xff, 0xfe]));
    let out = drain(&mut b);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Event(Event::FrameRejected {
            side: Side::Remote,
            reason: RejectReason::InvalidUtf8
        })
    )));
    // The default still drops binary, counted.
    let config = BridgeConfig::builder("wss://agent.example/ws")
        .dial(Dial::OnConnect)
        .build()
        .unwrap();
    let mut b = Bridge::new(
        config,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    b.handle_teler_connected(t0);
    b.handle_remote_connected(t0);
    b.handle_remote_frame(t0, Frame::Binary(agent));
    assert_eq!(b.stats().from_remote.rejected, 1);
    assert_eq!(b.stats().from_remote.relayed_frames, 0);
}

#[test]
fn protocol_errors_are_counted_per_side() {
    let config = BridgeConfig::builder("wss://agent.example/ws")
        .build()
        .unwrap();
    let mut b = Bridge::new(
        config,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    let t0 = Instant::now();
    b.handle_protocol_error(t0, Side::Teler, "invalid UTF-8");
    let s = b.stats();
    assert_eq!(
        (s.from_teler.protocol_errors, s.from_remote.protocol_errors),
        (1, 0)
    );
}

#[test]
fn debug_output_hides_the_agent_credentials() {
    let config = BridgeConfig::builder("wss://agent.example/ws?token=s3cret-q")
        .header("Authorization", "Bearer s3cret-h")
        .build()
        .unwrap();
    for text in [
        format!("{config:?}"),
        format!(
            "{:?}",
            BridgeConfig::builder("wss://agent.example/ws?token=s3cret-q").header("x", "s3cret-h")
        ),
        format!("{:?}", Bridge::new(config.clone(), relay(), relay())),
    ] {
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("agent.example"), "{text}");
    }
    let mut b = Bridge::new(config, relay(), relay());
    b.handle_teler_connected(Instant::now());
    b.handle_teler_frame(Instant::now(), Frame::Text(start().as_bytes()));
    let connect = drain(&mut b)
        .into_iter()
        .find_map(|o| match o {
            Output::ConnectRemote(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        connect.headers[0].1, "Bearer s3cret-h",
        "the driver still gets it"
    );
    let text = format!("{connect:?}");
    assert!(!text.contains("s3cret"), "{text}");
}

// ---- the application's commands, drain and handler clocks ----

fn texts_to(outs: &[Output], to: Side) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send {
                side,
                frame: OutFrame::Text(t),
            } if *side == to => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn app_commands_go_out_in_order_with_relayed_frames() {
    let t0 = Instant::now();
    let mut b = Bridge::new(cfg().build().unwrap(), relay(), relay());
    b.handle_teler_connected(t0);
    b.handle_teler_frame(t0, Frame::Text(START));
    // Held until the remote opens, after the caller audio already held.
    b.handle_teler_frame(t0, Frame::Text(audio(1, "AAA=").as_bytes()));
    b.handle_command(t0, Command::to_remote(r#"{"type":"note"}"#))
        .unwrap();
    let before = drain(&mut b);
    assert!(texts_to(&before, Side::Remote).is_empty());
    b.handle_remote_connected(t0);
    let opened = texts_to(&drain(&mut b), Side::Remote);
    assert_eq!(opened.len(), 3, "{opened:?}");
    assert_eq!(opened[2], r#"{"type":"note"}"#);

    b.handle_remote_frame(t0, Frame::Text(b"one"));
    b.handle_command(t0, Command::to_teler(&AppMessage::Clear))
        .unwrap();
    b.handle_remote_frame(t0, Frame::Text(b"two"));
    assert_eq!(
        texts_to(&drain(&mut b), Side::Teler),
        ["one", r#"{"type":"clear"}"#, "two"]
    );
    let s = b.stats();
    assert_eq!((s.app_to_teler, s.app_to_remote), (1, 1));
    assert_eq!(
        s.from_remote.relayed_frames, 2,
        "app frames are not relayed ones"
    );
    assert_eq!(s.from_teler.relayed_frames, 2);
}

#[test]
fn app_commands_are_checked() {
    let t0 = Instant::now();
    let cfg = cfg().max_frame_size(64).pre_connect_limits(1, 1000);
    let mut b = Bridge::new(cfg.build().unwrap(), relay(), relay());
    assert!(matches!(
        b.handle_command(t0, Command::SendToTeler("[1]".into())),
        Err(CommandError::NotJson(_))
    ));
    assert!(matches!(
        Command::to_teler_json("{"),
        Err(CommandError::NotJson(_))
    ));
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(60));
    assert_eq!(
        b.handle_command(t0, Command::SendToTeler(big.clone())),
        Err(CommandError::TooLarge { len: 68, max: 64 })
    );
    // Exactly at the limit is fine.
    let at = format!(r#"{{"a":"{}"}}"#, "x".repeat(56));
    assert_eq!(at.len(), 64);
    b.handle_command(t0, Command::SendToTeler(at)).unwrap();
    // One frame fits in the pre-connect queue; the second does not.
    b.handle_command(t0, Command::to_remote("1")).unwrap();
    assert_eq!(
        b.handle_command(t0, Command::to_remote("2")),
        Err(CommandError::QueueFull)
    );
    assert_eq!(b.stats().app_to_teler, 1);
}

#[test]
fn app_stop_and_go_away_close_both_sides_with_their_codes() {
    for (cmd, code, kind) in [
        (Command::stop("operator"), CLOSE_NORMAL, "stopped_by_app"),
        (Command::GoAway, CLOSE_GOING_AWAY, "going_away"),
    ] {
        let t0 = Instant::now();
        let mut b = Bridge::new(cfg().build().unwrap(), relay(), relay());
        b.handle_teler_connected(t0);
        b.handle_remote_connected(t0);
        drain(&mut b);
        b.handle_command(t0, cmd).unwrap();
        let outs = drain(&mut b);
        let c = closes(&outs);
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c.iter().all(|(_, k, _)| *k == code), "{c:?}");
        let s = ended(&outs).unwrap();
        assert_eq!(s.reason.kind(), kind);
        assert!(s.reason.is_normal());
        assert_eq!(
            b.handle_command(t0, Command::to_remote("late")),
            Err(CommandError::Ended)
        );
    }
}

#[test]
fn a_refused_bridge_closes_teler_with_1001_and_dials_nothing() {
    let t0 = Instant::now();
    let mut b = Bridge::new(cfg().build().unwrap(), relay(), relay());
    b.handle_refused(t0);
    let outs = drain(&mut b);
    assert!(!outs.iter().any(|o| matches!(o, Output::ConnectRemote(_))));
    assert_eq!(
        closes(&outs),
        [(Side::Teler, CLOSE_GOING_AWAY, "going away".to_owned())]
    );
    assert_eq!(ended(&outs).unwrap().reason, EndReason::Refused);
    assert!(!EndReason::Refused.is_normal());
    // Once started, refusing does nothing.
    let mut b = Bridge::new(cfg().build().unwrap(), relay(), relay());
    b.handle_teler_connected(t0);
    drain(&mut b);
    b.handle_refused(t0);
    assert!(!b.is_ended());
}

#[test]
fn handlers_get_the_bridge_clock_and_pace_audio_with_it() {
    use teler_core::audio::{
        AudioFormat, OutboundAudio, Pacing, PacketiserConfig, SampleRate, VendorEvent,
        encode_pcm16_b64,
    };
    let t0 = Instant::now();
    let lead = Duration::from_millis(500);
    let pcfg =
        PacketiserConfig::new(AudioFormat::pcm16(SampleRate::Hz8000)).pacing(Some(Pacing { lead }));
    let remote = OutboundAudio::new(pcfg, |t: &str| -> Result<VendorEvent<'_>, HandlerError> {
        Ok(VendorEvent::Audio(t.into()))
    })
    .unwrap();
    let mut b = Bridge::new(cfg().build().unwrap(), relay(), remote);
    b.handle_teler_connected(t0);
    b.handle_remote_connected(t0);
    drain(&mut b);
    // 2 s of audio at once: 4 chunks of 500 ms.
    let mut b64 = String::new();
    encode_pcm16_b64(&[0i16; 16_000], &mut b64);
    b.handle_remote_frame(t0, Frame::Text(b64.as_bytes()));
    let first = texts_to(&drain(&mut b), Side::Teler).len();
    assert!(
        first < 4,
        "pacing held nothing back: {first} chunks at once"
    );
    let mut sent = first;
    let mut now = t0;
    while sent < 4 {
        let at = b.poll_timeout().expect("a wake-up while audio waits");
        assert!(at > now, "the handler's deadline moves forward");
        now = at;
        b.handle_timeout(now);
        sent += texts_to(&drain(&mut b), Side::Teler).len();
    }
    // Released ahead of real time by at most the lead.
    assert!(now - t0 >= Duration::from_millis(2000) - lead - Duration::from_millis(500));
    assert_eq!(b.stats().from_remote.relayed_frames, 4);
}

#[test]
fn caller_overflow_before_the_remote_opens_never_drops_an_app_message() {
    // Found by the session fuzz target: an app frame was evicted and counted as a dropped
    // caller frame.
    let t0 = Instant::now();
    let cfg = cfg().pre_connect_limits(2, 100_000);
    let mut b = Bridge::new(cfg.build().unwrap(), relay(), relay());
    b.handle_teler_connected(t0);
    b.handle_command(t0, Command::to_remote("app")).unwrap();
    for i in 0..3 {
        b.handle_teler_frame(t0, Frame::Text(audio(i, "AAA=").as_bytes()));
    }
    assert_eq!(b.pending_len(), 2);
    assert_eq!(
        b.stats().from_teler.dropped,
        2,
        "two caller frames, not the app's"
    );
    drain(&mut b);
    b.handle_remote_connected(t0);
    let sent = texts_to(&drain(&mut b), Side::Remote);
    assert_eq!(sent[0], "app", "{sent:?}");
    assert_eq!(sent.len(), 2);
    assert_eq!(b.stats().app_to_remote, 1);
}
