//! Shared runner of the decision tables (`tests/data/decisions/`): builds an engine from a
//! rule set in blocking mode, replays each `.http` request through phases 1, 2 and 5 and
//! checks the final verdict — attacks denied with 403, benign requests passed — with
//! prefilters on and off, which must agree on the verdict and on the matched rule ids.

#![allow(dead_code)] // each runner uses a different subset

pub mod http_file;

use http_file::{Case, Profiles};
use portcullis_waf::{ConnectionInfo, Engine, Outcome};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `crates/waf/tests/data/decisions`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/decisions")
}

/// The repository root (two levels above this crate).
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads the cases of `data_dir()/<sub>`, panicking with the reason if the table is broken.
pub fn load(sub: &str) -> Vec<Case> {
    let profiles: Profiles = http_file::load_profiles(&data_dir().join("profiles"))
        .unwrap_or_else(|error| panic!("profiles: {error}"));
    http_file::load_dir(&data_dir().join(sub), &profiles)
        .unwrap_or_else(|error| panic!("table {sub}: {error}"))
}

/// What a request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Ids of the matched rules that log, in match order.
    pub ids: Vec<u64>,
}

/// Replays `case` through the request phases and logging.
pub fn run(engine: &Arc<Engine>, case: &Case, serial: usize) -> Verdict {
    let (outcome, tx) = case.replay(
        engine,
        ConnectionInfo {
            client_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            client_port: 40_000 + (serial % 20_000) as u16,
            server_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            server_port: 8443,
            unique_id: format!("decisions-{serial}"),
        },
    );
    let ids = tx
        .matched_rules()
        .iter()
        .filter(|rule| rule.log)
        .map(|rule| rule.id)
        .collect();
    Verdict { outcome, ids }
}

/// An engine built from `sources` (files, in order) with its fast paths (prefilters, value
/// memo) on or off.
pub fn build(sources: &[PathBuf], prefilter: bool) -> Arc<Engine> {
    let mut builder = Engine::builder();
    builder.prefilter(prefilter).memo(prefilter);
    for source in sources {
        if let Err(error) = builder.add_file(source) {
            panic!("loading {}: {error}", source.display());
        }
    }
    match builder.build() {
        Ok(engine) => Arc::new(engine),
        Err(error) => panic!("building the engine: {error}"),
    }
}

/// What the cases of a table must come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Deny403,
    Pass,
}

/// Runs every case on both engines; returns one line per failure (wrong verdict, or the two
/// engines disagreeing), and prints how many cases were checked.
pub fn check(on: &Arc<Engine>, off: &Arc<Engine>, cases: &[Case], expect: Expect) -> Vec<String> {
    let mut failures = Vec::new();
    for (serial, case) in cases.iter().enumerate() {
        let with = run(on, case, serial);
        let without = run(off, case, serial);
        if with != without {
            failures.push(format!(
                "{} [{}]: prefilter on/off disagree: on {:?} {:?}, off {:?} {:?}",
                case.origin, case.name, with.outcome, with.ids, without.outcome, without.ids
            ));
            continue;
        }
        let ok = match expect {
            Expect::Deny403 => with.outcome == Outcome::Deny { status: 403 },
            Expect::Pass => with.outcome == Outcome::Pass,
        };
        if !ok {
            failures.push(format!(
                "{} [{}]: expected {expect:?}, got {:?}, matched {:?}",
                case.origin, case.name, with.outcome, with.ids
            ));
        }
    }
    eprintln!(
        "{} {expect:?} cases checked, {} failures",
        cases.len(),
        failures.len()
    );
    failures
}

/// Panics listing every failure, if any.
pub fn assert_no_failures(what: &str, failures: &[String]) {
    if !failures.is_empty() {
        panic!(
            "{what}: {} failures\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
