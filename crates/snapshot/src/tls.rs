//! TLS certificates by server name, for the SNI resolver of the data plane.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

/// Certificates keyed by host (lower-case). Wildcard entries (`*.foo.com`) match exactly one
/// label; an exact name beats a wildcard; anything else gets the default certificate.
#[derive(Debug, Clone)]
pub struct TlsStore {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the suffix after `*.`, e.g. `foo.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl TlsStore {
    pub fn new(default: Arc<CertifiedKey>) -> Self {
        TlsStore {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default,
        }
    }

    /// Adds a certificate for `host` (`a.b` or `*.b`). The first insertion for a name wins,
    /// so callers insert in priority order (oldest Ingress first). Returns false if the name
    /// already had a certificate.
    pub fn insert(&mut self, host: &str, key: Arc<CertifiedKey>) -> bool {
        let host = host.to_ascii_lowercase();
        let map = match host.strip_prefix("*.") {
            Some(suffix) => {
                return insert_first(&mut self.wildcard, suffix.to_string(), key);
            }
            None => &mut self.exact,
        };
        insert_first(map, host, key)
    }

    /// The certificate for a specific name, if one was configured (not the default).
    pub fn lookup(&self, server_name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = server_name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return Some(k);
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(parent)
    }

    /// The certificate to present for an SNI name (or none): configured, else the default.
    pub fn resolve(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        server_name
            .and_then(|n| self.lookup(n))
            .unwrap_or(&self.default)
            .clone()
    }

    /// Whether a configured (non-default) certificate covers `host`.
    pub fn has_host(&self, host: &str) -> bool {
        self.lookup(host).is_some()
    }

    pub fn default_key(&self) -> &Arc<CertifiedKey> {
        &self.default
    }

    /// Number of configured (non-default) names.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn insert_first(
    map: &mut HashMap<String, Arc<CertifiedKey>>,
    name: String,
    key: Arc<CertifiedKey>,
) -> bool {
    if map.contains_key(&name) {
        return false;
    }
    map.insert(name, key);
    true
}
