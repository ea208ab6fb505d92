//! The compiled [`RouteTable`] and its hot path, [`RouteTable::lookup`].
//!
//! Layout: a hash map from exact host to its [`PathSet`], a hash map from wildcard suffix
//! (`*.foo.com` → `foo.com`) to its `PathSet`, the `PathSet` of the rules without host, and
//! the default backend. A lookup costs one host canonicalisation (no allocation), at most two
//! host hash probes and one path probe per `/`-separated element of the request path: it does
//! not grow with the number of Ingresses.

use crate::host::{MAX_HOST_LEN, canonical_host_in, wildcard_suffix};
use crate::path_set::{Map, PathSet};

/// How the request matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// An `Exact` rule.
    Exact,
    /// A `Prefix` (or `ImplementationSpecific`) rule.
    Prefix,
    /// No rule matched; the default backend answers.
    DefaultBackend,
}

/// A successful lookup.
#[derive(Debug, Clone, Copy)]
pub struct RouteMatch<'a, T> {
    pub target: &'a T,
    pub kind: MatchKind,
}

/// The compiled table, immutable once built (see [`crate::RouteTableBuilder`]).
#[derive(Debug)]
pub struct RouteTable<T> {
    pub(crate) exact_hosts: Map<Box<str>, PathSet<T>>,
    pub(crate) wildcard_hosts: Map<Box<str>, PathSet<T>>,
    pub(crate) any_host: PathSet<T>,
    pub(crate) default: Option<T>,
    pub(crate) rules: usize,
}

impl<T> Default for RouteTable<T> {
    fn default() -> Self {
        RouteTable {
            exact_hosts: Map::default(),
            wildcard_hosts: Map::default(),
            any_host: PathSet::default(),
            default: None,
            rules: 0,
        }
    }
}

impl<T> RouteTable<T> {
    /// Finds the target for a request.
    ///
    /// `host` is the `Host` header or `:authority` as received (any port is ignored, case does
    /// not matter, one trailing dot is tolerated). `path` is the path after
    /// [`crate::normalize_path`]; anything from a `?` on is ignored.
    ///
    /// Order: exact host, else wildcard host, else the rules without host; within the chosen
    /// group the longest matching path (`Exact` wins a tie); else the default backend; else
    /// `None` (the proxy answers 404). Once a host rule matched, the rules without host are not
    /// consulted.
    pub fn lookup(&self, host: &str, path: &str) -> Option<RouteMatch<'_, T>> {
        let path = match path.find('?') {
            Some(cut) => &path[..cut],
            None => path,
        };
        let mut buf = [0u8; MAX_HOST_LEN];
        let paths = canonical_host_in(host, &mut buf)
            .and_then(|host| self.paths_for(host))
            .unwrap_or(&self.any_host);
        match paths.lookup(path) {
            Some((target, kind)) => Some(RouteMatch { target, kind }),
            None => self.default.as_ref().map(|target| RouteMatch {
                target,
                kind: MatchKind::DefaultBackend,
            }),
        }
    }

    /// The path group of a canonical host, if a host rule matches it.
    fn paths_for(&self, host: &str) -> Option<&PathSet<T>> {
        if let Some(paths) = self.exact_hosts.get(host) {
            return Some(paths);
        }
        if self.wildcard_hosts.is_empty() {
            return None;
        }
        self.wildcard_hosts.get(wildcard_suffix(host)?)
    }

    /// True when a host rule (exact or wildcard) matches `host` (as for [`Self::lookup`]).
    pub fn has_host(&self, host: &str) -> bool {
        let mut buf = [0u8; MAX_HOST_LEN];
        canonical_host_in(host, &mut buf)
            .and_then(|host| self.paths_for(host))
            .is_some()
    }

    /// Number of (host, path) rules.
    pub fn len(&self) -> usize {
        self.rules
    }

    /// True when there is no rule and no default backend: every lookup returns `None`.
    pub fn is_empty(&self) -> bool {
        self.rules == 0 && self.default.is_none()
    }

    /// The default backend, if any.
    pub fn default_backend(&self) -> Option<&T> {
        self.default.as_ref()
    }
}
