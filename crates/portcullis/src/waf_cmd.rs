//! `portcullis waf ftw`: runs go-ftw format tests in-process against the WAF engine
//! (`portcullis-waf-ftw`), prints one line per failing stage and a final
//! `N passed, M failed` line, optionally writes a JSON report, and exits 1 under the
//! required pass rate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use portcullis_waf_ftw::{Filter, Overrides, RunOptions, crs};

#[derive(Debug, Subcommand)]
pub enum WafCommand {
    /// Run go-ftw YAML tests (e.g. the CRS regression suite) against the engine.
    Ftw(FtwArgs),
}

#[derive(Debug, Args)]
pub struct FtwArgs {
    /// Rule files in load order; a directory with a `rules/` subdirectory is read as a CRS
    /// checkout (`crs-setup.conf.example`, then `rules/*.conf`), any other directory as its
    /// `*.conf` files in name order.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Directory of go-ftw YAML test files (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub tests: PathBuf,
    /// Write the per-stage results as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Tests expected to fail for reasons outside the engine (YAML, each with a reason);
    /// defaults to the bundled list for the CRS suite.
    #[arg(long, value_name = "FILE")]
    pub overrides: Option<PathBuf>,
    /// Do not load the CRS test setup (engine defaults + SecAction 900005) before the rules.
    #[arg(long)]
    pub no_crs_setup: bool,
    /// Evaluate every rule's operator (the results must not change).
    #[arg(long)]
    pub no_prefilter: bool,
    /// Do not memoise per-value results across tests (the results must not change).
    #[arg(long)]
    pub no_memo: bool,
    /// Only tests whose title (`<rule_id>-<test_id>`) contains this text.
    #[arg(long)]
    pub include: Option<String>,
    /// Exit 1 when passed / (passed + failed) is below this.
    #[arg(long, default_value_t = 0.99)]
    pub min_pass_rate: f64,
}

pub fn run(cmd: WafCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WafCommand::Ftw(args) => ftw(args),
    }
}

fn ftw(args: FtwArgs) -> anyhow::Result<ExitCode> {
    let mut rules = Vec::new();
    for path in &args.rules {
        rules.extend(expand(path)?);
    }
    let overrides = match &args.overrides {
        Some(path) => {
            Overrides::load(path).with_context(|| format!("overrides {}", path.display()))?
        }
        None => RunOptions::default().overrides,
    };
    let opts = RunOptions {
        prefilter: !args.no_prefilter,
        memo: !args.no_memo,
        crs_test_setup: !args.no_crs_setup,
        overrides,
        filter: Filter {
            include: args.include.clone(),
        },
    };
    let report = portcullis_waf_ftw::run(&rules, &args.tests, &opts);
    report.print(&mut std::io::stdout().lock())?;
    if let Some(json) = &args.json {
        report
            .write_json(json)
            .with_context(|| format!("cannot write {}", json.display()))?;
    }
    let ok = report.load_errors.is_empty() && report.pass_rate() >= args.min_pass_rate;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn expand(path: &PathBuf) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.clone()]);
    }
    if path.join("rules").is_dir() {
        return crs::rule_files(path).with_context(|| format!("CRS checkout {}", path.display()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    Ok(files)
}
