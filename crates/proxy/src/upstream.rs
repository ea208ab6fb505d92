//! Upstream side: keep-alive HTTP/1.1 connection pools per endpoint, and sending a request
//! with round-robin and retry on another endpoint when a connection cannot be opened.
//!
//! Two clients share the endpoints, their order and their down marks: [`Upstreams::send_direct`]
//! (body-less requests without upgrade or WAF, through [`crate::h1_client`], its own idle
//! queue per endpoint) and [`Upstreams::send`] (everything else, through hyper's client).
//!
//! Pools are keyed by endpoint `SocketAddr` and owned by the server, not the snapshot, so
//! they survive snapshot swaps: an endpoint that stays in the new snapshot keeps its warm
//! connections. Idle connections sit in a lock-free bounded queue per endpoint; the map of
//! endpoints is an immutable `HashMap` behind an `ArcSwap`, copied only when a new endpoint
//! appears (entries with no idle connection are pruned then, once the map is large).
//!
//! Passive health: an endpoint whose connection attempt failed is tried last (after every
//! other endpoint of the backend) for `DOWN_FOR`; it is still tried, so a backend whose
//! endpoints are all marked keeps being served as soon as one comes back.
//!
//! A connection is reused only after its previous response body was read to the end. Sending
//! uses hyper's `try_send_request`, which hands the request back when a pooled connection
//! turned out to be closed before anything was written; the request is then sent on a fresh
//! connection. A request that was (partly) written is never retried: the body is a stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_queue::ArrayQueue;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use portcullis_snapshot::Backend;
use tokio::net::TcpStream;

use crate::body::{BodyError, RequestBody};
use crate::error::ProxyError;
use crate::h1_client::{DirectBody, DirectConn, DirectRequest, Stage};

/// Start pruning the endpoint map above this many entries.
const PRUNE_ABOVE: usize = 1024;

/// How long an endpoint that refused a connection is tried last.
const DOWN_FOR: Duration = Duration::from_secs(2);

/// Endpoints marked down that one request defers to the end of its attempt order.
const MAX_DEFERRED: usize = 8;

/// Milliseconds since the first call (a cheap monotonic clock for the down marks).
fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

type Sender = http1::SendRequest<RequestBody>;

struct Idle {
    conn: Sender,
    since: Instant,
}

/// Idle connections to one endpoint.
pub(crate) struct EndpointPool {
    addr: SocketAddr,
    idle: ArrayQueue<Idle>,
    /// Idle connections of the direct client ([`crate::h1_client`]).
    direct: ArrayQueue<Box<DirectConn>>,
    idle_ttl: Duration,
    /// `now_ms()` until which the endpoint counts as down; 0 = up.
    down_until: AtomicU64,
}

impl EndpointPool {
    fn is_down(&self) -> bool {
        let until = self.down_until.load(Relaxed);
        until != 0 && now_ms() < until
    }

    fn mark_down(&self) {
        let until = now_ms().saturating_add(DOWN_FOR.as_millis() as u64);
        self.down_until.store(until, Relaxed);
    }

    fn mark_up(&self) {
        if self.down_until.load(Relaxed) != 0 {
            self.down_until.store(0, Relaxed);
        }
    }

    /// Takes back a direct connection whose last response was read to its end.
    pub(crate) fn put_direct(&self, mut conn: Box<DirectConn>) {
        conn.since = Instant::now();
        let _ = self.direct.push(conn);
    }

    /// An idle direct connection that is still usable.
    fn take_direct(&self) -> Option<Box<DirectConn>> {
        while let Some(mut conn) = self.direct.pop() {
            if conn.since.elapsed() <= self.idle_ttl && conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }
}

/// A connection checked out of a pool; give it back with [`PooledConn::release`].
pub(crate) struct PooledConn {
    conn: Sender,
    pool: Arc<EndpointPool>,
}

impl PooledConn {
    /// Returns the connection to its pool once it can take a new request.
    pub fn release(self) {
        let PooledConn { mut conn, pool } = self;
        if conn.is_closed() {
            return;
        }
        if conn.is_ready() {
            let _ = pool.idle.push(Idle {
                conn,
                since: Instant::now(),
            });
            return;
        }
        // The dispatcher has not yet seen the end of the exchange: wait for it off the
        // request path (rare; usually the connection is ready at once).
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if conn.ready().await.is_ok() {
                    let _ = pool.idle.push(Idle {
                        conn,
                        since: Instant::now(),
                    });
                }
            });
        }
    }
}

/// Why no connection could be opened to an endpoint.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("connect to {0} failed: {1}")]
    Io(SocketAddr, #[source] std::io::Error),
    #[error("connect to {0} timed out")]
    Timeout(SocketAddr),
    #[error("HTTP handshake with {0} failed: {1}")]
    Handshake(SocketAddr, #[source] hyper::Error),
}

/// All upstream pools of the server.
pub(crate) struct Upstreams {
    pools: ArcSwap<HashMap<SocketAddr, Arc<EndpointPool>>>,
    grow: Mutex<()>,
    connect_timeout: Duration,
    header_timeout: Duration,
    idle_ttl: Duration,
    idle_per_endpoint: usize,
}

impl Upstreams {
    pub fn new(
        connect_timeout: Duration,
        header_timeout: Duration,
        idle_ttl: Duration,
        idle_per_endpoint: usize,
    ) -> Self {
        Upstreams {
            pools: ArcSwap::from_pointee(HashMap::new()),
            grow: Mutex::new(()),
            connect_timeout,
            header_timeout,
            idle_ttl,
            idle_per_endpoint: idle_per_endpoint.max(1),
        }
    }

    fn endpoint(&self, addr: SocketAddr) -> Arc<EndpointPool> {
        if let Some(p) = self.pools.load().get(&addr) {
            return p.clone();
        }
        let _guard = self.grow.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.pools.load_full();
        if let Some(p) = current.get(&addr) {
            return p.clone();
        }
        let mut next = HashMap::clone(&current);
        if next.len() > PRUNE_ABOVE {
            next.retain(|_, p| !p.idle.is_empty() || Arc::strong_count(p) > 1);
        }
        let pool = Arc::new(EndpointPool {
            addr,
            idle: ArrayQueue::new(self.idle_per_endpoint),
            direct: ArrayQueue::new(self.idle_per_endpoint),
            idle_ttl: self.idle_ttl,
            down_until: AtomicU64::new(0),
        });
        next.insert(addr, pool.clone());
        self.pools.store(Arc::new(next));
        pool
    }

    /// An idle connection to `addr` if a usable one exists, else a new one.
    async fn checkout(&self, pool: Arc<EndpointPool>) -> Result<PooledConn, ConnectError> {
        while let Some(Idle { mut conn, since }) = pool.idle.pop() {
            if conn.is_closed() || since.elapsed() > pool.idle_ttl {
                continue;
            }
            if conn.ready().await.is_ok() {
                return Ok(PooledConn { conn, pool });
            }
        }
        self.connect(pool).await
    }

    /// Opens a TCP connection to the endpoint (connect timeout; marks it down or up).
    async fn connect_tcp(&self, pool: &EndpointPool) -> Result<TcpStream, ConnectError> {
        let addr = pool.addr;
        let connecting = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr));
        let stream = match connecting.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                pool.mark_down();
                return Err(ConnectError::Io(addr, e));
            }
            Err(_) => {
                pool.mark_down();
                return Err(ConnectError::Timeout(addr));
            }
        };
        pool.mark_up();
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    async fn connect(&self, pool: Arc<EndpointPool>) -> Result<PooledConn, ConnectError> {
        let addr = pool.addr;
        let stream = self.connect_tcp(&pool).await?;
        let (conn, driver) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ConnectError::Handshake(addr, e))?;
        tokio::spawn(async move {
            if let Err(e) = driver.with_upgrades().await {
                tracing::debug!(upstream = %addr, error = %e, "upstream connection ended");
            }
        });
        Ok(PooledConn { conn, pool })
    }

    /// Sends `req` to the backend: endpoints in round-robin order, moving to the next one
    /// when a connection cannot be opened. Returns the response head with the connection to
    /// release once the body has been read, and the endpoint that answered.
    pub async fn send(&self, backend: &Backend, mut req: Request<RequestBody>) -> Sent {
        let mut last = ProxyError::NoEndpoints;
        for pool in self.pools_in_order(backend) {
            match self.attempt(pool, req, &mut last).await {
                Attempt::Done(result) => return result,
                Attempt::Next(back) => req = back,
            }
        }
        Err(last)
    }

    /// The endpoint pools of `backend` in the order to try them: round-robin order, with up
    /// to [`MAX_DEFERRED`] endpoints marked down moved to the end.
    fn pools_in_order<'a>(
        &'a self,
        backend: &'a Backend,
    ) -> impl Iterator<Item = Arc<EndpointPool>> + 'a {
        let mut deferred: [Option<Arc<EndpointPool>>; MAX_DEFERRED] = Default::default();
        let mut n_deferred = 0;
        let mut order = backend.attempt_order();
        let mut next_deferred = 0;
        std::iter::from_fn(move || {
            for addr in order.by_ref() {
                let pool = self.endpoint(addr);
                if pool.is_down() && n_deferred < MAX_DEFERRED {
                    deferred[n_deferred] = Some(pool);
                    n_deferred += 1;
                    continue;
                }
                return Some(pool);
            }
            while next_deferred < n_deferred {
                next_deferred += 1;
                if let Some(pool) = deferred[next_deferred - 1].take() {
                    return Some(pool);
                }
            }
            None
        })
    }

    /// Records a failed connect as the error to answer with if no endpoint is left.
    fn connect_failed(e: &ConnectError, last: &mut ProxyError) {
        tracing::debug!(error = %e, "upstream connect failed, trying next endpoint");
        *last = match e {
            ConnectError::Timeout(_) => ProxyError::UpstreamConnectTimeout,
            _ => ProxyError::UpstreamConnect,
        };
    }

    /// Tries one endpoint; hands the request back when nothing was sent.
    async fn attempt(
        &self,
        pool: Arc<EndpointPool>,
        mut req: Request<RequestBody>,
        last: &mut ProxyError,
    ) -> Attempt {
        let addr = pool.addr;
        let mut pooled = match self.checkout(pool).await {
            Ok(p) => p,
            Err(e) => {
                Self::connect_failed(&e, last);
                return Attempt::Next(req);
            }
        };
        let mut fresh = false;
        loop {
            let sending = pooled.conn.try_send_request(req);
            match tokio::time::timeout(self.header_timeout, sending).await {
                Err(_) => return Attempt::Done(Err(ProxyError::UpstreamHeaderTimeout)),
                Ok(Ok(resp)) => return Attempt::Done(Ok((resp, pooled, addr))),
                Ok(Err(mut e)) => match e.take_message() {
                    // Nothing was written: the pooled connection was already closing.
                    Some(back) if !fresh => {
                        req = back;
                        fresh = true;
                        match self.connect(pooled.pool.clone()).await {
                            Ok(p) => pooled = p,
                            Err(_) => {
                                *last = ProxyError::UpstreamConnect;
                                return Attempt::Next(req);
                            }
                        }
                    }
                    Some(back) => {
                        *last = ProxyError::UpstreamConnect;
                        return Attempt::Next(back);
                    }
                    None => return Attempt::Done(Err(classify_send_error(e.into_error()))),
                },
            }
        }
    }

    /// Like [`Upstreams::send`] for a request without body and without upgrade, through the
    /// direct client ([`crate::h1_client`]): same endpoint order, down marks and connect
    /// retry. A pooled connection found closed when the request is written, or closed before
    /// any answer to an idempotent request, is replaced by a fresh one once.
    pub async fn send_direct(&self, backend: &Backend, req: &DirectRequest<'_>) -> SentDirect {
        let mut last = ProxyError::NoEndpoints;
        for pool in self.pools_in_order(backend) {
            if let Some(done) = self.attempt_direct(pool, req, &mut last).await {
                return done;
            }
        }
        Err(last)
    }

    /// One endpoint; `None` = move on to the next (nothing was sent).
    async fn attempt_direct(
        &self,
        pool: Arc<EndpointPool>,
        req: &DirectRequest<'_>,
        last: &mut ProxyError,
    ) -> Option<SentDirect> {
        let addr = pool.addr;
        let mut conn = match pool.take_direct() {
            Some(c) => c,
            // Boxed: connecting is rare, and this keeps the request's future small.
            None => match Box::pin(self.connect_tcp(&pool)).await {
                Ok(s) => Box::new(DirectConn::new(s)),
                Err(e) => {
                    Self::connect_failed(&e, last);
                    return None;
                }
            },
        };
        let idempotent = is_idempotent(req.method);
        loop {
            let reused = conn.used > 0;
            let exchange = conn.exchange(req, pool.clone());
            match tokio::time::timeout(self.header_timeout, exchange).await {
                Err(_) => return Some(Err(ProxyError::UpstreamHeaderTimeout)),
                Ok(Ok(resp)) => return Some(Ok((resp, addr))),
                Ok(Err((e, stage)))
                    if reused
                        && (stage == Stage::NotSent
                            || (stage == Stage::NoAnswer && idempotent)) =>
                {
                    tracing::debug!(upstream = %addr, error = %e, "pooled connection was closed, retrying on a new one");
                    match Box::pin(self.connect_tcp(&pool)).await {
                        Ok(s) => conn = Box::new(DirectConn::new(s)),
                        Err(_) => {
                            *last = ProxyError::UpstreamConnect;
                            return None;
                        }
                    }
                }
                Ok(Err((e, _))) => return Some(Err(ProxyError::UpstreamExchange(e))),
            }
        }
    }
}

/// RFC 9110 §9.2.2: requests that may be repeated automatically.
fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

type SentDirect = Result<(Response<DirectBody>, SocketAddr), ProxyError>;

type Sent = Result<(Response<Incoming>, PooledConn, SocketAddr), ProxyError>;

enum Attempt {
    Done(Sent),
    Next(Request<RequestBody>),
}

/// A request that was written (at least partly) failed: our body limit, the client, or the
/// upstream.
fn classify_send_error(e: hyper::Error) -> ProxyError {
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BodyError>() {
            return match b {
                BodyError::TooLarge => ProxyError::BodyTooLarge,
                BodyError::Client(_) => ProxyError::ClientBody,
            };
        }
        source = s.source();
    }
    ProxyError::UpstreamRequest(e)
}
