//! Phase 1's prologue (`prologue.rs`): the rules that read and write only TX, run once by
//! the engine and replayed into each transaction, must leave exactly what evaluating them
//! leaves — TX, the matches with their MATCHED_VAR (a `SecAction` records the MATCHED_VAR it
//! finds, which may come from a rule before the prologue), MATCHED_VAR(S) for the rules
//! after — and a transaction that removes one of them, or turns the engine off before them,
//! must evaluate them itself. Compared with an engine without fast paths (no prologue).

mod engine_support;

use engine_support::{engine_with, get_tx};
use portcullis_waf::{Engine, MatchedRule, Outcome, RuleEngineMode, Transaction};
use std::sync::Arc;

const RULES: &str = r#"
SecRuleEngine On
SecRule REQUEST_HEADERS:X-Off "@rx ^off" "id:2,phase:1,pass,nolog,ctl:ruleEngine=Off"
SecRule REQUEST_HEADERS:X-Remove "@rx ^five" "id:3,phase:1,pass,nolog,ctl:ruleRemoveById=5"
SecRule REQUEST_HEADERS:X-Quiet "@rx ^yes" "id:1,phase:1,pass,log,msg:'quiet %{MATCHED_VAR}'"
SecAction "id:4,phase:1,pass,nolog,setvar:tx.version=42"
SecRule &TX:level "@eq 0" "id:5,phase:1,pass,nolog,setvar:tx.level=2"
SecRule &TX:detect "@eq 0" "id:6,phase:1,pass,nolog,setvar:'tx.detect=%{tx.level}'"
SecRule &TX:version "@eq 0" "id:7,phase:1,deny,log,msg:'no setup'"
SecAction "id:8,phase:1,pass,nolog,setvar:tx.score=0,setvar:tx.score=+%{tx.detect}"
SecRule TX:level "@ge 2" "id:9,phase:1,pass,nolog,setvar:tx.high=1"
SecRule ARGS "@rx attack" "id:10,phase:1,pass,log,msg:'after %{MATCHED_VAR_NAME} %{tx.score}',setvar:tx.score=+5"
SecAction "id:11,phase:1,pass,log,msg:'last match %{MATCHED_VAR}'"
SecRule TX:score "@ge 7" "id:12,phase:1,deny,status:403,log,msg:'score %{tx.score}'"
"#;

type Seen = (Outcome, Vec<MatchedRule>, Vec<Option<String>>);
/// A request: URI, extra headers, and what is done to the transaction before phase 1.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, fn(&mut Transaction));

fn run(
    engine: &Arc<Engine>,
    uri: &str,
    headers: &[(&str, &str)],
    setup: fn(&mut Transaction),
) -> Seen {
    let mut tx = get_tx(engine, uri);
    for (k, v) in headers {
        tx.request_header(k.as_bytes(), v.as_bytes());
    }
    setup(&mut tx);
    let outcome = tx.process_request_headers();
    let vars = ["version", "level", "detect", "score", "high"]
        .iter()
        .map(|v| engine_support::tx_var(&tx, v))
        .collect();
    (outcome, tx.matched_rules().to_vec(), vars)
}

#[test]
fn the_prologue_leaves_what_evaluating_its_rules_leaves() {
    let (fast, slow) = (
        engine_with(RULES, true, true),
        engine_with(RULES, false, false),
    );
    let none: fn(&mut Transaction) = |_| {};
    let removes_6: fn(&mut Transaction) = |tx| tx.remove_rules_by_id(&[(6, 6)]);
    let detection: fn(&mut Transaction) = |tx| tx.set_rule_engine(RuleEngineMode::DetectionOnly);
    let cases: Vec<Case> = vec![
        ("/", vec![], none),
        ("/?a=attack", vec![], none),
        ("/?a=attack", vec![("X-Quiet", "yes please")], none),
        ("/", vec![("X-Quiet", "yes")], none),
        ("/?a=attack", vec![("X-Off", "off")], none),
        ("/?a=attack", vec![("X-Remove", "five")], none),
        ("/?a=attack", vec![], removes_6),
        ("/?a=attack", vec![("X-Quiet", "yes")], detection),
    ];
    for (uri, headers, setup) in &cases {
        // Twice: the first transaction computes the prologue, the second replays it.
        for round in 0..2 {
            let got = run(&fast, uri, headers, *setup);
            let want = run(&slow, uri, headers, *setup);
            assert_eq!(got, want, "{uri} {headers:?} round {round}");
        }
    }
    // The cases do what they are meant to: the defaults, the score, the deny after them.
    let (outcome, matched, vars) = run(&fast, "/?a=attack", &[("X-Quiet", "yes")], none);
    assert_eq!(outcome, Outcome::Deny { status: 403 });
    let ids: Vec<u64> = matched.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1, 4, 5, 6, 8, 9, 10, 11, 12]);
    // SecAction 4 records the MATCHED_VAR of rule 1, before the prologue.
    assert_eq!(matched[1].matched_var, b"yes");
    assert_eq!(matched[7].msg, "last match attack");
    assert_eq!(
        vars,
        [Some("42"), Some("2"), Some("2"), Some("7"), Some("1")].map(|v| v.map(String::from))
    );
    let (_, matched, vars) = run(&fast, "/", &[("X-Remove", "five")], none);
    assert!(matched.iter().all(|m| m.id != 5));
    assert_eq!(vars[1], None, "rule 5 removed: no level");
}
