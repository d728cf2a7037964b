//! The REST contract (`docs/REST.md`), checked the same way on every client: one list of
//! scenarios against a scripted fault server on 127.0.0.1, generic over [`ContractClient`]
//! (each adapter's `tests/contract.rs` implements it for its client and invokes
//! [`rest_contract_cases!`](crate::rest_contract_cases)). A new client or a changed default
//! cannot drift from the others without a test failing.
//!
//! Each scenario asserts what the server saw (attempts, their headers), the error variant,
//! time against the configured timeouts, and peak memory where a limit is involved.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use teler_core::rest::{Call, CreatedCall, Error, RecordingUrl, RetryPolicy};

use crate::loopback::{Reply, Server, with_deadline};

/// How a scenario wants its client.
#[derive(Debug, Clone)]
pub struct Opts {
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub max_response_size: Option<usize>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default()
                .max_attempts(3)
                .backoff(Duration::from_millis(1), Duration::from_millis(5)),
            max_response_size: None,
        }
    }
}

pub const KEY: &str = "contract-key-0123456789";

/// One client under test, driven synchronously (async clients block on their runtime).
pub trait ContractClient: Sized + Send + Sync + 'static {
    /// For messages.
    const NAME: &'static str;
    fn build(base_url: &str, opts: &Opts) -> Self;
    /// `GET /voice/calls/{id}`: replay-safe.
    fn retrieve_call(&self, id: &str) -> Result<Call, Error>;
    /// `POST /voice/calls/initiate` without an idempotency key: not replay-safe.
    fn create_call(&self) -> Result<CreatedCall, Error>;
    /// `POST /voice/calls/{id}/hangup` with a generated idempotency key: replay-safe.
    fn hangup(&self, id: &str) -> Result<(), Error>;
    /// `GET /recordings`: the signed URL.
    fn recording(&self, id: &str) -> Result<RecordingUrl, Error>;
    /// Follows the signed URL into memory.
    fn download(&self, rec: &RecordingUrl) -> Result<Vec<u8>, Error>;
    /// Walks `GET /voice/calls` page by page (at most `max` items or errors).
    fn list_calls(&self, max: usize) -> Vec<Result<Call, Error>>;
}

/// Scenarios that measure the process's memory run alone; the others share.
static MEMORY: RwLock<()> = RwLock::new(());

fn run<F: FnOnce() + Send + 'static>(f: F) {
    with_deadline(60, move || {
        let _shared = MEMORY.read().unwrap_or_else(|e| e.into_inner());
        f()
    });
}

fn client<C: ContractClient>(server: &Server, opts: Opts) -> C {
    C::build(&server.base_url(), &opts)
}

fn call_json(id: &str) -> String {
    format!(r#"{{"id":"{id}","status":"completed"}}"#)
}

/// A recording answer (a redirect to `location`) and the URL the client reads from it.
fn signed_url<C: ContractClient>(c: &C, server: &Server, location: &str) -> RecordingUrl {
    server.push(Reply::empty(307).header("Location", location));
    let rec = c.recording("rec_1").expect("the recording's URL");
    assert_eq!(rec.url, location);
    rec
}

fn attempts(server: &Server, path: &str) -> usize {
    server.requests_to(path).len()
}

// ------------------------------------------------------------------ retries

pub fn a_500_on_a_get_is_retried<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        server.push(Reply::json(500, r#"{"message":"boom"}"#));
        server.push(Reply::json(200, &call_json("cs_1")));
        assert_eq!(c.retrieve_call("cs_1").unwrap().id, "cs_1", "{}", C::NAME);
        assert_eq!(attempts(&server, "/api/v1/voice/calls/cs_1"), 2);
    });
}

pub fn a_500_on_a_keyed_mutation_is_retried_with_the_same_key<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        server.push(Reply::json(500, "{}"));
        server.push(Reply::json(200, r#"{"request_id":"rq_1"}"#));
        c.hangup("cs_1").unwrap();
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "{}", C::NAME);
        let key = reqs[0].header("idempotency-key").expect("a generated key");
        assert_eq!(reqs[1].header("idempotency-key"), Some(key), "the same key");
        assert_eq!(reqs[0].body, reqs[1].body, "the same bytes");
    });
}

pub fn a_create_without_a_key_is_never_replayed<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        for status in [500, 502, 503, 429] {
            server.clear();
            server.push(Reply::json(status, "{}"));
            let e = c.create_call().unwrap_err();
            assert_eq!(e.status(), Some(status), "{}: {e:?}", C::NAME);
            assert_eq!(server.requests().len(), 1, "{status} replayed a create");
        }
        // A reset after the request went out: it may have been acted on.
        server.clear();
        server.push(Reply::hang_up());
        let e = c.create_call().unwrap_err();
        assert!(matches!(e, Error::Network(_)), "{}: {e:?}", C::NAME);
        assert_eq!(server.requests().len(), 1);
    });
}

pub fn retry_500_can_be_turned_off<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let opts = Opts {
            retry: Opts::default().retry.retry_500(false),
            ..Opts::default()
        };
        let c: C = client(&server, opts);
        server.push(Reply::json(500, "{}"));
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(matches!(e, Error::InternalServer(_)), "{}: {e:?}", C::NAME);
        assert_eq!(server.requests().len(), 1);
    });
}

pub fn resets_before_and_after_the_body_are_retried_when_replay_safe<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        server.push(Reply::reset_early());
        server.push(Reply::hang_up());
        server.push(Reply::json(200, r#"{"request_id":"rq_1"}"#));
        c.hangup("cs_1").unwrap();
        let reqs = server.requests();
        assert_eq!(reqs.len(), 3, "{}", C::NAME);
        assert!(
            reqs.iter()
                .all(|r| r.header("idempotency-key") == reqs[0].header("idempotency-key"))
        );
    });
}

pub fn retry_after_seconds_and_dates_are_honoured<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        server.push(Reply::json(429, "{}").header("Retry-After", "1"));
        server.push(Reply::json(200, &call_json("cs_1")));
        let t = Instant::now();
        c.retrieve_call("cs_1").unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(950),
            "{}: {:?}",
            C::NAME,
            t.elapsed()
        );
        assert_eq!(server.requests().len(), 2);

        // A date: 2 s from now (whole seconds: at least 1 s of it is left when read).
        server.clear();
        let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
        server.push(Reply::json(503, "{}").header("Retry-After", &at));
        server.push(Reply::json(200, &call_json("cs_1")));
        let t = Instant::now();
        c.retrieve_call("cs_1").unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "{}: {:?}",
            C::NAME,
            t.elapsed()
        );
        assert_eq!(server.requests().len(), 2);
    });
}

pub fn retry_after_far_in_the_future_ends_at_once<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        server.push(Reply::json(429, "{}").header("Retry-After", "3600"));
        let t = Instant::now();
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{}: waited {:?}",
            C::NAME,
            t.elapsed()
        );
        let api = e.api().expect("the 429 itself");
        assert_eq!(api.retry_after, Some(Duration::from_secs(3600)));
        assert_eq!(server.requests().len(), 1);

        server.clear();
        let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(7200));
        server.push(Reply::json(503, "{}").header("Retry-After", &at));
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(
            e.api().is_some_and(|a| a.retry_at.is_some()),
            "{}: {e:?}",
            C::NAME
        );
        assert_eq!(server.requests().len(), 1);
    });
}

// ------------------------------------------------------------------ timeouts

pub fn silence_before_the_answer_times_out<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let opts = Opts {
            timeout: Duration::from_millis(400),
            retry: RetryPolicy::none(),
            ..Opts::default()
        };
        let c: C = client(&server, opts);
        // The answer would come after 6 s: ending well before is the timeout's doing.
        server.push(Reply::json(200, &call_json("cs_1")).delayed(Duration::from_secs(6)));
        let t = Instant::now();
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{}: {e:?}", C::NAME);
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(350), "{}: {took:?}", C::NAME);
        assert!(took < Duration::from_secs(4), "{}: {took:?}", C::NAME);
    });
}

pub fn a_slow_drip_is_bounded_by_the_attempt_timeout<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let opts = Opts {
            timeout: Duration::from_millis(500),
            retry: RetryPolicy::none(),
            ..Opts::default()
        };
        let c: C = client(&server, opts);
        // A byte every 100 ms of a 100-byte body: 10 s in all.
        server.push(Reply::drip(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            b" ",
            100,
            Duration::from_millis(100),
        ));
        let t = Instant::now();
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{}: {e:?}", C::NAME);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{}: {:?}",
            C::NAME,
            t.elapsed()
        );
    });
}

// ------------------------------------------------------------------ answers

pub fn error_statuses_are_typed_and_not_retried<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        let html = "<html><body><h1>Bad Gateway-ish</h1></body></html>";
        for status in [400, 401, 403, 404, 409, 422] {
            server.clear();
            server.push(Reply::json(status, html).header("Content-Type", "text/html"));
            let e = c.retrieve_call("cs_1").unwrap_err();
            let ok = match status {
                400 => matches!(e, Error::BadRequest(_)),
                401 => matches!(e, Error::Unauthorized(_)),
                403 => matches!(e, Error::Forbidden(_)),
                404 => matches!(e, Error::NotFound(_)),
                409 => matches!(e, Error::Conflict(_)),
                _ => matches!(e, Error::Unprocessable(_)),
            };
            assert!(ok, "{}: {status} gave {e:?}", C::NAME);
            assert_eq!(e.api().map(|a| a.body.as_slice()), Some(html.as_bytes()));
            assert_eq!(server.requests().len(), 1, "{status} was retried");
        }
    });
}

pub fn bad_json_is_a_decode_error<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        server.push(Reply::json(200, "{not json"));
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(
            matches!(e, Error::Decode { status: 200, .. }),
            "{}: {e:?}",
            C::NAME
        );
        assert_eq!(server.requests().len(), 1);
    });
}

pub fn malformed_framing_is_a_network_error<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let opts = Opts {
            retry: RetryPolicy::none(),
            ..Opts::default()
        };
        let c: C = client(&server, opts);
        server
            .push(Reply::raw(b"HTTP/1.1 200 OK\r\nContent-Length: twelve\r\n\r\n{}").then_close());
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(matches!(e, Error::Network(_)), "{}: {e:?}", C::NAME);
        server.push(Reply::raw(b"SMTP READY\r\n\r\n").then_close());
        let e = c.retrieve_call("cs_1").unwrap_err();
        assert!(matches!(e, Error::Network(_)), "{}: {e:?}", C::NAME);
    });
}

/// Peak growth of the process's resident memory while `f` runs, sampled every 2 ms.
fn peak_rss_growth<T>(f: impl FnOnce() -> T) -> (T, u64) {
    fn rss() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        pages * 4096
    }
    let base = rss();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(rss());
            std::thread::sleep(Duration::from_millis(2));
        }
        peak.max(rss())
    });
    let out = f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    (out, peak.saturating_sub(base))
}

pub fn an_oversized_answer_fails_once_within_bounded_memory<C: ContractClient>() {
    with_deadline(60, || {
        let _alone = MEMORY.write().unwrap_or_else(|e| e.into_inner());
        const LIMIT: usize = 8 << 20;
        let server = Server::start();
        let opts = Opts {
            max_response_size: Some(LIMIT),
            ..Opts::default()
        };
        let c: C = client(&server, opts);
        // 256 MiB announced, and sent until the client stops reading.
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            256u64 << 20
        );
        server.set_default(Reply::endless(head.as_bytes(), 256 << 20));
        let (e, grew) = peak_rss_growth(|| c.retrieve_call("cs_1").unwrap_err());
        assert!(matches!(e, Error::TooLarge(_)), "{}: {e:?}", C::NAME);
        assert_eq!(
            server.requests().len(),
            1,
            "{}: an oversized answer was retried",
            C::NAME
        );
        // The limit, doubled for a growing buffer, plus room for the runtime: not the answer.
        assert!(
            grew < 3 * LIMIT as u64 + (16 << 20),
            "{}: memory grew {} MiB for a {} MiB limit",
            C::NAME,
            grew >> 20,
            LIMIT >> 20
        );
    });
}

// ------------------------------------------------------------------ downloads

pub fn a_stalled_download_ends_within_its_idle_timeout<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let opts = Opts {
            timeout: Duration::from_millis(500),
            retry: RetryPolicy::none(),
            ..Opts::default()
        };
        let c: C = client(&server, opts);
        let rec = signed_url(&c, &server, &format!("{}/s/a", server.origin()));
        // The head and 3 of 100 bytes, then nothing; the connection stays open.
        server.push(Reply::drip(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc",
            b"d",
            1,
            Duration::from_secs(20),
        ));
        let t = Instant::now();
        let e = c.download(&rec).unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{}: {e:?}", C::NAME);
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(450), "{}: {took:?}", C::NAME);
        assert!(took < Duration::from_secs(5), "{}: {took:?}", C::NAME);
    });
}

pub fn relative_redirects_are_followed_without_the_key<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        let rec = signed_url(
            &c,
            &server,
            &format!("{}/store/a/first.wav?sig=1", server.origin()),
        );
        server.push(Reply::empty(302).header("Location", "second.wav?sig=2"));
        server.push(Reply::empty(302).header("Location", "/root/third.wav"));
        server.push(Reply::bytes(200, b"RIFF....WAVE".to_vec()));
        assert_eq!(c.download(&rec).unwrap(), b"RIFF....WAVE", "{}", C::NAME);
        let reqs = server.requests();
        let targets: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            &targets[1..],
            [
                "/store/a/first.wav?sig=1",
                "/store/a/second.wav?sig=2",
                "/root/third.wav"
            ],
            "{}",
            C::NAME
        );
        assert_eq!(reqs[0].header("x-api-key"), Some(KEY));
        assert!(reqs[1..].iter().all(|r| r.header("x-api-key").is_none()));
    });
}

pub fn a_redirect_to_another_origin_carries_no_key<C: ContractClient>() {
    run(|| {
        let api = Server::start();
        let storage = Server::start();
        let c: C = client(&api, Opts::default());
        let rec = signed_url(&c, &api, &format!("{}/s/a", api.origin()));
        api.push(Reply::empty(302).header("Location", &format!("{}/s/b", storage.origin())));
        storage.push(Reply::bytes(200, b"RIFF".to_vec()));
        assert_eq!(c.download(&rec).unwrap(), b"RIFF", "{}", C::NAME);
        let seen = storage.only();
        assert_eq!(seen.target, "/s/b");
        assert!(
            seen.header("x-api-key").is_none(),
            "{}: the key crossed origins",
            C::NAME
        );
        assert!(seen.header("authorization").is_none());
    });
}

pub fn a_redirect_loop_ends_typed<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        let url = format!("{}/s/loop", server.origin());
        let rec = signed_url(&c, &server, &url);
        server.set_default(Reply::empty(302).header("Location", &url));
        let e = c.download(&rec).unwrap_err();
        assert!(matches!(e, Error::Network(_)), "{}: {e:?}", C::NAME);
        let hops = attempts(&server, "/s/loop");
        assert!(
            (5..=6).contains(&hops),
            "{}: {hops} requests for a loop",
            C::NAME
        );
    });
}

pub fn a_download_error_status_is_typed<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        let rec = signed_url(&c, &server, &format!("{}/s/a", server.origin()));
        server.push(Reply::json(403, r#"{"message":"expired"}"#));
        let e = c.download(&rec).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{}: {e:?}", C::NAME);
    });
}

// ------------------------------------------------------------------ pagination, concurrency

pub fn a_repeated_cursor_ends_with_a_typed_error<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        let c: C = client(&server, Opts::default());
        let page = |id: &str, next: &str| {
            Reply::json(
                200,
                &format!(
                    r#"{{"data":[{}],"has_more":true,"next_cursor":"{next}"}}"#,
                    call_json(id)
                ),
            )
        };
        server.push(page("cs_1", "c1"));
        server.push(page("cs_2", "c2"));
        server.push(page("cs_3", "c1"));
        let got = c.list_calls(100);
        let ids: Vec<&str> = got
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["cs_1", "cs_2", "cs_3"], "{}", C::NAME);
        assert!(
            matches!(got.last(), Some(Err(Error::Pagination(_)))),
            "{}: {:?}",
            C::NAME,
            got.last()
        );
        assert_eq!(got.len(), 4, "nothing after the error");
        assert_eq!(server.requests().len(), 3);
    });
}

pub fn fifty_requests_at_once<C: ContractClient>() {
    run(|| {
        let server = Server::start();
        server.set_default(Reply::json(200, &call_json("cs_1")));
        let c = std::sync::Arc::new(client::<C>(&server, Opts::default()));
        let threads: Vec<_> = (0..50)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || c.retrieve_call("cs_1").map(|call| call.id))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().unwrap(), "cs_1", "{}", C::NAME);
        }
        assert_eq!(server.requests().len(), 50);
        assert!(server.connections() <= 50, "{}", C::NAME);
        // Kept alive: the next 10 in a row reuse pooled connections.
        let before = server.connections();
        for _ in 0..10 {
            c.retrieve_call("cs_1").unwrap();
        }
        assert!(
            server.connections() <= before + 1,
            "{}: no keep-alive",
            C::NAME
        );
    });
}

/// Generates one `#[test]` per contract scenario for the client type `$client` (which
/// implements [`ContractClient`](crate::contract::ContractClient)).
#[macro_export]
macro_rules! rest_contract_cases {
    ($client:ty) => {
        $crate::rest_contract_cases!(@tests $client;
            a_500_on_a_get_is_retried,
            a_500_on_a_keyed_mutation_is_retried_with_the_same_key,
            a_create_without_a_key_is_never_replayed,
            retry_500_can_be_turned_off,
            resets_before_and_after_the_body_are_retried_when_replay_safe,
            retry_after_seconds_and_dates_are_honoured,
            retry_after_far_in_the_future_ends_at_once,
            silence_before_the_answer_times_out,
            a_slow_drip_is_bounded_by_the_attempt_timeout,
            error_statuses_are_typed_and_not_retried,
            bad_json_is_a_decode_error,
            malformed_framing_is_a_network_error,
            an_oversized_answer_fails_once_within_bounded_memory,
            a_stalled_download_ends_within_its_idle_timeout,
            relative_redirects_are_followed_without_the_key,
            a_redirect_to_another_origin_carries_no_key,
            a_redirect_loop_ends_typed,
            a_download_error_status_is_typed,
            a_repeated_cursor_ends_with_a_typed_error,
            fifty_requests_at_once,
        );
    };
    (@tests $client:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::contract::$name::<$client>();
            }
        )*
    };
}
