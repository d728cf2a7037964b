// WebSocket glue shared by every adapter's bridge (tokio and smol through
// `adapters/async-bridge/bridge.rs`, and `teler-blocking`), included (`include!`) where
// `tungstenite`, `Message`, `CloseFrame`, `CloseCode`, the core's frame types, `Arc`,
// `OnceLock`, `ClientConfig` and the handshake header types are in scope: frames in and out
// of the core, close frames, the default TLS config and the remote's handshake request.

fn feed_frame(msg: &Message, mut f: impl FnMut(Frame<'_>)) {
    match msg {
        Message::Text(t) => f(Frame::Text(t.as_bytes())),
        Message::Binary(b) => f(Frame::Binary(b)),
        Message::Ping(p) => f(Frame::Ping(p)),
        Message::Pong(p) => f(Frame::Pong(p)),
        Message::Close(_) | Message::Frame(_) => {}
    }
}

fn close_info(cf: CloseFrame) -> CloseInfo {
    CloseInfo {
        code: cf.code.into(),
        reason: cf.reason.as_str().to_owned(),
    }
}

fn close_frame(c: CloseInfo) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(c.code),
        reason: c.reason.into(),
    }
}

/// The default TLS config: webpki roots, `ring`. `None` if rustls refuses to build it.
fn default_tls() -> Option<Arc<ClientConfig>> {
    static TLS: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(Arc::new(cfg))
    })
    .clone()
}

/// The remote handshake request: URL, extra headers, subprotocols.
fn request(req: &RemoteConnect) -> Result<tungstenite::handshake::client::Request, String> {
    let mut request = req
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad remote URL: {e}"))?;
    let headers = request.headers_mut();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("bad header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| format!("bad value for header {name}: {e}"))?;
        headers.append(name, value);
    }
    if !req.subprotocols.is_empty() {
        let value = HeaderValue::from_str(&req.subprotocols.join(", "))
            .map_err(|e| format!("bad subprotocols: {e}"))?;
        headers.insert("sec-websocket-protocol", value);
    }
    Ok(request)
}
