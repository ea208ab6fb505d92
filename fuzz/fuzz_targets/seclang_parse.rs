//! Arbitrary text as a SecLang rule file: compiling must return Ok or a `file:line` error,
//! never panic or hang (regex size limits bound the work). A rule set that compiles is then
//! run over one small fixed request (all five phases, a urlencoded body), so that whatever the
//! parser accepted — chains, macros, `setvar`, `ctl`, skips, markers — is also evaluated.
//! Relative paths (`Include`, `@pmFromFile`) resolve against `rules/conf.d`, whose data files
//! exist.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use portcullis_waf::{ConnectionInfo, Engine};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/conf.d"));
    let mut builder = Engine::builder();
    if builder.add_text(text, "fuzz.conf", base).is_err() {
        return;
    }
    let Ok(engine) = builder.build() else {
        return;
    };
    let engine = Arc::new(engine);
    let mut tx = engine.transaction(ConnectionInfo {
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        client_port: 40000,
        server_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        server_port: 80,
        unique_id: "fuzz".into(),
    });
    tx.request_line("POST", "/a/b.php?x=1&y=%27%20or%201=1--&x=2", "HTTP/1.1");
    tx.request_header(b"Host", b"a.test");
    tx.request_header(b"Cookie", b"s=abc; t=<script>");
    tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    let _ = tx.process_request_headers();
    tx.request_body_chunk(b"p=../../etc/passwd&q=${jndi:ldap://x}&r=select+1");
    let _ = tx.process_request_body();
    tx.response_status(500, "HTTP/1.1");
    tx.response_header(b"Content-Type", b"text/html");
    let _ = tx.process_response_headers();
    tx.response_body_chunk(b"<html>SQL syntax error</html>");
    let _ = tx.process_response_body();
    tx.process_logging();
    let _ = tx.matched_rules();
});
