//! Table-driven engine behaviour tests: each case in `data/engine_cases.json` compiles a few
//! SecLang rules, runs requests through them and checks the outcome, the matched rule ids and
//! TX values. Every case runs with prefilters on and off; the results must be identical.

use portcullis_waf::{ConnectionInfo, Engine, MatchedRule, Outcome};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn conn() -> ConnectionInfo {
    ConnectionInfo {
        client_ip: [127, 0, 0, 1].into(),
        client_port: 40000,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 80,
        unique_id: "test-unique-id".into(),
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Pass => "pass".into(),
        Outcome::Deny { status } => format!("deny:{status}"),
        Outcome::Redirect { status, location } => format!("redirect:{status}:{location}"),
        Outcome::Drop => "drop".into(),
    }
}

/// Runs one request; returns (outcome, logged-or-not matched ids, TX snapshot lookup fn).
fn run(engine: &Arc<Engine>, req: &Value) -> (String, Vec<u64>, portcullis_waf::Transaction) {
    let s = |k: &str, d: &str| req.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
    let mut tx = engine.transaction(conn());
    tx.request_line(&s("method", "GET"), &s("uri", "/"), "HTTP/1.1");
    for h in req
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = h[0].as_str().unwrap_or_default();
        let value = h[1].as_str().unwrap_or_default();
        tx.request_header(name.as_bytes(), value.as_bytes());
    }
    let mut out = tx.process_request_headers();
    if out == Outcome::Pass {
        tx.request_body_chunk(s("body", "").as_bytes());
        out = tx.process_request_body();
    }
    if out == Outcome::Pass {
        tx.response_status(
            req.get("status").and_then(Value::as_u64).unwrap_or(200) as u16,
            "HTTP/1.1",
        );
        tx.response_header(b"Content-Type", b"text/html");
        out = tx.process_response_headers();
        if out == Outcome::Pass {
            tx.response_body_chunk(s("response_body", "").as_bytes());
            out = tx.process_response_body();
        }
    }
    tx.process_logging();
    let ids = tx.matched_rules().iter().map(|m| m.id).collect();
    // The proxy's cheap decider lookup agrees with the full match list.
    assert_eq!(
        tx.last_disruptive_rule(),
        tx.matched_rules()
            .iter()
            .rev()
            .find(|m| m.disruptive)
            .map(|m| m.id)
    );
    // And the log writer's list is the full list less the `nolog` matches.
    let logged: Vec<_> = tx
        .matched_rules()
        .iter()
        .filter(|m| m.log)
        .cloned()
        .collect();
    assert_eq!(tx.logged_rules(), logged);
    // The borrowed view the proxy's log writer reads says the same.
    let borrowed: Vec<MatchedRule> = tx
        .logged_matches()
        .map(|m| m.to_matched_rule(true))
        .collect();
    assert_eq!(borrowed, logged);
    (outcome_text(&out), ids, tx)
}

#[test]
fn engine_cases_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/engine_cases.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let rules = case["rules"].as_str().unwrap_or_default();
        let mut per_mode = Vec::new();
        for prefilter in [true, false] {
            let mut b = Engine::builder();
            b.prefilter(prefilter).memo(prefilter);
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
            let engine = match b
                .add_text(rules, name, &dir)
                .map(|_| ())
                .and_then(|_| b.build())
            {
                Ok(e) => Arc::new(e),
                Err(e) => {
                    failures.push(format!("{name}: does not compile: {e}"));
                    break;
                }
            };
            let mut results = Vec::new();
            for (i, req) in case["requests"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let (out, ids, tx) = run(&engine, req);
                let expect = &req["expect"];
                if let Some(o) = expect.get("outcome").and_then(Value::as_str) {
                    if o != out {
                        failures.push(format!("{name} #{i}: outcome {out}, expected {o}"));
                    }
                }
                for id in expect
                    .get("matched")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !ids.contains(&id.as_u64().unwrap_or(0)) {
                        failures.push(format!(
                            "{name} #{i}: rule {id} did not match (matched {ids:?})"
                        ));
                    }
                }
                for id in expect
                    .get("not_matched")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if ids.contains(&id.as_u64().unwrap_or(0)) {
                        failures.push(format!("{name} #{i}: rule {id} matched (matched {ids:?})"));
                    }
                }
                if let Some(tx_expect) = expect.get("tx").and_then(Value::as_object) {
                    for (k, v) in tx_expect {
                        let got = tx
                            .tx_var(k)
                            .map(|b| String::from_utf8_lossy(b).into_owned());
                        let want = v.as_str().map(str::to_string);
                        if got != want {
                            failures
                                .push(format!("{name} #{i}: tx.{k} = {got:?}, expected {want:?}"));
                        }
                    }
                }
                if let Some(want) = expect.get("msg").and_then(Value::as_array) {
                    let id = want[0].as_u64().unwrap_or(0);
                    let text = want[1].as_str().unwrap_or_default();
                    let got = tx
                        .matched_rules()
                        .iter()
                        .find(|m| m.id == id)
                        .map(|m| format!("{}|{}", m.msg, m.data));
                    if got.as_deref() != Some(text) {
                        failures.push(format!(
                            "{name} #{i}: msg|logdata of {id} = {got:?}, expected {text:?}"
                        ));
                    }
                }
                results.push((out, ids));
            }
            per_mode.push(results);
        }
        if per_mode.len() == 2 && per_mode[0] != per_mode[1] {
            failures.push(format!(
                "{name}: prefilter on/off differ: {:?} vs {:?}",
                per_mode[0], per_mode[1]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn engine_is_shared_and_transactions_move_between_threads() {
    fn shared<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shared::<Engine>();
    movable::<portcullis_waf::Transaction>();
}
