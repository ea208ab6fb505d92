//! The value memo: per thread and per engine, results that depend only on a value's bytes,
//! kept across transactions — the value's *live bits* (`Link::live_slot`): its prefilter
//! scan, minus the memoised operators known not to match it — and the results of the
//! transformation chains applied to it.
//!
//! Traffic repeats its values: the same browsers send the same `User-Agent`, `Accept*` and
//! cookie values, the same argument names and many of the same argument values. Everything a
//! rule's operator concludes about a value is a pure function of the value's bytes (after
//! the link's transformations) when the operator has no macro in its argument; the memo keeps
//! those conclusions so that a value seen before costs one hash lookup instead of a scan
//! through the prefilter automaton and a run of every operator its gate lets through.
//!
//! Only *no match* is memoised: a match has effects (captures, MATCHED_VAR, setvars) that
//! the operator recomputes, and matches are rare in benign traffic. Keys are the value's
//! bytes, compared in full (a hash collision cannot make a value inherit another's
//! verdict). Bounded: values longer than [`MAX_VALUE`] are not memoised and the memo is
//! cleared when it holds [`MAX_ENTRIES`] values or [`MAX_BYTES`] of them; each clear (and each memo) has a new
//! generation number, so that a transaction's per-value entry numbers from an older
//! generation are dropped rather than misread.
//!
//! A transaction borrows its thread's memo for the duration of one phase (phases run
//! synchronously; a transaction may move to another thread between phases) and gives it back
//! at the end of the phase.

use crate::interner::Interner;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Values longer than this (bytes) are not memoised.
pub(crate) const MAX_VALUE: usize = 4096;
/// Values held before the memo is cleared.
pub(crate) const MAX_ENTRIES: usize = 4096;
/// Bytes of memoised values held before the memo is cleared.
pub(crate) const MAX_BYTES: usize = 512 << 10;
/// `multiMatch` summaries held before they are forgotten (the values stay).
const MAX_MULTI: usize = 4 * MAX_ENTRIES;
/// Memos kept per thread (one per engine; the least recently used goes first).
const MAX_MEMOS: usize = 4;

/// In a transaction's value → entry table: not looked up yet.
pub(crate) const UNKNOWN: u32 = u32::MAX;
/// In a transaction's value → entry table: not memoised (too long).
pub(crate) const NOT_MEMOISED: u32 = u32::MAX - 1;

/// The key under which the memo keeps the result of transformation `t` alone (beside the
/// engine's chain ids, which are small).
pub(crate) fn step_key(t: crate::transform::Transform) -> u32 {
    (1 << 31) | t as u32
}

/// A transaction's inverse of its value → memo entry table: memo entry → the transaction's
/// value id. Entries are small dense numbers (at most [`MAX_ENTRIES`] per generation), so a
/// vector indexed by entry, with the entries set listed for clearing, instead of a hash map
/// (a benign GET notes ~60 entries).
#[derive(Debug, Default)]
pub(crate) struct EntryValues {
    values: Vec<u32>,
    set: Vec<u32>,
}

impl EntryValues {
    /// The value id noted for entry `e`.
    pub(crate) fn get(&self, e: u32) -> Option<u32> {
        self.values
            .get(e as usize)
            .copied()
            .filter(|&v| v != u32::MAX)
    }

    /// Notes `value` as the value id of entry `e`.
    pub(crate) fn insert(&mut self, e: u32, value: u32) {
        let i = e as usize;
        if self.values.len() <= i {
            self.values.resize(i + 1, u32::MAX);
        }
        if self.values[i] == u32::MAX {
            self.set.push(e);
        }
        self.values[i] = value;
    }

    /// Forgets every entry (keeps the allocations).
    pub(crate) fn clear(&mut self) {
        for &e in &self.set {
            self.values[e as usize] = u32::MAX;
        }
        self.set.clear();
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_size(&self) -> usize {
        (self.values.capacity() + self.set.capacity()) * 4
    }
}

static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

/// A thread's memos. Boxed: a transaction takes its memo out and gives it back once per
/// phase, and a move is then a pointer instead of the memo's ~300 bytes.
#[allow(clippy::vec_box)]
type Memos = Vec<Box<Memo>>;

thread_local! {
    static MEMOS: RefCell<Memos> = const { RefCell::new(Vec::new()) };
}

/// Makes the calling thread's value memos forget every value (their allocations stay): the
/// next transactions on this thread see only new values, as if no value ever repeated.
/// For benchmarks that measure that case; results never depend on the memo.
pub fn forget_values() {
    let _ = MEMOS.try_with(|m| {
        if let Ok(mut memos) = m.try_borrow_mut() {
            memos.iter_mut().for_each(|m| m.reset());
        }
    });
}

/// The memo of one engine on one thread.
#[derive(Debug)]
pub(crate) struct Memo {
    engine: u64,
    generation: u64,
    /// The values held (entry number = interned id; randomly seeded hash).
    index: Interner,
    /// Words of live bits per entry.
    live_words: usize,
    /// Per entry, `live_words` words.
    words: Vec<u64>,
    /// Per entry: whether its live bits are filled in.
    filled: Vec<bool>,
    /// Per entry: bit *c* set when chain *c* (< 64) is known to leave the value unchanged —
    /// the common answer, kept beside the entry instead of in `chains`.
    unchanged: Vec<u64>,
    /// Bytes of the values held.
    bytes: usize,
    /// (entry, transformation chain id) → entry of the chain's result.
    chains: crate::interner::FxMap<(u32, u32), u32>,
    /// (entry, `multiMatch` chain id) → offset in `multi_words` of the OR of the live bits
    /// of every value the link tests for the entry's value: the value and each step result
    /// that changed it. A value whose OR lacks a `multiMatch` link's live slot is passed
    /// over with one lookup instead of its steps and their scans.
    multi: crate::interner::FxMap<(u32, u32), u32>,
    multi_words: Vec<u64>,
}

impl Memo {
    /// The calling thread's memo for engine `engine` (a new one when it has none), with
    /// live bits of `live_words` words per value.
    pub(crate) fn take(engine: u64, live_words: usize) -> Box<Memo> {
        let found = MEMOS
            .try_with(|m| {
                let mut memos = m.try_borrow_mut().ok()?;
                let i = memos.iter().position(|x| x.engine == engine)?;
                Some(memos.remove(i))
            })
            .ok()
            .flatten();
        match found {
            Some(memo) if memo.live_words == live_words => memo,
            _ => Box::new(Memo {
                engine,
                generation: next_generation(),
                index: Interner::with_capacity(256),
                live_words,
                words: Vec::new(),
                filled: Vec::new(),
                unchanged: Vec::new(),
                bytes: 0,
                chains: Default::default(),
                multi: Default::default(),
                multi_words: Vec::new(),
            }),
        }
    }

    /// Gives the memo back to the calling thread (most recently used last).
    pub(crate) fn give_back(self: Box<Self>) {
        let _ = MEMOS.try_with(|m| {
            if let Ok(mut memos) = m.try_borrow_mut() {
                if memos.len() >= MAX_MEMOS {
                    memos.remove(0);
                }
                memos.push(self);
            }
        });
    }

    /// Forgets every value (keeping the allocations); entry numbers become void.
    fn reset(&mut self) {
        self.index.clear();
        self.words.clear();
        self.filled.clear();
        self.unchanged.clear();
        self.chains.clear();
        self.multi.clear();
        self.multi_words.clear();
        self.bytes = 0;
        self.generation = next_generation();
    }

    /// Changes whenever entry numbers are invalidated.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The entry of `value`, created when missing, or [`NOT_MEMOISED`]. Creating one may
    /// clear the memo first (the generation then changes).
    pub(crate) fn entry(&mut self, value: &[u8]) -> u32 {
        if value.len() > MAX_VALUE {
            return NOT_MEMOISED;
        }
        if self.index.len() >= MAX_ENTRIES || self.bytes + value.len() > MAX_BYTES {
            // Full (an existing entry would do, but a full memo is rarely all hits).
            self.reset();
        }
        let e = self.index.intern(value);
        if e as usize == self.filled.len() {
            self.bytes += value.len();
            self.words.resize(self.words.len() + self.live_words, 0);
            self.filled.push(false);
            self.unchanged.push(0);
        }
        e
    }

    fn base(&self, e: u32) -> usize {
        e as usize * self.live_words
    }

    /// The entry's live bits, when filled in.
    pub(crate) fn live(&self, e: u32) -> Option<&[u64]> {
        let base = self.base(e);
        self.filled[e as usize].then(|| &self.words[base..base + self.live_words])
    }

    /// Fills in the entry's live bits.
    pub(crate) fn set_live(&mut self, e: u32, live: &[u64]) {
        let base = self.base(e);
        self.words[base..base + self.live_words].copy_from_slice(live);
        self.filled[e as usize] = true;
    }

    /// The bytes of entry `e`.
    pub(crate) fn bytes(&self, e: u32) -> &[u8] {
        self.index.get(e)
    }

    /// The entry of the result of chain `chain` on entry `e`'s value, when remembered.
    pub(crate) fn chain(&self, e: u32, chain: u32) -> Option<u32> {
        let unchanged = self.unchanged.get(e as usize).copied().unwrap_or(0);
        if chain < 64 && unchanged & (1 << chain) != 0 {
            return Some(e);
        }
        self.chains.get(&(e, chain)).copied()
    }

    /// Remembers that chain `chain` turns entry `e`'s value into entry `result`'s.
    pub(crate) fn set_chain(&mut self, e: u32, chain: u32, result: u32) {
        if let Some(bits) = self
            .unchanged
            .get_mut(e as usize)
            .filter(|_| result == e && chain < 64)
        {
            *bits |= 1 << chain;
        } else {
            self.chains.insert((e, chain), result);
        }
    }

    /// The OR of the live bits of what `multiMatch` chain `chain` has a link test for entry
    /// `e`'s value, when remembered. Bits only ever clear (`set_no_match`) after the OR was
    /// taken, so it stays a superset: a clear slot means no tested value can match.
    pub(crate) fn multi_live(&self, e: u32, chain: u32) -> Option<&[u64]> {
        let off = *self.multi.get(&(e, chain))? as usize;
        self.multi_words.get(off..off + self.live_words)
    }

    /// Remembers `live` as [`Self::multi_live`] of entry `e` and chain `chain`.
    pub(crate) fn set_multi_live(&mut self, e: u32, chain: u32, live: &[u64]) {
        if live.len() != self.live_words {
            return;
        }
        if let Some(&off) = self.multi.get(&(e, chain)) {
            // Again (its OR had the slot of a link that then tested it): in place, or a
            // value seen in every transaction would grow `multi_words` without bound.
            let off = off as usize;
            self.multi_words[off..off + live.len()].copy_from_slice(live);
            return;
        }
        if self.multi.len() >= MAX_MULTI {
            self.multi.clear();
            self.multi_words.clear();
        }
        let off = self.multi_words.len();
        self.multi_words.extend_from_slice(live);
        self.multi.insert((e, chain), off as u32);
    }

    /// Records that the memoised operator of live slot `slot` does not match the entry's
    /// value.
    pub(crate) fn set_no_match(&mut self, e: u32, slot: u32) {
        let w = self.base(e) + slot as usize / 64;
        if let Some(word) = self.words.get_mut(w) {
            *word &= !(1 << (slot % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_verdicts_and_clearing() {
        let mut m = Memo::take(u64::MAX - 7, 2);
        let g = m.generation();
        let a = m.entry(b"Mozilla/5.0");
        assert_eq!(m.entry(b"Mozilla/5.0"), a);
        let b = m.entry(b"mozilla/5.0");
        assert_ne!(a, b);
        assert!(m.live(a).is_none());
        m.set_live(a, &[1, u64::MAX]);
        assert_eq!(m.live(a), Some(&[1u64, u64::MAX][..]));
        assert!(m.live(b).is_none());
        m.set_no_match(a, 69);
        assert_eq!(m.live(a), Some(&[1u64, !(1 << 5)][..]));
        assert_eq!(m.entry(&[b'x'; MAX_VALUE + 1]), NOT_MEMOISED);
        for i in 0..MAX_ENTRIES {
            m.entry(format!("v{i}").as_bytes());
        }
        assert_ne!(m.generation(), g, "full memo cleared");
        assert!(m.index.len() <= MAX_ENTRIES);
        let g1 = m.generation();
        let big = vec![b'y'; MAX_VALUE];
        for i in 0..MAX_BYTES / MAX_VALUE + 1 {
            let mut v = big.clone();
            v[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m.entry(&v);
        }
        assert_ne!(m.generation(), g1, "memo over its byte budget cleared");
        assert!(m.bytes <= MAX_BYTES);
        // Given back and taken again on this thread: the same memo.
        let g2 = m.generation();
        m.give_back();
        let m = Memo::take(u64::MAX - 7, 2);
        assert_eq!(m.generation(), g2);
        // Another shape for the same engine id: a fresh memo.
        m.give_back();
        assert_ne!(Memo::take(u64::MAX - 7, 3).generation(), g2);
    }

    #[test]
    fn multi_match_summaries() {
        let mut m = Memo::take(u64::MAX - 9, 2);
        let a = m.entry(b"x%41");
        assert!(m.multi_live(a, 3).is_none());
        m.set_multi_live(a, 3, &[1, 2]);
        assert_eq!(m.multi_live(a, 3), Some(&[1u64, 2][..]));
        assert!(m.multi_live(a, 4).is_none(), "per chain");
        m.set_multi_live(a, 5, &[1]);
        assert!(m.multi_live(a, 5).is_none(), "wrong width ignored");
        m.set_multi_live(a, 3, &[4, 0]);
        assert_eq!(m.multi_live(a, 3), Some(&[4u64, 0][..]));
        assert_eq!(m.multi_words.len(), 2, "the same key again: in place");
        for i in 0..MAX_MULTI as u32 {
            m.set_multi_live(a, 100 + i, &[0, 0]);
        }
        assert!(m.multi.len() <= MAX_MULTI, "bounded");
        m.reset();
        let a = m.entry(b"x%41");
        assert!(m.multi_live(a, 3).is_none(), "forgotten with the values");
    }

    #[test]
    fn chain_results_unchanged_and_changed() {
        let mut m = Memo::take(u64::MAX - 8, 1);
        let a = m.entry(b"Blue Shoes");
        let lower = m.entry(b"blue shoes");
        assert_eq!(m.chain(a, 3), None);
        m.set_chain(a, 3, a);
        m.set_chain(a, 5, lower);
        m.set_chain(a, 70, a);
        m.set_chain(a, step_key(crate::transform::Transform::Lowercase), lower);
        assert_eq!(m.chain(a, 3), Some(a));
        assert_eq!(m.chain(a, 5), Some(lower));
        assert_eq!(m.chain(a, 70), Some(a), "ids past 64 are kept in the map");
        assert_eq!(m.chain(a, 4), None);
        assert_eq!(m.chain(lower, 3), None, "per entry");
        assert_eq!(
            m.chain(a, step_key(crate::transform::Transform::Lowercase)),
            Some(lower)
        );
        m.reset();
        let a = m.entry(b"Blue Shoes");
        assert_eq!(m.chain(a, 3), None, "forgotten with the values");
    }
}
