//! `portcullis`: the binary. Parses the command line and the YAML config file, then wires the
//! control plane (`portcullis-control`: manifests → translation → Snapshot) to the data plane
//! (`portcullis-proxy`) through one `ArcSwap<Snapshot>`. Subcommands:
//!
//! - `run`: serve (listeners, admin, hot reload of the manifests directory).
//! - `check`: validate a config file and a manifests directory; non-zero exit on errors.
//! - `demo-backend`: one albedo-compatible demo origin (also started by `run --demo-backends`).
//! - `waf ftw`: the in-process go-ftw conformance runner for the WAF engine.

mod check;
mod cli;
mod config;
mod demo_backend;
mod kube_mode;
mod logging;
mod run;
mod waf_cmd;
mod waf_config;

use std::process::ExitCode;

/// mimalloc: the proxy allocates many small short-lived buffers per request on every core;
/// mimalloc's per-thread free lists measured faster than glibc malloc for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Check(args) => check::check(args),
        Command::DemoBackend(args) => run::demo_backend(args),
        Command::Waf(cmd) => waf_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("portcullis: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
