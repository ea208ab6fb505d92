//! Starting and stopping the data plane: listeners, accept loops, drain.
//!
//! Phase **accept**: each listener accepts in its own task; every connection gets a task
//! (phase **TLS/SNI** for HTTPS, bounded by `timeouts.client_header_read`), then
//! [`crate::connection::serve`]. [`Handle::shutdown`] implements SIGTERM: stop accepting,
//! let connections finish their in-flight requests (HTTP/1.1 closes after the current
//! response, HTTP/2 sends GOAWAY), wait up to `drain_timeout`, then close whatever is left.
//! `/readyz` answers 503 from the moment the drain starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use portcullis_snapshot::SharedSnapshot;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::config::ProxyConfig;
use crate::metrics::Metrics;
use crate::upstream::Upstreams;
use crate::{admin, connection, tls, workers};

/// Where the server is in its life; connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Running,
    /// Not accepting; in-flight requests finish.
    Draining,
    /// Drain timeout passed: remaining connections are closed.
    Closing,
}

/// Shared by all connections of a server.
pub(crate) struct ProxyState {
    pub config: ProxyConfig,
    pub shared: SharedSnapshot,
    pub metrics: Arc<Metrics>,
    pub upstreams: Upstreams,
    pub http: auto::Builder<TokioExecutor>,
    /// Port written in ssl-redirect locations (`None`/443: omitted).
    pub redirect_port: Option<u16>,
    pub lifecycle: watch::Receiver<Lifecycle>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot start a worker: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The data plane.
#[derive(Debug)]
pub struct Server;

/// A running server: bound addresses and shutdown. Dropping the handle without calling
/// [`Handle::shutdown`] also stops the server (listeners close, connections are asked to
/// finish), but without waiting for the drain.
#[derive(Debug)]
pub struct Handle {
    http_addr: Option<SocketAddr>,
    https_addr: Option<SocketAddr>,
    admin_addr: SocketAddr,
    lifecycle: watch::Sender<Lifecycle>,
    drained: mpsc::Receiver<()>,
    drain_timeout: Duration,
    tasks: Vec<JoinHandle<()>>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Every connection finished within the drain timeout.
    pub drained: bool,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

fn local_addr(l: &TcpListener, fallback: SocketAddr) -> SocketAddr {
    l.local_addr().unwrap_or(fallback)
}

impl ProxyState {
    fn new(
        config: &ProxyConfig,
        shared: &SharedSnapshot,
        metrics: &Arc<Metrics>,
        lifecycle: &watch::Receiver<Lifecycle>,
        redirect_port: Option<u16>,
    ) -> Self {
        ProxyState {
            redirect_port,
            upstreams: Upstreams::new(
                config.timeouts.connect,
                config.timeouts.upstream_header,
                config.timeouts.upstream_idle,
                config.limits.upstream_idle_per_endpoint,
            ),
            http: http_builder(config),
            config: config.clone(),
            shared: shared.clone(),
            metrics: metrics.clone(),
            lifecycle: lifecycle.clone(),
        }
    }
}

impl Server {
    /// Binds every configured listener (port 0 allowed: see the bound addresses on the
    /// handle) and starts serving, on the caller's tokio runtime or, with `workers` set, on
    /// worker threads of its own. Must be called inside a tokio runtime.
    pub async fn start(
        config: ProxyConfig,
        shared: SharedSnapshot,
        metrics: Arc<Metrics>,
    ) -> Result<Handle, ServerError> {
        let workers = config.worker_threads();
        let copies = workers.unwrap_or(1);
        let http = match config.http_addr {
            Some(a) => Some(workers::bind_set(a, copies)?),
            None => None,
        };
        let https = match config.https_addr {
            Some(a) => Some(workers::bind_set(a, copies)?),
            None => None,
        };
        let admin_listener = bind(config.admin_addr).await?;
        let http_addr = http.as_ref().map(|(a, _)| *a);
        let https_addr = https.as_ref().map(|(a, _)| *a);
        let admin_addr = local_addr(&admin_listener, config.admin_addr);

        let (lifecycle_tx, lifecycle_rx) = watch::channel(Lifecycle::Running);
        let (drain_tx, drained) = mpsc::channel(1);
        let tls_acceptor = match &https {
            Some(_) => Some(TlsAcceptor::from(tls::server_config(shared.clone())?)),
            None => None,
        };
        let redirect_port = config.https_redirect_port.or(https_addr.map(|a| a.port()));
        let new_state = || {
            Arc::new(ProxyState::new(
                &config,
                &shared,
                &metrics,
                &lifecycle_rx,
                redirect_port,
            ))
        };
        // Listener copy `i` of every address, with its TLS acceptor.
        let mut per_copy: Vec<Vec<workers::WorkerListener>> =
            (0..copies).map(|_| Vec::new()).collect();
        for (set, tls) in [(http, None), (https, tls_acceptor)] {
            if let Some((_, listeners)) = set {
                for (i, l) in listeners.into_iter().enumerate() {
                    per_copy[i].push((l, tls.clone()));
                }
            }
        }

        let mut tasks = Vec::new();
        let main_state = new_state();
        match workers {
            Some(_) => {
                for (i, listeners) in per_copy.into_iter().enumerate() {
                    workers::spawn(i, listeners, new_state(), drain_tx.clone())?;
                }
            }
            None => {
                for (listener, tls) in per_copy.into_iter().flatten() {
                    let listener = TcpListener::from_std(listener).map_err(ServerError::Runtime)?;
                    tasks.push(tokio::spawn(accept_loop(
                        listener,
                        main_state.clone(),
                        tls,
                        drain_tx.clone(),
                    )));
                }
            }
        }
        tasks.push(tokio::spawn(admin::serve(admin_listener, main_state)));
        drop(drain_tx);
        tracing::info!(?http_addr, ?https_addr, %admin_addr, ?workers, "proxy listening");
        Ok(Handle {
            http_addr,
            https_addr,
            admin_addr,
            lifecycle: lifecycle_tx,
            drained,
            drain_timeout: config.drain_timeout,
            tasks,
        })
    }
}

fn http_builder(config: &ProxyConfig) -> auto::Builder<TokioExecutor> {
    let header_limit = config.limits.max_request_header_bytes;
    let mut http = auto::Builder::new(TokioExecutor::new());
    // No hyper header-read timeout: it arms and cancels a timer for every request; the
    // connection's ticker enforces `client_header_read` instead (`connection`).
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        // The read buffer bounds the head: hyper answers 431 itself when a head does not
        // fit (minimum 8 KiB). The exact limit is then checked in the read-head phase.
        .max_buf_size(header_limit.max(8192))
        .keep_alive(true);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(header_limit).unwrap_or(u32::MAX));
    http
}

impl Handle {
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Stop accepting, drain in-flight requests up to the drain timeout, then close the rest
    /// and stop the admin listener.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let _ = self.lifecycle.send(Lifecycle::Draining);
        let drained = tokio::time::timeout(self.drain_timeout, self.drained.recv())
            .await
            .is_ok();
        let _ = self.lifecycle.send(Lifecycle::Closing);
        if !drained {
            // Give cut connections a moment to unwind.
            let _ = tokio::time::timeout(Duration::from_secs(1), self.drained.recv()).await;
        }
        for t in &self.tasks {
            t.abort();
        }
        tracing::info!(drained, "proxy stopped");
        ShutdownReport { drained }
    }
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    state: Arc<ProxyState>,
    tls: Option<TlsAcceptor>,
    drain: mpsc::Sender<()>,
) {
    let mut lifecycle = state.lifecycle.clone();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut lifecycle) => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let drain = drain.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            state.metrics.connection_opened();
            let _gauge = OpenConnection(state.metrics.clone());
            match tls {
                None => connection::serve(stream, state, peer, false, drain).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(state.config.timeouts.client_header_read, handshake)
                        .await
                    {
                        Ok(Ok(s)) => connection::serve(s, state, peer, true, drain).await,
                        Ok(Err(e)) => {
                            tracing::debug!(client = %peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Decrements the active-connections gauge when the connection task ends.
struct OpenConnection(Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

/// Resolves once the server leaves `Running`.
pub(crate) async fn stopped(rx: &mut watch::Receiver<Lifecycle>) {
    let _ = rx.wait_for(|l| *l != Lifecycle::Running).await;
}
