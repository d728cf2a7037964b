//! Replays the webhook fuzz target's logic over its committed seed corpus, so `cargo test`
//! runs the same invariants `cargo fuzz run webhook` checks (without needing cargo-fuzz).

use std::path::Path;

#[test]
fn replay_fuzz_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/webhook");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("readable corpus entry").path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| teler_core::webhook::fuzz_webhook(&data));
        assert!(outcome.is_ok(), "fuzz check failed on {}", path.display());
        replayed += 1;
    }
    // The seed corpus is committed with 10 files; cargo fuzz may add more (never fewer).
    assert!(
        replayed >= 10,
        "only {replayed} corpus files in {}",
        dir.display()
    );
}

/// Edge inputs the seed corpus lacks: empty, bare separators, invalid UTF-8, JSON non-objects.
#[test]
fn fuzz_check_runs_on_edge_inputs() {
    for data in [
        &b""[..],
        b"\n",
        b"\n\n",
        b"{}",
        b"\xff\xfe",
        b"null",
        b"a,b,c,d,e,f",
    ] {
        teler_core::webhook::fuzz_webhook(data);
    }
}
