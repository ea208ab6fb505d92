//! The phase-1 prologue: the first rules of phase 1 that read nothing but TX and write
//! nothing but constants to TX — CRS's `crs-setup.conf` actions and the default-setting rules
//! of `REQUEST-901-INITIALIZATION` (`&TX:x "@eq 0" ... setvar:tx.x=default`, ~25 matches and
//! ~45 `setvar`s) — do the same in every transaction: TX is empty when phase 1 starts and
//! nothing else goes in. The engine runs them once, on a transaction of its own, and keeps
//! what they leave (the TX members, the matches, MATCHED_VAR(S)); a transaction starts phase
//! 1 from that state and evaluates from the first rule after them.
//!
//! Which rules: from the first rule of phase 1 that reads only TX — a `SecAction`, or a
//! single `TX:x`/`&TX:x` target without transformation compared with a literal number — as
//! long as the rules do, and, when they match, only set TX members to values made of
//! constants and other TX members (no other macro, no `ctl`, no collection other than TX, no
//! `capture`), pass, are `nolog`, have no severity and skip nothing. The rules before it must
//! neither write TX nor skip (the recommended body-processor rules, which only `ctl`). A rule
//! that does not match in the engine's run does not match in any transaction (same TX), so
//! its effects do not matter. A transaction evaluates the rules itself when one of them is
//! removed for it (`remove_rules_by_*` before phase 1), or when the prefilters are off (the
//! engines without fast paths the tests compare with).

use crate::action::Disruptive;
use crate::engine::{Engine, Gate};
use crate::rule::{Rule, Test};
use crate::setvar::SetOp;
use crate::state::Item;
use crate::transaction::{ConnectionInfo, Transaction};
use crate::variable::Var;
use std::sync::Arc;

/// A matched item as bytes (the ids are the engine's run's, not a transaction's).
#[derive(Debug, Clone)]
struct ItemBytes {
    var: Var,
    key: Option<Box<[u8]>>,
    value: Box<[u8]>,
}

/// MATCHED_VAR as a prologue match records it: its own, or the one before the prologue
/// (a `SecAction` leaves MATCHED_VAR as it finds it).
#[derive(Debug, Clone)]
enum Recorded {
    Inherited,
    Own(Option<ItemBytes>, Box<[u8]>),
}

/// What the prologue leaves in a transaction.
#[derive(Debug)]
pub(crate) struct Prologue {
    /// Phase-1 positions `start..end` are the prologue; the rules before it neither write
    /// TX nor skip (`crs-setup`'s recommended body-processor rules come first).
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The rules in it (a transaction that removes one, or a target of one, evaluates them
    /// itself).
    rules: Vec<u32>,
    /// TX members set, by slot.
    tx: Vec<(u32, Box<[u8]>)>,
    /// Matches: rule index, the MATCHED_VAR recorded and the rule's (`log`, disruptive).
    hits: Vec<(u32, Recorded, (bool, bool))>,
    /// MATCHED_VAR and MATCHED_VARS at the end.
    matched: Recorded,
    matched_all: Vec<(ItemBytes, Box<[u8]>)>,
}

/// Whether a rule before the prologue leaves TX and the position alone: no `setvar`, no
/// skip (what it reads and its `ctl`s do not matter: a removal or a turned-off engine is
/// checked when the prologue is applied).
fn quiet(rule: &Rule) -> bool {
    rule.links.iter().all(|l| l.setvars.is_empty()) && rule.skip_after.is_none() && rule.skip == 0
}

/// Whether a rule's first (only) link reads nothing but TX.
fn reads_only_tx(rule: &Rule) -> bool {
    let [link] = rule.links.as_slice() else {
        return false;
    };
    match &link.test {
        Test::Always => true,
        Test::Operator(op) => {
            link.direct_tx.is_some() && !link.capture && op.constant_comparison().is_some()
        }
    }
}

/// Whether a match of the rule has no effect but constant TX writes (and its record).
fn effects_are_constant_tx(rule: &Rule) -> bool {
    let link = &rule.links[0];
    !rule.log
        && rule.severity.is_none()
        && matches!(rule.disruptive, Disruptive::Pass | Disruptive::Block)
        && rule.skip_after.is_none()
        && rule.skip == 0
        && link.actions.is_empty()
        && link.setvars.iter().all(|s| {
            s.collection == "tx"
                && s.tx_slot.is_some()
                && !s.key.has_refs()
                && match &s.op {
                    SetOp::Set(m) | SetOp::Add(m) | SetOp::Sub(m) => m.refs_only_tx(),
                    SetOp::Delete => true,
                }
        })
}

fn probe(engine: &Arc<Engine>) -> Transaction {
    let mut tx = engine.transaction(ConnectionInfo {
        client_ip: [127, 0, 0, 1].into(),
        client_port: 0,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 0,
        unique_id: String::new(),
    });
    tx.no_prologue = true;
    tx
}

impl ItemBytes {
    /// The item in `tx`, its key and value interned there.
    fn intern(&self, tx: &mut Transaction) -> Item {
        Item {
            var: self.var,
            key: self.key.as_ref().map(|k| tx.state.vals.intern(k)),
            value: tx.state.vals.intern(&self.value),
        }
    }
}

fn item_bytes(tx: &Transaction, item: &Item) -> ItemBytes {
    let vals = &tx.state.vals;
    ItemBytes {
        var: item.var,
        key: item.key.map(|k| vals.get(k).into()),
        value: vals.get(item.value).into(),
    }
}

impl Prologue {
    /// The prologue of `engine`'s phase 1, when it has one.
    pub(crate) fn compute(engine: &Arc<Engine>) -> Option<Prologue> {
        if !engine.prefilter_on {
            return None;
        }
        let gates = &engine.gates[1];
        let is_rule = |pos: usize| gates[pos].ri != Gate::MARKER;
        let rule_at = |pos: usize| &engine.rules[gates[pos].ri as usize];
        let start = (0..gates.len()).find(|&p| is_rule(p) && reads_only_tx(rule_at(p)))?;
        if !(0..start).all(|p| !is_rule(p) || quiet(rule_at(p))) {
            return None;
        }
        // Pass 1: how far it goes, rule by rule.
        let mut tx = probe(engine);
        let mut end = start;
        while end < gates.len() {
            if is_rule(end) {
                let rule = rule_at(end);
                if !reads_only_tx(rule) {
                    break;
                }
                let before = tx.matched.len();
                if tx.run_rules(engine, 1, end, end + 1).is_err() {
                    break;
                }
                if tx.matched.len() > before && !effects_are_constant_tx(rule) {
                    break;
                }
            }
            end += 1;
        }
        // Pass 2: the state those rules leave, from a transaction that ran exactly them,
        // with a MATCHED_VAR before them that no match could make.
        let mut tx = probe(engine);
        let sentinel = Item {
            var: Var::TX,
            key: None,
            value: tx.state.vals.intern(b"\0portcullis prologue: inherited"),
        };
        tx.state.matched = Some((sentinel, sentinel.value));
        let ran = tx.run_rules(engine, 1, start, end);
        let clean = ran == Ok(end)
            && tx.interrupted.is_none()
            && tx.allowed_through == 0
            && tx.state.highest_severity.is_none()
            && tx.state.persistent.is_empty()
            && tx.state.tx.unslotted_is_empty();
        if end == start || !clean {
            return None;
        }
        let st = &tx.state;
        let recorded = |item: Option<&Item>, value: u32| match item {
            Some(i) if i.value == sentinel.value && i.key.is_none() => Recorded::Inherited,
            _ => Recorded::Own(item.map(|i| item_bytes(&tx, i)), st.vals.get(value).into()),
        };
        Some(Prologue {
            start,
            end,
            rules: gates[start..end]
                .iter()
                .map(|g| g.ri)
                .filter(|&ri| ri != Gate::MARKER)
                .collect(),
            tx: st.tx.present_slots().map(|(s, v)| (s, v.into())).collect(),
            hits: tx
                .matched
                .iter()
                .map(|m| {
                    let rec = recorded(m.var_item.as_ref(), m.var_value);
                    (m.rule, rec, (m.log, m.disruptive))
                })
                .collect(),
            matched: match &st.matched {
                Some((item, value)) => recorded(Some(item), *value),
                None => Recorded::Own(None, Box::default()),
            },
            matched_all: st
                .matched_all
                .iter()
                .map(|(item, v)| (item_bytes(&tx, item), st.vals.get(*v).into()))
                .collect(),
        })
    }

    /// Whether `tx` may start from the prologue: it removes none of its rules nor any of
    /// their targets, and its rule engine is on.
    pub(crate) fn applies(&self, tx: &Transaction) -> bool {
        let o = &tx.overrides;
        let untouched = |bits: &[u64]| {
            bits.iter().all(|&w| w == 0)
                || !self
                    .rules
                    .iter()
                    .any(|&ri| crate::transaction::has_bit(bits, ri as usize))
        };
        tx.rule_engine() != crate::ctl::RuleEngineMode::Off
            && untouched(&o.removed)
            && untouched(&o.removed_target_rules)
    }

    /// Puts the prologue's state into `tx`, whose TX is empty (phase 1 ran only the quiet
    /// rules before the prologue).
    pub(crate) fn apply(&self, tx: &mut Transaction) {
        for (slot, value) in &self.tx {
            tx.state.tx.set_slot(*slot, value);
        }
        let inherited = tx.state.matched;
        let resolve = |tx: &mut Transaction, r: &Recorded| -> Option<(Option<Item>, u32)> {
            match r {
                Recorded::Inherited => inherited.map(|(i, v)| (Some(i), v)),
                Recorded::Own(item, value) => {
                    let item = item.as_ref().map(|i| i.intern(tx));
                    Some((item, tx.state.vals.intern(value)))
                }
            }
        };
        for (rule, recorded, (log, disruptive)) in &self.hits {
            let (var_item, var_value) = match resolve(tx, recorded) {
                Some(r) => r,
                None => (None, tx.state.vals.intern(b"")),
            };
            tx.matched.push(crate::transaction::RawMatch {
                rule: *rule,
                var_value,
                var_item,
                texts: None,
                log: *log,
                disruptive: *disruptive,
            });
        }
        tx.matched_view.take();
        tx.state.matched = match resolve(tx, &self.matched) {
            Some((Some(item), value)) => Some((item, value)),
            _ => None,
        };
        tx.state.matched_all.clear();
        for (item, value) in &self.matched_all {
            let item = item.intern(tx);
            let value = tx.state.vals.intern(value);
            tx.state.matched_all.push((item, value));
        }
    }
}
