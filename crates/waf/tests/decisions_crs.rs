//! Decision tables against the OWASP CRS v4 (`../shared/crs`) in blocking mode at paranoia
//! level 1: every request of `data/decisions/attack` must be denied with 403 and every
//! request of `data/decisions/benign` must pass, with prefilters on and off agreeing.
//! `data/decisions/benign-crs-fp` holds realistic benign requests that CRS itself blocks at
//! PL1 (libmodsecurity 3 blocks them too, same rule ids): they must be denied here as well,
//! for parity. Skipped, with a message, when the CRS directory is absent.

mod decisions_common;

use decisions_common::{Expect, assert_no_failures, build, check, data_dir, load, repo_dir};
use portcullis_waf::Engine;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The files loaded, in order: engine settings + CRS tuning, crs-setup, the rule files.
fn sources() -> Option<Vec<PathBuf>> {
    let crs = repo_dir().join("../shared/crs");
    if !crs.join("rules").is_dir() {
        eprintln!(
            "SKIPPED: no CRS at {} (decision tests need ../shared/crs)",
            crs.display()
        );
        return None;
    }
    let mut files = vec![
        data_dir().join("crs-blocking-setup.conf"),
        crs.join("crs-setup.conf.example"),
    ];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(crs.join("rules"))
        .expect("reading the CRS rules directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
        .collect();
    rules.sort();
    files.extend(rules);
    Some(files)
}

/// (prefilters on, prefilters off), built once per test binary.
fn engines() -> Option<&'static (Arc<Engine>, Arc<Engine>)> {
    static ENGINES: OnceLock<Option<(Arc<Engine>, Arc<Engine>)>> = OnceLock::new();
    ENGINES
        .get_or_init(|| sources().map(|files| (build(&files, true), build(&files, false))))
        .as_ref()
}

#[test]
fn crs_pl1_denies_attacks_with_403() {
    let Some((on, off)) = engines() else { return };
    let failures = check(on, off, &load("attack"), Expect::Deny403);
    assert_no_failures("CRS PL1 attacks", &failures);
}

#[test]
fn crs_pl1_passes_benign_requests() {
    let Some((on, off)) = engines() else { return };
    let cases = load("benign");
    assert!(cases.len() >= 200, "only {} benign cases", cases.len());
    let failures = check(on, off, &cases, Expect::Pass);
    assert_no_failures("CRS PL1 benign requests", &failures);
}

#[test]
fn crs_pl1_blocks_its_known_false_positives_like_modsecurity() {
    let Some((on, off)) = engines() else { return };
    let failures = check(on, off, &load("benign-crs-fp"), Expect::Deny403);
    assert_no_failures("CRS PL1 known false positives", &failures);
}
