//! Rule evaluation: runs a phase's rules in order, evaluates chains link by link with
//! ModSecurity v3 semantics, executes actions, and applies disruptive outcomes.
//!
//! Per link: extract each target (exclusions applied), transform each value through the
//! shared cache, consult the chain's prefilter, run the operator. On every matching value:
//! MATCHED_VAR(S) and captures are updated and the link's `setvar`s run. When the whole chain
//! matched, the other actions (ctl, initcol) run from the last link back to the first, the
//! match is recorded and the disruptive action applies (unless DetectionOnly).

use crate::action::{AllowScope, Disruptive};
use crate::ctl::RuleEngineMode;
use crate::macros::expand_text;
use crate::operator::MacroExpander;
use crate::prefilter::words_contain;
use crate::rule::{Link, PhaseItem, Rule, Test};
use crate::state::{RuleContext, State};
use crate::transaction::{Outcome, Transaction};
use crate::transform::Transform;
use crate::variable::Target;
use std::borrow::Cow;

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

struct Expander<'a>(&'a State);

impl MacroExpander for Expander<'_> {
    fn expand(&self, text: &str) -> String {
        expand_text(text, self.0)
    }
}

impl Transaction {
    pub(crate) fn run_phase(&mut self, phase: u8) -> Outcome {
        if let Some(o) = &self.interrupted {
            if phase != 5 {
                return o.clone();
            }
        }
        if self.rule_engine() == RuleEngineMode::Off
            || (phase != 5 && phase <= self.allowed_through)
        {
            return self.outcome();
        }
        let engine = self.engine.clone();
        let items = &engine.phases[phase as usize];
        let mut pos = 0;
        while pos < items.len() {
            let PhaseItem::Rule(ri) = items[pos] else {
                pos += 1;
                continue;
            };
            if self.rule_engine() == RuleEngineMode::Off {
                break;
            }
            let rule = &engine.rules[ri];
            if self.is_removed(rule) {
                pos += 1;
                continue;
            }
            self.state.rule = RuleContext {
                id: rule.id,
                phase,
                severity: rule.severity,
            };
            self.state.matched_all.clear();
            if !self.eval_link(rule, 0) {
                pos += 1;
                continue;
            }
            self.record(ri, rule);
            if self.rule_engine() == RuleEngineMode::On {
                match &rule.disruptive {
                    Disruptive::Pass | Disruptive::Block => {}
                    Disruptive::Deny => {
                        return self.interrupt(Outcome::Deny {
                            status: rule.status.unwrap_or(403),
                        });
                    }
                    Disruptive::Drop => return self.interrupt(Outcome::Drop),
                    Disruptive::Redirect(m) => {
                        let status = rule
                            .status
                            .filter(|s| (300..400).contains(s))
                            .unwrap_or(302);
                        let location = m.expand(&self.state);
                        return self.interrupt(Outcome::Redirect { status, location });
                    }
                    Disruptive::Allow(scope) => {
                        match scope {
                            AllowScope::All => self.allowed_through = 4,
                            AllowScope::Request => {
                                self.allowed_through = self.allowed_through.max(2)
                            }
                            AllowScope::Phase => {}
                        }
                        return Outcome::Pass;
                    }
                }
            }
            if rule.skip_after.is_some() {
                pos = engine.jumps[phase as usize][pos];
                continue;
            }
            pos += 1;
            let mut to_skip = rule.skip;
            while to_skip > 0 && pos < items.len() {
                if matches!(items[pos], PhaseItem::Rule(_)) {
                    to_skip -= 1;
                }
                pos += 1;
            }
        }
        Outcome::Pass
    }

    fn interrupt(&mut self, o: Outcome) -> Outcome {
        self.interrupted = Some(o.clone());
        o
    }

    fn is_removed(&self, rule: &Rule) -> bool {
        let o = &self.overrides;
        o.removed_ids
            .iter()
            .any(|(a, b)| (*a..=*b).contains(&rule.id))
            || o.removed_tags
                .iter()
                .any(|t| rule.tags.iter().any(|rt| rt == t))
    }

    fn runtime_exclusions(&self, rule: &Rule) -> Vec<Target> {
        let o = &self.overrides;
        if o.removed_targets_by_id.is_empty() && o.removed_targets_by_tag.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<Target> = o
            .removed_targets_by_id
            .iter()
            .filter(|(a, b, _)| (*a..=*b).contains(&rule.id))
            .map(|(_, _, t)| t.clone())
            .collect();
        out.extend(
            o.removed_targets_by_tag
                .iter()
                .filter(|(tag, _)| rule.tags.iter().any(|t| t == tag))
                .map(|(_, t)| t.clone()),
        );
        out
    }

    fn eval_link(&mut self, rule: &Rule, li: usize) -> bool {
        let link = &rule.links[li];
        let mut any = false;
        match &link.test {
            Test::Always => {
                any = true;
                self.run_setvars(link);
            }
            Test::Operator(op) => {
                let runtime = if li == 0 {
                    self.runtime_exclusions(rule)
                } else {
                    Vec::new()
                };
                let mut items = std::mem::take(&mut self.items_buf);
                items.clear();
                let no_exclusions = link.exclusions.is_empty() && runtime.is_empty();
                for target in &link.targets {
                    if no_exclusions {
                        self.state.extract(target, &[], &mut items);
                        continue;
                    }
                    let excl: Vec<&Target> = link
                        .exclusions
                        .iter()
                        .chain(runtime.iter())
                        .filter(|e| e.var == target.var)
                        .collect();
                    self.state.extract(target, &excl, &mut items);
                }
                let mut values = std::mem::take(&mut self.values_buf);
                for item in &items {
                    values.clear();
                    if link.multi_match {
                        self.transformed_each(item.value, link, &mut values);
                    } else {
                        let (tv, scan) = self.through_chain(item.value, link);
                        if let (Some(off), Some(slot)) = (scan, link.prefilter) {
                            if !words_contain(&self.scan_words[off as usize..], slot) {
                                continue;
                            }
                        }
                        values.push(tv);
                    }
                    for &tv in &values {
                        if link.multi_match && self.gated_out(link, tv) {
                            continue;
                        }
                        let mut caps = link.capture.then(Vec::new);
                        let hit = op.evaluate(
                            self.state.vals.get(tv),
                            &Expander(&self.state),
                            caps.as_mut(),
                        );
                        if !hit {
                            continue;
                        }
                        any = true;
                        if let Some(caps) = caps {
                            if !caps.is_empty() {
                                for d in DIGITS {
                                    self.state.tx.remove(d);
                                }
                                for (i, c) in caps.into_iter().take(10).enumerate() {
                                    self.state.tx.insert(DIGITS[i].to_string(), c);
                                }
                            }
                        }
                        self.state.matched = Some((*item, tv));
                        self.state.matched_all.push((*item, tv));
                        self.run_setvars(link);
                    }
                }
                self.items_buf = items;
                self.values_buf = values;
            }
        }
        if !any {
            self.state.matched = None;
            self.state.matched_all.clear();
            return false;
        }
        if li + 1 < rule.links.len() && !self.eval_link(rule, li + 1) {
            return false;
        }
        for a in &link.actions {
            self.run_action(a);
        }
        true
    }

    /// The value after the link's whole chain, and (when the link is gated) the index of the
    /// prefilter scan of that result; both cached per (value, chain).
    fn through_chain(&mut self, value: u32, link: &Link) -> (u32, Option<u32>) {
        let key = (value, link.chain_id);
        let gated = link.prefilter.is_some() && self.engine.prefilter_on;
        if let Some(&(tv, scan)) = self.chain_cache.get(&key) {
            if !gated || scan != u32::MAX {
                return (tv, gated.then_some(scan));
            }
        }
        let mut tv = value;
        for &t in &link.transforms {
            tv = self.step(tv, t);
        }
        let mut scan = u32::MAX;
        if gated {
            if let Some(Some(pf)) = self.engine.prefilters.get(link.chain_id as usize) {
                let off = self.scan_words.len();
                scan = off as u32;
                self.scan_words.resize(off + pf.words(), 0);
                pf.scan_into(
                    self.state.vals.get(tv),
                    &mut self.scan_words[off..],
                    &mut self.scan_seen,
                );
            }
        }
        self.chain_cache.insert(key, (tv, scan));
        (tv, (scan != u32::MAX).then_some(scan))
    }

    /// `multiMatch`: the original value and every transformation result that changed it.
    fn transformed_each(&mut self, value: u32, link: &Link, out: &mut Vec<u32>) {
        let mut cur = value;
        out.push(cur);
        for &t in &link.transforms {
            let next = self.step(cur, t);
            if next != cur {
                out.push(next);
            }
            cur = next;
        }
    }

    fn step(&mut self, value: u32, t: Transform) -> u32 {
        use std::collections::hash_map::Entry;
        match self.tcache.entry((value, t)) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let vals = &mut self.state.vals;
                let changed = match t.apply(vals.get(value)) {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(o) => Some(o),
                };
                let result = match changed {
                    None => value,
                    Some(o) => vals.intern_vec(o),
                };
                *e.insert(result)
            }
        }
    }

    /// True when the link's prefilter proves the operator cannot match `value` (used for
    /// `multiMatch` links, whose values are intermediate results).
    fn gated_out(&mut self, link: &Link, value: u32) -> bool {
        let Some(slot) = link.prefilter else {
            return false;
        };
        if !self.engine.prefilter_on {
            return false;
        }
        let Some(Some(pf)) = self.engine.prefilters.get(link.chain_id as usize) else {
            return false;
        };
        let off = self.scan_words.len();
        self.scan_words.resize(off + pf.words(), 0);
        pf.scan_into(
            self.state.vals.get(value),
            &mut self.scan_words[off..],
            &mut self.scan_seen,
        );
        let hit = words_contain(&self.scan_words[off..], slot);
        self.scan_words.truncate(off);
        !hit
    }
}
