//! The dev phone and call inspector in a real browser: headless Chromium over WebDriver
//! (chromedriver, driven with fantoccini), a WAV file as its microphone. One call from the
//! page through the `bridge_tokio` example to the emulator's echo stand-in agent.
//!
//! Needs `chromium` and `chromium-driver` (Debian) and the `bridge_tokio` example built
//! (`cargo test --workspace` builds it; or `cargo build -p teler-examples --example
//! bridge_tokio`). Without them the test is skipped with a loud message, except under CI
//! (`CI` set), where it fails. `TELER_UPDATE_SCREENSHOT=1` also writes the screenshot to
//! `docs/inspector.png`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use teler_emulator::{Emulator, Pcm};

const KEY: &str = "browser-test-api-key-2b9e";
const SECRET: &str = "whsec_browser_test_secret_c41d";
/// The microphone's tone; the agent's greeting is 660 Hz.
const MIC_HZ: f64 = 440.0;
/// Everything in this test is bounded by this.
const WATCHDOG: Duration = Duration::from_secs(120);

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            candidates
                .iter()
                .filter(|c| !c.contains('/'))
                .flat_map(|c| std::env::split_paths(&path).map(move |d| d.join(c)))
                .find(|p| p.is_file())
        })
}

/// Skips the test with a loud message, or fails it under CI.
fn missing(what: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    let msg = format!(
        "\n\n*** browser test SKIPPED: {what}\n*** install with: apt-get install -y chromium chromium-driver, and build the example with: cargo build -p teler-examples --example bridge_tokio\n"
    );
    if ci {
        panic!("{msg}(under CI a missing browser is a failure)");
    }
    eprintln!("{msg}");
}

/// `bridge_tokio`, next to this test's binary (`target/debug/examples/`).
fn bridge_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?; // target/debug/deps -> target/debug
    let p = dir.join("examples").join("bridge_tokio");
    p.is_file().then_some(p)
}

/// Kills a child process on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_listening(port: u16, what: &str, child: &mut Proc) {
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The microphone: 2.5 s of the tone, then 1.5 s of silence (Chromium loops the file).
fn write_mic(path: &Path) {
    let rate = 48_000u32;
    let mut samples: Vec<i16> = (0..(rate as usize * 5 / 2))
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * MIC_HZ * i as f64 / f64::from(rate)).sin())
                as i16
        })
        .collect();
    samples.extend(std::iter::repeat_n(0, rate as usize * 3 / 2));
    std::fs::write(
        path,
        Pcm {
            sample_rate: rate,
            samples,
        }
        .to_wav_bytes(),
    )
    .unwrap();
}

/// Evaluates `expr` in the page (as a function body's `return`), as JSON.
async fn js(c: &Client, expr: &str) -> Value {
    c.execute(&format!("return {expr};"), vec![]).await.unwrap()
}

/// Polls `expr` until it is truthy; `what` names it for the watchdog's message.
async fn until(c: &Client, expr: &str, what: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        let v = js(c, expr).await;
        if !(v.is_null() || v == json!(false)) {
            return v;
        }
        assert!(
            started.elapsed() < WATCHDOG,
            "waited {WATCHDOG:?} for {what}; phone: {}",
            js(c, "JSON.stringify(window.phone)").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_from_the_browser_through_bridge_tokio_to_the_echo_agent() {
    let Some(driver) = find(&[
        "/usr/bin/chromedriver",
        "/usr/lib/chromium/chromedriver",
        "chromedriver",
    ]) else {
        return missing("no chromedriver");
    };
    let Some(browser) = find(&[
        "/usr/lib/chromium/chromium",
        "/usr/bin/chromium",
        "chromium",
        "google-chrome",
    ]) else {
        return missing("no chromium");
    };
    let Some(bridge) = bridge_binary() else {
        return missing("the bridge_tokio example is not built");
    };
    tokio::time::timeout(WATCHDOG * 3, run(driver, browser, bridge))
        .await
        .expect("the browser test took too long");
}

async fn run(driver: PathBuf, browser: PathBuf, bridge: PathBuf) {
    let work = std::env::temp_dir().join(format!("teler-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let mic = work.join("mic.wav");
    write_mic(&mic);

    // Teler (the emulator, with its inspector), the echo agent, the bridge.
    let emu = Emulator::builder()
        .api_key(KEY)
        .secret(SECRET)
        .inspector(true)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    // The echo comes back in 2 s chunks, so the echo of a turn's end arrives after the
    // caller has gone quiet (as a real agent's answer does) and the page measures a turn.
    let agent = teler_emulator::agent::serve_with(
        "127.0.0.1:0",
        teler_emulator::agent::AgentConfig {
            chunk_ms: 2000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bridge_port = free_port();
    let bridge_url = format!("http://127.0.0.1:{bridge_port}");
    let mut bridge = Proc(
        Command::new(&bridge)
            .env_clear()
            .env("BIND_ADDR", format!("127.0.0.1:{bridge_port}"))
            .env("BACKEND_DOMAIN", &bridge_url)
            .env("REMOTE_WS_URL", agent.url())
            .env("TELER_WEBHOOK_SECRET", SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bridge_tokio"),
    );
    wait_listening(bridge_port, "bridge_tokio", &mut bridge).await;

    let driver_port = free_port();
    let mut chromedriver = Proc(
        Command::new(&driver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    wait_listening(driver_port, "chromedriver", &mut chromedriver).await;
    let profile = work.join("profile");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": browser,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                format!("--use-file-for-fake-audio-capture={}", mic.display()),
                "--autoplay-policy=no-user-gesture-required",
                "--window-size=1200,1000",
            ],
        },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session");

    let r = session(&c, &emu, &bridge_url, &work).await;
    let _ = c.close().await;
    drop(chromedriver);
    drop(bridge);
    let _ = std::fs::remove_dir_all(&work);
    r
}

async fn session(c: &Client, emu: &teler_emulator::EmulatorHandle, bridge_url: &str, work: &Path) {
    // The one-time link logs in and lands on the page.
    c.goto(&emu.inspector_url().unwrap()).await.unwrap();
    until(
        c,
        "window.inspector && window.inspector.feed === 'live'",
        "the live feed",
    )
    .await;
    assert!(!c.current_url().await.unwrap().as_str().contains("token="));

    c.execute(
        "document.querySelector('#flow-url').value = arguments[0];
         document.querySelector('#callback-url').value = arguments[1];
         document.querySelector('#aec').checked = false;",
        vec![
            json!(format!("{bridge_url}/flow")),
            json!(format!("{bridge_url}/webhook")),
        ],
    )
    .await
    .unwrap();
    c.find(Locator::Css("#dial"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(c, "window.phone.status === 'on call'", "the call to start").await;
    let id = js(c, "window.phone.callId")
        .await
        .as_str()
        .unwrap()
        .to_owned();

    // Barge-in: the agent's greeting (660 Hz) was queued when the caller's first loud
    // frame interrupted it; the bridge sent `clear`, which emptied the page's queue.
    let clear = until(c, "window.phone.clears[0]", "a clear").await;
    assert!(
        clear["flushed_chunks"].as_u64().unwrap() >= 1,
        "nothing was queued to flush: {clear}"
    );
    assert_eq!(clear["queued_after"], 0, "{clear}");
    let greeting = until(
        c,
        "window.phone.played.find(p => p.rms > 1000)",
        "the greeting to play",
    )
    .await;
    let g = greeting["freq_hz"].as_f64().unwrap();
    assert!((g - 660.0).abs() < 660.0 * 0.05, "greeting at {g} Hz");

    // The echo of the microphone reaches the speaker at the microphone's pitch.
    let echo = until(
        c,
        "window.phone.played.find(p => p.rms > 1000 && Math.abs(p.freq_hz - 440) < 44)",
        "the echo of the 440 Hz microphone",
    )
    .await;
    eprintln!("echo played: {echo}");
    // A turn: the microphone goes quiet for 1.5 s; the echo of its last loud audio follows.
    let latency = until(c, "window.phone.latencies[0]", "a turn's latency").await;
    eprintln!("turn latency: {latency} ms");

    // The inspector shows the call, its flow and its webhooks, live.
    until(
        c,
        "(() => { const v = window.inspector.calls.get(arguments[0]); return v && v.call.webhooks.some(h => h.event === 'stream.initiated' && h.status === 200); })()"
            .replace("arguments[0]", &format!("'{id}'"))
            .as_str(),
        "stream.initiated in the inspector",
    )
    .await;
    // (The list is redrawn on every update: click in the page, not on a stale element.)
    c.execute(
        "document.querySelector(`tr[data-id='${arguments[0]}']`).click()",
        vec![json!(id)],
    )
    .await
    .unwrap();
    until(
        c,
        "window.inspector.detail && window.inspector.detail.log.flows.length > 0",
        "the call's detail",
    )
    .await;
    let flow = js(c, "window.inspector.detail.log.flows[0]").await;
    assert_eq!(flow["status"], 200);
    assert!(
        flow["answer"]
            .as_str()
            .unwrap()
            .contains("\"action\":\"stream\""),
        "{flow}"
    );
    let rows = js(
        c,
        "document.querySelectorAll('#d-webhooks tbody tr').length",
    )
    .await;
    assert!(rows.as_u64().unwrap() >= 4, "webhook rows: {rows}");
    let screenshot = c.screenshot().await.unwrap();
    let target_shot = work.parent().unwrap().join("teler-inspector.png");
    std::fs::write(&target_shot, &screenshot).unwrap();
    eprintln!("screenshot: {}", target_shot.display());
    if std::env::var("TELER_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/inspector.png");
        std::fs::write(&docs, &screenshot).unwrap();
        eprintln!("screenshot written to {}", docs.display());
    }

    // Hang up: the call ends, every webhook is delivered and verified by the bridge (2xx).
    c.find(Locator::Css("#hangup"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let ended = until(c, "window.phone.ended", "the call to end").await;
    assert_eq!(ended["reason"], "caller_hangup", "{ended}");
    let call = tokio::time::timeout(WATCHDOG, emu.wait_for_call_end(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.state.as_str(), "completed");
    let events: Vec<&str> = call.webhooks.iter().map(|w| w.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "call.initiated",
            "call.ringing",
            "call.answered",
            "stream.initiated",
            "stream.completed",
            "call.completed"
        ]
    );
    assert!(
        call.webhooks.iter().all(|w| w.status == Some(200)),
        "{:?}",
        call.webhooks
    );
    assert!(call.media.clears >= 1);

    // The recordings download from the page's links.
    until(
        c,
        "document.querySelector('#dl-heard')",
        "the recording links",
    )
    .await;
    for link in ["#dl-caller", "#dl-heard"] {
        let got = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(document.querySelector(arguments[0]).href)
                   .then(r => r.arrayBuffer().then(b => done({ status: r.status, type: r.headers.get('content-type'), len: b.byteLength,
                      riff: String.fromCharCode(...new Uint8Array(b.slice(0, 4))) })))
                   .catch(e => done({ error: String(e) }));",
                vec![json!(link)],
            )
            .await
            .unwrap();
        assert_eq!(got["status"], 200, "{link}: {got}");
        assert_eq!(got["riff"], "RIFF", "{link}: {got}");
        assert!(got["len"].as_u64().unwrap() > 8000, "{link}: {got}");
    }

    // Nothing secret reached the page: its HTML, its state, what its API gave it.
    let page = c.source().await.unwrap();
    let state = js(c, "JSON.stringify({ calls: [...window.inspector.calls.values()], detail: window.inspector.detail, phone: window.phone })").await;
    for text in [page.as_str(), state.as_str().unwrap()] {
        for secret in [KEY, SECRET] {
            assert!(!text.contains(secret), "the page shows {secret:?}");
        }
    }
}
