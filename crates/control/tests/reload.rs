//! Reloading and watching a real directory: a good set is applied, a file that does not parse
//! keeps the last good snapshot, invalid content applies the rest, the watcher picks up changes
//! (debounced), and `check` reports what a reload would.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use portcullis_control::tls::self_signed;
use portcullis_control::{
    ManifestWatcher, ReloadOutcome, Reloader, Severity, TranslateOptions, WatchOptions, check,
    has_errors,
};
use portcullis_snapshot::{SharedSnapshot, Snapshot, TlsStore};

fn ingress(path: &str, service: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web}}\nspec:\n  rules:\n  \
         - host: app.example\n    http:\n      paths:\n      - {{path: {path}, pathType: Prefix, \
         backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n"
    )
}

const SERVICE: &str =
    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n";

fn setup() -> (tempfile::TempDir, SharedSnapshot, Reloader) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("service.yaml"), SERVICE).unwrap();
    std::fs::write(dir.path().join("ingress.yaml"), ingress("/v1", "web")).unwrap();
    let default = self_signed(&["default.invalid"]).unwrap();
    let shared: SharedSnapshot = Arc::new(ArcSwap::from_pointee(Snapshot::empty(TlsStore::new(
        default.clone(),
    ))));
    let reloader = Reloader::new(shared.clone(), TranslateOptions::new(default));
    (dir, shared, reloader)
}

fn label(shared: &SharedSnapshot, path: &str) -> Option<String> {
    let snap = shared.load();
    snap.routes
        .lookup("app.example", path)
        .map(|m| m.target.label.to_string())
}

#[test]
fn bad_file_keeps_last_good_snapshot_and_content_errors_apply_the_rest() {
    let (dir, shared, mut reloader) = setup();
    let out = reloader.reload_dir(dir.path());
    assert!(out.is_applied(), "{out:?}");
    assert_eq!(shared.load().generation, 1);
    assert_eq!(label(&shared, "/v1/x").as_deref(), Some("app.example/v1"));

    std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed\n").unwrap();
    std::fs::write(dir.path().join("ingress.yaml"), ingress("/v2", "web")).unwrap();
    let out = reloader.reload_dir(dir.path());
    let ReloadOutcome::Rejected { diagnostics } = &out else {
        panic!("expected rejection: {out:?}");
    };
    assert!(
        diagnostics[0].to_string().contains("broken.yaml"),
        "{diagnostics:?}"
    );
    assert_eq!(shared.load().generation, 1, "last good snapshot stays");
    assert_eq!(label(&shared, "/v1").as_deref(), Some("app.example/v1"));

    // Invalid content (a missing Service) is applied with an error diagnostic.
    std::fs::remove_file(dir.path().join("broken.yaml")).unwrap();
    std::fs::write(dir.path().join("ingress.yaml"), ingress("/v2", "ghost")).unwrap();
    let out = reloader.reload_dir(dir.path());
    assert!(out.is_applied());
    assert!(has_errors(out.diagnostics()));
    assert_eq!(shared.load().generation, 2);
    assert_eq!(label(&shared, "/v2").as_deref(), Some("app.example/v2"));
    assert_eq!(label(&shared, "/v1"), None);

    let counters = reloader.counters();
    assert_eq!(
        (counters.ok(), counters.failed(), counters.generation()),
        (2, 1, 2)
    );
    assert_eq!(counters.last_errors(), 1, "the missing Service");
}

#[test]
fn missing_directory_is_a_rejected_load() {
    let (_dir, shared, mut reloader) = setup();
    let out = reloader.reload_dir(Path::new("/nonexistent/portcullis-manifests"));
    assert!(!out.is_applied());
    assert_eq!(out.diagnostics()[0].severity, Severity::Error);
    assert_eq!(shared.load().generation, 0);
}

#[test]
fn watcher_reloads_on_change_and_debounces_bursts() {
    let (dir, shared, mut reloader) = setup();
    assert!(reloader.reload_dir(dir.path()).is_applied());
    let counters = reloader.counters();
    let (tx, rx) = mpsc::channel();
    let opts = WatchOptions {
        debounce: Duration::from_millis(50),
        poll_interval: Duration::from_millis(300),
        events: true,
    };
    let watcher = ManifestWatcher::spawn(dir.path(), opts, move |load| {
        let out = reloader.apply_load(load);
        let _ = tx.send(out.is_applied());
    })
    .unwrap();

    std::fs::write(dir.path().join("ingress.yaml"), ingress("/changed", "web")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while label(&shared, "/changed").is_none() {
        assert!(Instant::now() < deadline, "change not picked up");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A burst of 30 writes → a handful of reloads, ending with the last content.
    while rx.try_recv().is_ok() {}
    let before = counters.ok();
    for i in 0..30 {
        std::fs::write(
            dir.path().join("ingress.yaml"),
            ingress(&format!("/burst{i}"), "web"),
        )
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while label(&shared, "/burst29").is_none() {
        assert!(Instant::now() < deadline, "burst not picked up");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(700));
    let reloads = counters.ok() - before;
    assert!(
        (1..=10).contains(&reloads),
        "{reloads} reloads for a burst of 30 writes"
    );
    watcher.stop();
}

#[test]
fn polling_alone_notices_changes() {
    let (dir, shared, mut reloader) = setup();
    assert!(reloader.reload_dir(dir.path()).is_applied());
    let opts = WatchOptions {
        debounce: Duration::from_millis(50),
        poll_interval: Duration::from_millis(100),
        events: false,
    };
    let watcher = ManifestWatcher::spawn(dir.path(), opts, move |load| {
        reloader.apply_load(load);
    })
    .unwrap();
    // A different size, so even a coarse modification time cannot hide the change.
    std::fs::write(
        dir.path().join("ingress.yaml"),
        ingress("/polled-change", "web"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while label(&shared, "/polled-change").is_none() {
        assert!(
            Instant::now() < deadline,
            "polling did not notice the change"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    watcher.stop();
}

#[test]
fn check_reports_like_a_reload() {
    let (dir, _shared, reloader) = setup();
    let opts = reloader.options().clone();
    assert!(!has_errors(&check(dir.path(), &opts)));
    std::fs::write(dir.path().join("ingress.yaml"), ingress("/v1", "ghost")).unwrap();
    let diags = check(dir.path(), &opts);
    assert!(has_errors(&diags));
    assert!(
        diags[0]
            .to_string()
            .contains("Service default/ghost not found"),
        "{diags:?}"
    );
    std::fs::write(dir.path().join("x.json"), "{ nope").unwrap();
    let diags = check(dir.path(), &opts);
    assert!(diags[0].to_string().contains("x.json:1"), "{diags:?}");
}
