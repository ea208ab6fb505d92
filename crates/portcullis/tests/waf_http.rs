//! The WAF in the request path, end to end: the real binary, a recording backend on
//! loopback, real HTTP. Blocking, DetectionOnly by annotation, exclusions by id, the
//! request-body limit, and hot rule changes (a broken file keeps the last good rules).

mod common;
mod waf_common;

use std::path::Path;

use common::{Scratch, service_yaml, start};
use waf_common::*;

/// Test rules: deterministic and small (the built-in set is exercised by `builtin_rules_block_an_attack`).
const RULES_V1: &str = r#"
SecRule ARGS "@contains evil" "id:1001,phase:2,deny,log,msg:'evil argument',tag:'test/evil',severity:'CRITICAL'"
SecRule ARGS:comment "@contains select" "id:1002,phase:2,deny,log,msg:'select in comment',tag:'test/sql'"
"#;

fn config(scratch: &Scratch, waf_extra: &str) -> String {
    let rules = scratch.0.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    if !rules.join("portcullis.conf").exists() {
        std::fs::write(rules.join("portcullis.conf"), RULES_V1).unwrap();
    }
    format!(
        "proxy:\n  access_log: false\ncontroller:\n  debounce: 10ms\nlogging:\n  level: info\nwaf:\n  mode: block\n  rules: builtin\n  builtin_dir: {}\n  error_log: {}\n  audit_log: {}\n  rules_poll_interval: 100ms\n{waf_extra}",
        rules.display(),
        scratch.0.join("waf-error.log").display(),
        scratch.0.join("waf-audit.log").display(),
    )
}

fn error_log(scratch: &Scratch) -> String {
    std::fs::read_to_string(scratch.0.join("waf-error.log")).unwrap_or_default()
}

#[test]
fn attack_is_blocked_before_the_backend_and_detect_annotation_passes_and_logs() {
    let scratch = Scratch::new("waf-block");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "block.test", "app", &[]));
    scratch.write_manifest(
        "b.yaml",
        &ingress_with("b", "detect.test", "app", &[("waf-mode", "detect")]),
    );
    let p = start(&scratch, &config(&scratch, ""), true);

    let (status, body) = get(p.http, "/search?q=evil-one", "block.test");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("request-id: "), "{body}");
    let (status, _) = get(p.http, "/search?q=fine", "block.test");
    assert_eq!(status, 200);
    assert!(backend.saw("q=fine"));
    assert!(
        !backend.saw("evil-one"),
        "a blocked request reached the backend"
    );

    let (status, _) = get(p.http, "/search?q=evil-two", "detect.test");
    assert_eq!(status, 200, "DetectionOnly must pass");
    assert!(backend.saw("evil-two"));
    eventually("the detection is logged", || {
        let log = error_log(&scratch);
        log.lines().any(|l| {
            l.contains("evil-two") && l.contains("[id \"1001\"]") && l.contains("Warning.")
        })
    });
    let log = error_log(&scratch);
    let blocked = log
        .lines()
        .find(|l| l.contains("evil-one"))
        .expect("block logged");
    for field in [
        "[id \"1001\"]",
        "[msg \"evil argument\"]",
        "[severity \"2\"]",
        "[tag \"test/evil\"]",
        "[uri \"/search?q=evil-one\"]",
        "[unique_id \"",
        "Access denied with code 403 (phase 2)",
    ] {
        assert!(blocked.contains(field), "{field} missing in {blocked}");
    }
    let audit = std::fs::read_to_string(scratch.0.join("waf-audit.log")).unwrap();
    let first: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["transaction"]["messages"][0]["details"]["ruleId"],
        "1001"
    );
    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"block\",rule_id=\"1001\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    assert!(
        p.metric("portcullis_waf_decisions_total{action=\"detect\",rule_id=\"1001\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
}

#[test]
fn exclusion_by_id_lets_a_benign_request_through() {
    let scratch = Scratch::new("waf-excl");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "strict.test", "app", &[]));
    scratch.write_manifest(
        "b.yaml",
        &ingress_with("b", "blog.test", "app", &[("waf-rule-exclusions", "1002")]),
    );
    let p = start(&scratch, &config(&scratch, ""), true);
    let path = "/post?comment=please+select+a+date";
    assert_eq!(get(p.http, path, "strict.test").0, 403);
    assert_eq!(get(p.http, path, "blog.test").0, 200);
    // Only 1002 is excluded: 1001 still applies there.
    assert_eq!(get(p.http, "/post?comment=evil", "blog.test").0, 403);
}

#[test]
fn oversized_body_gets_413_under_reject() {
    let scratch = Scratch::new("waf-413");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "up.test", "app", &[]));
    let extra = "  request_body_limit: 1000\n  request_body_limit_action: reject\n";
    let p = start(&scratch, &config(&scratch, extra), true);
    let small = b"name=small-body";
    assert_eq!(request(p.http, "POST", "/f", "up.test", small).0, 200);
    assert!(backend.saw("small-body"));
    let big = format!("name={}", "x".repeat(5000));
    assert_eq!(
        request(p.http, "POST", "/f", "up.test", big.as_bytes()).0,
        413
    );
    assert!(!backend.saw("xxxxxxxxxx"));
    let body_attack = b"name=evil";
    assert_eq!(request(p.http, "POST", "/f", "up.test", body_attack).0, 403);
    assert!(!backend.saw("name=evil"));
    assert!(
        p.metric("portcullis_waf_body_limit_hits_total{action=\"reject\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
}

#[test]
fn rule_changes_apply_without_restart_and_a_broken_file_keeps_the_old_rules() {
    let scratch = Scratch::new("waf-hot");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "hot.test", "app", &[]));
    let p = start(&scratch, &config(&scratch, ""), true);
    let rules = scratch.0.join("rules/portcullis.conf");
    assert_eq!(get(p.http, "/?a=wicked", "hot.test").0, 200);

    // A new rule takes effect without restart.
    let v2 = format!(
        "{RULES_V1}SecRule ARGS \"@contains wicked\" \"id:1003,phase:2,deny,log,msg:'wicked'\"\n"
    );
    write_atomically(&rules, &v2);
    eventually("the new rule blocks", || {
        get(p.http, "/?a=wicked", "hot.test").0 == 403
    });

    // A broken file: reported with file:line, the last good rules stay.
    let broken = format!("{v2}SecRule ARGS \"@nosuchoperator x\" \"id:1004,phase:2,deny\"\n");
    write_atomically(&rules, &broken);
    eventually("the compile error is reported with file:line", || {
        p.log_text().contains("portcullis.conf:5")
    });
    assert_eq!(get(p.http, "/?a=wicked", "hot.test").0, 403);
    assert_eq!(get(p.http, "/?a=evil", "hot.test").0, 403);
    assert_eq!(get(p.http, "/?a=fine", "hot.test").0, 200);
}

#[test]
fn builtin_rules_block_an_attack() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let scratch = Scratch::new("waf-builtin");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "shop.test", "app", &[]));
    let cfg = format!(
        "proxy:\n  access_log: false\nlogging:\n  level: warn\nwaf:\n  mode: block\n  builtin_dir: {}\n",
        rules.display()
    );
    let p = start(&scratch, &cfg, true);
    let attack = "/products?id=1%27%20UNION%20SELECT%20password%20FROM%20users--";
    assert_eq!(get(p.http, attack, "shop.test").0, 403);
    assert_eq!(
        get(p.http, "/products?id=42&sort=price", "shop.test").0,
        200
    );
    assert!(!backend.saw("UNION"));
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn exclusions_by_tag_and_from_a_configmap() {
    let scratch = Scratch::new("waf-cm");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: waf-excl, namespace: default }\ndata:\n  before.conf: |\n    SecRule REQUEST_FILENAME \"@beginsWith /api\" \"id:5001,phase:1,pass,nolog,ctl:ruleRemoveById=1001\"\n  after.conf: |\n    SecRuleRemoveById 1002\n",
    );
    scratch.write_manifest(
        "a.yaml",
        &ingress_with(
            "a",
            "cm.test",
            "app",
            &[("waf-exclusions-configmap", "waf-excl")],
        ),
    );
    scratch.write_manifest(
        "b.yaml",
        &ingress_with(
            "b",
            "tag.test",
            "app",
            &[("waf-rule-exclusion-tags", "test/evil")],
        ),
    );
    let p = start(&scratch, &config(&scratch, ""), true);
    // Runtime exclusion (before the rules): 1001 off under /api only.
    assert_eq!(get(p.http, "/api/x?q=evil", "cm.test").0, 200);
    assert_eq!(get(p.http, "/web/x?q=evil", "cm.test").0, 403);
    // Configure-time exclusion (after the rules): 1002 removed.
    assert_eq!(get(p.http, "/web/x?comment=select", "cm.test").0, 200);
    // By tag: 1001 carries test/evil.
    assert_eq!(get(p.http, "/x?q=evil", "tag.test").0, 200);
    assert_eq!(get(p.http, "/x?comment=select", "tag.test").0, 403);
}

#[test]
fn process_partial_inspects_the_first_part_and_forwards_everything() {
    let scratch = Scratch::new("waf-partial");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "pp.test", "app", &[]));
    let extra = "  request_body_limit: 1000\n  request_body_limit_action: process_partial\n";
    let p = start(&scratch, &config(&scratch, extra), true);
    let early = format!("a=evil&b={}", "x".repeat(5000));
    assert_eq!(
        request(p.http, "POST", "/f", "pp.test", early.as_bytes()).0,
        403
    );
    let late = format!("b={}&a=evil-late-tail", "y".repeat(5000));
    assert_eq!(
        request(p.http, "POST", "/f", "pp.test", late.as_bytes()).0,
        200
    );
    assert!(backend.saw("evil-late-tail"), "the whole body is forwarded");
    assert!(
        p.metric("portcullis_waf_body_limit_hits_total{action=\"partial\"}")
            .unwrap_or(0.0)
            >= 2.0
    );
}

#[test]
fn time_budget_overrun_fails_closed_by_default_and_open_when_configured() {
    let scratch = Scratch::new("waf-budget");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "slow.test", "app", &[]));
    // 1 µs: every evaluation with arguments exceeds it.
    let closed = start(
        &scratch,
        &config(&scratch, "  time_budget: 0.001ms\n"),
        true,
    );
    let (status, body) = get(closed.http, "/?q=closed-one", "slow.test");
    assert_eq!(status, 503, "{body}");
    assert!(!backend.saw("closed-one"));
    assert!(
        closed
            .metric("portcullis_waf_failures_total{reason=\"time_budget\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    drop(closed);

    let scratch = Scratch::new("waf-budget-open");
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "slow.test", "app", &[]));
    let open = start(
        &scratch,
        &config(&scratch, "  time_budget: 0.001ms\n  fail: open\n"),
        true,
    );
    assert_eq!(get(open.http, "/?q=open-one", "slow.test").0, 200);
    assert!(backend.saw("open-one"));
    assert!(
        open.metric("portcullis_waf_decisions_total{action=\"fail_open\",rule_id=\"\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
}

#[test]
fn response_phases_inspect_headers_and_bodies() {
    let scratch = Scratch::new("waf-resp");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest("a.yaml", &ingress_with("a", "out.test", "app", &[]));
    std::fs::create_dir_all(scratch.0.join("rules")).unwrap();
    std::fs::write(
        scratch.0.join("rules/portcullis.conf"),
        concat!(
            "SecRule RESPONSE_HEADERS:Content-Type \"@contains text/plain\" ",
            "\"id:2001,phase:3,deny,status:502,log,msg:'plain text answer',chain\"\n",
            "  SecRule ARGS:leak \"@streq header\" \"t:none\"\n",
            "SecRule RESPONSE_BODY \"@contains ok\" \"id:2002,phase:4,deny,log,msg:'leak',chain\"\n",
            "  SecRule ARGS:leak \"@streq body\" \"t:none\"\n",
        ),
    )
    .unwrap();
    let extra = "  response_body: { limit: 1024, mime_types: [text/plain] }\n";
    let p = start(&scratch, &config(&scratch, extra), true);
    assert_eq!(get(p.http, "/?leak=no", "out.test").0, 200);
    assert_eq!(get(p.http, "/?leak=header", "out.test").0, 502);
    let (status, body) = get(p.http, "/?leak=body", "out.test");
    assert_eq!(status, 403);
    assert!(body.contains("request-id"), "{body}");
}
