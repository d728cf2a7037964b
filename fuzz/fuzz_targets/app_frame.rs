//! Any bytes as an app -> Teler frame, read the way Teler (and the emulator) reads it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| teler_core::fuzzing::app_frame(data));
