//! [`Smol`]: the [`Runtime`] that puts teler-async's bridge and REST client on smol.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Context;
use std::time::{Duration, Instant};

use futures_lite::AsyncWriteExt;
use teler_async::{Runtime, Timer};

/// The smol runtime (async-io's reactor and timers, async-net's sockets), for
/// [`teler_async`]'s generic types (filled in by this crate's aliases: you rarely name it).
/// The REST client's HTTP connections run as tasks on smol's global executor
/// (`smol::spawn`); no tokio runtime is started or needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

/// The core's next deadline, as an async-io timer.
#[derive(Debug)]
pub struct SmolTimer {
    timer: async_io::Timer,
    at: Option<Instant>,
}

impl Timer for SmolTimer {
    fn set(&mut self, at: Option<Instant>) {
        if at != self.at {
            match at {
                Some(at) => self.timer.set_at(at),
                None => self.timer = async_io::Timer::never(),
            }
            self.at = at;
        }
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
        Pin::new(&mut self.timer).poll(cx).is_ready()
    }
}

impl Runtime for Smol {
    type Tcp = async_net::TcpStream;
    type Listener = async_net::TcpListener;
    type Timer = SmolTimer;
    type Writer = dyn futures_lite::AsyncWrite + Unpin + Send;

    fn timer() -> SmolTimer {
        SmolTimer {
            timer: async_io::Timer::never(),
            at: None,
        }
    }

    async fn sleep(d: Duration) {
        async_io::Timer::after(d).await;
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    async fn connect_tcp(host: &str, port: u16) -> io::Result<Self::Tcp> {
        let tcp = async_net::TcpStream::connect((host, port)).await?;
        // Audio frames and API calls are small and latency-bound: no Nagle.
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Tcp> {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    #[cfg(unix)]
    fn probe(tcp: &Self::Tcp) -> Option<std::net::TcpStream> {
        use std::os::fd::AsFd;
        tcp.as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::net::TcpStream::from)
    }

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(fut).detach();
    }

    async fn write_all<'a>(out: &'a mut Self::Writer, buf: &'a [u8]) -> io::Result<()> {
        out.write_all(buf).await
    }

    async fn flush(out: &mut Self::Writer) -> io::Result<()> {
        out.flush().await
    }
}
