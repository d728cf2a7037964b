//! The async fleet client on smol (no tokio runtime) against a real `redis-server` (started
//! per test on a free 127.0.0.1 port, persistence off).

mod common;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    smol::block_on(f)
}

teler_test_support::async_fleet_cases!(teler_smol, block_on);
