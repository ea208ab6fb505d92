//! How the CRS suite is loaded: our base engine configuration and the suite's
//! `SecAction 900005` (both bundled), then `crs-setup.conf.example` and `rules/*.conf`.

use std::path::{Path, PathBuf};

/// Engine settings of a normal deployment plus the XML/JSON processor selection rules
/// (rules 200000/200001), as `modsecurity.conf-recommended` provides them.
pub const BASE_CONF: &str = portcullis_waf::MODSECURITY_RECOMMENDED;

/// The suite's setup action (id 900005) from CRS's UPSTREAM-TESTS-README.md.
pub const TEST_SETUP_CONF: &str = include_str!("../crs-test-setup.conf");

/// The rule files of a CRS checkout, in load order: `crs-setup.conf.example`, then
/// `rules/*.conf` by name. [`BASE_CONF`] and [`TEST_SETUP_CONF`] go before them (see
/// `RunOptions::crs_test_setup`): 900005 only has to run before REQUEST-901, which reads the
/// variables it sets.
pub fn rule_files(crs_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = vec![crs_dir.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(crs_dir.join("rules"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    rules.sort();
    files.extend(rules);
    Ok(files)
}

/// Runs the suite of a CRS checkout (`<crs_dir>/tests`) against its rules, loaded as
/// [`rule_files`] lists them (plus the bundled setup when `opts.crs_test_setup`).
pub fn run_crs(crs_dir: &Path, opts: &crate::RunOptions) -> crate::Report {
    match rule_files(crs_dir) {
        Ok(rules) => crate::run(&rules, &crs_dir.join("tests"), opts),
        Err(e) => crate::Report {
            stages: Vec::new(),
            load_errors: vec![format!("{}: {e}", crs_dir.join("rules").display())],
        },
    }
}
