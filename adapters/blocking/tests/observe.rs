//! The `teler.call` span and the metrics of a real call (a test binary of its own: the test
//! subscriber and recorder are process-wide).

mod common;

teler_test_support::observe_cases!(teler_blocking, |base| {
    let client = teler_blocking::rest::Client::builder(teler_test_support::contract::KEY)
        .base_url(base)
        .build()
        .unwrap();
    client.voice().calls().retrieve("cs_rest").unwrap();
});
