//! The Rust builders produce exactly the JSON of FreJun's Python SDK 1.0.0 `CallFlow` for the
//! same inputs (golden file made by `golden/make_flow_golden.py` with the real package).

use std::collections::BTreeMap;

use teler_core::flow::{Action, CallFlow, DialRecord, NestedAction, Ringback, SampleRate};

fn golden() -> BTreeMap<String, String> {
    serde_json::from_str(include_str!("golden/flow_python_1_0_0.json")).unwrap()
}

fn rust_cases() -> BTreeMap<&'static str, Action> {
    let play = |u: &str, l: Option<bool>| NestedAction::Play {
        media_url: u.to_owned(),
        loop_: l,
    };
    let mut m = BTreeMap::new();
    m.insert(
        "stream_defaults",
        CallFlow::stream("wss://example.com/media-stream")
            .build()
            .unwrap(),
    );
    m.insert(
        "stream_seed",
        CallFlow::stream("wss://voice.example.com/media-stream")
            .chunk_size(500)
            .record(true)
            .build()
            .unwrap(),
    );
    m.insert(
        "stream_16k_no_record",
        CallFlow::stream("ws://h:8080/ws?token=a%20b&x=1")
            .sample_rate(SampleRate::K16)
            .chunk_size(20)
            .record(false)
            .build()
            .unwrap(),
    );
    m.insert(
        "play",
        CallFlow::play("https://cdn.example.com/hello.mp3")
            .build()
            .unwrap(),
    );
    m.insert(
        "play_next_flow",
        CallFlow::play("https://cdn.example.com/hello.mp3")
            .flow_url("https://app.example.com/next")
            .build()
            .unwrap(),
    );
    m.insert("hangup", CallFlow::hangup());
    m.insert(
        "dial_defaults",
        CallFlow::dial("+14155550100").build().unwrap(),
    );
    m.insert(
        "dial_sip_full",
        CallFlow::dial("sip:alice@pbx.example.com")
            .timeout(600)
            .record(DialRecord::PerLeg)
            .custom_header("X-Ticket", "42")
            .custom_header("X-Team", "support")
            .status_callback_url("https://app.example.com/dial-status")
            .ringback(Ringback::Suppress)
            .dial_music(play("https://cdn.example.com/hold.mp3", Some(true)))
            .confirm_sound(play("https://cdn.example.com/beep.mp3", None))
            .on_no_answer(NestedAction::hangup())
            .on_busy(play("https://cdn.example.com/busy.mp3", Some(false)))
            .on_failure(NestedAction::hangup())
            .build()
            .unwrap(),
    );
    m.insert(
        "dial_record_true",
        CallFlow::dial("+442071838750")
            .timeout(1)
            .record(true)
            .build()
            .unwrap(),
    );
    m.insert(
        "dial_record_stereo_unicode",
        CallFlow::dial("+919876543210")
            .record(DialRecord::Stereo)
            .custom_header("X-Name", "Zoë ☎")
            .build()
            .unwrap(),
    );
    m
}

#[test]
fn every_case_matches_the_python_sdk_byte_for_byte() {
    let golden = golden();
    let ours = rust_cases();
    assert_eq!(
        golden.keys().map(String::as_str).collect::<Vec<_>>(),
        ours.keys().copied().collect::<Vec<_>>(),
        "the same cases on both sides"
    );
    for (name, action) in ours {
        assert_eq!(action.to_json(), golden[name], "case {name}");
        // And Teler's side of the wire reads it back to the same value.
        assert_eq!(
            Action::from_json(&golden[name]).unwrap(),
            action,
            "case {name}"
        );
    }
}
