//! The async fleet client on tokio against a real `redis-server` (started per test on a
//! free 127.0.0.1 port, persistence off).

mod common;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
    .block_on(f)
}

teler_test_support::async_fleet_cases!(teler_tokio, block_on);
