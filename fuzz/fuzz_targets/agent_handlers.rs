//! Every vendor's handler pair (the first byte picks the vendor): a Teler frame and a vendor
//! frame, through the handlers alone and through a bridge.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| teler_core::fuzzing::agent_handlers(
    std::time::Instant::now(),
    data
));
