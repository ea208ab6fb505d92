//! The debounced rebuild loop: dirty → quiet period → full translation → one store.
//!
//! Rebuild from state, never patch: every rebuild reads the five stores whole into an
//! [`ObjectSet`] and hands it to the shared [`Reloader`] (the same translation as file mode).
//! A change starts a quiet period of `debounce`; every further change restarts it, but no
//! change waits longer than `max_delay` after the first one, so a burst of a thousand changes
//! becomes a handful of rebuilds while a single change is served within `debounce`.
//!
//! Nothing is built before every reflector finished its first list, so `/readyz` (ready from
//! the first stored snapshot on) means "serving the cluster's complete state".

use std::sync::Arc;
use std::time::Duration;

use portcullis_control::{Diagnostic, ObjectSet, ReloadOutcome, Reloader};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

use crate::reflectors::{Changes, Stores};

/// Timing of the rebuild loop.
#[derive(Debug, Clone, Copy)]
pub struct Debounce {
    /// Quiet time after the last change before a rebuild.
    pub quiet: Duration,
    /// Longest wait after the first change of a burst.
    pub max_delay: Duration,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            quiet: Duration::from_millis(50),
            max_delay: Duration::from_millis(250),
        }
    }
}

/// What the last rebuild saw and found, for the status writer and the event recorder.
#[derive(Debug, Clone)]
pub struct Built {
    pub objects: Arc<ObjectSet>,
    pub diagnostics: Arc<Vec<Diagnostic>>,
    pub generation: u64,
}

/// Runs forever: waits for the first complete list, builds, then rebuilds on every change.
/// `on_outcome` sees every outcome (metrics); `built` receives what was built.
pub async fn run<F>(
    stores: Stores,
    changes: Arc<Changes>,
    mut reloader: Reloader,
    debounce: Debounce,
    mut on_outcome: F,
    built: watch::Sender<Option<Built>>,
) where
    F: FnMut(&ReloadOutcome) + Send,
{
    let mut rx = changes.subscribe();
    changes.wait_all_listed().await;
    tracing::info!(
        ?stores,
        "initial list complete for every kind: building the first snapshot"
    );
    loop {
        rx.borrow_and_update();
        let objects = stores.object_set();
        let outcome = reloader.apply_objects(&objects);
        on_outcome(&outcome);
        if let ReloadOutcome::Applied {
            generation,
            diagnostics,
            ..
        } = outcome
        {
            built.send_replace(Some(Built {
                objects: Arc::new(objects),
                diagnostics: Arc::new(diagnostics),
                generation,
            }));
        }
        if !wait_for_burst(&mut rx, debounce).await {
            return; // every reflector is gone: the provider is stopping
        }
    }
}

/// Waits for a change, then for the burst to settle. False when the sender is gone.
async fn wait_for_burst(rx: &mut watch::Receiver<u64>, debounce: Debounce) -> bool {
    if rx.changed().await.is_err() {
        return false;
    }
    let first = Instant::now();
    let deadline = first + debounce.max_delay;
    let mut quiet_until = first + debounce.quiet;
    loop {
        let until = quiet_until.min(deadline);
        tokio::select! {
            _ = sleep_until(until) => return true,
            changed = rx.changed() => {
                if changed.is_err() {
                    return false;
                }
                quiet_until = Instant::now() + debounce.quiet;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_becomes_one_wakeup() {
        let (tx, mut rx) = watch::channel(0u64);
        let debounce = Debounce::default();
        let sender = tokio::spawn(async move {
            for i in 0..1000u64 {
                tx.send_replace(i);
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
            tx
        });
        let start = Instant::now();
        assert!(wait_for_burst(&mut rx, debounce).await);
        let waited = start.elapsed();
        assert!(
            waited <= debounce.max_delay + Duration::from_millis(1),
            "{waited:?}"
        );
        let _tx = sender.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_change_waits_only_the_quiet_time() {
        let (tx, mut rx) = watch::channel(0u64);
        tx.send_replace(1);
        let start = Instant::now();
        assert!(wait_for_burst(&mut rx, Debounce::default()).await);
        assert_eq!(start.elapsed(), Debounce::default().quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_sender_stops_the_loop() {
        let (tx, mut rx) = watch::channel(0u64);
        drop(tx);
        assert!(!wait_for_burst(&mut rx, Debounce::default()).await);
    }
}
