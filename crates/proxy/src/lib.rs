//! portcullis-proxy: the data plane — the only crate that touches sockets and TLS.
//!
//! It serves HTTP/1.1 and HTTP/2 (h2c by prior knowledge on the HTTP listener, ALPN `h2` on
//! the HTTPS listener) and forwards to upstream endpoints over HTTP/1.1 keep-alive pools.
//! Everything it needs to decide where a request goes is in the one immutable
//! [`portcullis_snapshot::Snapshot`] behind a [`SharedSnapshot`]; it never depends on the
//! control plane, which only stores new snapshots.
//!
//! # The request path, as named phases
//!
//! | # | phase | where | on failure |
//! |---|-------|-------|------------|
//! | 1 | **accept** | `server::accept_loop` | — |
//! | 2 | **TLS/SNI** | [`tls`]: certificate from the live snapshot per handshake | handshake fails |
//! | 3 | **read head** | hyper (head size, header-read timeout), `service::read_head` | 431, 413 |
//! | 4 | **route** | `service::route`: one `ArcSwap::load`, `normalize_path`, `RouteTable::lookup` | 400, 404, 308 redirect |
//! | 5 | **request phases** | `phases::request_headers`, `phases::request_body` (WAF 1–2, [`waf`]) | 403 (rule's status), 413, 503 fail-closed |
//! | 6 | **upstream** | `service::forward`, `upstream`: round-robin, retry on connect failure, upgrades; body-less requests via `service::forward_direct` and `h1_client` (WAF phases around it; an inspected request yields first, `phases::after_inspection`) | 502, 503, 504 |
//! | 7 | **response phases** | `phases::response_headers`, `phases::response_body` (WAF 3–4), hop-by-hop removal, `X-Request-Id` | the WAF's status |
//! | 8 | **log** | `completion`: access log, metrics, connection back to its pool | — |
//!
//! Every error becomes a response in one place, [`error`]. A request loads the snapshot
//! once, in the route phase, and keeps the `Arc<Route>` (with its backend) it found there: a
//! snapshot swap never changes an in-flight request.
//!
//! # Limits and timeouts
//! - Request head size (`limits.max_request_header_bytes`): HTTP/1.1 heads that do not fit
//!   hyper's read buffer (sized to the limit, at least 8 KiB) get 431 from hyper; HTTP/2
//!   uses `SETTINGS_MAX_HEADER_LIST_SIZE` (h2 answers 431); then the read-head phase checks
//!   the exact size for both protocols (431).
//! - Body size: a `Content-Length` above the limit is refused before any upstream contact
//!   (413); a chunked body is counted while it streams and the exchange fails with 413 once
//!   it crosses the limit.
//! - Timeouts: see [`config::Timeouts`] and [`error`] for which status each produces.
//!
//! # Hot path
//! No locks: the snapshot, the upstream pool map and the metrics series map are behind
//! `ArcSwap`s; idle upstream connections wait in lock-free queues; counters are atomics.
//! Upstream connections are reused across requests and snapshot swaps. A request without
//! body or upgrade (nearly all traffic; on a WAF route with its phases around) is sent by `h1_client`, which the request's own
//! task drives on the pooled socket: no connection task and no cross-task wake-ups; the
//! proxy's headers are written while the head is encoded. Other requests use hyper's client
//! (a connection task per upstream connection). With `workers` set,
//! the server runs thread-per-core (see `workers`): one current-thread runtime,
//! `SO_REUSEPORT` listener and upstream pool per thread.
//!
//! # Use
//! The binary builds a [`ProxyConfig`] (serde, from the config file), a [`SharedSnapshot`]
//! (stored into by the control plane), and a [`Metrics`] (it counts reloads with
//! [`Metrics::reload_ok`] / [`Metrics::reload_failed`]); [`Server::start`] binds and serves and
//! returns a [`Handle`] with the bound addresses; [`Handle::shutdown`] is the SIGTERM path.
//! The access log is emitted on the tracing target [`access_log::TARGET`] (`access`); the
//! binary installs the JSON subscriber.

pub mod access_log;
mod admin;
pub mod body;
mod completion;
pub mod config;
mod connection;
pub mod error;
mod h1_client;
pub mod headers;
pub mod metrics;
mod phases;
mod server;
mod service;
pub mod tls;
mod upgrade;
mod upstream;
pub mod waf;
mod workers;

pub use config::{Limits, ProxyConfig, Timeouts};
pub use error::ProxyError;
pub use metrics::Metrics;
pub use portcullis_snapshot::SharedSnapshot;
pub use server::{Handle, Lifecycle, Server, ServerError, ShutdownReport};
