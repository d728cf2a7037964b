//! Any bytes as a frame from Teler: the parser and the bridge must never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| teler_core::fuzzing::teler_frame(
    std::time::Instant::now(),
    data
));
