//! `portcullis waf ftw` on the CRS suite of `../shared/crs` (a subset, the whole suite runs in
//! `portcullis-waf-ftw`'s own tests): passes with the CRS rules, fails without them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn crs() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    if dir.join("rules").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

fn ftw(rules: &str, tests: &str, extra: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["waf", "ftw", "--rules", rules, "--tests", tests])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn crs_sqli_tests_pass_and_write_json() {
    let Some(crs) = crs() else { return };
    let s = Scratch::new("ftw");
    let json = s.0.join("report.json");
    let (code, out) = ftw(
        &path_of(&crs),
        &path_of(&crs.join("tests/REQUEST-942-APPLICATION-ATTACK-SQLI")),
        &["--include", "94210", "--json", &path_of(&json)],
    );
    assert_eq!(code, 0, "{out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.contains(" passed, 0 failed"), "{out}");
    assert!(std::fs::metadata(&json).unwrap().len() > 10);
}

#[test]
fn without_the_rules_the_suite_fails() {
    let Some(crs) = crs() else { return };
    let s = Scratch::new("ftw-empty");
    let empty = s.0.join("empty.conf");
    std::fs::write(&empty, "SecRuleEngine DetectionOnly\n").unwrap();
    let (code, out) = ftw(
        &path_of(&empty),
        &path_of(&crs.join("tests/REQUEST-942-APPLICATION-ATTACK-SQLI")),
        &["--include", "94210"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL 94210"), "{out}");
}
