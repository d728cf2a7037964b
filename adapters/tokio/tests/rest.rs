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

/// A vendor's pre-socket request goes through the client's transport with the vendor's key
/// only (neither the Teler key nor the client's extra headers), and its failures come back
/// as typed errors: the vendor's, the body limit's, the network's.
#[test]
fn vendor_requests_carry_the_vendor_key_only_and_fail_typed() {
    use teler::agents::{sarvam, ultravox};
    run(30, || async {
        let server = Server::start();
        let c = AsyncClient::builder(KEY)
            .base_url(server.base_url())
            .header("X-Teler-Extra", "teler-only")
            .retry(
                RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5)),
            )
            .timeout(Duration::from_secs(5))
            .max_response_size(1024)
            .build()
            .unwrap();
        let no_teler_secrets = |r: &loopback::Recorded| {
            assert!(
                r.headers
                    .iter()
                    .all(|(n, v)| v != KEY && n != "x-teler-extra"),
                "{r:?}"
            );
        };

        // Ultravox: POST, the vendor's key in X-API-Key, the joinUrl back.
        server.push(Reply::json(
            201,
            r#"{"callId":"c1","joinUrl":"wss://voice.example/c1"}"#,
        ));
        let create = || {
            ultravox::CreateCall::new("uv-key", &ultravox::Config::default())
                .unwrap()
                .base_url(server.base_url())
        };
        // Spawnable: the future is Send.
        fn send_future<F: Future + Send>(f: F) -> F {
            f
        }
        assert_eq!(
            send_future(c.vendor(create())).await.unwrap(),
            "wss://voice.example/c1"
        );
        let r = server.only();
        assert_eq!((r.method.as_str(), r.path()), ("POST", "/api/v1/calls"));
        assert_eq!(r.header("x-api-key"), Some("uv-key"));
        assert_eq!(
            r.json()["medium"]["serverWebSocket"]["inputSampleRate"],
            8000
        );
        no_teler_secrets(&r);

        // Sarvam: GET, the signed URL back with the socket's query; a 503 is retried (GET).
        server.clear();
        server.push(Reply::json(503, "{}"));
        server.push(Reply::json(
            200,
            r#"{"url":"wss://rt.example/s?sig=x","reference_id":"r"}"#,
        ));
        let app = sarvam::Config {
            org_id: "o".into(),
            workspace_id: "w".into(),
            app_id: "a".into(),
            ..sarvam::Config::default()
        };
        let signed = || {
            sarvam::SignedUrl::new("sk-sarvam", &app)
                .unwrap()
                .base_url(server.base_url())
                .user("+919800000000", sarvam::UserIdentifierType::PhoneNumber)
        };
        let url = c.vendor(signed()).await.unwrap();
        assert!(
            url.starts_with("wss://rt.example/s?sig=x&interaction_type=call&user_identifier=%2B919800000000&user_identifier_type=phone_number"),
            "{url}"
        );
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "retried once");
        for r in &reqs {
            assert_eq!(r.method, "GET");
            assert_eq!(
                r.target,
                "/api/v1/orgs/o/workspaces/w/apps/a/url?interaction_type=call"
            );
            assert_eq!(r.header("x-api-key"), Some("sk-sarvam"));
            no_teler_secrets(r);
        }

        // The vendor's refusal, typed, with its text; a POST is not resent on a 503.
        server.clear();
        server.push(Reply::json(403, r#"{"detail":"Invalid API key."}"#));
        let e = c.vendor(signed()).await.unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
        assert!(e.to_string().contains("Invalid API key."), "{e}");
        server.push(Reply::json(503, r#"{"message":"busy"}"#));
        let e = c.vendor(create()).await.unwrap_err();
        assert_eq!(e.status(), Some(503), "{e:?}");
        assert_eq!(server.requests().len(), 2, "the POST went once");
        // An answer without the socket URL; one over the client's body limit.
        server.push(Reply::json(200, r#"{"reference_id":"r"}"#));
        assert!(matches!(
            c.vendor(signed()).await,
            Err(Error::Decode { .. })
        ));
        server.push(Reply::json(
            200,
            &format!(r#"{{"url":"wss://x/{}"}}"#, "a".repeat(4096)),
        ));
        assert!(matches!(c.vendor(signed()).await, Err(Error::TooLarge(_))));
        // A value the request cannot send: nothing goes out.
        let before = server.requests().len();
        let bad = sarvam::Config {
            app_id: String::new(),
            ..app.clone()
        };
        let e = c
            .vendor(sarvam::SignedUrl::new("k", &bad).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{e:?}");
        assert_eq!(server.requests().len(), before);
        // No server: a network error.
        let gone = sarvam::SignedUrl::new("k", &app)
            .unwrap()
            .base_url(refused_base_url());
        assert!(matches!(c.vendor(gone).await, Err(Error::Network(_))));
    });
}
