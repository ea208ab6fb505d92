//! The compiled WAF policy a route carries: a shared [`portcullis_waf::Engine`] plus what the
//! data plane needs to run it (mode, failure handling, time budget).
//!
//! The control plane compiles each distinct policy once (per rules version) and every route
//! using it shares the same `Arc<WafPolicy>`; the policy is part of the [`crate::Snapshot`],
//! so a rules change is swapped atomically with the routes. Body inspection limits and the
//! body-limit action are the engine's own settings (`SecRequestBodyLimit`, …), read through
//! [`WafPolicy::engine`]`.config()`.

use std::sync::Arc;
use std::time::Duration;

pub use portcullis_waf::Engine as WafEngine;

/// How the rules' verdicts are applied. A route with the WAF off has no policy at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WafMode {
    /// Rules run and log; nothing is blocked (`SecRuleEngine DetectionOnly`).
    DetectionOnly,
    /// Rules run; disruptive actions answer the client (`SecRuleEngine On`).
    On,
}

/// What happens when the engine fails (a panic) or a request's evaluation exceeds the time
/// budget. Either way it is logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailMode {
    /// Let the request through un-inspected (availability first).
    Open,
    /// Refuse the request with 503 (security first). The default: an attacker who can make
    /// evaluation slow must not thereby get past the WAF.
    #[default]
    Closed,
}

/// One compiled policy, shared by every route that uses it.
pub struct WafPolicy {
    /// The compiled rule set (engine settings included).
    pub engine: Arc<WafEngine>,
    pub mode: WafMode,
    pub fail: FailMode,
    /// Evaluation time allowed per request (all phases together); `Duration::ZERO` = none.
    pub time_budget: Duration,
    /// Inspect response bodies of the engine's MIME types (phase 4); otherwise they stream.
    pub inspect_response_body: bool,
    /// Short description for logs, e.g. `crs pl=2 mode=on excl=[942100]`.
    pub label: Arc<str>,
    /// Version of the rule files it was compiled from.
    pub rules_version: u64,
}

impl WafPolicy {
    /// Whether the engine blocks (mode On).
    pub fn blocking(&self) -> bool {
        self.mode == WafMode::On
    }
}

impl std::fmt::Debug for WafPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WafPolicy")
            .field("label", &self.label)
            .field("mode", &self.mode)
            .field("fail", &self.fail)
            .field("time_budget", &self.time_budget)
            .field("rules", &self.engine.rule_count())
            .field("rules_version", &self.rules_version)
            .finish()
    }
}

/// Two policies are equal when they share the same compiled engine and settings.
impl PartialEq for WafPolicy {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.engine, &other.engine)
            && self.mode == other.mode
            && self.fail == other.fail
            && self.time_budget == other.time_budget
            && self.inspect_response_body == other.inspect_response_body
    }
}

impl Eq for WafPolicy {}
