//! The value memo (`memo.rs`) remembers, per thread and engine, that an operator does not
//! match a value. Whatever it remembers, a transaction must behave as if every operator ran:
//! other operators on the same value, negated operators, captures on repeated matching
//! values, remembered transformation results, another engine on the same thread, and a memo
//! that overflows and is cleared.

mod engine_support;

use engine_support::{engine, get_tx, tx_var};
use portcullis_waf::{Engine, Outcome, Transaction};
use std::sync::Arc;

/// A GET of `uri` through phases 1, 2 and 5.
fn get(engine: &Arc<Engine>, uri: &str) -> (Outcome, Transaction) {
    let mut tx = get_tx(engine, uri);
    let mut out = tx.process_request_headers();
    if out == Outcome::Pass {
        out = tx.process_request_body();
    }
    tx.process_logging();
    (out, tx)
}

fn ids(tx: &Transaction) -> Vec<u64> {
    tx.matched_rules().iter().map(|r| r.id).collect()
}

const RULES: &str = r#"
SecRuleEngine On
SecRule ARGS "@rx ^foo" "id:1,phase:2,pass,log"
SecRule ARGS "@rx ^bar" "id:2,phase:2,pass,log"
SecRule ARGS "!@rx ^[0-9]+$" "id:3,phase:2,pass,log"
SecRule ARGS "@rx ([0-9]{3})" "id:4,phase:2,pass,log,capture,setvar:tx.num=%{tx.1}"
SecRule ARGS "@pm evil" "id:5,phase:2,deny,status:403,log"
SecRule ARGS "@rx ^union select" "id:6,phase:2,pass,log,t:none,t:lowercase,t:urlDecodeUni"
SecRule ARGS "@rx ^UNION%20" "id:7,phase:2,pass,log,t:none"
SecRule ARGS "@rx ^<x" "id:8,phase:2,pass,log,t:none,t:urlDecodeUni,t:htmlEntityDecode,multiMatch"
SecRule ARGS "@rx ^<y" "id:9,phase:2,pass,log,t:none,t:lowercase,multiMatch"
"#;

#[test]
fn repeated_values_give_the_same_matches_as_without_the_memo() {
    let with = engine(RULES, true);
    let without = engine(RULES, false);
    let uris = [
        "/?a=bar", // 2 and 3 match; 1, 4, 5 remembered as no match for "bar"
        "/?a=bar", // the same again: the remembered no-matches must not hide 2 and 3
        "/?a=foo&b=bar",
        "/?a=123",     // 4 captures, 3 (negated) does not match
        "/?a=123",     // again: 4 must capture again (matches are never remembered)
        "/?a=x456",    // 3 and 4
        "/?a=bar",     // back to a remembered value
        "/?a=evil",    // denied
        "/?a=barevil", // both 2 and 5 (5 denies)
        "/?a=bar",
        "/?a=UNION%2520SELECT", // 6 through its chain, 7 on the raw value
        "/?a=UNION%2520SELECT", // the chain's result remembered: still 6 and 7
        "/?a=union%2520select", // another raw value, the same result: 6 only
        "/?a=%253Cx",           // 8 on the value after urlDecodeUni (multiMatch steps)
        "/?a=%253Cx",           // the steps' results remembered: 8 again
        "/?a=%26lt;x",          // 8 only after htmlEntityDecode, the second step
        "/?a=%26lt;x",
        "/?a=%2526lt;y", // two steps, no match: both multiMatch summaries lack their slot
        "/?a=%2526lt;y",
        "/?a=%3CY%25", // 9 after lowercase; 8's summary of the value lacks 8's and 9's slots
        "/?a=%3CY%25", // 8 passed over by its summary, 9 (another chain) still matches
        "/?a=%253Cx&b=%3CY%25",
    ];
    for (round, uri) in uris.iter().enumerate() {
        let (out_with, tx_with) = get(&with, uri);
        let (out_without, tx_without) = get(&without, uri);
        assert_eq!(out_with, out_without, "round {round} {uri}");
        assert_eq!(ids(&tx_with), ids(&tx_without), "round {round} {uri}");
        assert_eq!(
            tx_var(&tx_with, "num"),
            tx_var(&tx_without, "num"),
            "round {round} {uri}"
        );
    }
    // And the expectations themselves, so the comparison is not vacuous.
    let (_, tx) = get(&with, "/?a=bar");
    assert_eq!(ids(&tx), [2, 3]);
    let (_, tx) = get(&with, "/?a=123");
    assert_eq!(ids(&tx), [4]);
    assert_eq!(tx_var(&tx, "num").as_deref(), Some("123"));
    let (out, _) = get(&with, "/?a=evil");
    assert_eq!(out, Outcome::Deny { status: 403 });
    let (_, tx) = get(&with, "/?a=UNION%2520SELECT");
    assert_eq!(ids(&tx), [3, 6, 7]);
    let (_, tx) = get(&with, "/?a=union%2520select");
    assert_eq!(ids(&tx), [3, 6]);
    let (_, tx) = get(&with, "/?a=%253Cx");
    assert_eq!(ids(&tx), [3, 8]);
    let (_, tx) = get(&with, "/?a=%26lt;x");
    assert_eq!(ids(&tx), [3, 8]);
    let (_, tx) = get(&with, "/?a=%2526lt;y");
    assert_eq!(ids(&tx), [3]);
    let (_, tx) = get(&with, "/?a=%3CY%25");
    assert_eq!(ids(&tx), [3, 9]);
}

#[test]
fn each_engine_has_its_own_memo() {
    // Slot 0 of both engines is an @rx on ARGS; "b" does not match the first engine's,
    // and the second engine, on the same thread, must not inherit that verdict.
    let first = engine(r#"SecRule ARGS "@rx ^a$" "id:1,phase:2,pass,log""#, true);
    let second = engine(r#"SecRule ARGS "@rx ^b$" "id:1,phase:2,pass,log""#, true);
    for _ in 0..3 {
        let (_, tx) = get(&first, "/?x=b");
        assert!(ids(&tx).is_empty());
        let (_, tx) = get(&second, "/?x=b");
        assert_eq!(ids(&tx), [1]);
    }
}

#[test]
fn a_full_memo_is_cleared_without_changing_results() {
    let e = engine(RULES, true);
    // Far more distinct values than the memo holds, with a remembered one in between.
    // Distinct letter-only values (digits would let rule 4 match).
    let letters = |mut i: usize| {
        let mut s = String::from("v");
        loop {
            s.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return s;
            }
        }
    };
    for i in 0..10_000 {
        let (_, tx) = get(&e, &format!("/?a={}&b=bar", letters(i)));
        assert_eq!(ids(&tx), [2, 3], "request {i}");
        if i % 1000 == 0 {
            let (_, tx) = get(&e, "/?a=123");
            assert_eq!(ids(&tx), [4]);
        }
    }
    // Values too long to be memoised are evaluated every time.
    let long = format!("/?a=foo{}", "x".repeat(2000));
    for _ in 0..3 {
        let (_, tx) = get(&e, &long);
        assert_eq!(ids(&tx), [1, 3]);
    }
}
