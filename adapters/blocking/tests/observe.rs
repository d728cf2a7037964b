//! The `teler.call` span and the metrics of a real call (a test binary of its own: the test
//! subscriber and recorder are process-wide).

mod common;

teler_test_support::observe_cases!(teler_blocking);
