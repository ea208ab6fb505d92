//! portcullis-snapshot: the one immutable value a request needs.
//!
//! The control plane (`portcullis-control`) builds a [`Snapshot`] from the full current set of
//! Kubernetes objects; the data plane (`portcullis-proxy`) reads it. Both depend on this crate,
//! neither on the other. A snapshot lives behind ONE `ArcSwap` ([`SharedSnapshot`]); a request
//! loads it once and uses that version throughout, so it is routed by the old table or the new
//! one, never a mix.
//!
//! This crate holds only data (no IO): routes (a [`portcullis_router::RouteTable`]), backends
//! with their endpoints, TLS certificates by server name, per-route policy and a generation.

mod backend;
mod tls;
mod waf;

use std::sync::Arc;
use std::time::SystemTime;

pub use backend::{Backend, BackendKey};
pub use portcullis_router::{PathType, RouteTable};
pub use tls::TlsStore;
pub use waf::{FailMode, WafEngine, WafMode, WafPolicy};

/// Everything the data plane needs to serve a request, swapped whole.
#[derive(Debug)]
pub struct Snapshot {
    /// Monotonic number of this build; 0 is the empty snapshot before the first build.
    pub generation: u64,
    /// Host/path table; targets are shared [`Route`]s.
    pub routes: RouteTable<Arc<Route>>,
    /// Certificates by SNI name, plus the default certificate.
    pub tls: TlsStore,
    /// When the translation produced this snapshot.
    pub built_at: SystemTime,
}

/// One routable destination: where a (host, path) rule or a default backend sends traffic.
#[derive(Debug)]
pub struct Route {
    /// `namespace/name` of the Ingress this route comes from.
    pub ingress: Arc<str>,
    /// Human-readable route label for logs and metrics, e.g. `myapp.com/blog` or `default-backend`.
    pub label: Arc<str>,
    /// The service port this route sends to.
    pub backend: Arc<Backend>,
    /// Per-route behaviour (redirects, limits, later the WAF policy).
    pub policy: Arc<RoutePolicy>,
}

/// Per-route behaviour derived from the Ingress and its annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutePolicy {
    /// Plain-HTTP requests get a 308 to https (the host has TLS and the annotation allows it).
    pub ssl_redirect: bool,
    /// Optional request body limit in bytes (413 when exceeded).
    pub max_body_bytes: Option<u64>,
    /// The compiled WAF policy; `None` = WAF off (the request streams untouched).
    pub waf: Option<Arc<WafPolicy>>,
}

impl Snapshot {
    /// The snapshot served before the first build: no routes, only the default certificate.
    pub fn empty(tls: TlsStore) -> Self {
        Snapshot {
            generation: 0,
            routes: RouteTable::default(),
            tls,
            built_at: SystemTime::now(),
        }
    }
}

/// The single swap point shared by the control plane (writer) and the data plane (readers).
pub type SharedSnapshot = Arc<arc_swap::ArcSwap<Snapshot>>;
