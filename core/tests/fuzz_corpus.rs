//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same entry points
//! the cargo-fuzz targets call, so plain `cargo test` checks every seed and every finding
//! that was added to the corpus.

use std::path::PathBuf;
use std::time::Instant;

use arbitrary::{Arbitrary, Unstructured};
use teler_core::fuzzing::{self, Op, Setup};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn teler_frame_corpus() {
    for (_, data) in corpus("teler_frame") {
        fuzzing::teler_frame(Instant::now(), &data);
    }
}

#[test]
fn remote_frame_corpus() {
    for (_, data) in corpus("remote_frame") {
        fuzzing::remote_frame(Instant::now(), &data);
    }
}

#[test]
fn session_corpus() {
    for (path, data) in corpus("session") {
        // The same decoding libfuzzer-sys applies to the target's `(Setup, Vec<Op>)` input.
        let Ok((setup, ops)) = <(Setup, Vec<Op>)>::arbitrary_take_rest(Unstructured::new(&data))
        else {
            panic!("{} does not decode", path.display());
        };
        fuzzing::session(Instant::now(), &setup, &ops);
    }
}

#[test]
fn app_frame_corpus() {
    for (_, data) in corpus("app_frame") {
        fuzzing::app_frame(&data);
    }
}

#[test]
fn agent_handlers_corpus() {
    for (_, data) in corpus("agent_handlers") {
        fuzzing::agent_handlers(Instant::now(), &data);
    }
}

#[test]
fn fleet_bus_corpus() {
    let mut parsed = 0;
    for (_, data) in corpus("fleet_bus") {
        fuzzing::fleet_bus(&data);
        let bus = teler_core::fleet::BusMessage::parse(&data).is_ok();
        let entry = teler_core::fleet::CallEntry::parse(&data).is_ok();
        parsed += usize::from(bus || entry);
    }
    assert!(parsed >= 3, "the seeds are valid messages");
}
