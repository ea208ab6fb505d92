//! One client connection: serve it with hyper (HTTP/1.1 or HTTP/2, detected by the h2
//! preface), enforce the idle timeout, and honour drain and forced close.
//!
//! Idle timeout: the IO is wrapped to count activity; a timer ticks four times per
//! `min(timeouts.idle, timeouts.client_header_read)`, and once neither bytes moved nor any
//! request was in flight for `timeouts.idle`, the connection is shut down gracefully (HTTP/2
//! GOAWAY, HTTP/1.1 close).
//!
//! Header-read timeout (HTTP/1.1; slowloris protection): once no request has been in flight
//! and none has started for `timeouts.client_header_read` — a head that does not complete, or
//! a keep-alive connection waiting for its next request — the connection is closed. (Checked
//! on the same ticks, so it fires between 1 and 1.25 times the timeout; hyper's own
//! header-read timer would arm and cancel a timer for every request.) HTTP/2 connections,
//! recognised by their preface, are left to the idle timeout.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

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
    /// Requests started so far.
    started: AtomicU64,
    activity: AtomicU64,
    /// The client spoke HTTP/2 (its first bytes were the h2 preface).
    h2: AtomicBool,
    /// Held while the connection (or a tunnel from it) lives; drain waits for all of them.
    drain: mpsc::Sender<()>,
}

impl ConnShared {
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
        self.started.fetch_add(1, Relaxed);
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

/// Counts reads and writes for the idle timeout, and recognises the HTTP/2 preface.
struct ActivityIo<I> {
    inner: I,
    conn: Arc<ConnShared>,
    first_read: bool,
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
            if self.first_read {
                self.first_read = false;
                if buf.filled()[before..].starts_with(b"PRI ") {
                    self.conn.h2.store(true, Relaxed);
                }
            }
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
        started: AtomicU64::new(0),
        activity: AtomicU64::new(0),
        h2: AtomicBool::new(false),
        drain,
    });
    let io = TokioIo::new(ActivityIo {
        inner: io,
        conn: conn.clone(),
        first_read: true,
    });
    let service = ProxyService::new(conn.clone());
    let served = state.http.serve_connection_with_upgrades(io, service);
    tokio::pin!(served);

    let idle = state.config.timeouts.idle;
    let head_read = state.config.timeouts.client_header_read;
    let period = (idle.min(head_read) / 4).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last_activity, mut last_started) = (0, 0);
    // How long the connection has been without traffic / without a request.
    let (mut quiet, mut waiting) = (Duration::ZERO, Duration::ZERO);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            // The connection first: it is what woke the task nearly every time (and `biased`
            // spares a random draw per wake-up).
            biased;
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
                let nothing_in_flight = conn.in_flight.load(Relaxed) == 0;
                let (seen, started) = (conn.activity.load(Relaxed), conn.started.load(Relaxed));
                quiet = if nothing_in_flight && seen == last_activity { quiet + period } else { Duration::ZERO };
                waiting = if nothing_in_flight && started == last_started { waiting + period } else { Duration::ZERO };
                (last_activity, last_started) = (seen, started);
                if quiet >= idle {
                    shutting_down = true;
                    served.as_mut().graceful_shutdown();
                } else if waiting >= head_read && !conn.h2.load(Relaxed) {
                    tracing::debug!(client = %client, "no complete request head in time, closing");
                    break;
                }
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
