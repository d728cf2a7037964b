/// The async fleet client (`AsyncRedisFleet`) against a real `redis-server`, run by each
/// async adapter: invoke `teler_test_support::async_fleet_cases!(teler_ADAPTER, block_on);`
/// at the root of `tests/fleet.rs`, next to `mod common;` (whose `server::Serving` runs that
/// adapter's `serve`), where `block_on` runs a future to completion inside the adapter's
/// runtime (so the fleet's tasks can be spawned there).
#[macro_export]
macro_rules! async_fleet_cases {
    ($krate:ident, $block_on:path) => {
        use std::net::TcpStream;
        use std::sync::Arc;
        use std::sync::atomic::Ordering::Relaxed;
        use std::time::{Duration, Instant};

        use common::*;
        use teler_core::fleet::{InstanceId, Keys, OnceKind, Outcome, Verdict};
        use teler_core::media::{BridgeConfig, Command, EndReason, STOP_REASON};
        use teler_test_support::redis::Redis;
        use $krate::ServeConfig;
        use $krate::fleet::{AsyncFleetGuard, AsyncRedisFleet};

        const LIMIT: Duration = Duration::from_secs(90);

        fn fleet(redis: &Redis, name: &str, prefix: &str) -> Arc<AsyncRedisFleet> {
            Arc::new(
                AsyncRedisFleet::new(&redis.url(), InstanceId::new(name).unwrap())
                    .unwrap()
                    .keys(Keys::new(prefix).unwrap())
                    .heartbeat_ttl(Duration::from_millis(900)),
            )
        }

        /// A bridge server that is a fleet member (its tasks spawned on the runtime).
        fn member(remote: &FakeRemote, fleet: &Arc<AsyncRedisFleet>) -> (Serving, AsyncFleetGuard) {
            let config = BridgeConfig::builder(remote.url()).build().unwrap();
            let s = Serving::start(config, ServeConfig::new(), eleven);
            let guard = $block_on(async { fleet.serve(&s.calls) });
            (s, guard)
        }

        fn located(f: &AsyncRedisFleet, call_id: &str) -> Option<InstanceId> {
            $block_on(f.locate(call_id)).ok().flatten()
        }

        /// Waits (on state, under the test's watchdog) until `done` holds.
        fn until(mut done: impl FnMut() -> bool) {
            while !done() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        fn live_call(s: &Serving, call_id: &str) -> tungstenite::WebSocket<TcpStream> {
            let mut teler = teler_connect(s.addr);
            send_text(&mut teler, start_msg(call_id));
            send_text(&mut teler, audio_msg(0, &payload(4, 0)));
            assert_eq!(read_texts(&mut teler, 1).texts.len(), 1);
            teler
        }

        #[test]
        fn async_and_blocking_members_remember_once_fleet_wide() {
            watchdog(LIMIT, || {
                let redis = Redis::start();
                let a = fleet(&redis, "a", "once");
                let b = fleet(&redis, "b", "once");
                // A blocking member of the same fleet shares the same keys.
                let c = $krate::fleet::RedisFleet::new(&redis.url(), InstanceId::new("c").unwrap())
                    .unwrap()
                    .keys(Keys::new("once").unwrap());
                let ttl = Duration::from_secs(60);
                $block_on(async {
                    assert_eq!(a.remember_once(OnceKind::MediaToken, b"t1", ttl).await, Verdict::Accept);
                    assert_eq!(b.remember_once(OnceKind::MediaToken, b"t1", ttl).await, Verdict::Duplicate);
                    assert_eq!(b.remember_once(OnceKind::WebhookEvent, b"t1", ttl).await, Verdict::Accept);
                });
                assert_eq!(c.remember_once(OnceKind::WebhookEvent, b"t1", ttl), Verdict::Duplicate);
                assert_eq!(c.remember_once(OnceKind::WebhookEvent, b"e2", ttl), Verdict::Accept);
                $block_on(async {
                    assert_eq!(a.remember_once(OnceKind::WebhookEvent, b"e2", ttl).await, Verdict::Duplicate);
                    // Remembered for the TTL only (Redis expires it: waited for, not slept).
                    let short = Duration::from_millis(30);
                    assert_eq!(a.remember_once(OnceKind::WebhookEvent, b"e3", short).await, Verdict::Accept);
                });
                until(|| $block_on(b.first_time(OnceKind::WebhookEvent, b"e3", Duration::from_millis(30))) == Ok(true));
                assert_eq!(a.counters().store_errors.load(Relaxed), 0);
            });
        }

        #[test]
        fn an_async_command_reaches_the_call_on_another_instance() {
            watchdog(LIMIT, || {
                let redis = Redis::start();
                let remote = FakeRemote::echo_agent();
                let (fa, fc) = (fleet(&redis, "a", "bus"), fleet(&redis, "c", "bus"));
                let (sa, _ga) = member(&remote, &fa);
                let (sc, gc) = member(&remote, &fc);
                let mut teler = live_call(&sc, "cs_fleet");
                until(|| located(&fa, "cs_fleet").is_some());
                assert_eq!(located(&fa, "cs_fleet"), Some(InstanceId::new("c").unwrap()));
                let send = |id: &str, c: Command| {
                    $block_on(fa.send_command(&sa.calls, id, c, Duration::from_secs(5)))
                };
                assert_eq!(send("cs_nowhere", Command::GoAway), Ok(Outcome::NotFound));
                // A directory entry naming an instance nobody runs (one that died, its entry
                // not yet expired): unreachable, not "not found".
                let ghost = teler_core::fleet::CallEntry {
                    call_id: "cs_ghost".into(),
                    instance: InstanceId::new("ghost").unwrap(),
                };
                let key = Keys::new("bus").unwrap().call("cs_ghost");
                assert_eq!(redis.command(&["SET", &key, &ghost.to_json()]), "+OK");
                assert_eq!(send("cs_ghost", Command::GoAway), Ok(Outcome::Unreachable));
                let clear = Command::SendToTeler(r#"{"type":"clear"}"#.into());
                assert_eq!(send("cs_fleet", clear), Ok(Outcome::Delivered));
                assert_eq!(read_texts(&mut teler, 1).texts, [r#"{"type":"clear"}"#]);
                let t = Instant::now();
                assert_eq!(send("cs_fleet", Command::stop("hung up from a")), Ok(Outcome::Delivered));
                let got = read_until_close(&mut teler);
                let took = t.elapsed();
                assert_eq!(got.close, Some((1000, STOP_REASON.to_owned())));
                println!("fleet ({}): a hangup sent on a ended the call on c in {took:?}", stringify!($krate));
                assert!(matches!(sc.summary().reason, EndReason::StoppedByApp { .. }));
                until(|| located(&fa, "cs_fleet").is_none());
                // Stopping c's tasks removes its live calls' entries at once (no TTL wait).
                let mut teler = live_call(&sc, "cs_second");
                until(|| located(&fa, "cs_second").is_some());
                $block_on(gc.stop());
                assert_eq!(located(&fa, "cs_second"), None);
                close(&mut teler, 1000, "bye");
            });
        }

        #[test]
        fn an_abandoned_instances_calls_expire_and_the_others_go_on() {
            watchdog(LIMIT, || {
                let redis = Redis::start();
                let remote = FakeRemote::echo_agent();
                let (fa, fb) = (fleet(&redis, "a", "dead"), fleet(&redis, "b", "dead"));
                let (sa, _ga) = member(&remote, &fa);
                let (sb, gb) = member(&remote, &fb);
                let mut on_a = live_call(&sa, "cs_on_a");
                let _on_b = live_call(&sb, "cs_on_b");
                until(|| located(&fa, "cs_on_a").is_some() && located(&fa, "cs_on_b").is_some());
                let t = Instant::now();
                gb.abandon();
                until(|| located(&fa, "cs_on_b").is_none());
                println!(
                    "fleet ({}): an abandoned instance's call left the directory after {:?} (TTL 900 ms)",
                    stringify!($krate),
                    t.elapsed()
                );
                assert!(located(&fa, "cs_on_a").is_some());
                send_text(&mut on_a, audio_msg(1, &payload(6, 0)));
                // The second frame the agent echoes on this call: chunk 2.
                assert_eq!(read_texts(&mut on_a, 1).texts, [teler_audio(&payload(6, 0), 2)]);
            });
        }

        #[test]
        fn with_redis_down_the_async_policies_hold_and_it_recovers() {
            let (_logs, snap) = teler_test_support::observe::install();
            watchdog(LIMIT, move || {
                let redis = Redis::start();
                let remote = FakeRemote::echo_agent();
                let (fa, fc) = (fleet(&redis, "a", "down"), fleet(&redis, "c", "down"));
                let (sa, _ga) = member(&remote, &fa);
                let (sc, _gc) = member(&remote, &fc);
                let mut teler = live_call(&sc, "cs_down");
                until(|| located(&fa, "cs_down").is_some());

                let port = redis.kill();
                let ttl = Duration::from_secs(60);
                $block_on(async {
                    assert_eq!(fa.remember_once(OnceKind::MediaToken, b"t", ttl).await, Verdict::Refuse);
                    assert_eq!(fa.remember_once(OnceKind::WebhookEvent, b"e", ttl).await, Verdict::AcceptUnchecked);
                    assert!(fa
                        .send_command(&sa.calls, "cs_down", Command::GoAway, Duration::from_secs(1))
                        .await
                        .is_err());
                });
                let c = fa.counters();
                assert_eq!((c.tokens_refused_unchecked.load(Relaxed), c.webhooks_unchecked.load(Relaxed)), (1, 1));
                assert!(c.store_errors.load(Relaxed) >= 3);
                // The same counts as metrics (the recorder is process-wide and other tests
                // in this binary count too: at least ours).
                let m = teler_test_support::observe::Metrics::take(snap);
                for name in [
                    "teler_fleet_tokens_refused_unchecked_total",
                    "teler_fleet_webhooks_unchecked_total",
                    "teler_fleet_store_errors_total",
                ] {
                    assert!(m.get(name, &[]).unwrap_or(0.0) >= 1.0, "{name}");
                }
                // The call flows: nothing on its path waits on Redis.
                for i in 0..20 {
                    send_text(&mut teler, audio_msg(i + 1, &payload(8, i)));
                }
                assert_eq!(read_texts(&mut teler, 20).texts.len(), 20);

                // Redis returns (empty): the heartbeat re-registers the call, the bus
                // listener resubscribes, and a command from a reaches it again.
                let _redis = Redis::start_on(port);
                until(|| located(&fa, "cs_down").is_some());
                until(|| {
                    let clear = Command::SendToTeler(r#"{"type":"clear"}"#.into());
                    $block_on(fa.send_command(&sa.calls, "cs_down", clear, Duration::from_secs(5)))
                        == Ok(Outcome::Delivered)
                });
                let got = read_texts(&mut teler, 1).texts;
                assert_eq!(got.last().map(String::as_str), Some(r#"{"type":"clear"}"#));
                assert_eq!($block_on(fa.remember_once(OnceKind::MediaToken, b"t", ttl)), Verdict::Accept);
                close(&mut teler, 1000, "bye");
            });
        }

        #[test]
        fn an_awaited_media_token_check_is_single_use_fleet_wide_and_fails_closed() {
            use teler_core::webhook::{UrlTokenKey, append_token};
            watchdog(LIMIT, || {
                let redis = Redis::start();
                let key = UrlTokenKey::new("k".repeat(32)).unwrap();
                let tokens = $krate::MediaTokens::new(key.clone()).refuse_subject("flow");
                let (fa, fb) = (fleet(&redis, "a", "tok"), fleet(&redis, "b", "tok"));
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let target = append_token("/media-stream", &key.mint("cs_tok", now + 600));
                let status = |f: &AsyncRedisFleet, target: &str| {
                    $block_on(f.check_media_token(&tokens, target, now)).map_or_else(|r| r.status, |_| 200)
                };
                // Bad tokens are refused without touching Redis.
                assert_eq!(status(&fa, "/media-stream?token=nope"), 401);
                let flow = append_token("/media-stream", &key.mint("flow", now + 600));
                assert_eq!(status(&fa, &flow), 401);
                assert_eq!(fa.counters().store_errors.load(Relaxed), 0);
                assert_eq!(status(&fa, &target), 200, "first use, on a");
                assert_eq!(status(&fb, &target), 401, "reused, on b");
                assert_eq!(status(&fa, &target), 401, "reused, on a");
                let fresh = append_token("/media-stream", &key.mint("cs_tok2", now + 600));
                drop(redis);
                assert_eq!(status(&fb, &fresh), 503, "fail closed");
                assert_eq!(fb.counters().tokens_refused_unchecked.load(Relaxed), 1);
            });
        }
    };
}
