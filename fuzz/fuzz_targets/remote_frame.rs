//! Any bytes as a frame from the remote, through the seed's ElevenLabs handler and the bridge.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| teler_core::fuzzing::remote_frame(
    std::time::Instant::now(),
    data
));
