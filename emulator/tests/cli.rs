//! The `teler-emulator` binary: help, bad options, runtime errors, a load run's exit code
//! and JSON.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary; kills it (and fails) if it takes more than 20 s.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_teler-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("teler-emulator {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn help_and_bad_options() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for s in [
        "serve",
        "agent",
        "load",
        "--webhook-version",
        "--connect",
        "--calls",
        "--protocol",
        "--socket-call-id",
        "--webhook-attempts",
        "--webhook-backoff",
        "--webhook-duplicates",
        "--balance",
    ] {
        assert!(text.contains(s), "help mentions {s}");
    }
    let out = run(&["serve", "--nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option \"--nope\""));
    let out = run(&["load", "--streams", "1"]);
    assert_eq!(out.status.code(), Some(2), "load needs a target");
    let out = run(&["serve", "--webhook-version", "2024-01-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown webhook version"));
    let out = run(&["serve", "--socket-call-id", "guid"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown socket call id form"));
    let out = run(&["serve", "--webhook-attempts", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("webhook_attempts must be from 1 to 10"));
    let out = run(&["serve", "--balance", "127.0.0.1:8081,https://h:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http:// and ws:// only"));
    let out = run(&["agent", "--protocol", "nonesuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown agent protocol \"nonesuch\""));
}

#[test]
fn load_against_a_refusing_target_reports_and_fails() {
    let out = run(&[
        "load",
        "--connect",
        "ws://127.0.0.1:9/",
        "--streams",
        "3",
        "--duration",
        "0.1",
        "--no-progress",
        "--json",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(1), "errors make the exit code 1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("streams: 3 requested, 0 connected"),
        "{stdout}"
    );
    let json_start = stdout.find('{').unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    assert_eq!(v["errors"], 3);
}

#[test]
fn a_runtime_error_is_one_line_without_the_usage() {
    // The port is taken: serve and agent cannot listen on it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let missing = std::env::temp_dir().join(format!("teler-cli-{}-none.wav", std::process::id()));
    let missing = missing.to_str().unwrap();
    for (args, says) in [
        (
            vec!["serve", "--quiet", "--addr", &addr],
            "cannot listen on",
        ),
        (vec!["agent", "--addr", &addr], "cannot listen on"),
        (
            vec![
                "serve",
                "--quiet",
                "--addr",
                "127.0.0.1:0",
                "--audio",
                missing,
            ],
            missing,
        ),
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(
            stderr.starts_with("teler-emulator: error: ") && stderr.contains(says),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("USAGE") && !stderr.contains("--webhook-version"),
            "{args:?}: no usage text: {stderr}"
        );
    }
    drop(taken);
}
