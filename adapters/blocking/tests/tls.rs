//! The blocking transport's TLS path, end to end: ureq's rustls (ring) against a rustls
//! server on 127.0.0.1 with a self-signed certificate, keep-alive across two requests.

use teler_test_support::loopback;
use teler_test_support::tls_server;

use std::sync::Arc;
use std::time::Duration;

use loopback::with_deadline;
use teler_blocking::rest::*;
use tls_server::TlsServer;

#[test]
fn https_requests_reuse_one_tls_connection() {
    with_deadline(30, || {
        let server = TlsServer::start();
        let cert = ureq::tls::Certificate::from_der(server.cert.as_ref()).to_owned();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
            .build();
        let client = Client::builder("tls-key")
            .base_url(server.base_url())
            .transport(UreqTransport::with_tls_config(Duration::from_secs(5), tls))
            .build()
            .unwrap();
        for _ in 0..2 {
            assert_eq!(
                client.voice().calls().retrieve("cs_tls").unwrap().id,
                "cs_tls"
            );
        }
        assert_eq!(server.accepted(), 1);
        let heads = server.heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2);
        assert!(
            heads[0].starts_with("GET /api/v1/voice/calls/cs_tls HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );

        // The default transport trusts only the web PKI: the self-signed server is refused
        // at the handshake, so nothing was sent.
        let strict = Client::builder("tls-key")
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let e = strict.voice().calls().retrieve("cs_tls").unwrap_err();
        assert!(
            matches!(&e, Error::Network(t) if t.kind == TransportErrorKind::Connect),
            "{e:?}"
        );
        assert_eq!(server.heads.lock().unwrap().len(), 2);
    });
}
