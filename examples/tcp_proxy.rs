//! A benchmark floor: a byte-copying TCP proxy, no WebSocket or JSON work at all.
//!
//! Listens on `BIND_ADDR` (default `127.0.0.1:8080`) and copies bytes both ways to
//! `UPSTREAM_ADDR` (`host:port`) with `tokio::io::copy_bidirectional`, one task per
//! connection on a `current_thread` runtime. `bench/run.py` points the load generator
//! through it at the stand-in agent's Teler echo path (`ws://PROXY/teler`), so the same
//! frames cross one extra process doing only the socket work.
//!
//! ```text
//! UPSTREAM_ADDR=127.0.0.1:8090 BIND_ADDR=127.0.0.1:8081 \
//!     cargo run --release -p teler-examples --example tcp_proxy
//! ```
use tokio::net::{TcpListener, TcpStream};

async fn proxy(mut inbound: TcpStream, upstream: String) {
    let _ = inbound.set_nodelay(true);
    let mut outbound = match TcpStream::connect(upstream.as_str()).await {
        Ok(s) => s,
        Err(e) => return tracing::warn!("cannot reach {upstream}: {e}"),
    };
    let _ = outbound.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    teler_examples::init_logging();
    let bind_addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let Ok(upstream) = std::env::var("UPSTREAM_ADDR") else {
        tracing::error!("tcp_proxy: set UPSTREAM_ADDR (host:port)");
        std::process::exit(2);
    };
    let listener = match TcpListener::bind(&bind_addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("tcp_proxy: cannot listen on {bind_addr}: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!("tcp_proxy listening on {bind_addr}, upstream {upstream}");
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(proxy(tcp, upstream.clone()));
            }
            Err(e) => tracing::warn!("accept failed: {e}"),
        }
    }
}
