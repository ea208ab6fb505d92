//! One client connection: serve it with hyper (HTTP/1.1 or HTTP/2, detected by the h2
//! preface), enforce the idle timeout, and honour drain and forced close.
//!
//! Idle timeout: the IO is wrapped to count activity; a timer ticks every `timeouts.idle`, and
//! when neither bytes moved nor any request was in flight since the last tick, the
//! connection is shut down gracefully (HTTP/2 GOAWAY, HTTP/1.1 close). For HTTP/1.1 the wait
//! for the next request on a keep-alive connection also counts against hyper's header-read
//! timeout (`timeouts.client_header_read`), so the shorter of the two applies there.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use crate::server::{Lifecycle, ProxyState};
use crate::service::ProxyService;

/// State shared by a connection's task, its requests and any WebSocket tunnel born from it.
pub(crate) struct ConnShared {
    pub state: Arc<ProxyState>,
    pub client: SocketAddr,
    /// `client.ip()` as a header value, for `X-Forwarded-For`.
    pub client_ip: http::HeaderValue,
    pub tls: bool,
    in_flight: AtomicUsize,
    activity: AtomicU64,
    /// Held while the connection (or a tunnel from it) lives; drain waits for all of them.
    drain: mpsc::Sender<()>,
}

impl ConnShared {
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
    }

    pub fn request_done(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    /// Keeps a drain waiting while the holder lives (used by upgrade tunnels).
    pub fn drain_token(&self) -> mpsc::Sender<()> {
        self.drain.clone()
    }

    fn touch(&self) {
        self.activity.fetch_add(1, Relaxed);
    }
}

/// Counts reads and writes for the idle timeout.
struct ActivityIo<I> {
    inner: I,
    conn: Arc<ConnShared>,
}

impl<I: AsyncRead + Unpin> AsyncRead for ActivityIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() != before {
            self.conn.touch();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ActivityIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves one accepted (and, for HTTPS, TLS-terminated) connection to its end.
pub(crate) async fn serve<I>(
    io: I,
    state: Arc<ProxyState>,
    client: SocketAddr,
    tls: bool,
    drain: mpsc::Sender<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut lifecycle = state.lifecycle.clone();
    let conn = Arc::new(ConnShared {
        state: state.clone(),
        client,
        client_ip: crate::headers::client_ip_value(client.ip()),
        tls,
        in_flight: AtomicUsize::new(0),
        activity: AtomicU64::new(0),
        drain,
    });
    let io = TokioIo::new(ActivityIo {
        inner: io,
        conn: conn.clone(),
    });
    let service = ProxyService::new(conn.clone());
    let served = state.http.serve_connection_with_upgrades(io, service);
    tokio::pin!(served);

    let idle = state.config.timeouts.idle;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + idle, idle);
    let mut last_activity = u64::MAX;
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client = %client, error = %e, "client connection error");
                }
                break;
            }
            changed = lifecycle.changed(), if !shutting_down => {
                let now = *lifecycle.borrow();
                if changed.is_err() || now != Lifecycle::Running {
                    shutting_down = true;
                    served.as_mut().graceful_shutdown();
                }
            }
            _ = ticker.tick(), if !shutting_down => {
                let seen = conn.activity.load(Relaxed);
                if seen == last_activity && conn.in_flight.load(Relaxed) == 0 {
                    shutting_down = true;
                    served.as_mut().graceful_shutdown();
                }
                last_activity = seen;
            }
            _ = wait_closing(&state), if shutting_down => break,
        }
    }
}

/// Resolves when the server moves to forced close.
pub(crate) async fn wait_closing(state: &ProxyState) {
    let mut rx = state.lifecycle.clone();
    let _ = rx.wait_for(|l| *l == Lifecycle::Closing).await;
}
