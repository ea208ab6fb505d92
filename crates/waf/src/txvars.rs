//! TX, the per-transaction collection, stored by *slot*.
//!
//! Every TX member name the rules spell out — `setvar:tx.name=...`, `%{tx.name}` in a
//! macro, a `TX:name` target — gets a slot number when the rule is parsed, from one
//! process-wide registry of names (lower-cased; the digits `0`..`9` of `capture` are slots
//! 0..9). At run time such a member is read and written by index, without hashing its name:
//! CRS runs a hundred-odd `setvar`s and TX checks per request. Names that only exist at run
//! time (a `setvar` whose name holds a macro expanded from request data) are kept in a map
//! beside the slots; they never enter the registry, so request data cannot grow it. A name
//! is stored in exactly one place: its slot when the registry has one, else the map.
//!
//! The registry only grows, by the names of the rule files loaded into the process (a few
//! hundred for CRS). It is locked only while rules are parsed: an engine takes a copy of it
//! when it is built ([`TxNames`]), and its transactions look names up there, without a lock
//! shared by the threads. Names another engine registers later are not in that copy: the
//! engine's own rules never spell them, so for its transactions they are run-time names, the
//! same for its whole life.

use crate::interner::FxMap;
use crate::operator::Comparison;
use crate::store::Collection;
use crate::variable::Selector;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};

/// The process-wide table of TX member names with a slot.
#[derive(Default)]
struct Registry {
    names: Vec<Box<str>>,
    slots: HashMap<Box<str>, u32>,
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| {
    let mut r = Registry::default();
    for d in 0..10 {
        r.add(&d.to_string());
    }
    RwLock::new(r)
});

impl Registry {
    fn add(&mut self, name: &str) -> u32 {
        if let Some(&s) = self.slots.get(name) {
            return s;
        }
        let s = self.names.len() as u32;
        self.names.push(name.into());
        self.slots.insert(name.into(), s);
        s
    }
}

/// The slot of `name` (lower-cased by the caller), registered now if new. For names written
/// in rules only.
pub(crate) fn register(name: &str) -> u32 {
    if let Some(s) = find(name) {
        return s;
    }
    REGISTRY
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .add(name)
}

/// The slot of `name` (lower-cased), if some rule spells it out.
pub(crate) fn find(name: &str) -> Option<u32> {
    REGISTRY
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .slots
        .get(name)
        .copied()
}

/// The name of slot `s` in the registry (empty for a slot never registered).
pub(crate) fn name(s: u32) -> String {
    let registry = REGISTRY.read().unwrap_or_else(PoisonError::into_inner);
    registry
        .names
        .get(s as usize)
        .map_or_else(String::new, |n| n.to_string())
}

/// The names registered when an engine was built, and their slots (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct TxNames {
    names: Vec<Box<str>>,
    slots: FxMap<Box<str>, u32>,
}

impl TxNames {
    /// A copy of the registry as it is now.
    pub(crate) fn snapshot() -> Arc<TxNames> {
        let registry = REGISTRY.read().unwrap_or_else(PoisonError::into_inner);
        Arc::new(TxNames {
            names: registry.names.clone(),
            slots: registry
                .slots
                .iter()
                .map(|(k, &v)| (k.clone(), v))
                .collect(),
        })
    }

    /// The slot of `name` (lower-cased), if it was registered when the copy was taken.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        self.slots.get(name).copied()
    }

    /// The name of slot `s` (empty for a slot not in the copy).
    pub(crate) fn name(&self, s: u32) -> &str {
        self.names.get(s as usize).map_or("", |n| n)
    }
}

/// The slot of capture group `i` (0..=9): `TX:i`.
pub(crate) fn digit(i: usize) -> u32 {
    debug_assert!(i < 10);
    i as u32
}

/// The slots whose names a key regex matches among an engine's [`TxNames`]: a `TX:/re/`
/// selector tests the names once, not every present member at every evaluation. Computed on
/// first use (a selector belongs to one engine's rules); the number of names it was computed
/// for is kept, and other names are tested without the cache. A clone starts empty.
#[derive(Debug, Default)]
pub(crate) struct SlotMatches(OnceLock<(usize, Vec<u32>)>);

impl Clone for SlotMatches {
    fn clone(&self) -> Self {
        SlotMatches::default()
    }
}

/// Spare member buffers a [`TxVars`] keeps between transactions.
const MAX_SPARE: usize = 64;

/// The TX members of one transaction.
#[derive(Debug, Default)]
pub struct TxVars {
    /// Value per slot (meaningful where `present` has the slot's bit); buffers are kept
    /// when a member is unset, so a reused `TxVars` rarely allocates.
    values: Vec<Vec<u8>>,
    present: Vec<u64>,
    /// Per slot: its value as read by `@eq` (`stoi`) and by the other numeric comparisons
    /// (`atoll`), once read (`read` bit 0 and 1); forgotten when the slot is written. CRS
    /// compares a few members (paranoia levels, scores) ~250 times per request.
    ints: Vec<[i64; 2]>,
    read: Vec<u8>,
    /// Members whose names have no slot.
    extra: Collection,
    /// Key and value buffers of `extra` members forgotten by [`Self::clear`], reused for new
    /// ones (CRS 920450 adds a member per request header, `tx.header_name_<name>`).
    spare: Vec<(String, Vec<u8>)>,
    /// The slots' names: the engine's (set for each transaction; `None` only in a default
    /// `TxVars`, which therefore allocates nothing — a transaction's buffers are swapped
    /// with one when they go back to the thread).
    names: Option<Arc<TxNames>>,
}

impl TxVars {
    /// The value in slot `s`.
    #[inline]
    pub(crate) fn get_slot(&self, s: u32) -> Option<&[u8]> {
        let s = s as usize;
        let word = *self.present.get(s / 64)?;
        (word & (1 << (s % 64)) != 0).then(|| self.values[s].as_slice())
    }

    /// The value in slot `s` as `cmp` reads it (see [`Comparison::read`]), remembered until
    /// the slot is written. Inlined (the rule gates call it ~130 times per CRS request): a
    /// reading already taken is two loads; the first reading is a call.
    #[inline]
    pub(crate) fn slot_int(&mut self, s: u32, cmp: Comparison) -> Option<i64> {
        self.get_slot(s)?;
        let i = s as usize;
        let k = usize::from(cmp != Comparison::Eq);
        match (self.read.get(i), self.ints.get(i)) {
            (Some(&read), Some(ints)) if read & (1 << k) != 0 => Some(ints[k]),
            _ => Some(self.slot_int_new(i, k, cmp)),
        }
    }

    /// [`Self::slot_int`] of a slot not read this way since it was written.
    #[inline(never)]
    fn slot_int_new(&mut self, i: usize, k: usize, cmp: Comparison) -> i64 {
        if self.read.len() <= i {
            self.read.resize(i + 1, 0);
            self.ints.resize(i + 1, [0; 2]);
        }
        self.ints[i][k] = cmp.read(&self.values[i]);
        self.read[i] |= 1 << k;
        self.ints[i][k]
    }

    /// The slots set, with their values, in slot order.
    pub(crate) fn present_slots(&self) -> impl Iterator<Item = (u32, &[u8])> + '_ {
        (0..self.values.len() as u32).filter_map(|s| self.get_slot(s).map(|v| (s, v)))
    }

    /// Whether no member without a slot is set.
    pub(crate) fn unslotted_is_empty(&self) -> bool {
        self.extra.is_empty()
    }

    /// Uses `names` (an engine's) for the slots' names.
    pub(crate) fn set_names(&mut self, names: &Arc<TxNames>) {
        if !self.names.as_ref().is_some_and(|n| Arc::ptr_eq(n, names)) {
            self.names = Some(Arc::clone(names));
        }
    }

    /// The slot of member `name` (lower-cased), when the engine's rules spell it out.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        self.names.as_ref()?.find(name)
    }

    /// The value of member `name` (lower-cased).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        match self.find(name) {
            Some(s) => self.get_slot(s),
            None => self.extra.get(name).map(Vec::as_slice),
        }
    }

    /// Slot `s`, emptied and marked present, to be written.
    pub(crate) fn slot_mut(&mut self, s: u32) -> &mut Vec<u8> {
        let s = s as usize;
        if self.values.len() <= s {
            self.values.resize_with(s + 1, Vec::new);
        }
        if self.present.len() <= s / 64 {
            self.present.resize(s / 64 + 1, 0);
        }
        self.present[s / 64] |= 1 << (s % 64);
        if let Some(r) = self.read.get_mut(s) {
            *r = 0;
        }
        let v = &mut self.values[s];
        v.clear();
        v
    }

    /// Sets slot `s` to `value`.
    pub(crate) fn set_slot(&mut self, s: u32, value: &[u8]) {
        self.slot_mut(s).extend_from_slice(value);
    }

    /// The members whose names have no slot (written by `setvar` like any collection), with
    /// the spare buffers for new members.
    pub(crate) fn unslotted_with_spare(
        &mut self,
    ) -> (&mut Collection, &mut Vec<(String, Vec<u8>)>) {
        (&mut self.extra, &mut self.spare)
    }

    /// Removes slot `s`.
    pub(crate) fn remove_slot(&mut self, s: u32) {
        let s = s as usize;
        if let Some(w) = self.present.get_mut(s / 64) {
            *w &= !(1 << (s % 64));
        }
    }

    /// Calls `f` with (name, value) of every member `sel` selects (all without one), in
    /// name order.
    pub(crate) fn for_each_selected(&self, sel: Option<&Selector>, mut f: impl FnMut(&str, &[u8])) {
        let none = TxNames::default();
        let names = self.names.as_deref().unwrap_or(&none);
        let mut kept: Vec<(&str, &[u8])> = Vec::new();
        match sel {
            Some(Selector::Regex(kr)) => {
                let matching = |s: &u32| kr.is_match(names.name(*s).as_bytes());
                let cached = kr.tx_slots.0.get_or_init(|| {
                    let all = 0..names.names.len() as u32;
                    (names.names.len(), all.filter(matching).collect())
                });
                let mut visit = |s: u32| {
                    if let Some(v) = self.get_slot(s) {
                        kept.push((names.name(s), v));
                    }
                };
                if cached.0 == names.names.len() {
                    cached.1.iter().for_each(|&s| visit(s));
                } else {
                    (0..names.names.len() as u32)
                        .filter(matching)
                        .for_each(visit);
                }
            }
            _ => {
                for (wi, &w) in self.present.iter().enumerate() {
                    let mut bits = w;
                    while bits != 0 {
                        let s = wi * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        let name = names.name(s as u32);
                        if sel.is_none_or(|sel| sel.matches_key(name.as_bytes())) {
                            kept.push((name, self.values[s].as_slice()));
                        }
                    }
                }
            }
        }
        for (k, v) in &self.extra {
            if sel.is_none_or(|sel| sel.matches_key(k.as_bytes())) {
                kept.push((k.as_str(), v.as_slice()));
            }
        }
        kept.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (k, v) in kept {
            f(k, v);
        }
    }

    /// Every member as (name, value), in name order.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        self.for_each_selected(None, |k, v| out.push((k.to_string(), v.to_vec())));
        out
    }

    /// Whether no member is set.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.extra.is_empty() && self.present.iter().all(|w| *w == 0)
    }

    /// Forgets every member, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.present.iter_mut().for_each(|w| *w = 0);
        // Draining empties the map even when the spares are full (the rest are dropped).
        let room = MAX_SPARE.saturating_sub(self.spare.len());
        self.spare.extend(self.extra.drain().take(room));
    }

    /// Roughly the bytes held on the heap.
    pub(crate) fn heap_size(&self) -> usize {
        self.values.iter().map(Vec::capacity).sum::<usize>()
            + self.values.capacity() * 24
            + self.present.capacity() * 8
            + self.ints.capacity() * 16
            + self.read.capacity()
            + self
                .extra
                .iter()
                .chain(self.spare.iter().map(|(k, v)| (k, v)))
                .map(|(k, v)| k.capacity() + v.capacity() + 48)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_use_slots_others_the_map() {
        let s = register("txvars_test_score");
        assert_eq!(register("txvars_test_score"), s);
        assert_eq!(find("txvars_test_score"), Some(s));
        assert_eq!(find("0"), Some(digit(0)));
        let mut tx = TxVars::default();
        tx.set_names(&TxNames::snapshot());
        assert!(tx.is_empty());
        tx.set_slot(s, b"5");
        tx.unslotted_with_spare()
            .0
            .insert("txvars_test_dynamic_1".into(), b"x".to_vec());
        assert_eq!(tx.get_slot(s), Some(&b"5"[..]));
        assert_eq!(tx.get("txvars_test_score"), Some(&b"5"[..]));
        assert_eq!(tx.get("txvars_test_dynamic_1"), Some(&b"x"[..]));
        assert_eq!(
            find("txvars_test_dynamic_1"),
            None,
            "run-time names stay out"
        );
        assert_eq!(
            tx.entries(),
            vec![
                ("txvars_test_dynamic_1".to_string(), b"x".to_vec()),
                ("txvars_test_score".to_string(), b"5".to_vec()),
            ]
        );
        tx.remove_slot(s);
        assert_eq!(tx.get("txvars_test_score"), None);
        tx.set_slot(s, b"7");
        assert_eq!(tx.get("txvars_test_score"), Some(&b"7"[..]));
        tx.clear();
        assert!(tx.is_empty());
        assert_eq!(tx.get_slot(s), None);
        assert_eq!(tx.get_slot(100_000), None);
    }

    #[test]
    fn slot_integers_are_read_as_the_comparison_reads_them_until_written() {
        let s = register("txvars_test_level");
        let mut tx = TxVars::default();
        assert_eq!(tx.slot_int(s, Comparison::Ge), None);
        // atoll reads the leading digits; stoi too ("2abc" → 2), and an unreadable value
        // reads as 0 for both.
        for (value, want) in [(&b"2abc"[..], 2), (b" 7", 7), (b"x", 0), (b"-3", -3)] {
            tx.set_slot(s, value);
            for cmp in [Comparison::Eq, Comparison::Lt] {
                assert_eq!(tx.slot_int(s, cmp), Some(cmp.read(value)), "{value:?}");
                assert_eq!(tx.slot_int(s, cmp), Some(want), "{value:?} again");
            }
        }
        // Written through `slot_mut` (as `setvar` does), the old reading is forgotten.
        tx.slot_mut(s).extend_from_slice(b"40");
        assert_eq!(tx.slot_int(s, Comparison::Ge), Some(40));
        assert_eq!(tx.slot_int(s, Comparison::Eq), Some(40));
        tx.remove_slot(s);
        assert_eq!(tx.slot_int(s, Comparison::Eq), None);
        tx.set_slot(s, b"1");
        tx.clear();
        assert_eq!(tx.slot_int(s, Comparison::Gt), None);
        tx.set_slot(s, b"9");
        assert_eq!(tx.slot_int(s, Comparison::Gt), Some(9));
    }
}
