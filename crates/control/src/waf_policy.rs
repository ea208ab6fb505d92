//! WAF policies: global settings + per-Ingress annotations → a shared [`WafPolicy`] for the
//! snapshot.
//!
//! [`WafPolicies`] is handed to the translation through [`crate::TranslateOptions::waf`]. A
//! policy has two parts:
//! - the **compiled engine**, keyed by [`EngineKey`] (paranoia level and the exclusion rules
//!   of a ConfigMap — what changes the SecLang text), compiled once per *rules version* and
//!   shared by every policy with that key. With CRS an engine costs tens of MB, so ten
//!   Ingresses that differ only in mode or exclusions share one engine;
//! - the **per-transaction settings**: mode and exclusions by id and tag, which the data plane
//!   applies to each transaction ([`WafPolicy::transaction`]) with the semantics of
//!   `SecRuleEngine` and of `SecRuleRemoveById`/`ByTag` after the rules.
//!
//! Each distinct [`PolicyKey`] gets one `Arc<WafPolicy>`, shared by every route using it.
//! The rules version changes when [`WafPolicies::refresh`] sees the rule files change (size or
//! modification time); engines are then recompiled on the next translation. A compile error
//! (reported with `file:line`) keeps the last good engine of that key.
//!
//! The SecLang given to the engine, in order: engine settings (`SecRuleEngine On`, body
//! limits), for CRS the setup files, our `SecAction`s for paranoia level and anomaly
//! thresholds (ids 9600001–3, only those configured), the ConfigMap's `before` rules, the rule
//! files, then the ConfigMap's other rules. Annotations never carry SecLang: ids are numbers
//! and tags are `[A-Za-z0-9_./-]+`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_snapshot::{FailMode, WafMode, WafPolicy};
use portcullis_waf::{BodyLimitAction, CompileError, Engine, MODSECURITY_RECOMMENDED};

use crate::waf_seclang::{crs_rule_files, engine_directives, tuning};

use crate::annotations::{self, IngressAnnotations};

/// Where the rules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    /// Our own rule set: the path of `rules/portcullis.conf`.
    Builtin(PathBuf),
    /// An OWASP CRS checkout: its directory (with `rules/*.conf`) and the setup files loaded
    /// before the rules (usually `crs-setup.conf`).
    Crs { dir: PathBuf, setup: Vec<PathBuf> },
}

/// Response-body inspection (phase 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseBodySettings {
    pub limit: usize,
    pub mime_types: Vec<String>,
}

/// The global `waf:` settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WafSettings {
    pub rules: RuleSource,
    /// Default mode of every route; `Off` unless enabled.
    pub mode: annotations::WafMode,
    pub paranoia_level: Option<u8>,
    pub inbound_threshold: Option<u32>,
    pub outbound_threshold: Option<u32>,
    /// `SecRequestBodyLimit` (bytes buffered for inspection).
    pub request_body_limit: usize,
    /// `SecRequestBodyNoFilesLimit`.
    pub request_body_no_files_limit: usize,
    /// `SecRequestBodyLimitAction`.
    pub request_body_limit_action: BodyLimitAction,
    pub response_body: Option<ResponseBodySettings>,
    pub fail: FailMode,
    pub time_budget: Duration,
}

/// Identity of a distinct policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyKey {
    /// Applied per transaction.
    pub mode: WafMode,
    /// Compiled (part of the [`EngineKey`]).
    pub paranoia_level: Option<u8>,
    /// Applied per transaction (sorted, deduplicated).
    pub excluded_ids: Vec<u32>,
    /// Applied per transaction (sorted, deduplicated).
    pub excluded_tags: Vec<String>,
    /// Exclusion rules from a ConfigMap: (before the rules, after the rules). Compiled.
    pub extra: Option<(String, String)>,
}

/// What a compiled engine depends on besides the rule files and the global settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineKey {
    pub paranoia_level: Option<u8>,
    /// Exclusion rules from a ConfigMap: (before the rules, after the rules).
    pub extra: Option<(String, String)>,
}

impl PolicyKey {
    /// The key of the engine this policy runs on.
    pub fn engine_key(&self) -> EngineKey {
        EngineKey {
            paranoia_level: self.paranoia_level,
            extra: self.extra.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Cache {
    version: u64,
    fingerprint: u64,
    /// Last good policy per key (possibly on an engine of an older version).
    good: HashMap<PolicyKey, Arc<WafPolicy>>,
    /// Last good engine per engine key, with the rules version it was compiled from.
    engines: HashMap<EngineKey, (u64, Arc<Engine>)>,
    /// Compile errors of the current version, so a broken file is compiled once.
    failed: HashMap<EngineKey, (u64, String)>,
}

/// The policy compiler and its cache, shared by all translations.
#[derive(Debug)]
pub struct WafPolicies {
    settings: WafSettings,
    cache: Mutex<Cache>,
}

/// A policy for an Ingress, or why its rules could not be (re)compiled.
#[derive(Debug)]
pub struct Resolved {
    pub policy: Option<Arc<WafPolicy>>,
    pub error: Option<String>,
}

impl WafPolicies {
    pub fn new(settings: WafSettings) -> Self {
        let cache = Cache {
            version: 1,
            fingerprint: fingerprint(&settings.rules),
            ..Cache::default()
        };
        WafPolicies {
            settings,
            cache: Mutex::new(cache),
        }
    }

    pub fn settings(&self) -> &WafSettings {
        &self.settings
    }

    /// Files and directories whose changes should trigger a rebuild.
    pub fn watched_paths(&self) -> Vec<PathBuf> {
        rule_roots(&self.settings.rules)
    }

    /// Re-reads the rule files' fingerprint; returns true (and bumps the rules version) when
    /// they changed. Call it before a rebuild triggered by a rules change.
    pub fn refresh(&self) -> bool {
        let fp = fingerprint(&self.settings.rules);
        let mut c = self.lock();
        if fp == c.fingerprint {
            return false;
        }
        c.fingerprint = fp;
        c.version += 1;
        c.failed.clear();
        true
    }

    /// Current rules version.
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key for an Ingress with these annotations; `None` = WAF off.
    pub fn key_for(
        &self,
        ann: &IngressAnnotations,
        extra: Option<(String, String)>,
    ) -> Option<PolicyKey> {
        let mode = match ann.waf_mode.unwrap_or(self.settings.mode) {
            annotations::WafMode::Off => return None,
            annotations::WafMode::Detect => WafMode::DetectionOnly,
            annotations::WafMode::Block => WafMode::On,
        };
        let mut excluded_ids = ann.waf_rule_exclusions.clone();
        excluded_ids.sort_unstable();
        excluded_ids.dedup();
        let mut excluded_tags = ann.waf_rule_exclusion_tags.clone();
        excluded_tags.sort();
        excluded_tags.dedup();
        Some(PolicyKey {
            mode,
            paranoia_level: ann.waf_paranoia_level.or(self.settings.paranoia_level),
            excluded_ids,
            excluded_tags,
            extra,
        })
    }

    /// The policy for `key`: cached for the current rules version, else built on the engine
    /// of its [`EngineKey`] (compiled when that engine is not cached for this version); on a
    /// compile error, the policy on the last good engine of that key (if any) and the error.
    pub fn resolve(&self, key: &PolicyKey) -> Resolved {
        let mut c = self.lock();
        let version = c.version;
        if let Some(p) = c.good.get(key)
            && p.rules_version == version
        {
            return Resolved {
                policy: Some(p.clone()),
                error: None,
            };
        }
        // A miss: forget policies and engines no snapshot uses any more (only the cache holds
        // them), so Ingress churn does not pile up compiled engines.
        let ekey = key.engine_key();
        c.good.retain(|_, p| Arc::strong_count(p) > 1);
        c.engines
            .retain(|k, (_, e)| *k == ekey || Arc::strong_count(e) > 1);
        let mut error = None;
        let current = matches!(c.engines.get(&ekey), Some((v, _)) if *v == version);
        if !current {
            match c.failed.get(&ekey) {
                Some((v, e)) if *v == version => error = Some(e.clone()),
                _ => match self.compile_engine(&ekey) {
                    Ok(engine) => {
                        tracing::info!(
                            rules = engine.rule_count(),
                            paranoia_level = ?ekey.paranoia_level,
                            configmap = ekey.extra.is_some(),
                            version,
                            "WAF engine compiled"
                        );
                        let engine = Arc::new(engine);
                        warm_in_background(&engine);
                        c.engines.insert(ekey.clone(), (version, engine));
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        tracing::error!(error = %msg, "WAF rules failed to compile; keeping the last good rules");
                        c.failed.insert(ekey.clone(), (version, msg.clone()));
                        error = Some(msg);
                    }
                },
            }
        }
        let Some((engine_version, engine)) = c.engines.get(&ekey).cloned() else {
            return Resolved {
                policy: None,
                error,
            };
        };
        // Keep the same `Arc` while nothing changed (e.g. the last good engine after an error).
        if let Some(p) = c.good.get(key)
            && Arc::ptr_eq(&p.engine, &engine)
        {
            return Resolved {
                policy: Some(p.clone()),
                error,
            };
        }
        let policy = Arc::new(self.policy(key, engine, engine_version));
        c.good.insert(key.clone(), policy.clone());
        Resolved {
            policy: Some(policy),
            error,
        }
    }

    /// Number of compiled engines currently cached (for tests and logs).
    pub fn engine_count(&self) -> usize {
        self.lock().engines.len()
    }

    /// Compiles the SecLang of one engine.
    pub fn compile_engine(&self, key: &EngineKey) -> Result<Engine, CompileError> {
        let s = &self.settings;
        let mut b = Engine::builder();
        let here = Path::new(".");
        b.add_text(MODSECURITY_RECOMMENDED, "<modsecurity-recommended>", here)?;
        b.add_text(&engine_directives(s), "<waf settings>", here)?;
        match &s.rules {
            RuleSource::Builtin(entry) => {
                b.add_text(&tuning(key, s, false), "<waf tuning>", here)?;
                if let Some((before, _)) = &key.extra {
                    b.add_text(before, "<exclusions before rules>", here)?;
                }
                b.add_file(entry)?;
            }
            RuleSource::Crs { dir, setup } => {
                for f in setup {
                    b.add_file(f)?;
                }
                b.add_text(&tuning(key, s, true), "<waf tuning>", here)?;
                if let Some((before, _)) = &key.extra {
                    b.add_text(before, "<exclusions before rules>", here)?;
                }
                for f in crs_rule_files(dir)? {
                    b.add_file(&f)?;
                }
            }
        }
        if let Some((_, after)) = &key.extra {
            b.add_text(after, "<exclusions after rules>", here)?;
        }
        b.build()
    }

    /// A policy for `key` on a compiled engine.
    fn policy(&self, key: &PolicyKey, engine: Arc<Engine>, version: u64) -> WafPolicy {
        let s = &self.settings;
        let crs = matches!(s.rules, RuleSource::Crs { .. });
        let label = format!(
            "{} mode={} pl={} excl_ids={:?} excl_tags={:?}{}",
            if crs { "crs" } else { "builtin" },
            match key.mode {
                WafMode::On => "on",
                WafMode::DetectionOnly => "detect",
            },
            key.paranoia_level.map_or("-".into(), |p| p.to_string()),
            key.excluded_ids,
            key.excluded_tags,
            if key.extra.is_some() {
                " +configmap"
            } else {
                ""
            },
        );
        WafPolicy {
            engine,
            mode: key.mode,
            removed_ids: key
                .excluded_ids
                .iter()
                .map(|&id| (u64::from(id), u64::from(id)))
                .collect(),
            removed_tags: key.excluded_tags.clone(),
            fail: s.fail,
            time_budget: s.time_budget,
            inspect_response_body: s.response_body.is_some(),
            label: Arc::from(label),
            rules_version: version,
        }
    }
}

fn rule_roots(src: &RuleSource) -> Vec<PathBuf> {
    match src {
        RuleSource::Builtin(entry) => vec![entry.parent().unwrap_or(Path::new(".")).to_path_buf()],
        RuleSource::Crs { dir, setup } => {
            let mut v = vec![dir.join("rules")];
            v.extend(setup.iter().cloned());
            v
        }
    }
}

/// Hash of (path, size, mtime) of every file under the rule roots.
fn fingerprint(src: &RuleSource) -> u64 {
    let mut files = Vec::new();
    for root in rule_roots(src) {
        collect_files(&root, &mut files, 0);
    }
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        if let Ok(m) = std::fs::metadata(&f) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    h.finish()
}

/// The files under `p` (or `p` itself when it is not a directory), into `out`. An entry
/// the directory listing says is a plain file is taken as one without trying to open it
/// as a directory (the fingerprint runs every second over CRS's ~60 files); a symbolic
/// link is followed.
fn collect_files(p: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    match std::fs::read_dir(p) {
        Ok(rd) => {
            for e in rd.flatten() {
                match e.file_type() {
                    Ok(t) if t.is_file() => out.push(e.path()),
                    _ => collect_files(&e.path(), out, depth + 1),
                }
            }
        }
        Err(_) => out.push(p.to_path_buf()),
    }
}

/// Builds the engine's lazily built automata (regexes, phrase sets) on a background thread,
/// so that the first requests after a (re)load do not pay for them — nor exceed the
/// evaluation time budget and fail closed because of them. The thread starts from a weak
/// reference: an engine already dropped is not warmed (nor kept alive for it).
fn warm_in_background(engine: &Arc<Engine>) {
    let engine = Arc::downgrade(engine);
    let spawned = std::thread::Builder::new()
        .name("waf-warm".into())
        .spawn(move || {
            if let Some(engine) = engine.upgrade() {
                engine.warm();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the WAF warm-up thread; automata are built on first use");
    }
}

#[cfg(test)]
mod tests {
    use super::collect_files;

    /// Plain files, a nested directory's files and the files of a linked directory are all
    /// listed; a root that is a file is listed itself.
    #[test]
    fn collect_files_lists_files_nested_and_linked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rules");
        std::fs::create_dir_all(root.join("nested")).unwrap();
        std::fs::write(root.join("a.conf"), "x").unwrap();
        std::fs::write(root.join("nested/b.conf"), "y").unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("c.data"), "z").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
        let mut files = Vec::new();
        collect_files(&root, &mut files, 0);
        files.sort();
        let want = [
            root.join("a.conf"),
            root.join("linked/c.data"),
            root.join("nested/b.conf"),
        ];
        assert_eq!(files, want);
        let mut one = Vec::new();
        collect_files(&root.join("a.conf"), &mut one, 0);
        assert_eq!(one, [root.join("a.conf")]);
    }
}
