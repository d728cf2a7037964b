//! The REST answers against `docs/PROTOCOL.md`, section "REST API".

mod common;

use std::time::Duration;

use common::{LIMIT, Resp, request};
use serde_json::{Value, json};
use teler_emulator::{Emulator, EmulatorHandle};

const KEY: &str = "k-123";

async fn emu() -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .call_duration(Duration::from_secs(60))
        .log(false)
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

async fn call(e: &EmulatorHandle, method: &str, path: &str, body: &str) -> Resp {
    let url = format!("{}{path}", e.base_url());
    request(
        method,
        &url,
        &[("x-api-key", KEY), ("content-type", "application/json")],
        body,
    )
    .await
}

fn assert_error_shape(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "{:?}", r.json);
    assert_eq!(r.json["success"], false);
    assert!(r.json["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(r.json["code"].is_string());
    assert!(r.json["type"].is_string());
    assert!(r.json["errors"].is_array());
}

/// A call whose flow URL refuses (port 9 on localhost): it ends quickly as failed.
fn initiate_body(to: &str) -> String {
    json!({
        "from_number": "+14155550100",
        "to_number": to,
        "flow_url": "http://127.0.0.1:9/flow",
        "status_callback_url": "http://127.0.0.1:9/hooks",
        "record": false,
    })
    .to_string()
}

#[tokio::test]
async fn auth_and_unknown_routes() {
    tokio::time::timeout(LIMIT, async {
        let e = emu().await;
        let url = format!("{}/voice/calls", e.base_url());
        let r = request("GET", &url, &[], "").await;
        assert_error_shape(&r, 401);
        let r = request("GET", &url, &[("x-api-key", "wrong")], "").await;
        assert_error_shape(&r, 401);
        assert_eq!(r.json["code"], "unauthorized");
        let r = call(&e, "GET", "/voice/nothing", "").await;
        assert_error_shape(&r, 404);
        let r = call(&e, "GET", "/voice/calls/cs_missing", "").await;
        assert_error_shape(&r, 404);
        let r = call(&e, "POST", "/voice/calls/cs_missing/hangup", "{}").await;
        assert_error_shape(&r, 404);
        let r = call(&e, "GET", "/voice/calls/", "").await;
        assert_eq!(r.status, 307, "a trailing slash redirects");
        assert_eq!(r.headers["location"], "/api/v1/voice/calls");
        let r = request(
            "GET",
            &format!("http://{}/elsewhere", e.local_addr()),
            &[],
            "",
        )
        .await;
        assert_error_shape(&r, 404);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn initiate_answers_and_validates() {
    tokio::time::timeout(LIMIT, async {
        let e = emu().await;
        let r = call(
            &e,
            "POST",
            "/voice/calls/initiate",
            &initiate_body("+14155550111"),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        assert!(r.json["message"].is_string());
        let d = &r.json["data"];
        let id = d["id"].as_str().unwrap();
        assert!(id.starts_with("cs_"), "{id}");
        assert_eq!(d["from_number"], "+14155550100");
        assert_eq!(d["to_number"], "+14155550111");
        assert_eq!(d["status_callback_url"], "http://127.0.0.1:9/hooks");
        assert_eq!(d["record"], false);

        let got = call(&e, "GET", &format!("/voice/calls/{id}"), "").await;
        assert_eq!(got.status, 200);
        let c = &got.json["data"];
        for k in [
            "id",
            "account_id",
            "voice_app_id",
            "state",
            "direction",
            "from_number",
            "to_number",
            "properties",
            "created_at",
            "answered_at",
            "ended_at",
            "reason",
            "legs",
        ] {
            assert!(c.get(k).is_some(), "call has no {k}: {c}");
        }
        let legs = call(&e, "GET", &format!("/voice/calls/{id}/legs"), "").await;
        assert_eq!(legs.status, 200);
        let leg = &legs.json["data"][0];
        assert!(leg["id"].as_str().unwrap().starts_with("cl_"));
        assert_eq!(leg["call_session_id"], id);
        assert_eq!(legs.json["has_more"], false);

        // Validation: 422 with one entry per field.
        let r = call(
            &e,
            "POST",
            "/voice/calls/initiate",
            r#"{"from_number":"12","flow_url":"ftp://x"}"#,
        )
        .await;
        assert_error_shape(&r, 422);
        let locs: Vec<String> = r.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                x["loc"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect();
        assert!(locs.contains(&"body.to_number".to_owned()), "{locs:?}");
        assert!(locs.contains(&"body.from_number".to_owned()), "{locs:?}");
        assert!(locs.contains(&"body.flow_url".to_owned()), "{locs:?}");
        let r = call(&e, "POST", "/voice/calls/initiate", "not json").await;
        assert_error_shape(&r, 422);
        assert_eq!(r.json["errors"][0]["loc"], json!(["body"]));

        // The refused flow URL fails the call, visibly.
        let ended = e.wait_for_call_end(id).await.unwrap();
        assert_eq!(ended.state.as_str(), "failed");
        assert_eq!(ended.reason.as_deref(), Some("flow_error"));
        assert!(
            ended.errors[0].contains("flow request failed"),
            "{:?}",
            ended.errors
        );
        // Webhook failures are recorded per delivery attempt (they do not fail the call):
        // each event tried 4 times (the default), the failed call reported as call.failed.
        let mut events: Vec<&str> = Vec::new();
        for w in &ended.webhooks {
            if w.attempt == 1 {
                events.push(w.event.as_str());
            }
        }
        assert_eq!(
            events,
            [
                "call.initiated",
                "call.ringing",
                "call.answered",
                "call.failed"
            ]
        );
        assert_eq!(ended.webhooks.len(), 4 * 4);
        for ev in &events {
            let mut tries: Vec<u32> = ended
                .webhooks
                .iter()
                .filter(|w| w.event == *ev)
                .map(|w| w.attempt)
                .collect();
            tries.sort();
            assert_eq!(tries, [1, 2, 3, 4], "{ev}");
        }
        assert!(ended.webhooks.iter().all(|w| {
            w.status.is_none()
                && w.error
                    .as_ref()
                    .is_some_and(|e| e.contains("cannot connect"))
        }));

        // Odd bodies are 422s, never a 500 or a dropped connection.
        for body in [
            "[]",
            "null",
            "1",
            "\"x\"",
            "{",
            "{\"from_number\":null}",
            "{\"record\":\"yes\"}",
            "{\"from_number\":{\"a\":1},\"to_number\":[1],\"flow_url\":1e400}",
            "{\"from_number\":\"+1\u{e9}\",\"to_number\":\"+\",\"flow_url\":\"http://a b\"}",
        ] {
            let r = call(&e, "POST", "/voice/calls/initiate", body).await;
            assert_error_shape(&r, 422);
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn list_pagination_and_filters() {
    tokio::time::timeout(LIMIT, async {
        let e = emu().await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let r = call(
                &e,
                "POST",
                "/voice/calls/initiate",
                &initiate_body(&format!("+1415555020{i}")),
            )
            .await;
            ids.push(r.json["data"]["id"].as_str().unwrap().to_owned());
        }
        // Newest first, two per page.
        let p1 = call(&e, "GET", "/voice/calls?limit=2", "").await;
        assert_eq!(p1.status, 200);
        let got: Vec<&str> = p1.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()]);
        assert_eq!(p1.json["has_more"], true);
        assert_eq!(p1.json["previous_cursor"], Value::Null);
        let next = p1.json["next_cursor"].as_str().unwrap();
        let p2 = call(
            &e,
            "GET",
            &format!("/voice/calls?limit=2&cursor_after={next}"),
            "",
        )
        .await;
        let got2: Vec<&str> = p2.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(got2, vec![ids[2].as_str(), ids[1].as_str()]);
        let prev = p2.json["previous_cursor"].as_str().unwrap();
        let back = call(
            &e,
            "GET",
            &format!("/voice/calls?limit=2&cursor_before={prev}"),
            "",
        )
        .await;
        let ids_of = |r: &Resp| -> Vec<String> {
            r.json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids_of(&back), ids_of(&p1));
        let p3 = call(
            &e,
            "GET",
            &format!(
                "/voice/calls?limit=2&cursor_after={}",
                p2.json["next_cursor"].as_str().unwrap()
            ),
            "",
        )
        .await;
        assert_eq!(p3.json["data"].as_array().unwrap().len(), 1);
        assert_eq!(p3.json["has_more"], false);
        assert_eq!(p3.json["next_cursor"], Value::Null);

        // Filters.
        let f = call(&e, "GET", "/voice/calls?to_number=%2B14155550203", "").await;
        assert_eq!(f.json["data"].as_array().unwrap().len(), 1);
        assert_eq!(f.json["data"][0]["id"], ids[3].as_str());
        let f = call(
            &e,
            "GET",
            "/voice/calls?created_after=2000-01-01T00:00:00Z&created_before=2000-01-02",
            "",
        )
        .await;
        assert_eq!(f.json["data"].as_array().unwrap().len(), 0);
        for id in &ids {
            e.wait_for_call_end(id).await.unwrap();
        }
        let f = call(&e, "GET", "/voice/calls?state=failed&state=completed", "").await;
        assert_eq!(f.json["data"].as_array().unwrap().len(), 5);
        let f = call(&e, "GET", "/voice/calls?state=in_progress", "").await;
        assert_eq!(f.json["data"].as_array().unwrap().len(), 0);

        // Bad paging input.
        assert_error_shape(&call(&e, "GET", "/voice/calls?limit=0", "").await, 422);
        assert_error_shape(&call(&e, "GET", "/voice/calls?limit=101", "").await, 422);
        assert_error_shape(
            &call(&e, "GET", "/voice/calls?cursor_after=a&cursor_before=b", "").await,
            422,
        );
        assert_error_shape(
            &call(&e, "GET", "/voice/calls?created_after=yesterday", "").await,
            422,
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn mutations_are_idempotent() {
    tokio::time::timeout(LIMIT, async {
        // A call that stays up: its flow streams to an app that never answers frames.
        let app = common::start_app(r#"{"action":"stream","ws_url":"{WS}","chunk_size":500}"#, common::AppMode::Echo).await;
        let e = emu().await;
        let body = json!({"from_number":"+14155550100","to_number":"+14155550101","flow_url": format!("{}/flow", app.http_base)}).to_string();
        let r = call(&e, "POST", "/voice/calls/initiate", &body).await;
        let id = r.json["data"]["id"].as_str().unwrap().to_owned();
        let url = |a: &str| format!("{}/voice/calls/{id}/{a}", e.base_url());
        let h = |k: &'static str| vec![("x-api-key", KEY), ("Idempotency-Key", k)];

        let p1 = request("POST", &url("play"), &h("play-1"), r#"{"media_url":"https://x/a.wav"}"#).await;
        assert_eq!(p1.status, 200, "{:?}", p1.json);
        assert!(p1.json["request_id"].as_str().unwrap().starts_with("op_"));
        assert!(p1.json["playback_id"].as_str().unwrap().starts_with("pb_"));
        let p2 = request("POST", &url("play"), &h("play-1"), r#"{"media_url":"https://x/a.wav"}"#).await;
        assert_eq!(p2.json, p1.json, "same key, same answer");
        let p3 = request("POST", &url("play"), &h("play-2"), r#"{"media_url":"https://x/a.wav"}"#).await;
        assert_ne!(p3.json["request_id"], p1.json["request_id"]);
        let reuse = request("POST", &url("play"), &h("play-1"), r#"{"media_url":"https://x/b.wav"}"#).await;
        assert_error_shape(&reuse, 422);

        let d = request("POST", &url("dtmf"), &h("d1"), r#"{"digits":"12#"}"#).await;
        assert_eq!(d.status, 200);
        assert!(d.json.get("playback_id").is_none());
        assert_error_shape(&request("POST", &url("dtmf"), &h("d2"), r#"{"digits":"12x"}"#).await, 422);
        assert_error_shape(&request("POST", &url("mute"), &h("m1"), r#"{"on":true}"#).await, 422);
        let leg = e.call(&id).unwrap().legs[0].id.clone();
        let m = request("POST", &url("mute"), &h("m2"), &json!({"leg_id": leg, "on": true}).to_string()).await;
        assert_eq!(m.status, 200, "{:?}", m.json);
        assert_error_shape(&request("POST", &url("hangup"), &h("h0"), r#"{"reason":"bad reason"}"#).await, 422);
        assert_error_shape(&request("POST", &url("transfer"), &h("t0"), "{}").await, 404);

        let h1 = request("POST", &url("hangup"), &h("h1"), r#"{"reason":"TEST_DONE"}"#).await;
        assert_eq!(h1.status, 200);
        let ended = e.wait_for_call_end(&id).await.unwrap();
        assert_eq!(ended.state.as_str(), "completed");
        assert_eq!(ended.reason.as_deref(), Some("test_done"));
        let h2 = request("POST", &url("hangup"), &h("h1"), r#"{"reason":"TEST_DONE"}"#).await;
        assert_eq!(h2.status, 200);
        assert_eq!(h2.json, h1.json, "a retried hangup gets the first answer");
        let h3 = request("POST", &url("hangup"), &h("h3"), "{}").await;
        assert_error_shape(&h3, 409);
        assert!(ended.notes.iter().any(|n| n.contains("REST dtmf digits=12#")), "{:?}", ended.notes);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn oversized_bodies_and_targets_get_telers_error_shape() {
    let e = emu().await;
    let big = format!(r#"{{"from_number":"{}"}}"#, "1".repeat(3 * 1024 * 1024));
    let r = call(&e, "POST", "/voice/calls/initiate", &big).await;
    assert_error_shape(&r, 413);
    assert_eq!(r.json["code"], "payload_too_large");
    let long_id = "c".repeat(10 * 1024);
    let r = call(&e, "GET", &format!("/voice/calls/{long_id}"), "").await;
    assert_error_shape(&r, 414);
    assert_eq!(r.json["code"], "uri_too_long");
    // Just under the limit is an ordinary 404.
    let r = call(
        &e,
        "GET",
        &format!("/voice/calls/{}", "c".repeat(4 * 1024)),
        "",
    )
    .await;
    assert_error_shape(&r, 404);
}
