//! Header rewriting between client and upstream: hop-by-hop removal, `X-Forwarded-*`,
//! `X-Request-Id`.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection and are removed in both
//! directions: `Connection` and every header it lists, `Keep-Alive`, `Proxy-*` (e.g.
//! `Proxy-Authorization`, `Proxy-Connection`), `TE`, `Trailer`, `Transfer-Encoding`, and
//! `Upgrade` — except that an upgrade request keeps `Upgrade` and gets `Connection: upgrade`
//! (and so does the 101 answer).

use std::net::IpAddr;

use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// An incoming request id longer than this is replaced by a generated one.
const MAX_REQUEST_ID_LEN: usize = 200;

/// Whether the request asks for a protocol upgrade (`Connection: upgrade` + `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && connection_has_token(headers, "upgrade")
}

fn connection_has_token(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Whether a field name (any case) is hop-by-hop: RFC 9110 §7.6.1's connection-specific
/// fields plus `Proxy-*`. The one list both upstream clients use.
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 6] = [
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
        || (name.len() >= 6 && name[..6].eq_ignore_ascii_case(b"proxy-"))
}

/// Whether any hop-by-hop header is present (one pass; most requests have none, and then
/// [`strip_hop_by_hop`] has nothing to do).
fn has_hop_by_hop(headers: &HeaderMap) -> bool {
    headers.keys().any(|n| is_hop_by_hop(n.as_str().as_bytes()))
}

/// Removes hop-by-hop headers. With `upgrade`, keeps `Upgrade` and sets `Connection: upgrade`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    if !upgrade && !has_hop_by_hop(headers) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        // Names listed in Connection; collected first (the map is borrowed while iterating).
        let mut listed: Vec<HeaderName> = Vec::new();
        for value in headers.get_all(header::CONNECTION) {
            if let Ok(text) = value.to_str() {
                for token in text.split(',') {
                    if let Ok(name) = HeaderName::from_bytes(token.trim().as_bytes()) {
                        listed.push(name);
                    }
                }
            }
        }
        for name in listed {
            if !(upgrade && name == header::UPGRADE) {
                headers.remove(&name);
            }
        }
        headers.remove(header::CONNECTION);
    }
    headers.remove(&KEEP_ALIVE);
    headers.remove(header::TE);
    headers.remove(header::TRAILER);
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::PROXY_AUTHORIZATION);
    headers.remove(header::PROXY_AUTHENTICATE);
    if has_proxy_prefixed(headers) {
        let names: Vec<HeaderName> = headers
            .keys()
            .filter(|n| n.as_str().starts_with("proxy-"))
            .cloned()
            .collect();
        for n in names {
            headers.remove(n);
        }
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

fn has_proxy_prefixed(headers: &HeaderMap) -> bool {
    headers.keys().any(|n| n.as_str().starts_with("proxy-"))
}

/// The client address as a header value; computed once per connection.
pub fn client_ip_value(client: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&client.to_string()).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Sets `X-Forwarded-For` (appending the client address), `X-Forwarded-Proto` and
/// `X-Forwarded-Host` (the host the client asked for).
pub fn set_forwarded(headers: &mut HeaderMap, client: &HeaderValue, tls: bool, host: &HeaderValue) {
    let xff = match headers.get(&X_FORWARDED_FOR).map(|v| v.as_bytes()) {
        Some(prev) if !prev.trim_ascii().is_empty() => {
            let mut joined = Vec::with_capacity(prev.len() + 2 + client.len());
            joined.extend_from_slice(prev);
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(client.as_bytes());
            HeaderValue::from_bytes(&joined).ok()
        }
        _ => Some(client.clone()),
    };
    if let Some(v) = xff {
        headers.insert(X_FORWARDED_FOR.clone(), v);
    }
    let proto = if tls { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(proto));
    headers.insert(X_FORWARDED_HOST.clone(), host.clone());
}

/// The client's `X-Request-Id` when present and sane, else a new one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    match headers.get(&X_REQUEST_ID) {
        Some(v) if !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.to_str().is_ok() => {
            v.clone()
        }
        _ => generate_request_id(),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 32 hex digits: a per-process random prefix and a counter (unique, cheap, not secret).
pub fn generate_request_id() -> HeaderValue {
    use std::hash::{BuildHasher, Hasher};
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let prefix = *PREFIX.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        h.finish()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 32];
    hex(prefix, &mut buf[..16]);
    hex(n, &mut buf[16..]);
    HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

fn hex(mut v: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v & 0xf) as usize];
        v >>= 4;
    }
}

/// Bytes of the request head as HTTP/1.1 would carry it (request line + header lines).
pub fn head_size(method: &http::Method, uri: &http::Uri, headers: &HeaderMap) -> usize {
    let line = method.as_str().len() + uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12;
    headers
        .iter()
        .fold(line, |n, (k, v)| n + k.as_str().len() + v.len() + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic x"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-keep", "yes"),
        ]);
        strip_hop_by_hop(&mut h, false);
        let names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-keep"]);
    }

    #[test]
    fn upgrade_keeps_upgrade_and_connection() {
        let mut h = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert!(is_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = map(&[("x-forwarded-for", "10.0.0.1")]);
        let host = HeaderValue::from_static("myapp.com");
        let client = client_ip_value("127.0.0.1".parse().unwrap());
        set_forwarded(&mut h, &client, true, &host);
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "myapp.com");
    }

    #[test]
    fn request_ids_are_kept_or_generated_unique() {
        let h = map(&[("x-request-id", "abc-123")]);
        assert_eq!(request_id(&h), "abc-123");
        let a = request_id(&HeaderMap::new());
        let b = request_id(&HeaderMap::new());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
