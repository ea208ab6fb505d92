//! The debounced rebuild loop: dirty → quiet period → full translation → one store.
//!
//! Rebuild from state, never patch: every rebuild reads the five stores whole into an
//! [`ObjectSet`] and hands it to the shared [`Reloader`] (the same translation as file mode).
//! A change starts a quiet period of `quiet` (50 ms); every further change restarts it. Once a
//! window has seen [`Debounce::burst_events`] changes it is a burst, and the quiet period
//! grows to `burst_quiet`; no change waits longer than `max_delay` after the first one. So a
//! single change is served ~50 ms after it happened, while a burst of a thousand changes costs
//! about one rebuild per `max_delay` for as long as it lasts, instead of one per change.
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
    /// Number of changes in one window from which on it counts as a burst.
    pub burst_events: u32,
    /// Quiet time during a burst.
    pub burst_quiet: Duration,
    /// Longest wait after the first change of a window.
    pub max_delay: Duration,
}

impl Default for Debounce {
    fn default() -> Self {
        Debounce {
            quiet: Duration::from_millis(50),
            burst_events: 10,
            burst_quiet: Duration::from_millis(250),
            max_delay: Duration::from_millis(1000),
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
    let mut in_burst = false;
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
        if !wait_for_burst(&mut rx, debounce, &mut in_burst).await {
            return; // every reflector is gone: the provider is stopping
        }
    }
}

/// Waits for a change, then for the burst to settle. False when the sender is gone.
/// `in_burst` carries burst mode from one window to the next: a window that saw a burst
/// makes the next one start with the burst quiet time, so sustained churn is rebuilt about
/// once per `max_delay`; a window with few changes ends burst mode.
async fn wait_for_burst(
    rx: &mut watch::Receiver<u64>,
    debounce: Debounce,
    in_burst: &mut bool,
) -> bool {
    if rx.changed().await.is_err() {
        return false;
    }
    let first = Instant::now();
    let deadline = first + debounce.max_delay;
    let mut last = first;
    let mut events = 1u32;
    loop {
        let quiet = if *in_burst || events >= debounce.burst_events {
            debounce.burst_quiet
        } else {
            debounce.quiet
        };
        tokio::select! {
            _ = sleep_until((last + quiet).min(deadline)) => {
                *in_burst = events >= debounce.burst_events;
                return true;
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return false;
                }
                last = Instant::now();
                events += 1;
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
        assert!(wait_for_burst(&mut rx, debounce, &mut false).await);
        let waited = start.elapsed();
        assert!(
            waited <= debounce.max_delay + Duration::from_millis(1),
            "{waited:?}"
        );
        let _tx = sender.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_burst_is_held_until_max_delay() {
        // One change every 40 ms: shorter than the burst quiet time, longer than the quiet
        // time. Without burst detection every change would be rebuilt on its own.
        let (tx, mut rx) = watch::channel(0u64);
        let debounce = Debounce::default();
        let sender = tokio::spawn(async move {
            for i in 0..100u64 {
                tx.send_replace(i);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            tx
        });
        let start = Instant::now();
        assert!(wait_for_burst(&mut rx, debounce, &mut false).await);
        assert_eq!(start.elapsed(), debounce.max_delay);
        sender.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_change_waits_only_the_quiet_time() {
        let (tx, mut rx) = watch::channel(0u64);
        tx.send_replace(1);
        let start = Instant::now();
        assert!(wait_for_burst(&mut rx, Debounce::default(), &mut false).await);
        assert_eq!(start.elapsed(), Debounce::default().quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_mode_lasts_one_quiet_window_after_the_churn() {
        let (tx, mut rx) = watch::channel(0u64);
        let debounce = Debounce::default();
        let mut in_burst = true; // the previous window was a burst
        tx.send_replace(1);
        let start = Instant::now();
        assert!(wait_for_burst(&mut rx, debounce, &mut in_burst).await);
        assert_eq!(start.elapsed(), debounce.burst_quiet);
        assert!(!in_burst, "a window with one change ends burst mode");
        tx.send_replace(2);
        let start = Instant::now();
        assert!(wait_for_burst(&mut rx, debounce, &mut in_burst).await);
        assert_eq!(start.elapsed(), debounce.quiet);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_sender_stops_the_loop() {
        let (tx, mut rx) = watch::channel(0u64);
        drop(tx);
        assert!(!wait_for_burst(&mut rx, Debounce::default(), &mut false).await);
    }
}
