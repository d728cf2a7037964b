//! The async half of the Teler SDK, written once for every async runtime: the media-stream
//! bridge ([`bridge::StreamConnector`]) and the REST client ([`rest::AsyncClient`]), generic
//! over a small [`Runtime`] trait.
//!
//! You normally use it through `teler-tokio` or `teler-smol`, which implement [`Runtime`]
//! and re-export everything here with the runtime filled in (`teler_tokio::StreamConnector`,
//! `teler_smol::AsyncClient`, …). Depend on this crate directly to put the SDK on another
//! runtime: implement [`Runtime`] (a timer, a sleep, a yield, a TCP connect, a spawn and the
//! runtime's `AsyncWrite`), as `teler-tokio`'s `runtime.rs` does in about 80 lines.
//!
//! Everything about Teler (frames, handlers, policies, REST requests and answers, retries)
//! lives in [`teler_core`]; this crate moves bytes between sockets and the core, and keeps
//! time.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::future::Future;
use std::io;
use std::task::Context;
use std::time::{Duration, Instant};

pub mod bridge;
pub mod rest;
mod server;

pub use server::serve;
pub use teler_io::serve::{
    AuthHook, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CALLS, MediaTokens, Refusal, ServeConfig,
};

pub use async_tungstenite;
pub use bridge::{CLOSE_TIMEOUT, StreamConnector};
pub use rest::AsyncClient;
pub use rustls;
pub use teler_core;
#[cfg(feature = "redis")]
pub mod fleet;
pub use teler_io::websocket_config;
pub use teler_io::{CallHandle, Calls, DrainReport, SendError, observe};

/// What the SDK needs from an async runtime. Implemented by `teler_tokio::Tokio` and
/// `teler_smol::Smol`; the methods are associated functions (no runtime value is carried),
/// so a bridge's future is as small as if it were written for one runtime.
pub trait Runtime: Send + Sync + 'static {
    /// A TCP connection, as `futures-io` sees it (tokio's is wrapped).
    type Tcp: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static;
    /// A resettable deadline.
    type Timer: Timer;
    /// A bound TCP listener (for [`serve`]).
    type Listener: Send + Sync + 'static;
    /// What a recording download writes into: the runtime's own `AsyncWrite` as a trait
    /// object (`dyn tokio::io::AsyncWrite + Unpin + Send` on tokio).
    type Writer: ?Sized + Send;

    /// A timer that never fires until [`Timer::set`] arms it.
    fn timer() -> Self::Timer;
    /// Completes after `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
    /// Lets the runtime run other tasks once.
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// Opens a TCP connection to `host:port` (resolving the name), with `TCP_NODELAY` set.
    fn connect_tcp(host: &str, port: u16) -> impl Future<Output = io::Result<Self::Tcp>> + Send;
    /// Accepts the next connection on `listener` (with `TCP_NODELAY` set).
    fn accept(listener: &Self::Listener)
    -> impl Future<Output = io::Result<Self::Tcp>> + Send + '_;
    /// A second handle on `tcp`'s socket (a duplicated descriptor), so the REST client's
    /// pool can tell, before reusing an idle connection, whether the server closed it or
    /// sent bytes nobody asked for (a non-blocking peek). `None` (the default) skips the
    /// check; the pool then relies on the connection task having seen the close.
    fn probe(tcp: &Self::Tcp) -> Option<std::net::TcpStream> {
        let _ = tcp;
        None
    }
    /// Runs `fut` in the background (calls, the REST client's HTTP connections).
    fn spawn(fut: impl Future<Output = ()> + Send + 'static);
    /// Writes all of `buf` into `out`.
    fn write_all<'a>(
        out: &'a mut Self::Writer,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// Flushes `out`.
    fn flush(out: &mut Self::Writer) -> impl Future<Output = io::Result<()>> + Send + '_;
}

/// A resettable deadline, polled by the bridge's run loop.
pub trait Timer: Send + Unpin + 'static {
    /// Arms the timer for `at` (`None`: it never fires). Cheap when `at` is unchanged.
    fn set(&mut self, at: Option<Instant>);
    /// Whether the deadline has passed (registering the waker otherwise).
    fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool;
}

/// Runs `fut` for at most `limit`: `None` if the time ran out first.
pub async fn timeout<R: Runtime, F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let fut = std::pin::pin!(fut);
    let sleep = std::pin::pin!(R::sleep(limit));
    match futures_util::future::select(fut, sleep).await {
        futures_util::future::Either::Left((out, _)) => Some(out),
        futures_util::future::Either::Right(_) => None,
    }
}
