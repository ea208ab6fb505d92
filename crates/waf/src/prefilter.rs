//! Literal prefilters. The literals of every gated operator go into one ASCII-case-insensitive
//! Aho-Corasick automaton; each operator owns a slot. A value (any value a rule looks at,
//! after its transformations) is scanned at most once per transaction, whatever chain produced
//! it; the result is the set of slots whose literals occur in it. An operator whose slot is not
//! in the set cannot match that value and is not run.
//!
//! Contract (from `Operator::prefilter_literals`): any input the operator matches contains at
//! least one of its literals. So gating may let a non-match through, never drop a match.

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};
use std::collections::HashMap;

/// `Prefilter::single_class` of a byte that is no single-byte literal.
const NO_CLASS: u8 = 255;

/// A set of slots, as a bitset (tests use it; transactions keep their scans in one arena).
#[cfg(test)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotSet(Vec<u64>);

#[cfg(test)]
impl SlotSet {
    /// Empty set able to hold `n` slots.
    pub fn with_capacity(n: usize) -> Self {
        SlotSet(vec![0; n.div_ceil(64)])
    }

    /// Whether `slot` is in the set.
    pub fn contains(&self, slot: u32) -> bool {
        words_contain(&self.0, slot)
    }
}

/// Whether bit `slot` is set in `words` (a bitset stored in a shared arena).
pub fn words_contain(words: &[u64], slot: u32) -> bool {
    let (w, b) = ((slot / 64) as usize, slot % 64);
    words.get(w).is_some_and(|word| word & (1 << b) != 0)
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

    /// Number of slots handed out so far (`0..slots()`).
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Builds the automaton; `None` when no operator was registered.
    pub fn build(self) -> Result<Option<Prefilter>, String> {
        if self.slots == 0 {
            return Ok(None);
        }
        // Single-byte literals are looked up in a byte-presence set instead of the automaton:
        // a common byte would make the automaton report a match at almost every position.
        let mut single: Vec<Vec<u32>> = vec![Vec::new(); 256];
        let mut multi: Vec<Vec<u8>> = Vec::new();
        let mut multi_slots: Vec<Vec<u32>> = Vec::new();
        for (lit, slots) in self.literals.into_iter().zip(self.slots_of) {
            if let [b] = lit.as_slice() {
                single[usize::from(*b)].extend(slots);
            } else {
                multi.push(lit);
                multi_slots.push(slots);
            }
        }
        let single_bytes: Vec<u8> = (0..=255u8)
            .filter(|&b| !single[usize::from(b)].is_empty())
            .collect();
        // Bytes with the same slots share one bitset (CRS: letters and digits mostly do), so
        // a scan ORs each distinct bitset once, however many of its bytes the value has.
        // Literals are lower case, so at most 230 bytes have a class: ids stay below
        // NO_CLASS.
        let words = (self.slots as usize).div_ceil(64);
        let mut single_words: Vec<u64> = Vec::new();
        let mut class_of_bytes: HashMap<Vec<u64>, u8> = HashMap::new();
        let mut single_class = [NO_CLASS; 256];
        for &b in &single_bytes {
            let mut bits = vec![0u64; words];
            for &slot in &single[usize::from(b)] {
                bits[(slot / 64) as usize] |= 1 << (slot % 64);
            }
            let next = class_of_bytes.len();
            let class = *class_of_bytes.entry(bits.clone()).or_insert_with(|| {
                single_words.extend_from_slice(&bits);
                next as u8
            });
            single_class[usize::from(b)] = class;
        }
        // A full DFA, walked byte by byte: the fastest scan per byte (CRS: a few thousand
        // literals). Standard semantics: a match state lists every literal ending there.
        let dfa = if multi.is_empty() {
            None
        } else {
            let dfa = DFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .start_kind(StartKind::Unanchored)
                .build(&multi)
                .map_err(|e| format!("prefilter automaton: {e}"))?;
            let start = dfa
                .start_state(Anchored::No)
                .map_err(|e| format!("prefilter automaton: {e}"))?;
            Some((dfa, start))
        };
        Ok(Some(Prefilter {
            dfa,
            slots_of: multi_slots,
            single_words,
            single_class,
            single_bytes: single_bytes.len(),
            slots: self.slots,
        }))
    }
}

/// The automaton over all gated operators' literals.
#[derive(Debug)]
pub struct Prefilter {
    /// Multi-byte literals (and the start state).
    dfa: Option<(DFA, aho_corasick::automaton::StateID)>,
    /// Slots of each multi-byte literal (by pattern id).
    slots_of: Vec<Vec<u32>>,
    /// Number of bytes that are single-byte literals.
    single_bytes: usize,
    /// Per class of single-byte literals (bytes with the same slots), its slots as a
    /// bitset of [`Self::words`] words at `class * words`.
    single_words: Vec<u64>,
    /// Per byte (lower case): its class, or [`NO_CLASS`] when it is no single-byte literal.
    single_class: [u8; 256],
    slots: u32,
}

impl Prefilter {
    /// Number of distinct literals.
    pub fn literals(&self) -> usize {
        self.slots_of.len() + self.single_bytes
    }

    /// Number of `u64` words of a scan result.
    pub fn words(&self) -> usize {
        (self.slots as usize).div_ceil(64)
    }

    /// Scans `value` once and returns the slots whose literals occur in it.
    #[cfg(test)]
    pub fn scan(&self, value: &[u8]) -> SlotSet {
        let mut set = SlotSet::with_capacity(self.slots as usize);
        let mut seen = Vec::new();
        self.scan_into(value, &mut set.0, &mut seen);
        set
    }

    /// Scans `value` once, setting in `out` (at least [`Self::words`] long, zeroed) the bits
    /// of the slots whose literals occur in it. `seen` is scratch space (any contents).
    pub fn scan_into(&self, value: &[u8], out: &mut [u64], seen: &mut Vec<u64>) {
        if self.single_bytes > 0 {
            // The classes of the single-byte literals present (case-folded), then each
            // class's slots once. Upper-case letters are folded by the table.
            let mut present = [0u64; 4];
            for &b in value {
                let c = self.single_class[usize::from(b.to_ascii_lowercase())];
                present[usize::from(c >> 6)] |= 1 << (c & 63);
            }
            // Bit NO_CLASS (255) only says that some byte is no single-byte literal.
            present[3] &= !(1 << 63);
            let words = self.words();
            for (q, &p) in present.iter().enumerate() {
                let mut hit = p;
                while hit != 0 {
                    let class = q * 64 + hit.trailing_zeros() as usize;
                    hit &= hit - 1;
                    let bits = &self.single_words[class * words..(class + 1) * words];
                    for (o, w) in out.iter_mut().zip(bits) {
                        *o |= w;
                    }
                }
            }
        }
        let Some((dfa, start)) = &self.dfa else {
            return;
        };
        seen.clear();
        seen.resize(self.slots_of.len().div_ceil(64), 0);
        let mut sid = *start;
        for &b in value {
            sid = dfa.next_state(Anchored::No, sid, b);
            if !dfa.is_special(sid) || !dfa.is_match(sid) {
                continue;
            }
            for i in 0..dfa.match_len(sid) {
                let p = dfa.match_pattern(sid, i).as_usize();
                let (w, bit) = (p / 64, p % 64);
                if seen[w] & (1 << bit) != 0 {
                    continue;
                }
                seen[w] |= 1 << bit;
                for &s in &self.slots_of[p] {
                    let (sw, sb) = ((s / 64) as usize, s % 64);
                    if let Some(word) = out.get_mut(sw) {
                        *word |= 1 << sb;
                    }
                }
            }
        }
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
        let d = b.add(&[b";".to_vec(), b"|".to_vec()]).unwrap();
        let e = b.add(&[b"x".to_vec(), b"&&".to_vec()]).unwrap();
        let p = b.build().unwrap().unwrap();
        let s = p.scan(b"1 UNION all");
        assert!(s.contains(a) && !s.contains(c) && !s.contains(d) && !s.contains(e));
        assert!(p.scan(b"<ScRiPt>").contains(c));
        assert!(p.scan(b"a|b").contains(d) && !p.scan(b"a|b").contains(e));
        assert!(p.scan(b"X").contains(e) && p.scan(b"a&&b").contains(e));
    }
}
