//! An `Arbitrary` sequence of session inputs from both sides and the clock, with the
//! session's invariants checked after every input.
#![no_main]
use teler_core::fuzzing::{Op, Setup, session};

libfuzzer_sys::fuzz_target!(|input: (Setup, Vec<Op>)| session(
    std::time::Instant::now(),
    &input.0,
    &input.1
));
