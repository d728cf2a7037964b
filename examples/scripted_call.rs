//! A scripted call through the bridge session, printed step by step: no sockets, no account.
//!
//! Teler connects and sends `start` and caller audio while the voice agent is still
//! connecting (the audio is held), the agent connects and answers with audio, the caller
//! talks over it (barge-in: `clear`), a bad frame arrives and is rejected, and the caller
//! hangs up. The handlers are the seed app's ElevenLabs pair.
//!
//! Run: `cargo run -p teler-examples --example scripted_call`

use std::time::{Duration, Instant};

use teler_core::elevenlabs;
use teler_core::media::{Bridge, BridgeConfig, Event, Frame, OutFrame, Output};

/// The seed's bridge, and one scripted input to it.
type SeedBridge = Bridge<elevenlabs::CallHandler, elevenlabs::RemoteHandler>;
type Step = (u64, &'static str, Box<dyn Fn(&mut SeedBridge, Instant)>);

fn main() {
    // The transcript below is the demo's output, on stdout; logs (none from the sans-IO
    // core) would go to stderr.
    teler_examples::init_logging();
    let cfg = BridgeConfig::builder("wss://api.elevenlabs.io/v1/convai/conversation?agent_id=demo")
        .build()
        .expect("valid config");
    let mut bridge = Bridge::new(
        cfg,
        elevenlabs::call_handler(),
        elevenlabs::remote_handler(),
    );
    let t0 = Instant::now();

    let script: Vec<Step> = vec![
        (
            0,
            "Teler opens the media socket",
            Box::new(|b, t| b.handle_teler_connected(t)),
        ),
        (
            2,
            "Teler sends start",
            Box::new(|b, t| {
                b.handle_teler_frame(
                    t,
                    Frame::Text(br#"{"type":"start","account_id":"acc_1","call_app_id":"va_1","call_id":"cs_42","stream_id":"st_1","message_id":0,"data":{"encoding":"audio/l16","sample_rate":8000,"channels":1}}"#),
                )
            }),
        ),
        (
            500,
            "caller audio (agent still connecting: held)",
            Box::new(|b, t| {
                b.handle_teler_frame(t, Frame::Text(br#"{"type":"audio","stream_id":"st_1","message_id":1,"data":{"audio_b64":"AAABAAIAAwA="}}"#))
            }),
        ),
        (
            620,
            "the agent's socket opens",
            Box::new(|b, t| b.handle_remote_connected(t)),
        ),
        (
            1000,
            "caller audio",
            Box::new(|b, t| {
                b.handle_teler_frame(t, Frame::Text(br#"{"type":"audio","stream_id":"st_1","message_id":2,"data":{"audio_b64":"BAAFAAYABwA="}}"#))
            }),
        ),
        (
            1400,
            "agent speaks",
            Box::new(|b, t| {
                b.handle_remote_frame(t, Frame::Text(br#"{"type":"audio","audio_event":{"audio_base_64":"//8AAP//AAA=","event_id":1}}"#))
            }),
        ),
        (
            1900,
            "caller talks over the agent",
            Box::new(|b, t| {
                b.handle_remote_frame(
                    t,
                    Frame::Text(br#"{"type":"interruption","interruption_event":{"event_id":1}}"#),
                )
            }),
        ),
        (
            (2000),
            "a corrupt frame from Teler",
            Box::new(|b, t| b.handle_teler_frame(t, Frame::Text(b"{\"type\":\"audio\""))),
        ),
        (
            30_000,
            "Teler closes the socket: the caller hung up",
            Box::new(|b, t| b.handle_teler_closed(t, None)),
        ),
    ];

    for (ms, what, act) in script {
        let now = t0 + Duration::from_millis(ms);
        // Serve any deadline that passed (keepalive pings) before the next input.
        while let Some(d) = bridge.poll_timeout().filter(|d| *d <= now) {
            bridge.handle_timeout(d);
            print_outputs(&mut bridge, (d - t0).as_millis());
        }
        println!("{:>6} ms  {what}", ms);
        act(&mut bridge, now);
        print_outputs(&mut bridge, u128::from(ms));
    }
}

fn print_outputs<C, R>(bridge: &mut Bridge<C, R>, ms: u128)
where
    C: teler_core::media::StreamHandler,
    R: teler_core::media::StreamHandler,
{
    while let Some(out) = bridge.poll_output() {
        match out {
            Output::ConnectRemote(r) => println!("{ms:>6} ms    -> dial the agent at {}", r.url),
            Output::Send {
                side,
                frame: OutFrame::Text(t),
            } => println!("{ms:>6} ms    -> to {side:?}: {t}"),
            Output::Send {
                side,
                frame: OutFrame::Ping(_),
            } => println!("{ms:>6} ms    -> keepalive ping to {side:?}"),
            Output::Close { side, close } => {
                println!(
                    "{ms:>6} ms    -> close {side:?} with {} {:?}",
                    close.code, close.reason
                )
            }
            Output::Event(Event::Ended(s)) => {
                println!("{ms:>6} ms    == ended: {:?}", s.reason);
                println!(
                    "              caller->agent: {} relayed, {} passed, {} rejected; agent->caller: {} relayed, {} passed",
                    s.stats.from_teler.relayed_frames,
                    s.stats.from_teler.passed,
                    s.stats.from_teler.rejected,
                    s.stats.from_remote.relayed_frames,
                    s.stats.from_remote.passed
                );
            }
            Output::Event(e) => println!("{ms:>6} ms    ** {e:?}"),
            other => println!("{ms:>6} ms    {other:?}"),
        }
    }
}
