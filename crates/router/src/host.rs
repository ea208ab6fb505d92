//! Hosts: validation of the hosts written in Ingress rules, and the canonical form of the host
//! a request names (`Host` header or HTTP/2 `:authority`).
//!
//! Rule hosts are validated like the Kubernetes API server does: a DNS-1123 subdomain (lower
//! case letters, digits, `-` and `.`, each label starting and ending with a letter or digit, at
//! most 253 characters; the API server does not check the 63-character label limit and neither
//! do we), or `*.` followed by one. IP addresses and ports are refused.
//!
//! Request hosts are compared case-insensitively: the port is ignored, one trailing dot is
//! tolerated (`foo.com.` is `foo.com`), an IPv6 literal (`[::1]:8080`) never matches a host
//! rule. Lower-casing uses a stack buffer, so a lookup never allocates.

use std::borrow::Cow;

/// Longest DNS name accepted, as by Kubernetes (RFC 1123).
pub(crate) const MAX_HOST_LEN: usize = 253;

/// A validated rule host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleHost {
    /// `foo.bar.com`: matched case-insensitively.
    Exact(Box<str>),
    /// `*.foo.com`, stored as its suffix `foo.com`: matches exactly one more label.
    Wildcard(Box<str>),
}

impl RuleHost {
    /// Validates a host from an Ingress rule.
    pub(crate) fn parse(host: &str) -> Result<Self, &'static str> {
        if host.len() > MAX_HOST_LEN {
            return Err("must be no more than 253 characters");
        }
        if let Some(suffix) = host.strip_prefix("*.") {
            check_dns1123_subdomain(suffix)
                .map_err(|_| "a wildcard must be '*.' followed by a DNS-1123 subdomain")?;
            return Ok(RuleHost::Wildcard(suffix.into()));
        }
        if host.contains('*') {
            return Err("a wildcard is only allowed as the whole first label ('*.foo.com')");
        }
        if host.contains(':') {
            return Err("must be a DNS name without a port");
        }
        check_dns1123_subdomain(host)?;
        if is_ipv4_literal(host) {
            return Err("must be a DNS name, not an IP address");
        }
        Ok(RuleHost::Exact(host.into()))
    }
}

fn check_dns1123_subdomain(name: &str) -> Result<(), &'static str> {
    const MESSAGE: &str = "must be a DNS-1123 subdomain: lower case alphanumeric characters, \
                           '-' or '.', starting and ending with an alphanumeric character";
    if name.is_empty() {
        return Err(MESSAGE);
    }
    for label in name.split('.') {
        let bytes = label.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return Err(MESSAGE);
        };
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !alnum(first) || !alnum(last) || !bytes.iter().all(|b| alnum(b) || *b == b'-') {
            return Err(MESSAGE);
        }
    }
    Ok(())
}

/// Four dot-separated decimal numbers each fitting a byte (leading zeros allowed, like Go's
/// `ParseIPSloppy` used by the API server).
fn is_ipv4_literal(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() == 4
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.len() <= 3 && l.parse::<u8>().is_ok())
}

/// Splits an authority (`Host` header value) into host and port.
///
/// `"foo.com:8080"` → `("foo.com", Some(8080))`; `"[::1]:8443"` → `("::1", Some(8443))` (the
/// brackets of an IPv6 literal are removed); `"foo.com"` → `("foo.com", None)`. Returns `None`
/// for an empty host, a port that is not a number in 0-65535, a bare IPv6 address without
/// brackets, an unclosed bracket or user information (`user@host`).
pub fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        if inside.is_empty() || !inside.contains(':') {
            return None;
        }
        (inside, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

/// The canonical form of a request host for matching: port removed, one trailing dot removed,
/// lower case. `None` when the host can never match a rule host (IPv6 literal, malformed —
/// e.g. two trailing dots —, longer than 253 characters); the result is a fixed point. Allocates only when the host has upper-case letters.
pub fn canonical_host(host: &str) -> Option<Cow<'_, str>> {
    let name = host_name(host)?;
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(Cow::Owned(name.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(name))
    }
}

/// Like [`canonical_host`], lower-casing into `buf` instead of allocating.
pub(crate) fn canonical_host_in<'a>(
    host: &'a str,
    buf: &'a mut [u8; MAX_HOST_LEN],
) -> Option<&'a str> {
    let name = host_name(host)?;
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(name);
    }
    let out = &mut buf[..name.len()];
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

/// The host part without port and trailing dot, if it could be a DNS name at all.
fn host_name(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return None;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return None,
        None => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    // A second trailing dot is an empty label: malformed, and stripping only one dot would
    // leave a name that canonicalises differently a second time.
    if name.is_empty() || name.len() > MAX_HOST_LEN || name.contains(':') || name.ends_with('.') {
        return None;
    }
    Some(name)
}

/// The suffix a wildcard rule must have to match `host`: `bar.foo.com` → `foo.com`.
/// `None` for a single-label host.
pub(crate) fn wildcard_suffix(host: &str) -> Option<&str> {
    match host.split_once('.') {
        Some((first, rest)) if !first.is_empty() && !rest.is_empty() => Some(rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_into_the_buffer() {
        let mut buf = [0u8; MAX_HOST_LEN];
        assert_eq!(
            canonical_host_in("FOO.Bar.com.:80", &mut buf),
            Some("foo.bar.com")
        );
        assert_eq!(canonical_host_in("[::1]:80", &mut buf), None);
        assert_eq!(canonical_host_in("foo.com", &mut buf), Some("foo.com"));
    }

    #[test]
    fn wildcard_suffixes() {
        assert_eq!(wildcard_suffix("bar.foo.com"), Some("foo.com"));
        assert_eq!(wildcard_suffix("localhost"), None);
        assert_eq!(wildcard_suffix(".foo.com"), None);
    }
}
