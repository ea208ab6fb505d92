//! Literal prefilters. For each distinct transformation chain, the literals of every gated
//! operator using that chain go into one ASCII-case-insensitive Aho-Corasick automaton. A
//! transformed value is scanned once per chain; the result is the set of operators (slots)
//! whose literals occur in it. An operator whose slot is not in the set cannot match and is
//! not run.
//!
//! Contract (from `Operator::prefilter_literals`): any input the operator matches contains at
//! least one of its literals. So gating may let a non-match through, never drop a match.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::collections::HashMap;

/// A set of slots, as a bitset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotSet(Vec<u64>);

impl SlotSet {
    /// Empty set able to hold `n` slots.
    pub fn with_capacity(n: usize) -> Self {
        SlotSet(vec![0; n.div_ceil(64)])
    }

    /// Adds `slot`.
    pub fn insert(&mut self, slot: u32) {
        let (w, b) = ((slot / 64) as usize, slot % 64);
        if let Some(word) = self.0.get_mut(w) {
            *word |= 1 << b;
        }
    }

    /// Whether `slot` is in the set; `None` (an ungated operator) is always "in".
    pub fn contains_opt(&self, slot: Option<u32>) -> bool {
        slot.is_none_or(|s| self.contains(s))
    }

    /// Whether `slot` is in the set.
    pub fn contains(&self, slot: u32) -> bool {
        let (w, b) = ((slot / 64) as usize, slot % 64);
        self.0.get(w).is_some_and(|word| word & (1 << b) != 0)
    }
}

/// Collects literals per slot while rules compile.
#[derive(Debug, Default)]
pub struct PrefilterBuilder {
    literals: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
    slots_of: Vec<Vec<u32>>,
    slots: u32,
}

impl PrefilterBuilder {
    /// Registers an operator's literals; returns its slot, or `None` when the literal set
    /// cannot gate (empty set or an empty literal).
    pub fn add(&mut self, literals: &[Vec<u8>]) -> Option<u32> {
        if literals.is_empty() || literals.iter().any(|l| l.is_empty()) {
            return None;
        }
        let slot = self.slots;
        self.slots += 1;
        for lit in literals {
            let key = lit.to_ascii_lowercase();
            let idx = match self.index.get(&key) {
                Some(&i) => i,
                None => {
                    self.literals.push(key.clone());
                    self.slots_of.push(Vec::new());
                    self.index.insert(key, self.literals.len() - 1);
                    self.literals.len() - 1
                }
            };
            if self.slots_of[idx].last() != Some(&slot) {
                self.slots_of[idx].push(slot);
            }
        }
        Some(slot)
    }

    /// Builds the automaton; `None` when no operator was registered.
    pub fn build(self) -> Result<Option<ChainPrefilter>, String> {
        if self.slots == 0 {
            return Ok(None);
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // A full DFA: the fastest scan per byte; CRS's largest chain has ~1k literals.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&self.literals)
            .map_err(|e| format!("prefilter automaton: {e}"))?;
        Ok(Some(ChainPrefilter {
            ac,
            slots_of: self.slots_of,
            slots: self.slots,
        }))
    }
}

/// The automaton of one transformation chain.
#[derive(Debug)]
pub struct ChainPrefilter {
    ac: AhoCorasick,
    slots_of: Vec<Vec<u32>>,
    slots: u32,
}

impl ChainPrefilter {
    /// Number of distinct literals.
    pub fn literals(&self) -> usize {
        self.slots_of.len()
    }

    /// Scans `value` once and returns the slots whose literals occur in it.
    pub fn scan(&self, value: &[u8]) -> SlotSet {
        let mut set = SlotSet::with_capacity(self.slots as usize);
        for m in self.ac.find_overlapping_iter(value) {
            for &s in &self.slots_of[m.pattern().as_usize()] {
                set.insert(s);
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_by_literal() {
        let mut b = PrefilterBuilder::default();
        let a = b.add(&[b"select".to_vec(), b"union".to_vec()]).unwrap();
        let c = b.add(&[b"<script".to_vec()]).unwrap();
        assert!(b.add(&[b"".to_vec()]).is_none());
        let p = b.build().unwrap().unwrap();
        let s = p.scan(b"1 UNION all");
        assert!(s.contains(a) && !s.contains(c));
        assert!(p.scan(b"<ScRiPt>").contains(c));
    }
}
