//! Proxy configuration: listeners, timeouts, limits, draining, access log.
//!
//! These structs deserialize straight from the `proxy:` part of the YAML config file (every field
//! has a default, so an empty mapping is a valid configuration). Durations are written as
//! `"30s"`, `"500ms"`, `"2m"` or a bare number of seconds.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Everything the data plane needs besides the snapshot.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Plain HTTP listener (HTTP/1.1 and h2c by prior knowledge). `None` disables it.
    pub http_addr: Option<SocketAddr>,
    /// TLS listener (ALPN `h2`, `http/1.1`). `None` disables it.
    pub https_addr: Option<SocketAddr>,
    /// Admin listener: `/healthz`, `/readyz`, `/metrics`. Loopback by default.
    pub admin_addr: SocketAddr,
    /// Port used in the `Location` of the ssl-redirect; defaults to the port of `https_addr`
    /// (set it when a port mapping puts the public port elsewhere).
    pub https_redirect_port: Option<u16>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    /// How long `Handle::shutdown` waits for in-flight requests before closing connections.
    #[serde(deserialize_with = "duration")]
    pub drain_timeout: Duration,
    /// Emit one JSON line per request on the `access` tracing target.
    pub access_log: bool,
    /// Thread-per-core mode: `"auto"` (one worker per CPU) or a number of worker threads,
    /// each with its own runtime, `SO_REUSEPORT` listeners and upstream pools. Absent or
    /// `0`: serve on the caller's tokio runtime.
    #[serde(deserialize_with = "workers")]
    pub workers: Option<usize>,
}

impl ProxyConfig {
    /// Number of worker threads to start, `None` for the caller's runtime.
    pub fn worker_threads(&self) -> Option<usize> {
        match self.workers {
            None | Some(0) => None,
            Some(usize::MAX) => Some(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
            ),
            Some(n) => Some(n),
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            http_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            https_addr: Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
            admin_addr: SocketAddr::from(([127, 0, 0, 1], 9901)),
            https_redirect_port: None,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            drain_timeout: Duration::from_secs(30),
            access_log: true,
            workers: None,
        }
    }
}

/// Timeouts on both sides of the proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// Opening a TCP connection to one endpoint. When every endpoint fails → 502/503.
    #[serde(deserialize_with = "duration")]
    pub connect: Duration,
    /// From the request being sent upstream to the response head arriving → 504.
    #[serde(deserialize_with = "duration")]
    pub upstream_header: Duration,
    /// TLS handshake plus reading a request head from the client (HTTP/1.1); the connection
    /// is closed when it expires (slowloris protection).
    #[serde(deserialize_with = "duration")]
    pub client_header_read: Duration,
    /// A client connection with no request in flight and no bytes moving for this long is
    /// closed (gracefully for HTTP/2: GOAWAY).
    #[serde(deserialize_with = "duration")]
    pub idle: Duration,
    /// Idle upstream keep-alive connections older than this are not reused.
    #[serde(deserialize_with = "duration")]
    pub upstream_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            upstream_header: Duration::from_secs(60),
            client_header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            upstream_idle: Duration::from_secs(30),
        }
    }
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Request line plus headers, in bytes → 431 when exceeded.
    pub max_request_header_bytes: usize,
    /// Request body in bytes → 413 when exceeded; `None` = unlimited. A route's own limit
    /// (annotation) applies when it is smaller.
    pub max_body_bytes: Option<u64>,
    /// Idle keep-alive connections kept per upstream endpoint.
    pub upstream_idle_per_endpoint: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_header_bytes: 32 * 1024,
            max_body_bytes: None,
            upstream_idle_per_endpoint: 256,
        }
    }
}

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let secs = value * scale;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse_duration(&t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration {t:?} (expected e.g. \"500ms\", \"30s\", \"2m\")"
            ))
        }),
    }
}

/// `"auto"` → `usize::MAX` (resolved by [`ProxyConfig::worker_threads`]), or a number.
fn workers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Count(usize),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Count(n)) => Ok(Some(n)),
        Some(Raw::Text(t)) if t == "auto" => Ok(Some(usize::MAX)),
        Some(Raw::Text(t)) => Err(serde::de::Error::custom(format!(
            "invalid workers {t:?} (expected \"auto\" or a number)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_unknown_fields() {
        let c: ProxyConfig = serde_json::from_str(
            r#"{"http_addr": "127.0.0.1:80", "https_addr": null,
                "timeouts": {"connect": "2s", "idle": 90},
                "limits": {"max_body_bytes": 1048576}}"#,
        )
        .unwrap();
        assert_eq!(c.http_addr, Some("127.0.0.1:80".parse().unwrap()));
        assert_eq!(c.https_addr, None);
        assert_eq!(c.timeouts.connect, Duration::from_secs(2));
        assert_eq!(c.timeouts.idle, Duration::from_secs(90));
        assert_eq!(
            c.timeouts.upstream_header,
            Timeouts::default().upstream_header
        );
        assert_eq!(c.limits.max_body_bytes, Some(1_048_576));
        assert_eq!(c.admin_addr, ProxyConfig::default().admin_addr);
        assert!(serde_json::from_str::<ProxyConfig>(r#"{"timeouts": {"conect": "1s"}}"#).is_err());
        assert!(serde_json::from_str::<ProxyConfig>(r#"{"drain_timeout": "soon"}"#).is_err());
        let auto: ProxyConfig = serde_json::from_str(r#"{"workers": "auto"}"#).unwrap();
        assert!(auto.worker_threads().unwrap() >= 1);
        let two: ProxyConfig = serde_json::from_str(r#"{"workers": 2}"#).unwrap();
        assert_eq!(two.worker_threads(), Some(2));
        assert_eq!(c.worker_threads(), None);
    }
}
