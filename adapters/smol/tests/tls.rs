//! The smol transport's TLS path, end to end: futures-rustls (ring) against a rustls server
//! on 127.0.0.1 with a self-signed certificate, keep-alive across two requests.

#[path = "../../rest-test-support/loopback.rs"]
mod loopback;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use loopback::with_deadline;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use teler_smol::rest::*;

#[test]
fn https_requests_reuse_one_tls_connection() {
    with_deadline(30, || {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert: CertificateDer<'static> = ck.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_cfg = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key)
                .unwrap(),
        );

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        {
            let (accepted, seen) = (accepted.clone(), seen.clone());
            std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    let Ok(tcp) = tcp else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                    let conn = rustls::ServerConnection::new(server_cfg.clone()).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let seen = seen.clone();
                    std::thread::spawn(move || {
                        let mut buf = Vec::new();
                        let mut byte = [0u8; 1];
                        loop {
                            match tls.read(&mut byte) {
                                Ok(1) => buf.push(byte[0]),
                                _ => return,
                            }
                            if buf.ends_with(b"\r\n\r\n") {
                                let head = String::from_utf8_lossy(&buf).into_owned();
                                seen.lock().unwrap().push(head);
                                buf.clear();
                                let body = br#"{"id":"cs_tls"}"#;
                                let mut out = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                out.extend_from_slice(body);
                                if tls.write_all(&out).and_then(|_| tls.flush()).is_err() {
                                    return;
                                }
                            }
                        }
                    });
                }
            });
        }

        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client_cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = AsyncClient::builder("tls-key")
            .base_url(format!("https://localhost:{port}/api/v1"))
            .transport(SmolTransport::with_tls_config(
                Duration::from_secs(5),
                client_cfg,
            ))
            .build()
            .unwrap();
        async_io::block_on(async {
            for _ in 0..2 {
                let call = client.voice().calls().retrieve("cs_tls").await.unwrap();
                assert_eq!(call.id, "cs_tls");
            }
        });
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert!(
            seen[0].starts_with("GET /api/v1/voice/calls/cs_tls HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        assert!(
            seen[0].contains(&format!("host: localhost:{port}")),
            "{}",
            seen[0]
        );
        assert!(seen[0].contains("x-api-key: tls-key"), "{}", seen[0]);

        // The default transport trusts only the web PKI: this self-signed server is refused
        // at the handshake, which counts as a connection failure (nothing was sent).
        let strict = AsyncClient::builder("tls-key")
            .base_url(format!("https://localhost:{port}/api/v1"))
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let e = async_io::block_on(strict.voice().calls().retrieve("cs_tls")).unwrap_err();
        assert!(
            matches!(&e, Error::Network(t) if t.kind == TransportErrorKind::Connect),
            "{e:?}"
        );
    });
}
