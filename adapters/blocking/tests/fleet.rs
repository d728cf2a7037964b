//! A fleet of bridge servers sharing a real `redis-server` (started here on a free
//! 127.0.0.1 port, persistence off): remember-once across instances, a command reaching the
//! instance that bridges the call, the directory forgetting a dead instance, and the failure
//! policies while Redis is down and after it returns.

mod common;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use teler_blocking::ServeConfig;
use teler_blocking::fleet::RedisFleet;
use teler_blocking::media::{BridgeConfig, Command, STOP_REASON};
use teler_core::fleet::{InstanceId, Keys, OnceKind, Outcome, Verdict};
use teler_test_support::redis::Redis;

const LIMIT: Duration = Duration::from_secs(90);

fn fleet(redis: &Redis, name: &str, prefix: &str) -> Arc<RedisFleet> {
    Arc::new(
        RedisFleet::new(&redis.url(), InstanceId::new(name).unwrap())
            .unwrap()
            .keys(Keys::new(prefix).unwrap())
            .heartbeat_ttl(Duration::from_millis(900)),
    )
}

/// A bridge server that is a fleet member.
fn member(
    remote: &FakeRemote,
    fleet: &Arc<RedisFleet>,
) -> (Serving, teler_blocking::fleet::FleetGuard) {
    let config = BridgeConfig::builder(remote.url()).build().unwrap();
    let s = Serving::start(config, ServeConfig::new(), eleven);
    let guard = fleet.serve(&s.calls);
    (s, guard)
}

fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn tokens_and_events_are_remembered_once_fleet_wide() {
    watchdog(LIMIT, || {
        let redis = Redis::start();
        let a = fleet(&redis, "a", "once");
        let b = fleet(&redis, "b", "once");
        let ttl = Duration::from_secs(60);
        assert_eq!(
            a.remember_once(OnceKind::MediaToken, b"tok-1", ttl),
            Verdict::Accept
        );
        assert_eq!(
            b.remember_once(OnceKind::MediaToken, b"tok-1", ttl),
            Verdict::Duplicate
        );
        // Kinds do not collide: an event id equal to a token is its own key.
        assert_eq!(
            b.remember_once(OnceKind::WebhookEvent, b"tok-1", ttl),
            Verdict::Accept
        );
        assert_eq!(
            a.remember_once(OnceKind::WebhookEvent, b"tok-1", ttl),
            Verdict::Duplicate
        );
        // Remembered for the TTL only.
        let short = Duration::from_millis(50);
        assert_eq!(
            a.remember_once(OnceKind::WebhookEvent, b"evt-2", short),
            Verdict::Accept
        );
        std::thread::sleep(short * 3);
        assert_eq!(
            b.remember_once(OnceKind::WebhookEvent, b"evt-2", short),
            Verdict::Accept
        );
        let c = a.counters();
        assert_eq!(c.store_errors.load(std::sync::atomic::Ordering::Relaxed), 0);
    });
}

#[test]
fn a_command_sent_on_one_instance_reaches_the_call_on_another() {
    watchdog(LIMIT, || {
        let redis = Redis::start();
        let remote = FakeRemote::echo_agent();
        let (fa, fc) = (fleet(&redis, "a", "bus"), fleet(&redis, "c", "bus"));
        let (sa, _ga) = member(&remote, &fa);
        let (sc, _gc) = member(&remote, &fc);
        // The call is bridged on instance c.
        let mut teler = teler_connect(sc.addr);
        send_text(&mut teler, start_msg("cs_fleet"));
        send_text(&mut teler, audio_msg(0, &payload(4, 0)));
        assert_eq!(read_texts(&mut teler, 1).texts.len(), 1);
        until(|| fa.locate("cs_fleet").ok().flatten().is_some());
        assert_eq!(
            fa.locate("cs_fleet").unwrap(),
            Some(InstanceId::new("c").unwrap())
        );
        assert_eq!(
            fa.send_command(
                &sa.calls,
                "cs_nowhere",
                Command::GoAway,
                Duration::from_secs(5)
            ),
            Ok(Outcome::NotFound)
        );
        // A clear from a, in order with the audio relayed on c.
        let clear = Command::SendToTeler(r#"{"type":"clear"}"#.into());
        assert_eq!(
            fa.send_command(&sa.calls, "cs_fleet", clear, Duration::from_secs(5)),
            Ok(Outcome::Delivered)
        );
        assert_eq!(read_texts(&mut teler, 1).texts, [r#"{"type":"clear"}"#]);
        // A hangup from a ends the call on c: measured from the send to Teler's close.
        let t = Instant::now();
        let stop = Command::stop("hung up from instance a");
        assert_eq!(
            fa.send_command(&sa.calls, "cs_fleet", stop, Duration::from_secs(5)),
            Ok(Outcome::Delivered)
        );
        let got = read_until_close(&mut teler);
        let took = t.elapsed();
        assert_eq!(got.close, Some((1000, STOP_REASON.to_owned())));
        println!("fleet: a hangup sent on instance a ended the call on c in {took:?}");
        assert!(matches!(
            sc.summary().reason,
            teler_blocking::media::EndReason::StoppedByApp { .. }
        ));
        // The ended call leaves the directory.
        until(|| fa.locate("cs_fleet").ok().flatten().is_none());
    });
}

#[test]
fn a_dead_instances_calls_leave_the_directory_and_the_others_go_on() {
    watchdog(LIMIT, || {
        let redis = Redis::start();
        let remote = FakeRemote::echo_agent();
        let (fa, fb) = (fleet(&redis, "a", "dead"), fleet(&redis, "b", "dead"));
        let (sa, _ga) = member(&remote, &fa);
        let (sb, gb) = member(&remote, &fb);
        let mut on_a = teler_connect(sa.addr);
        send_text(&mut on_a, start_msg("cs_on_a"));
        let mut on_b = teler_connect(sb.addr);
        send_text(&mut on_b, start_msg("cs_on_b"));
        until(|| {
            fa.locate("cs_on_a").ok().flatten().is_some()
                && fa.locate("cs_on_b").ok().flatten().is_some()
        });
        // b dies: its heartbeats stop, nothing is cleaned up.
        let t = Instant::now();
        gb.abandon();
        until(|| fa.locate("cs_on_b").ok().flatten().is_none());
        println!(
            "fleet: a dead instance's call left the directory after {:?} (TTL 900 ms)",
            t.elapsed()
        );
        // a's call is untouched: still in the directory, still relaying.
        assert!(fa.locate("cs_on_a").unwrap().is_some());
        send_text(&mut on_a, audio_msg(0, &payload(6, 0)));
        assert_eq!(
            read_texts(&mut on_a, 1).texts,
            [teler_audio(&payload(6, 0), 1)]
        );
    });
}

#[test]
fn while_redis_is_down_tokens_fail_closed_events_fail_open_and_calls_flow() {
    watchdog(LIMIT, || {
        let redis = Redis::start();
        let remote = FakeRemote::echo_agent();
        let fa = fleet(&redis, "a", "down");
        let (sa, _ga) = member(&remote, &fa);
        let mut teler = teler_connect(sa.addr);
        send_text(&mut teler, start_msg("cs_down"));
        until(|| fa.locate("cs_down").ok().flatten().is_some());

        let port = redis.kill();
        let ttl = Duration::from_secs(60);
        assert_eq!(
            fa.remember_once(OnceKind::MediaToken, b"t", ttl),
            Verdict::Refuse
        );
        assert_eq!(
            fa.remember_once(OnceKind::WebhookEvent, b"e", ttl),
            Verdict::AcceptUnchecked
        );
        let c = fa.counters();
        let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            (n(&c.tokens_refused_unchecked), n(&c.webhooks_unchecked)),
            (1, 1)
        );
        assert!(n(&c.store_errors) >= 2);
        // The call flows: nothing on its path waits on Redis.
        for i in 0..20 {
            send_text(&mut teler, audio_msg(i, &payload(8, i)));
        }
        assert_eq!(read_texts(&mut teler, 20).texts.len(), 20);

        // Redis returns (empty: persistence is off): the instance reconnects on its own and
        // its heartbeat puts the live call back in the directory.
        let _redis = Redis::start_on(port);
        until(|| fa.locate("cs_down").ok().flatten().is_some());
        assert_eq!(
            fa.remember_once(OnceKind::MediaToken, b"t", ttl),
            Verdict::Accept
        );
        close(&mut teler, 1000, "bye");
    });
}

#[test]
fn a_media_token_used_on_one_instance_is_refused_on_another() {
    use teler_blocking::MediaTokens;
    use teler_core::webhook::{UrlTokenKey, append_token};
    watchdog(LIMIT, || {
        let redis = Redis::start();
        let remote = FakeRemote::echo_agent();
        let key = UrlTokenKey::new("k".repeat(32)).unwrap();
        let (fa, fb) = (fleet(&redis, "a", "tok"), fleet(&redis, "b", "tok"));
        let config = BridgeConfig::builder(remote.url()).build().unwrap();
        let serve = |f: &Arc<RedisFleet>| {
            ServeConfig::new().auth(MediaTokens::new(key.clone()).fleet(f.clone()).hook())
        };
        let sa = Serving::start(config.clone(), serve(&fa), eleven);
        let sb = Serving::start(config, serve(&fb), eleven);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let target = append_token("/media-stream", &key.mint("cs_tok", now + 600));
        let status = |addr: std::net::SocketAddr, target: &str| {
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
            match tungstenite::client(format!("ws://{addr}{target}").as_str(), tcp) {
                Ok((_ws, resp)) => resp.status().as_u16(),
                Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
                    r.status().as_u16()
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(status(sa.addr, &target), 101, "first use, on a");
        assert_eq!(status(sb.addr, &target), 401, "reused, on b");
        assert_eq!(status(sa.addr, &target), 401, "reused, on a");
        // Redis down: a fresh token is refused (fail closed) with 503.
        let fresh = append_token("/media-stream", &key.mint("cs_tok2", now + 600));
        drop(redis);
        assert_eq!(status(sb.addr, &fresh), 503);
        assert_eq!(
            fb.counters()
                .tokens_refused_unchecked
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    });
}
