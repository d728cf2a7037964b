//! The smol REST client against a real HTTP server on 127.0.0.1: a representative set of
//! endpoints, answers, errors, redirects and download, retries, timeouts, keep-alive.

use teler_test_support::loopback;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use loopback::{Reply, Server, refused_base_url, with_deadline};
use serde_json::json;
use teler::rest::recordings::GetRecording;
use teler::rest::sip::*;
use teler::rest::voice::*;
use teler::rest::*;
use teler_smol as teler;

const KEY: &str = "test-key-0123456789";
const RUNTIME: &str = "smol";

/// Runs a test body on async-io's executor (what `smol::block_on` is), within a deadline.
fn run<F, Fut>(secs: u64, f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    with_deadline(secs, move || async_io::block_on(f()));
}

teler_test_support::async_rest_cases!();

// The smol transport is this crate's own HTTP/1.1 client: its framing and pooling cases.

#[test]
fn chunked_and_close_delimited_bodies() {
    run(30, || async {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n\
              5;ext=1\r\n{\"id\"\r\n8\r\n:\"cs_1\"}\r\n0\r\nX-Trailer: t\r\n\r\n",
        ));
        assert_eq!(c.voice().calls().retrieve("cs_1").await.unwrap().id, "cs_1");
        // The chunked answer ended cleanly, so the connection is reused.
        server.push(Reply::json(200, r#"{"id":"cs_2"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_2").await.unwrap().id, "cs_2");
        assert_eq!(server.connections(), 1);
        // No length: the body runs to the close, and the connection is not pooled.
        server.push(
            Reply::raw(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\":\"cs_3\"}",
            )
            .then_close(),
        );
        assert_eq!(c.voice().calls().retrieve("cs_3").await.unwrap().id, "cs_3");
        server.push(Reply::json(200, r#"{"id":"cs_4"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_4").await.unwrap().id, "cs_4");
        assert_eq!(server.connections(), 2);
        // 204 has no body even without a length.
        server.push(Reply::raw(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(c.secrets().delete("sk_1").await.unwrap().success);
        // 100 Continue is skipped.
        server.push(Reply::raw(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"id\":\"cs_5\"}",
        ));
        assert_eq!(c.voice().calls().retrieve("cs_5").await.unwrap().id, "cs_5");
        // A malformed chunk size is an error, not a hang or a panic.
        server.push(Reply::raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ));
        let e = c.voice().calls().retrieve("cs_6").await;
        assert!(e.is_err(), "{e:?}");
    });
}

#[test]
fn a_pooled_connection_closed_by_the_server_is_replaced() {
    run(30, || async {
        let server = Server::start();
        let c = AsyncClient::builder(KEY)
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        // The server answers with a length and closes without saying so: the client pools
        // a connection that is already dead.
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#).then_close());
        c.voice().calls().retrieve("cs_1").await.unwrap();
        server.wait_closed(1);
        server.push(Reply::json(200, r#"{"request_id":"rq_1"}"#));
        // Even a mutation (no retries configured) goes through on a fresh connection,
        // because the dead one never carried it.
        c.voice()
            .mutations()
            .hangup(Hangup::new("cs_1"))
            .await
            .unwrap();
        assert_eq!(server.requests().len(), 2);
        assert_eq!(server.connections(), 2);
    });
}

#[test]
fn a_dead_pooled_connection_is_not_used_for_a_create() {
    run(30, || async {
        let server = Server::start();
        let c = AsyncClient::builder(KEY)
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#).then_close());
        c.voice().calls().retrieve("cs_1").await.unwrap();
        // Once the server has closed it, the pool's probe sees the close before writing.
        server.wait_closed(1);
        server.push(Reply::json(201, r#"{"data":{"id":"cs_2"}}"#));
        let created = c
            .calls()
            .create("+1", "+2", "https://f", "https://s", true)
            .await
            .unwrap();
        assert_eq!(created.id, "cs_2");
        assert_eq!(server.requests().len(), 2);
        assert_eq!(server.connections(), 2);
    });
}

#[test]
fn a_connection_with_bytes_beyond_the_answer_is_not_reused() {
    run(30, || async {
        let server = Server::start();
        let c = client(&server);
        // An answer followed by a stray second one on the same write: were the connection
        // pooled, the stray bytes would be read as the answer to the next request.
        server.push(Reply::raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"id\":\"cs_1\"}\
              HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"id\":\"STRAY\"}",
        ));
        assert_eq!(c.voice().calls().retrieve("cs_1").await.unwrap().id, "cs_1");
        server.push(Reply::json(200, r#"{"id":"cs_2"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_2").await.unwrap().id, "cs_2");
        assert_eq!(server.connections(), 2);
        // HTTP/1.0 without keep-alive, and `close` among other tokens: not pooled either.
        server.push(Reply::raw(
            b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\n{\"id\":\"cs_3\"}",
        ));
        assert_eq!(c.voice().calls().retrieve("cs_3").await.unwrap().id, "cs_3");
        server.push(Reply::json(200, r#"{"id":"cs_4"}"#).header("Connection", "keep-alive, close"));
        assert_eq!(c.voice().calls().retrieve("cs_4").await.unwrap().id, "cs_4");
        server.push(Reply::json(200, r#"{"id":"cs_5"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_5").await.unwrap().id, "cs_5");
        assert_eq!(server.connections(), 4);
        // An unreadable Content-Length is an error, not a guess.
        server.push(Reply::raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n{}",
        ));
        let once = AsyncClient::builder(KEY)
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let e = once.voice().calls().retrieve("cs_6").await.unwrap_err();
        assert!(matches!(e, Error::Network(_)), "{e:?}");
    });
}
