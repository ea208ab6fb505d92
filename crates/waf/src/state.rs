//! Per-transaction variable state and variable extraction: request/response data collected
//! as it arrives (interned once), TX and persistent collections, MATCHED_VAR(S), and the
//! resolution of a [`Target`] into the list of (name, value) items a rule inspects.

use crate::body::FastPath;
use crate::interner::Interner;
use crate::macros::Resolve;
use crate::store::Collection;
use crate::txvars::TxVars;
use crate::variable::{Selector, Target, Var};
use std::collections::HashMap;

/// One value a rule inspects: the variable, its member key (for collections) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Variable it came from.
    pub var: Var,
    /// Interned member key, for collections.
    pub key: Option<u32>,
    /// Interned value.
    pub value: u32,
}

/// One entry per variable, indexed by [`Var`] (a few dozen kinds: a vector, not a map), grown
/// on first write; kept between transactions by the transaction's buffers.
#[derive(Debug, Default)]
pub struct PerVar<T>(Vec<T>);

impl<T: Default> PerVar<T> {
    /// The entry of `var`, when one was ever written.
    pub fn get(&self, var: Var) -> Option<&T> {
        self.0.get(var as usize)
    }

    /// The entry of `var`, created (default) if needed.
    pub fn get_mut(&mut self, var: Var) -> &mut T {
        let i = var as usize;
        if self.0.len() <= i {
            self.0.resize_with(i + 1, T::default);
        }
        &mut self.0[i]
    }

    /// Every entry back to its default through `reset`, keeping the allocations.
    pub(crate) fn reset(&mut self, reset: impl FnMut(&mut T)) {
        self.0.iter_mut().for_each(reset);
    }
}

/// Rule metadata exposed as `RULE.*` while a rule runs.
#[derive(Debug, Default, Clone)]
pub struct RuleContext {
    pub id: u64,
    pub phase: u8,
    pub severity: Option<u8>,
}

/// All variables of one transaction.
#[derive(Debug, Default)]
pub struct State {
    pub vals: Interner,
    /// Single-valued variables that have been set.
    pub singles: PerVar<Option<u32>>,
    /// Base collections (ARGS_GET, ARGS_POST, REQUEST_COOKIES, REQUEST_HEADERS, FILES,
    /// FILES_SIZES, MULTIPART_PART_HEADERS, RESPONSE_HEADERS, XML) as (key, value) ids.
    pub colls: PerVar<Vec<(u32, u32)>>,
    /// TX; keys lower-cased.
    pub tx: TxVars,
    /// Persistent collections opened by `initcol`, by lower-case name.
    pub persistent: HashMap<String, crate::store::OpenCollection>,
    /// MATCHED_VAR / MATCHED_VAR_NAME: the item (its name is built on demand by
    /// [`State::name_of`]) and the value the operator saw.
    pub matched: Option<(Item, u32)>,
    /// MATCHED_VARS (item, value).
    pub matched_all: Vec<(Item, u32)>,
    /// RULE.*.
    pub rule: RuleContext,
    /// Most severe (lowest) severity among matched rules: HIGHEST_SEVERITY.
    pub highest_severity: Option<u8>,
    /// Bumped whenever a stable variable ([`Var::is_stable`]) changes: caches of extracted
    /// target lists are valid while it stays the same.
    pub data_version: u32,
    /// The parsed XML body, kept when a rule has an XPath that needs the tree (see
    /// [`crate::body::XPath`]); `/*` and `//@*` values are in `colls[XML]`.
    pub xml: Option<Box<crate::body::XmlDocument>>,
}

fn coll_name(var: Var) -> Option<&'static str> {
    Some(match var {
        Var::IP => "ip",
        Var::GLOBAL => "global",
        Var::SESSION => "session",
        Var::USER => "user",
        Var::RESOURCE => "resource",
        _ => return None,
    })
}

impl State {
    /// Sets a single-valued variable.
    pub fn set_single(&mut self, var: Var, value: &[u8]) {
        let id = self.vals.intern(value);
        if self.singles.get_mut(var).replace(id) != Some(id) && var.is_stable() {
            self.data_version = self.data_version.wrapping_add(1);
        }
    }

    /// Appends a member to a base collection.
    pub fn push(&mut self, var: Var, key: &[u8], value: &[u8]) {
        let k = self.vals.intern(key);
        let v = self.vals.intern(value);
        self.colls.get_mut(var).push((k, v));
        self.data_version = self.data_version.wrapping_add(1);
    }

    fn coll(&self, var: Var) -> &[(u32, u32)] {
        self.colls.get(var).map_or(&[], Vec::as_slice)
    }

    /// An opened persistent collection (IP, GLOBAL, ...).
    pub fn store(&self, var: Var) -> Option<&Collection> {
        coll_name(var)
            .and_then(|n| self.persistent.get(n))
            .map(|c| &c.contents)
    }

    /// Display name of an item (`ARGS:foo`, `REQUEST_URI`).
    pub fn name_of(&self, item: &Item) -> String {
        match item.key {
            Some(k) => format!(
                "{}:{}",
                item.var.name(),
                String::from_utf8_lossy(self.vals.get(k))
            ),
            None => item.var.name().to_string(),
        }
    }

    /// Whether one of `exclusions` removes `item` (same variable, and no selector or a
    /// selector matching the item's key), as [`State::extract`] applies them.
    pub fn is_excluded<'a>(
        &self,
        item: &Item,
        exclusions: impl IntoIterator<Item = &'a Target>,
    ) -> bool {
        let key = item.key.map(|k| self.vals.get(k));
        exclusions.into_iter().any(|e| {
            e.var == item.var
                && match (&e.selector, key) {
                    (None, _) => true,
                    (Some(sel), Some(k)) => sel.matches_key(k),
                    (Some(_), None) => false,
                }
        })
    }

    /// Drops from `items[from..]` the items one of `exclusions` removes, keeping the order.
    pub fn drop_excluded<'a>(
        &self,
        items: &mut Vec<Item>,
        from: usize,
        exclusions: impl IntoIterator<Item = &'a Target> + Clone,
    ) {
        let mut kept = from;
        for i in from..items.len() {
            if !self.is_excluded(&items[i], exclusions.clone()) {
                items[kept] = items[i];
                kept += 1;
            }
        }
        items.truncate(kept);
    }

    /// Resolves `target` into items, dropping members matched by `exclusions`.
    pub fn extract<'a>(
        &mut self,
        target: &Target,
        exclusions: impl IntoIterator<Item = &'a Target> + Clone,
        out: &mut Vec<Item>,
    ) {
        let start = out.len();
        self.extract_raw(target, out);
        if exclusions.clone().into_iter().next().is_some() {
            self.drop_excluded(out, start, exclusions);
        }
        if target.count {
            let n = out.len() - start;
            out.truncate(start);
            let mut digits = [0; crate::setvar::INT_BYTES];
            let value = self
                .vals
                .intern(crate::setvar::int_bytes(n as i64, &mut digits));
            out.push(Item {
                var: target.var,
                key: None,
                value,
            });
        }
    }

    fn extract_raw(&mut self, target: &Target, out: &mut Vec<Item>) {
        let (var, sel) = (target.var, target.selector.as_ref());
        let keyed = |s: &State, pairs: &[(u32, u32)], names: bool, out: &mut Vec<Item>| {
            for &(k, v) in pairs {
                if sel.is_none_or(|sel| sel.matches_key(s.vals.get(k))) {
                    out.push(Item {
                        var,
                        key: Some(k),
                        value: if names { k } else { v },
                    });
                }
            }
        };
        match var {
            Var::ARGS | Var::ARGS_NAMES => {
                let names = var == Var::ARGS_NAMES;
                keyed(self, self.coll(Var::ARGS_GET), names, out);
                keyed(self, self.coll(Var::ARGS_POST), names, out);
            }
            Var::ARGS_GET
            | Var::ARGS_POST
            | Var::REQUEST_COOKIES
            | Var::REQUEST_HEADERS
            | Var::FILES
            | Var::FILES_SIZES
            | Var::MULTIPART_PART_HEADERS
            | Var::RESPONSE_HEADERS
            | Var::ENV => keyed(self, self.coll(var), false, out),
            Var::ARGS_GET_NAMES => keyed(self, self.coll(Var::ARGS_GET), true, out),
            Var::ARGS_POST_NAMES => keyed(self, self.coll(Var::ARGS_POST), true, out),
            Var::REQUEST_COOKIES_NAMES => keyed(self, self.coll(Var::REQUEST_COOKIES), true, out),
            Var::REQUEST_HEADERS_NAMES => keyed(self, self.coll(Var::REQUEST_HEADERS), true, out),
            Var::RESPONSE_HEADERS_NAMES => keyed(self, self.coll(Var::RESPONSE_HEADERS), true, out),
            Var::FILES_NAMES => keyed(self, self.coll(Var::FILES), true, out),
            Var::XML => {
                // `/*` (and a bare `XML`) yields the root's text, `//@*` every attribute
                // value, both extracted when the body was parsed; other XPaths are
                // evaluated on the kept tree.
                let attrs = match sel {
                    Some(Selector::XPath(x)) => match x.fast_path() {
                        Some(fast) => fast == FastPath::AllAttributes,
                        None => {
                            let State { xml, vals, .. } = self;
                            if let Some(doc) = xml {
                                x.select(doc, |v| {
                                    let value = vals.intern(v);
                                    out.push(Item {
                                        var,
                                        key: None,
                                        value,
                                    });
                                });
                            }
                            return;
                        }
                    },
                    _ => false,
                };
                for &(k, v) in self.coll(Var::XML) {
                    if (self.vals.get(k) == b"@") == attrs {
                        out.push(Item {
                            var,
                            key: None,
                            value: v,
                        });
                    }
                }
            }
            Var::TX => {
                let State { tx, vals, .. } = self;
                if let Some(Selector::Key(k)) = sel {
                    // A `TX:name` target has the name's slot (see `txvars.rs`).
                    let v = match target.tx_slot {
                        Some(slot) => tx.get_slot(slot),
                        None => tx.get(k),
                    };
                    if let Some(v) = v {
                        let key = Some(vals.intern(k.as_bytes()));
                        out.push(Item {
                            var,
                            key,
                            value: vals.intern(v),
                        });
                    }
                    return;
                }
                tx.for_each_selected(sel, |k, v| {
                    let key = Some(vals.intern(k.as_bytes()));
                    let value = vals.intern(v);
                    out.push(Item { var, key, value });
                });
            }
            Var::IP | Var::GLOBAL | Var::SESSION | Var::USER | Var::RESOURCE => {
                let Some(store) = coll_name(var).and_then(|n| self.persistent.get(n)) else {
                    return;
                };
                let store = &store.contents;
                let vals = &mut self.vals;
                if let Some(Selector::Key(k)) = sel {
                    // Keys are stored lower-cased, and so are Key selectors.
                    if let Some(v) = store.get(k.as_str()) {
                        let key = Some(vals.intern(k.as_bytes()));
                        out.push(Item {
                            var,
                            key,
                            value: vals.intern(v),
                        });
                    }
                    return;
                }
                let mut keys: Vec<&String> = store
                    .keys()
                    .filter(|k| sel.is_none_or(|s| s.matches_key(k.as_bytes())))
                    .collect();
                keys.sort();
                for k in keys {
                    let key = Some(vals.intern(k.as_bytes()));
                    let value = vals.intern(&store[k]);
                    out.push(Item { var, key, value });
                }
            }
            Var::MATCHED_VAR => {
                let value = match &self.matched {
                    Some((_, v)) => *v,
                    None => self.vals.intern(b""),
                };
                out.push(Item {
                    var,
                    key: None,
                    value,
                });
            }
            Var::MATCHED_VAR_NAME => {
                let name = self
                    .matched
                    .as_ref()
                    .map(|(it, _)| self.name_of(it))
                    .unwrap_or_default();
                let value = self.vals.intern(name.as_bytes());
                out.push(Item {
                    var,
                    key: None,
                    value,
                });
            }
            Var::MATCHED_VARS | Var::MATCHED_VARS_NAMES => {
                for (it, v) in self.matched_all.clone() {
                    let n = self.name_of(&it);
                    let k = self.vals.intern(n.as_bytes());
                    if sel.is_none_or(|s| s.matches_key(n.as_bytes())) {
                        let value = if var == Var::MATCHED_VARS { v } else { k };
                        out.push(Item {
                            var,
                            key: Some(k),
                            value,
                        });
                    }
                }
            }
            Var::RULE => {
                if let Some(v) = self.first_value(var, sel.map(|s| s.text()).as_deref()) {
                    let value = self.vals.intern_vec(v);
                    out.push(Item {
                        var,
                        key: None,
                        value,
                    });
                }
            }
            Var::TIME_EPOCH | Var::TIME | Var::DURATION => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let value = self.vals.intern(now.to_string().as_bytes());
                out.push(Item {
                    var,
                    key: None,
                    value,
                });
            }
            _ => {
                // Like ModSecurity v3's anchored variables, a single-valued variable always
                // yields one value: empty when it was never set.
                let value = match self.singles.get(var) {
                    Some(&Some(v)) => v,
                    _ => self.vals.intern(b""),
                };
                out.push(Item {
                    var,
                    key: None,
                    value,
                });
            }
        }
    }
}

impl Resolve for State {
    fn append_tx(&self, slot: u32, out: &mut Vec<u8>) {
        if let Some(v) = self.tx.get_slot(slot) {
            out.extend_from_slice(v);
        }
    }

    fn append_first_value(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
        match var {
            Var::IP | Var::GLOBAL | Var::SESSION | Var::USER | Var::RESOURCE => {
                let Some(store) = self.store(var) else {
                    return;
                };
                // Keys are stored lower-cased: look an already lower-case key up as it is.
                let v = match key {
                    Some(k) if k.bytes().any(|b| b.is_ascii_uppercase()) => {
                        store.get(&k.to_ascii_lowercase())
                    }
                    Some(k) => store.get(k),
                    None => store.values().next(),
                };
                if let Some(v) = v {
                    out.extend_from_slice(v);
                }
            }
            Var::MATCHED_VAR => {
                if let Some((_, v)) = &self.matched {
                    out.extend_from_slice(self.vals.get(*v));
                }
            }
            _ => {
                if let Some(v) = self.first_value(var, key) {
                    out.extend_from_slice(&v);
                }
            }
        }
    }

    fn first_value(&self, var: Var, key: Option<&str>) -> Option<Vec<u8>> {
        let matches =
            |k: u32| key.is_none_or(|key| self.vals.get(k).eq_ignore_ascii_case(key.as_bytes()));
        let first_of = |pairs: &[(u32, u32)], names: bool| {
            pairs
                .iter()
                .find(|(k, _)| matches(*k))
                .map(|&(k, v)| self.vals.get(if names { k } else { v }).to_vec())
        };
        match var {
            Var::TX => match key {
                Some(k) => self.tx.get(&k.to_ascii_lowercase()).map(<[u8]>::to_vec),
                None => self.tx.entries().into_iter().next().map(|e| e.1),
            },
            Var::IP | Var::GLOBAL | Var::SESSION | Var::USER | Var::RESOURCE => {
                let store = self.store(var)?;
                match key {
                    Some(k) => store.get(&k.to_ascii_lowercase()).cloned(),
                    None => store.values().next().cloned(),
                }
            }
            Var::ARGS | Var::ARGS_NAMES => {
                let names = var == Var::ARGS_NAMES;
                first_of(self.coll(Var::ARGS_GET), names)
                    .or_else(|| first_of(self.coll(Var::ARGS_POST), names))
            }
            Var::ARGS_GET_NAMES => first_of(self.coll(Var::ARGS_GET), true),
            Var::ARGS_POST_NAMES => first_of(self.coll(Var::ARGS_POST), true),
            Var::REQUEST_HEADERS_NAMES => first_of(self.coll(Var::REQUEST_HEADERS), true),
            Var::REQUEST_COOKIES_NAMES => first_of(self.coll(Var::REQUEST_COOKIES), true),
            Var::FILES_NAMES => first_of(self.coll(Var::FILES), true),
            Var::MATCHED_VAR => self
                .matched
                .as_ref()
                .map(|(_, v)| self.vals.get(*v).to_vec()),
            Var::MATCHED_VAR_NAME => self
                .matched
                .as_ref()
                .map(|(it, _)| self.name_of(it).into_bytes()),
            Var::MATCHED_VARS => self
                .matched_all
                .first()
                .map(|(_, v)| self.vals.get(*v).to_vec()),
            Var::MATCHED_VARS_NAMES => self
                .matched_all
                .first()
                .map(|(it, _)| self.name_of(it).into_bytes()),
            Var::RULE => {
                let k = key.unwrap_or("id").to_ascii_lowercase();
                match k.as_str() {
                    "id" => Some(self.rule.id.to_string().into_bytes()),
                    "phase" => Some(self.rule.phase.to_string().into_bytes()),
                    "severity" => self.rule.severity.map(|s| s.to_string().into_bytes()),
                    _ => None,
                }
            }
            v if v.is_collection() => first_of(self.coll(v), false),
            v => self
                .singles
                .get(v)
                .copied()
                .flatten()
                .map(|id| self.vals.get(id).to_vec()),
        }
    }
}
