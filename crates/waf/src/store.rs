//! Collections: the per-transaction TX map and the per-process persistent collections
//! (IP, GLOBAL, SESSION, USER, RESOURCE) opened with `initcol`, kept in memory for the life
//! of the [`Engine`](crate::Engine) like ModSecurity's default in-memory collections.
//!
//! - **Snapshot in, changes out.** `initcol` copies the stored collection (without expired
//!   members) into the transaction ([`PersistentStore::load`]); rules read and write that
//!   copy. At phase 5 only the *changes* are written back ([`PersistentStore::save`]):
//!   members set or deleted by the transaction are written as they are, and members changed
//!   only by `=+`/`=-` get the net delta added to the *current* stored value. Counters do not
//!   lose increments when transactions of the same client run concurrently; members the
//!   transaction did not touch are left alone.
//! - **Member expiry** (`expirevar`): a member carries an expiry time; a load drops expired
//!   members (and removes them from the store), so reads after the expiry see no member.
//!   Updating a member keeps its expiry (as ModSecurity v3); deleting it removes both.
//! - **Collection timeout** (`SecCollectionTimeout`, default 3600 s, or the collection's own
//!   `TIMEOUT` member set with `setvar`): a collection not written back by any transaction
//!   for that long is dropped.
//! - **Bound**: at most `max` collections (`SecCollectionMaxCount`, default 100,000). A new
//!   collection first makes room by dropping expired ones, then the one closest to timing
//!   out (the least recently used when collections share a timeout). Expired collections
//!   are dropped lazily when loaded and, a few at a time, by every save (amortised; no
//!   background thread). A collection that nothing was written to is not stored at all.
//! - **Built-in members**, filled in at load time (names as ModSecurity v2): `KEY`,
//!   `TIMEOUT`, `CREATE_TIME`, `LAST_UPDATE_TIME` (of the last save that changed something),
//!   `UPDATE_COUNTER` (number of such saves), `IS_NEW` (1 until the collection is stored).
//!   Writing them has no effect, except `TIMEOUT` (seconds, at least 1).
//! - Time comes from a [`Clock`] (seconds since the epoch), injectable for tests.
//!
//! One mutex guards the store; it is held for a copy of one collection (load) or for
//! merging one transaction's changes plus a bounded purge (save). A poisoned mutex is
//! recovered, not propagated.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A collection: lower-cased member name → value (seeded hasher: names can come from
/// request data through `setvar` macros).
pub type Collection = crate::interner::SeededMap<String, Vec<u8>>;

/// Names of the built-in members (lower-cased, as members are stored).
pub(crate) const BUILTINS: [&str; 6] = [
    "key",
    "timeout",
    "create_time",
    "last_update_time",
    "update_counter",
    "is_new",
];

/// Expired collections dropped at most per save (beyond the one making room for a new one).
const PURGE_PER_SAVE: usize = 16;

/// The time source of the persistent collections: seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: u64) -> ManualClock {
        ManualClock(AtomicU64::new(now))
    }

    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a transaction changed a member of a persistent collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Set or deleted: the transaction's final value (or its absence) is written.
    Absolute,
    /// Only `=+`/`=-`: the net amount is added to the stored value.
    Delta(i64),
}

/// A persistent collection opened in a transaction.
#[derive(Debug)]
pub(crate) struct OpenCollection {
    /// `"ip:1.2.3.4"`.
    pub storage: String,
    /// The members as the transaction sees them (built-ins included).
    pub contents: Collection,
    /// Members changed by the transaction.
    pub changes: crate::interner::SeededMap<String, Change>,
    /// `expirevar`s run by the transaction: member, absolute expiry time.
    pub expiries: Vec<(String, u64)>,
    /// The expiry times of the members that had one when the collection was loaded.
    pub loaded_expiries: crate::interner::SeededMap<String, u64>,
    /// CREATE_TIME as loaded (the load time for a new collection).
    pub create_time: u64,
}

impl OpenCollection {
    /// Records a change of `key` (`delta` for `=+`/`=-`, `None` for a set or delete).
    pub fn note(&mut self, key: &str, delta: Option<i64>) {
        match (self.changes.get_mut(key), delta) {
            (Some(Change::Delta(d)), Some(n)) => *d = d.saturating_add(n),
            (Some(Change::Absolute), Some(_)) => {}
            (Some(c), None) => *c = Change::Absolute,
            (None, d) => {
                let c = d.map_or(Change::Absolute, Change::Delta);
                self.changes.insert(key.to_string(), c);
            }
        }
    }
}

#[derive(Debug)]
struct Member {
    value: Vec<u8>,
    /// Absolute expiry time (`expirevar`).
    expires: Option<u64>,
}

impl Member {
    fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

#[derive(Debug)]
struct Stored {
    members: crate::interner::SeededMap<String, Member>,
    create_time: u64,
    last_update_time: u64,
    update_counter: u64,
    timeout: u64,
    /// Position in the expiry index: (time it expires, unique tick).
    slot: (u64, u64),
}

#[derive(Debug, Default)]
struct Inner {
    map: crate::interner::SeededMap<Arc<str>, Stored>,
    /// Every stored collection by (expiry time, tick): expired ones come first, then the
    /// ones closest to timing out.
    order: BTreeMap<(u64, u64), Arc<str>>,
    tick: u64,
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(s) = self.map.remove(key) {
            self.order.remove(&s.slot);
        }
    }

    /// Drops up to `budget` collections expired at `now`.
    fn purge(&mut self, now: u64, budget: usize) {
        for _ in 0..budget {
            match self.order.first_key_value() {
                Some((&(expires, _), _)) if expires <= now => {
                    if let Some((_, key)) = self.order.pop_first() {
                        self.map.remove(&key);
                    }
                }
                _ => break,
            }
        }
    }
}

/// The persistent collections of one engine, keyed by `"ip:1.2.3.4"`; shared by all its
/// transactions.
#[derive(Debug)]
pub struct PersistentStore {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
    /// Default collection timeout in seconds.
    timeout: u64,
    /// Maximum number of stored collections.
    max: usize,
}

impl PersistentStore {
    /// A store whose collections time out after `timeout` seconds, holding at most `max`.
    pub fn new(timeout: u64, max: usize, clock: Arc<dyn Clock>) -> PersistentStore {
        PersistentStore {
            inner: Mutex::default(),
            clock,
            timeout: timeout.max(1),
            max: max.max(1),
        }
    }

    /// The current time of the store's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of stored collections.
    pub fn collections(&self) -> usize {
        self.lock().map.len()
    }

    /// Opens collection `name` (`ip`) under `key` (`1.2.3.4`): a copy of its live members
    /// plus the built-in members (an empty new collection when absent or timed out).
    pub(crate) fn load(&self, name: &str, key: &str) -> OpenCollection {
        let storage = format!("{name}:{key}");
        let now = self.now();
        let mut contents = Collection::default();
        let mut loaded_expiries = crate::interner::SeededMap::default();
        let mut meta = None;
        {
            let mut inner = self.lock();
            let expired = match inner.map.get(storage.as_str()) {
                Some(s) => s.slot.0 <= now,
                None => false,
            };
            if expired {
                inner.remove(&storage);
            } else if let Some(s) = inner.map.get_mut(storage.as_str()) {
                s.members.retain(|_, m| m.live(now));
                contents.reserve(s.members.len() + BUILTINS.len());
                for (k, m) in &s.members {
                    contents.insert(k.clone(), m.value.clone());
                    if let Some(e) = m.expires {
                        loaded_expiries.insert(k.clone(), e);
                    }
                }
                meta = Some((
                    s.create_time,
                    s.last_update_time,
                    s.update_counter,
                    s.timeout,
                ));
            }
        }
        let (create, update, counter, timeout) = meta.unwrap_or((now, now, 0, self.timeout));
        let builtins: [(&str, String); 6] = [
            ("key", key.to_string()),
            ("timeout", timeout.to_string()),
            ("create_time", create.to_string()),
            ("last_update_time", update.to_string()),
            ("update_counter", counter.to_string()),
            ("is_new", if meta.is_some() { "0" } else { "1" }.to_string()),
        ];
        for (k, v) in builtins {
            contents.insert(k.to_string(), v.into_bytes());
        }
        OpenCollection {
            storage,
            contents,
            changes: Default::default(),
            expiries: Vec::new(),
            loaded_expiries,
            create_time: create,
        }
    }

    /// Writes a transaction's changes back (see the module docs) and refreshes the
    /// collection's timeout; stores the collection only if something was written.
    pub(crate) fn save(&self, open: OpenCollection) {
        let now = self.now();
        let OpenCollection {
            storage,
            contents,
            changes,
            expiries,
            loaded_expiries,
            create_time,
        } = open;
        let members_changed = changes.keys().any(|k| !BUILTINS.contains(&k.as_str()));
        let writes = members_changed || !expiries.is_empty();
        let new_timeout = match changes.get("timeout") {
            Some(_) => contents
                .get("timeout")
                .map(|v| crate::setvar::to_int(v))
                .filter(|&t| t > 0)
                .map(|t| t as u64),
            None => None,
        };
        let mut inner = self.lock();
        inner.purge(now, PURGE_PER_SAVE);
        if inner
            .map
            .get(storage.as_str())
            .is_some_and(|s| s.slot.0 <= now)
        {
            inner.remove(&storage);
        }
        if !inner.map.contains_key(storage.as_str()) {
            if !members_changed && new_timeout.is_none() {
                return;
            }
            // Room for one more: expired collections first, then the one closest to its
            // timeout.
            while inner.map.len() >= self.max {
                match inner.order.pop_first() {
                    Some((_, key)) => {
                        inner.map.remove(&key);
                    }
                    None => break,
                }
            }
            let key: Arc<str> = Arc::from(storage.as_str());
            inner.map.insert(
                key,
                Stored {
                    members: Default::default(),
                    create_time,
                    last_update_time: now,
                    update_counter: 0,
                    timeout: self.timeout,
                    slot: (0, 0),
                },
            );
        }
        let tick = inner.tick;
        inner.tick += 1;
        let Some(stored) = inner.map.get_mut(storage.as_str()) else {
            return;
        };
        // The transaction's own expiries, the last one per member winning.
        let mut pending: crate::interner::SeededMap<&str, u64> = Default::default();
        for (k, at) in &expiries {
            pending.insert(k.as_str(), *at);
        }
        for (k, change) in &changes {
            if BUILTINS.contains(&k.as_str()) {
                continue;
            }
            let live = match stored.members.get(k) {
                Some(m) if m.live(now) => true,
                Some(_) => {
                    stored.members.remove(k);
                    false
                }
                None => false,
            };
            let value = match change {
                Change::Absolute => match contents.get(k) {
                    Some(v) => v.clone(),
                    None => {
                        stored.members.remove(k);
                        continue;
                    }
                },
                Change::Delta(d) => {
                    let base = match stored.members.get(k) {
                        Some(m) if live => crate::setvar::to_int(&m.value),
                        _ => 0,
                    };
                    base.saturating_add(*d).to_string().into_bytes()
                }
            };
            match stored.members.get_mut(k) {
                // An update keeps the member's expiry.
                Some(m) if live => m.value = value,
                _ => {
                    // The member is new, or expired since the transaction read it: a value
                    // based on a member read with an expiry keeps that expiry (so a
                    // counter increment that arrives after its window closed is dropped
                    // instead of starting a counter that never expires).
                    let expires = pending
                        .get(k.as_str())
                        .copied()
                        .or_else(|| loaded_expiries.get(k).copied());
                    if expires.is_none_or(|e| now < e) {
                        stored.members.insert(k.clone(), Member { value, expires });
                    }
                }
            }
        }
        for (k, at) in pending {
            if let Some(m) = stored.members.get_mut(k) {
                m.expires = Some(at);
            }
        }
        if writes {
            stored.update_counter += 1;
            stored.last_update_time = now;
        }
        if let Some(t) = new_timeout {
            stored.timeout = t;
        }
        let old = stored.slot;
        stored.slot = (now.saturating_add(stored.timeout), tick);
        let slot = stored.slot;
        inner.order.remove(&old);
        inner.order.insert(slot, Arc::from(storage.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(timeout: u64, max: usize) -> (PersistentStore, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1000));
        (PersistentStore::new(timeout, max, clock.clone()), clock)
    }

    fn set(s: &PersistentStore, key: &str, member: &str, value: &str, expire: Option<u64>) {
        let mut c = s.load("ip", key);
        c.contents.insert(member.into(), value.as_bytes().to_vec());
        c.note(member, None);
        if let Some(e) = expire {
            c.expiries.push((member.into(), s.now() + e));
        }
        s.save(c);
    }

    fn get(s: &PersistentStore, key: &str, member: &str) -> Option<String> {
        s.load("ip", key)
            .contents
            .get(member)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    #[test]
    fn members_expire_and_collections_time_out() {
        let (s, clock) = store(100, 10);
        set(&s, "a", "x", "1", Some(10));
        set(&s, "a", "y", "2", None);
        clock.advance(9);
        assert_eq!(get(&s, "a", "x").as_deref(), Some("1"));
        clock.advance(1);
        assert_eq!(get(&s, "a", "x"), None);
        assert_eq!(get(&s, "a", "y").as_deref(), Some("2"));
        assert_eq!(get(&s, "a", "is_new").as_deref(), Some("0"));
        // Untouched for the timeout: gone.
        clock.advance(100);
        assert_eq!(get(&s, "a", "y"), None);
        assert_eq!(get(&s, "a", "is_new").as_deref(), Some("1"));
        assert_eq!(s.collections(), 0);
    }

    #[test]
    fn deltas_merge_with_concurrent_writers() {
        let (s, _) = store(100, 10);
        let mut a = s.load("ip", "k");
        let mut b = s.load("ip", "k");
        for c in [&mut a, &mut b] {
            c.contents.insert("n".into(), b"1".to_vec());
            c.note("n", Some(1));
        }
        s.save(a);
        s.save(b);
        assert_eq!(get(&s, "k", "n").as_deref(), Some("2"));
        assert_eq!(get(&s, "k", "update_counter").as_deref(), Some("2"));
    }

    #[test]
    fn late_increment_of_an_expired_counter_is_dropped() {
        let (s, clock) = store(1000, 10);
        set(&s, "k", "n", "2", Some(60));
        let mut late = s.load("ip", "k");
        late.contents.insert("n".into(), b"3".to_vec());
        late.note("n", Some(1));
        clock.advance(60);
        s.save(late);
        assert_eq!(get(&s, "k", "n"), None);
        // Without an expiry seen at load time, an increment creates the member.
        let mut fresh = s.load("ip", "k");
        fresh.contents.insert("n".into(), b"1".to_vec());
        fresh.note("n", Some(1));
        s.save(fresh);
        assert_eq!(get(&s, "k", "n").as_deref(), Some("1"));
        // An update keeps the expiry; `expirevar ...=0` removes at once.
        set(&s, "k", "m", "a", Some(10));
        set(&s, "k", "m", "b", None);
        clock.advance(10);
        assert_eq!(get(&s, "k", "m"), None);
        set(&s, "k", "z", "a", Some(0));
        assert_eq!(get(&s, "k", "z"), None);
    }

    #[test]
    fn bounded_with_expired_then_oldest_evicted() {
        let (s, clock) = store(100, 3);
        for k in ["a", "b", "c"] {
            set(&s, k, "x", "1", None);
            clock.advance(1);
        }
        // Reading does not store anything new.
        assert_eq!(get(&s, "zzz", "x"), None);
        assert_eq!(s.collections(), 3);
        set(&s, "a", "x", "2", None); // a is now the most recent
        set(&s, "d", "x", "1", None);
        assert_eq!(s.collections(), 3);
        assert_eq!(get(&s, "b", "x"), None);
        assert_eq!(get(&s, "a", "x").as_deref(), Some("2"));
        assert_eq!(get(&s, "c", "x").as_deref(), Some("1"));
        // Saves purge timed-out collections without being asked about them.
        clock.advance(200);
        set(&s, "e", "x", "1", None);
        assert_eq!(s.collections(), 1);
    }

    #[test]
    fn collection_timeout_member_is_writable() {
        let (s, clock) = store(100, 3);
        let mut c = s.load("ip", "a");
        c.contents.insert("timeout".into(), b"5".to_vec());
        c.note("timeout", None);
        s.save(c);
        assert_eq!(get(&s, "a", "timeout").as_deref(), Some("5"));
        clock.advance(5);
        assert_eq!(s.collections(), 1);
        assert_eq!(get(&s, "a", "timeout").as_deref(), Some("100"));
        assert_eq!(s.collections(), 0);
    }
}
