//! The `teler.call` span and the metrics of a real call (a test binary of its own: the test
//! subscriber and recorder are process-wide).

mod common;

teler_test_support::observe_cases!(teler_smol, |base| {
    let client = teler_smol::rest::AsyncClient::builder(teler_test_support::contract::KEY)
        .base_url(base)
        .build()
        .unwrap();
    smol::block_on(client.voice().calls().retrieve("cs_rest")).unwrap();
});
