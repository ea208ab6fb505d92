//! The WAF policy a route carries: a shared compiled [`portcullis_waf::Engine`] plus what the
//! data plane applies per transaction (mode, rule exclusions by id and tag) and how it runs it
//! (failure handling, time budget).
//!
//! Compiling CRS costs tens of MB per engine, so only what truly needs compilation is part of
//! the engine (the rule files, paranoia level and thresholds, a ConfigMap's exclusion rules);
//! the mode and the exclusions by id/tag are applied by [`WafPolicy::transaction`] to each
//! transaction, with exactly the semantics of `SecRuleEngine` and of `SecRuleRemoveById` /
//! `SecRuleRemoveByTag` placed after the rules (a removed rule never runs, in any phase).
//! Many policies thus share one engine. The control plane builds each distinct policy once
//! (per rules version) and every route using it shares the same `Arc<WafPolicy>`; the policy
//! is part of the [`crate::Snapshot`], so a rules change is swapped atomically with the
//! routes. Body inspection limits and the body-limit action are the engine's own settings
//! (`SecRequestBodyLimit`, …), read through [`WafPolicy::engine`]`.config()`.

use std::sync::Arc;
use std::time::Duration;

pub use portcullis_waf::Engine as WafEngine;
use portcullis_waf::{ConnectionInfo, RuleEngineMode, Transaction};

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

/// One policy, shared by every route that uses it.
pub struct WafPolicy {
    /// The compiled rule set (engine settings included), shared by every policy with the
    /// same rules, paranoia level and ConfigMap exclusions.
    pub engine: Arc<WafEngine>,
    /// Applied per transaction (`SecRuleEngine`); the engine itself is compiled `On`.
    pub mode: WafMode,
    /// Rules removed for these routes, as inclusive id ranges (`SecRuleRemoveById`).
    pub removed_ids: Vec<(u64, u64)>,
    /// Rules removed for these routes by tag, exact match (`SecRuleRemoveByTag`).
    pub removed_tags: Vec<String>,
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

    /// A transaction on the shared engine with this policy's mode and exclusions applied.
    pub fn transaction(&self, conn: ConnectionInfo) -> Transaction {
        let mut tx = self.engine.transaction(conn);
        tx.set_rule_engine(match self.mode {
            WafMode::On => RuleEngineMode::On,
            WafMode::DetectionOnly => RuleEngineMode::DetectionOnly,
        });
        if !self.removed_ids.is_empty() {
            tx.remove_rules_by_id(&self.removed_ids);
        }
        if !self.removed_tags.is_empty() {
            tx.remove_rules_by_tag(&self.removed_tags);
        }
        tx
    }
}

impl std::fmt::Debug for WafPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WafPolicy")
            .field("label", &self.label)
            .field("mode", &self.mode)
            .field("removed_ids", &self.removed_ids)
            .field("removed_tags", &self.removed_tags)
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
            && self.removed_ids == other.removed_ids
            && self.removed_tags == other.removed_tags
            && self.fail == other.fail
            && self.time_budget == other.time_budget
            && self.inspect_response_body == other.inspect_response_body
    }
}

impl Eq for WafPolicy {}
