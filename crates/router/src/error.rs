//! The two error types of the router: [`RouteError`] for configuration (a rule that cannot be
//! added, reported to the user with the Ingress it came from) and [`PathError`] for requests (a
//! request path the proxy refuses with `400 Bad Request`).

/// Why a rule (or the default backend) could not be added to a [`crate::RouteTableBuilder`].
///
/// The `reason` strings are fixed texts meant for humans; callers match on the variant, never on
/// the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The host is not a DNS-1123 subdomain or a `*.`-wildcard of one (IP addresses and ports are
    /// refused, as by the Kubernetes API server).
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost { host: String, reason: &'static str },
    /// The path does not start with `/`, contains a sequence the Kubernetes API server rejects
    /// for `Exact`/`Prefix`, or cannot be normalised (see [`crate::normalize_path`]).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// A rule with the same host, path and matching semantics was added before; the earlier
    /// (older) one is kept and this one is dropped.
    #[error("conflict: {what} is already defined by an earlier (older) Ingress")]
    Conflict { what: String },
}

/// Why a request path was refused by [`crate::normalize_path`]; the proxy answers `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty or does not start with `/` (origin-form is required).
    #[error("request path must start with '/'")]
    NotAbsolute,
    /// A `%` is not followed by two hexadecimal digits.
    #[error("request path has an invalid percent-encoding")]
    BadEncoding,
    /// A `..` segment would climb above `/`.
    #[error("request path escapes the root")]
    EscapesRoot,
    /// `%00` or a raw NUL byte (which would be forwarded as `%00`): truncates paths in C
    /// upstreams.
    #[error("request path contains a NUL byte (raw or %00)")]
    EncodedNul,
    /// A segment that other parsers may read as `.` or `..` while the router does not: a dot
    /// segment hidden behind an encoded slash or backslash (`..%2F`, `%5C..`) or followed by path
    /// parameters (`..;jsessionid=x`, read as `..` by Tomcat and Jetty).
    #[error("request path contains an ambiguous dot segment")]
    AmbiguousDotSegment,
}
