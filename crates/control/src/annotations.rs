//! Annotations under our own prefix (`portcullis.dev/` by default), validated.
//!
//! | annotation (after the prefix) | values | effect |
//! |---|---|---|
//! | `ssl-redirect` | `true` (default), `false` | 308 from http to https for hosts with TLS |
//! | `proxy-body-size` | `0` (no limit), `N`, `Nk`, `Nm`, `Ng` (powers of 1024, as nginx) | 413 above the limit |
//! | `waf-mode` | `off`, `detect`, `block` | WAF mode for the Ingress's routes |
//! | `waf-paranoia-level` | `1`..`4` | CRS paranoia level |
//! | `waf-rule-exclusions` | comma-separated rule ids | rules not run for these routes |
//! | `waf-rule-exclusion-tags` | comma-separated tags (`[A-Za-z0-9_./-]+`) | rules with these tags not run |
//! | `waf-exclusions-configmap` | name of a ConfigMap in the Ingress's namespace | extra exclusion rules (see `waf_policy`) |
//!
//! The WAF annotations are validated here so the translation stays the one place that reads
//! annotations; [`crate::waf_annotations`] turns them into the route's compiled WAF policy.
//!
//! Anything that looks like a configuration snippet (a key containing `snippet`) is refused
//! with an error: snippets from annotations are never accepted (the ingress-nginx
//! CVE-2025-1974 class of bug). Unknown keys under our prefix are warned about and ignored.
//! An invalid value is an error naming the annotation; the default applies instead.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::diagnostics::Severity;

/// Annotation keys we understand (after the prefix).
pub const KNOWN_ANNOTATIONS: &[&str] = &[
    "ssl-redirect",
    "proxy-body-size",
    "waf-mode",
    "waf-paranoia-level",
    "waf-rule-exclusions",
    "waf-rule-exclusion-tags",
    "waf-exclusions-configmap",
];

/// WAF mode requested by `waf-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WafMode {
    Off,
    Detect,
    Block,
}

/// The validated annotations of one Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressAnnotations {
    /// `ssl-redirect`; applies only to hosts that have TLS.
    pub ssl_redirect: bool,
    /// `proxy-body-size`; None = no limit.
    pub max_body_bytes: Option<u64>,
    pub waf_mode: Option<WafMode>,
    pub waf_paranoia_level: Option<u8>,
    pub waf_rule_exclusions: Vec<u32>,
    pub waf_rule_exclusion_tags: Vec<String>,
    pub waf_exclusions_configmap: Option<String>,
}

impl Default for IngressAnnotations {
    fn default() -> Self {
        IngressAnnotations {
            ssl_redirect: true,
            max_body_bytes: None,
            waf_mode: None,
            waf_paranoia_level: None,
            waf_rule_exclusions: Vec::new(),
            waf_rule_exclusion_tags: Vec::new(),
            waf_exclusions_configmap: None,
        }
    }
}

/// Parses the annotations of an Ingress. Problems come back as (severity, reason) notes.
pub fn parse(meta: &ObjectMeta, prefix: &str) -> (IngressAnnotations, Vec<(Severity, String)>) {
    let mut out = IngressAnnotations::default();
    let mut notes = Vec::new();
    let Some(annotations) = meta.annotations.as_ref() else {
        return (out, notes);
    };
    for (key, value) in annotations {
        let Some(name) = key.strip_prefix(prefix) else {
            continue;
        };
        let value = value.trim();
        let invalid = |why: &str| {
            (
                Severity::Error,
                format!("annotation {key}={value:?}: {why}"),
            )
        };
        match name {
            "ssl-redirect" => match value {
                "true" => out.ssl_redirect = true,
                "false" => out.ssl_redirect = false,
                _ => notes.push(invalid("expected \"true\" or \"false\"; using true")),
            },
            "proxy-body-size" => match parse_size(value) {
                Ok(limit) => out.max_body_bytes = limit,
                Err(why) => notes.push(invalid(why)),
            },
            "waf-mode" => match value {
                "off" => out.waf_mode = Some(WafMode::Off),
                "detect" => out.waf_mode = Some(WafMode::Detect),
                "block" => out.waf_mode = Some(WafMode::Block),
                _ => notes.push(invalid("expected off, detect or block")),
            },
            "waf-paranoia-level" => match value.parse::<u8>() {
                Ok(level @ 1..=4) => out.waf_paranoia_level = Some(level),
                _ => notes.push(invalid("expected 1, 2, 3 or 4")),
            },
            "waf-rule-exclusions" => match parse_ids(value) {
                Ok(ids) => out.waf_rule_exclusions = ids,
                Err(why) => notes.push(invalid(&why)),
            },
            "waf-rule-exclusion-tags" => match crate::waf_annotations::parse_tags(value) {
                Ok(tags) => out.waf_rule_exclusion_tags = tags,
                Err(why) => notes.push(invalid(&why)),
            },
            "waf-exclusions-configmap" => match crate::waf_annotations::parse_object_name(value) {
                Ok(name) => out.waf_exclusions_configmap = Some(name),
                Err(why) => notes.push(invalid(&why)),
            },
            other if other.contains("snippet") => notes.push((
                Severity::Error,
                format!("annotation {key}: configuration snippets are never accepted; ignored"),
            )),
            _ => notes.push((
                Severity::Warning,
                format!(
                    "unknown annotation {key}: ignored (known: {})",
                    KNOWN_ANNOTATIONS.join(", ")
                ),
            )),
        }
    }
    (out, notes)
}

/// `proxy-body-size`: `0` → no limit; digits with an optional `k`/`m`/`g` suffix (1024-based).
pub fn parse_size(value: &str) -> Result<Option<u64>, &'static str> {
    let (digits, multiplier) = match value.as_bytes().last() {
        Some(b'k' | b'K') => (&value[..value.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&value[..value.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&value[..value.len() - 1], 1 << 30),
        _ => (value, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a size such as 512, 64k, 10m or 1g (0 = no limit)");
    }
    let n: u64 = digits.parse().map_err(|_| "size too large")?;
    let bytes = n.checked_mul(multiplier).ok_or("size too large")?;
    Ok((bytes > 0).then_some(bytes))
}

fn parse_ids(value: &str) -> Result<Vec<u32>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>()
                .map_err(|_| format!("{s:?} is not a rule id"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(pairs: &[(&str, &str)]) -> ObjectMeta {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ObjectMeta {
            annotations: Some(map),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn sizes() {
        let table: &[(&str, Result<Option<u64>, ()>)] = &[
            ("10m", Ok(Some(10 << 20))),
            ("64K", Ok(Some(64 << 10))),
            ("1g", Ok(Some(1 << 30))),
            ("512", Ok(Some(512))),
            ("0", Ok(None)),
            ("", Err(())),
            ("m", Err(())),
            ("10mb", Err(())),
            ("-1", Err(())),
            ("99999999999999999999g", Err(())),
        ];
        for (input, want) in table {
            assert_eq!(parse_size(input).map_err(|_| ()), *want, "{input:?}");
        }
    }

    #[test]
    fn parses_known_and_reports_bad_values() {
        let (a, notes) = parse(
            &meta(&[
                ("portcullis.dev/ssl-redirect", "false"),
                ("portcullis.dev/proxy-body-size", "10m"),
                ("portcullis.dev/waf-mode", "block"),
                ("portcullis.dev/waf-paranoia-level", "7"),
                ("portcullis.dev/waf-rule-exclusions", "942100, 920350"),
                ("portcullis.dev/server-snippet", "lua"),
                ("portcullis.dev/colour", "blue"),
                ("other.io/ssl-redirect", "maybe"),
            ]),
            "portcullis.dev/",
        );
        assert!(!a.ssl_redirect);
        assert_eq!(a.max_body_bytes, Some(10 << 20));
        assert_eq!(a.waf_mode, Some(WafMode::Block));
        assert_eq!(a.waf_paranoia_level, None);
        assert_eq!(a.waf_rule_exclusions, vec![942100, 920350]);
        let severities: Vec<Severity> = notes.iter().map(|n| n.0).collect();
        assert_eq!(
            severities,
            vec![Severity::Warning, Severity::Error, Severity::Error],
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.1.contains("waf-paranoia-level")));
        assert!(
            notes
                .iter()
                .any(|n| n.1.contains("snippets are never accepted"))
        );
    }
}
