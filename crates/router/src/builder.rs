//! [`RouteTableBuilder`]: validates rules one by one, in priority order, and arranges them
//! directly into the [`RouteTable`] layout, so that `build` is a move.
//!
//! Priority order is the caller's: the control plane adds the rules of the oldest Ingress first
//! (`creationTimestamp`, then namespace/name), so "the first rule wins a conflict" means "the
//! oldest Ingress wins". Two rules conflict when they have the same host and the same compiled
//! path: `Exact` rules with the same canonical path, or `Prefix`/`ImplementationSpecific` rules
//! whose canonical paths differ at most by a trailing slash (`/foo` and `/foo/` match exactly
//! the same requests).

use crate::host::RuleHost;
use crate::path::RulePath;
use crate::path_set::PathSet;
use crate::{PathType, RouteError, RouteTable};

/// Collects rules in priority order (oldest Ingress first), then compiles them.
#[derive(Debug)]
pub struct RouteTableBuilder<T> {
    table: RouteTable<T>,
}

impl<T> Default for RouteTableBuilder<T> {
    fn default() -> Self {
        RouteTableBuilder {
            table: RouteTable::default(),
        }
    }
}

impl<T> RouteTableBuilder<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one rule. `host` `None` (or `Some("")`) = a rule without host. Validates host and
    /// path like the Kubernetes API server does (see the crate docs). A rule with the same host
    /// and compiled path as an earlier one is refused with [`RouteError::Conflict`]: the earlier
    /// (older) one stays.
    pub fn add(
        &mut self,
        host: Option<&str>,
        path: &str,
        path_type: PathType,
        target: T,
    ) -> Result<(), RouteError> {
        let host = match host {
            None | Some("") => None,
            Some(h) => Some(
                RuleHost::parse(h).map_err(|reason| RouteError::InvalidHost {
                    host: h.to_string(),
                    reason,
                })?,
            ),
        };
        let compiled =
            RulePath::compile(path, path_type).map_err(|reason| RouteError::InvalidPath {
                path: path.to_string(),
                reason,
            })?;
        let what = describe(host.as_ref(), &compiled);
        let paths: &mut PathSet<T> = match host {
            None => &mut self.table.any_host,
            Some(RuleHost::Exact(h)) => self.table.exact_hosts.entry(h).or_default(),
            Some(RuleHost::Wildcard(suffix)) => {
                self.table.wildcard_hosts.entry(suffix).or_default()
            }
        };
        match paths.insert(compiled, target) {
            Ok(()) => {
                self.table.rules += 1;
                Ok(())
            }
            Err(_rejected) => Err(RouteError::Conflict { what }),
        }
    }

    /// Sets the default backend; the first call wins, later ones get a Conflict.
    pub fn set_default_backend(&mut self, target: T) -> Result<(), RouteError> {
        if self.table.default.is_some() {
            return Err(RouteError::Conflict {
                what: "defaultBackend".into(),
            });
        }
        self.table.default = Some(target);
        Ok(())
    }

    /// Number of rules accepted so far.
    pub fn len(&self) -> usize {
        self.table.rules
    }

    /// True when no rule and no default backend was accepted yet.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn build(self) -> RouteTable<T> {
        self.table
    }
}

/// `Prefix path "/foo" of host "*.foo.com"`, for conflict messages.
fn describe(host: Option<&RuleHost>, path: &RulePath) -> String {
    let kind = match path {
        RulePath::Exact(_) => "Exact",
        RulePath::Prefix(_) => "Prefix",
    };
    let path = path.display();
    match host {
        None => format!("{kind} path {path:?} of the rules without host"),
        Some(RuleHost::Exact(h)) => format!("{kind} path {path:?} of host {h:?}"),
        Some(RuleHost::Wildcard(s)) => format!("{kind} path {path:?} of host \"*.{s}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatchKind;

    #[test]
    fn first_rule_wins_a_conflict() {
        let mut b = RouteTableBuilder::new();
        b.add(Some("foo.com"), "/a", PathType::Prefix, 1).unwrap();
        let err = b.add(Some("foo.com"), "/a/", PathType::ImplementationSpecific, 2);
        assert!(matches!(err, Err(RouteError::Conflict { .. })), "{err:?}");
        b.add(Some("foo.com"), "/a", PathType::Exact, 3).unwrap();
        let t = b.build();
        assert_eq!(t.len(), 2);
        let m = t.lookup("foo.com", "/a/b").unwrap();
        assert_eq!((*m.target, m.kind), (1, MatchKind::Prefix));
    }
}
