//! The WAF part of the route pass: an Ingress's WAF annotations → its compiled
//! [`WafPolicy`] (through the shared [`crate::waf_policy::WafPolicies`] cache), and the
//! validation of the WAF annotation values that are not plain numbers.
//!
//! `waf-exclusions-configmap: NAME` names a ConfigMap in the Ingress's namespace (in the
//! manifests set). Its `data` holds SecLang exclusion rules: keys starting with `before` are
//! loaded before the rule set (runtime exclusions with `ctl:ruleRemove*`), the others after it
//! (`SecRuleRemoveById`, `SecRuleUpdateTargetById`, …). Only exclusion directives are
//! accepted there (no `Include`, no engine settings); anything else is an error and the
//! ConfigMap is ignored. Annotations themselves never carry SecLang.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use portcullis_snapshot::WafPolicy;

use crate::annotations::IngressAnnotations;
use crate::diagnostics::Severity;
use crate::objects::{ObjectSet, namespace_of};
use crate::translate::TranslateOptions;

/// Directives allowed in an exclusions ConfigMap (lower case).
const ALLOWED_DIRECTIVES: &[&str] = &[
    "secrule",
    "secaction",
    "secmarker",
    "secruleremovebyid",
    "secruleremovebytag",
    "secruleupdatetargetbyid",
    "secruleupdatetargetbytag",
];

/// `waf-rule-exclusion-tags`: comma-separated tags such as `attack-sqli` or
/// `OWASP_CRS/ATTACK-SQLI`.
pub fn parse_tags(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let ok = s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b));
            if ok {
                Ok(s.to_string())
            } else {
                Err(format!(
                    "{s:?} is not a tag (letters, digits, _ . / - only)"
                ))
            }
        })
        .collect()
}

/// A Kubernetes object name (DNS subdomain).
pub fn parse_object_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!("{value:?} is not an object name"))
    }
}

/// The policy of an Ingress's routes; problems become notes of that Ingress.
pub(crate) fn policy_for(
    opts: &TranslateOptions,
    objects: &ObjectSet,
    namespace: &str,
    ann: &IngressAnnotations,
    notes: &mut Vec<(Severity, String)>,
) -> Option<Arc<WafPolicy>> {
    let policies = opts.waf.as_ref()?;
    let extra = match &ann.waf_exclusions_configmap {
        None => None,
        Some(name) => match find_config_map(objects, namespace, name) {
            None => {
                notes.push((
                    Severity::Error,
                    format!("WAF exclusions ConfigMap {namespace}/{name} not found: ignored"),
                ));
                None
            }
            Some(cm) => match exclusion_rules(cm) {
                Ok(extra) => Some(extra),
                Err(why) => {
                    notes.push((
                        Severity::Error,
                        format!("WAF exclusions ConfigMap {namespace}/{name}: {why}; ignored"),
                    ));
                    None
                }
            },
        },
    };
    let key = policies.key_for(ann, extra)?;
    let resolved = policies.resolve(&key);
    let Some(e) = resolved.error else {
        return resolved.policy;
    };
    if resolved.policy.is_some() {
        let why = format!("WAF rules failed to compile: {e}; keeping the last good rules");
        notes.push((Severity::Error, why));
        return resolved.policy;
    }
    // Never compiled (e.g. a bad exclusions ConfigMap): fall back to the same mode, paranoia
    // level and exclusions by id/tag without the ConfigMap's rules rather than to no WAF.
    let plain = crate::waf_policy::PolicyKey { extra: None, ..key };
    let fallback = policies.resolve(&plain).policy;
    let then = if fallback.is_some() {
        "using the policy without this Ingress's exclusions ConfigMap"
    } else {
        "no good rules yet: the WAF is OFF for these routes"
    };
    notes.push((
        Severity::Error,
        format!("WAF rules failed to compile: {e}; {then}"),
    ));
    fallback
}

fn find_config_map<'a>(
    objects: &'a ObjectSet,
    namespace: &str,
    name: &str,
) -> Option<&'a ConfigMap> {
    objects.config_maps.iter().map(|c| c.as_ref()).find(|c| {
        namespace_of(&c.metadata) == namespace && c.metadata.name.as_deref() == Some(name)
    })
}

/// (before, after) SecLang from a ConfigMap's data, checked against the allowed directives.
pub fn exclusion_rules(cm: &ConfigMap) -> Result<(String, String), String> {
    let mut before = String::new();
    let mut after = String::new();
    for (key, text) in cm.data.iter().flatten() {
        check_directives(key, text)?;
        let out = if key.starts_with("before") {
            &mut before
        } else {
            &mut after
        };
        out.push_str(text);
        out.push('\n');
    }
    Ok((before, after))
}

fn check_directives(key: &str, text: &str) -> Result<(), String> {
    let mut continued = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let starts_directive = !continued && !t.is_empty() && !t.starts_with('#');
        continued = t.ends_with('\\');
        if !starts_directive {
            continue;
        }
        let name = t
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !ALLOWED_DIRECTIVES.contains(&name.as_str()) {
            return Err(format!(
                "{key}:{}: {name} is not allowed (only SecRule, SecAction, SecMarker, SecRuleRemove*, SecRuleUpdateTarget*)",
                i + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_names() {
        assert_eq!(
            parse_tags("attack-sqli, OWASP_CRS/ATTACK-XSS").unwrap(),
            vec!["attack-sqli", "OWASP_CRS/ATTACK-XSS"]
        );
        assert!(parse_tags("a\"b").is_err());
        assert!(parse_tags("a b").is_err());
        assert!(parse_object_name("waf-exclusions").is_ok());
        assert!(parse_object_name("Bad_Name").is_err());
    }

    #[test]
    fn configmap_directives_are_restricted() {
        assert!(check_directives("after", "SecRuleRemoveById 942100\n# c\n").is_ok());
        assert!(
            check_directives(
                "before",
                "SecRule REQUEST_URI \"@beginsWith /api\" \\\n  \"id:1,phase:1,pass,nolog,ctl:ruleRemoveById=942100\"\n"
            )
            .is_ok()
        );
        assert!(check_directives("after", "Include /etc/passwd\n").is_err());
        assert!(check_directives("after", "SecRuleEngine Off\n").is_err());
    }
}
