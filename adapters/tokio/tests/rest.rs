//! The tokio REST client against a real HTTP server on 127.0.0.1: a representative set of
//! endpoints, answers, errors, redirects and download, retries, timeouts, keep-alive.

use teler_test_support::loopback;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use loopback::{Reply, Server, refused_base_url, with_deadline};
use serde_json::json;
use teler::rest::recordings::GetRecording;
use teler::rest::sip::*;
use teler::rest::voice::*;
use teler::rest::*;
use teler_tokio as teler;

const KEY: &str = "test-key-0123456789";
const RUNTIME: &str = "tokio";

/// Runs a test body on a fresh current-thread runtime, within a hard deadline.
fn run<F, Fut>(secs: u64, f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    with_deadline(secs, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    });
}

teler_test_support::async_rest_cases!();

/// A user's own transport: counts exchanges and delegates the bytes to hyper.
struct Counting {
    inner: HyperTransport,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl AsyncTransport for Counting {
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.send(req)
    }
}

#[test]
fn a_custom_transport_carries_requests_and_buffered_downloads() {
    run(30, || async {
        let server = Server::start();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = AsyncClient::builder(KEY)
            .base_url(server.base_url())
            .retry(
                RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(2)),
            )
            .transport(Counting {
                inner: HyperTransport::new(Duration::from_secs(5)),
                sent: sent.clone(),
            })
            .build()
            .unwrap();
        server.push(Reply::json(503, "{}"));
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_1").await.unwrap().id, "cs_1");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2);
        server.push(Reply::empty(307).header("Location", &format!("{}/s/a", server.origin())));
        let rec = c
            .recordings()
            .retrieve(GetRecording::new("rec_1"))
            .await
            .unwrap();
        server.push(Reply::empty(302).header("Location", &format!("{}/s/b", server.origin())));
        server.push(Reply::bytes(200, b"RIFF....WAVE".to_vec()));
        let mut out: Vec<u8> = Vec::new();
        assert_eq!(c.download_recording(&rec, &mut out).await.unwrap(), 12);
        assert_eq!(out, b"RIFF....WAVE");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 5);
    });
}
