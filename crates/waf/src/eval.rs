//! Rule evaluation: runs a phase's rules in order, evaluates chains link by link with
//! ModSecurity v3 semantics, executes actions, and applies disruptive outcomes.
//!
//! Per link: take the values of its targets (exclusions applied) and their transformed forms
//! from the per-transaction target-set/group caches (or extract and transform them now),
//! consult the prefilter (the group's union of scans, then each value's scan), run the
//! operator. On every matching value:
//! MATCHED_VAR(S) and captures are updated and the link's `setvar`s run. When the whole chain
//! matched, the other actions (ctl, initcol) run from the last link back to the first, the
//! match is recorded and the disruptive action applies (unless DetectionOnly).

use crate::action::{AllowScope, Disruptive};
use crate::ctl::RuleEngineMode;
use crate::engine::{Engine, Gate, GateTest};
use crate::groups::Cached;
use crate::macros::expand_text;
use crate::memo::{self, Memo};
use crate::operator::MacroExpander;
use crate::operator::{Captures, Comparison, Operator};
use crate::prefilter::words_contain;
use crate::rule::{DirectTx, Link, Rule, Test};
use crate::state::{Item, RuleContext, State};
use crate::transaction::{Outcome, RawMatch, Transaction, has_bit};
use crate::transform::Transform;
use crate::variable::{Selector, Target, Var};
use std::borrow::Cow;
use std::sync::Arc;

/// `key` when the link's only target is `TX:key` or `&TX:key` (no exclusion, no
/// transformation, not `multiMatch`).
fn direct_tx_key(link: &Link) -> Option<&str> {
    let [target] = link.targets.as_slice() else {
        return None;
    };
    if target.var != Var::TX
        || !link.exclusions.is_empty()
        || !link.transforms.is_empty()
        || link.multi_match
    {
        return None;
    }
    match &target.selector {
        Some(Selector::Key(k)) => Some(k.as_str()),
        _ => None,
    }
}

/// How the link reads its one TX member directly, if it can (see `Link::direct_tx`).
pub(crate) fn direct_tx_of(link: &Link) -> Option<DirectTx> {
    direct_tx_key(link)?;
    let target = &link.targets[0];
    Some(DirectTx {
        slot: target.tx_slot?,
        count: target.count,
    })
}

/// What a rule's [`Gate`] tells about its first link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gated {
    /// It cannot match: the rule is passed over.
    Out,
    /// Its TX comparison holds (`GateTest::Tx`): it matches.
    TxHolds,
    /// The rule must be evaluated.
    Unknown,
}

/// Whether the link may use the per-transaction target-set and group caches. Runtime
/// exclusions (`ctl:ruleRemoveTarget*`) filter the cached items; a count (`&VAR`) would
/// change with them, so such links extract anew.
fn uses_caches(link: &Link, runtime: &[Target]) -> bool {
    runtime.is_empty() || !link.targets.iter().any(|t| t.count)
}

struct Expander<'a>(&'a State);

impl MacroExpander for Expander<'_> {
    fn expand(&self, text: &str) -> String {
        expand_text(text, self.0)
    }

    fn expand_parsed(&self, _text: &str, parsed: &crate::operator::ParsedMacro) -> String {
        parsed.0.expand(self.0)
    }

    /// A sole `%{tx.name}` is the member's bytes, borrowed (when they are UTF-8: otherwise
    /// the lossy expansion, as for every other macro).
    fn expand_parsed_bytes(
        &self,
        text: &str,
        parsed: &crate::operator::ParsedMacro,
    ) -> Cow<'_, [u8]> {
        if let Some(slot) = parsed.0.sole_tx() {
            let v = self.0.tx.get_slot(slot).unwrap_or_default();
            if std::str::from_utf8(v).is_ok() {
                return Cow::Borrowed(v);
            }
        }
        Cow::Owned(self.expand_parsed(text, parsed).into_bytes())
    }
}

impl Transaction {
    /// Runs one phase's rules with the thread's value memo borrowed for the phase.
    pub(crate) fn run_phase(&mut self, phase: u8) -> Outcome {
        if self.engine.memo {
            let memo = Memo::take(self.engine.id, self.engine.live_words);
            self.follow_memo_generation(memo.generation());
            self.memo = Some(memo);
        }
        let outcome = self.run_phase_rules(phase);
        if let Some(memo) = self.memo.take() {
            memo.give_back();
        }
        outcome
    }

    fn run_phase_rules(&mut self, phase: u8) -> Outcome {
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
        // One clone of the engine's `Arc` per phase: its reference count is a cache line
        // the proxy's threads share.
        let engine = self.engine.clone();
        let len = engine.gates[phase as usize].len();
        // The first transaction computes the prologue, with transactions of its own.
        let prologue = (phase == 1 && !self.no_prologue)
            .then(|| engine.prologue())
            .flatten();
        let result = match prologue {
            Some(p) => match self.run_rules(&engine, phase, 0, p.start) {
                Ok(pos) if pos == p.start && p.applies(self) => {
                    p.apply(self);
                    self.run_rules(&engine, phase, p.end, len)
                }
                Ok(pos) => self.run_rules(&engine, phase, pos, len),
                Err(o) => Err(o),
            },
            None => self.run_rules(&engine, phase, 0, len),
        };
        match result {
            Ok(_) => Outcome::Pass,
            Err(o) => o,
        }
    }

    /// Evaluates the rules at positions `start..end` of `phase`: `Ok` with the position
    /// reached (`end`, or past it after a `skipAfter`), `Err` with the outcome when the
    /// phase ends early (a disruptive action, `allow`, the rule engine turned off).
    pub(crate) fn run_rules(
        &mut self,
        engine: &Engine,
        phase: u8,
        start: usize,
        end: usize,
    ) -> Result<usize, Outcome> {
        let gates = &engine.gates[phase as usize];
        let end = end.min(gates.len());
        let mut pos = start;
        while pos < end {
            let gate = gates[pos];
            if gate.ri == Gate::MARKER {
                pos += 1;
                continue;
            }
            let ri = gate.ri as usize;
            if self.rule_engine() == RuleEngineMode::Off {
                return Err(Outcome::Pass);
            }
            if self.is_removed(ri) {
                pos += 1;
                continue;
            }
            let known = self.gate(engine, gate);
            if known == Gated::Out {
                pos += 1;
                continue;
            }
            if let (
                Gated::TxHolds,
                GateTest::Tx {
                    slot,
                    count,
                    plain: true,
                    ..
                },
            ) = (known, gate.test)
            {
                // Its effects from the gate alone, without reading the rule or its link.
                self.plain_tx_hit(engine, ri, phase, DirectTx { slot, count });
                pos = match engine.jumps[phase as usize][pos] {
                    usize::MAX => pos + 1,
                    to => to,
                };
                continue;
            }
            let rule = &engine.rules[ri];
            self.state.rule = RuleContext {
                id: rule.id,
                phase,
                severity: rule.severity,
            };
            self.state.matched_all.clear();
            let hit = match known {
                Gated::TxHolds => self.eval_tx_hit(engine, ri, rule),
                _ => self.eval_link(engine, ri, rule, 0),
            };
            if !hit {
                pos += 1;
                continue;
            }
            self.record(ri, rule);
            if self.rule_engine() == RuleEngineMode::On {
                match &rule.disruptive {
                    Disruptive::Pass | Disruptive::Block => {}
                    Disruptive::Deny => {
                        return Err(self.interrupt(Outcome::Deny {
                            status: rule.status.unwrap_or(403),
                        }));
                    }
                    Disruptive::Drop => return Err(self.interrupt(Outcome::Drop)),
                    Disruptive::Redirect(m) => {
                        let status = rule
                            .status
                            .filter(|s| (300..400).contains(s))
                            .unwrap_or(302);
                        let location = m.expand(&self.state);
                        return Err(self.interrupt(Outcome::Redirect { status, location }));
                    }
                    Disruptive::Allow(scope) => {
                        match scope {
                            AllowScope::All => self.allowed_through = 4,
                            AllowScope::Request => {
                                self.allowed_through = self.allowed_through.max(2)
                            }
                            AllowScope::Phase => {}
                        }
                        return Err(Outcome::Pass);
                    }
                }
            }
            if rule.skip_after.is_some() {
                pos = engine.jumps[phase as usize][pos];
                continue;
            }
            pos += 1;
            let mut to_skip = rule.skip;
            while to_skip > 0 && pos < gates.len() {
                if gates[pos].ri != Gate::MARKER {
                    to_skip -= 1;
                }
                pos += 1;
            }
        }
        Ok(pos)
    }

    /// What the gate of a rule decides about its first link, as `eval_link` would (a rule
    /// with runtime target removals goes the long way unless its union decides). A failed
    /// first link clears the matched variables here, as `eval_link` does.
    fn gate(&mut self, engine: &Engine, gate: Gate) -> Gated {
        let removals = || has_bit(&self.overrides.removed_target_rules, gate.ri as usize);
        let gated = match gate.test {
            GateTest::Rule => Gated::Unknown,
            // As `eval_link` decides with runtime removals (`uses_caches`): CRS's 941010
            // removes REQUEST_FILENAME from the XSS rules for nearly every request.
            GateTest::Union {
                group,
                bit,
                counted,
            } if !(counted && removals()) => {
                // The union as `eval_link` would compute it, computed here when the rule is
                // its group's first this transaction (~80 per CRS request): a clear bit then
                // passes the rule over without setting up its evaluation.
                let live = match self.cached_union(group) {
                    Some(live) => live,
                    None => self.group_union(engine, group),
                };
                match live & (1 << bit) {
                    0 => Gated::Out,
                    _ => Gated::Unknown,
                }
            }
            GateTest::Tx {
                slot,
                operand,
                cmp,
                count,
                ..
            } if !removals() => match self.direct_tx_int(DirectTx { slot, count }, cmp) {
                Some(v) if cmp.holds_read(v, i64::from(operand)) => Gated::TxHolds,
                _ => Gated::Out,
            },
            _ => Gated::Unknown,
        };
        if gated == Gated::Out {
            self.no_match();
        }
        gated
    }

    /// `eval_link(ri, rule, 0)` for a rule whose gate found its first link's TX comparison
    /// true (CRS's paranoia-level skips and default-setting checks, ~175 per GET): the hit's
    /// effects without evaluating the comparison again.
    fn eval_tx_hit(&mut self, engine: &Engine, ri: usize, rule: &Rule) -> bool {
        let link = &rule.links[0];
        let (Test::Operator(_), Some(direct), false) = (&link.test, link.direct_tx, link.capture)
        else {
            // Captures come from the operator: let it run.
            return self.eval_link(engine, ri, rule, 0);
        };
        self.direct_hit(link, direct, None);
        if rule.links.len() > 1 && !self.eval_link(engine, ri, rule, 1) {
            return false;
        }
        for a in &link.actions {
            self.run_action(a);
        }
        true
    }

    fn interrupt(&mut self, o: Outcome) -> Outcome {
        self.interrupted = Some(o.clone());
        o
    }

    fn is_removed(&self, ri: usize) -> bool {
        has_bit(&self.overrides.removed, ri)
    }

    /// The targets `ctl:ruleRemoveTarget*` removed from rule `ri` (usually none; shared
    /// with the `ctl` when one removal concerns the rule).
    fn runtime_exclusions(&self, ri: usize) -> Option<Arc<[Target]>> {
        if !has_bit(&self.overrides.removed_target_rules, ri) {
            return None;
        }
        let mut found = self
            .overrides
            .removed_targets
            .iter()
            .filter(|(r, _)| *r as usize == ri)
            .filter_map(|&(_, l)| self.overrides.removed_lists.get(l as usize));
        let first = found.next()?;
        let Some(second) = found.next() else {
            return Some(first.clone());
        };
        let mut all: Vec<Target> = first.iter().chain(second.iter()).cloned().collect();
        all.extend(found.flat_map(|t| t.iter().cloned()));
        Some(all.into())
    }

    fn eval_link(&mut self, engine: &Engine, ri: usize, rule: &Rule, li: usize) -> bool {
        let link = &rule.links[li];
        let mut any = false;
        match &link.test {
            Test::Always => {
                any = true;
                self.run_setvars(link);
            }
            Test::Operator(op) => {
                let runtime = if li == 0 {
                    self.runtime_exclusions(ri)
                } else {
                    None
                };
                let runtime: &[Target] = runtime.as_deref().unwrap_or_default();
                let gate = link.live_slot;
                match link.group {
                    Some(g) if uses_caches(link, runtime) => {
                        if let Some(j) = link.group_bit {
                            if self.group_union(engine, g) & (1 << j) == 0 {
                                return self.no_match();
                            }
                        }
                        // By index: entries are only ever appended (a chained link may
                        // compute another group meanwhile), so this group's range stays
                        // valid while its values are tested.
                        let (start, len) = self.group_entries(g, link);
                        for i in start..start + len {
                            let e = self.groups.entry(i);
                            if let Some(slot) = gate {
                                if e.scan != u32::MAX
                                    && !words_contain(&self.scan_words[e.scan as usize..], slot)
                                {
                                    continue;
                                }
                            }
                            if !runtime.is_empty() && self.state.is_excluded(&e.item, runtime) {
                                continue;
                            }
                            any |= self.test_value(link, op, e.item, e.value);
                        }
                    }
                    _ => any = self.eval_items(engine, link, op, runtime, gate),
                }
            }
        }
        if !any {
            return self.no_match();
        }
        if li + 1 < rule.links.len() && !self.eval_link(engine, ri, rule, li + 1) {
            return false;
        }
        for a in &link.actions {
            self.run_action(a);
        }
        true
    }

    fn no_match(&mut self) -> bool {
        self.state.matched = None;
        self.state.matched_all.clear();
        false
    }

    /// A link without a cached target group: extracts its targets now.
    fn eval_items(
        &mut self,
        engine: &Engine,
        link: &Link,
        op: &Operator,
        runtime: &[Target],
        gate: Option<u32>,
    ) -> bool {
        if let Some(direct) = link.direct_tx.filter(|_| runtime.is_empty()) {
            return self.eval_tx_slot(link, op, direct);
        }
        if let (true, Some(set), Some(slot), true) =
            (link.multi_match, link.target_set, gate, runtime.is_empty())
        {
            return self.eval_multi_match(&engine.set_atoms[set as usize], link, op, slot);
        }
        let mut any = false;
        let mut items = std::mem::take(&mut self.scratch.items_buf);
        items.clear();
        self.link_items(link, runtime, &mut items);
        let mut values = std::mem::take(&mut self.scratch.values_buf);
        for item in &items {
            values.clear();
            if link.multi_match {
                self.transformed_each(item.value, link, &mut values);
            } else {
                values.push(self.through_chain(item.value, link));
            }
            for &tv in &values {
                if let Some(slot) = gate {
                    if let Some(off) = self.scan(tv) {
                        if !words_contain(&self.scan_words[off as usize..], slot) {
                            continue;
                        }
                    }
                }
                any |= self.test_value(link, op, *item, tv);
            }
        }
        self.scratch.items_buf = items;
        self.scratch.values_buf = values;
        any
    }

    /// A gated `multiMatch` link over a cached target set, atom by atom: an atom whose
    /// values no step of the chain can change (it lacks every trigger class of the chain)
    /// has only its raw values to test, and when none of them has the link's live slot
    /// (the atom's OR of live bits, shared with the groups' unions) it is passed over
    /// whole. CRS's six `multiMatch` rules (libinjection, Node.js, path traversal) visit
    /// every argument: ~80 per 1 KB JSON body. Same order as the set's items.
    fn eval_multi_match(&mut self, atoms: &[u32], link: &Link, op: &Operator, slot: u32) -> bool {
        let mut any = false;
        let mut values = std::mem::take(&mut self.scratch.values_buf);
        for &a in atoms {
            let (istart, ilen) = self.atom_range(a);
            if ilen == 0 {
                continue;
            }
            if link.leaves_unchanged(self.atom_classes(a, istart, ilen)) {
                let live = self.atom_live(a, istart, ilen);
                if !words_contain(&self.scan_words[live..], slot) {
                    continue;
                }
            }
            for i in istart..istart + ilen {
                let item = self.set_items[i];
                any |= self.multi_match_value(link, op, item, slot, &mut values);
            }
        }
        self.scratch.values_buf = values;
        any
    }

    /// One value of [`Self::eval_multi_match`]: passed over when the memo's summary of it
    /// for the chain (`Memo::multi_live`) lacks `slot`, else its values tested (`values` is
    /// scratch) and their live bits ORed into a new summary. The link has a live slot, so
    /// the engine has live bits and every value gets some from `scan`.
    fn multi_match_value(
        &mut self,
        link: &Link,
        op: &Operator,
        item: Item,
        slot: u32,
        values: &mut Vec<u32>,
    ) -> bool {
        let entry = self.memo_entry(item.value);
        let summary = entry.and_then(|e| self.memo.as_ref()?.multi_live(e, link.chain_id));
        if summary.is_some_and(|live| !words_contain(live, slot)) {
            return false;
        }
        let generation = self.memo_generation;
        values.clear();
        self.transformed_each(item.value, link, values);
        let mut live = std::mem::take(&mut self.scratch.multi_live);
        live.clear();
        live.resize(self.engine.live_words, 0);
        let mut any = false;
        for &tv in values.iter() {
            if let Some(off) = self.scan(tv) {
                let bits = &self.scan_words[off as usize..];
                for (l, b) in live.iter_mut().zip(bits) {
                    *l |= b;
                }
                if !words_contain(bits, slot) {
                    continue;
                }
            }
            any |= self.test_value(link, op, item, tv);
        }
        // Not when the memo was cleared meanwhile (`e` would name another value).
        if let (Some(e), Some(memo), true) =
            (entry, &mut self.memo, generation == self.memo_generation)
        {
            memo.set_multi_live(e, link.chain_id, &live);
        }
        self.scratch.multi_live = live;
        any
    }

    /// The link's items into `items` (its exclusions and `runtime` ones applied): from the
    /// per-transaction cache of its target set when it has one and no `&VAR` count is
    /// affected by runtime exclusions, else extracted now.
    fn link_items(&mut self, link: &Link, runtime: &[Target], items: &mut Vec<Item>) {
        let Some(set) = link.target_set.filter(|_| uses_caches(link, runtime)) else {
            self.extract_targets(link, runtime, items);
            return;
        };
        let (start, len) = self.set_range(set);
        let base = items.len();
        items.extend_from_slice(&self.set_items[start..start + len]);
        if !runtime.is_empty() {
            self.state.drop_excluded(items, base, runtime);
        }
    }

    /// The range in `set_items` of target set `set`'s items, extracted once per data
    /// version.
    pub(crate) fn set_range(&mut self, set: u32) -> (usize, usize) {
        let version = self.state.data_version;
        if let Some(r) = self.target_sets[set as usize].range(version) {
            return r;
        }
        // A set of one atom is that atom's range.
        let (from, len) = match self.engine.set_atoms[set as usize].as_slice() {
            &[a] => self.atom_range(a),
            _ => {
                let from = self.set_items.len();
                self.extract_set(set as usize, version);
                (from, self.set_items.len() - from)
            }
        };
        self.target_sets[set as usize] = Cached::at(version, from, len);
        (from, len)
    }

    /// Appends the items of target set `set` to `set_items`: the concatenation of its
    /// atoms' items, each atom extracted once per transaction (while the data is unchanged;
    /// an atom extracted now is extracted in place, as part of the set's range).
    fn extract_set(&mut self, set: usize, version: u32) {
        // By index, not through a clone of the engine's `Arc`: the proxy's threads share
        // the engine, and its reference count is one cache line they would fight over.
        for k in 0..self.engine.set_atoms[set].len() {
            let a = self.engine.set_atoms[set][k];
            match self.atoms[a as usize].range(version) {
                Some((start, len)) => self.set_items.extend_from_within(start..start + len),
                None => {
                    self.extract_atom(a, version);
                }
            }
        }
    }

    /// The range in `set_items` of atom `a`'s items, extracted once per data version.
    pub(crate) fn atom_range(&mut self, a: u32) -> (usize, usize) {
        let version = self.state.data_version;
        match self.atoms[a as usize].range(version) {
            Some(r) => r,
            None => self.extract_atom(a, version),
        }
    }

    /// Extracts atom `a` (a target with its set's exclusions of the same variable) at the
    /// end of `set_items` and caches its range.
    fn extract_atom(&mut self, a: u32, version: u32) -> (usize, usize) {
        let atom = &self.engine.atoms[a as usize];
        let from = self.set_items.len();
        self.state
            .extract(&atom.target, &atom.exclusions, &mut self.set_items);
        let len = self.set_items.len() - from;
        self.atoms[a as usize] = Cached::at(version, from, len);
        (from, len)
    }

    /// Extracts the link's targets into `items`, applying its exclusions and `runtime` ones.
    fn extract_targets(&mut self, link: &Link, runtime: &[Target], items: &mut Vec<Item>) {
        let no_exclusions = link.exclusions.is_empty() && runtime.is_empty();
        for target in &link.targets {
            if no_exclusions {
                self.state.extract(target, &[], items);
                continue;
            }
            let excl = link
                .exclusions
                .iter()
                .chain(runtime.iter())
                .filter(|e| e.var == target.var);
            self.state.extract(target, excl, items);
        }
    }

    /// Runs the operator on one transformed value; on a match updates MATCHED_VAR(S) and the
    /// captures and runs the link's `setvar`s.
    fn test_value(&mut self, link: &Link, op: &Operator, item: Item, tv: u32) -> bool {
        let mut caps = self.take_captures(link);
        let hit = op.evaluate(
            self.state.vals.get(tv),
            &Expander(&self.state),
            caps.as_mut(),
        );
        if hit {
            self.on_hit(link, item, tv, caps.as_ref());
        }
        self.give_back_captures(caps);
        if hit {
            return true;
        }
        if let Some(slot) = link.live_slot.filter(|_| link.memoised) {
            // The caller checked the value's live bit; a memoised operator that fails clears
            // it in the memo.
            if let Some(e) = self.memo_entry(tv) {
                if let Some(memo) = &mut self.memo {
                    memo.set_no_match(e, slot);
                }
            }
        }
        false
    }

    /// The reused (emptied) captures, for a link with `capture`: an operator that matches
    /// without filling them (`@eq`, `@ipMatch`, ...) sets no TX:0..9, as with fresh ones.
    fn take_captures(&mut self, link: &Link) -> Option<Captures> {
        link.capture.then(|| {
            let mut caps = std::mem::take(&mut self.scratch.captures);
            caps.clear();
            caps
        })
    }

    /// Returns what [`Self::take_captures`] took, for the next capturing link.
    fn give_back_captures(&mut self, caps: Option<Captures>) {
        if let Some(caps) = caps {
            self.scratch.captures = caps;
        }
    }

    /// Forgets this transaction's memo entry numbers when they belong to another generation
    /// than `generation` (another thread's memo, or a memo cleared since).
    fn follow_memo_generation(&mut self, generation: u64) {
        if generation != self.memo_generation {
            self.memo_of.clear();
            self.value_of_memo.clear();
            self.memo_generation = generation;
        }
    }

    /// The memo entry of value `value` (looked up once per transaction and memo
    /// generation), or None when the memo is off or the value too long.
    /// Inlined: the answer is nearly always the transaction's table (~700 lookups per 1 KB
    /// JSON transaction); the memo's own lookup is a call.
    #[inline(always)]
    fn memo_entry(&mut self, value: u32) -> Option<u32> {
        self.memo.as_ref()?;
        match self.memo_of.get(value as usize) {
            Some(&memo::NOT_MEMOISED) => None,
            Some(&e) if e != memo::UNKNOWN => Some(e),
            _ => self.memo_entry_new(value),
        }
    }

    /// [`Self::memo_entry`] of a value not looked up in this memo generation yet.
    #[inline(never)]
    fn memo_entry_new(&mut self, value: u32) -> Option<u32> {
        let memo = self.memo.as_mut()?;
        let e = memo.entry(self.state.vals.get(value));
        // A full memo is cleared by `entry`: then every entry number noted so far is void.
        let generation = memo.generation();
        self.follow_memo_generation(generation);
        self.set_memo_of(value, e);
        (e != memo::NOT_MEMOISED).then_some(e)
    }

    /// Notes `e` as the memo entry of value `value`.
    fn set_memo_of(&mut self, value: u32, e: u32) {
        let i = value as usize;
        if self.memo_of.len() <= i {
            self.memo_of
                .resize(self.state.vals.len().max(i + 1), memo::UNKNOWN);
        }
        self.memo_of[i] = e;
        if e != memo::NOT_MEMOISED {
            self.value_of_memo.insert(e, value);
        }
    }

    /// A link whose only target is `TX:name` or `&TX:name` with no transformation (CRS's
    /// paranoia-level, scoring and default-setting checks): the operator runs on the stored
    /// value or the count, interned only on a match, as extraction would give them.
    fn eval_tx_slot(&mut self, link: &Link, op: &Operator, direct: DirectTx) -> bool {
        let mut caps = self.take_captures(link);
        let hit = match self.direct_tx_value(direct) {
            Some(value) => op.evaluate(value, &Expander(&self.state), caps.as_mut()),
            None => false,
        };
        if hit {
            self.direct_hit(link, direct, caps.as_ref());
        }
        self.give_back_captures(caps);
        hit
    }

    /// What a direct TX link's operator sees: the member's value, or `1`/`0` for its count;
    /// None when the member is unset (no value: no match).
    fn direct_tx_value(&self, direct: DirectTx) -> Option<&[u8]> {
        let member = self.state.tx.get_slot(direct.slot);
        match (direct.count, member) {
            (true, m) => Some(if m.is_some() { b"1" } else { b"0" }),
            (false, m) => m,
        }
    }

    /// [`Self::direct_tx_value`] as `cmp` reads it, the member's reading remembered until it
    /// is written (`TxVars::slot_int`).
    fn direct_tx_int(&mut self, direct: DirectTx, cmp: Comparison) -> Option<i64> {
        match direct.count {
            true => Some(i64::from(self.state.tx.get_slot(direct.slot).is_some())),
            false => self.state.tx.slot_int(direct.slot, cmp),
        }
    }

    /// The effects of a direct TX link's match: MATCHED_VAR(S), captures, setvars.
    fn direct_hit(&mut self, link: &Link, direct: DirectTx, caps: Option<&Captures>) {
        let item = self.direct_item(direct, || direct_tx_key(link));
        let tv = item.value;
        self.on_hit(link, item, tv, caps);
    }

    /// A match of rule `ri`, whose gate is a plain TX comparison (`GateTest::Tx::plain`)
    /// found true: what `eval_tx_hit` and `record` do for it, from the engine's dense
    /// tables — the rule and its link are read only for the member's name, once per
    /// transaction.
    fn plain_tx_hit(&mut self, engine: &Engine, ri: usize, phase: u8, direct: DirectTx) {
        self.state.rule = RuleContext {
            id: engine.rule_ids[ri],
            phase,
            severity: None,
        };
        let item = self.direct_item(direct, || direct_tx_key(&engine.rules[ri].links[0]));
        let tv = item.value;
        self.state.matched_all.clear();
        self.set_matched(item, tv);
        // Not `log`, not disruptive (`plain_tx_rule`).
        self.push_match(RawMatch {
            rule: ri as u32,
            var_value: tv,
            var_item: Some(item),
            texts: None,
            log: false,
            disruptive: false,
        });
    }

    /// The item a direct TX link matched: the member (its name interned once per
    /// transaction; CRS checks a few members ~175 times per request) or its count.
    fn direct_item<'k>(&mut self, direct: DirectTx, key: impl FnOnce() -> Option<&'k str>) -> Item {
        let State { tx, vals, .. } = &mut self.state;
        if direct.count {
            let count: &[u8] = if tx.get_slot(direct.slot).is_some() {
                b"1"
            } else {
                b"0"
            };
            return Item {
                var: Var::TX,
                key: None,
                value: vals.intern(count),
            };
        }
        let s = direct.slot as usize;
        if self.scratch.tx_key_ids.len() <= s {
            self.scratch.tx_key_ids.resize(s + 1, u32::MAX);
        }
        let key = match self.scratch.tx_key_ids[s] {
            u32::MAX => {
                let id = vals.intern(key().unwrap_or_default().as_bytes());
                self.scratch.tx_key_ids[s] = id;
                id
            }
            id => id,
        };
        Item {
            var: Var::TX,
            key: Some(key),
            value: vals.intern(tx.get_slot(direct.slot).unwrap_or_default()),
        }
    }

    fn on_hit(&mut self, link: &Link, item: Item, tv: u32, caps: Option<&Captures>) {
        if let Some(caps) = caps {
            if !caps.is_empty() {
                for d in 0..10 {
                    self.state.tx.remove_slot(crate::txvars::digit(d));
                }
                for (i, c) in caps.iter().take(10).enumerate() {
                    self.state.tx.set_slot(crate::txvars::digit(i), c);
                }
            }
        }
        self.set_matched(item, tv);
        self.run_setvars(link);
    }

    /// MATCHED_VAR(_NAME) and MATCHED_VARS after a match of `item` (`tv` as tested).
    fn set_matched(&mut self, item: Item, tv: u32) {
        self.state.matched = Some((item, tv));
        self.state.matched_all.push((item, tv));
    }

    /// The value after the link's whole chain, cached per (value, chain). The common
    /// answers (no transformation, or none of the chain's trigger bytes in the value) are
    /// inlined at the call sites; the rest is a call.
    #[inline(always)]
    pub(crate) fn through_chain(&mut self, value: u32, link: &Link) -> u32 {
        if link.transforms.is_empty() {
            return value;
        }
        if let Some(trigger) = link.chain_trigger {
            if self.state.vals.classes(value) & trigger == 0 {
                return value;
            }
        }
        self.through_chain_cached(value, link)
    }

    #[inline(never)]
    fn through_chain_cached(&mut self, value: u32, link: &Link) -> u32 {
        // The memo first: a transaction rarely sends one value through one chain twice (a
        // group's entries are built once), so the transaction's own cache mostly serves
        // values the memo does not keep.
        if let Some(tv) = self.memo_chain(value, link.chain_id) {
            return tv;
        }
        let key = (value, link.chain_id);
        if let Some(&tv) = self.chain_cache.get(&key) {
            return tv;
        }
        let mut tv = value;
        for &t in &link.transforms {
            tv = self.step(tv, t);
        }
        self.chain_cache.insert(key, tv);
        self.remember_chain(value, link.chain_id, tv);
        tv
    }

    /// The result of chain `chain` on `value` as the memo remembers it (interned here).
    fn memo_chain(&mut self, value: u32, chain: u32) -> Option<u32> {
        let Some(r) = self.memo_chain_result(value, chain)? else {
            // The chain leaves the value unchanged (half the lookups of a JSON body's).
            return Some(value);
        };
        if let Some(tv) = self.value_of_memo.get(r) {
            return Some(tv);
        }
        let tv = self.state.vals.intern(self.memo.as_ref()?.bytes(r));
        self.set_memo_of(tv, r);
        Some(tv)
    }

    /// What the memo remembers of chain `chain` on `value`: `Some(None)` when the chain
    /// leaves the value unchanged, `Some(Some(r))` for result entry `r`, None when unknown.
    /// Inlined into its callers (`memo_chain`, the union): as a call it cost JSON +2%.
    #[inline(always)]
    pub(crate) fn memo_chain_result(&mut self, value: u32, chain: u32) -> Option<Option<u32>> {
        let e = self.memo_entry(value)?;
        let r = self.memo.as_ref()?.chain(e, chain)?;
        Some((r != e).then_some(r))
    }

    /// Tells the memo that chain `chain` turns `value` into `tv`.
    fn remember_chain(&mut self, value: u32, chain: u32, tv: u32) {
        let Some(e) = self.memo_entry(value) else {
            return;
        };
        let generation = self.memo_generation;
        let Some(r) = self.memo_entry(tv) else {
            return;
        };
        // Looking `tv` up may have cleared the memo, and `e` with it.
        if let Some(memo) = self
            .memo
            .as_mut()
            .filter(|_| self.memo_generation == generation)
        {
            memo.set_chain(e, chain, r);
        }
    }

    /// The offset in `scan_words` of the live bits of `value` (computed on first use), or
    /// None when neither prefilters nor the memo are on.
    #[inline(always)]
    pub(crate) fn scan(&mut self, value: u32) -> Option<u32> {
        if self.engine.live_words == 0 {
            return None;
        }
        match self.scan_of.get(value as usize) {
            Some(&off) if off != u32::MAX => Some(off),
            _ => self.scan_new(value),
        }
    }

    /// [`Self::scan`] of a value without live bits yet: the memo's, else the prefilter scan
    /// plus the memoised links without a prefilter slot (then remembered by the memo).
    #[inline(never)]
    fn scan_new(&mut self, value: u32) -> Option<u32> {
        let words = self.engine.live_words;
        let entry = self.memo_entry(value);
        let i = value as usize;
        if self.scan_of.len() <= i {
            self.scan_of
                .resize(self.state.vals.len().max(i + 1), u32::MAX);
        }
        let off = self.scan_words.len();
        self.scan_of[i] = off as u32;
        if let (Some(e), Some(memo)) = (entry, &self.memo) {
            if let Some(live) = memo.live(e) {
                self.scan_words.extend_from_slice(live);
                return Some(off as u32);
            }
        }
        self.scan_words.extend_from_slice(&self.engine.live_init);
        if let Some(pf) = &self.engine.prefilter {
            pf.scan_into(
                self.state.vals.get(value),
                &mut self.scan_words[off..off + words],
                &mut self.scratch.scan_seen,
            );
        }
        if let (Some(e), Some(memo)) = (entry, &mut self.memo) {
            memo.set_live(e, &self.scan_words[off..off + words]);
        }
        Some(off as u32)
    }

    /// `multiMatch`: the original value and every transformation result that changed it.
    fn transformed_each(&mut self, value: u32, link: &Link, out: &mut Vec<u32>) {
        let mut cur = value;
        out.push(cur);
        for &t in &link.transforms {
            let next = self.step_remembered(cur, t);
            if next != cur {
                out.push(next);
            }
            cur = next;
        }
    }

    #[inline(always)]
    fn step(&mut self, value: u32, t: Transform) -> u32 {
        if self.untouched(value, t) {
            return value;
        }
        self.step_cached(value, t)
    }

    /// Whether `value` has none of the bytes that can make `t` change it.
    #[inline(always)]
    fn untouched(&mut self, value: u32, t: Transform) -> bool {
        t.trigger()
            .is_some_and(|trigger| self.state.vals.classes(value) & trigger == 0)
    }

    /// [`Self::step`], with the result also looked up in and told to the value memo (the
    /// steps of `multiMatch` links, which have no chain result to remember).
    fn step_remembered(&mut self, value: u32, t: Transform) -> u32 {
        if self.untouched(value, t) {
            return value;
        }
        // As for chains: the memo first (it answers for repeated values, and a remembered
        // result is not copied into the transformation cache), then `step_cached`'s cache.
        let key = memo::step_key(t);
        if let Some(tv) = self.memo_chain(value, key) {
            return tv;
        }
        let tv = self.step_cached(value, t);
        self.remember_chain(value, key, tv);
        tv
    }

    /// [`Self::step`] past the trigger test: the transformation cache, then the
    /// transformation.
    #[inline(never)]
    fn step_cached(&mut self, value: u32, t: Transform) -> u32 {
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
}
