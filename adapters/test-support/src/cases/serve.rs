/// The server block's tests (the hostile-client findings), run by every adapter: invoke
/// `teler_test_support::serve_cases!(teler_ADAPTER);` at the root of `tests/serve.rs`, next to
/// `mod common;` whose `server::Serving` runs that adapter's `serve`.
#[macro_export]
macro_rules! serve_cases {
    ($krate:ident) => {
        use std::io::{Read as _, Write as _};
        use std::net::{SocketAddr, TcpStream};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{Duration, Instant};

        use common::*;
        use teler_core::media::{BridgeConfig, EndReason, TimeoutKind};
        use $krate::ServeConfig;

        const LIMIT: Duration = Duration::from_secs(60);

        /// The HTTP status a WebSocket upgrade to `target` gets (101 when accepted), and the
        /// answer's `Retry-After`.
        fn upgrade_status(
            addr: SocketAddr,
            target: &str,
        ) -> (
            u16,
            Option<String>,
            Option<tungstenite::WebSocket<TcpStream>>,
        ) {
            let tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
            match tungstenite::client(format!("ws://{addr}{target}").as_str(), tcp) {
                Ok((ws, resp)) => (resp.status().as_u16(), None, Some(ws)),
                Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => (
                    resp.status().as_u16(),
                    resp.headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap_or("").to_owned()),
                    None,
                ),
                Err(e) => panic!("upgrade to {target}: {e}"),
            }
        }

        /// A remote that counts the connections it gets and echoes.
        fn counting_remote() -> (FakeRemote, Arc<AtomicUsize>) {
            let count = Arc::new(AtomicUsize::new(0));
            let c = count.clone();
            let remote = FakeRemote::ws(move |mut conn| {
                c.fetch_add(1, Ordering::SeqCst);
                echo(&mut conn.ws)
            });
            (remote, count)
        }

        #[test]
        fn refusals_come_before_the_upgrade_and_tokens_are_single_use() {
            watchdog(LIMIT, || {
                let (remote, dialed) = counting_remote();
                let key = teler_core::webhook::UrlTokenKey::new("k".repeat(32)).unwrap();
                let serve = ServeConfig::new().auth($krate::MediaTokens::new(key.clone()).hook());
                let server = Serving::start(
                    BridgeConfig::builder(remote.url()).build().unwrap(),
                    serve,
                    eleven,
                );
                assert_eq!(upgrade_status(server.addr, "/elsewhere").0, 404);
                assert_eq!(upgrade_status(server.addr, "/media-stream").0, 401);
                // A long call id makes a long token: single use all the same.
                let token = key.mint(&"c".repeat(200), 4_000_000_000);
                let target = format!("/media-stream?teler_token={token}");
                let (status, _, ws) = upgrade_status(server.addr, &target);
                assert_eq!(status, 101);
                let mut ws = ws.unwrap();
                send_text(&mut ws, start_msg("cs_s1"));
                for _ in 0..3 {
                    assert_eq!(upgrade_status(server.addr, &target).0, 401, "a used token");
                }
                close(&mut ws, 1000, "bye");
                server.summary();
                assert_eq!(
                    dialed.load(Ordering::SeqCst),
                    1,
                    "refused sockets dial no agent"
                );
            })
        }

        #[test]
        fn past_the_call_cap_upgrades_get_503_with_retry_after() {
            watchdog(LIMIT, || {
                let (remote, _) = counting_remote();
                let server = Serving::start(
                    BridgeConfig::builder(remote.url()).build().unwrap(),
                    ServeConfig::new().max_calls(1),
                    eleven,
                );
                let (status, _, first) = upgrade_status(server.addr, "/media-stream");
                assert_eq!(status, 101);
                let mut first = first.unwrap();
                send_text(&mut first, start_msg("cs_cap1"));
                let (status, retry_after, _) = upgrade_status(server.addr, "/media-stream");
                assert_eq!(status, 503);
                assert_eq!(retry_after.as_deref(), Some("1"));
                close(&mut first, 1000, "bye");
                server.summary();
                // The slot is free again once the call ended.
                let (status, _, again) = upgrade_status(server.addr, "/media-stream");
                assert_eq!(status, 101);
                drop(again);
            })
        }

        #[test]
        fn half_sent_and_silent_handshakes_are_closed_at_the_timeout() {
            watchdog(LIMIT, || {
                let server = Serving::start(
                    BridgeConfig::builder("ws://127.0.0.1:9/agent")
                        .build()
                        .unwrap(),
                    ServeConfig::new().handshake_timeout(Duration::from_millis(300)),
                    eleven,
                );
                for head in [&b"GET /media-stream HTTP/1.1\r\nHost: x\r\n"[..], b""] {
                    let mut tcp = TcpStream::connect(server.addr).unwrap();
                    tcp.set_read_timeout(Some(PEER_READ_TIMEOUT)).unwrap();
                    tcp.write_all(head).unwrap();
                    let t = Instant::now();
                    let mut buf = [0u8; 64];
                    // EOF or a reset: either way the server gave up on it.
                    let n = tcp.read(&mut buf).unwrap_or(0);
                    assert_eq!(n, 0, "nothing is answered to a half-sent head");
                    let took = t.elapsed();
                    assert!(
                        took >= Duration::from_millis(250),
                        "closed too early: {took:?}"
                    );
                    assert!(took < Duration::from_secs(10), "not closed: {took:?}");
                }
            })
        }

        #[test]
        fn no_agent_is_dialed_for_a_socket_that_never_sends_start() {
            watchdog(LIMIT, || {
                let (remote, dialed) = counting_remote();
                let config = BridgeConfig::builder(remote.url())
                    .start_timeout(Some(Duration::from_millis(300)))
                    .build()
                    .unwrap();
                let server = Serving::start(config, ServeConfig::new(), eleven);
                let (status, _, ws) = upgrade_status(server.addr, "/media-stream");
                assert_eq!(status, 101);
                let got = read_until_close(&mut ws.unwrap());
                assert_eq!(got.close, Some((1008, "no start message".to_owned())));
                assert_eq!(
                    server.summary().reason,
                    EndReason::Timeout(TimeoutKind::Start)
                );
                assert_eq!(dialed.load(Ordering::SeqCst), 0, "no agent session for it");
            })
        }

        /// The server of `running_out_of_descriptors_…`, run in a child process with few
        /// descriptors (not a test of its own).
        #[test]
        #[ignore = "the child process of running_out_of_descriptors_costs_no_spin_and_recovers"]
        fn serve_child() {
            let server = Serving::start(
                BridgeConfig::builder("ws://127.0.0.1:9/agent")
                    .build()
                    .unwrap(),
                // Long enough that the parent, not the timeout, frees the descriptors.
                ServeConfig::new().handshake_timeout(Duration::from_secs(60)),
                eleven,
            );
            println!("SERVE_ADDR {}", server.addr);
            std::thread::sleep(Duration::from_secs(120));
        }

        #[test]
        fn running_out_of_descriptors_costs_no_spin_and_recovers() {
            watchdog(LIMIT, || {
                use std::io::BufRead as _;
                let exe = std::env::current_exe().unwrap();
                let mut child = std::process::Command::new("prlimit")
                    .arg("--nofile=48:48")
                    .arg(&exe)
                    .args([
                        "--ignored",
                        "--exact",
                        "serve_child",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("prlimit (util-linux) runs the child server");
                struct Kill(std::process::Child);
                impl Drop for Kill {
                    fn drop(&mut self) {
                        let _ = self.0.kill();
                        let _ = self.0.wait();
                    }
                }
                let stdout = child.stdout.take().unwrap();
                let child = Kill(child);
                let mut addr = None;
                for line in std::io::BufReader::new(stdout).lines() {
                    let line = line.unwrap();
                    // (The test harness may print "test serve_child ... " first.)
                    if let Some(i) = line.find("SERVE_ADDR ") {
                        addr = Some(line[i + 11..].trim().parse::<SocketAddr>().unwrap());
                        break;
                    }
                }
                let addr = addr.expect("the child printed its address");
                // Hold more half-sent handshakes than the child has descriptors.
                let mut held = Vec::new();
                for _ in 0..80 {
                    let mut tcp = TcpStream::connect(addr).unwrap();
                    tcp.write_all(b"GET /media-stream HTTP/1.1\r\n").unwrap();
                    held.push(tcp);
                }
                // Out of descriptors, the accept loop backs off instead of spinning: measure
                // the child's CPU time over a second.
                std::thread::sleep(Duration::from_millis(500));
                let cpu = |pid: u32| -> u64 {
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
                    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
                    let f: Vec<u64> = after_name
                        .split_whitespace()
                        .map(|x| x.parse().unwrap_or(0))
                        .collect();
                    f[11] + f[12] // utime + stime, in clock ticks (usually 1/100 s)
                };
                let pid = child.0.id();
                let before = cpu(pid);
                std::thread::sleep(Duration::from_secs(1));
                let used = cpu(pid) - before;
                assert!(
                    used < 40,
                    "the child used {used} ticks of CPU in 1 s: it spins"
                );
                // Descriptors free again: a real call is accepted soon after.
                drop(held);
                let t = Instant::now();
                loop {
                    let tcp = TcpStream::connect(addr).unwrap();
                    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let url = format!("ws://{addr}/media-stream");
                    if let Ok((ws, _)) = tungstenite::client(url.as_str(), tcp) {
                        drop(ws);
                        break;
                    }
                    assert!(t.elapsed() < Duration::from_secs(10), "no recovery");
                    std::thread::sleep(Duration::from_millis(50));
                }
                eprintln!(
                    "recovered {:?} after the descriptors were freed",
                    t.elapsed()
                );
                drop(child);
            })
        }
    };
}
