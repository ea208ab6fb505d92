//! Reloading: generation numbering, translation and the one store into the shared snapshot.
//!
//! [`Reloader`] is the single writer of a [`SharedSnapshot`]. Each successful reload
//! translates the full object set (rebuild from state, never patch), numbers the snapshot with
//! the next generation and swaps it in with ONE `store`; requests in flight keep the snapshot
//! they loaded. A load that failed (a file that does not parse, an unreadable directory) is
//! rejected: the last good snapshot stays and the failure is counted. Invalid content inside
//! parsed objects does not reject a reload: the translation applies the rest.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_snapshot::SharedSnapshot;

use crate::diagnostics::{Diagnostic, count};
use crate::manifests::{LoadError, Loaded, load_dir};
use crate::objects::ObjectSet;
use crate::translate::{TranslateOptions, translate};

/// Reload counters for metrics (`reloads_total{result="ok|failed"}`, snapshot generation).
#[derive(Debug, Default)]
pub struct ReloadCounters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    /// Generation of the snapshot currently stored.
    pub generation: AtomicU64,
    /// Error diagnostics of the last attempt (applied or rejected), for a gauge.
    pub last_errors: AtomicU64,
    /// Warning diagnostics of the last attempt.
    pub last_warnings: AtomicU64,
}

impl ReloadCounters {
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
    pub fn last_errors(&self) -> u64 {
        self.last_errors.load(Ordering::Relaxed)
    }
    pub fn last_warnings(&self) -> u64 {
        self.last_warnings.load(Ordering::Relaxed)
    }

    fn record(&self, diagnostics: &[Diagnostic]) {
        let (errors, warnings, _) = count(diagnostics);
        self.last_errors.store(errors as u64, Ordering::Relaxed);
        self.last_warnings.store(warnings as u64, Ordering::Relaxed);
    }
}

/// What one reload did.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// A new snapshot is live. `diagnostics` may contain errors about parts left out.
    Applied {
        generation: u64,
        routes: usize,
        diagnostics: Vec<Diagnostic>,
    },
    /// Nothing changed: the last good snapshot stays.
    Rejected { diagnostics: Vec<Diagnostic> },
}

impl ReloadOutcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, ReloadOutcome::Applied { .. })
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ReloadOutcome::Applied { diagnostics, .. }
            | ReloadOutcome::Rejected { diagnostics } => diagnostics,
        }
    }
}

/// The single writer of the shared snapshot.
#[derive(Debug)]
pub struct Reloader {
    shared: SharedSnapshot,
    opts: TranslateOptions,
    next_generation: u64,
    counters: Arc<ReloadCounters>,
}

impl Reloader {
    /// Continues numbering after the generation currently in `shared`.
    pub fn new(shared: SharedSnapshot, opts: TranslateOptions) -> Self {
        let current = shared.load().generation;
        let counters = Arc::new(ReloadCounters::default());
        counters.generation.store(current, Ordering::Relaxed);
        Reloader {
            shared,
            opts,
            next_generation: current + 1,
            counters,
        }
    }

    /// Shared counters, for metrics.
    pub fn counters(&self) -> Arc<ReloadCounters> {
        self.counters.clone()
    }

    pub fn options(&self) -> &TranslateOptions {
        &self.opts
    }

    pub fn shared(&self) -> &SharedSnapshot {
        &self.shared
    }

    /// Translates `objects` and stores the snapshot (used by every provider).
    pub fn apply_objects(&mut self, objects: &ObjectSet) -> ReloadOutcome {
        self.apply(objects, Vec::new())
    }

    /// Applies the result of [`load_dir`]: a load error is rejected and counted as failed.
    pub fn apply_load(&mut self, load: Result<Loaded, LoadError>) -> ReloadOutcome {
        match load {
            Ok(loaded) => self.apply(&loaded.objects, loaded.diagnostics),
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                self.counters.record(&e.diagnostics);
                tracing::error!(
                    "reload rejected, keeping snapshot generation {}: {e}",
                    self.counters.generation()
                );
                e.diagnostics.iter().for_each(Diagnostic::log);
                ReloadOutcome::Rejected {
                    diagnostics: e.diagnostics,
                }
            }
        }
    }

    /// Loads `dir` and applies it.
    pub fn reload_dir(&mut self, dir: &Path) -> ReloadOutcome {
        self.apply_load(load_dir(dir))
    }

    fn apply(&mut self, objects: &ObjectSet, mut diagnostics: Vec<Diagnostic>) -> ReloadOutcome {
        let generation = self.next_generation;
        let translation = translate(objects, &self.opts, generation);
        diagnostics.extend(translation.diagnostics);
        let routes = translation.snapshot.routes.len();
        self.shared.store(Arc::new(translation.snapshot));
        self.next_generation += 1;
        self.counters
            .generation
            .store(generation, Ordering::Relaxed);
        self.counters.ok.fetch_add(1, Ordering::Relaxed);
        self.counters.record(&diagnostics);
        diagnostics.iter().for_each(Diagnostic::log);
        let (errors, warnings, _) = count(&diagnostics);
        tracing::info!(
            generation,
            routes,
            ingresses = translation.ingresses_served,
            errors,
            warnings,
            "snapshot applied"
        );
        ReloadOutcome::Applied {
            generation,
            routes,
            diagnostics,
        }
    }
}
