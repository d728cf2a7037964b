//! The whole story in one command, no account, no internet:
//!
//! ```text
//! cargo run -p teler-examples --example story
//! ```
//!
//! Starts a local Teler (the emulator), a stand-in ElevenLabs agent and the seed's sample
//! app (`seed_app`) on 127.0.0.1; places a call through the app's `/initiate-call` (the REST
//! client, pointed at the emulator); Teler fetches the flow, streams the caller's audio to
//! the app, which bridges it to the agent and the agent's audio back; signed webhooks arrive
//! and are verified; the call ends after `STORY_SECONDS` (default 6) and a summary prints,
//! with the caller-side audio written to a WAV file.
use std::time::Duration;

use teler_examples::story::{self, StoryOptions};

#[tokio::main]
async fn main() {
    let mut opts = StoryOptions::default();
    if let Some(secs) = std::env::var("STORY_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        opts.call_duration = Duration::from_secs(secs.clamp(1, 600));
    }
    if let Some(dir) = std::env::var_os("STORY_OUTPUT_DIR") {
        opts.output_dir = dir.into();
    }
    eprintln!(
        "story: emulator + agent + seed_app on 127.0.0.1, one {} s call",
        opts.call_duration.as_secs()
    );
    match story::run(opts).await {
        Ok(report) => {
            println!("\n{}", report.to_text());
            let ok = report.call.state.as_str() == "completed" && report.call.errors.is_empty();
            std::process::exit(if ok { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("story failed: {e}");
            std::process::exit(1);
        }
    }
}
