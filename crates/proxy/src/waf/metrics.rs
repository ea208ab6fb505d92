//! WAF metrics (process-wide, rendered after the proxy's own series on `/metrics`):
//!
//! - `portcullis_waf_decisions_total{action,rule_id}`: one per inspected request: `pass`,
//!   `block` (a `deny` answered with its status, or a refused redirect target answered 403),
//!   `redirect` (a `redirect` answered with its 3xx), `drop` (connection closed / stream
//!   reset), `detect` (a disruptive rule matched in DetectionOnly), `fail_open`/`fail_closed`;
//!   `rule_id` is the deciding rule (empty for `pass` and failures);
//! - `portcullis_waf_evaluation_seconds`: histogram of engine time per request (all phases);
//! - `portcullis_waf_body_limit_hits_total{action}`: request bodies over the inspection limit
//!   (`reject` → 413, `partial` → first part inspected);
//! - `portcullis_waf_failures_total{reason}`: engine panics and time-budget overruns.
//!
//! Passes and histogram buckets are atomics; the per-rule map takes a mutex only for
//! blocks and detections.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];

/// Decision labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Block,
    Redirect,
    Drop,
    Detect,
    FailOpen,
    FailClosed,
}

impl Action {
    fn label(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Redirect => "redirect",
            Action::Drop => "drop",
            Action::Detect => "detect",
            Action::FailOpen => "fail_open",
            Action::FailClosed => "fail_closed",
        }
    }
}

#[derive(Debug, Default)]
pub struct WafMetrics {
    passes: AtomicU64,
    decisions: Mutex<BTreeMap<(Action, u64), u64>>,
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    limit_reject: AtomicU64,
    limit_partial: AtomicU64,
    fail_budget: AtomicU64,
    fail_panic: AtomicU64,
}

static METRICS: std::sync::OnceLock<WafMetrics> = std::sync::OnceLock::new();

/// The process-wide WAF metrics.
pub fn global() -> &'static WafMetrics {
    METRICS.get_or_init(WafMetrics::default)
}

impl WafMetrics {
    pub fn pass(&self) {
        self.passes.fetch_add(1, Relaxed);
    }

    pub fn decision(&self, action: Action, rule_id: u64) {
        let mut m = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((action, rule_id)).or_default() += 1;
    }

    pub fn evaluation(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }

    pub fn body_limit(&self, rejected: bool) {
        if rejected {
            self.limit_reject.fetch_add(1, Relaxed);
        } else {
            self.limit_partial.fetch_add(1, Relaxed);
        }
    }

    pub fn failure(&self, panic: bool) {
        if panic {
            self.fail_panic.fetch_add(1, Relaxed);
        } else {
            self.fail_budget.fetch_add(1, Relaxed);
        }
    }

    /// Appends the Prometheus text of the WAF series.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP portcullis_waf_decisions_total WAF decisions by action and deciding rule id.\n# TYPE portcullis_waf_decisions_total counter"
        );
        let _ = writeln!(
            out,
            "portcullis_waf_decisions_total{{action=\"pass\",rule_id=\"\"}} {}",
            self.passes.load(Relaxed)
        );
        let m = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        for ((action, id), n) in m.iter() {
            let id = if *id == 0 {
                String::new()
            } else {
                id.to_string()
            };
            let _ = writeln!(
                out,
                "portcullis_waf_decisions_total{{action=\"{}\",rule_id=\"{id}\"}} {n}",
                action.label()
            );
        }
        drop(m);
        let _ = writeln!(
            out,
            "# HELP portcullis_waf_evaluation_seconds WAF engine time per request.\n# TYPE portcullis_waf_evaluation_seconds histogram"
        );
        let mut cum = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Relaxed);
            let _ = writeln!(
                out,
                "portcullis_waf_evaluation_seconds_bucket{{le=\"{b}\"}} {cum}"
            );
        }
        cum += self.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "portcullis_waf_evaluation_seconds_bucket{{le=\"+Inf\"}} {cum}"
        );
        let _ = writeln!(
            out,
            "portcullis_waf_evaluation_seconds_sum {}",
            self.sum_nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "portcullis_waf_evaluation_seconds_count {cum}");
        let _ = writeln!(
            out,
            "# HELP portcullis_waf_body_limit_hits_total Request bodies over the WAF inspection limit.\n# TYPE portcullis_waf_body_limit_hits_total counter"
        );
        let _ = writeln!(
            out,
            "portcullis_waf_body_limit_hits_total{{action=\"reject\"}} {}",
            self.limit_reject.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "portcullis_waf_body_limit_hits_total{{action=\"partial\"}} {}",
            self.limit_partial.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portcullis_waf_failures_total WAF engine failures (panic) and time-budget overruns.\n# TYPE portcullis_waf_failures_total counter"
        );
        let _ = writeln!(
            out,
            "portcullis_waf_failures_total{{reason=\"time_budget\"}} {}",
            self.fail_budget.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "portcullis_waf_failures_total{{reason=\"panic\"}} {}",
            self.fail_panic.load(Relaxed)
        );
    }
}
