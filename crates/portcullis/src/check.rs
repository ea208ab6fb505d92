//! `portcullis check`: validates the config file and the manifests directory as `run` would
//! load them, prints every diagnostic (file or object, and why) and exits 1 on errors.

use std::process::ExitCode;

use portcullis_control::{Severity, TranslateOptions};

use crate::cli::CheckArgs;
use crate::config::Settings;
use crate::run::default_certificate;

pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&args.sources)?;
    let mut opts = TranslateOptions::new(default_certificate(&settings)?);
    opts.watch_ingress_without_class = settings.watch_ingress_without_class;
    // WAF policies are compiled as `run` would: a rule file that does not compile is an
    // error diagnostic (file:line) on every Ingress that uses it.
    opts.waf = settings.waf.as_ref().map(|w| {
        std::sync::Arc::new(portcullis_control::waf_policy::WafPolicies::new(
            w.settings.clone(),
        ))
    });
    let diagnostics = portcullis_control::check(&settings.manifests, &opts);
    let mut errors = 0;
    let mut warnings = 0;
    for d in &diagnostics {
        match d.severity {
            Severity::Error => errors += 1,
            Severity::Warning => warnings += 1,
            Severity::Info => {}
        }
        println!("{d}");
    }
    println!(
        "{}: {errors} error(s), {warnings} warning(s)",
        settings.manifests.display()
    );
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
