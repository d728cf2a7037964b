//! Any bytes as a message from the fleet's shared store (a bus message, a directory entry).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| teler_core::fuzzing::fleet_bus(data));
