//! Prometheus metrics, rendered by hand in the text exposition format.
//!
//! The hot path only touches atomics: per-(route, host) series live in an immutable map behind
//! an `ArcSwap` (loaded, looked up, incremented); a new series copies the map under a mutex,
//! which happens once per new (route, host) pair. Unmatched requests are counted under empty
//! route and host labels, and the number of series is capped (`MAX_SERIES`, the rest under
//! host `_other`) so a client cannot inflate memory with made-up Host headers.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::error::UpstreamErrorKind;

/// Upper bound on (route, host) series.
pub const MAX_SERIES: usize = 5_000;

/// Status codes counted individually; anything else falls into its class (`2xx`...).
const STATUSES: [u16; 28] = [
    101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 409,
    413, 429, 431, 499, 500, 501, 502, 503, 504,
];
const CLASS_BASE: usize = STATUSES.len();
const SLOTS: usize = CLASS_BASE + 5;

/// Latency buckets, seconds.
const BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn slot(status: u16) -> usize {
    match STATUSES.binary_search(&status) {
        Ok(i) => i,
        Err(_) => CLASS_BASE + usize::from((status / 100).clamp(1, 5) - 1),
    }
}

fn slot_label(i: usize) -> String {
    if i < CLASS_BASE {
        STATUSES[i].to_string()
    } else {
        format!("{}xx", i - CLASS_BASE + 1)
    }
}

#[derive(Debug)]
struct StatusCounts([AtomicU64; SLOTS]);

type SeriesMap = HashMap<Box<str>, HashMap<Box<str>, Arc<StatusCounts>>>;

#[derive(Debug)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// All counters of the data plane. The binary increments the reload counters.
#[derive(Debug)]
pub struct Metrics {
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    active_connections: AtomicI64,
    upstream_errors: [AtomicU64; UpstreamErrorKind::ALL.len()],
    latency: Histogram,
    series: ArcSwap<SeriesMap>,
    series_count: AtomicUsize,
    grow: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            active_connections: AtomicI64::new(0),
            upstream_errors: Default::default(),
            latency: Histogram {
                buckets: Default::default(),
                sum_micros: AtomicU64::new(0),
            },
            series: ArcSwap::from_pointee(SeriesMap::new()),
            series_count: AtomicUsize::new(0),
            grow: Mutex::new(()),
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot was built and swapped in.
    pub fn reload_ok(&self) {
        self.reloads_ok.fetch_add(1, Relaxed);
    }

    /// A rebuild failed (or reported errors); the last good snapshot stays.
    pub fn reload_failed(&self) {
        self.reloads_failed.fetch_add(1, Relaxed);
    }

    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Relaxed),
            self.reloads_failed.load(Relaxed),
        )
    }

    pub fn active_connections(&self) -> i64 {
        self.active_connections.load(Relaxed)
    }

    pub(crate) fn connection_opened(&self) {
        self.active_connections.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.active_connections.fetch_sub(1, Relaxed);
    }

    pub(crate) fn upstream_error(&self, kind: UpstreamErrorKind) {
        self.upstream_errors[kind as usize].fetch_add(1, Relaxed);
    }

    /// Counts one finished request. `route` None = no route matched (host is then dropped).
    pub fn record_request(&self, host: &str, route: Option<&str>, status: u16, elapsed: Duration) {
        let (route, host) = match route {
            Some(r) => (r, host),
            None => ("", ""),
        };
        let counts = self.series_for(route, host);
        counts.0[slot(status)].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.latency.buckets[bucket].fetch_add(1, Relaxed);
        self.latency.sum_micros.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Relaxed,
        );
    }

    fn series_for(&self, route: &str, host: &str) -> Arc<StatusCounts> {
        if let Some(c) = self.series.load().get(route).and_then(|m| m.get(host)) {
            return c.clone();
        }
        self.insert_series(route, host)
    }

    #[cold]
    fn insert_series(&self, route: &str, host: &str) -> Arc<StatusCounts> {
        let _guard = self.grow.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.series.load_full();
        if let Some(c) = current.get(route).and_then(|m| m.get(host)) {
            return c.clone();
        }
        let host = if self.series_count.load(Relaxed) >= MAX_SERIES {
            "_other"
        } else {
            host
        };
        let mut next = SeriesMap::clone(&current);
        let hosts = next.entry(route.into()).or_default();
        let counts = hosts
            .entry(host.into())
            .or_insert_with(|| {
                self.series_count.fetch_add(1, Relaxed);
                Arc::new(StatusCounts(std::array::from_fn(|_| AtomicU64::new(0))))
            })
            .clone();
        self.series.store(Arc::new(next));
        counts
    }

    /// Prometheus text exposition.
    pub fn render(&self, generation: u64) -> String {
        let mut out = String::with_capacity(4096);
        let (ok, failed) = self.reloads();
        gauge(
            &mut out,
            "portcullis_snapshot_generation",
            "Generation of the live snapshot.",
            generation as f64,
        );
        counter_head(
            &mut out,
            "portcullis_reloads_total",
            "Snapshot rebuilds by result.",
        );
        let _ = writeln!(out, "portcullis_reloads_total{{result=\"ok\"}} {ok}");
        let _ = writeln!(
            out,
            "portcullis_reloads_total{{result=\"failed\"}} {failed}"
        );
        gauge(
            &mut out,
            "portcullis_active_connections",
            "Open client connections.",
            self.active_connections() as f64,
        );
        counter_head(
            &mut out,
            "portcullis_upstream_errors_total",
            "Upstream failures by kind.",
        );
        for kind in UpstreamErrorKind::ALL {
            let n = self.upstream_errors[kind as usize].load(Relaxed);
            let _ = writeln!(
                out,
                "portcullis_upstream_errors_total{{kind=\"{}\"}} {n}",
                kind.label()
            );
        }
        counter_head(
            &mut out,
            "portcullis_requests_total",
            "Requests by route, host and status.",
        );
        let series = self.series.load();
        let mut routes: Vec<_> = series.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        for (route, hosts) in routes {
            let mut hosts: Vec<_> = hosts.iter().collect();
            hosts.sort_by(|a, b| a.0.cmp(b.0));
            for (host, counts) in hosts {
                for (i, c) in counts.0.iter().enumerate() {
                    let n = c.load(Relaxed);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "portcullis_requests_total{{route=\"{}\",host=\"{}\",status=\"{}\"}} {n}",
                            escape(route),
                            escape(host),
                            slot_label(i)
                        );
                    }
                }
            }
        }
        let name = "portcullis_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Request duration, head received to body sent."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.latency.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.latency.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.latency.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
        out
    }
}

fn counter_head(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// Label value escaping per the exposition format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_latency_and_reloads() {
        let m = Metrics::new();
        m.record_request(
            "myapp.com",
            Some("myapp.com/blog"),
            200,
            Duration::from_millis(3),
        );
        m.record_request(
            "myapp.com",
            Some("myapp.com/blog"),
            200,
            Duration::from_millis(30),
        );
        m.record_request("evil", None, 404, Duration::from_micros(100));
        m.record_request(
            "myapp.com",
            Some("myapp.com/blog"),
            418,
            Duration::from_millis(1),
        );
        m.reload_ok();
        m.reload_failed();
        m.upstream_error(UpstreamErrorKind::ConnectFailed);
        let text = m.render(7);
        for needle in [
            "portcullis_requests_total{route=\"myapp.com/blog\",host=\"myapp.com\",status=\"200\"} 2",
            "portcullis_requests_total{route=\"\",host=\"\",status=\"404\"} 1",
            "portcullis_requests_total{route=\"myapp.com/blog\",host=\"myapp.com\",status=\"4xx\"} 1",
            "portcullis_request_duration_seconds_count 4",
            "portcullis_request_duration_seconds_bucket{le=\"0.005\"} 3",
            "portcullis_reloads_total{result=\"ok\"} 1",
            "portcullis_reloads_total{result=\"failed\"} 1",
            "portcullis_snapshot_generation 7",
            "portcullis_upstream_errors_total{kind=\"connect_failed\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }

    #[test]
    fn status_slots_are_sorted_and_classes_cover_the_rest() {
        assert!(STATUSES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(slot_label(slot(200)), "200");
        assert_eq!(slot_label(slot(299)), "2xx");
        assert_eq!(slot_label(slot(599)), "5xx");
    }
}
