//! The SecLang text portcullis generates around a rule set for one policy: engine settings
//! (mode, body limits), the paranoia-level and anomaly-threshold `SecAction`s (ids
//! 9600001–9600003, only those configured), and the exclusions of an Ingress. Every value
//! comes from validated settings (numbers, tags limited to `[A-Za-z0-9_./-]`), never from
//! free text.

use std::path::{Path, PathBuf};

use portcullis_snapshot::WafMode;
use portcullis_waf::{BodyLimitAction, CompileError};

use crate::waf_policy::{PolicyKey, WafSettings};

pub(crate) fn engine_directives(s: &WafSettings, key: &PolicyKey) -> String {
    let mut t = String::new();
    t.push_str(match key.mode {
        WafMode::On => "SecRuleEngine On\n",
        WafMode::DetectionOnly => "SecRuleEngine DetectionOnly\n",
    });
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
pub(crate) fn tuning(key: &PolicyKey, s: &WafSettings, crs: bool) -> String {
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

pub(crate) fn exclusions(key: &PolicyKey) -> String {
    let mut t = String::new();
    if !key.excluded_ids.is_empty() {
        let ids: Vec<String> = key.excluded_ids.iter().map(u32::to_string).collect();
        t.push_str(&format!("SecRuleRemoveById {}\n", ids.join(" ")));
    }
    for tag in &key.excluded_tags {
        t.push_str(&format!("SecRuleRemoveByTag \"{tag}\"\n"));
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
