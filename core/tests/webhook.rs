//! Webhook events, flow requests, signatures and URL tokens, from the outside.

use proptest::prelude::*;
use serde_json::{Value, json};
use teler_core::webhook::*;

fn parse(v: Value) -> Result<WebhookEvent, ParseError> {
    let event = WebhookEvent::from_json(v.to_string().as_bytes());
    if let Ok(e) = &event {
        // Every parsed event writes back to a body that reads back equal.
        assert_eq!(WebhookEvent::from_value(e.to_value()).as_ref(), Ok(e));
    }
    event
}

#[test]
fn flat_2025_events_are_typed() {
    let e = parse(json!({"event":"call.initiated","account_id":"acc_1","call_app_id":"va_1",
        "data":{"call_id":"cs_1","from":"+15550001","to":"+15550002","start_time":"2025-09-01T10:00:00Z"}}))
    .unwrap();
    assert_eq!(e.version, ApiVersion::V2025_08_01);
    assert_eq!(e.account_id.as_deref(), Some("acc_1"));
    assert_eq!(e.voice_app_id.as_deref(), Some("va_1"));
    assert_eq!(e.call_id.as_deref(), Some("cs_1"));
    assert_eq!(e.id, None);
    let EventKind::CallInitiated(d) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(d.from.as_deref(), Some("+15550001"));
    assert_eq!(d.to.as_deref(), Some("+15550002"));
    assert_eq!(
        d.start_time,
        Some(Timestamp::Text("2025-09-01T10:00:00Z".into()))
    );
    assert!(d.extra.is_empty());

    let e = parse(json!({"event":"call.ringing","data":{"call_id":"cs_1"}})).unwrap();
    assert!(matches!(e.kind, EventKind::CallRinging(_)));

    let e =
        parse(json!({"event":"call.answered","data":{"call_id":"cs_1","answer_time":1756720800}}))
            .unwrap();
    let EventKind::CallAnswered(d) = &e.kind else {
        panic!()
    };
    assert_eq!(d.answer_time, Some(Timestamp::Number(1756720800.into())));

    let e = parse(
        json!({"event":"call.completed","data":{"call_id":"cs_1","duration":42,"hangup_time":"t"}}),
    )
    .unwrap();
    let EventKind::CallCompleted(d) = &e.kind else {
        panic!()
    };
    assert_eq!(d.duration, Some(42));
    assert_eq!(d.hangup_time, Some(Timestamp::Text("t".into())));

    let e = parse(json!({"event":"stream.initiated","data":{"call_id":"cs_1","stream_id":"s_1"}}))
        .unwrap();
    let EventKind::StreamInitiated(d) = &e.kind else {
        panic!()
    };
    assert_eq!(d.stream_id.as_deref(), Some("s_1"));
    assert_eq!(e.dedupe_key().as_deref(), Some("stream.initiated/cs_1/s_1"));
}

#[test]
fn envelope_2026_events_are_typed() {
    let e = parse(
        json!({"id":"evt_1","type":"call.answered","api_version":"2026-06-01",
        "occurred_at":"2026-06-02T08:00:00Z","account_id":"acc_1","voice_app_id":"va_1",
        "sip_trunk_id":"st_1","call_id":"cs_1","leg_id":"cl_1","data":{}}),
    )
    .unwrap();
    assert_eq!(e.version, ApiVersion::V2026_06_01);
    assert_eq!(e.id.as_deref(), Some("evt_1"));
    assert_eq!(
        e.occurred_at,
        Some(Timestamp::Text("2026-06-02T08:00:00Z".into()))
    );
    assert_eq!(e.sip_trunk_id.as_deref(), Some("st_1"));
    assert_eq!(e.leg_id.as_deref(), Some("cl_1"));
    assert_eq!(e.call_id.as_deref(), Some("cs_1"));
    assert_eq!(e.dedupe_key().as_deref(), Some("evt_1"));
    assert!(matches!(e.kind, EventKind::CallAnswered(_)));

    let reasons = [
        ("no_answer", FailReason::NoAnswer),
        ("user_busy", FailReason::UserBusy),
        ("canceled", FailReason::Canceled),
        ("carrier_error", FailReason::CarrierError),
        ("gremlins", FailReason::Other("gremlins".into())),
    ];
    for (text, reason) in reasons {
        let e = parse(json!({"id":"evt_2","type":"call.failed","data":{"reason":text}})).unwrap();
        let EventKind::CallFailed(d) = &e.kind else {
            panic!()
        };
        assert_eq!(d.reason.as_ref(), Some(&reason));
        assert_eq!(reason.as_str(), text);
    }

    for (t, check) in [
        (
            "stream.initiated",
            (|k: &EventKind| matches!(k, EventKind::StreamInitiated(d) if d.stream_id.as_deref() == Some("x")))
                as fn(&EventKind) -> bool,
        ),
        (
            "stream.completed",
            |k| matches!(k, EventKind::StreamCompleted(d) if d.stream_id.as_deref() == Some("x")),
        ),
        (
            "recording.completed",
            |k| matches!(k, EventKind::RecordingCompleted(d) if d.recording_id.as_deref() == Some("x")),
        ),
        (
            "recording.failed",
            |k| matches!(k, EventKind::RecordingFailed(d) if d.recording_id.as_deref() == Some("x")),
        ),
        (
            "call.completed",
            |k| matches!(k, EventKind::CallCompleted(d) if d.extra["stream_id"] == "x"),
        ),
    ] {
        let e =
            parse(json!({"id":"e","type":t,"data":{"stream_id":"x","recording_id":"x"}})).unwrap();
        assert!(check(&e.kind), "{t}: {e:?}");
        assert_eq!(e.event_type(), t);
    }
}

#[test]
fn unknown_types_and_fields_are_kept() {
    // Unknown type, envelope: raw type and raw data, whatever the data is.
    let e = parse(
        json!({"id":"evt_1","type":"call.transferred","data":{"to":"x","n":[1,2]},"new_top":true}),
    )
    .unwrap();
    assert_eq!(
        e.kind,
        EventKind::Other {
            event_type: "call.transferred".into(),
            data: json!({"to":"x","n":[1,2]})
        }
    );
    assert_eq!(e.extra["new_top"], true);
    let e = parse(json!({"type":"x.y","data":"not an object"})).unwrap();
    assert_eq!(
        e.kind,
        EventKind::Other {
            event_type: "x.y".into(),
            data: json!("not an object")
        }
    );
    let e = parse(json!({"type":"x.y"})).unwrap();
    assert_eq!(
        e.kind,
        EventKind::Other {
            event_type: "x.y".into(),
            data: Value::Null
        }
    );

    // Unknown type, flat: call_id still lifted, the rest kept; no dedupe key, since an
    // unknown event may happen more than once in a call.
    let e = parse(json!({"event":"call.held","data":{"call_id":"cs_9","hold":1}})).unwrap();
    assert_eq!(e.call_id.as_deref(), Some("cs_9"));
    assert_eq!(e.dedupe_key(), None);
    let stream = parse(json!({"event":"stream.initiated","data":{"call_id":"cs_9"}})).unwrap();
    assert_eq!(
        stream.dedupe_key(),
        None,
        "a stream event without its stream id"
    );
    assert_eq!(
        e.kind,
        EventKind::Other {
            event_type: "call.held".into(),
            data: json!({"hold":1})
        }
    );
    assert_eq!(e.to_value()["data"], json!({"call_id":"cs_9","hold":1}));

    // Unknown fields of a known type, top level and in data.
    let e = parse(
        json!({"event":"call.completed","extra_top":"a","data":{"call_id":"c","cost":{"usd":1}}}),
    )
    .unwrap();
    assert_eq!(e.extra["extra_top"], "a");
    let EventKind::CallCompleted(d) = &e.kind else {
        panic!()
    };
    assert_eq!(d.extra["cost"], json!({"usd":1}));

    // A known field of an unexpected type is kept raw in `extra`, not rejected.
    let e = parse(json!({"event":"call.completed","account_id":7,"data":{"call_id":"c","duration":"42","from":5,"to":null}})).unwrap();
    let EventKind::CallCompleted(d) = &e.kind else {
        panic!()
    };
    assert_eq!(d.duration, Some(42)); // a decimal string is read
    assert_eq!(d.from, None);
    assert_eq!(d.extra["from"], 5);
    assert!(!d.extra.contains_key("to")); // null is absent
    assert_eq!(e.account_id, None);
    assert_eq!(e.extra["account_id"], 7);
    for odd in [json!(-1), json!(1.5), json!("4x"), json!("")] {
        let e = parse(json!({"event":"call.completed","data":{"duration":odd.clone()}})).unwrap();
        let EventKind::CallCompleted(d) = &e.kind else {
            panic!()
        };
        assert_eq!(d.duration, None);
        assert_eq!(d.extra["duration"], odd);
    }
}

#[test]
fn version_detection() {
    let e = parse(json!({"type":"call.answered"})).unwrap();
    assert_eq!(e.version, ApiVersion::V2026_06_01);
    let e = parse(json!({"type":"call.answered","api_version":"2027-01-01"})).unwrap();
    assert_eq!(e.version, ApiVersion::Other("2027-01-01".into()));
    assert_eq!(e.to_value()["api_version"], "2027-01-01");
    // A non-string api_version is kept raw and written back as received.
    let e = parse(json!({"type":"call.answered","api_version":false})).unwrap();
    assert_eq!(e.version, ApiVersion::V2026_06_01);
    assert_eq!(e.to_value()["api_version"], false);
    // An envelope (api_version given) wins over a stray `event` field, which is kept.
    let e = parse(json!({"type":"call.answered","api_version":"2026-06-01","event":"z"})).unwrap();
    assert_eq!(e.version, ApiVersion::V2026_06_01);
    assert_eq!(e.extra["event"], "z");
    let e = parse(json!({"event":"call.answered","api_version":"2025-08-01"})).unwrap();
    assert_eq!(e.version, ApiVersion::V2025_08_01);
    assert!(!e.extra.contains_key("api_version"));
    // A data.call_id inside an envelope stays in data.
    let e = parse(json!({"type":"call.answered","call_id":"cs_top","data":{"call_id":"cs_data"}}))
        .unwrap();
    assert_eq!(e.call_id.as_deref(), Some("cs_top"));
    let EventKind::CallAnswered(d) = &e.kind else {
        panic!()
    };
    assert_eq!(d.extra["call_id"], "cs_data");
    // No id, no flat: nothing to dedupe by.
    assert_eq!(parse(json!({"type":"a"})).unwrap().dedupe_key(), None);
    assert_eq!(parse(json!({"event":"a"})).unwrap().dedupe_key(), None);
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let err = |b: &[u8]| WebhookEvent::from_json(b).unwrap_err();
    assert!(matches!(err(b"{"), ParseError::Json(_)));
    assert!(matches!(err(b""), ParseError::Json(_)));
    assert_eq!(err(b"[]"), ParseError::NotAnObject { found: "array" });
    assert_eq!(err(b"3"), ParseError::NotAnObject { found: "number" });
    assert_eq!(err(br#"{"data":{}}"#), ParseError::UnknownShape);
    assert_eq!(
        err(br#"{"event":5}"#),
        ParseError::InvalidField {
            field: "event",
            expected: "a string",
            found: "number"
        }
    );
    assert_eq!(
        err(br#"{"api_version":"2026-06-01"}"#),
        ParseError::MissingField { field: "type" }
    );
    assert_eq!(
        err(br#"{"type":"call.completed","data":[1]}"#),
        ParseError::InvalidField {
            field: "data",
            expected: "an object",
            found: "array"
        }
    );
    let e = err(br#"{"type":"call.completed","data":"x"}"#);
    assert_eq!(
        e.to_string(),
        "field `data` is a JSON string, expected an object"
    );
    // null data on a known type is simply empty.
    assert!(WebhookEvent::from_json(br#"{"type":"call.completed","data":null}"#).is_ok());
    // serde integration: a parse error surfaces as a serde error.
    assert!(serde_json::from_str::<WebhookEvent>("[]").is_err());
    let e: WebhookEvent = serde_json::from_str(r#"{"event":"call.ringing"}"#).unwrap();
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"event":"call.ringing","data":{}})
    );
}

#[test]
fn flow_request() {
    let r = FlowRequest::from_json(br#"{"call_id":"cs_1"}"#).unwrap();
    assert_eq!(r.call_id, "cs_1");
    assert_eq!(
        (r.account_id, r.from_number, r.to_number, r.direction),
        (None, None, None, None)
    );
    let r = FlowRequest::from_json(
        br#"{"call_id":"cs_1","account_id":"acc","from_number":"+1","to_number":"+2","direction":"outbound","x":1}"#,
    )
    .unwrap();
    assert_eq!(r.direction, Some(Direction::Outbound));
    assert_eq!(r.from_number.as_deref(), Some("+1"));
    assert_eq!(r.to_number.as_deref(), Some("+2"));
    assert_eq!(r.extra["x"], 1);
    assert_eq!(FlowRequest::from_value(r.to_value()), Ok(r));
    let r: FlowRequest = serde_json::from_str(r#"{"call_id":"c","direction":"sideways"}"#).unwrap();
    assert_eq!(r.direction, Some(Direction::Other("sideways".into())));
    assert_eq!(
        FlowRequest::from_json(br#"{"account_id":"a"}"#),
        Err(ParseError::MissingField { field: "call_id" })
    );
    assert_eq!(
        FlowRequest::from_json(br#"{"call_id":null}"#),
        Err(ParseError::MissingField { field: "call_id" })
    );
    assert_eq!(
        FlowRequest::from_json(br#"{"call_id":12}"#),
        Err(ParseError::InvalidField {
            field: "call_id",
            expected: "a string",
            found: "number"
        })
    );
}

#[test]
fn verify_end_to_end() {
    let secret = WebhookSecret::new("whsec_e2e").unwrap();
    let v = Verifier::new(secret.clone());
    let body = br#"{"id":"evt_1","type":"call.completed","call_id":"cs_1","data":{"duration":3}}"#;
    let headers = secret.sign(1000, body).headers(SignatureEncoding::Base64);
    let e = v.verify(headers.clone(), body, 1000).unwrap();
    assert_eq!(e.id.as_deref(), Some("evt_1"));
    // Header values may be bytes, names any case (as from http::HeaderMap::iter()).
    let as_bytes: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_uppercase(), v.clone().into_bytes()))
        .collect();
    assert!(v.verify(as_bytes, body, 1000).is_ok());
    // A validly signed non-webhook body is a 400, a bad signature a 401.
    let junk = b"not json";
    let err = v
        .verify(
            secret.sign(1000, junk).headers(SignatureEncoding::Hex),
            junk,
            1000,
        )
        .unwrap_err();
    assert!(matches!(err, WebhookError::Parse(ParseError::Json(_))));
    assert_eq!(err.http_status(), 400);
    let err = v.verify(headers, b"{}", 1000).unwrap_err();
    assert_eq!(err, WebhookError::Signature(SignatureError::WrongSignature));
    assert_eq!(err.http_status(), 401);
    let none: [(&str, &str); 0] = [];
    assert_eq!(
        v.verify(none, body, 1000).unwrap_err(),
        WebhookError::Signature(SignatureError::MissingHeader {
            header: SIGNATURE_HEADER
        })
    );
}

fn arb_secret() -> impl Strategy<Value = String> {
    "whsec_[A-Za-z0-9]{1,40}"
}

proptest! {
    #[test]
    fn sign_verify_round_trip(
        secret in arb_secret(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        ts in 0u64..4_000_000_000,
        skew in -300i64..=300,
        base64 in any::<bool>(),
    ) {
        let s = WebhookSecret::new(secret).unwrap();
        let enc = if base64 { SignatureEncoding::Base64 } else { SignatureEncoding::Hex };
        let now = ts.saturating_add_signed(skew);
        prop_assume!(now.abs_diff(ts) <= 300);
        let v = Verifier::new(s.clone());
        prop_assert_eq!(v.verify_signature(s.sign(ts, &body).headers(enc), &body, now), Ok(()));
    }

    #[test]
    fn tampering_is_detected(
        secret in arb_secret(),
        other in arb_secret(),
        body in proptest::collection::vec(any::<u8>(), 1..256),
        ts in 1000u64..4_000_000_000,
        idx in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let s = WebhookSecret::new(secret.clone()).unwrap();
        let v = Verifier::new(s.clone());
        let sig = s.sign(ts, &body);
        let hex = sig.to_hex();

        let mut changed = body.clone();
        changed[idx.index(body.len())] ^= 1 << bit;
        prop_assert_eq!(v.verify_values(hex.as_bytes(), ts.to_string().as_bytes(), &changed, ts),
            Err(SignatureError::WrongSignature));

        let ts2 = ts - 1;
        prop_assert_eq!(v.verify_values(hex.as_bytes(), ts2.to_string().as_bytes(), &body, ts),
            Err(SignatureError::WrongSignature));

        let mut digest = hex.into_bytes();
        let i = idx.index(64);
        digest[i] = if digest[i] == b'0' { b'1' } else { b'0' };
        prop_assert_eq!(v.verify_values(&digest, ts.to_string().as_bytes(), &body, ts),
            Err(SignatureError::WrongSignature));

        prop_assume!(other != secret);
        let wrong = Verifier::new(WebhookSecret::new(other).unwrap());
        prop_assert_eq!(wrong.verify_signature(sig.headers(SignatureEncoding::Base64), &body, ts),
            Err(SignatureError::WrongSignature));
    }

    #[test]
    fn outside_tolerance_is_stale(ts in 0u64..4_000_000_000, off in 61u64..100_000, future in any::<bool>()) {
        let s = WebhookSecret::new("whsec_x").unwrap();
        let v = Verifier::new(s.clone()).with_tolerance(std::time::Duration::from_secs(60));
        let now = if future { ts.saturating_sub(off) } else { ts + off };
        prop_assume!(now.abs_diff(ts) > 60);
        let r = v.verify_signature(s.sign(ts, b"b").headers(SignatureEncoding::Hex), b"b", now);
        prop_assert_eq!(r, Err(SignatureError::StaleTimestamp { timestamp: ts, now, tolerance_secs: 60 }));
    }

    #[test]
    fn arbitrary_headers_never_panic_nor_pass(
        sig in proptest::collection::vec(any::<u8>(), 0..100),
        ts in proptest::collection::vec(any::<u8>(), 0..30),
        body in proptest::collection::vec(any::<u8>(), 0..50),
    ) {
        let v = Verifier::new(WebhookSecret::new("whsec_x").unwrap());
        prop_assert!(v.verify_values(&sig, &ts, &body, 0).is_err());
    }

    #[test]
    fn token_round_trip_and_tamper(
        call_id in ".{0,60}",
        exp in any::<u64>(),
        idx in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_.-]",
    ) {
        let key = UrlTokenKey::new("k".repeat(32)).unwrap();
        let token = key.mint(&call_id, exp);
        prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        let url = append_token("wss://h/ws?x=1", &token);
        let found = token_from_query(&url).unwrap_or("");
        prop_assert_eq!(key.verify_for_call(found, &call_id, exp),
            Ok(TokenClaims { call_id: call_id.clone(), expires_at: exp }));
        if exp < u64::MAX {
            prop_assert_eq!(key.verify(&token, exp + 1),
                Err(TokenError::Expired { expires_at: exp, now: exp + 1 }));
        }
        let i = idx.index(token.len());
        prop_assume!(token[i..=i] != replacement);
        let mut tampered = token.clone();
        tampered.replace_range(i..=i, &replacement);
        prop_assert!(key.verify(&tampered, 0).is_err(), "{} accepted", tampered);
    }

    #[test]
    fn arbitrary_tokens_never_panic_nor_pass(t in ".{0,200}") {
        let key = UrlTokenKey::new("k".repeat(32)).unwrap();
        prop_assert!(key.verify(&t, 0).is_err());
    }
}

/// JSON objects built from the known field names (and a stranger), with values of every
/// JSON type, nested once: whatever parses must write back to a body that reads back equal.
fn arb_body() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "event",
        "type",
        "api_version",
        "id",
        "occurred_at",
        "account_id",
        "call_app_id",
        "voice_app_id",
        "sip_trunk_id",
        "call_id",
        "leg_id",
        "from",
        "to",
        "start_time",
        "duration",
        "reason",
        "stream_id",
        "recording_id",
        "zzz",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(1.5)),
        prop::sample::select(vec![
            "call.completed",
            "call.failed",
            "stream.initiated",
            "recording.failed",
            "x.y",
            "2025-08-01",
            "2026-06-01",
            "2027-01-01",
            "12",
            "",
            "user_busy",
        ])
        .prop_map(Value::from),
    ];
    let inner = prop::collection::btree_map(key.clone(), leaf.clone(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    let value = prop_oneof![3 => leaf, 1 => inner, 1 => Just(json!([1]))];
    let data_key = prop::sample::select(vec!["data"]);
    prop::collection::btree_map(prop_oneof![4 => key, 1 => data_key], value, 0..9)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

proptest! {
    #[test]
    fn parsed_events_round_trip(body in arb_body()) {
        if let Ok(e) = WebhookEvent::from_value(body.clone()) {
            prop_assert_eq!(WebhookEvent::from_value(e.to_value()), Ok(e.clone()), "{}", body);
        }
        if let Ok(r) = FlowRequest::from_value(body.clone()) {
            prop_assert_eq!(FlowRequest::from_value(r.to_value()), Ok(r), "{}", body);
        }
        // And the fuzz check agrees on the same input.
        teler_core::webhook::fuzz_webhook(body.to_string().as_bytes());
    }
}
