//! Thread-per-core mode (`workers` in the config): N threads, each with its own
//! current-thread tokio runtime, its own `SO_REUSEPORT` listener per address (the kernel
//! spreads connections between them) and its own upstream pools, so a request and the
//! upstream connection it uses are driven by the same thread: no cross-thread wake-ups on the
//! hot path, like nginx's worker processes. The snapshot, the TLS configuration and the
//! metrics are shared.
//!
//! Draining: each worker waits until its own connections are done (or the forced close),
//! then drops its runtime and its drain token; the handle waits for all tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::server::{ProxyState, ServerError, accept_loop, stopped};

/// Binds `n` listeners on the same address (the first resolves port 0 for the others).
pub(crate) fn bind_set(
    addr: SocketAddr,
    n: usize,
) -> Result<(SocketAddr, Vec<std::net::TcpListener>), ServerError> {
    let mut bound = addr;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let l = bind_reuseport(bound).map_err(|source| ServerError::Bind { addr, source })?;
        if out.is_empty() {
            bound = l
                .local_addr()
                .map_err(|source| ServerError::Bind { addr, source })?;
        }
        out.push(l);
    }
    Ok((bound, out))
}

fn bind_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(4096)?.into_std()
}

/// One listener of a worker and, for HTTPS, its TLS acceptor.
pub(crate) type WorkerListener = (std::net::TcpListener, Option<TlsAcceptor>);

/// Starts worker `index` on its own thread.
pub(crate) fn spawn(
    index: usize,
    listeners: Vec<WorkerListener>,
    state: Arc<ProxyState>,
    drain: mpsc::Sender<()>,
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // WAF log lines are kept until the worker goes idle (`waf::log`).
        .on_thread_park(crate::waf::log::flush_thread)
        .build()
        .map_err(ServerError::Runtime)?;
    std::thread::Builder::new()
        .name(format!("portcullis-worker-{index}"))
        .spawn(move || {
            runtime.block_on(run(listeners, state));
            drop(runtime);
            crate::waf::log::stop_thread();
            drop(drain);
        })
        .map_err(ServerError::Runtime)?;
    Ok(())
}

async fn run(listeners: Vec<WorkerListener>, state: Arc<ProxyState>) {
    let (local_tx, mut local_rx) = mpsc::channel::<()>(1);
    for (listener, tls) in listeners {
        match TcpListener::from_std(listener) {
            Ok(l) => {
                tokio::spawn(accept_loop(l, state.clone(), tls, local_tx.clone()));
            }
            Err(e) => tracing::error!(error = %e, "worker cannot use its listener"),
        }
    }
    drop(local_tx);
    let mut lifecycle = state.lifecycle.clone();
    stopped(&mut lifecycle).await;
    // Connections finish by themselves, or are cut by the forced close.
    let _ = local_rx.recv().await;
}
