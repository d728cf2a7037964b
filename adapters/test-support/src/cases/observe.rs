/// Logs and metrics of a real call, run by every adapter in a test binary of its own (the
/// subscriber and the recorder are process-wide): invoke
/// `teler_test_support::observe_cases!(teler_ADAPTER);` at the root of `tests/observe.rs`,
/// next to `mod common;`. The adapter must be built with its `metrics` feature. `$rest` is a
/// function that retrieves call `cs_rest` with the adapter's REST client, key
/// `teler_test_support::contract::KEY`, against the base URL it is given.
#[macro_export]
macro_rules! observe_cases {
    ($krate:ident, $rest:expr) => {
        use std::time::Duration;

        use common::*;
        use teler_core::media::BridgeConfig;
        use teler_test_support::observe::{Metrics, install};

        #[test]
        fn a_call_is_logged_in_its_span_and_its_metrics_equal_its_summary() {
            let (captured, snap) = install();
            watchdog(Duration::from_secs(60), move || {
                let remote = FakeRemote::echo_agent();
                // Secrets in the remote's query and headers: never in a log line or field.
                let url = format!("{}?token=s3cr3t-query", remote.url());
                let config = BridgeConfig::builder(url)
                    .header("xi-api-key", "s3cr3t-header")
                    .build()
                    .unwrap();
                let s = Serving::start(config, $krate::ServeConfig::new(), eleven);
                let mut teler = teler_connect(s.addr);
                send_text(&mut teler, start_msg("cs_obs"));
                const N: usize = 20;
                for i in 0..N {
                    send_text(&mut teler, audio_msg(i, &payload(5, i)));
                }
                assert_eq!(read_texts(&mut teler, N).texts.len(), N);
                // The flow webhook knows the numbers; the handle puts them on the span.
                s.calls
                    .by_call_id("cs_obs")
                    .expect("live")
                    .record_numbers("+15550100001", "+15550100002");
                send_text(&mut teler, "not a Teler message".to_owned());
                close(&mut teler, 1000, "bye");
                let sum = s.summary();
                while !s.calls.is_empty() {
                    std::thread::sleep(Duration::from_millis(2));
                }

                let m = Metrics::take(snap);
                let frames = |direction: &str, outcome: &str| {
                    m.get(
                        "teler_frames_total",
                        &[("direction", direction), ("outcome", outcome)],
                    )
                    .unwrap_or(-1.0) as u64
                };
                let (t, r) = (&sum.stats.from_teler, &sum.stats.from_remote);
                assert_eq!(t.relayed_frames, N as u64);
                assert_eq!(frames("to_remote", "relayed"), t.relayed_frames);
                assert_eq!(frames("to_remote", "passed"), t.passed);
                assert_eq!(frames("to_remote", "rejected"), t.rejected);
                assert_eq!(t.rejected, 1);
                assert_eq!(frames("to_remote", "dropped"), t.dropped + t.send_dropped);
                assert_eq!(frames("to_teler", "relayed"), r.relayed_frames);
                assert_eq!(frames("to_teler", "passed"), r.passed);
                assert_eq!(
                    m.get("teler_calls_total", &[("end", "teler_hung_up")]),
                    Some(1.0)
                );
                assert_eq!(m.get("teler_calls_active", &[]), Some(0.0));
                assert_eq!(m.get("teler_call_duration_seconds", &[]), Some(1.0));
                assert_eq!(m.get("teler_remote_connect_seconds", &[]), Some(1.0));
                assert_eq!(
                    m.get("teler_handler_seconds", &[("side", "teler")]),
                    Some(t.frames_in as f64),
                    "one handler timing per frame from Teler"
                );
                assert_eq!(
                    m.get("teler_handler_failures_total", &[("side", "teler")]),
                    Some(0.0)
                );

                let spans = captured.spans_named("teler.call");
                assert_eq!(spans.len(), 1, "{spans:?}");
                let f = &spans[0].fields;
                for (k, v) in [
                    ("call_id", "cs_obs"),
                    ("stream_id", "st_1"),
                    ("account_id", "acc_1"),
                    ("encoding", "audio/l16"),
                    ("sample_rate", "8000"),
                    ("remote", "127.0.0.1"),
                    ("from", "+15550100001"),
                    ("to", "+15550100002"),
                ] {
                    assert_eq!(f.get(k).map(String::as_str), Some(v), "{k} in {f:?}");
                }
                let text = captured.all_text();
                assert!(!text.contains("s3cr3t"), "a secret was logged:\n{text}");
                let line = |level: &str, msg: &str| {
                    text.lines().any(|l| {
                        l.starts_with(level) && l.contains("[teler.call]") && l.contains(msg)
                    })
                };
                assert!(line("INFO", "call started"), "{text}");
                assert!(line("INFO", "remote connected"), "{text}");
                assert!(line("INFO", "call ended"), "{text}");
                assert!(line("WARN", "frame rejected"), "{text}");

                // A REST request that is retried once: one span, a count per attempt.
                use teler_test_support::loopback::{Reply, Server};
                let server = Server::start();
                server.push(Reply::json(503, r#"{"error":"busy"}"#).header("retry-after", "0"));
                server.push(Reply::json(200, r#"{"id":"cs_rest","status":"completed"}"#));
                let rest: fn(&str) = $rest;
                rest(&server.base_url());
                assert_eq!(server.requests().len(), 2);
                let m = Metrics::take(snap);
                let by_status = |s: &str| m.get("teler_rest_requests_total", &[("status", s)]);
                assert_eq!((by_status("503"), by_status("200")), (Some(1.0), Some(1.0)));
                let spans = captured.spans_named("teler.rest");
                assert_eq!(spans.len(), 1, "{spans:?}");
                let f = &spans[0].fields;
                assert_eq!(f.get("method").map(String::as_str), Some("GET"));
                assert!(
                    f.get("path")
                        .is_some_and(|p| p.ends_with("/voice/calls/cs_rest")),
                    "{f:?}"
                );
                assert_eq!(f.get("status").map(String::as_str), Some("200"));
                assert_eq!(f.get("attempts").map(String::as_str), Some("2"));
                assert!(f.contains_key("duration_ms"), "{f:?}");
                let text = captured.all_text();
                assert!(
                    !text.contains(teler_test_support::contract::KEY),
                    "the API key was logged:\n{text}"
                );
            });
        }
    };
}
