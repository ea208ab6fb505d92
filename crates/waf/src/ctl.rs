//! `ctl:` — per-transaction configuration changes made by a matching rule.

use crate::variable::{Target, parse_targets};

/// Rule engine mode (`SecRuleEngine` / `ctl:ruleEngine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleEngineMode {
    /// Rules run and disruptive actions apply.
    On,
    /// Rules run; disruptive actions are recorded but not applied.
    DetectionOnly,
    /// No rules run.
    Off,
}

impl RuleEngineMode {
    /// Parses `On`, `Off`, `DetectionOnly` (case-insensitive).
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(RuleEngineMode::On),
            "off" => Ok(RuleEngineMode::Off),
            "detectiononly" => Ok(RuleEngineMode::DetectionOnly),
            _ => Err(format!("invalid rule engine mode {v:?}")),
        }
    }
}

/// Body processors selectable with `ctl:requestBodyProcessor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessor {
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl BodyProcessor {
    /// Parses `URLENCODED`, `MULTIPART`, `JSON`, `XML`.
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_uppercase().as_str() {
            "URLENCODED" => Ok(BodyProcessor::UrlEncoded),
            "MULTIPART" => Ok(BodyProcessor::Multipart),
            "JSON" => Ok(BodyProcessor::Json),
            "XML" => Ok(BodyProcessor::Xml),
            _ => Err(format!("unknown request body processor {v:?}")),
        }
    }

    /// The `REQBODY_PROCESSOR` value.
    pub fn name(self) -> &'static str {
        match self {
            BodyProcessor::UrlEncoded => "URLENCODED",
            BodyProcessor::Multipart => "MULTIPART",
            BodyProcessor::Json => "JSON",
            BodyProcessor::Xml => "XML",
        }
    }
}

/// A parsed `ctl:` action.
#[derive(Debug, Clone)]
pub enum Ctl {
    RuleEngine(RuleEngineMode),
    /// Inclusive id range (a single id is `(n, n)`).
    RuleRemoveById(u64, u64),
    RuleRemoveByTag(String),
    RuleRemoveTargetById(u64, u64, std::sync::Arc<[Target]>),
    RuleRemoveTargetByTag(String, std::sync::Arc<[Target]>),
    RequestBodyProcessor(BodyProcessor),
    ForceRequestBodyVariable(bool),
    RequestBodyAccess(bool),
    /// auditEngine / auditLogParts: accepted, no effect (we have no audit log).
    Audit,
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("expected On or Off, got {v:?}")),
    }
}

fn id_range(v: &str) -> Result<(u64, u64), String> {
    let v = v.trim();
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("invalid rule id {s:?}"))
    };
    match v.split_once('-') {
        Some((a, b)) => Ok((parse(a)?, parse(b)?)),
        None => {
            let n = parse(v)?;
            Ok((n, n))
        }
    }
}

impl Ctl {
    /// Parses the text after `ctl:`.
    pub fn parse(text: &str) -> Result<Ctl, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("ctl needs name=value: {text:?}"))?;
        let value = value.trim();
        let ctl = match name.trim().to_ascii_lowercase().as_str() {
            "ruleengine" => Ctl::RuleEngine(RuleEngineMode::parse(value)?),
            "ruleremovebyid" => {
                let (a, b) = id_range(value)?;
                Ctl::RuleRemoveById(a, b)
            }
            "ruleremovebytag" => Ctl::RuleRemoveByTag(value.to_string()),
            "ruleremovetargetbyid" => {
                let (id, targets) = value
                    .split_once(';')
                    .ok_or_else(|| format!("ruleRemoveTargetById needs id;target: {value:?}"))?;
                let (a, b) = id_range(id)?;
                Ctl::RuleRemoveTargetById(a, b, parse_targets(targets)?.into())
            }
            "ruleremovetargetbytag" => {
                let (tag, targets) = value
                    .split_once(';')
                    .ok_or_else(|| format!("ruleRemoveTargetByTag needs tag;target: {value:?}"))?;
                Ctl::RuleRemoveTargetByTag(tag.to_string(), parse_targets(targets)?.into())
            }
            "requestbodyprocessor" => Ctl::RequestBodyProcessor(BodyProcessor::parse(value)?),
            "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on_off(value)?),
            "requestbodyaccess" => Ctl::RequestBodyAccess(on_off(value)?),
            "auditengine" | "auditlogparts" => Ctl::Audit,
            other => return Err(format!("unsupported ctl:{other}")),
        };
        Ok(ctl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ctl() {
        assert!(matches!(
            Ctl::parse("ruleRemoveById=920-930").unwrap(),
            Ctl::RuleRemoveById(920, 930)
        ));
        assert!(matches!(
            Ctl::parse("ruleRemoveTargetByTag=xss-perf-disable;REQUEST_FILENAME").unwrap(),
            Ctl::RuleRemoveTargetByTag(t, v) if t == "xss-perf-disable" && v.len() == 1
        ));
        assert!(Ctl::parse("debugLogLevel=9").is_err());
    }
}
