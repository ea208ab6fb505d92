//! TX members are stored by slot when a rule spells their name out and in a map when the
//! name is built at run time (`txvars.rs`). Both kinds must read, count, list, change and
//! delete alike, and a `TX:/re/` selector must see both, in name order.

mod engine_support;

use engine_support::{engine, get_tx, tx_var as var};
use portcullis_waf::{Outcome, Transaction};

const RULES: &str = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.score=5,setvar:'tx.name_%{REQUEST_HEADERS.X-Key}=dyn',setvar:tx.name_fixed=lit,setvar:tx.gone=1"
SecRule TX:/^name_/ "@rx ^(dyn|lit)$" "id:2,phase:1,pass,log,setvar:'tx.seen=%{tx.seen}|%{MATCHED_VAR_NAME}'"
SecRule &TX:score "@eq 1" "id:3,phase:1,pass,log"
SecRule TX:score "@ge %{tx.unset_threshold}" "id:4,phase:1,pass,log"
SecAction "id:5,phase:1,pass,nolog,setvar:tx.score=+%{tx.score},setvar:!tx.gone,setvar:'tx.name_%{REQUEST_HEADERS.X-Key}=+7'"
SecRule TX:score "@eq 10" "id:6,phase:1,pass,log"
SecRule &TX:gone "@eq 0" "id:7,phase:1,pass,log"
SecRule TX:/^name_/ "@rx ^7$" "id:8,phase:1,pass,log,capture,setvar:tx.dynamic=%{MATCHED_VAR_NAME}"
SecRule &TX:/^name_/ "@eq 2" "id:9,phase:1,deny,status:403,log"
"#;

fn run(key: &str) -> (Outcome, Transaction) {
    let mut tx = get_tx(&engine(RULES, true), "/");
    tx.request_header(b"X-Key", key.as_bytes());
    let out = tx.process_request_headers();
    (out, tx)
}

#[test]
fn spelled_out_and_run_time_members_behave_alike() {
    let (out, tx) = run("Abc");
    let ids: Vec<u64> = tx.matched_rules().iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(out, Outcome::Deny { status: 403 });
    // The selector lists the run-time member (lower-cased) before the spelled-out one.
    assert_eq!(
        var(&tx, "seen").as_deref(),
        Some("|TX:name_abc|TX:name_fixed")
    );
    assert_eq!(var(&tx, "score").as_deref(), Some("10"));
    assert_eq!(var(&tx, "gone"), None);
    assert_eq!(var(&tx, "name_abc").as_deref(), Some("7"));
    assert_eq!(
        var(&tx, "NAME_ABC").as_deref(),
        Some("7"),
        "names are case-insensitive"
    );
    assert_eq!(var(&tx, "dynamic").as_deref(), Some("TX:name_abc"));
    assert_eq!(var(&tx, "0").as_deref(), Some("7"), "capture slot");
}

#[test]
fn a_run_time_name_equal_to_a_spelled_out_one_is_that_member() {
    // `name_fixed` has a slot: the run-time name lands in it instead of a second member.
    let (out, tx) = run("fixed");
    assert_eq!(var(&tx, "name_fixed").as_deref(), Some("7"));
    let ids: Vec<u64> = tx.matched_rules().iter().map(|r| r.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        out,
        Outcome::Pass,
        "one name_ member only: rule 9 does not match"
    );
    assert_eq!(var(&tx, "seen").as_deref(), Some("|TX:name_fixed"));
}

/// `TX:name` and `&TX:name` links are read from the member directly (`Link::direct_tx`);
/// the same link with a no-op exclusion takes the extraction path. Both must give the same
/// matches, MATCHED_VAR and MATCHED_VAR_NAME; and a target added by
/// `SecRuleUpdateTargetById` turns the direct read off.
#[test]
fn direct_member_reads_agree_with_extraction() {
    const DIRECT: &str = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.set=5"
SecRule &TX:unset "@eq 0" "id:2,phase:1,pass,log,setvar:'tx.a2=%{MATCHED_VAR}|%{MATCHED_VAR_NAME}'"
SecRule &TX:unset|!TX:zzz "@eq 0" "id:3,phase:1,pass,log,setvar:'tx.a3=%{MATCHED_VAR}|%{MATCHED_VAR_NAME}'"
SecRule &TX:set "@eq 1" "id:4,phase:1,pass,log,setvar:'tx.a4=%{MATCHED_VAR}|%{MATCHED_VAR_NAME}'"
SecRule &TX:set|!TX:zzz "@eq 1" "id:5,phase:1,pass,log,setvar:'tx.a5=%{MATCHED_VAR}|%{MATCHED_VAR_NAME}'"
SecRule TX:set "@eq 5" "id:6,phase:1,pass,log,setvar:'tx.a6=%{MATCHED_VAR}|%{MATCHED_VAR_NAME}'"
SecRule TX:set|!TX:zzz "@eq 5" "id:7,phase:1,pass,log,setvar:'tx.a7=%{MATCHED_VAR}|%{MATCHED_VAR_NAME}'"
SecRule &TX:set "@eq 0" "id:8,phase:1,pass,log"
SecRule TX:unset "@eq 0" "id:9,phase:1,pass,log"
SecRule TX:set "@eq 0" "id:10,phase:1,deny,status:403,log"
SecRuleUpdateTargetById 10 "ARGS:x"
"#;
    for memo in [true, false] {
        let engine = engine(DIRECT, memo);
        let mut tx = get_tx(&engine, "/?x=0");
        let out = tx.process_request_headers();
        let ids: Vec<u64> = tx.matched_rules().iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 10], "memo {memo}");
        assert_eq!(
            out,
            Outcome::Deny { status: 403 },
            "the added ARGS:x target"
        );
        assert_eq!(var(&tx, "a2"), var(&tx, "a3"));
        assert_eq!(var(&tx, "a2").as_deref(), Some("0|TX"));
        assert_eq!(var(&tx, "a4"), var(&tx, "a5"));
        assert_eq!(var(&tx, "a4").as_deref(), Some("1|TX"));
        assert_eq!(var(&tx, "a6"), var(&tx, "a7"));
        assert_eq!(var(&tx, "a6").as_deref(), Some("5|TX:set"));
    }
}

/// Numeric checks of one TX member against a literal are decided before the rule is read
/// (`engine.rs`, `Gate`); they must decide as the operator does: C-style reading of both
/// sides, `@eq` through `stoi` (out of the int range reads as 0), `&TX:x` as 1 or 0, an
/// unset member matching nothing, `!` and macros left to the rule.
#[test]
fn numeric_checks_of_one_member_decide_as_the_operator() {
    let rules = r#"
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.n=%{REQUEST_HEADERS.X-N},setvar:tx.two=2"
SecRule TX:n "@lt 2" "id:10,phase:1,pass,log"
SecRule TX:n "@ge 2" "id:11,phase:1,pass,log,setvar:'tx.seen11=%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule TX:n "@eq 3" "id:12,phase:1,pass,log"
SecRule TX:n "@eq 99999999999" "id:13,phase:1,pass,log"
SecRule TX:n "@gt -1" "id:14,phase:1,pass,log"
SecRule TX:n "@le 0" "id:15,phase:1,pass,log"
SecRule TX:n "!@lt 2" "id:16,phase:1,pass,log"
SecRule TX:n "@lt %{tx.two}" "id:17,phase:1,pass,log"
SecRule &TX:n "@eq 1" "id:18,phase:1,pass,log,setvar:'tx.seen18=%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule &TX:unset "@eq 0" "id:19,phase:1,pass,log"
SecRule TX:unset "@lt 5" "id:20,phase:1,pass,log"
SecRule TX:n "@lt 2" "id:21,phase:1,pass,log,chain"
  SecRule TX:two "@eq 2" "setvar:tx.chained=1"
SecRule TX:n "@ge 2" "id:31,phase:1,pass,nolog,capture,setvar:'tx.seen31=%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule &TX:n "@eq 1" "id:38,phase:1,pass,nolog,capture,setvar:'tx.seen38=%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
"#;
    let cases: &[(&str, &[u64])] = &[
        ("1", &[10, 14, 17, 18, 19, 21]),
        ("3", &[11, 12, 14, 16, 18, 19]),
        (" 0x", &[10, 13, 14, 15, 17, 18, 19, 21]),
        ("-7", &[10, 15, 17, 18, 19, 21]),
        ("99999999999", &[11, 13, 14, 16, 18, 19]),
    ];
    for memo in [false, true] {
        let engine = engine(rules, memo);
        for (value, expected) in cases {
            let mut tx = get_tx(&engine, "/");
            tx.request_header(b"X-N", value.as_bytes());
            tx.process_request_headers();
            let ids: Vec<u64> = tx
                .matched_rules()
                .iter()
                .map(|r| r.id)
                .filter(|&id| (10..30).contains(&id))
                .collect();
            assert_eq!(&ids, expected, "X-N: {value:?}");
            let chained = expected.contains(&21);
            assert_eq!(var(&tx, "chained").is_some(), chained, "X-N: {value:?}");
            // A hit the gate decides (11, 18) sets MATCHED_VAR(_NAME) as one the operator
            // decides (31, 38: `capture` keeps them on the long way).
            assert_eq!(var(&tx, "seen11"), var(&tx, "seen31"), "X-N: {value:?}");
            assert_eq!(var(&tx, "seen18"), var(&tx, "seen38"), "X-N: {value:?}");
            assert_eq!(
                var(&tx, "seen11").is_some(),
                expected.contains(&11),
                "X-N: {value:?}"
            );
            assert!(var(&tx, "seen18").is_some(), "X-N: {value:?}");
        }
    }
}

/// Captures and the buffers of run-time members are reused from one transaction to the
/// next on a thread: nothing of one transaction may show in the next.
#[test]
fn reused_buffers_carry_nothing_into_the_next_transaction() {
    let e = engine(
        r#"
SecRuleEngine On
SecRule ARGS:a "@rx (x+)" "id:1,phase:1,pass,nolog,capture,setvar:'tx.first=%{tx.0}'"
SecRule ARGS:b "@eq 1" "id:2,phase:1,pass,nolog,capture,setvar:'tx.second=%{tx.0}'"
SecRule ARGS:c "@rx ." "id:3,phase:1,pass,nolog,setvar:'tx.dyn_%{ARGS.c}=%{ARGS.c}'"
"#,
        true,
    );
    let run = |uri: &str| {
        let mut tx = get_tx(&e, uri);
        assert_eq!(tx.process_request_headers(), Outcome::Pass);
        tx
    };
    let tx = run("/?a=xxx&c=k1");
    assert_eq!(var(&tx, "first").as_deref(), Some("xxx"));
    assert_eq!(var(&tx, "dyn_k1").as_deref(), Some("k1"));
    drop(tx);
    let tx = run("/?b=1&c=k2");
    assert_eq!(var(&tx, "0"), None, "a capture of the previous transaction");
    assert_eq!(var(&tx, "second").as_deref(), Some(""));
    assert_eq!(var(&tx, "dyn_k2").as_deref(), Some("k2"));
    assert_eq!(var(&tx, "dyn_k1"), None);
}

/// The JSON processor's buffers are reused by the next body on the thread: its arguments,
/// container names and a malformed body's partial arguments never show in the next one's.
#[test]
fn reused_json_buffers_carry_nothing_into_the_next_body() {
    let e = engine(
        r#"
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule ARGS "@rx ." "id:2,phase:2,pass,nolog,setvar:'tx.args=%{tx.args}|%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule REQBODY_ERROR "@eq 1" "id:3,phase:2,pass,nolog,setvar:tx.error=1"
"#,
        true,
    );
    let run = |body: &str| {
        let mut tx = get_tx(&e, "/");
        tx.request_header(b"Content-Type", b"application/json");
        assert_eq!(tx.process_request_headers(), Outcome::Pass);
        tx.request_body_chunk(body.as_bytes());
        assert_eq!(tx.process_request_body(), Outcome::Pass);
        (var(&tx, "args").unwrap_or_default(), var(&tx, "error"))
    };
    assert_eq!(
        run(r#"{"outer":{"inner":[1,"two"]},"k":"v"}"#),
        (
            "|ARGS:json.outer.inner.array_0=1|ARGS:json.outer.inner.array_1=two|ARGS:json.k=v"
                .to_string(),
            None
        )
    );
    assert_eq!(run(r#"{"a":"b"}"#), ("|ARGS:json.a=b".to_string(), None));
    // Malformed: the error, and no arguments (the request path keeps none of a body that
    // failed to parse).
    assert_eq!(
        run(r#"{"x":{"y":"z","#),
        (String::new(), Some("1".to_string()))
    );
    assert_eq!(
        run(r#"[true]"#),
        ("|ARGS:json.array_0=true".to_string(), None)
    );
}
