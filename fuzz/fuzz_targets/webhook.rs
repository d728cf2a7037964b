//! Webhook bodies, flow requests, signature headers and URL tokens.
//!
//! Input layout and invariants: see `teler_core::webhook::fuzz_webhook`. The seed corpus in
//! `fuzz/corpus/webhook/` is replayed by `cargo test` (core/tests/webhook_corpus.rs).
//! Run: `cargo fuzz run -s none webhook fuzz/corpus/webhook`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    teler_core::webhook::fuzz_webhook(data);
});
