//! Table-driven operator tests: `tests/data/operator_cases.json` (in the spirit of
//! owasp-modsecurity/secrules-language-tests, whose operator cases it includes). JSON strings
//! are read as bytes: each character U+0000..U+00FF is one byte.

use std::collections::HashMap;

use portcullis_waf::operator::{Captures, DataFileLoader, MacroExpander, Operator};
use serde_json::Value;

struct TestFiles;

impl DataFileLoader for TestFiles {
    fn load(&self, name: &str) -> Result<String, String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

struct Macros(HashMap<String, String>);

impl MacroExpander for Macros {
    fn expand(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.0 {
            out = out.replace(&format!("%{{{k}}}"), v);
        }
        out
    }
}

fn bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

#[test]
fn operator_table() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/operator_cases.json"
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let s = |k: &str| {
            case.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (op, param, input) = (s("op"), s("param"), bytes(&s("input")));
        let negated = case
            .get("negated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let macros = Macros(
            case.get("macros")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        );
        let label = format!("case {i}: @{op} {param:?} on {:?}", s("input"));
        let compiled = Operator::compile(&op, &param, negated, &TestFiles);
        if case.get("error").and_then(Value::as_bool).unwrap_or(false) {
            if compiled.is_ok() {
                failures.push(format!("{label}: expected a compile error"));
            }
            continue;
        }
        let operator = match compiled {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{label}: compile error {e}"));
                continue;
            }
        };
        let want = case.get("ret").and_then(Value::as_i64).unwrap_or(0) == 1;
        let mut caps = Captures::new();
        let got = operator.evaluate(&input, &macros, Some(&mut caps));
        if got != want {
            failures.push(format!("{label}: expected {want}, got {got}"));
        }
        if let Some(expected) = case.get("capture").and_then(Value::as_array) {
            let expected: Vec<Vec<u8>> = expected
                .iter()
                .map(|v| bytes(v.as_str().unwrap_or("")))
                .collect();
            if caps != expected {
                failures.push(format!("{label}: captures {caps:?}, expected {expected:?}"));
            }
        }
        // The prefilter contract on every row: a match before negation implies a literal.
        if !negated && got {
            if let Some(lits) = operator.prefilter_literals() {
                let hit = lits
                    .iter()
                    .any(|l| input.windows(l.len()).any(|w| w.eq_ignore_ascii_case(l)));
                if !hit {
                    failures.push(format!("{label}: matched but no prefilter literal occurs"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn operators_are_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Operator>();
}

#[test]
fn negated_and_macro_operators_do_not_gate() {
    let files = TestFiles;
    let negated = Operator::compile("rx", "abc", true, &files).expect("compile");
    assert_eq!(negated.prefilter_literals(), None);
    let with_macro = Operator::compile("contains", "%{tx.x}", false, &files).expect("compile");
    assert_eq!(with_macro.prefilter_literals(), None);
    let rx = Operator::compile("rx", "(?i)union\\s+select", false, &files).expect("compile");
    assert_eq!(rx.prefilter_literals(), Some(vec![b"union".to_vec()]));
    let pm = Operator::compile("pm", "Foo bar", false, &files).expect("compile");
    assert_eq!(
        pm.prefilter_literals(),
        Some(vec![b"bar".to_vec(), b"foo".to_vec()])
    );
}

/// Random bytes through the non-regex operators (libinjection above all): no panic.
#[test]
fn random_inputs_never_panic() {
    const ALPHABET: &[u8] =
        b"'\"`<>/=()-#;*%&|\\ \t\n\x00\xff\xc3selectunionorand1xscriptonerror.:";
    let ops: Vec<Operator> = [
        ("detectSQLi", ""),
        ("detectXSS", ""),
        ("validateUtf8Encoding", ""),
        ("validateUrlEncoding", ""),
        ("validateByteRange", "32-126"),
        ("ipMatch", "10.0.0.0/8,::1"),
        ("containsWord", "select"),
        ("pm", "union select"),
        ("eq", "5"),
    ]
    .iter()
    .map(|(n, a)| Operator::compile(n, a, false, &TestFiles).expect("compile"))
    .collect();
    let mut state: u64 = 0x0bad_5eed_1234_5678;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 120) as usize;
        let mut s = state;
        let input: Vec<u8> = (0..len)
            .map(|_| {
                s = s.rotate_left(7) ^ 0x9e37_79b9;
                if s % 5 == 0 {
                    (s >> 11) as u8
                } else {
                    ALPHABET[(s >> 11) as usize % ALPHABET.len()]
                }
            })
            .collect();
        for op in &ops {
            let mut caps = Captures::new();
            let _ = op.evaluate(&input, &Macros(HashMap::new()), Some(&mut caps));
        }
    }
}
