//! A TLS HTTP/1.1 server on 127.0.0.1 for the async clients' TLS tests (rustls with ring,
//! a fresh self-signed certificate for `localhost`). Always answers `{"id":"cs_tls"}`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TlsServer {
    pub port: u16,
    /// The self-signed certificate, to trust in the client.
    pub cert: CertificateDer<'static>,
    pub accepted: Arc<AtomicUsize>,
    /// Every request head, as received.
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl TlsServer {
    pub fn start() -> TlsServer {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert: CertificateDer<'static> = ck.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let server_cfg = Arc::new(
            rustls::ServerConfig::builder_with_provider(ring())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::<String>::new()));
        {
            let (accepted, heads) = (accepted.clone(), heads.clone());
            std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    let Ok(tcp) = tcp else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                    let conn = rustls::ServerConnection::new(server_cfg.clone()).unwrap();
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let heads = heads.clone();
                    std::thread::spawn(move || {
                        let mut buf = Vec::new();
                        let mut byte = [0u8; 1];
                        loop {
                            match tls.read(&mut byte) {
                                Ok(1) => buf.push(byte[0]),
                                _ => return,
                            }
                            if buf.ends_with(b"\r\n\r\n") {
                                heads
                                    .lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(&buf).into_owned());
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
        TlsServer {
            port,
            cert,
            accepted,
            heads,
        }
    }

    pub fn base_url(&self) -> String {
        format!("https://localhost:{}/api/v1", self.port)
    }

    /// A client TLS config (ring) that trusts only this server's certificate.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        rustls::ClientConfig::builder_with_provider(ring())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
