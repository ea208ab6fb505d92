//! portcullis-waf-ftw: an in-process runner for go-ftw conformance tests (the OWASP CRS
//! regression suite) against the `portcullis-waf` engine.
//!
//! go-ftw sends each test stage over HTTP to a web server running the WAF and reads the rule
//! ids from the WAF's error log. This crate does the same without sockets: it builds the exact
//! request go-ftw would send ([`request`]), runs it through an engine transaction, answers it
//! with an emulation of the "albedo" backend ([`albedo`]) so response rules see the reflected
//! response, and compares the logged rule ids and the status with the stage's expectations.
//! Tests that cannot pass for reasons outside the engine are listed, each with its reason, in
//! `overrides.yaml` ([`overrides`]).
//!
//! ```no_run
//! use portcullis_waf_ftw::{RunOptions, crs};
//!
//! let report = crs::run_crs("../shared/crs".as_ref(), &RunOptions::default());
//! report.print(&mut std::io::stdout()).unwrap(); // one line per failure, then "N passed, M failed ..."
//! report.write_json("ftw-report.json".as_ref()).unwrap();
//! ```

pub mod albedo;
pub mod crs;
pub mod engine;
pub mod frontend;
pub mod overrides;
pub mod report;
pub mod request;
pub mod runner;
pub mod schema;
pub mod template;
pub mod waf;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use overrides::Overrides;
pub use report::{Report, StageResult, Verdict};
pub use runner::Filter;

/// How to run a suite.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Engine prefilters on (default) or off; results must not differ.
    pub prefilter: bool,
    /// The engine's value memo on (default) or off; results must not differ.
    pub memo: bool,
    /// Load [`crs::BASE_CONF`] and [`crs::TEST_SETUP_CONF`] (SecAction 900005) before the rules.
    pub crs_test_setup: bool,
    /// Tests whose failure is expected for a reason outside the engine.
    pub overrides: Overrides,
    pub filter: Filter,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            prefilter: true,
            memo: true,
            crs_test_setup: true,
            overrides: overrides::bundled(),
            filter: Filter::default(),
        }
    }
}

/// Compiles `rules` (in order, after the bundled setup if asked) and runs every test under
/// `tests_dir`. A rule set that does not compile gives a report with one load error.
pub fn run(rules: &[PathBuf], tests_dir: &Path, opts: &RunOptions) -> Report {
    match build_engine(rules, opts) {
        Ok(engine) => runner::run_tests(
            &engine::EngineWaf::new(Arc::new(engine)),
            tests_dir,
            &opts.overrides,
            &opts.filter,
        ),
        Err(e) => Report {
            stages: Vec::new(),
            load_errors: vec![format!("rules: {e}")],
        },
    }
}

/// Compiles the engine the way [`run`] does.
pub fn build_engine(
    rules: &[PathBuf],
    opts: &RunOptions,
) -> Result<portcullis_waf::Engine, portcullis_waf::CompileError> {
    let mut builder = portcullis_waf::Engine::builder();
    builder.prefilter(opts.prefilter).memo(opts.memo);
    if opts.crs_test_setup {
        let here = Path::new(".");
        builder.add_text(crs::BASE_CONF, "modsecurity-recommended", here)?;
        builder.add_text(crs::TEST_SETUP_CONF, "crs-test-setup.conf", here)?;
    }
    for path in rules {
        builder.add_file(path)?;
    }
    builder.build()
}
