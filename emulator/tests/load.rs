//! The load generator against the stand-in agent (real sockets, small numbers).

mod common;

use std::time::Duration;

use common::LIMIT;
use teler_emulator::agent::{self, AgentConfig};
use teler_emulator::load::{self, LoadConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_echo_matches_every_frame() {
    tokio::time::timeout(LIMIT, async {
        let a = agent::serve_with(
            "127.0.0.1:0",
            AgentConfig {
                chunk_ms: 0,
                ..AgentConfig::default()
            },
        )
        .await
        .unwrap();
        let mut cfg = LoadConfig::connect(a.teler_url(), 50);
        cfg.chunk_ms = 20;
        cfg.duration = Duration::from_secs(1);
        let r = load::run(cfg).await.unwrap();
        assert_eq!(r.errors, 0, "{}", r.to_text());
        assert_eq!(r.streams_connected, 50);
        assert_eq!(r.streams_completed, 50);
        assert_eq!(r.frames_sent, 50 * 50);
        assert_eq!(r.echoes_matched, r.frames_sent, "{}", r.to_text());
        assert_eq!(r.lost_frames, 0);
        let (p50, p99, max) = (
            r.rtt_p50_ms.unwrap(),
            r.rtt_p99_ms.unwrap(),
            r.rtt_max_ms.unwrap(),
        );
        assert!(p50 <= p99 && p99 <= max * 1.04 + 0.01, "{}", r.to_text());
        assert!(r.cpu_seconds > 0.0);
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["frames_sent"], 2500);
        assert!(j["rtt_p99_ms"].is_f64());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regrouped_echo_and_calls_mode() {
    tokio::time::timeout(LIMIT, async {
        // The default agent regroups caller audio into 500 ms chunks: 100 ms frames are
        // still matched one by one, with the regrouping delay in the round trip.
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let flow = format!(
            r#"{{"action":"stream","ws_url":"{}","chunk_size":100}}"#,
            a.teler_url()
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let flow_url = format!("http://{}/flow", l.local_addr().unwrap());
        tokio::spawn(async move {
            let app = axum::Router::new()
                .route("/flow", axum::routing::post(move || async move { flow }));
            let _ = axum::serve(l, app).await;
        });
        let mut cfg = LoadConfig::calls(flow_url, 10);
        cfg.duration = Duration::from_secs(1);
        let r = load::run(cfg).await.unwrap();
        assert_eq!(r.errors, 0, "{}", r.to_text());
        assert_eq!(r.chunk_ms, 100);
        assert_eq!(r.frames_sent, 100);
        assert_eq!(r.echoes_matched, 100, "{}", r.to_text());
        assert_eq!(r.frames_received, 20, "two 500 ms chunks per stream");
        assert!(
            r.rtt_max_ms.unwrap() >= 350.0,
            "the first frame of a chunk waits ~400 ms: {}",
            r.to_text()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_chunks_that_do_not_align_with_frames() {
    tokio::time::timeout(LIMIT, async {
        // 400 ms frames, echoed by the default agent in 500 ms chunks: most frame boundaries
        // fall inside an echo message, and every frame is still matched.
        let a = agent::serve("127.0.0.1:0").await.unwrap();
        let mut cfg = LoadConfig::connect(a.teler_url(), 4);
        cfg.chunk_ms = 400;
        cfg.duration = Duration::from_secs(2);
        let r = load::run(cfg).await.unwrap();
        assert_eq!(r.errors, 0, "{}", r.to_text());
        assert_eq!(r.frames_sent, 4 * 5);
        assert_eq!(r.frames_received, 4 * 4, "2 s echoed as four 500 ms chunks");
        assert_eq!(r.echoes_matched, r.frames_sent, "{}", r.to_text());
        assert_eq!(r.lost_frames, 0, "{}", r.to_text());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn refused_target_is_counted_not_hung() {
    tokio::time::timeout(LIMIT, async {
        let mut cfg = LoadConfig::connect("ws://127.0.0.1:9/", 5);
        cfg.duration = Duration::from_millis(100);
        let r = load::run(cfg).await.unwrap();
        assert_eq!(r.streams_connected, 0);
        assert_eq!(r.errors, 5);
        assert!(
            r.error_samples[0].contains("cannot connect"),
            "{:?}",
            r.error_samples
        );
        assert_eq!(r.rtt_p50_ms, None);
        let mut bad = LoadConfig::connect("ws://127.0.0.1:9/", 1);
        bad.chunk_ms = 0;
        assert!(
            load::run(bad.clone())
                .await
                .unwrap_err()
                .to_string()
                .contains("chunk_ms")
        );
        bad.chunk_ms = 20;
        bad.sample_rate = 44_100;
        assert!(
            load::run(bad)
                .await
                .unwrap_err()
                .to_string()
                .contains("sample_rate")
        );
    })
    .await
    .unwrap();
}
