//! portcullis-router: Ingress v1 host and path matching compiled into a [`RouteTable`].
//!
//! A pure library (no IO, no async). The control plane feeds every rule of every served
//! Ingress into a [`RouteTableBuilder`], oldest Ingress first; the resulting [`RouteTable`]
//! lives in the `Snapshot`; the proxy calls [`normalize_path`] and then [`RouteTable::lookup`]
//! once per request.
//!
//! # Matching (Ingress v1 specification)
//!
//! - **Hosts.** An exact host matches case-insensitively; the port of the `Host` header is
//!   ignored and one trailing dot tolerated. A wildcard `*.foo.com` matches exactly one more
//!   label (`bar.foo.com`, not `baz.bar.foo.com`, not `foo.com`). An exact host beats a
//!   wildcard. Rules without host apply only to requests whose host matches no host rule.
//!   Once a host rule matched, only that host's paths are searched; if none matches, the
//!   default backend answers, else nothing (the proxy answers 404).
//! - **`Exact`**: the whole canonical path, case-sensitive; a trailing slash is significant.
//! - **`Prefix`**: element-wise on `/`-separated elements, trailing slash ignored on both
//!   sides: `/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`; `/` matches all.
//! - **`ImplementationSpecific`**: exactly `Prefix` semantics (no regexes), an empty path is `/`.
//! - **Precedence**: the longest match wins; on a tie `Exact` beats `Prefix`. An `Exact` match
//!   always covers the whole request path, so it beats every `Prefix` match of that path.
//! - **Conflicts**: same host and same compiled path (see [`RouteTableBuilder`]) → the earlier
//!   rule stays, the later one gets [`RouteError::Conflict`].
//! - The query string never takes part in matching.
//!
//! # Validation (as the Kubernetes API server)
//!
//! Hosts must be DNS-1123 subdomains or `*.` + one; IP addresses and ports are refused. Paths
//! must start with `/`; `Exact` and `Prefix` paths must not contain `//`, `/./`, `/../`, `%2f`,
//! `%2F` nor end with `/..` or `/.`; `ImplementationSpecific` paths may be empty and are
//! otherwise only required to start with `/`. Beyond the API server, a rule path that
//! [`normalize_path`] refuses (bad `%`, `%00`, `..` above `/`, `..;`) is invalid, since no
//! request could ever match it.
//!
//! # Path normalisation, and why
//!
//! A path rule is a security boundary as soon as two rules send different paths to different
//! policies (a WAF exclusion, an auth annotation, another backend). If the router and the
//! upstream read a path differently, a request can be routed by one reading and served by the
//! other: `/public/../admin`, `//admin`, `/public/%2e%2e/admin`, `/public/..;/admin` (Tomcat
//! strips `;params`), `/public/..%2Fadmin` (servers that decode `%2F`). Hence:
//!
//! 1. **One canonical form, matched and forwarded.** [`normalize_path`] computes it once; the
//!    proxy matches it AND sends it upstream instead of the original (the query string is
//!    forwarded unchanged). nginx matches `location`s on a decoded, normalised URI but with
//!    `proxy_pass http://up;` forwards the *original* URI, so nginx and its upstream can
//!    disagree; we forward what we matched, like Envoy with `normalize_path` and
//!    `merge_slashes`.
//! 2. **Percent-decoding of unreserved characters only** (`A-Z a-z 0-9 - . _ ~`, RFC 3986
//!    §6.2.2.2): `%61dmin` is `admin` and `%2e%2e` is `..` for every server, so they are decoded
//!    before the dot segments are resolved. Other escapes keep their meaning (data, not
//!    syntax) and are only upper-cased; raw bytes not allowed in a path are encoded. nginx
//!    decodes everything for matching; we do not, because decoding `%2F` or `%3F` changes the
//!    structure of the path.
//! 3. **`%2F` and `%5C` stay encoded and are not separators** (APIs such as
//!    `/projects/group%2Fname` rely on it). A segment that would become a dot segment once they
//!    are decoded (`..%2F`, `%5C..`) or once `;params` are stripped (`..;x`) is refused
//!    ([`PathError::AmbiguousDotSegment`], → 400), so no upstream can climb out of the prefix the
//!    router chose. Remaining caveats, documented for operators: an upstream that decodes
//!    `%2F` into `/` sees `/admin%2Fx` as `/admin/x`, and one that strips `;params` from every
//!    segment (Tomcat, Jetty) sees `/admin;x/y` as `/admin/y`, while the router matches those
//!    paths literally; do not protect paths of such upstreams with path rules alone.
//! 4. **`//` is merged, `.` and `..` are resolved** (RFC 3986 §5.2.4, like nginx's default
//!    `merge_slashes on`); a trailing slash is kept (it matters to `Exact`). `..` above `/` is
//!    refused ([`PathError::EscapesRoot`]), as nginx answers 400.
//! 5. **Refused outright**: a path not starting with `/`, a `%` not followed by two hex
//!    digits, `%00` or a raw NUL byte ([`PathError`]; the proxy answers 400).
//!
//! Rule paths go through the same function, so a rule and a request are always compared in
//! the same form.
//!
//! # Helpers for the proxy
//!
//! [`split_host_port`] parses a `Host`/`:authority` value (IPv6 literals included);
//! [`canonical_host`] gives the host as the router compares it (for logs and metrics);
//! [`RouteTable::has_host`] tells whether a host rule covers a host.
//!
//! # Performance
//!
//! `lookup` costs two host probes and one probe per path element at most, whatever the number
//! of Ingresses, and does not allocate; [`normalize_path`] does not allocate for a path that is
//! already canonical. See `benches/benches/route_lookup.rs`.

mod builder;
mod error;
mod host;
mod normalize;
mod path;
mod path_set;
mod table;

pub use builder::RouteTableBuilder;
pub use error::{PathError, RouteError};
pub use host::{canonical_host, split_host_port};
pub use normalize::normalize_path;
pub use table::{MatchKind, RouteMatch, RouteTable};

/// `spec.rules[].http.paths[].pathType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathType {
    /// The whole path, case-sensitive.
    Exact,
    /// Element-wise prefix on `/`-separated elements.
    Prefix,
    /// Matched here exactly as [`PathType::Prefix`] (no regexes); an empty path means `/`.
    ImplementationSpecific,
}
