//! The example manifests shipped in `config/manifests/` (the seed, corrected) load and
//! translate without errors or warnings, and route as the README promises.

use std::path::PathBuf;

use portcullis_control::tls::self_signed;
use portcullis_control::{Severity, TranslateOptions, check, load_dir, translate};

fn dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/manifests");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

#[test]
fn shipped_manifests_are_clean_and_route_the_seed_example() {
    let Some(dir) = dir() else { return };
    let opts = TranslateOptions::new(self_signed(&["default.invalid"]).unwrap());
    let problems: Vec<String> = check(&dir, &opts)
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .map(|d| d.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");

    let loaded = load_dir(&dir).unwrap();
    let snapshot = translate(&loaded.objects, &opts, 1).snapshot;
    for (path, label) in [("/blog", "myapp.com/blog"), ("/store", "myapp.com/store")] {
        let m = snapshot.routes.lookup("myapp.com", path).expect(path);
        assert_eq!(&*m.target.label, label);
        assert!(
            !m.target.backend.endpoints.is_empty(),
            "{label} has endpoints"
        );
    }
    assert!(snapshot.tls.has_host("myapp.com"), "myapp-secret is loaded");
}
