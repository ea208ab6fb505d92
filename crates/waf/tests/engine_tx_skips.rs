//! Plain TX hits (`GateTest::Tx::plain`): a one-link rule whose TX comparison holds and
//! whose match does nothing but set MATCHED_VAR(S), record the match and jump — CRS's
//! paranoia-level skips — is taken from the engine's dense tables without reading the rule.
//! It must leave exactly what evaluating the rule leaves: the outcome, the matches with
//! their MATCHED_VAR, MATCHED_VAR(S) and RULE for the rules after, the jump; and a rule
//! removed at run time, or with a target removed, must not match. Compared with an engine
//! without fast paths.

mod engine_support;

use engine_support::{engine_with, get_tx, tx_var};
use portcullis_waf::{Engine, MatchedRule, Outcome, RuleEngineMode, Transaction};
use std::sync::Arc;

const RULES: &str = r#"
SecRuleEngine On
SecRule REQUEST_HEADERS:X-PL "@rx ^(\d)$" "id:1,phase:1,pass,nolog,capture,setvar:tx.pl=%{tx.1}"
SecRule &TX:pl "@eq 0" "id:2,phase:1,pass,nolog,setvar:tx.pl=1"
SecRule REQUEST_HEADERS:X-Remove "@rx ^10$" "id:3,phase:1,pass,nolog,ctl:ruleRemoveById=10"
SecRule REQUEST_HEADERS:X-Remove "@rx ^13$" "id:5,phase:1,pass,nolog,ctl:ruleRemoveById=13"
SecRule REQUEST_HEADERS:X-Target "@rx ^yes" "id:4,phase:1,pass,nolog,ctl:ruleRemoveTargetById=10;TX:pl"
SecRule TX:pl "@lt 2" "id:10,phase:1,pass,nolog,tag:'paranoia-level/2',skipAfter:END-PL2"
SecRule ARGS "@rx x" "id:11,phase:1,deny,status:403,log,msg:'PL2 rule'"
SecMarker END-PL2
SecAction "id:12,phase:1,pass,log,msg:'after %{MATCHED_VAR_NAME}=%{MATCHED_VAR} in %{RULE.id}',setvar:tx.seen=%{MATCHED_VAR_NAME}"
SecRule &TX:pl "@eq 1" "id:13,phase:1,block,nolog,skipAfter:END-COUNT"
SecRule ARGS "@rx y" "id:14,phase:1,deny,status:403,log"
SecMarker END-COUNT
SecRule TX:pl "@ge 1" "id:15,phase:1,pass,nolog"
SecRule MATCHED_VAR "@rx ^(\d)$" "id:16,phase:1,pass,log,capture,setvar:tx.last=%{tx.1}-%{MATCHED_VAR_NAME}"
SecRule TX:pl "@lt 3" "id:17,phase:1,pass,nolog,skipAfter:NO-SUCH-MARKER"
SecRule ARGS "@rx z" "id:18,phase:1,deny,status:403,log"
"#;

type Seen = (Outcome, Vec<MatchedRule>, Vec<Option<String>>);
/// A request: URI, extra headers, DetectionOnly.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, bool);

fn run(engine: &Arc<Engine>, uri: &str, headers: &[(&str, &str)], detect: bool) -> Seen {
    let mut tx: Transaction = get_tx(engine, uri);
    for (k, v) in headers {
        tx.request_header(k.as_bytes(), v.as_bytes());
    }
    if detect {
        tx.set_rule_engine(RuleEngineMode::DetectionOnly);
    }
    let outcome = tx.process_request_headers();
    let vars = ["pl", "seen", "last"]
        .iter()
        .map(|v| tx_var(&tx, v))
        .collect();
    (outcome, tx.matched_rules().to_vec(), vars)
}

#[test]
fn plain_tx_hits_leave_what_evaluating_the_rules_leaves() {
    let (fast, slow) = (
        engine_with(RULES, true, true),
        engine_with(RULES, false, false),
    );
    let cases: Vec<Case> = vec![
        ("/", vec![], false),
        ("/?a=x", vec![], false),
        ("/?a=x", vec![("X-PL", "2")], false),
        ("/?a=y", vec![], false),
        ("/?a=y", vec![("X-PL", "2")], false),
        ("/?a=z", vec![], false),
        ("/?a=z", vec![("X-PL", "3")], false),
        ("/?a=x", vec![("X-Remove", "10")], false),
        ("/?a=y", vec![("X-Remove", "13")], false),
        ("/?a=x", vec![("X-Target", "yes")], false),
        ("/?a=x", vec![("X-PL", "2")], true),
        ("/?a=z", vec![], true),
    ];
    for (uri, headers, detect) in &cases {
        for round in 0..2 {
            let got = run(&fast, uri, headers, *detect);
            let want = run(&slow, uri, headers, *detect);
            assert_eq!(got, want, "{uri} {headers:?} detect {detect} round {round}");
        }
    }

    // The cases do what they are meant to.
    let ids = |s: &Seen| s.1.iter().map(|m| m.id).collect::<Vec<_>>();
    let plain = run(&fast, "/?a=x", &[], false);
    assert_eq!(plain.0, Outcome::Pass);
    assert_eq!(ids(&plain), [2, 10, 12, 13, 15, 16, 17]);
    let skip = &plain.1[1];
    assert_eq!(
        (skip.matched_var_name.as_str(), &skip.matched_var[..]),
        ("TX:pl", &b"1"[..])
    );
    assert_eq!(plain.1[2].msg, "after TX:pl=1 in 12");
    assert_eq!(plain.2[1].as_deref(), Some("TX:pl"));
    assert_eq!(plain.2[2].as_deref(), Some("1-MATCHED_VAR"));
    let count = &plain.1[3];
    assert_eq!(
        (count.matched_var_name.as_str(), &count.matched_var[..]),
        ("TX", &b"1"[..])
    );
    // PL 2: rule 10 does not match, rule 11 denies.
    let pl2 = run(&fast, "/?a=x", &[("X-PL", "2")], false);
    assert_eq!(pl2.0, Outcome::Deny { status: 403 });
    // Removed at run time: no match, no jump.
    let removed = run(&fast, "/?a=x", &[("X-Remove", "10")], false);
    assert_eq!(removed.0, Outcome::Deny { status: 403 });
    let untargeted = run(&fast, "/?a=x", &[("X-Target", "yes")], false);
    assert_eq!(untargeted.0, Outcome::Deny { status: 403 });
    // A skipAfter to a missing marker skips to the end of the phase.
    assert_eq!(run(&fast, "/?a=z", &[], false).0, Outcome::Pass);
    assert_eq!(
        run(&fast, "/?a=z", &[("X-PL", "3")], false).0,
        Outcome::Deny { status: 403 }
    );
    // DetectionOnly jumps too.
    let detect = run(&fast, "/?a=z", &[], true);
    assert_eq!(ids(&detect), [2, 10, 12, 13, 15, 16, 17]);
}
