//! The whole story (issue: a local Teler): emulator, stand-in agent and the seed app on real
//! sockets; a call placed through the app's `/initiate-call` with the REST client; the flow,
//! audio both ways, signed webhooks verified by the app, the end, and the caller-side WAV.

use std::time::Duration;

use teler_core::media::EndReason;
use teler_emulator::{Pcm, WebhookVersion};
use teler_examples::story::{self, StoryOptions};

fn run(version: WebhookVersion, dir: &str) -> story::StoryReport {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = StoryOptions {
        call_duration: Duration::from_secs(4),
        speed: 2.0,
        output_dir: std::env::temp_dir()
            .join(format!("teler-story-test-{dir}-{}", std::process::id())),
        webhook_version: version,
        log: false,
    };
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), story::run(opts))
            .await
            .expect("the story did not finish in 60 s")
            .expect("the story failed")
    })
}

fn check(report: &story::StoryReport) {
    let c = &report.call;
    let text = report.to_text();
    assert_eq!(c.state.as_str(), "completed", "{text}");
    assert_eq!(c.reason.as_deref(), Some("call_duration_elapsed"), "{text}");
    assert!(c.errors.is_empty(), "{text}");
    // The call was placed with a flow URL carrying a flow token; the flow was fetched from
    // the app and its stream action followed (with a media token).
    let flow_url = c.properties["flow_url"].as_str().unwrap_or_default();
    assert!(flow_url.contains("/flow?teler_token=v1."), "{flow_url}");
    assert_eq!(c.media.chunk_size_ms, Some(500), "{text}");
    let ws_url = c.media.ws_url.as_deref().unwrap_or_default();
    assert!(ws_url.contains("/media-stream?teler_token=v1."), "{ws_url}");
    // `start`, then 4 s of caller audio in 500 ms frames, all relayed to the agent.
    assert_eq!(c.media.frames_sent, 1 + 8, "{text}");
    assert_eq!(report.bridge.stats.from_teler.relayed_frames, 8, "{text}");
    assert!(report.agent_messages_in >= 8, "{text}");
    // The agent's greeting was interrupted by the caller (a clear reached Teler), and its
    // echo of the caller came back as audio.
    assert!(report.agent_interruptions >= 1, "{text}");
    assert!(c.media.clears >= 1, "{text}");
    assert!(c.media.audio_chunks >= 4, "{text}");
    assert!(c.media.played_ms >= 1000, "{text}");
    assert!(
        matches!(report.bridge.reason, EndReason::TelerHungUp(_)),
        "{text}"
    );
    // Every webhook was signed, accepted (200) and verified by the app, in order.
    let sent: Vec<&str> = c.webhooks.iter().map(|w| w.event.as_str()).collect();
    assert!(c.webhooks.iter().all(|w| w.status == Some(200)), "{text}");
    for ev in [
        "call.initiated",
        "call.answered",
        "stream.initiated",
        "call.completed",
    ] {
        assert!(sent.contains(&ev), "{ev} not sent: {text}");
    }
    assert_eq!(report.webhooks_received, sent, "{text}");
    // The caller-side audio is in a WAV file with sound in it.
    let wav = c.media.output_wav.as_deref().expect("no output wav");
    let pcm = Pcm::read(std::path::Path::new(wav)).unwrap();
    assert_eq!(pcm.sample_rate, 8000);
    assert!(
        pcm.samples.iter().any(|&s| s.unsigned_abs() > 1000),
        "{wav} is silent"
    );
}

#[test]
fn the_whole_story_2026_06_01() {
    check(&run(WebhookVersion::V2026_06_01, "new"));
}

#[test]
fn the_whole_story_2025_08_01() {
    check(&run(WebhookVersion::V2025_08_01, "old"));
}
