//! Entry points for the fuzz targets and the property tests (feature `fuzzing`).
//!
//! Each function takes arbitrary input and must never panic; the session model also checks
//! the bridge's invariants after every input and panics (a finding) when one breaks:
//!
//! - nothing is output after `Ended`, and `Ended` comes once, last;
//! - every relayed message arrives in order exactly once, or is counted as dropped;
//! - `Stop` always closes both sides;
//! - the pre-connect queue stays within its bounds;
//! - after `handle_timeout(now)` the next deadline is later than `now` (no busy loop).
#![allow(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;

use crate::elevenlabs;
use crate::media::{
    AppMessage, Bridge, BridgeConfig, CLOSE_GOING_AWAY, CLOSE_NORMAL, Command, CommandError,
    EndReason, Event, Frame, FramePolicy, HandlerError, HandlerErrorPolicy, HandlerResult, Message,
    OutFrame, Outbox, Output, STOP_REASON, Side, StreamHandler, StreamOp, TelerMessage,
};

/// Fuzz target `teler_frame`: any bytes as a Teler frame, parsed and fed to a bridge.
/// `t0` is the caller's clock reading (the core never reads a clock).
pub fn teler_frame(t0: Instant, data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = TelerMessage::parse(text) {
            let _ = m.kind();
            if let TelerMessage::Audio(a) = &m {
                let _ = a.pcm_len();
                let _ = a.decode_pcm();
            }
            if let TelerMessage::Start(s) = &m {
                let _ = s.to_owned_info();
            }
        }
        let _ = elevenlabs::call_handler().handle_text(text);
    }
    let mut b = seed_bridge();
    b.handle_remote_connected(t0);
    b.handle_teler_frame(t0, Frame::Text(data));
    b.handle_teler_frame(t0, Frame::Binary(data));
    drain_checked(&mut b);
}

/// Fuzz target `app_frame`: any bytes as an app -> Teler frame, read as Teler reads it.
pub fn app_frame(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(m) = AppMessage::parse(text)
    {
        // Whatever parses serialises back to a frame that parses to the same message.
        let again = m.to_json();
        assert_eq!(
            AppMessage::parse(&again).as_ref(),
            Ok(&m),
            "round trip of {text:?}"
        );
    }
}

/// Fuzz target `remote_frame`: any bytes as a frame from the remote, through the seed's
/// ElevenLabs remote handler and the bridge. `t0` is the caller's clock reading.
pub fn remote_frame(t0: Instant, data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = elevenlabs::remote_handler().handle_text(text);
    }
    let mut b = seed_bridge();
    b.handle_remote_connected(t0);
    b.handle_remote_frame(t0, Frame::Text(data));
    b.handle_remote_frame(t0, Frame::Binary(data));
    drain_checked(&mut b);
}

/// Fuzz target `agent_handlers`: every vendor's handler pair in [`crate::agents`], the
/// vendor chosen by the first byte. The rest is split at the first `0xff` byte: a Teler
/// frame for the call side, then a vendor frame for the remote side (as text and as binary),
/// each fed to the handlers alone and through a bridge.
pub fn agent_handlers(t0: Instant, data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (teler, vendor) = match rest.iter().position(|&b| b == 0xff) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, rest),
    };
    type Pair = (Box<dyn StreamHandler>, Box<dyn StreamHandler>);
    let pair = |w: u8| -> Pair {
        match w % 9 {
            0 => (
                Box::new(elevenlabs::call_handler()),
                Box::new(elevenlabs::remote_handler()),
            ),
            1 => {
                let (c, r) = crate::openai::handlers();
                (Box::new(c), Box::new(r))
            }
            2 => {
                let (c, r) = crate::agents::gemini::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
            3 => {
                let (c, r) = crate::agents::devnagri::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
            4 => {
                let (c, r) = crate::agents::deepgram::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
            5 => {
                let (c, r) = crate::agents::ultravox::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
            6 => {
                let (c, r) = crate::agents::cartesia::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
            7 => {
                let (c, r) = crate::agents::vapi::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
            _ => {
                let (c, r) = crate::agents::sarvam::Config::default().handlers();
                (Box::new(c), Box::new(r))
            }
        }
    };
    // The handlers alone: connect, a start, the input twice (state carried over).
    let (mut call, mut remote) = pair(which);
    let mut out = Outbox::default();
    let _ = call.on_remote_connected(&mut out);
    let start = r#"{"type":"start","call_id":"c","stream_id":"s","data":{"sample_rate":8000}}"#;
    let _ = call.handle(&Message::from_text(start), &mut out);
    if let Ok(text) = std::str::from_utf8(teler) {
        let parsed = TelerMessage::parse(text);
        for _ in 0..2 {
            let msg = match &parsed {
                Ok(p) => Message::from_teler(text, p),
                Err(_) => Message::from_text(text),
            };
            let _ = call.handle(&msg, &mut out);
        }
    }
    for _ in 0..2 {
        if let Ok(text) = std::str::from_utf8(vendor) {
            let _ = remote.handle(&Message::from_text(text), &mut out);
        }
        let _ = remote.handle_binary(vendor, &mut out);
    }
    // Through a bridge, whose invariants are checked.
    let (call, remote) = pair(which);
    let cfg = BridgeConfig::builder("wss://remote.invalid/ws")
        .max_frame_size(64 * 1024)
        .build()
        .expect("valid config");
    let mut b = Bridge::new(cfg, call, remote);
    b.handle_teler_connected(t0);
    b.handle_teler_frame(t0, Frame::Text(start.as_bytes()));
    b.handle_remote_connected(t0);
    b.handle_teler_frame(t0, Frame::Text(teler));
    b.handle_remote_frame(t0, Frame::Text(vendor));
    b.handle_remote_frame(t0, Frame::Binary(vendor));
    b.handle_teler_frame(t0, Frame::Text(teler));
    drain_checked(&mut b);
}

fn seed_bridge() -> Bridge<elevenlabs::CallHandler, elevenlabs::RemoteHandler> {
    let cfg = BridgeConfig::builder("wss://remote.invalid/ws")
        .max_frame_size(64 * 1024)
        .build()
        .expect("valid config");
    Bridge::new(
        cfg,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    )
}

fn drain_checked<C: StreamHandler, R: StreamHandler>(b: &mut Bridge<C, R>) {
    let mut ended = false;
    while let Some(o) = b.poll_output() {
        assert!(!ended, "output after Ended: {o:?}");
        if let Output::Event(Event::Ended(_)) = o {
            ended = true;
        }
    }
}

/// One input to the session model.
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    TelerConnected,
    TelerStart,
    /// An audio frame carrying the next sequence number.
    TelerAudio,
    /// An audio frame whose handler answers `Stop`.
    TelerStop,
    /// An audio frame whose handler fails.
    TelerFail,
    TelerOther,
    /// Arbitrary bytes (never a valid Teler message).
    TelerGarbage(Vec<u8>),
    TelerBinary(u8),
    TelerOversize,
    TelerClosed,
    RemoteConnected,
    RemoteConnectFailed,
    /// A remote message carrying the next sequence number.
    RemoteAudio,
    RemoteStop,
    RemoteFail,
    RemoteGarbage(Vec<u8>),
    RemoteBinary(u8),
    RemotePong,
    RemoteClosed(bool),
    SendDropped(bool),
    /// Time passes (ms); the deadline is served if it passed.
    Advance(u16),
    /// `handle_timeout` at the current time, whatever the deadline.
    Timeout,
    /// The application sends Teler a message carrying the next app sequence number.
    AppToTeler,
    /// The application sends Teler text that is not JSON (refused).
    AppToTelerBad,
    /// The application sends the remote a message carrying the next app sequence number.
    AppToRemote,
    /// The application stops the call.
    AppStop,
    /// The application sends the call away (drain deadline).
    GoAway,
}

/// Policies and bounds for one session run.
#[derive(Debug, Clone, Arbitrary)]
pub struct Setup {
    pub end_on_bad_frame: bool,
    pub end_on_handler_error: bool,
    pub pre_connect_frames: u8,
    pub keepalive: bool,
}

const MAX_FRAME: usize = 200;

struct Produced(Arc<Mutex<Vec<u64>>>);

struct CallSide {
    produced: Arc<Mutex<Vec<u64>>>,
}

impl StreamHandler for CallSide {
    fn handle(&mut self, m: &Message<'_>, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        match m.teler() {
            Some(TelerMessage::Audio(a)) => match &*a.audio_b64 {
                "STOP" => Ok(StreamOp::Stop),
                "FAIL" => Err(HandlerError::msg("call handler failed")),
                _ => {
                    let seq = a.message_id.unwrap_or(-1) as u64;
                    lock(&self.produced).push(seq);
                    out.send(format!("{{\"seq\":{seq}}}"));
                    Ok(StreamOp::Relay)
                }
            },
            Some(_) => Ok(StreamOp::Pass),
            None => Err(HandlerError::msg("call side got an unparsed frame")),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn remote_side(produced: Arc<Mutex<Vec<u64>>>) -> impl StreamHandler {
    move |text: &str| -> HandlerResult {
        if let Some(n) = text.strip_prefix("rseq:") {
            let seq: u64 = n.parse().map_err(HandlerError::from)?;
            lock(&produced).push(seq);
            Ok((format!("{{\"rseq\":{seq}}}"), StreamOp::Relay))
        } else if text == "STOP" {
            Ok((String::new(), StreamOp::Stop))
        } else if text == "FAIL" {
            Err(HandlerError::msg("remote handler failed"))
        } else {
            Ok((String::new(), StreamOp::Pass))
        }
    }
}

fn seq_of(frame: &OutFrame, key: &str) -> Option<u64> {
    let OutFrame::Text(t) = frame else {
        return None;
    };
    let rest = t.strip_prefix(&format!("{{\"{key}\":"))?;
    rest.strip_suffix('}')?.parse().ok()
}

/// Runs one session over `ops`, checking every invariant after every input. `t0` is the
/// caller's clock reading; every later time is `t0` plus the ops' virtual time.
pub fn session(t0: Instant, setup: &Setup, ops: &[Op]) {
    let max_pending = usize::from(setup.pre_connect_frames % 8) + 1;
    let mut b = BridgeConfig::builder("ws://remote.invalid/agent")
        .pre_connect_limits(max_pending, 120)
        .max_frame_size(MAX_FRAME)
        .connect_timeout(Duration::from_millis(1000))
        .keepalive_interval(setup.keepalive.then_some(Duration::from_millis(300)))
        .remote_idle_timeout(Some(Duration::from_millis(2000)))
        .frame_policy(if setup.end_on_bad_frame {
            FramePolicy::End
        } else {
            FramePolicy::Drop
        })
        .handler_error_policy(if setup.end_on_handler_error {
            HandlerErrorPolicy::End
        } else {
            HandlerErrorPolicy::Drop
        });
    if setup.end_on_bad_frame {
        b = b.binary_from_remote(FramePolicy::End);
    }
    let cfg = b.build().expect("valid config");
    let produced_call = Produced(Arc::new(Mutex::new(Vec::new())));
    let produced_remote = Produced(Arc::new(Mutex::new(Vec::new())));
    let mut bridge = Bridge::new(
        cfg,
        CallSide {
            produced: produced_call.0.clone(),
        },
        remote_side(produced_remote.0.clone()),
    );

    let mut now = t0;
    let mut teler_seq = 0u64;
    let mut remote_seq = 0u64;
    let mut sent_remote: Vec<u64> = Vec::new();
    let mut sent_teler: Vec<u64> = Vec::new();
    let mut ended = false;
    // Whether the remote was ever dialed (with `Dial::OnStart`, only once `start` came).
    let mut dialed = false;
    let mut remote_connected = false;
    let mut app_seq = 0u64;
    let (mut app_teler_ok, mut app_teler_sent) = (Vec::new(), Vec::new());
    let (mut app_remote_ok, mut app_remote_sent) = (Vec::new(), Vec::new());

    for op in ops {
        let mut timed_out_at = None;
        match op {
            Op::TelerConnected => bridge.handle_teler_connected(now),
            Op::TelerStart => bridge.handle_teler_frame(
                now,
                Frame::Text(br#"{"type":"start","call_id":"cs_1","stream_id":"s","message_id":0,"data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#),
            ),
            Op::TelerAudio => {
                teler_seq += 1;
                let f = format!(r#"{{"type":"audio","message_id":{teler_seq},"data":{{"audio_b64":"AAA="}}}}"#);
                bridge.handle_teler_frame(now, Frame::Text(f.as_bytes()));
            }
            Op::TelerStop => bridge.handle_teler_frame(now, Frame::Text(br#"{"type":"audio","data":{"audio_b64":"STOP"}}"#)),
            Op::TelerFail => bridge.handle_teler_frame(now, Frame::Text(br#"{"type":"audio","data":{"audio_b64":"FAIL"}}"#)),
            Op::TelerOther => bridge.handle_teler_frame(now, Frame::Text(br#"{"type":"mark","name":"x"}"#)),
            Op::TelerGarbage(g) => {
                let mut f = b"g".to_vec();
                f.extend_from_slice(g);
                bridge.handle_teler_frame(now, Frame::Text(&f));
            }
            Op::TelerBinary(n) => bridge.handle_teler_frame(now, Frame::Binary(&vec![0u8; usize::from(*n)])),
            Op::TelerOversize => bridge.handle_teler_frame(now, Frame::Text(&[b' '; MAX_FRAME + 1])),
            Op::TelerClosed => bridge.handle_teler_closed(now, None),
            Op::RemoteConnected => bridge.handle_remote_connected(now),
            Op::RemoteConnectFailed => bridge.handle_remote_connect_failed(now, "refused"),
            Op::RemoteAudio => {
                remote_seq += 1;
                let f = format!("rseq:{remote_seq}");
                bridge.handle_remote_frame(now, Frame::Text(f.as_bytes()));
            }
            Op::RemoteStop => bridge.handle_remote_frame(now, Frame::Text(b"STOP")),
            Op::RemoteFail => bridge.handle_remote_frame(now, Frame::Text(b"FAIL")),
            Op::RemoteGarbage(g) => {
                let mut f = b"g".to_vec();
                f.extend_from_slice(g);
                bridge.handle_remote_frame(now, Frame::Text(&f));
            }
            Op::RemoteBinary(n) => bridge.handle_remote_frame(now, Frame::Binary(&vec![1u8; usize::from(*n)])),
            Op::RemotePong => bridge.handle_remote_frame(now, Frame::Pong(b"")),
            Op::RemoteClosed(normal) => bridge.handle_remote_closed(
                now,
                normal.then(|| crate::media::CloseInfo {
                    code: 1000,
                    reason: String::new(),
                }),
            ),
            Op::SendDropped(teler) => {
                bridge.handle_send_dropped(if *teler { Side::Teler } else { Side::Remote })
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(*ms));
                if bridge.poll_timeout().is_some_and(|d| d <= now) {
                    bridge.handle_timeout(now);
                    timed_out_at = Some(now);
                }
            }
            Op::Timeout => {
                bridge.handle_timeout(now);
                timed_out_at = Some(now);
            }
            Op::AppToTeler => {
                app_seq += 1;
                let cmd = Command::to_teler_json(format!("{{\"app\":{app_seq}}}")).expect("json");
                match bridge.handle_command(now, cmd) {
                    Ok(()) => app_teler_ok.push(app_seq),
                    Err(e) => assert_eq!(e, CommandError::Ended, "{op:?}"),
                }
            }
            Op::AppToTelerBad => {
                let r = bridge.handle_command(now, Command::SendToTeler("not json".into()));
                assert!(r.is_err(), "non-JSON for Teler was accepted");
            }
            Op::AppToRemote => {
                app_seq += 1;
                let cmd = Command::to_remote(format!("{{\"aseq\":{app_seq}}}"));
                match bridge.handle_command(now, cmd) {
                    Ok(()) => app_remote_ok.push(app_seq),
                    Err(e) => assert!(
                        matches!(e, CommandError::Ended | CommandError::QueueFull),
                        "{e:?}"
                    ),
                }
            }
            Op::AppStop => {
                let r = bridge.handle_command(now, Command::stop("test"));
                assert_eq!(r.is_ok(), !ended);
            }
            Op::GoAway => {
                let r = bridge.handle_command(now, Command::GoAway);
                assert_eq!(r.is_ok(), !ended);
            }
        }
        if matches!(
            op,
            Op::RemoteConnected
                | Op::RemoteAudio
                | Op::RemoteStop
                | Op::RemoteFail
                | Op::RemoteGarbage(_)
                | Op::RemoteBinary(_)
                | Op::RemotePong
        ) {
            remote_connected = true;
        }

        // Drain and check.
        let mut closes = Vec::new();
        let mut ended_now: Option<EndReason> = None;
        while let Some(out) = bridge.poll_output() {
            assert!(!ended, "output after Ended: {out:?} (op {op:?})");
            assert!(
                ended_now.is_none(),
                "output after Ended in the same drain: {out:?}"
            );
            match out {
                Output::Send {
                    side: Side::Remote,
                    frame,
                } => {
                    if let Some(s) = seq_of(&frame, "aseq") {
                        assert!(
                            remote_connected,
                            "app message sent before the remote was open"
                        );
                        app_remote_sent.push(s);
                    }
                    if let Some(s) = seq_of(&frame, "seq") {
                        assert!(
                            remote_connected,
                            "caller audio sent before the remote was open"
                        );
                        assert!(
                            sent_remote.last().is_none_or(|&l| l < s),
                            "reordered or duplicated to remote: {s} after {sent_remote:?}"
                        );
                        sent_remote.push(s);
                    }
                }
                Output::Send {
                    side: Side::Teler,
                    frame,
                } => {
                    if let Some(s) = seq_of(&frame, "app") {
                        app_teler_sent.push(s);
                        continue;
                    }
                    let s = seq_of(&frame, "rseq").expect("only remote messages go to Teler");
                    assert!(
                        sent_teler.last().is_none_or(|&l| l < s),
                        "reordered or duplicated to Teler"
                    );
                    sent_teler.push(s);
                }
                Output::Close { side, close } => closes.push((side, close)),
                Output::Event(Event::Ended(summary)) => ended_now = Some(summary.reason),
                Output::ConnectRemote(_) => dialed = true,
                Output::Event(_) => {}
            }
        }
        assert!(
            bridge.pending_len() <= max_pending,
            "pre-connect queue over its bound"
        );
        if let Some(reason) = ended_now {
            ended = true;
            assert!(bridge.is_ended());
            if let EndReason::Stopped { .. } = reason {
                let teler = closes.iter().any(|(s, c)| {
                    *s == Side::Teler && c.code == CLOSE_NORMAL && c.reason == STOP_REASON
                });
                // A remote never dialed has nothing to close.
                let remote = !dialed
                    || closes
                        .iter()
                        .any(|(s, c)| *s == Side::Remote && c.code == CLOSE_NORMAL);
                assert!(teler && remote, "Stop must close both sides: {closes:?}");
            }
            let code = match reason {
                EndReason::GoingAway => Some(CLOSE_GOING_AWAY),
                EndReason::StoppedByApp { .. } => Some(CLOSE_NORMAL),
                _ => None,
            };
            if let Some(code) = code {
                assert!(
                    closes
                        .iter()
                        .any(|(s, c)| *s == Side::Teler && c.code == code),
                    "{reason:?} must close Teler with {code}: {closes:?}"
                );
            }
        } else {
            assert!(
                closes.is_empty(),
                "closed a side without ending: {closes:?}"
            );
        }
        if let (Some(at), Some(next)) = (timed_out_at, bridge.poll_timeout()) {
            assert!(
                next > at,
                "deadline {next:?} not after the timeout served at {at:?}"
            );
        }
    }

    // Exactly once, or counted as dropped.
    let stats = bridge.stats();
    let produced = lock(&produced_call.0).clone();
    // The application's messages: to Teler at once and in order; to the remote in order,
    // once it is open, and only those accepted.
    assert_eq!(
        app_teler_ok, app_teler_sent,
        "app -> Teler lost or reordered"
    );
    assert_eq!(stats.app_to_teler, app_teler_sent.len() as u64);
    assert!(
        app_remote_ok.starts_with(&app_remote_sent),
        "app -> remote: accepted {app_remote_ok:?}, sent {app_remote_sent:?}"
    );
    assert_eq!(stats.app_to_remote, app_remote_sent.len() as u64);
    let app_pending = (app_remote_ok.len() - app_remote_sent.len()) as u64;
    let pending = match ended {
        true => bridge.pending_len() as u64,
        false => bridge.pending_len() as u64 - app_pending,
    };
    assert_eq!(stats.from_teler.relayed_frames, sent_remote.len() as u64);
    assert_eq!(
        produced.len() as u64,
        stats.from_teler.relayed_frames + stats.from_teler.dropped + pending,
        "to remote: produced {produced:?}, sent {sent_remote:?}, stats {stats:?}"
    );
    let sent_set: std::collections::BTreeSet<u64> = sent_remote.iter().copied().collect();
    assert!(sent_set.iter().all(|s| produced.contains(s)));
    let produced_r = lock(&produced_remote.0).clone();
    assert_eq!(
        produced_r, sent_teler,
        "remote -> Teler is never queued or dropped"
    );
    assert_eq!(stats.from_remote.relayed_frames, sent_teler.len() as u64);
    if ended {
        assert_eq!(pending, 0);
        assert_eq!(bridge.poll_timeout(), None);
    }
}

/// Any bytes as a fleet bus message or directory entry: parsed, bounded, and, when they
/// parse, written back and read again unchanged; commands convert without panicking.
pub fn fleet_bus(data: &[u8]) {
    use crate::fleet::{BusMessage, CallEntry};
    if let Ok(m) = BusMessage::parse(data) {
        let again = BusMessage::parse(m.to_json().as_bytes()).expect("own output parses");
        assert_eq!(again, m);
        if let BusMessage::Request { command, .. } = m
            && let Ok(c) = command.into_command()
        {
            let _ = crate::fleet::WireCommand::from_command(&c);
        }
    }
    if let Ok(e) = CallEntry::parse(data) {
        assert_eq!(CallEntry::parse(e.to_json().as_bytes()), Ok(e));
    }
}
