//! Watching a manifests directory: debounced reloads on change.
//!
//! [`ManifestWatcher`] runs one std thread. Filesystem events come from `notify` (inotify on
//! Linux); after an event the thread waits until the directory has been quiet for
//! `debounce` (100 ms by default, at most 10× that under constant writes), then re-reads the
//! whole directory and calls back with the result of [`load_dir`]. Independently, every
//! `poll_interval` (1 s) it compares a fingerprint of the manifest files (name, size,
//! modification time) and reloads when it changed — so a missed event (network filesystems,
//! a ConfigMap's symlink swap, a watcher that could not be installed) still gets noticed.
//!
//! The callback receives the load result as is: the caller (usually a [`crate::Reloader`])
//! decides to apply it or keep the last good snapshot. The initial load is the caller's job.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::manifests::{LoadError, Loaded, load_dir, manifest_files};

/// Timing of the watcher.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Quiet time after the last event before reloading.
    pub debounce: Duration,
    /// Fingerprint polling interval (the fallback when events are missed).
    pub poll_interval: Duration,
    /// Use filesystem events (notify); false = polling only.
    pub events: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(100),
            poll_interval: Duration::from_secs(1),
            events: true,
        }
    }
}

enum Message {
    Changed,
    Stop,
}

/// A running directory watcher; stops (and joins its thread) when dropped.
#[derive(Debug)]
pub struct ManifestWatcher {
    tx: mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
    /// Kept alive for its event stream; None when only polling works.
    _events: Option<RecommendedWatcher>,
}

impl ManifestWatcher {
    /// Starts watching `dir`; `on_change` runs on the watcher thread for every reload.
    pub fn spawn<F>(
        dir: impl Into<PathBuf>,
        opts: WatchOptions,
        on_change: F,
    ) -> std::io::Result<Self>
    where
        F: FnMut(Result<Loaded, LoadError>) + Send + 'static,
    {
        let dir = dir.into();
        let (tx, rx) = mpsc::channel();
        let events = if opts.events {
            install_events(&dir, tx.clone())
        } else {
            None
        };
        let initial = fingerprint(&dir);
        let thread = std::thread::Builder::new()
            .name("manifest-watch".into())
            .spawn(move || run(dir, opts, rx, initial, on_change))?;
        Ok(ManifestWatcher {
            tx,
            thread: Some(thread),
            _events: events,
        })
    }

    /// Stops the watcher and waits for its thread (a reload in progress finishes first).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ManifestWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn install_events(dir: &Path, tx: mpsc::Sender<Message>) -> Option<RecommendedWatcher> {
    let handler = move |res: notify::Result<notify::Event>| {
        let relevant = match res {
            // Our own reads open files; only writes and namespace changes matter.
            Ok(event) => match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                EventKind::Access(_) => false,
                _ => true,
            },
            Err(_) => true,
        };
        if relevant {
            let _ = tx.send(Message::Changed);
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot watch {}: {e}; polling only", dir.display());
            return None;
        }
    };
    if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
        tracing::warn!("cannot watch {}: {e}; polling only", dir.display());
        return None;
    }
    Some(watcher)
}

type Fingerprint = Option<Vec<(PathBuf, u64, Option<SystemTime>)>>;

/// Name, size and modification time of every manifest file (None if unreadable).
fn fingerprint(dir: &Path) -> Fingerprint {
    let files = manifest_files(dir).ok()?;
    Some(
        files
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let len = meta.as_ref().map_or(0, |m| m.len());
                let modified = meta.and_then(|m| m.modified().ok());
                (path, len, modified)
            })
            .collect(),
    )
}

fn run<F>(
    dir: PathBuf,
    opts: WatchOptions,
    rx: mpsc::Receiver<Message>,
    mut last: Fingerprint,
    mut on_change: F,
) where
    F: FnMut(Result<Loaded, LoadError>),
{
    loop {
        let event = match rx.recv_timeout(opts.poll_interval) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Message::Changed) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        if event && !settle(&rx, opts.debounce) {
            return;
        }
        let now = fingerprint(&dir);
        if event || now != last {
            last = now;
            on_change(load_dir(&dir));
        }
    }
}

/// Waits until no event arrived for `debounce` (bounded by 10× `debounce`). False on stop.
fn settle(rx: &mpsc::Receiver<Message>, debounce: Duration) -> bool {
    let deadline = Instant::now() + debounce * 10;
    loop {
        let wait = debounce.min(deadline.saturating_duration_since(Instant::now()));
        if wait.is_zero() {
            return true;
        }
        match rx.recv_timeout(wait) {
            Ok(Message::Changed) => continue,
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
            Err(RecvTimeoutError::Timeout) => return true,
        }
    }
}
