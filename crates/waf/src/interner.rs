//! Per-transaction value arena. Every value a rule looks at (request data, TX members,
//! transformation results) is interned once by content and referred to by a `u32` id, so
//! the transformation cache and the prefilter scan cache can key on `(id, ...)`: identical
//! values share work, and a chain `a,b,c` reuses the cached `a,b` prefix of another rule.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A small, fast, non-cryptographic hasher (FxHash) for the caches keyed by ids and enums
/// (`(value id, transformation)`, `(value id, chain id)`): ids are assigned by us, so their
/// hashes cannot be steered by a client. Maps keyed by request *content* use a randomly
/// seeded hasher instead (see [`SeededMap`]).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

/// HashMap with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// HashMap with a per-process random seed, for keys a client controls (values, TX names).
pub type SeededMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Values interned by content, stored back to back in one byte arena (no allocation per
/// value). The table maps a content hash to ids; the hasher is randomly seeded per
/// transaction because the content comes from the client.
#[derive(Default)]
pub struct Interner {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Per id: the byte classes of the value (`transform::classes`), computed on first use;
    /// `u32::MAX` until then.
    classes: Vec<u32>,
    table: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Ids of the one-byte values (digits: counts, scores, flags), `u32::MAX` when not
    /// interned yet: found without hashing.
    bytes1: Option<Box<[u32; 256]>>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("values", &self.spans.len())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Interner {
    /// An interner pre-sized for `n` values (avoids regrowth during a typical request).
    pub fn with_capacity(n: usize) -> Self {
        Interner {
            bytes: Vec::with_capacity(n * 32),
            spans: Vec::with_capacity(n),
            classes: Vec::with_capacity(n),
            table: hashbrown::HashTable::with_capacity(n),
            hasher: Default::default(),
            bytes1: None,
        }
    }

    /// Id of `bytes`, adding it when new.
    pub fn intern(&mut self, value: &[u8]) -> u32 {
        let [b] = value else {
            return self.intern_hashed(value);
        };
        let i = usize::from(*b);
        match self.bytes1.as_ref().map(|ids| ids[i]) {
            Some(id) if id != u32::MAX => id,
            _ => {
                let id = self.intern_hashed(value);
                self.bytes1.get_or_insert_with(|| Box::new([u32::MAX; 256]))[i] = id;
                id
            }
        }
    }

    /// [`Self::intern`] through the hash table.
    fn intern_hashed(&mut self, value: &[u8]) -> u32 {
        let Interner {
            bytes,
            spans,
            classes,
            table,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(value);
        let at = |id: u32| {
            let (start, len) = spans[id as usize];
            &bytes[start..start + len]
        };
        if let Some(&id) = table.find(hash, |&id| at(id) == value) {
            return id;
        }
        let id = spans.len() as u32;
        spans.push((bytes.len(), value.len()));
        classes.push(u32::MAX);
        bytes.extend_from_slice(value);
        table.insert_unique(hash, id, |&id| {
            let (start, len) = spans[id as usize];
            hasher.hash_one(&bytes[start..start + len])
        });
        id
    }

    /// Id of an owned value.
    pub fn intern_vec(&mut self, bytes: Vec<u8>) -> u32 {
        self.intern(&bytes)
    }

    /// Number of values (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Forgets every value, keeping the allocations (for reuse by the next transaction).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.classes.clear();
        self.table.clear();
        if let Some(ids) = &mut self.bytes1 {
            ids.fill(u32::MAX);
        }
    }

    /// Approximate heap size in bytes.
    pub fn heap_size(&self) -> usize {
        self.bytes.capacity() + self.spans.capacity() * 20 + self.table.capacity() * 5
    }

    /// The byte classes (`transform::classes`) of value `id`, computed once per value.
    pub fn classes(&mut self, id: u32) -> u32 {
        let i = id as usize;
        match self.classes.get(i) {
            Some(&c) if c != u32::MAX => c,
            Some(_) => {
                let c = crate::transform::classes::of_value(self.get(id));
                self.classes[i] = c;
                c
            }
            None => crate::transform::classes::of_value(self.get(id)),
        }
    }

    /// The bytes of `id` (empty for an unknown id).
    pub fn get(&self, id: u32) -> &[u8] {
        self.spans
            .get(id as usize)
            .and_then(|&(start, len)| self.bytes.get(start..start + len))
            .unwrap_or(&[][..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_by_content() {
        let mut i = Interner::default();
        let one = i.intern(b"1");
        assert_eq!(i.intern(b"1"), one);
        assert_ne!(i.intern(b"2"), one);
        assert_eq!(i.get(one), b"1");
        let a = i.intern(b"abc");
        let b = i.intern_vec(b"abc".to_vec());
        assert_eq!(a, b);
        assert_ne!(a, i.intern(b"abd"));
        assert_eq!(i.get(a), b"abc");
        let classes = crate::transform::classes::of_value(b"abc");
        assert_eq!(i.classes(a), classes);
        assert_eq!(i.classes(a), classes);
        i.clear();
        let x = i.intern(b"x");
        assert_eq!(i.get(x), b"x", "one-byte ids are forgotten with the values");
        assert_eq!(i.intern(b"1"), x + 1);
    }
}
