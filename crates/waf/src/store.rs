//! Collections: the per-transaction TX map and the per-process persistent collections
//! (IP, GLOBAL, SESSION, USER, RESOURCE) opened with `initcol`. Persistence is in memory,
//! for the life of the [`Engine`](crate::Engine); there is no expiry (`expirevar` is a no-op).

use std::collections::HashMap;
use std::sync::Mutex;

/// A collection: lower-cased member name → value (seeded hasher: names can come from
/// request data through `setvar` macros).
pub type Collection = crate::interner::SeededMap<String, Vec<u8>>;

/// Persistent collections keyed by `"ip:1.2.3.4"`.
#[derive(Debug, Default)]
pub struct PersistentStore {
    inner: Mutex<HashMap<String, Collection>>,
}

impl PersistentStore {
    /// A copy of the stored collection (empty when new).
    pub fn load(&self, key: &str) -> Collection {
        match self.inner.lock() {
            Ok(map) => map.get(key).cloned().unwrap_or_default(),
            Err(poisoned) => poisoned.into_inner().get(key).cloned().unwrap_or_default(),
        }
    }

    /// Replaces the stored collection.
    pub fn save(&self, key: String, value: Collection) {
        let mut map = match self.inner.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.insert(key, value);
    }
}
