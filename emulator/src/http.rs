//! A minimal HTTP/1.1 client (hyper) for flow requests and webhooks: plain `http://` only,
//! one connection per request, a timeout and a capped answer size.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

/// The largest answer body read (a flow answer or a webhook receiver's reply).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body (at most [`MAX_ANSWER_BYTES`]).
    pub body: Vec<u8>,
}

/// Splits `http://host[:port][/path]` into (host, port, path-and-query).
pub fn split_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(format!(
            "{url}: the emulator speaks plain http:// only (serve the app locally)"
        ));
    } else {
        return Err(format!("{url}: not an http:// URL"));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{url}: unclosed [ in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("{url}: bad port {p:?}"))?,
            None if after.is_empty() => 80,
            None => return Err(format!("{url}: junk after the host")),
        };
        (h.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("{url}: bad port {p:?}"))?,
            ),
            None => (authority.to_owned(), 80),
        }
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((host, port, path))
}

/// The `Host` header for `host` and `port`: an IPv6 literal goes back in brackets
/// (`[::1]:8080`), the port only when it is not 80.
fn host_header(host: &str, port: u16) -> String {
    let h = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port == 80 { h } else { format!("{h}:{port}") }
}

/// POSTs `body` as JSON to `url` with extra `headers`; the whole exchange is bounded by
/// `timeout`. Errors are one line of text naming what failed.
pub async fn post_json(
    url: &str,
    body: String,
    headers: &[(&str, String)],
    timeout: Duration,
) -> Result<Answer, String> {
    match tokio::time::timeout(timeout, post_inner(url, body, headers)).await {
        Ok(r) => r,
        Err(_) => Err(format!("POST {url}: no answer within {timeout:?}")),
    }
}

async fn post_inner(url: &str, body: String, headers: &[(&str, String)]) -> Result<Answer, String> {
    let (host, port, path) = split_http_url(url)?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("POST {url}: cannot connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let conn_task = tokio::spawn(conn);
    let host_header = host_header(&host, port);
    let mut req = hyper::Request::post(path)
        .header("host", host_header)
        .header("content-type", "application/json")
        .header("user-agent", "teler-emulator");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("POST {url}: {e}"))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = res.status().as_u16();
    let collected = Limited::new(res.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| format!("POST {url}: reading the answer: {e}"))?;
    conn_task.abort();
    Ok(Answer {
        status,
        body: collected.to_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_http_url("http://127.0.0.1:9/flow?x=1").unwrap(),
            ("127.0.0.1".into(), 9, "/flow?x=1".into())
        );
        assert_eq!(
            split_http_url("http://h?x=1").unwrap(),
            ("h".into(), 80, "/?x=1".into())
        );
        assert!(
            split_http_url("https://h/")
                .unwrap_err()
                .contains("plain http")
        );
        assert!(split_http_url("ftp://h/").is_err());
        assert!(split_http_url("http://h:99999/").is_err());
        assert_eq!(
            split_http_url("http://[::1]:8080/x").unwrap(),
            ("::1".into(), 8080, "/x".into())
        );
        assert_eq!(
            split_http_url("http://[::1]").unwrap(),
            ("::1".into(), 80, "/".into())
        );
        assert!(split_http_url("http://[::1/").is_err());
        assert!(split_http_url("http:///x").is_err());
    }

    #[test]
    fn host_headers() {
        assert_eq!(host_header("::1", 8080), "[::1]:8080");
        assert_eq!(host_header("::1", 80), "[::1]");
        assert_eq!(host_header("127.0.0.1", 9), "127.0.0.1:9");
        assert_eq!(host_header("h", 80), "h");
    }

    /// What an IPv6 receiver actually gets in `Host`, on a real socket.
    #[tokio::test]
    async fn ipv6_host_header_on_the_wire() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(l) = tokio::net::TcpListener::bind("[::1]:0").await else {
            eprintln!("no IPv6 loopback here: skipped");
            return;
        };
        let port = l.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0);
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&req).to_ascii_lowercase()
        });
        let url = format!("http://[::1]:{port}/hooks");
        let a = post_json(&url, "{}".into(), &[], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(a.status, 200);
        let req = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        assert!(
            req.contains(&format!("\r\nhost: [::1]:{port}\r\n")),
            "{req}"
        );
    }
}
