//! Rule paths: validation like the Kubernetes API server, then compilation into the key the
//! lookup compares against.
//!
//! - Every path must start with `/`; an `ImplementationSpecific` path may be empty (= `/`).
//! - `Exact` and `Prefix` paths must not contain `//`, `/./`, `/../`, `%2f` or `%2F` and must not
//!   end with `/..` or `/.` (the API server's `invalidPathSequences`/`invalidPathSuffixes`).
//! - `ImplementationSpecific` means `Prefix` here. The API server accepts any text starting
//!   with `/` for it (controllers such as ingress-nginx read it as a regex); we do not
//!   interpret regexes: the path is compared element-wise like a `Prefix` path.
//! - Every rule path is then put through [`crate::normalize_path`], the same function applied
//!   to requests, so both sides are compared in one canonical form (`/caf%c3%a9` and `/café`
//!   are the same rule). A path it refuses (`..` above the root, `..;`, bad `%`) is invalid.
//! - `Prefix` keys drop the trailing slash: `/foo/` and `/foo` are the same prefix rule.

use crate::{PathError, PathType, normalize_path};

/// What a rule path compiles to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RulePath {
    /// The whole canonical path (trailing slash significant).
    Exact(Box<str>),
    /// The canonical path without trailing slash; `""` for `/` (matches everything).
    Prefix(Box<str>),
}

const INVALID_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_SUFFIXES: [&str; 2] = ["/..", "/."];

impl RulePath {
    /// Validates and compiles `path` of type `path_type`.
    pub(crate) fn compile(path: &str, path_type: PathType) -> Result<Self, &'static str> {
        if path.is_empty() && path_type == PathType::ImplementationSpecific {
            return Ok(RulePath::Prefix("".into()));
        }
        if !path.starts_with('/') {
            return Err("must be an absolute path (start with '/')");
        }
        if path_type != PathType::ImplementationSpecific {
            if INVALID_SEQUENCES.iter().any(|s| path.contains(s)) {
                return Err("must not contain '//', '/./', '/../' or '%2f'");
            }
            if INVALID_SUFFIXES.iter().any(|s| path.ends_with(s)) {
                return Err("must not end with '/..' or '/.'");
            }
        }
        let canonical = normalize_path(path).map_err(|e| match e {
            PathError::NotAbsolute => "must be an absolute path (start with '/')",
            PathError::BadEncoding => "has an invalid percent-encoding",
            PathError::EscapesRoot => "climbs above '/' with '..'",
            PathError::EncodedNul => "contains a NUL byte (raw or %00)",
            PathError::AmbiguousDotSegment => "contains an ambiguous dot segment ('..;', '..%2F')",
        })?;
        Ok(match path_type {
            PathType::Exact => RulePath::Exact(canonical.into()),
            PathType::Prefix | PathType::ImplementationSpecific => {
                let key = canonical.strip_suffix('/').unwrap_or(&canonical);
                RulePath::Prefix(key.into())
            }
        })
    }

    /// The path as shown in messages: the canonical form, `/` for the root prefix.
    pub(crate) fn display(&self) -> &str {
        match self {
            RulePath::Exact(p) => p,
            RulePath::Prefix(p) if p.is_empty() => "/",
            RulePath::Prefix(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles() {
        let p = |s, t| RulePath::compile(s, t);
        assert_eq!(
            p("/foo/", PathType::Prefix),
            Ok(RulePath::Prefix("/foo".into()))
        );
        assert_eq!(p("/", PathType::Prefix), Ok(RulePath::Prefix("".into())));
        assert_eq!(
            p("/foo/", PathType::Exact),
            Ok(RulePath::Exact("/foo/".into()))
        );
        assert_eq!(
            p("", PathType::ImplementationSpecific),
            Ok(RulePath::Prefix("".into()))
        );
        assert_eq!(
            p("/a//b", PathType::ImplementationSpecific),
            Ok(RulePath::Prefix("/a/b".into()))
        );
        assert!(p("foo", PathType::Prefix).is_err());
        assert!(p("/a/../b", PathType::Exact).is_err());
    }
}
