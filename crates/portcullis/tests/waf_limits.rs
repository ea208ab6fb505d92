//! The WAF's limits and lifecycle, end to end (real binary, recording backend on loopback):
//! the request-body limit (Reject → 413, ProcessPartial), the response phases, the time
//! budget (fail-closed and fail-open), and rule changes without restart (a broken file keeps
//! the last good rules).

mod common;
mod waf_common;

use common::{Scratch, service_yaml, start};
use waf_common::*;

#[test]
fn oversized_body_gets_413_under_reject() {
    let (scratch, backend) = app_behind("waf-413", "up.test");
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
    let (scratch, _backend) = app_behind("waf-hot", "hot.test");
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
fn process_partial_inspects_the_first_part_and_forwards_everything() {
    let (scratch, backend) = app_behind("waf-partial", "pp.test");
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
    let (scratch, backend) = app_behind("waf-budget", "slow.test");
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
    let (scratch, _backend) = app_behind("waf-resp", "out.test");
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
