//! Webhooks as Teler sends them (docs/PROTOCOL.md#webhooks): `call.failed` for failed calls in
//! 2026-06-01, retries of failed deliveries (same id, out of order), optional duplicates.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{AppMode, LIMIT, TestApp, start_app};
use serde_json::Value;
use teler_emulator::{Call, CallRequest, Emulator, EmulatorBuilder, WebhookVersion};

async fn run_call(b: EmulatorBuilder, app: &TestApp) -> Call {
    let e = b.log(false).start("127.0.0.1:0").await.unwrap();
    let c = e.place_call(CallRequest {
        from_number: "+14155550100".into(),
        to_number: "+14155550199".into(),
        flow_url: format!("{}/flow", app.http_base),
        status_callback_url: Some(format!("{}/hooks", app.http_base)),
        record: true,
    });
    e.wait_for_call_end(&c.id).await.unwrap()
}

fn quick() -> EmulatorBuilder {
    Emulator::builder()
        .speed(20.0)
        .call_duration(Duration::from_secs(1))
        .http_timeout(Duration::from_secs(2))
}

/// The bodies the receiver got, parsed, in arrival order.
fn received(app: &TestApp) -> Vec<Value> {
    app.seen
        .lock()
        .unwrap()
        .webhooks
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect()
}

fn kind(v: &Value) -> &str {
    v["type"].as_str().or(v["event"].as_str()).unwrap()
}

#[tokio::test]
async fn failed_calls_send_call_failed_in_2026_06_01() {
    tokio::time::timeout(LIMIT, async {
        // A refused ws_url, and a flow URL answering an invalid action: carrier_error.
        for (flow, detail) in [
            (
                r#"{"action":"stream","ws_url":"ws://127.0.0.1:9/media"}"#,
                "ws_connect_failed",
            ),
            (r#"{"action":"stream"}"#, "flow_error"),
        ] {
            let app = start_app(flow, AppMode::Echo).await;
            let c = run_call(quick(), &app).await;
            assert_eq!(c.state.as_str(), "failed");
            assert_eq!(
                c.reason.as_deref(),
                Some(detail),
                "the detail stays on REST"
            );
            let hooks = received(&app);
            let types: Vec<&str> = hooks.iter().map(kind).collect();
            assert_eq!(
                types,
                [
                    "call.initiated",
                    "call.ringing",
                    "call.answered",
                    "call.failed"
                ]
            );
            let last = hooks.last().unwrap();
            assert_eq!(last["data"]["reason"], "carrier_error", "{last}");
            let raw = serde_json::to_vec(last).unwrap();
            let ev = teler_core::webhook::WebhookEvent::from_json(&raw).unwrap();
            assert_eq!(ev.event_type(), "call.failed");
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_rest_hangup_while_ringing_is_canceled() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await;
        let e = Emulator::builder()
            .ring_time(Duration::from_secs(30))
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        let c = e.place_call(CallRequest {
            from_number: "+14155550100".into(),
            to_number: "+14155550199".into(),
            flow_url: format!("{}/flow", app.http_base),
            status_callback_url: Some(format!("{}/hooks", app.http_base)),
            record: true,
        });
        while e.call(&c.id).unwrap().state.as_str() != "ringing" {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let r = common::request(
            "POST",
            &format!("{}/voice/calls/{}/hangup", e.base_url(), c.id),
            &[("x-api-key", "test-key")],
            "{}",
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        let c = e.wait_for_call_end(&c.id).await.unwrap();
        assert_eq!(c.state.as_str(), "failed");
        assert_eq!(c.reason.as_deref(), Some("canceled: hangup_api"));
        assert!(c.answered_at.is_none());
        let hooks = received(&app);
        let types: Vec<&str> = hooks.iter().map(kind).collect();
        assert_eq!(types, ["call.initiated", "call.ringing", "call.failed"]);
        assert_eq!(hooks[2]["data"]["reason"], "canceled");
        assert!(app.seen.lock().unwrap().flow_requests.is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn failed_calls_send_call_completed_in_2025_08_01() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(
            r#"{"action":"stream","ws_url":"ws://127.0.0.1:9/media"}"#,
            AppMode::Echo,
        )
        .await;
        let c = run_call(quick().webhook_version(WebhookVersion::V2025_08_01), &app).await;
        assert_eq!(c.state.as_str(), "failed");
        let hooks = received(&app);
        let types: Vec<&str> = hooks.iter().map(kind).collect();
        assert_eq!(
            types,
            [
                "call.initiated",
                "call.ringing",
                "call.answered",
                "call.completed"
            ]
        );
        assert_eq!(hooks[3]["data"]["reason"], "ws_connect_failed");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_id_out_of_order() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(
            r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
            AppMode::Echo,
        )
        .await;
        // The receiver refuses the first two deliveries (call.initiated, call.ringing).
        app.fail_hooks.store(2, Ordering::SeqCst);
        let c = run_call(
            quick().webhook_retry_backoff(Duration::from_millis(300)),
            &app,
        )
        .await;
        assert_eq!(c.state.as_str(), "completed", "{:?}", c.errors);
        let hooks = received(&app);
        let (status, raw) = {
            let s = app.seen.lock().unwrap();
            let raw: Vec<Vec<u8>> = s.webhooks.iter().map(|(_, b)| b.clone()).collect();
            (s.hook_status.clone(), raw)
        };
        assert_eq!(hooks.len(), 8, "6 events, 2 of them twice");
        assert_eq!(&status[..2], [503, 503]);
        // Deduped by id, every event was accepted exactly once.
        let mut accepted: BTreeMap<&str, usize> = BTreeMap::new();
        for (h, st) in hooks.iter().zip(&status) {
            if *st == 200 {
                *accepted.entry(h["id"].as_str().unwrap()).or_default() += 1;
            }
        }
        assert_eq!(accepted.len(), 6);
        assert!(accepted.values().all(|n| *n == 1));
        // A retry is the same body: same id, same occurred_at.
        let retry_of_initiated = hooks
            .iter()
            .rposition(|h| kind(h) == "call.initiated")
            .unwrap();
        assert!(retry_of_initiated >= 2);
        assert_eq!(raw[retry_of_initiated], raw[0]);
        // And it arrived after events that happened later: out of order.
        let answered = hooks
            .iter()
            .position(|h| kind(h) == "call.answered")
            .unwrap();
        assert!(answered < retry_of_initiated);
        // The call shows every attempt.
        let attempts: Vec<(String, u32, Option<u16>)> = c
            .webhooks
            .iter()
            .map(|w| (w.event.clone(), w.attempt, w.status))
            .collect();
        assert_eq!(attempts.len(), 8, "{attempts:?}");
        assert_eq!(attempts[0], ("call.initiated".into(), 1, Some(503)));
        assert!(attempts.contains(&("call.initiated".into(), 2, Some(200))));
        assert!(attempts.contains(&("call.ringing".into(), 2, Some(200))));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn deliveries_give_up_after_the_last_attempt() {
    tokio::time::timeout(LIMIT, async {
        let app = start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await;
        app.fail_hooks.store(1000, Ordering::SeqCst);
        let c = run_call(
            quick()
                .webhook_attempts(3)
                .webhook_retry_backoff(Duration::from_millis(10)),
            &app,
        )
        .await;
        let hooks = received(&app);
        let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
        for h in &hooks {
            *per_event.entry(kind(h).to_owned()).or_default() += 1;
        }
        assert_eq!(per_event.len(), 4, "{per_event:?}");
        assert!(per_event.values().all(|n| *n == 3), "{per_event:?}");
        assert_eq!(c.webhooks.len(), 12);
        assert!(c.webhooks.iter().all(|w| w.status == Some(503)));
        // Bounded settings.
        for b in [
            Emulator::builder().webhook_attempts(0),
            Emulator::builder().webhook_attempts(11),
            Emulator::builder().webhook_retry_backoff(Duration::from_secs(61)),
        ] {
            assert!(matches!(
                b.log(false).start("127.0.0.1:0").await,
                Err(teler_emulator::EmulatorError::Config(_))
            ));
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn duplicates_carry_the_same_id_or_the_same_body() {
    tokio::time::timeout(LIMIT, async {
        for version in [WebhookVersion::V2026_06_01, WebhookVersion::V2025_08_01] {
            let app = start_app(
                r#"{"action":"stream","ws_url":"{WS}","chunk_size":100}"#,
                AppMode::Echo,
            )
            .await;
            let c = run_call(
                quick().webhook_version(version).webhook_duplicates(true),
                &app,
            )
            .await;
            assert_eq!(c.state.as_str(), "completed", "{:?}", c.errors);
            let raw: Vec<Vec<u8>> = app
                .seen
                .lock()
                .unwrap()
                .webhooks
                .iter()
                .map(|(_, b)| b.clone())
                .collect();
            assert_eq!(raw.len(), 12, "6 events, each twice ({version:?})");
            let mut copies: BTreeMap<&[u8], usize> = BTreeMap::new();
            for b in &raw {
                *copies.entry(b.as_slice()).or_default() += 1;
            }
            assert_eq!(copies.len(), 6, "{version:?}");
            assert!(copies.values().all(|n| *n == 2), "{version:?}");
            if version == WebhookVersion::V2026_06_01 {
                let ids: BTreeSet<String> = received(&app)
                    .iter()
                    .map(|h| h["id"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(ids.len(), 6);
            }
            assert_eq!(c.webhooks.iter().filter(|w| w.duplicate).count(), 6);
        }
    })
    .await
    .unwrap();
}

/// `balance`: the flow request and every delivery attempt (copies and retries too) take
/// the next of three apps in turn, whatever host the URLs name.
#[tokio::test]
async fn balance_spreads_requests_round_robin_over_the_apps() {
    tokio::time::timeout(LIMIT, async {
        let apps = [
            start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await,
            start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await,
            start_app(r#"{"action":"hangup"}"#, AppMode::Echo).await,
        ];
        // The first delivery of some event fails once: its retry is an attempt of its own.
        apps[1].fail_hooks.store(1, Ordering::SeqCst);
        let e = quick()
            .webhook_duplicates(true)
            .webhook_retry_backoff(Duration::from_millis(10))
            .balance(apps.iter().map(|a| a.http_base.clone()))
            .log(false)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        // Nothing listens at the URLs' own address: only the balancer's picks are reached.
        let c = e.place_call(CallRequest {
            from_number: "+14155550100".into(),
            to_number: "+14155550199".into(),
            flow_url: "http://127.0.0.1:9/flow".into(),
            status_callback_url: Some("http://127.0.0.1:9/hooks".into()),
            record: false,
        });
        let c = e.wait_for_call_end(&c.id).await.unwrap();
        assert_eq!(c.state.as_str(), "completed", "{:?}", c.errors);
        // 4 events twice, one retry, and the flow request: 10 requests, in turn.
        assert_eq!(c.webhooks.len(), 9, "{:#?}", c.webhooks);
        let per_app: Vec<usize> = apps
            .iter()
            .map(|a| {
                let s = a.seen.lock().unwrap();
                s.flow_requests.len() + s.webhooks.len()
            })
            .collect();
        let mut sorted = per_app.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [3, 3, 4], "requests per app: {per_app:?}");
        // Each attempt went where the call's record says.
        for a in &apps {
            let recorded = c
                .webhooks
                .iter()
                .filter(|w| w.url == format!("{}/hooks", a.http_base))
                .count();
            assert_eq!(recorded, a.seen.lock().unwrap().webhooks.len());
        }
        let retried = c.webhooks.iter().find(|w| w.attempt == 2).unwrap();
        let failed = c
            .webhooks
            .iter()
            .find(|w| w.attempt == 1 && w.status == Some(503))
            .unwrap();
        assert_eq!(
            (&failed.event_id, failed.duplicate),
            (&retried.event_id, retried.duplicate)
        );
    })
    .await
    .unwrap();
}
