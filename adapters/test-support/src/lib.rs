//! Test support shared by the adapters' test suites (not published): fake Teler and remote
//! peers on real sockets ([`peers`]), a scripted HTTP/1.1 server ([`loopback`]), a TLS
//! HTTP server ([`tls_server`]), and the test cases every adapter runs, as macros that an
//! adapter's test file invokes ([`bridge_cases!`], [`backpressure_cases!`], [`serve_cases!`],
//! [`async_rest_cases!`], [`async_fleet_cases!`]), and a real `redis-server` ([`redis`]).
#![allow(missing_debug_implementations, missing_docs)]

pub mod contract;
pub mod loopback;
pub mod observe;
pub mod peers;
pub mod redis;
pub mod tls_server;

mod cases {
    mod async_rest;
    mod backpressure;
    mod bridge;
    mod control;
    mod fleet;
    mod observe;
    mod serve;
}
