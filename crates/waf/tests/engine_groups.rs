//! Target groups' unions (`groups.rs`): a group's union is built from its atoms' byte-class
//! signatures when an atom has many values (the OR of a signature's live bits stands for all
//! of its values under a chain that cannot change them), value by value otherwise. Whatever
//! the path, a rule must match exactly the values it matches with every fast path off.

mod engine_support;

use engine_support::{engine_with, get_tx};
use portcullis_waf::{Engine, Transaction};
use std::sync::Arc;

/// Gated (`@rx` with literals), memoised without a literal (`@rx ^\d+$` negated is not;
/// `@validateByteRange` is) and chained links over ARGS under chains that change some
/// values (`lowercase`: upper-case letters; `urlDecodeUni`: `%`) and leave others alone.
const RULES: &str = r#"
SecRuleEngine DetectionOnly
SecRule ARGS "@rx attack" "id:1,phase:1,pass,log,t:none,t:lowercase,setvar:'tx.m1=%{tx.m1} %{MATCHED_VAR_NAME}'"
SecRule ARGS "@rx attack" "id:2,phase:1,pass,log,t:none,t:urlDecodeUni,setvar:'tx.m2=%{tx.m2} %{MATCHED_VAR_NAME}'"
SecRule ARGS "@rx attack" "id:3,phase:1,pass,log,t:none,setvar:'tx.m3=%{tx.m3} %{MATCHED_VAR_NAME}'"
SecRule ARGS_NAMES|ARGS "@validateByteRange 32-126" "id:4,phase:1,pass,log,t:none,t:urlDecodeUni,setvar:'tx.m4=%{tx.m4} %{MATCHED_VAR_NAME}'"
SecRule ARGS "@pm needle" "id:5,phase:1,pass,log,t:none,t:lowercase,t:urlDecodeUni,setvar:'tx.m5=%{tx.m5} %{MATCHED_VAR_NAME}'"
"#;

/// `n` plain arguments with `special` (name, value) pairs among them.
fn query(n: usize, special: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = (0..n).map(|i| format!("a{i}=value{i}")).collect();
    for (i, (k, v)) in special.iter().enumerate() {
        parts.insert((i * 7) % (parts.len() + 1), format!("{k}={v}"));
    }
    format!("/?{}", parts.join("&"))
}

fn outcome(engine: &Arc<Engine>, uri: &str) -> (Vec<u64>, Vec<Option<String>>) {
    let mut tx: Transaction = get_tx(engine, uri);
    tx.process_request_headers();
    let ids = tx.matched_rules().iter().map(|r| r.id).collect();
    let vars = ["m1", "m2", "m3", "m4", "m5"]
        .iter()
        .map(|v| engine_support::tx_var(&tx, v))
        .collect();
    (ids, vars)
}

#[test]
fn unions_from_signatures_match_what_the_rules_match_without_fast_paths() {
    let (fast, slow) = (
        engine_with(RULES, true, true),
        engine_with(RULES, false, false),
    );
    let cases: Vec<(String, Vec<u64>)> = vec![
        (query(40, &[]), vec![]),
        (query(40, &[("x", "ATTACK")]), vec![1]),
        (query(40, &[("x", "attack")]), vec![1, 2, 3]),
        // The query is decoded once into ARGS (`%61ttack`); urlDecodeUni decodes it again.
        (query(40, &[("x", "%2561ttack")]), vec![2]),
        (query(40, &[("x", "%61ttack")]), vec![1, 2, 3]),
        (
            query(40, &[("x", "%2561ttack"), ("y", "AtTaCk")]),
            vec![1, 2],
        ),
        (query(40, &[("x", "caf%C3%A9")]), vec![4]),
        (query(40, &[("x", "NEEDLE")]), vec![5]),
        (query(40, &[("x", "%4eeedle")]), vec![5]),
        (
            query(5, &[("x", "ATTACK"), ("y", "%61ttack")]),
            vec![1, 2, 3],
        ),
        (query(5, &[]), vec![]),
    ];
    for (uri, want) in &cases {
        // Twice: the second transaction sees memoised values.
        for round in 0..2 {
            let got = outcome(&fast, uri);
            assert_eq!(got.0, *want, "{uri} round {round}");
            assert_eq!(got, outcome(&slow, uri), "{uri} round {round}");
        }
    }
}

/// Runtime removals (`ctl:ruleRemoveTargetByTag`, as CRS's 941010 removes REQUEST_FILENAME
/// from the XSS rules for nearly every request): the union, computed over every value, still
/// decides for the rules they affect — unless a target is a count, which they change.
#[test]
fn unions_decide_for_rules_with_runtime_removals_except_counts() {
    const REMOVALS: &str = r#"
SecRuleEngine DetectionOnly
SecAction "id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=perf;REQUEST_FILENAME,ctl:ruleRemoveTargetByTag=perf;ARGS_GET:b"
SecRule REQUEST_FILENAME|ARGS "@rx attack" "id:11,phase:1,pass,log,t:none,tag:perf"
SecRule REQUEST_FILENAME|ARGS "@rx attack" "id:12,phase:1,pass,log,t:none,tag:other"
SecRule &ARGS_GET "@rx ^7$" "id:15,phase:1,pass,log,t:none,tag:other"
SecRule &ARGS_GET "@rx ^1$" "id:13,phase:1,pass,log,t:none,tag:perf"
SecRule ARGS_GET "@rx ^x$" "id:14,phase:1,pass,log,t:none,tag:perf"
"#;
    let (fast, slow) = (
        engine_with(REMOVALS, true, true),
        engine_with(REMOVALS, false, false),
    );
    let cases: [(&str, &[u64]); 6] = [
        ("/x?a=b&c=d", &[]),
        ("/attack?a=b&c=d", &[12]),
        ("/x?a=attack&c=d", &[11, 12]),
        ("/x?a=b", &[13]),
        // ARGS_GET:b removed: one argument left, which the union rule 15 computed (over
        // two) misses.
        ("/x?b=x&c=y", &[13]),
        ("/x?b=y&c=x", &[13, 14]),
    ];
    for (uri, want) in cases {
        for round in 0..2 {
            let ids = |engine: &Arc<Engine>| {
                let mut tx = get_tx(engine, uri);
                tx.process_request_headers();
                let ids = tx.matched_rules().iter().map(|r| r.id);
                ids.filter(|&id| id != 10).collect::<Vec<_>>()
            };
            assert_eq!(ids(&fast), want, "{uri} round {round}");
            assert_eq!(ids(&slow), want, "{uri} round {round} without fast paths");
        }
    }
}

/// `multiMatch` links go atom by atom: an atom no step can change is tested on its raw
/// values only, and passed over whole when none has the link's live slot. Whatever the
/// path, the same matches, MATCHED_VARs and setvar order as without fast paths.
#[test]
fn multi_match_links_by_atom_match_what_they_match_without_fast_paths() {
    const MULTI: &str = r#"
SecRuleEngine DetectionOnly
SecRule ARGS_NAMES|ARGS|REQUEST_HEADERS:X-A "@rx attack" "id:21,phase:1,pass,log,t:none,t:urlDecodeUni,t:lowercase,multiMatch,setvar:'tx.m1=%{tx.m1} %{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule ARGS "@pm needle" "id:22,phase:1,pass,log,t:none,t:lowercase,multiMatch,setvar:'tx.m2=%{tx.m2} %{MATCHED_VAR}'"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^Attack$" "id:23,phase:1,pass,log,t:none,t:lowercase,multiMatch,setvar:'tx.m3=%{tx.m3} %{MATCHED_VAR}'"
"#;
    let (fast, slow) = (
        engine_with(MULTI, true, true),
        engine_with(MULTI, false, false),
    );
    let seen = |engine: &Arc<Engine>, uri: &str, header: &str| {
        let mut tx = get_tx(engine, uri);
        tx.request_header(b"X-A", header.as_bytes());
        tx.process_request_headers();
        let ids: Vec<u64> = tx.matched_rules().iter().map(|r| r.id).collect();
        let vars: Vec<Option<String>> = ["m1", "m2", "m3"]
            .iter()
            .map(|v| engine_support::tx_var(&tx, v))
            .collect();
        (ids, vars)
    };
    let cases = [
        (query(3, &[]), "plain"),
        (query(3, &[("x", "attack")]), "plain"),
        (query(3, &[("x", "ATTACK")]), "Attack"),
        (query(3, &[("x", "%2541ttack")]), "plain"),
        (query(40, &[("x", "Needle"), ("y", "%2561ttack")]), "plain"),
        (query(40, &[]), "ATTACK"),
        (query(40, &[("attack", "1")]), "plain"),
    ];
    for (uri, header) in &cases {
        for round in 0..2 {
            assert_eq!(
                seen(&fast, uri, header),
                seen(&slow, uri, header),
                "{uri} {header} round {round}"
            );
        }
    }
    // The cases match: by value, by name, after decoding, in the header.
    assert_eq!(seen(&fast, &cases[2].0, cases[2].1).0, [21, 23]);
    assert_eq!(seen(&fast, &cases[4].0, cases[4].1).0, [21, 22]);
    assert_eq!(seen(&fast, &cases[6].0, cases[6].1).0, [21]);
}
