//! Connections that close when idle: a client that opens a socket and goes quiet (or stalls in
//! the middle of a request) would otherwise hold it, and a file descriptor, forever.
//!
//! The listener hands axum an I/O wrapper whose reads and writes fail with `TimedOut` once no
//! byte has moved for the idle timeout plus the injected latency (a slow answer is not idleness).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use super::server::Shared;

/// The default `--idle-timeout`.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// A TCP listener whose connections time out when idle.
pub struct IdleListener {
    inner: TcpListener,
    idle: Duration,
    shared: Arc<Shared>,
}

impl IdleListener {
    pub fn new(inner: TcpListener, idle: Duration, shared: Arc<Shared>) -> Self {
        IdleListener { inner, idle, shared }
    }
}

impl axum::serve::Listener for IdleListener {
    type Io = IdleStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (IdleStream::new(stream, self.idle, self.shared.clone()), addr);
                }
                // Out of descriptors and the like: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP stream with an inactivity deadline, pushed back whenever data moves.
pub struct IdleStream {
    inner: TcpStream,
    idle: Duration,
    shared: Arc<Shared>,
    deadline: Pin<Box<Sleep>>,
}

impl IdleStream {
    fn new(inner: TcpStream, idle: Duration, shared: Arc<Shared>) -> Self {
        let mut s = IdleStream {
            inner,
            idle,
            shared,
            deadline: Box::pin(tokio::time::sleep(Duration::ZERO)),
        };
        s.touch();
        s
    }

    fn allowance(&self) -> Duration {
        self.idle + Duration::from_millis(self.shared.latency_ms())
    }

    fn touch(&mut self) {
        let at = Instant::now() + self.allowance();
        self.deadline.as_mut().reset(at);
    }

    /// Called when the inner stream is not ready: has the deadline passed?
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }

    fn timed_out() -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
    }
}

impl AsyncRead for IdleStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.touch();
                Poll::Ready(r)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(Self::timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for IdleStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.touch();
                Poll::Ready(r)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(Self::timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.touch();
                Poll::Ready(r)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(Self::timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
