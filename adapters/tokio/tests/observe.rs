//! The `teler.call` span and the metrics of a real call (a test binary of its own: the test
//! subscriber and recorder are process-wide).

mod common;

teler_test_support::observe_cases!(teler_tokio, |base| {
    let client = teler_tokio::rest::AsyncClient::builder(teler_test_support::contract::KEY)
        .base_url(base)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(client.voice().calls().retrieve("cs_rest"))
        .unwrap();
});
