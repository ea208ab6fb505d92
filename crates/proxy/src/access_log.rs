//! The access log: one JSON line per request on the `access` tracing target.
//!
//! The binary installs the subscriber (JSON formatter); this module only emits the event with
//! its fields: `ts`, `request_id`, `client`, `method`, `host`, `path`, `status`, `bytes`,
//! `duration_ms`, `route`, `upstream`. The record is filled while the request moves through
//! the phases and emitted when the response body has been sent (so `bytes` and `duration_ms`
//! cover the whole exchange).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method, Uri, Version};

/// Tracing target of access-log events.
pub const TARGET: &str = "access";

/// What is known about one request, cheap to fill (clones of shared buffers, no formatting).
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub start: Instant,
    pub client: SocketAddr,
    pub request_id: HeaderValue,
    pub method: Method,
    pub version: Version,
    /// Original request target (path and query as received).
    pub uri: Uri,
    /// Host header or :authority, as received (port included).
    pub host: Option<HeaderValue>,
    pub status: u16,
    /// Label of the matched route.
    pub route: Option<Arc<str>>,
    /// Endpoint that answered.
    pub upstream: Option<SocketAddr>,
}

impl AccessRecord {
    /// The host without port, for metric labels.
    pub fn host_name(&self) -> &str {
        let host = self
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        strip_port(host)
    }

    /// Emits the access-log line.
    pub fn emit(&self, bytes: u64, duration: Duration) {
        let path = self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        tracing::info!(
            target: TARGET,
            ts = %Rfc3339(SystemTime::now()),
            request_id = self.request_id.to_str().unwrap_or("-"),
            client = %self.client,
            method = self.method.as_str(),
            proto = ?self.version,
            host = self.host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or(""),
            path = path,
            status = self.status,
            bytes = bytes,
            duration_ms = duration.as_secs_f64() * 1000.0,
            route = self.route.as_deref().unwrap_or(""),
            upstream = %OptAddr(self.upstream),
        );
    }
}

/// `host[:port]` or `[v6]:port` → host; the router's authority parser
/// ([`portcullis_router::split_host_port`]), with the text kept as is when it does not parse.
pub fn strip_port(host: &str) -> &str {
    portcullis_router::split_host_port(host).map_or(host, |(name, _)| name)
}

struct OptAddr(Option<SocketAddr>);

impl std::fmt::Display for OptAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => Ok(()),
        }
    }
}

/// RFC 3339 UTC timestamp with milliseconds, without a date library.
pub struct Rfc3339(pub SystemTime);

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60,
            d.subsec_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(Rfc3339(t).to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Rfc3339(UNIX_EPOCH).to_string(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("myapp.com:8080"), "myapp.com");
        assert_eq!(strip_port("myapp.com"), "myapp.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }
}
