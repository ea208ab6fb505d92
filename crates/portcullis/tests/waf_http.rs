//! The WAF in the request path, end to end: the real binary, a recording backend on
//! loopback, real HTTP. Blocking, DetectionOnly by annotation, exclusions by id, the
//! request-body limit, and hot rule changes (a broken file keeps the last good rules).

mod common;
mod waf_common;

use std::path::Path;

use common::{Scratch, service_yaml, start};
use waf_common::*;

#[test]
fn attack_is_blocked_before_the_backend_and_detect_annotation_passes_and_logs() {
    let (scratch, backend) = app_behind("waf-block", "block.test");
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
    // The request headers as the WAF saw them (read back from the transaction when logged).
    let headers = &first["transaction"]["request"]["headers"];
    assert_eq!(headers["host"], "block.test", "{headers}");
    assert_eq!(
        headers["user-agent"], "Mozilla/5.0 portcullis-test",
        "{headers}"
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

/// An inspected body is held in full and sent upstream with a `Content-Length` of its own
/// (the direct client, `service::forward_hyper`): a chunked upload arrives whole — the
/// recording backend reads `Content-Length` bodies only — and an attack split across chunks
/// is found and never sent.
#[test]
fn a_chunked_body_is_inspected_whole_and_forwarded_with_its_length() {
    let (scratch, backend) = app_behind("waf-chunked", "chunk.test");
    let p = start(&scratch, &config(&scratch, ""), true);

    let (status, text) = post_chunked(
        p.http,
        "/form",
        "chunk.test",
        &[b"name=first-half", b"&note=second-half"],
    );
    assert_eq!(status, 200, "{text}");
    assert!(
        backend.saw("POST /form HTTP/1.1name=first-half&note=second-half"),
        "{:?}",
        backend.seen.lock().unwrap()
    );

    let (status, text) = post_chunked(p.http, "/form", "chunk.test", &[b"note=ev", b"il-split"]);
    assert_eq!(status, 403, "{text}");
    assert!(
        !backend.saw("il-split"),
        "a blocked body reached the backend"
    );

    // The same connection pool keeps serving bodiless and body requests alike.
    assert_eq!(get(p.http, "/after?q=fine", "chunk.test").0, 200);
    let (status, _) = request(p.http, "POST", "/form", "chunk.test", b"plain=length-body");
    assert_eq!(status, 200);
    assert!(backend.saw("plain=length-body"));
}

#[test]
fn exclusion_by_id_lets_a_benign_request_through() {
    let (scratch, _backend) = app_behind("waf-excl", "strict.test");
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
fn builtin_rules_block_an_attack() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let (scratch, backend) = app_behind("waf-builtin", "shop.test");
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
fn a_broken_exclusions_configmap_falls_back_to_the_plain_policy() {
    let scratch = Scratch::new("waf-cm-bad");
    let backend = Recorder::start();
    scratch.write_manifest("svc.yaml", &service_yaml("app", backend.addr));
    scratch.write_manifest(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: bad, namespace: default }\ndata:\n  after.conf: |\n    SecRule ARGS \"@nosuch x\" \"id:5002,phase:2,pass\"\n",
    );
    scratch.write_manifest(
        "a.yaml",
        &ingress_with(
            "a",
            "bad.test",
            "app",
            &[("waf-exclusions-configmap", "bad")],
        ),
    );
    let p = start(&scratch, &config(&scratch, ""), true);
    assert_eq!(
        get(p.http, "/?q=evil", "bad.test").0,
        403,
        "still protected"
    );
    assert!(
        p.log_text()
            .contains("using the policy without this Ingress's exclusions")
    );
}

#[test]
fn buffered_logs_are_written_when_the_worker_goes_idle() {
    // Both runtimes: the shared multi-thread one and thread-per-core workers.
    for (tag, workers) in [
        ("waf-logflush-mt", ""),
        ("waf-logflush-w2", "  workers: 2\n"),
    ] {
        let (scratch, _backend) = app_behind(tag, "block.test");
        // An hour-long bound: only a worker going idle (its park hook) writes the lines out.
        let cfg = config(&scratch, "  log_flush: 1h\n").replacen(
            "proxy:\n",
            &format!("proxy:\n{workers}"),
            1,
        );
        let p = start(&scratch, &cfg, true);
        for i in 0..3 {
            let (status, body) = get(p.http, &format!("/search?q=evil-{i}"), "block.test");
            assert_eq!(status, 403, "{body}");
        }
        eventually("every blocked request in the error log", || {
            let log = error_log(&scratch);
            (0..3).all(|i| log.contains(&format!("[uri \"/search?q=evil-{i}\"]")))
        });
        eventually("and in the audit log", || {
            let audit =
                std::fs::read_to_string(scratch.0.join("waf-audit.log")).unwrap_or_default();
            audit.lines().count() == 3
        });
        // Whole lines, each once.
        let log = error_log(&scratch);
        assert_eq!(
            log.lines().filter(|l| l.contains("[id \"1001\"]")).count(),
            3,
            "{log}"
        );
    }
}
