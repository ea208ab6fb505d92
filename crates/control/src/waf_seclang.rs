//! The SecLang text portcullis generates around a rule set for one engine: engine settings
//! (`SecRuleEngine On` — the mode is applied per transaction — and body limits) and the
//! paranoia-level and anomaly-threshold `SecAction`s (ids 9600001–9600003, only those
//! configured). Every value comes from validated settings (numbers), never from free text.
//! An Ingress's exclusions by id and tag are not SecLang: the data plane applies them per
//! transaction (`portcullis_snapshot::WafPolicy::transaction`).

use std::path::{Path, PathBuf};

use portcullis_waf::{BodyLimitAction, CompileError};

use crate::waf_policy::{EngineKey, WafSettings};

pub(crate) fn engine_directives(s: &WafSettings) -> String {
    let mut t = String::new();
    t.push_str("SecRuleEngine On\n");
    t.push_str("SecRequestBodyAccess On\n");
    t.push_str(&format!("SecRequestBodyLimit {}\n", s.request_body_limit));
    t.push_str(&format!(
        "SecRequestBodyNoFilesLimit {}\n",
        s.request_body_no_files_limit.min(s.request_body_limit)
    ));
    t.push_str(match s.request_body_limit_action {
        BodyLimitAction::Reject => "SecRequestBodyLimitAction Reject\n",
        BodyLimitAction::ProcessPartial => "SecRequestBodyLimitAction ProcessPartial\n",
    });
    match &s.response_body {
        Some(r) => {
            t.push_str("SecResponseBodyAccess On\n");
            t.push_str(&format!("SecResponseBodyLimit {}\n", r.limit));
            t.push_str("SecResponseBodyLimitAction ProcessPartial\n");
            if !r.mime_types.is_empty() {
                t.push_str(&format!(
                    "SecResponseBodyMimeType {}\n",
                    r.mime_types.join(" ")
                ));
            }
        }
        None => t.push_str("SecResponseBodyAccess Off\n"),
    }
    t
}

/// `SecAction`s for the paranoia level and thresholds (CRS or our own rule set's names).
pub(crate) fn tuning(key: &EngineKey, s: &WafSettings, crs: bool) -> String {
    let (pl, inb, outb) = if crs {
        (
            "tx.blocking_paranoia_level",
            "tx.inbound_anomaly_score_threshold",
            "tx.outbound_anomaly_score_threshold",
        )
    } else {
        (
            "tx.pc_paranoia_level",
            "tx.pc_inbound_anomaly_threshold",
            "tx.pc_outbound_anomaly_threshold",
        )
    };
    let mut t = String::new();
    let mut action = |id: u32, var: &str, v: String| {
        t.push_str(&format!(
            "SecAction \"id:{id},phase:1,pass,nolog,t:none,setvar:{var}={v}\"\n"
        ));
    };
    if let Some(p) = key.paranoia_level {
        action(9600001, pl, p.to_string());
    }
    if let Some(v) = s.inbound_threshold {
        action(9600002, inb, v.to_string());
    }
    if let Some(v) = s.outbound_threshold.filter(|_| crs) {
        action(9600003, outb, v.to_string());
    }
    t
}

/// `rules/*.conf` of a CRS checkout, by name.
pub fn crs_rule_files(dir: &Path) -> Result<Vec<PathBuf>, CompileError> {
    let rules = dir.join("rules");
    let read = std::fs::read_dir(&rules).map_err(|e| {
        CompileError::new(
            &rules.display().to_string(),
            0,
            format!("cannot read the CRS rules directory: {e}"),
        )
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    Ok(files)
}
