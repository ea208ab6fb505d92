//! The paths of one host (or of the rules without host), arranged for a lookup whose cost
//! depends on the depth of the request path, not on the number of rules.
//!
//! `Exact` rules sit in a hash map keyed by the whole canonical path. `Prefix` rules sit in a
//! second hash map keyed by the path without trailing slash. A lookup first tries the exact map
//! (an exact match covers the whole request path, so it is at least as long as any prefix
//! match, and wins ties), then the request path cut at each `/` from the longest candidate to
//! the root: the first candidate found is the longest element-wise prefix. A bitmap of the key
//! lengths present skips the candidates that cannot be in the map without hashing them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The hash map of the lookup: foldhash (seeded per process) is several times faster than
/// SipHash on short keys; the keys come from configuration, a request only probes.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

use crate::MatchKind;
use crate::path::RulePath;

/// Key lengths below this are tracked one by one; longer keys set `has_long`.
const TRACKED_LENGTHS: usize = 256;

#[derive(Debug)]
pub(crate) struct PathSet<T> {
    exact: Map<Box<str>, T>,
    prefix: Map<Box<str>, T>,
    prefix_lengths: [u64; TRACKED_LENGTHS / 64],
    has_long_prefix: bool,
}

impl<T> Default for PathSet<T> {
    fn default() -> Self {
        PathSet {
            exact: Map::default(),
            prefix: Map::default(),
            prefix_lengths: [0; TRACKED_LENGTHS / 64],
            has_long_prefix: false,
        }
    }
}

impl<T> PathSet<T> {
    /// Inserts a rule; gives the target back when the same compiled path is already present
    /// (the earlier rule stays).
    pub(crate) fn insert(&mut self, path: RulePath, target: T) -> Result<(), T> {
        let (map, key) = match path {
            RulePath::Exact(key) => (&mut self.exact, key),
            RulePath::Prefix(key) => {
                let len = key.len();
                if len < TRACKED_LENGTHS {
                    self.prefix_lengths[len / 64] |= 1 << (len % 64);
                } else {
                    self.has_long_prefix = true;
                }
                (&mut self.prefix, key)
            }
        };
        match map.entry(key) {
            Entry::Occupied(_) => Err(target),
            Entry::Vacant(slot) => {
                slot.insert(target);
                Ok(())
            }
        }
    }

    fn may_have_prefix_of_len(&self, len: usize) -> bool {
        if len < TRACKED_LENGTHS {
            self.prefix_lengths[len / 64] & (1 << (len % 64)) != 0
        } else {
            self.has_long_prefix
        }
    }

    /// Finds the rule for a canonical request path (see [`crate::normalize_path`]).
    pub(crate) fn lookup(&self, path: &str) -> Option<(&T, MatchKind)> {
        if let Some(target) = self.exact.get(path) {
            return Some((target, MatchKind::Exact));
        }
        if self.prefix.is_empty() {
            return None;
        }
        let mut candidate = path.strip_suffix('/').unwrap_or(path);
        loop {
            if self.may_have_prefix_of_len(candidate.len()) {
                if let Some(target) = self.prefix.get(candidate) {
                    return Some((target, MatchKind::Prefix));
                }
            }
            match candidate.rfind('/') {
                Some(cut) => candidate = &candidate[..cut],
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PathType;

    fn set(rules: &[(&str, PathType, u8)]) -> PathSet<u8> {
        let mut set = PathSet::default();
        for (path, path_type, target) in rules {
            let compiled = RulePath::compile(path, *path_type).unwrap();
            set.insert(compiled, *target).unwrap();
        }
        set
    }

    #[test]
    fn longest_prefix_then_exact() {
        let s = set(&[
            ("/", PathType::Prefix, 1),
            ("/aaa", PathType::Prefix, 2),
            ("/aaa/bbb", PathType::Prefix, 3),
            ("/aaa/bbb", PathType::Exact, 4),
        ]);
        assert_eq!(s.lookup("/aaa/bbb"), Some((&4, MatchKind::Exact)));
        assert_eq!(s.lookup("/aaa/bbb/"), Some((&3, MatchKind::Prefix)));
        assert_eq!(s.lookup("/aaa/bbbxyz"), Some((&2, MatchKind::Prefix)));
        assert_eq!(s.lookup("/ccc"), Some((&1, MatchKind::Prefix)));
        assert_eq!(s.lookup("/"), Some((&1, MatchKind::Prefix)));
    }

    #[test]
    fn long_prefixes_are_found() {
        let long = format!("/{}", "x".repeat(300));
        let s = set(&[(long.as_str(), PathType::Prefix, 7)]);
        assert_eq!(
            s.lookup(&format!("{long}/y")),
            Some((&7, MatchKind::Prefix))
        );
        assert_eq!(s.lookup("/x"), None);
    }
}
