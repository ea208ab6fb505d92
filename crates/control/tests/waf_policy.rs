//! The WAF policy cache: one compile per distinct engine (paranoia level, ConfigMap rules) and
//! rules version, shared `Arc`s, per-transaction mode and exclusions with the semantics of
//! their SecLang directives, and a broken rules file keeping the last good engine (reported
//! with file:line).

use std::sync::Arc;
use std::time::Duration;

use portcullis_control::annotations::{IngressAnnotations, WafMode};
use portcullis_control::tls::self_signed;
use portcullis_control::waf_policy::{RuleSource, WafPolicies, WafSettings};
use portcullis_control::{TranslateOptions, load_dir, translate};
use portcullis_snapshot::{FailMode, WafPolicy};
use portcullis_waf::{BodyLimitAction, ConnectionInfo, Engine, MODSECURITY_RECOMMENDED, Outcome};

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

/// A temporary directory holding `portcullis.conf` with `rules`, and that file's path.
fn rules_file(rules: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let entry = dir.path().join("portcullis.conf");
    std::fs::write(&entry, rules).unwrap();
    (dir, entry)
}

#[test]
fn policies_are_shared_and_a_broken_file_keeps_the_last_good_engine() {
    let (_dir, entry) = rules_file("SecRule ARGS \"@contains evil\" \"id:1,phase:2,deny\"\n");
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
    assert!(!Arc::ptr_eq(&a, &c), "a policy per key");
    assert!(Arc::ptr_eq(&a.engine, &c.engine), "one engine for both");
    assert!(c.engine.rule_ids().any(|id| id == 1));
    assert_eq!(
        c.removed_ids,
        vec![(1, 1)],
        "rule 1 excluded per transaction"
    );
    assert!(verdict(&c, "q=evil").is_empty(), "rule 1 never runs");
    assert_eq!(verdict(&a, "q=evil"), vec![1]);

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

/// Ids of the rules that matched `query` (phases 1, 2 and 5), through the policy's
/// transaction.
fn verdict(p: &WafPolicy, query: &str) -> Vec<u64> {
    run(p, query).1
}

fn run(p: &WafPolicy, query: &str) -> (Outcome, Vec<u64>) {
    let mut tx = p.transaction(ConnectionInfo {
        client_ip: [127, 0, 0, 1].into(),
        client_port: 40000,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 80,
        unique_id: "t".into(),
    });
    tx.request_line("GET", &format!("/x?{query}"), "HTTP/1.1");
    tx.request_header(b"Host", b"example.test");
    let mut outcome = tx.process_request_headers();
    if outcome == Outcome::Pass {
        outcome = tx.process_request_body();
    }
    tx.process_logging();
    (outcome, tx.matched_rules().iter().map(|r| r.id).collect())
}

/// Runtime exclusions and mode behave exactly like `SecRuleRemoveById`/`ByTag` after the
/// rules and `SecRuleEngine`: the same requests give the same outcome and the same matched
/// rules on an engine compiled with the directives and on the shared engine with per-transaction
/// settings — including rules in every phase, chains, `skipAfter` over a removed rule, and
/// setvar side effects of removed rules (they must not happen).
#[test]
fn runtime_exclusions_and_mode_equal_the_compiled_directives() {
    let rules = r#"
SecAction "id:10,phase:1,pass,nolog,setvar:tx.score=0"
SecRule ARGS "@contains aa" "id:11,phase:1,pass,log,tag:'t/a',setvar:tx.score=+5"
SecRule ARGS "@contains bb" "id:12,phase:1,pass,log,tag:'t/b',tag:'t/a',skipAfter:END_B"
SecRule ARGS "@contains cc" "id:13,phase:1,pass,log,tag:'t/c',setvar:tx.score=+5"
SecMarker END_B
SecRule ARGS "@contains dd" "id:14,phase:2,pass,log,chain,tag:'t/d'"
    SecRule ARGS "@contains ee" "setvar:tx.score=+5"
SecRule TX:score "@ge 5" "id:20,phase:2,deny,status:403,log,tag:'t/block'"
SecRule ARGS "@contains ff" "id:21,phase:5,pass,log,tag:'t/late'"
"#;
    let (_dir, entry) = rules_file(rules);
    let policies = WafPolicies::new(settings(entry));
    let queries = [
        "q=zz",
        "q=aa",
        "q=bb",
        "q=cc",
        "q=bbcc",
        "q=aacc",
        "q=ddee",
        "q=dd",
        "q=ff",
        "q=aabbccddeeff",
    ];
    let id_sets: [&[u32]; 5] = [&[], &[11], &[12], &[13, 20], &[11, 14, 21]];
    let tag_sets: [&[&str]; 4] = [&[], &["t/a"], &["t/b", "t/late"], &["t/block"]];
    let mut shared = None;
    for mode in [WafMode::Block, WafMode::Detect] {
        for ids in id_sets {
            for tags in tag_sets {
                let ann = IngressAnnotations {
                    waf_mode: Some(mode),
                    waf_rule_exclusions: ids.to_vec(),
                    waf_rule_exclusion_tags: tags.iter().map(|t| t.to_string()).collect(),
                    ..Default::default()
                };
                let key = policies.key_for(&ann, None).unwrap();
                let runtime = policies.resolve(&key).policy.unwrap();
                let engine = shared.get_or_insert_with(|| runtime.engine.clone());
                assert!(Arc::ptr_eq(engine, &runtime.engine), "one shared engine");
                // The same policy compiled the old way: directives in the SecLang.
                let mut seclang = String::new();
                seclang.push_str(match mode {
                    WafMode::Detect => "SecRuleEngine DetectionOnly\n",
                    _ => "SecRuleEngine On\n",
                });
                seclang.push_str(rules);
                for id in ids {
                    seclang.push_str(&format!("SecRuleRemoveById {id}\n"));
                }
                for tag in tags {
                    seclang.push_str(&format!("SecRuleRemoveByTag \"{tag}\"\n"));
                }
                let here = std::path::Path::new(".");
                let mut b = Engine::builder();
                b.add_text(MODSECURITY_RECOMMENDED, "<recommended>", here)
                    .unwrap();
                b.add_text(&seclang, "<compiled>", here).unwrap();
                let compiled = WafPolicy {
                    engine: Arc::new(b.build().unwrap()),
                    mode: runtime.mode,
                    removed_ids: Vec::new(),
                    removed_tags: Vec::new(),
                    fail: runtime.fail,
                    time_budget: runtime.time_budget,
                    inspect_response_body: false,
                    label: Arc::from("compiled"),
                    rules_version: 0,
                };
                for q in queries {
                    assert_eq!(
                        run(&runtime, q),
                        run(&compiled, q),
                        "mode {mode:?} ids {ids:?} tags {tags:?} query {q}"
                    );
                }
            }
        }
    }
    assert_eq!(policies.engine_count(), 1);
}

/// Two Ingresses with different exclusions, translated into one snapshot: one compiled engine
/// (`Arc::ptr_eq`), two policies that behave differently.
#[test]
fn ingresses_with_different_exclusions_share_one_engine_in_the_snapshot() {
    let (dir, entry) = rules_file(
        "SecRule ARGS \"@contains evil\" \"id:1,phase:2,deny,tag:'t/evil'\"\nSecRule ARGS \"@contains bad\" \"id:2,phase:2,deny\"\n",
    );
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Service\nmetadata: { name: app, namespace: default }\nspec:\n  ports: [{ name: http, port: 80, targetPort: 9 }]\n",
    );
    for (name, ann) in [
        ("a", "portcullis.dev/waf-rule-exclusions: \"1\""),
        ("b", "portcullis.dev/waf-rule-exclusions: \"2\""),
        ("c", "portcullis.dev/waf-rule-exclusion-tags: \"t/evil\""),
        ("d", "portcullis.dev/waf-mode: detect"),
    ] {
        yaml.push_str(&format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations:\n    {ann}\nspec:\n  rules:\n    - host: {name}.test\n      http:\n        paths:\n          - {{ path: /, pathType: Prefix, backend: {{ service: {{ name: app, port: {{ number: 80 }} }} }} }}\n"
        ));
    }
    std::fs::write(manifests.join("all.yaml"), yaml).unwrap();
    let policies = Arc::new(WafPolicies::new(settings(entry)));
    let mut opts = TranslateOptions::new(self_signed(&["default.invalid"]).unwrap());
    opts.waf = Some(policies.clone());
    let loaded = load_dir(&manifests).unwrap();
    let snapshot = translate(&loaded.objects, &opts, 1).snapshot;
    let policy = |host: &str| {
        let m = snapshot.routes.lookup(host, "/").expect(host);
        m.target.policy.waf.clone().expect("WAF on")
    };
    let (a, b, c, d) = (
        policy("a.test"),
        policy("b.test"),
        policy("c.test"),
        policy("d.test"),
    );
    for p in [&b, &c, &d] {
        assert!(Arc::ptr_eq(&a.engine, &p.engine), "one compiled engine");
        assert!(!Arc::ptr_eq(&a, p), "distinct policies");
    }
    assert_eq!(policies.engine_count(), 1);
    assert_eq!(run(&a, "q=evil").0, Outcome::Pass);
    assert_eq!(run(&a, "q=bad").0, Outcome::Deny { status: 403 });
    assert_eq!(run(&b, "q=evil").0, Outcome::Deny { status: 403 });
    assert_eq!(run(&b, "q=bad").0, Outcome::Pass);
    assert_eq!(run(&c, "q=evil").0, Outcome::Pass);
    assert_eq!(run(&c, "q=bad").0, Outcome::Deny { status: 403 });
    assert_eq!(run(&d, "q=evil"), (Outcome::Pass, vec![1]), "DetectionOnly");
}

#[test]
fn unused_policies_are_forgotten_on_the_next_compile() {
    let (_dir, entry) = rules_file("SecRule ARGS \"@contains evil\" \"id:1,phase:2,deny\"\n");
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
