//! Effects of a matching rule: `setvar` (per matched value), `ctl`, `initcol`, `expirevar`
//! and `deprecatevar` (after the whole chain matched), and the record of the match (with
//! HIGHEST_SEVERITY). Changes to persistent collections are also noted in their
//! [`OpenCollection`](crate::store::OpenCollection), to be written back at phase 5.

use crate::action::Action;
use crate::ctl::Ctl;
use crate::rule::{Link, Rule};
use crate::setvar::{SetOp, SetVar, push_int, to_int};
use crate::store::Collection;
use crate::transaction::{RawMatch, Transaction};
use crate::variable::Var;
use std::borrow::Cow;

/// Expands the operand of a `setvar` into `buf` (cleared first): for `=+`/`=-` returns the
/// number it reads as.
fn expand_operand(sv: &SetVar, state: &crate::state::State, buf: &mut Vec<u8>) -> Option<i64> {
    buf.clear();
    match &sv.op {
        SetOp::Delete => None,
        SetOp::Set(m) => {
            m.expand_into(state, buf);
            None
        }
        SetOp::Add(m) | SetOp::Sub(m) => {
            m.expand_into(state, buf);
            Some(to_int(buf))
        }
    }
}

/// `base + delta` for `=+`, `base - delta` for `=-` (saturating).
fn apply_delta(op: &SetOp, base: i64, delta: i64) -> i64 {
    if matches!(op, SetOp::Add(_)) {
        base.saturating_add(delta)
    } else {
        base.saturating_sub(delta)
    }
}

/// Applies a `setvar` to member `key` of a keyed collection (a persistent one, or TX members
/// without a slot): `buf` holds the expanded operand, `delta` its number for `=+`/`=-`; a new
/// member takes its buffers from `spare` when it has some.
fn write_member(
    coll: &mut Collection,
    spare: Option<&mut Vec<(String, Vec<u8>)>>,
    key: Cow<'_, str>,
    op: &SetOp,
    delta: Option<i64>,
    buf: &mut Vec<u8>,
) {
    if let Some(delta) = delta {
        let base = coll.get(key.as_ref()).map_or(0, |v| to_int(v));
        buf.clear();
        push_int(buf, apply_delta(op, base, delta));
    }
    match op {
        SetOp::Delete => {
            coll.remove(key.as_ref());
        }
        _ => match coll.get_mut(key.as_ref()) {
            Some(member) => {
                member.clear();
                member.extend_from_slice(buf);
            }
            None => match spare.and_then(Vec::pop) {
                Some((mut k, mut v)) => {
                    k.clear();
                    k.push_str(&key);
                    v.clear();
                    v.extend_from_slice(buf);
                    coll.insert(k, v);
                }
                None => {
                    coll.insert(key.into_owned(), buf.clone());
                }
            },
        },
    }
}

impl Transaction {
    pub(crate) fn run_setvars(&mut self, link: &Link) {
        if link.setvars.is_empty() {
            // Most hits (CRS's paranoia-level skips): no buffers to borrow.
            return;
        }
        // The expanded value goes through one reused buffer; an existing member is
        // overwritten in place, so a setvar allocates only when it creates a member.
        let mut buf = std::mem::take(&mut self.scratch.setvar_buf);
        let mut name = std::mem::take(&mut self.scratch.setvar_name);
        for sv in &link.setvars {
            if let Some(slot) = sv.tx_slot {
                self.setvar_tx(sv, slot, &mut buf);
                continue;
            }
            // A name with macros is expanded into a reused buffer; the lossy conversion
            // borrows it when valid UTF-8 (as names are).
            let key: Cow<'_, str> = match &sv.literal_key {
                Some(k) => Cow::Borrowed(k.as_str()),
                None => {
                    name.clear();
                    sv.key.expand_into(&self.state, &mut name);
                    name.make_ascii_lowercase();
                    String::from_utf8_lossy(&name)
                }
            };
            let tx = sv.collection == "tx";
            if let Some(slot) = self.state.tx.find(&key).filter(|_| tx) {
                self.setvar_tx(sv, slot, &mut buf);
                continue;
            }
            let delta = expand_operand(sv, &self.state, &mut buf);
            let (coll, spare) = if tx {
                let (coll, spare) = self.state.tx.unslotted_with_spare();
                (coll, Some(spare))
            } else {
                let Some(o) = self.state.persistent.get_mut(&sv.collection) else {
                    continue;
                };
                let note_delta = match (&sv.op, delta) {
                    (SetOp::Sub(_), Some(d)) => Some(d.saturating_neg()),
                    (_, d) => d,
                };
                o.note(key.as_ref(), note_delta);
                (&mut o.contents, None)
            };
            write_member(coll, spare, key, &sv.op, delta, &mut buf);
        }
        self.scratch.setvar_buf = buf;
        self.scratch.setvar_name = name;
    }

    /// A `setvar` on TX member slot `slot`.
    fn setvar_tx(&mut self, sv: &SetVar, slot: u32, buf: &mut Vec<u8>) {
        if matches!(sv.op, SetOp::Delete) {
            self.state.tx.remove_slot(slot);
            return;
        }
        match expand_operand(sv, &self.state, buf) {
            Some(delta) => {
                let base = self.state.tx.get_slot(slot).map_or(0, to_int);
                push_int(
                    self.state.tx.slot_mut(slot),
                    apply_delta(&sv.op, base, delta),
                );
            }
            None => self.state.tx.set_slot(slot, buf),
        }
    }

    pub(crate) fn run_action(&mut self, a: &Action) {
        match a {
            Action::Ctl(c) => self.run_ctl(c),
            Action::InitCol(coll, key) if !self.state.persistent.contains_key(coll) => {
                let open = self.engine.store.load(coll, &key.expand(&self.state));
                self.state.persistent.insert(coll.clone(), open);
            }
            Action::ExpireVar(e) => {
                let name = e.member.name(&self.state);
                let Some(secs) = e.seconds(&self.state) else {
                    return;
                };
                let at = self.engine.store.now().saturating_add(secs);
                if let Some(o) = self.state.persistent.get_mut(&e.member.collection) {
                    o.expiries.push((name, at));
                }
            }
            Action::DeprecateVar(d) => self.deprecate(d),
            _ => {}
        }
    }

    /// `deprecatevar:col.name=N/S`: the member loses N per S seconds elapsed since the
    /// collection's LAST_UPDATE_TIME (ModSecurity v2), down to 0; nothing happens when it is
    /// not positive or the rate expands to something else than `N/S`.
    fn deprecate(&mut self, d: &crate::setvar::DeprecateVar) {
        let name = d.member.name(&self.state);
        let Some((n, per)) = crate::setvar::parse_rate(&d.rate.expand(&self.state)) else {
            return;
        };
        let now = self.engine.store.now();
        let Some(o) = self.state.persistent.get_mut(&d.member.collection) else {
            return;
        };
        let Some(current) = o.contents.get(&name).map(|v| to_int(v)) else {
            return;
        };
        if current <= 0 {
            return;
        }
        let last = o.contents.get("last_update_time").map_or(0, |v| to_int(v));
        let elapsed = now.saturating_sub(u64::try_from(last).unwrap_or(0));
        let loss = u128::from(elapsed) * u128::from(n) / u128::from(per);
        let new = i64::try_from(current as u128 - loss.min(current as u128)).unwrap_or(0);
        if new != current {
            o.contents
                .insert(name.clone(), new.to_string().into_bytes());
            o.note(&name, None);
        }
    }

    fn run_ctl(&mut self, c: &Ctl) {
        let (engine, o) = (&self.engine, &mut self.overrides);
        let n = engine.rules.len();
        match c {
            Ctl::RuleEngine(m) => o.engine = Some(*m),
            Ctl::RuleRemoveById(a, b) => o.remove_rules(n, engine.rules_in(*a, *b)),
            Ctl::RuleRemoveByTag(t) => o.remove_rules(n, engine.rules_tagged(t)),
            Ctl::RuleRemoveTargetById(a, b, ts) => o.remove_targets(n, engine.rules_in(*a, *b), ts),
            Ctl::RuleRemoveTargetByTag(tag, ts) => {
                o.remove_targets(n, engine.rules_tagged(tag), ts)
            }
            Ctl::RequestBodyProcessor(p) => {
                o.body_processor = Some(*p);
                self.state
                    .set_single(crate::variable::Var::REQBODY_PROCESSOR, p.name().as_bytes());
            }
            Ctl::ForceRequestBodyVariable(b) => o.force_body_variable = *b,
            Ctl::RequestBodyAccess(b) => o.body_access = Some(*b),
            Ctl::Audit => {}
        }
    }

    pub(crate) fn record(&mut self, index: usize, rule: &Rule) {
        let msg = rule.links.iter().find_map(|l| l.msg.as_ref());
        let data = rule.links.iter().find_map(|l| l.logdata.as_ref());
        let (var_item, var_value) = match &self.state.matched {
            Some((it, v)) => (Some(*it), *v),
            None => (None, self.state.vals.intern(b"")),
        };
        if let Some(sev) = rule.severity {
            let current = self.state.highest_severity.unwrap_or(u8::MAX);
            if sev < current {
                self.state.highest_severity = Some(sev);
                self.state
                    .set_single(Var::HIGHEST_SEVERITY, sev.to_string().as_bytes());
            }
        }
        // `msg`/`logdata` are only ever shown for logged rules: not expanded for `nolog` ones
        // (CRS's many bookkeeping matches).
        let expand = |m: Option<&crate::macros::Macro>| match m {
            Some(m) if rule.log => m.expand(&self.state),
            _ => String::new(),
        };
        let (msg, data) = (expand(msg), expand(data));
        let mut m = RawMatch::new(index, rule, var_item, var_value);
        if !msg.is_empty() || !data.is_empty() {
            m.texts = Some(Box::new((msg, data)));
        }
        self.push_match(m);
    }

    /// Records a match (the built list of matches, when there is one, is void now).
    pub(crate) fn push_match(&mut self, m: RawMatch) {
        self.matched.push(m);
        self.matched_view.take();
    }
}
