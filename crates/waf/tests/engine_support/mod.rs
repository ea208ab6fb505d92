//! Shared by the engine tests: an engine from rule text, and a GET transaction with its
//! request line and `Host` header given (more headers may follow before the phases run).
#![allow(dead_code)]

use portcullis_waf::{ConnectionInfo, Engine, Transaction};
use std::path::Path;
use std::sync::Arc;

/// An engine from `rules`, with the value memo on or off (prefilters on).
pub fn engine(rules: &str, memo: bool) -> Arc<Engine> {
    engine_with(rules, memo, true)
}

/// An engine from `rules`, with the value memo and the prefilters on or off.
pub fn engine_with(rules: &str, memo: bool, prefilter: bool) -> Arc<Engine> {
    let mut b = Engine::builder();
    b.memo(memo).prefilter(prefilter);
    b.add_text(rules, "engine_test", Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    Arc::new(b.build().unwrap_or_else(|e| panic!("{e}")))
}

/// A transaction of `engine` for `GET uri` from 10.0.0.1 with `Host: example.com`.
pub fn get_tx(engine: &Arc<Engine>, uri: &str) -> Transaction {
    let mut tx = engine.transaction(ConnectionInfo {
        client_ip: [10, 0, 0, 1].into(),
        client_port: 40000,
        server_ip: [127, 0, 0, 1].into(),
        server_port: 80,
        unique_id: "u".into(),
    });
    tx.request_line("GET", uri, "HTTP/1.1");
    tx.request_header(b"Host", b"example.com");
    tx
}

/// The value of TX member `name`, as text.
pub fn tx_var(tx: &Transaction, name: &str) -> Option<String> {
    tx.tx_var(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}
