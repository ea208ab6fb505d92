//! Backends: the ready endpoints of one Service port, with round-robin selection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Identity of a backend: `namespace/service:port` as written in the Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKey {
    pub namespace: String,
    pub service: String,
    /// The Service port as named or numbered in the Ingress (`80` or `http`).
    pub port: String,
}

impl std::fmt::Display for BackendKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.service, self.port)
    }
}

/// The ready endpoints of one Service port. An empty list means 503 for its routes.
#[derive(Debug)]
pub struct Backend {
    pub key: BackendKey,
    pub endpoints: Vec<SocketAddr>,
    /// Round-robin cursor; per snapshot (a reload restarts the rotation, which is harmless).
    cursor: AtomicUsize,
}

impl Backend {
    pub fn new(key: BackendKey, endpoints: Vec<SocketAddr>) -> Self {
        Backend {
            key,
            endpoints,
            cursor: AtomicUsize::new(0),
        }
    }

    /// Endpoints in the order to try for one request: round-robin start, then the others
    /// (used for the retry on another endpoint when a connection cannot be opened).
    pub fn attempt_order(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        let n = self.endpoints.len();
        let start = if n == 0 {
            0
        } else {
            self.cursor.fetch_add(1, Ordering::Relaxed) % n
        };
        (0..n).map(move |i| self.endpoints[(start + i) % n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BackendKey {
        BackendKey {
            namespace: "default".into(),
            service: "blog".into(),
            port: "80".into(),
        }
    }

    #[test]
    fn round_robin_rotates_start_and_covers_all() {
        let eps: Vec<SocketAddr> = vec![
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            "127.0.0.1:3".parse().unwrap(),
        ];
        let b = Backend::new(key(), eps.clone());
        let first: Vec<_> = b.attempt_order().collect();
        let second: Vec<_> = b.attempt_order().collect();
        assert_eq!(first, eps);
        assert_eq!(second, vec![eps[1], eps[2], eps[0]]);
    }

    #[test]
    fn empty_backend_yields_nothing() {
        let b = Backend::new(key(), vec![]);
        assert_eq!(b.attempt_order().count(), 0);
    }
}
