//! Operating the example servers: the Prometheus recorder and its `GET /metrics` endpoints,
//! and the graceful drain on SIGTERM / SIGINT. `docs/OPERATING.md` tells the whole story.
//!
//! - [`install_metrics`] installs the `metrics` recorder the adapters' `metrics` feature
//!   records into (once per process), with a thread that keeps its histograms drained.
//! - [`metrics_route`] serves it on an axum app's port (`bridge_tokio`, `seed_app`);
//!   [`serve_metrics`] on its own small, bounded listener (`bridge_smol`,
//!   `bridge_blocking`, with `METRICS_ADDR`).
//! - [`serve_until_drained`] (tokio) and [`drain_on_signal`] (a thread, for smol and plain
//!   threads) wait for SIGTERM or SIGINT, drain the connector (new media streams get 503,
//!   live calls run until they end or `DRAIN_SECONDS` pass, then 1001 "going away"), log
//!   the [`DrainReport`] and exit with status 0. A second signal during the drain exits at
//!   once with status 1.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use teler_tokio::DrainReport;

/// How often the recorder's histogram samples are folded in when nobody scrapes (without it
/// they pile up between scrapes).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// The most of a request head [`serve_metrics`] reads.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long [`serve_metrics`] waits for a whole request head (and for a write).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Prometheus's text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the process's metrics recorder (Prometheus text, rendered on demand) and starts
/// its upkeep thread; later calls return the same handle. Call it before the first call is
/// bridged. The histograms get buckets that fit them (microseconds for the handler time,
/// seconds to an hour for a call).
///
/// # Errors
/// Another recorder was installed by someone else first.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut slot = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = &*slot {
        return Ok(h.clone());
    }
    let handle = builder()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    // `# HELP` lines for the teler_* series.
    teler_tokio::observe::describe();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| format!("metrics upkeep thread: {e}"))?;
    *slot = Some(handle.clone());
    Ok(handle)
}

/// The recorder's settings: histogram buckets per metric (Prometheus histograms, which add
/// up across instances, rather than per-process summaries).
fn builder() -> PrometheusBuilder {
    let buckets: [(&str, &[f64]); 3] = [
        (
            "teler_handler_seconds",
            &[
                0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
                0.01, 0.05,
            ],
        ),
        (
            "teler_remote_connect_seconds",
            &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0],
        ),
        (
            "teler_call_duration_seconds",
            &[5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0],
        ),
    ];
    buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |b, (name, values)| {
            b.set_buckets_for_metric(Matcher::Full(name.to_owned()), values)
                .expect("bucket lists are not empty")
        })
}

/// `GET /metrics` with the recorder's Prometheus text, to merge into an axum app.
pub fn metrics_route(handle: PrometheusHandle) -> axum::Router {
    use axum::http::header;
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = handle.render();
            async move { ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], text) }
        }),
    )
}

/// The answer to a media stream while the connector drains, for an app that checks
/// [`is_draining`](teler_tokio::StreamConnector::is_draining) itself rather than through an
/// `axum_ws::Gate`: 503 with `Retry-After: 1`, what the SDK's servers answer while
/// draining.
pub fn draining_response() -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        "draining: this server takes no new calls",
    )
        .into_response()
}

/// Serves `GET /metrics` (and `HEAD`) with the recorder's text on `addr`, on one thread,
/// one connection at a time: a request head may take at most [`REQUEST_TIMEOUT`] and
/// [`MAX_REQUEST_HEAD`] bytes (431 past that), other paths get 404, other methods 405, and
/// every answer closes the connection. Returns the bound address.
///
/// A scraper is one client: a connection that dawdles holds the others back for at most
/// [`REQUEST_TIMEOUT`]. Keep the port private (a firewall or a private interface).
///
/// # Errors
/// `addr` cannot be bound.
pub fn serve_metrics(addr: &str, handle: PrometheusHandle) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(tcp) => {
                        if let Err(e) = answer(tcp, &handle) {
                            tracing::debug!(error = %e, "metrics request");
                        }
                    }
                    // Out of descriptors, most likely: back off instead of spinning.
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
    Ok(local)
}

/// What a request head asks for, as far as [`serve_metrics`] cares.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Metrics { head_only: bool },
    WrongMethod,
    NotFound,
    Malformed,
}

fn parse_head(head: &[u8]) -> Asked {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(&[]);
    let Ok(line) = std::str::from_utf8(line) else {
        return Asked::Malformed;
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Asked::Malformed;
    };
    if !version.starts_with("HTTP/1.") {
        return Asked::Malformed;
    }
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => Asked::Metrics { head_only: false },
        ("HEAD", "/metrics") => Asked::Metrics { head_only: true },
        (_, "/metrics") => Asked::WrongMethod,
        _ => Asked::NotFound,
    }
}

/// Reads a request head within [`REQUEST_TIMEOUT`] in all and [`MAX_REQUEST_HEAD`] bytes.
/// `Ok(None)`: the head was too large.
fn read_head(tcp: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut buf = vec![0u8; MAX_REQUEST_HEAD];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        tcp.set_read_timeout(Some(left))?;
        let n = tcp.read(&mut buf[len..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // Only the new bytes (and the three before them) can complete the blank line.
        let from = len.saturating_sub(3);
        len += n;
        if buf[from..len].windows(4).any(|w| w == b"\r\n\r\n") {
            buf.truncate(len);
            return Ok(Some(buf));
        }
        if len == buf.len() {
            return Ok(None);
        }
    }
}

fn answer(mut tcp: TcpStream, handle: &PrometheusHandle) -> io::Result<()> {
    tcp.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let (status, content_type, body, head_only) = match read_head(&mut tcp)? {
        None => (
            "431 Request Header Fields Too Large",
            "text/plain",
            String::new(),
            false,
        ),
        Some(head) => match parse_head(&head) {
            Asked::Metrics { head_only } => (
                "200 OK",
                PROMETHEUS_CONTENT_TYPE,
                handle.render(),
                head_only,
            ),
            Asked::WrongMethod => ("405 Method Not Allowed", "text/plain", String::new(), false),
            Asked::NotFound => ("404 Not Found", "text/plain", "not found\n".into(), false),
            Asked::Malformed => ("400 Bad Request", "text/plain", String::new(), false),
        },
    };
    let allow = if status.starts_with("405") {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes())?;
    if !head_only {
        tcp.write_all(body.as_bytes())?;
    }
    tcp.flush()?;
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// Logs what a drain did.
pub fn log_drain_report(report: &DrainReport) {
    tracing::info!(
        live_at_start = report.live_at_start,
        sent_away = report.sent_away,
        still_live = report.still_live,
        "drained: exiting"
    );
}

/// SIGTERM and SIGINT for a tokio server, installed when made (from then on they no longer
/// kill the process).
#[derive(Debug)]
pub struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs the handlers (inside a tokio runtime).
    ///
    /// # Errors
    /// The OS refused a handler.
    pub fn install() -> io::Result<ShutdownSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next signal's name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Runs `server` until SIGTERM or SIGINT, then drains while it keeps serving (so new media
/// streams get 503 with `Retry-After` rather than a refused connection): `drain` gets the
/// deadline, now + `drain_for`. Returns the exit status: 0 once drained, 1 if the server
/// failed or a second signal came during the drain.
pub async fn serve_until_drained<S, D, Fut>(
    server: S,
    signals: ShutdownSignals,
    drain_for: Duration,
    drain: D,
) -> i32
where
    S: Future<Output = io::Result<()>>,
    D: FnOnce(Instant) -> Fut,
    Fut: Future<Output = DrainReport>,
{
    let mut signals = signals;
    let mut server = std::pin::pin!(server);
    let signal = tokio::select! {
        r = &mut server => return server_stopped(r),
        s = signals.recv() => s,
    };
    tracing::info!(
        signal,
        drain_seconds = drain_for.as_secs(),
        "draining: new media streams get 503; live calls run until they end or the deadline, then 1001"
    );
    let drained = std::pin::pin!(drain(Instant::now() + drain_for));
    tokio::select! {
        report = drained => {
            log_drain_report(&report);
            0
        }
        r = &mut server => server_stopped(r),
        s = signals.recv() => {
            tracing::warn!(signal = s, "second signal during the drain: exiting now");
            1
        }
    }
}

fn server_stopped(r: io::Result<()>) -> i32 {
    match r {
        Ok(()) => tracing::error!("the server stopped"),
        Err(e) => tracing::error!(error = %e, "the server stopped"),
    }
    1
}

/// For servers without tokio (smol, plain threads): a thread waits for SIGTERM or SIGINT,
/// then runs `drain` (given the deadline, now + `drain_for`) on a thread of its own, logs
/// the report and exits the process with status 0. A second signal during the drain exits
/// at once with status 1. Call it before serving.
///
/// # Errors
/// The OS refused a handler, or a thread could not be started.
pub fn drain_on_signal<D>(drain_for: Duration, drain: D) -> io::Result<()>
where
    D: FnOnce(Instant) -> DrainReport + Send + 'static,
{
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut drain = Some(drain);
            for sig in signals.forever() {
                let signal = if sig == SIGTERM { "SIGTERM" } else { "SIGINT" };
                let Some(drain) = drain.take() else {
                    tracing::warn!(signal, "second signal during the drain: exiting now");
                    std::process::exit(1);
                };
                tracing::info!(
                    signal,
                    drain_seconds = drain_for.as_secs(),
                    "draining: new media streams get 503; live calls run until they end or the deadline, then 1001"
                );
                let deadline = Instant::now() + drain_for;
                let spawned = std::thread::Builder::new()
                    .name("drain".into())
                    .spawn(move || {
                        log_drain_report(&drain(deadline));
                        std::process::exit(0);
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the drain: exiting now");
                    std::process::exit(1);
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        let m = |s: &str| parse_head(s.as_bytes());
        assert_eq!(
            m("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Asked::Metrics { head_only: false }
        );
        assert_eq!(
            m("GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Asked::Metrics { head_only: false }
        );
        assert_eq!(
            m("HEAD /metrics HTTP/1.1\r\n\r\n"),
            Asked::Metrics { head_only: true }
        );
        assert_eq!(m("POST /metrics HTTP/1.1\r\n\r\n"), Asked::WrongMethod);
        assert_eq!(m("GET / HTTP/1.1\r\n\r\n"), Asked::NotFound);
        assert_eq!(m("GET /metricsx HTTP/1.1\r\n\r\n"), Asked::NotFound);
        assert_eq!(m("GET /metrics\r\n\r\n"), Asked::Malformed);
        assert_eq!(m("GET /metrics SPDY/3\r\n\r\n"), Asked::Malformed);
        assert_eq!(m("\r\n\r\n"), Asked::Malformed);
    }

    /// One request on a fresh connection: the whole answer (the server closes).
    fn ask(addr: SocketAddr, request: &[u8]) -> String {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = tcp.write_all(request);
        let mut out = String::new();
        let _ = tcp.read_to_string(&mut out);
        out
    }

    #[test]
    fn the_metrics_endpoint_answers_and_stays_bounded() {
        // A recorder of our own (not installed globally), with one counter in it.
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("teler_calls_total", "end" => "teler_hung_up").increment(3);
        });
        let addr = serve_metrics("127.0.0.1:0", handle).unwrap();

        let ok = ask(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains(PROMETHEUS_CONTENT_TYPE), "{ok}");
        assert!(
            ok.contains("teler_calls_total{end=\"teler_hung_up\"} 3"),
            "{ok}"
        );
        let head = ask(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body for HEAD: {head}");
        let other = ask(addr, b"GET /calls HTTP/1.1\r\n\r\n");
        assert!(other.starts_with("HTTP/1.1 404 "), "{other}");
        let post = ask(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

        // A head that fills 8 KiB without ending: 431 (exactly 8 KiB, so nothing is left
        // unread to turn the close into a reset).
        let mut big = b"GET /metrics HTTP/1.1\r\nX-Pad: ".to_vec();
        big.resize(MAX_REQUEST_HEAD, b'a');
        let refused = ask(addr, &big);
        assert!(refused.starts_with("HTTP/1.1 431 "), "{refused}");

        // A client that sends half a head and stalls is dropped after REQUEST_TIMEOUT; the
        // next one is served then.
        let mut stalled = TcpStream::connect(addr).unwrap();
        stalled.write_all(b"GET /metr").unwrap();
        let t = Instant::now();
        let next = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(next.starts_with("HTTP/1.1 200 OK\r\n"), "{next}");
        let waited = t.elapsed();
        assert!(
            waited < REQUEST_TIMEOUT + Duration::from_secs(3),
            "waited {waited:?}"
        );
        let mut rest = Vec::new();
        stalled
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(
            stalled.read_to_end(&mut rest).unwrap_or(0),
            0,
            "closed silently"
        );
    }
}
