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
//! and are verified; the call ends after `STORY_SECONDS` (whole seconds, 1 to 600; default
//! 6) and a summary prints, with the caller-side audio written to a WAV file.
use teler_examples::story::{self, StoryOptions};

#[tokio::main]
async fn main() {
    teler_examples::init_logging();
    let mut opts = StoryOptions::default();
    let seconds = std::env::var_os("STORY_SECONDS").map(|v| v.to_string_lossy().into_owned());
    match story::story_seconds(seconds.as_deref()) {
        Ok(Some(d)) => opts.call_duration = d,
        Ok(None) => {}
        Err(e) => {
            tracing::error!("story: {e}");
            std::process::exit(2);
        }
    }
    if let Some(dir) = std::env::var_os("STORY_OUTPUT_DIR") {
        opts.output_dir = dir.into();
    }
    tracing::info!(
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
            tracing::error!("story failed: {e}");
            std::process::exit(1);
        }
    }
}
