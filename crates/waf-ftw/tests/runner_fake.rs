//! The runner against a fake WAF: judging logic, overrides, and that every CRS test file loads.

use std::path::{Path, PathBuf};

use portcullis_waf_ftw::albedo::HttpResponse;
use portcullis_waf_ftw::request::HttpRequest;
use portcullis_waf_ftw::runner::{Filter, run_tests};
use portcullis_waf_ftw::waf::{Exchange, RuleHit, Waf};
use portcullis_waf_ftw::{Overrides, Verdict};

/// Logs rule 1 when the body contains "attack", rule 2 (nolog) always; answers via the backend.
struct FakeWaf;

impl Waf for FakeWaf {
    fn exchange(
        &self,
        request: &HttpRequest,
        backend: &mut dyn FnMut(&HttpRequest) -> HttpResponse,
    ) -> Exchange {
        let mut hits = vec![RuleHit {
            id: 2,
            log: false,
            ..RuleHit::default()
        }];
        if request.body.windows(6).any(|w| w == b"attack") {
            hits.push(RuleHit {
                id: 1,
                log: true,
                msg: "found attack".into(),
                ..RuleHit::default()
            });
        }
        let response = backend(request);
        Exchange {
            status: Some(response.status),
            response: response.body,
            hits,
        }
    }
}

fn crs_tests() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs/tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

#[test]
fn judges_stages_from_the_fixture_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fake-suite");
    let overrides = Overrides::parse(
        "- {rule_id: 1, test_ids: [4], reason: front end answers 400}",
        "inline",
    )
    .unwrap();
    let report = run_tests(&FakeWaf, &dir, &overrides, &Filter::default());
    let got: Vec<(String, bool)> = report
        .stages
        .iter()
        .map(|s| (s.title(), matches!(s.verdict, Verdict::Passed)))
        .collect();
    let want = vec![
        ("1-1 stage 1".to_string(), true),
        ("1-2 stage 1".to_string(), true),
        ("1-3 stage 1".to_string(), false),
        ("1-4 stage 1".to_string(), false),
        ("1-5 stage 1".to_string(), true),
        ("1-5 stage 2".to_string(), false),
        ("1-6 stage 1".to_string(), true),
    ];
    assert_eq!(got, want);
    assert!(matches!(
        report.stages[3].verdict,
        Verdict::Overridden {
            would_pass: false,
            ..
        }
    ));
    assert_eq!(
        (report.passed(), report.failed(), report.overridden()),
        (4, 2, 1)
    );
    let mut out = Vec::new();
    report.print(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with("4 passed, 2 failed (1 overridden; pass rate 66.67%)\n"),
        "{text}"
    );
}

#[test]
fn every_crs_test_file_loads_and_builds() {
    let Some(dir) = crs_tests() else { return };
    let report = run_tests(&FakeWaf, &dir, &Overrides::default(), &Filter::default());
    assert!(report.load_errors.is_empty(), "{:?}", report.load_errors);
    let bad: Vec<_> = report
        .stages
        .iter()
        .filter(|s| s.problems.iter().any(|p| p.starts_with("bad input")))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(
        report.stages.len() >= 3700,
        "only {} stages",
        report.stages.len()
    );
}

#[test]
fn bundled_overrides_parse_and_have_reasons() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/overrides.yaml")).unwrap();
    Overrides::parse(&text, "overrides.yaml").unwrap();
}
