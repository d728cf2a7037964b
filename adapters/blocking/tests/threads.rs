//! The connector's shared call threads (`StreamConnector::threads`): many calls on one
//! thread keep their own state and order, a slow handler does not hold up the other calls on
//! its thread, a handler's panic comes back to the caller of `bridge_stream` (and the thread's
//! other calls go on), and `threads(0)` runs a call on its caller's thread.
//! Real sockets on 127.0.0.1, every test under a watchdog.

mod common;

use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use teler_blocking::StreamConnector;
use teler_blocking::media::{BridgeConfig, EndReason, EndSummary, HandlerResult, StreamHandler};

const LIMIT: Duration = Duration::from_secs(60);

type Ended = Result<EndSummary, Box<dyn Any + Send>>;

/// A server whose calls run on `threads` shared threads; each `bridge_stream` outcome
/// (summary or panic) arrives on the receiver, with the name of the thread that called it.
fn serve(
    connector: StreamConnector<impl Fn() -> Pair + Send + Sync + 'static>,
) -> (SocketAddr, mpsc::Receiver<(Ended, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connector = Arc::new(connector);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (n, tcp) in listener.incoming().enumerate() {
            let Ok(tcp) = tcp else { continue };
            let (connector, tx) = (connector.clone(), tx.clone());
            thread::Builder::new()
                .name(format!("caller-{n}"))
                .spawn(move || {
                    let ws =
                        tungstenite::accept_with_config(tcp, Some(connector.websocket_config()))
                            .unwrap();
                    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        connector.bridge_stream(ws)
                    }));
                    let name = thread::current().name().unwrap_or("").to_owned();
                    let _ = tx.send((ended, name));
                })
                .unwrap();
        }
    });
    (addr, rx)
}

/// The ElevenLabs handlers, the call side noting the name of each thread it runs on.
fn noting_threads() -> (
    impl Fn() -> Pair + Send + Sync + 'static,
    Arc<Mutex<Vec<String>>>,
) {
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let seen = ran_on.clone();
    let factory = move || {
        let seen = seen.clone();
        let mut inner = teler_core::elevenlabs::call_handler();
        let call: Box<dyn StreamHandler> = Box::new(move |m: &str| -> HandlerResult {
            let name = thread::current().name().unwrap_or("").to_owned();
            seen.lock().unwrap().push(name);
            inner.handle_text(m)
        });
        (call, eleven().1)
    };
    (factory, ran_on)
}

fn config(remote: &FakeRemote) -> BridgeConfig {
    BridgeConfig::builder(remote.url()).build().unwrap()
}

/// One call: `start`, `n` frames, read the `n` echoes, hang up; returns what came back.
fn call(addr: SocketAddr, id: usize, n: usize) -> Vec<String> {
    let mut teler = teler_connect(addr);
    send_text(&mut teler, start_msg(&format!("cs_{id}")));
    for i in 0..n {
        send_text(&mut teler, audio_msg(i, &payload(id, i)));
    }
    let got = read_texts(&mut teler, n);
    close(&mut teler, 1000, "bye");
    got.texts
}

fn want(id: usize, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| teler_audio(&payload(id, i), i + 1))
        .collect()
}

#[test]
fn fifty_calls_on_one_shared_thread_keep_their_own_state_and_order() {
    watchdog(LIMIT, || {
        let remote = FakeRemote::echo_agent();
        // Which threads ran the handlers: one shared thread for all of them.
        let (factory, ran_on) = noting_threads();
        let connector = StreamConnector::new(config(&remote), factory).threads(1);
        let (addr, ended) = serve(connector);
        const CALLS: usize = 50;
        const FRAMES: usize = 30;
        let calls: Vec<_> = (0..CALLS)
            .map(|id| thread::spawn(move || (id, call(addr, id, FRAMES))))
            .collect();
        for c in calls {
            let (id, got) = c.join().unwrap();
            assert_eq!(got, want(id, FRAMES), "call {id}");
        }
        for _ in 0..CALLS {
            let (summary, caller) = ended.recv().unwrap();
            let summary = summary.expect("no panic");
            assert_eq!(summary.stats.from_remote.relayed_frames, FRAMES as u64);
            assert!(matches!(summary.reason, EndReason::TelerHungUp(_)));
            assert!(caller.starts_with("caller-"), "{caller}");
        }
        let mut ran_on = ran_on.lock().unwrap().clone();
        ran_on.dedup();
        assert_eq!(
            ran_on,
            vec!["teler-calls-0"],
            "every handler ran on the one shared thread"
        );
    })
}

#[test]
fn a_slow_handler_does_not_hold_up_the_other_calls_on_its_thread() {
    watchdog(LIMIT, || {
        let remote = FakeRemote::echo_agent();
        let (a_started_tx, a_started) = mpsc::channel::<()>();
        let a_started_tx = Arc::new(Mutex::new(Some(a_started_tx)));
        // Call A's handler takes 60 ms per frame marked "slow"; B's frames are quick. Both
        // calls share the one thread.
        let connector = StreamConnector::new(config(&remote), move || {
            let started = a_started_tx.clone();
            let mut inner = teler_core::elevenlabs::call_handler();
            let call: Box<dyn StreamHandler> = Box::new(move |m: &str| -> HandlerResult {
                if m.contains("slow") {
                    if let Some(tx) = started.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    thread::sleep(Duration::from_millis(60));
                }
                inner.handle_text(m)
            });
            (call, eleven().1)
        })
        .threads(1);
        let (addr, _ended) = serve(connector);
        const A_FRAMES: usize = 40; // 2.4 s of handler sleep, all queued at once
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
        a_started.recv().unwrap();
        let b = call(addr, 19, 10);
        let b_done = Instant::now();
        assert_eq!(b, want(19, 10));
        let (a_texts, a_done) = a.join().unwrap();
        let a_want: Vec<String> = (0..A_FRAMES)
            .map(|i| teler_audio(&format!("slow{i:08}"), i + 1))
            .collect();
        assert_eq!(a_texts, a_want, "A's audio is late but whole and in order");
        // An order, not a clock window: had B waited for A's backlog, B would end after A.
        assert!(b_done < a_done, "call B waited for call A's backlog");
    })
}

#[test]
fn a_handler_panic_comes_back_to_the_caller_and_the_threads_other_calls_go_on() {
    watchdog(LIMIT, || {
        let remote = FakeRemote::echo_agent();
        let connector = StreamConnector::new(config(&remote), || {
            let mut inner = teler_core::elevenlabs::call_handler();
            let call: Box<dyn StreamHandler> = Box::new(move |m: &str| -> HandlerResult {
                if m.contains("boom") {
                    panic!("handler exploded");
                }
                inner.handle_text(m)
            });
            (call, eleven().1)
        })
        .threads(1);
        let (addr, ended) = serve(connector);
        // B is live on the shared thread when A's handler panics.
        let mut b = teler_connect(addr);
        send_text(&mut b, start_msg("cs_b"));
        send_text(&mut b, audio_msg(0, &payload(2, 0)));
        assert_eq!(read_texts(&mut b, 1).texts, want(2, 1));

        let mut a = teler_connect(addr);
        send_text(&mut a, start_msg("cs_a"));
        send_text(&mut a, audio_msg(0, "boom"));
        let (outcome, caller) = ended.recv().unwrap();
        let panic = outcome.expect_err("A's bridge_stream panicked");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"handler exploded"));
        assert!(
            caller.starts_with("caller-"),
            "resumed on the caller: {caller}"
        );
        // A's sockets are closed: its Teler sees the end.
        let _ = read_until_close(&mut a);

        // B goes on.
        for i in 1..20 {
            send_text(&mut b, audio_msg(i, &payload(2, i)));
        }
        assert_eq!(read_texts(&mut b, 19).texts, want(2, 20)[1..].to_vec());
        close(&mut b, 1000, "bye");
        let (outcome, _) = ended.recv().unwrap();
        let summary = outcome.expect("B ended normally");
        assert!(matches!(summary.reason, EndReason::TelerHungUp(_)));
        assert_eq!(summary.stats.from_remote.relayed_frames, 20);
    })
}

#[test]
fn threads_0_runs_each_call_on_its_callers_thread() {
    watchdog(LIMIT, || {
        let remote = FakeRemote::echo_agent();
        let (factory, ran_on) = noting_threads();
        let connector = StreamConnector::new(config(&remote), factory).threads(0);
        let calls = connector.calls().clone();
        let (addr, ended) = serve(connector);
        let mut teler = teler_connect(addr);
        send_text(&mut teler, start_msg("cs_own"));
        for i in 0..5 {
            send_text(&mut teler, audio_msg(i, &payload(3, i)));
        }
        assert_eq!(read_texts(&mut teler, 5).texts, want(3, 5));
        // A command wakes the call's own thread at once.
        let handle = calls.by_call_id("cs_own").expect("the call is live");
        handle.clear().unwrap();
        let got = read_texts(&mut teler, 1).texts;
        assert!(got[0].contains("clear"), "{got:?}");
        close(&mut teler, 1000, "bye");
        let (outcome, caller) = ended.recv().unwrap();
        assert!(outcome.is_ok());
        let ran_on = ran_on.lock().unwrap();
        assert!(
            ran_on.iter().all(|t| *t == caller),
            "handlers ran on the caller's thread {caller}: {ran_on:?}"
        );
    })
}
