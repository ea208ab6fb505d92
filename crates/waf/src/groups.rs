//! Target groups: a target set seen through one transformation chain (see `Link::group`),
//! with per-transaction caches of
//!
//! - the group's **union**: for each of the group's live slots (`Engine::group_slots`),
//!   whether some value of the group, transformed, has it — one bit per slot. A link whose
//!   bit is clear cannot match any value: the rule is skipped without its values;
//! - the group's **entries** `(item, transformed value, live bits)`, built only when a link
//!   must look at the values (its bit is set, or it has no live slot).
//!
//! The union is computed atom by atom (the set's targets with their exclusions, shared
//! between sets). A small atom's values are transformed and looked up one by one. An atom
//! of `SIGNATURES_FROM` (16) values or more goes through its **signatures**: its raw values
//! grouped by their byte classes (`Interner::classes`), with the OR of their live bits per
//! group. A chain whose trigger classes a signature lacks leaves every value of it unchanged
//! (`Transform::trigger`), so the signature's OR stands for all of them; only the values of
//! the other signatures are transformed and looked up one by one. Large atoms have few
//! signatures (a 1 KB JSON body's 40 values fall into a handful), and CRS has a dozen chains
//! per set, so most (group, value) pairs cost nothing.

use crate::engine::{Engine, GroupPlan};
use crate::rule::Link;
use crate::state::Item;
use crate::transaction::Transaction;

/// A cached list of one transaction: a range of a buffer, valid while the request data
/// (`State::data_version`) is unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cached {
    valid: bool,
    version: u32,
    start: u32,
    len: u32,
}

impl Cached {
    /// A valid range computed at data version `version`.
    pub(crate) fn at(version: u32, start: usize, len: usize) -> Cached {
        Cached {
            valid: true,
            version,
            start: start as u32,
            len: len as u32,
        }
    }

    /// The range, when valid at data version `version`.
    pub(crate) fn range(&self, version: u32) -> Option<(usize, usize)> {
        (self.valid && self.version == version).then_some((self.start as usize, self.len as usize))
    }
}

/// One item of a target group with its transformed value and that value's live bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) item: Item,
    pub(crate) value: u32,
    /// Offset of the value's live bits in `scan_words`, or `u32::MAX` (not looked up: the
    /// group has no live slot).
    pub(crate) scan: u32,
}

/// Sets with fewer values compute a group's union value by value: grouping them by
/// signature would cost more than it saves.
const SIGNATURES_FROM: usize = 16;

/// The raw values of a target set that share byte classes.
#[derive(Debug, Clone, Copy)]
struct Signature {
    classes: u32,
    /// Offset in `scan_words` of the OR of the values' live bits.
    live: u32,
    /// The values, in `GroupBuffers::sig_values`.
    start: u32,
    len: u32,
}

/// What a group's union needs of one atom as a whole, per data version: the OR of its
/// values' byte classes and, once a chain that changes none of them asks, the OR of their
/// live bits. A chain whose trigger classes the atom lacks leaves every value as it is (the
/// trigger soundness of `Transform::trigger`), so the atom's OR is its part of the union —
/// one OR instead of one per value, for most (group, atom) pairs of benign traffic (a CRS
/// GET: 61 of 85 groups, 339 of 581 values).
#[derive(Debug, Clone, Copy, Default)]
struct AtomSummary {
    valid: bool,
    version: u32,
    classes: u32,
    /// Offset in `scan_words` of the OR of the values' live bits, or `u32::MAX`.
    live: u32,
}

/// The per-transaction group caches (kept per thread between transactions with the other
/// buffers).
#[derive(Debug, Default)]
pub(crate) struct GroupBuffers {
    /// Per atom: its summary.
    summaries: Vec<AtomSummary>,
    /// Per group: its entries in `entries`.
    entries_of: Vec<Cached>,
    /// Per group: its union and the data version it was computed at.
    unions: Vec<Option<(u32, u64)>>,
    entries: Vec<Entry>,
    /// Per atom: its signatures in `sigs`.
    sigs_of: Vec<Cached>,
    sigs: Vec<Signature>,
    sig_values: Vec<u32>,
    /// Scratch: (signature, value) of an atom's values while its signatures are built.
    scratch: Vec<(u32, u32)>,
}

impl GroupBuffers {
    /// Sized for an engine with `groups` groups and `atoms` atoms, emptied.
    pub(crate) fn reset(&mut self, groups: usize, atoms: usize) {
        self.entries_of.clear();
        self.entries_of.resize(groups, Cached::default());
        self.unions.clear();
        self.unions.resize(groups, None);
        self.sigs_of.clear();
        self.sigs_of.resize(atoms, Cached::default());
        self.summaries.clear();
        self.summaries.resize(atoms, AtomSummary::default());
        self.entries.clear();
        self.sigs.clear();
        self.sig_values.clear();
    }

    /// Roughly the bytes held on the heap.
    pub(crate) fn heap_size(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.sigs.capacity() * std::mem::size_of::<Signature>()
            + (self.sig_values.capacity() + self.scratch.capacity() * 2) * 4
            + (self.entries_of.capacity() + self.sigs_of.capacity()) * std::mem::size_of::<Cached>()
            + self.summaries.capacity() * std::mem::size_of::<AtomSummary>()
            + self.unions.capacity() * std::mem::size_of::<Option<(u32, u64)>>()
    }

    /// Entry `i` (entries are only ever appended, so a group's range stays valid while a
    /// chained link computes another group).
    pub(crate) fn entry(&self, i: usize) -> Entry {
        self.entries[i]
    }
}

impl Transaction {
    /// The union of group `g`'s live bits (bit *j* for `Engine::group_slots[g][j]`);
    /// all bits set when the group has no live slot.
    /// `engine` is the transaction's (borrowed apart from it by the phase loop).
    pub(crate) fn group_union(&mut self, engine: &Engine, g: u32) -> u64 {
        if let Some(live) = self.cached_union(g) {
            return live;
        }
        let version = self.state.data_version;
        let gi = g as usize;
        let live = if engine.group_slots[gi].is_empty() || engine.live_words == 0 {
            u64::MAX
        } else {
            self.compute_union(engine, &engine.group_plans[gi])
        };
        self.groups.unions[gi] = Some((version, live));
        live
    }

    /// Group `g`'s union when it is known for the transaction's current data.
    pub(crate) fn cached_union(&self, g: u32) -> Option<u64> {
        match self.groups.unions[g as usize] {
            Some((v, live)) if v == self.state.data_version => Some(live),
            _ => None,
        }
    }

    /// See [`Self::group_union`]: ORs, over the words the group's slots fall in, each
    /// signature's bits when the chain leaves its values unchanged, else each of its values'
    /// transformed bits; stops once every slot is live. Kept out of `eval_link` (once per
    /// group and transaction, against `eval_link`'s once per rule): the caller stays small.
    #[inline(never)]
    fn compute_union(&mut self, engine: &Engine, plan: &GroupPlan) -> u64 {
        let range = |(start, len): (u32, u32)| start as usize..(start + len) as usize;
        let words = &engine.union_words[range(plan.words)];
        if words.is_empty() || words.len() > 8 {
            // Slots spread over more than 8 words (not in CRS), or no plan: every link looks.
            return u64::MAX;
        }
        let mut acc = [0u64; 8];
        let acc = &mut acc[..words.len()];
        let or_masked = |acc: &mut [u64], bits: &[u64]| {
            let mut full = true;
            for (a, &(w, mask)) in acc.iter_mut().zip(words) {
                *a |= bits.get(w as usize).copied().unwrap_or(0) & mask;
                full &= *a == mask;
            }
            full
        };
        'atoms: for &a in &engine.union_atoms[range(plan.atoms)] {
            let (istart, ilen) = self.atom_range(a);
            if ilen == 0 {
                continue;
            }
            if plan.leaves_unchanged(self.atom_classes(a, istart, ilen)) {
                // The chain changes none of the atom's values.
                let live = self.atom_live(a, istart, ilen);
                if or_masked(acc, &self.scan_words[live..]) {
                    break 'atoms;
                }
                continue;
            }
            if ilen < SIGNATURES_FROM {
                // A small atom: each value, transformed.
                for i in istart..istart + ilen {
                    let bits = self.union_bits(self.set_items[i].value, engine, plan);
                    if or_masked(acc, bits) {
                        break 'atoms;
                    }
                }
                continue;
            }
            let (start, len) = self.atom_signatures(a, istart, ilen);
            for k in start..start + len {
                let sig = self.groups.sigs[k];
                if plan.leaves_unchanged(sig.classes) {
                    if or_masked(acc, &self.scan_words[sig.live as usize..]) {
                        break 'atoms;
                    }
                    continue;
                }
                for i in sig.start..sig.start + sig.len {
                    let value = self.groups.sig_values[i as usize];
                    if or_masked(acc, self.union_bits(value, engine, plan)) {
                        break 'atoms;
                    }
                }
            }
        }
        let mut live = 0u64;
        for (j, &p) in engine.union_slots[range(plan.slots)].iter().enumerate() {
            let (k, bit) = (usize::from(p >> 6), p & 63);
            if acc.get(k).is_some_and(|a| a & (1 << bit) != 0) {
                live |= 1 << j;
            }
        }
        live
    }

    /// The live bits of `value` after the link's chain, for the union: straight from the
    /// memo when it remembers the chain's result and that result's live bits — the result
    /// is then neither interned into the transaction nor copied into `scan_words` (a
    /// group's entries intern it when a link has to test it); the value's own bits when the
    /// memo knows the chain leaves it unchanged (half of a JSON body's lookups), without
    /// asking again through `transformed_bits`. Else `transformed_bits`.
    #[inline(always)]
    fn union_bits(&mut self, value: u32, engine: &Engine, plan: &GroupPlan) -> &[u64] {
        let classes = self.state.vals.classes(value);
        let remembered = match plan.leaves_unchanged(classes) {
            // None of the chain's trigger bytes: unchanged, without asking the memo (or the
            // link, through `transformed_bits`).
            true => Some(None),
            false => self.memo_chain_result(value, plan.chain_id),
        };
        match remembered {
            // Unchanged by the chain: the value's own bits.
            Some(None) => {
                let off = self.scan(value).unwrap_or(u32::MAX) as usize;
                self.scan_words.get(off..).unwrap_or_default()
            }
            Some(Some(r)) if self.memo.as_ref().is_some_and(|m| m.live(r).is_some()) => self
                .memo
                .as_ref()
                .and_then(|m| m.live(r))
                .unwrap_or_default(),
            _ => {
                let (ri, li) = plan.link;
                self.transformed_bits(value, &engine.rules[ri as usize].links[li as usize])
            }
        }
    }

    /// The live bits of `value` after the link's chain. Only called when the engine has
    /// live bits (`live_words > 0`), so every value has some. Inlined: the union's loop
    /// calls it per value, and the common case is a few loads.
    #[inline(always)]
    fn transformed_bits(&mut self, value: u32, link: &Link) -> &[u64] {
        let tv = self.through_chain(value, link);
        let off = self.scan(tv).unwrap_or(u32::MAX) as usize;
        self.scan_words.get(off..).unwrap_or_default()
    }

    /// The OR of the byte classes of atom `a`'s values (`set_items[istart..istart + ilen]`),
    /// once per data version.
    #[inline(always)]
    pub(crate) fn atom_classes(&mut self, a: u32, istart: usize, ilen: usize) -> u32 {
        let summary = self.groups.summaries[a as usize];
        if summary.valid && summary.version == self.state.data_version {
            return summary.classes;
        }
        self.atom_classes_new(a, istart, ilen)
    }

    #[inline(never)]
    fn atom_classes_new(&mut self, a: u32, istart: usize, ilen: usize) -> u32 {
        let version = self.state.data_version;
        let mut classes = 0;
        for i in istart..istart + ilen {
            classes |= self.state.vals.classes(self.set_items[i].value);
        }
        self.groups.summaries[a as usize] = AtomSummary {
            valid: true,
            version,
            classes,
            live: u32::MAX,
        };
        classes
    }

    /// The offset in `scan_words` of the OR of atom `a`'s values' live bits (after
    /// [`Self::atom_classes`] for the current data version), built on first use.
    #[inline(always)]
    pub(crate) fn atom_live(&mut self, a: u32, istart: usize, ilen: usize) -> usize {
        match self.groups.summaries[a as usize].live {
            u32::MAX => self.atom_live_new(a, istart, ilen),
            live => live as usize,
        }
    }

    #[inline(never)]
    fn atom_live_new(&mut self, a: u32, istart: usize, ilen: usize) -> usize {
        let live = self.scan_words.len();
        self.scan_words.resize(live + self.engine.live_words, 0);
        for i in istart..istart + ilen {
            if let Some(off) = self.scan(self.set_items[i].value) {
                self.or_live_bits(live, off as usize);
            }
        }
        self.groups.summaries[a as usize].live = live as u32;
        live
    }

    /// ORs the live bits at `from` in `scan_words` into those at `into` (two distinct
    /// blocks of `live_words` words, in either order: a scan may come after the block it is
    /// ORed into).
    fn or_live_bits(&mut self, into: usize, from: usize) {
        let words = self.engine.live_words;
        let (to, bits) = if into < from {
            let (head, tail) = self.scan_words.split_at_mut(from);
            (&mut head[into..into + words], &tail[..words])
        } else {
            let (head, tail) = self.scan_words.split_at_mut(into);
            (&mut tail[..words], &head[from..from + words])
        };
        for (t, b) in to.iter_mut().zip(bits) {
            *t |= b;
        }
    }

    /// The signatures of atom `a`, whose items are `set_items[istart..istart + ilen]` (built
    /// once per data version): its values grouped by byte classes, each group with the OR of
    /// its values' live bits. Out of line like `compute_union`.
    #[inline(never)]
    fn atom_signatures(&mut self, a: u32, istart: usize, ilen: usize) -> (usize, usize) {
        let version = self.state.data_version;
        if let Some(r) = self.groups.sigs_of[a as usize].range(version) {
            return r;
        }
        let words = self.engine.live_words;
        let start = self.groups.sigs.len();
        // Pass 1: each value's signature (a linear search: atoms have few), counted.
        let mut scratch = std::mem::take(&mut self.groups.scratch);
        scratch.clear();
        for i in istart..istart + ilen {
            let value = self.set_items[i].value;
            let classes = self.state.vals.classes(value);
            let k = match self.groups.sigs[start..]
                .iter()
                .position(|s| s.classes == classes)
            {
                Some(k) => k,
                None => {
                    let live = self.scan_words.len();
                    self.scan_words.resize(live + words, 0);
                    self.groups.sigs.push(Signature {
                        classes,
                        live: live as u32,
                        start: 0,
                        len: 0,
                    });
                    self.groups.sigs.len() - start - 1
                }
            };
            self.groups.sigs[start + k].len += 1;
            scratch.push((k as u32, value));
        }
        // Pass 2: the values placed by signature, their live bits ORed.
        let mut next = self.groups.sig_values.len() as u32;
        for sig in &mut self.groups.sigs[start..] {
            sig.start = next;
            next += sig.len;
            sig.len = 0;
        }
        self.groups.sig_values.resize(next as usize, 0);
        for &(k, value) in &scratch {
            let sig = &mut self.groups.sigs[start + k as usize];
            self.groups.sig_values[(sig.start + sig.len) as usize] = value;
            sig.len += 1;
            let live = sig.live as usize;
            if let Some(off) = self.scan(value) {
                self.or_live_bits(live, off as usize);
            }
        }
        self.groups.scratch = scratch;
        let len = self.groups.sigs.len() - start;
        self.groups.sigs_of[a as usize] = Cached::at(version, start, len);
        (start, len)
    }

    /// The entries of group `g` (its set's items, transformed by the link's chain, with
    /// their live bits when the group has live slots), built once per data version.
    pub(crate) fn group_entries(&mut self, g: u32, link: &Link) -> (usize, usize) {
        let version = self.state.data_version;
        if let Some(r) = self.groups.entries_of[g as usize].range(version) {
            return r;
        }
        let gated = !self.engine.group_slots[g as usize].is_empty();
        let (istart, ilen) = match link.target_set {
            Some(set) => self.set_range(set),
            None => (0, 0),
        };
        let start = self.groups.entries.len();
        for i in istart..istart + ilen {
            let item = self.set_items[i];
            let value = self.through_chain(item.value, link);
            let scan = if gated { self.scan(value) } else { None };
            self.groups.entries.push(Entry {
                item,
                value,
                scan: scan.unwrap_or(u32::MAX),
            });
        }
        let len = self.groups.entries.len() - start;
        self.groups.entries_of[g as usize] = Cached::at(version, start, len);
        (start, len)
    }
}
