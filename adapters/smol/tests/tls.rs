//! The smol transport's TLS path, end to end: rustls (ring) against a rustls server on
//! 127.0.0.1 with a self-signed certificate, keep-alive across two requests.

use teler_test_support::loopback;
use teler_test_support::tls_server;

use std::time::Duration;

use loopback::with_deadline;
use teler_smol::rest::*;
use tls_server::TlsServer;

#[test]
fn https_requests_reuse_one_tls_connection() {
    with_deadline(30, || {
        let server = TlsServer::start();
        let client = AsyncClient::builder("tls-key")
            .base_url(server.base_url())
            .transport(HyperTransport::with_tls_config(
                Duration::from_secs(5),
                server.client_config(),
            ))
            .build()
            .unwrap();
        async_io::block_on(async {
            for _ in 0..2 {
                let call = client.voice().calls().retrieve("cs_tls").await.unwrap();
                assert_eq!(call.id, "cs_tls");
            }
        });
        assert_eq!(server.accepted(), 1);
        let heads = server.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        assert!(
            heads[0].starts_with("GET /api/v1/voice/calls/cs_tls HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
        assert!(
            heads[0].to_ascii_lowercase().contains("x-api-key: tls-key"),
            "{}",
            heads[0]
        );

        // The default transport trusts only the web PKI: this self-signed server is refused
        // at the handshake, which counts as a connection failure (nothing was sent).
        let strict = AsyncClient::builder("tls-key")
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let e = async_io::block_on(async { strict.voice().calls().retrieve("cs_tls").await })
            .unwrap_err();
        assert!(
            matches!(&e, Error::Network(t) if t.kind == TransportErrorKind::Connect),
            "{e:?}"
        );
        assert_eq!(server.heads.lock().unwrap().len(), 2);
    });
}
