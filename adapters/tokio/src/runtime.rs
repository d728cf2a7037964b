//! [`Tokio`]: the [`Runtime`] that puts teler-async's bridge and REST client on tokio.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Context;
use std::time::{Duration, Instant};

use async_tungstenite::tokio::TokioAdapter;
use teler_async::{Runtime, Timer};
use tokio::io::AsyncWriteExt;

/// The tokio runtime, for [`teler_async`]'s generic types (filled in by this crate's
/// aliases: you rarely name it). Everything runs on the caller's tokio runtime: sockets
/// from `tokio::net`, timers from `tokio::time`, HTTP connections on `tokio::spawn`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// The core's next deadline, as a resettable tokio sleep.
#[derive(Debug)]
pub struct TokioTimer {
    sleep: Pin<Box<tokio::time::Sleep>>,
    at: Option<Instant>,
}

impl Timer for TokioTimer {
    fn set(&mut self, at: Option<Instant>) {
        if at != self.at {
            if let Some(at) = at {
                self.sleep.as_mut().reset(at.into());
            }
            self.at = at;
        }
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
        self.at.is_some() && self.sleep.as_mut().poll(cx).is_ready()
    }
}

impl Runtime for Tokio {
    type Tcp = TokioAdapter<tokio::net::TcpStream>;
    type Listener = tokio::net::TcpListener;
    type Timer = TokioTimer;
    type Writer = dyn tokio::io::AsyncWrite + Unpin + Send;

    fn timer() -> TokioTimer {
        TokioTimer {
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            at: None,
        }
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    async fn connect_tcp(host: &str, port: u16) -> io::Result<Self::Tcp> {
        let tcp = tokio::net::TcpStream::connect((host, port)).await?;
        // Audio frames and API calls are small and latency-bound: no Nagle.
        tcp.set_nodelay(true)?;
        Ok(TokioAdapter::new(tcp))
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Tcp> {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        Ok(TokioAdapter::new(tcp))
    }

    #[cfg(unix)]
    fn probe(tcp: &Self::Tcp) -> Option<std::net::TcpStream> {
        use std::os::fd::AsFd;
        tcp.get_ref()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::net::TcpStream::from)
    }

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(fut);
    }

    async fn write_all<'a>(out: &'a mut Self::Writer, buf: &'a [u8]) -> io::Result<()> {
        out.write_all(buf).await
    }

    async fn flush(out: &mut Self::Writer) -> io::Result<()> {
        out.flush().await
    }
}
