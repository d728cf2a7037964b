//! Load benchmark of the bridge servers: N concurrent calls at real-time pace (one 20 ms
//! audio frame per call every 20 ms, 428 base64 chars, as Teler sends 8 kHz PCM16) through
//! a bridge server process, with a local echo agent as the remote.
//!
//! Reports, per runtime: CPU of the bridge process per relayed frame (user + system time
//! from `/proc/<pid>/stat`, the counters `getrusage` reads), round-trip latency
//! (Teler -> bridge -> agent -> bridge -> Teler) p50/p99, and resident memory per call.
//!
//! ```text
//! cargo build --release -p teler-examples --examples
//! BENCH_CALLS=100 BENCH_SECONDS=10 BENCH_RUNTIME=all target/release/examples/load_bench
//! ```
//! `BENCH_RUNTIME` is `tokio`, `smol`, `blocking` or `all`. The bridge binaries are looked
//! for next to this one. The fake Teler clients and the echo agent run in this process, so
//! on a small machine they compete with the bridge for CPU: latency numbers are an upper
//! bound.
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use tungstenite::Message;

const FRAME_EVERY: Duration = Duration::from_millis(20);
/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const CLK_TCK: u64 = 100;

fn var<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let calls: usize = var("BENCH_CALLS", 50);
    let secs: u64 = var("BENCH_SECONDS", 10);
    let which: String = var("BENCH_RUNTIME", "all".to_owned());
    let runtimes: Vec<&str> = match which.as_str() {
        "all" => vec!["tokio", "smol", "blocking"],
        one => vec![one],
    };
    let agent = TcpListener::bind("127.0.0.1:0").expect("bind the echo agent");
    let agent_addr = agent.local_addr().unwrap();
    thread::spawn(move || teler_examples::serve_echo_agent(agent));
    println!("{calls} calls x {secs} s, one frame per call every 20 ms each way");
    for rt in runtimes {
        if let Err(e) = run(rt, calls, Duration::from_secs(secs), agent_addr) {
            println!("{rt}: {e}");
        }
    }
}

#[derive(Default)]
struct CallResult {
    sent: u64,
    received: u64,
    rtts_us: Vec<u64>,
    failed: bool,
}

fn run(rt: &str, calls: usize, length: Duration, agent: SocketAddr) -> Result<(), String> {
    let exe = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name(format!("bridge_{rt}"));
    if !exe.exists() {
        return Err(format!(
            "{} not found: cargo build --release -p teler-examples --examples",
            exe.display()
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?;
    let mut child = Command::new(&exe)
        .env("BIND_ADDR", port.to_string())
        .env("REMOTE_WS_URL", format!("ws://{agent}/agent"))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let pid = child.id();
    let result = (|| {
        let up = Instant::now();
        while TcpStream::connect(port).is_err() {
            if up.elapsed() > Duration::from_secs(10) {
                return Err("the bridge did not start listening".to_owned());
            }
            thread::sleep(Duration::from_millis(20));
        }
        let rss_idle = rss_kib(pid).unwrap_or(0);
        let barrier = Arc::new(Barrier::new(calls + 1));
        let threads: Vec<_> = (0..calls)
            .map(|id| {
                let barrier = barrier.clone();
                thread::spawn(move || call(port, id, length, &barrier))
            })
            .collect();
        barrier.wait();
        let cpu0 = cpu_ticks(pid).unwrap_or(0);
        let t0 = Instant::now();
        thread::sleep(length / 2);
        let rss_busy = rss_kib(pid).unwrap_or(0);
        let results: Vec<CallResult> = threads
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect();
        let cpu1 = cpu_ticks(pid).unwrap_or(0);
        let wall = t0.elapsed();
        let sent: u64 = results.iter().map(|r| r.sent).sum();
        let received: u64 = results.iter().map(|r| r.received).sum();
        let failed = results.iter().filter(|r| r.failed).count();
        let mut rtts: Vec<u64> = results.into_iter().flat_map(|r| r.rtts_us).collect();
        rtts.sort_unstable();
        let pct = |p: f64| {
            rtts.get(((rtts.len() as f64 * p) as usize).min(rtts.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        let cpu_us = (cpu1 - cpu0) * 1_000_000 / CLK_TCK;
        let relayed = sent + received;
        println!(
            "{rt:>8}: {calls} calls, {relayed} frames relayed ({sent} in, {received} back, {failed} calls failed) in {:.1} s; \
             bridge CPU {:.1}% of one core = {:.1} us/frame; RTT p50 {:.2} ms p99 {:.2} ms; \
             RSS idle {} KiB, busy {} KiB = {:.1} KiB/call",
            wall.as_secs_f64(),
            cpu_us as f64 / wall.as_micros() as f64 * 100.0,
            cpu_us as f64 / relayed.max(1) as f64,
            pct(0.50) as f64 / 1000.0,
            pct(0.99) as f64 / 1000.0,
            rss_idle,
            rss_busy,
            rss_busy.saturating_sub(rss_idle) as f64 / calls as f64,
        );
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// One fake Teler call: `start`, then a frame every 20 ms for `length`, timing each echo.
fn call(addr: SocketAddr, id: usize, length: Duration, barrier: &Barrier) -> CallResult {
    let mut r = CallResult::default();
    let ws = TcpStream::connect(addr).ok().and_then(|tcp| {
        let _ = tcp.set_nodelay(true);
        tungstenite::client(format!("ws://{addr}/media-stream"), tcp).ok()
    });
    let start = format!(
        r#"{{"type":"start","call_id":"cs_{id}","stream_id":"st_{id}","message_id":1,"data":{{"encoding":"audio/l16","sample_rate":8000,"channels":1}}}}"#
    );
    let mut ws = match ws.map(|(mut ws, _)| (ws.send(Message::text(start)).is_ok(), ws)) {
        Some((true, ws)) => ws,
        _ => {
            barrier.wait();
            r.failed = true;
            return r;
        }
    };
    barrier.wait();
    let t0 = Instant::now();
    let end = t0 + length;
    // Spread the calls over the 20 ms period, as real calls would be.
    let mut next = t0 + Duration::from_micros((id as u64 * 997) % 20_000);
    let mut sent_at: Vec<Instant> = Vec::new();
    let filler = "A".repeat(428 - 12);
    loop {
        let now = Instant::now();
        if now >= end + Duration::from_millis(500) || (now >= end && r.received >= r.sent) {
            break;
        }
        if now >= next && now < end {
            let i = sent_at.len();
            let frame = format!(
                r#"{{"type":"audio","stream_id":"st_{id}","message_id":{},"data":{{"audio_b64":"{id:04}{i:08}{filler}"}}}}"#,
                i + 2
            );
            if ws.send(Message::text(frame)).is_err() {
                r.failed = true;
                break;
            }
            sent_at.push(now);
            r.sent += 1;
            next += FRAME_EVERY;
            continue;
        }
        let wait = next
            .min(end + Duration::from_millis(500))
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        let _ = ws.get_ref().set_read_timeout(Some(wait));
        match ws.read() {
            Ok(Message::Text(t)) => {
                let now = Instant::now();
                let key = r#""audio_b64":""#;
                let i = t
                    .as_str()
                    .find(key)
                    .and_then(|at| t.as_str().get(at + key.len() + 4..at + key.len() + 12))
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(sent) = i.and_then(|i| sent_at.get(i)) {
                    r.rtts_us.push((now - *sent).as_micros() as u64);
                    r.received += 1;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                r.failed = true;
                break;
            }
        }
    }
    let _ = ws.close(None);
    let _ = ws.flush();
    r
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
