//! The `waf:` section of the config file (stage one: [`WafFileConfig`], as written) and its
//! validation into the control plane's [`WafSettings`] and the proxy's [`WafLogConfig`]
//! (stage two), plus the rules watcher that rebuilds the snapshot when rule files change.
//!
//! ```yaml
//! waf:
//!   mode: block                 # off (default) | detect | block
//!   rules: crs                  # builtin (default: our rules/portcullis.conf) | crs
//!   crs_dir: /etc/crs           # with rules: crs (relative paths: to the config file)
//!   crs_setup: [crs-setup.conf] # default: crs-setup.conf, else crs-setup.conf.example
//!   paranoia_level: 1           # unset: the rule set's own default
//!   inbound_anomaly_threshold: 5
//!   request_body_limit: 13107200
//!   request_body_limit_action: reject   # reject (413) | process_partial
//!   response_body: { limit: 524288, mime_types: [text/html, text/plain] }  # phase 4, off when absent
//!   fail: closed                # closed (default, 503) | open
//!   time_budget: 500ms          # 0 = none
//!   error_log: stderr           # stderr | a file path (ModSecurity-style lines)
//!   audit_log: waf-audit.log    # JSON audit log file
//!   log_flush: 0                # 0: each request's lines written when it ends (before its
//!                               # response); a duration (e.g. 100ms): lines wait in one batch,
//!                               # in order, until a worker goes idle, 64 KiB or that age —
//!                               # one write per batch under attack floods
//! ```
//!
//! Fail-closed is the default because the WAF is a security control: an engine bug or an
//! input that makes evaluation slow must not become a way past it. Deployments that value
//! availability over inspection set `fail: open`; either way failures are logged and counted
//! (`portcullis_waf_failures_total`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use portcullis_control::annotations::WafMode as Mode;
use portcullis_control::waf_policy::{ResponseBodySettings, RuleSource, WafPolicies, WafSettings};
use portcullis_proxy::waf::log::{ErrorLogTarget, WafLogConfig};
use portcullis_snapshot::FailMode;
use portcullis_waf::BodyLimitAction;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WafFileConfig {
    pub mode: String,
    pub rules: String,
    pub builtin_dir: Option<PathBuf>,
    pub crs_dir: Option<PathBuf>,
    pub crs_setup: Vec<PathBuf>,
    pub paranoia_level: Option<u8>,
    pub inbound_anomaly_threshold: Option<u32>,
    pub outbound_anomaly_threshold: Option<u32>,
    pub request_body_limit: usize,
    pub request_body_no_files_limit: usize,
    pub request_body_limit_action: String,
    pub response_body: Option<ResponseBodyFile>,
    pub fail: String,
    pub time_budget: String,
    pub error_log: Option<String>,
    pub audit_log: Option<PathBuf>,
    pub log_flush: String,
    pub rules_poll_interval: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBodyFile {
    pub limit: usize,
    #[serde(default)]
    pub mime_types: Vec<String>,
}

impl Default for WafFileConfig {
    fn default() -> Self {
        WafFileConfig {
            mode: "off".into(),
            rules: "builtin".into(),
            builtin_dir: None,
            crs_dir: None,
            crs_setup: Vec::new(),
            paranoia_level: None,
            inbound_anomaly_threshold: None,
            outbound_anomaly_threshold: None,
            request_body_limit: 13_107_200,
            request_body_no_files_limit: 131_072,
            request_body_limit_action: "reject".into(),
            response_body: None,
            fail: "closed".into(),
            time_budget: "500ms".into(),
            error_log: None,
            audit_log: None,
            log_flush: "0".into(),
            rules_poll_interval: "1s".into(),
        }
    }
}

/// The validated WAF configuration.
#[derive(Debug, Clone)]
pub struct WafConfig {
    pub settings: WafSettings,
    pub logs: WafLogConfig,
    pub poll_interval: Duration,
}

fn duration(text: &str, what: &str) -> anyhow::Result<Duration> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    portcullis_proxy::config::parse_duration(text)
        .with_context(|| format!("waf.{what}: invalid duration {text:?} (use e.g. 100ms, 2s)"))
}

/// Our rule set's entry file: `builtin_dir`, else the first `rules/` found next to the config
/// file, in the working directory, in `/etc/portcullis/rules`, or in the source tree.
fn builtin_entry(base: &Path, dir: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = match dir {
        Some(d) => vec![base.join(d)],
        None => vec![
            base.join("rules"),
            base.join("../rules"),
            PathBuf::from("rules"),
            PathBuf::from("/etc/portcullis/rules"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        ],
    };
    for c in &candidates {
        let entry = c.join("portcullis.conf");
        if entry.is_file() {
            return Ok(entry);
        }
    }
    bail!(
        "waf.rules: builtin: rules/portcullis.conf not found (looked in {}); set waf.builtin_dir",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl WafFileConfig {
    /// Stage two: every field checked, paths resolved against `base` (the config file's
    /// directory).
    pub fn validate(self, base: &Path) -> anyhow::Result<WafConfig> {
        let mode = match self.mode.as_str() {
            "off" => Mode::Off,
            "detect" | "detection_only" | "DetectionOnly" => Mode::Detect,
            "block" | "on" | "On" => Mode::Block,
            m => bail!("waf.mode: {m:?}: expected off, detect or block"),
        };
        let rules = match self.rules.as_str() {
            "builtin" => RuleSource::Builtin(builtin_entry(base, self.builtin_dir.as_ref())?),
            "crs" => {
                let Some(dir) = self.crs_dir else {
                    bail!("waf.rules: crs needs waf.crs_dir (a CRS v4 checkout)");
                };
                let dir = base.join(dir);
                if !dir.join("rules").is_dir() {
                    bail!("waf.crs_dir: {} has no rules/ directory", dir.display());
                }
                let setup = if self.crs_setup.is_empty() {
                    let own = dir.join("crs-setup.conf");
                    if own.is_file() {
                        vec![own]
                    } else {
                        vec![dir.join("crs-setup.conf.example")]
                    }
                } else {
                    self.crs_setup.iter().map(|p| base.join(p)).collect()
                };
                RuleSource::Crs { dir, setup }
            }
            r => bail!("waf.rules: {r:?}: expected builtin or crs"),
        };
        if let Some(pl) = self.paranoia_level
            && !(1..=4).contains(&pl)
        {
            bail!("waf.paranoia_level: {pl}: expected 1..4");
        }
        let action = match self.request_body_limit_action.as_str() {
            "reject" | "Reject" => BodyLimitAction::Reject,
            "process_partial" | "ProcessPartial" => BodyLimitAction::ProcessPartial,
            a => bail!("waf.request_body_limit_action: {a:?}: expected reject or process_partial"),
        };
        let fail = match self.fail.as_str() {
            "closed" => FailMode::Closed,
            "open" => FailMode::Open,
            f => bail!("waf.fail: {f:?}: expected open or closed"),
        };
        let settings = WafSettings {
            rules,
            mode,
            paranoia_level: self.paranoia_level,
            inbound_threshold: self.inbound_anomaly_threshold,
            outbound_threshold: self.outbound_anomaly_threshold,
            request_body_limit: self.request_body_limit,
            request_body_no_files_limit: self.request_body_no_files_limit,
            request_body_limit_action: action,
            response_body: self.response_body.map(|r| ResponseBodySettings {
                limit: r.limit,
                mime_types: r.mime_types,
            }),
            fail,
            time_budget: duration(&self.time_budget, "time_budget")?,
        };
        let logs = WafLogConfig {
            error_log: self.error_log.map(|e| match e.as_str() {
                "stderr" | "-" => ErrorLogTarget::Stderr,
                p => ErrorLogTarget::File(base.join(p)),
            }),
            audit_log: self.audit_log.map(|p| base.join(p)),
            flush: duration(&self.log_flush, "log_flush")?,
        };
        Ok(WafConfig {
            settings,
            logs,
            poll_interval: duration(&self.rules_poll_interval, "rules_poll_interval")?,
        })
    }
}

impl WafConfig {
    /// Opens the logs and compiles the default policy once (so a broken rule set at start is
    /// an error naming file:line rather than a silently unprotected proxy).
    pub fn start(&self) -> anyhow::Result<Arc<WafPolicies>> {
        portcullis_proxy::waf::log::configure(&self.logs).context("cannot open the WAF logs")?;
        let policies = Arc::new(WafPolicies::new(self.settings.clone()));
        // The default policy (block mode when the WAF is off by default, to validate the rules).
        let probe = portcullis_control::annotations::IngressAnnotations {
            waf_mode: (self.settings.mode == Mode::Off).then_some(Mode::Block),
            ..Default::default()
        };
        if let Some(key) = policies.key_for(&probe, None) {
            let r = policies.resolve(&key);
            if let Some(e) = r.error {
                bail!("WAF rules do not compile: {e}");
            }
            if let Some(p) = r.policy {
                tracing::info!(
                    rules = p.engine.rule_count(),
                    policy = %p.label,
                    "WAF rules compiled"
                );
            }
        }
        Ok(policies)
    }
}

/// Polls the rule files every `interval`; on a change bumps the rules version and calls
/// `rebuild` (which re-translates, recompiling the policies in use). Runs until the process
/// ends.
pub fn watch_rules(
    policies: Arc<WafPolicies>,
    interval: Duration,
    rebuild: impl Fn() + Send + 'static,
) {
    if interval.is_zero() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("waf-rules-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                if policies.refresh() {
                    tracing::info!(
                        version = policies.version(),
                        "WAF rule files changed: rebuilding"
                    );
                    rebuild();
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the WAF rules watcher: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config directory with our rule set and a CRS-shaped directory.
    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("pcx-wafcfg-{}", std::process::id()));
        std::fs::create_dir_all(d.join("rules")).unwrap();
        std::fs::create_dir_all(d.join("crs/rules")).unwrap();
        std::fs::write(d.join("rules/portcullis.conf"), "").unwrap();
        d
    }

    fn validate(yaml: &str) -> anyhow::Result<WafConfig> {
        let file: WafFileConfig = serde_yaml::from_str(yaml)?;
        file.validate(&dir())
    }

    #[test]
    fn each_bad_field_is_named() {
        for (yaml, names) in [
            ("mode: sometimes", "waf.mode: \"sometimes\""),
            ("rules: mine", "waf.rules: \"mine\""),
            ("rules: crs", "waf.rules: crs needs waf.crs_dir"),
            ("rules: crs\ncrs_dir: nowhere", "waf.crs_dir:"),
            (
                "builtin_dir: nowhere",
                "waf.rules: builtin: rules/portcullis.conf not found",
            ),
            ("paranoia_level: 5", "waf.paranoia_level: 5"),
            (
                "request_body_limit_action: drop",
                "waf.request_body_limit_action: \"drop\"",
            ),
            ("fail: maybe", "waf.fail: \"maybe\""),
            (
                "time_budget: soon",
                "waf.time_budget: invalid duration \"soon\"",
            ),
            (
                "log_flush: often",
                "waf.log_flush: invalid duration \"often\"",
            ),
            (
                "rules_poll_interval: 1 parsec",
                "waf.rules_poll_interval: invalid duration",
            ),
        ] {
            let e = format!(
                "{:#}",
                validate(yaml).err().unwrap_or_else(|| panic!("{yaml}"))
            );
            assert!(e.contains(names), "{yaml}: {e}");
        }
        let e = validate("mode: block\nmodes: [x]")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown field `modes`"), "{e}");
    }

    #[test]
    fn logs_and_durations() {
        let c = validate("mode: block\nerror_log: waf.log\naudit_log: audit.json").unwrap();
        assert_eq!(
            c.logs.flush,
            Duration::ZERO,
            "per-request writes by default"
        );
        assert_eq!(
            c.logs.error_log,
            Some(ErrorLogTarget::File(dir().join("waf.log")))
        );
        assert_eq!(c.logs.audit_log, Some(dir().join("audit.json")));
        assert_eq!(c.poll_interval, Duration::from_secs(1));
        let c =
            validate("error_log: stderr\nlog_flush: 100ms\nrules_poll_interval: \"0\"").unwrap();
        assert_eq!(c.logs.error_log, Some(ErrorLogTarget::Stderr));
        assert_eq!(c.logs.flush, Duration::from_millis(100));
        assert_eq!(c.poll_interval, Duration::ZERO);
        let c = validate("rules: crs\ncrs_dir: crs\nfail: open\ntime_budget: \"0\"").unwrap();
        assert!(matches!(c.settings.rules, RuleSource::Crs { .. }));
        assert_eq!(c.settings.fail, FailMode::Open);
        assert_eq!(c.settings.time_budget, Duration::ZERO);
    }
}
