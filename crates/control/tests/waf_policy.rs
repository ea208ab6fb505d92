//! The WAF policy cache: one compile per distinct policy and rules version, shared `Arc`s,
//! and a broken rules file keeping the last good engine (reported with file:line).

use std::sync::Arc;
use std::time::Duration;

use portcullis_control::annotations::{IngressAnnotations, WafMode};
use portcullis_control::waf_policy::{RuleSource, WafPolicies, WafSettings};
use portcullis_snapshot::FailMode;
use portcullis_waf::BodyLimitAction;

fn settings(entry: std::path::PathBuf) -> WafSettings {
    WafSettings {
        rules: RuleSource::Builtin(entry),
        mode: WafMode::Block,
        paranoia_level: None,
        inbound_threshold: None,
        outbound_threshold: None,
        request_body_limit: 1 << 20,
        request_body_no_files_limit: 1 << 17,
        request_body_limit_action: BodyLimitAction::Reject,
        response_body: None,
        fail: FailMode::Closed,
        time_budget: Duration::from_millis(100),
    }
}

#[test]
fn policies_are_shared_and_a_broken_file_keeps_the_last_good_engine() {
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("portcullis.conf");
    std::fs::write(
        &entry,
        "SecRule ARGS \"@contains evil\" \"id:1,phase:2,deny\"\n",
    )
    .unwrap();
    let policies = WafPolicies::new(settings(entry.clone()));

    let plain = IngressAnnotations::default();
    let excl = IngressAnnotations {
        waf_rule_exclusions: vec![1],
        ..Default::default()
    };
    let off = IngressAnnotations {
        waf_mode: Some(WafMode::Off),
        ..Default::default()
    };
    assert!(policies.key_for(&off, None).is_none());
    let k1 = policies.key_for(&plain, None).unwrap();
    let a = policies.resolve(&k1).policy.unwrap();
    let b = policies.resolve(&k1).policy.unwrap();
    assert!(Arc::ptr_eq(&a, &b), "one compile per policy");
    let k2 = policies.key_for(&excl, None).unwrap();
    let c = policies.resolve(&k2).policy.unwrap();
    assert!(!Arc::ptr_eq(&a.engine, &c.engine));
    assert!(a.engine.rule_ids().any(|id| id == 1));
    assert!(!c.engine.rule_ids().any(|id| id == 1), "rule 1 excluded");

    // A broken file: the rules version moves, the error names file:line, the old engine stays.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        &entry,
        "# v2\nSecRule ARGS \"@nosuch x\" \"id:2,phase:2,deny\"\n",
    )
    .unwrap();
    assert!(policies.refresh());
    let r = policies.resolve(&k1);
    let err = r.error.expect("compile error");
    assert!(err.contains("portcullis.conf:2"), "{err}");
    assert!(Arc::ptr_eq(&r.policy.unwrap(), &a), "last good engine kept");

    // Fixed: recompiled under the new version.
    std::fs::write(
        &entry,
        "SecRule ARGS \"@contains bad\" \"id:3,phase:2,deny\"\n",
    )
    .unwrap();
    assert!(policies.refresh());
    let fixed = policies.resolve(&k1);
    assert!(fixed.error.is_none());
    let fixed = fixed.policy.unwrap();
    assert!(fixed.engine.rule_ids().any(|id| id == 3));
    assert!(!fixed.engine.rule_ids().any(|id| id == 1));
    assert_eq!(fixed.rules_version, policies.version());
}

#[test]
fn unused_policies_are_forgotten_on_the_next_compile() {
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("portcullis.conf");
    std::fs::write(
        &entry,
        "SecRule ARGS \"@contains evil\" \"id:1,phase:2,deny\"\n",
    )
    .unwrap();
    let policies = WafPolicies::new(settings(entry));
    let with_ids = |ids: Vec<u32>| IngressAnnotations {
        waf_rule_exclusions: ids,
        ..Default::default()
    };
    let k1 = policies.key_for(&with_ids(vec![1]), None).unwrap();
    let first = policies.resolve(&k1).policy.unwrap();
    let weak = Arc::downgrade(&first);
    drop(first); // no snapshot uses it any more
    let k2 = policies.key_for(&with_ids(vec![2]), None).unwrap();
    let _second = policies.resolve(&k2).policy.unwrap();
    assert!(weak.upgrade().is_none(), "the unused policy was dropped");
}
