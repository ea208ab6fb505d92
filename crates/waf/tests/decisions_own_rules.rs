//! Decision tables against our own baseline rule set (`rules/portcullis.conf`) in blocking
//! mode: at paranoia level 1 every request of `data/decisions/attack` and `attack-own` must be
//! denied with 403 and every request of `benign` and `benign-crs-fp` (benign requests that
//! CRS PL1 blocks) must pass; at paranoia level 2 the attacks of `attack-pl2` are denied too.
//! Prefilters on and off must agree.

mod decisions_common;

use decisions_common::{Expect, assert_no_failures, build, check, data_dir, load, repo_dir};
use portcullis_waf::Engine;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn sources(setup: &str) -> Vec<PathBuf> {
    vec![
        data_dir().join(setup),
        repo_dir().join("rules/portcullis.conf"),
    ]
}

/// Paranoia level 1: (prefilters on, prefilters off).
fn pl1() -> &'static (Arc<Engine>, Arc<Engine>) {
    static ENGINES: OnceLock<(Arc<Engine>, Arc<Engine>)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let files = sources("own-blocking-setup.conf");
        (build(&files, true), build(&files, false))
    })
}

/// Paranoia level 2: (prefilters on, prefilters off).
fn pl2() -> &'static (Arc<Engine>, Arc<Engine>) {
    static ENGINES: OnceLock<(Arc<Engine>, Arc<Engine>)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let files = sources("own-blocking-setup-pl2.conf");
        (build(&files, true), build(&files, false))
    })
}

#[test]
fn own_rules_pl1_deny_attacks_with_403() {
    let (on, off) = pl1();
    let mut cases = load("attack");
    cases.extend(load("attack-own"));
    let failures = check(on, off, &cases, Expect::Deny403);
    assert_no_failures("own rules PL1 attacks", &failures);
}

#[test]
fn own_rules_pl1_pass_benign_requests() {
    let (on, off) = pl1();
    let mut cases = load("benign");
    assert!(cases.len() >= 200, "only {} benign cases", cases.len());
    cases.extend(load("benign-crs-fp"));
    let failures = check(on, off, &cases, Expect::Pass);
    assert_no_failures("own rules PL1 benign requests", &failures);
}

#[test]
fn own_rules_pl2_deny_attacks_with_403() {
    let (on, off) = pl2();
    let mut cases = load("attack");
    cases.extend(load("attack-own"));
    cases.extend(load("attack-pl2"));
    let failures = check(on, off, &cases, Expect::Deny403);
    assert_no_failures("own rules PL2 attacks", &failures);
}

#[test]
fn own_rules_have_private_ids() {
    let (on, _) = pl1();
    assert!(on.rule_count() > 30, "only {} rules", on.rule_count());
    let outside: Vec<u64> = on
        .rule_ids()
        .filter(|id| !(9_500_000..=9_509_999).contains(id))
        .collect();
    assert!(
        outside.is_empty(),
        "rule ids outside 9500000-9509999: {outside:?}"
    );
}

/// The paranoia-level gate works: what only PL2 rules catch passes at PL1.
#[test]
fn own_rules_pl1_skip_pl2_rules() {
    let (on, off) = pl1();
    let failures = check(on, off, &load("attack-pl2"), Expect::Pass);
    assert_no_failures("own rules PL1 on PL2-only attacks", &failures);
}
