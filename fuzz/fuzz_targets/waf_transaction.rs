//! Arbitrary request bytes through a transaction of our own rule set (rules/): every phase must
//! finish without panic and in bounded time.
//!
//! Input layout: one selector byte, then `METHOD URI PROTO\n`, header lines `Name: value\n`,
//! an empty line and the body (also replayed as the response body). The selector picks
//!
//! - bit 0: the engine — `rules/` at paranoia level 1 with prefilters on, or paranoia level 2
//!   plus `fuzz/rules/coverage.conf` (every transformation, the other operators, macros fed by
//!   the request) with prefilters off;
//! - bits 1-3: a Content-Type header added before the input's own headers (none, urlencoded,
//!   multipart with boundary `B`, JSON, XML, text/xml, multipart with a quoted boundary,
//!   `application/vnd.api+json`), so that every body processor runs without the fuzzer first
//!   having to spell its media type;
//! - bit 4: the body is fed in two chunks (split at its middle) rather than one.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use portcullis_waf::{ConnectionInfo, Engine};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn build(setup: &str, extra: &[PathBuf], prefilter: bool) -> Arc<Engine> {
    let mut b = Engine::builder();
    b.prefilter(prefilter);
    b.add_text(setup, "setup", Path::new("."))
        .expect("setup compiles");
    b.add_file(&repo().join("rules/portcullis.conf"))
        .expect("rules/portcullis.conf compiles");
    for file in extra {
        b.add_file(file).expect("fuzz rules compile");
    }
    Arc::new(b.build().expect("engine builds"))
}

fn engines() -> &'static [Arc<Engine>; 2] {
    static ENGINES: OnceLock<[Arc<Engine>; 2]> = OnceLock::new();
    ENGINES.get_or_init(|| {
        [
            build("SecRuleEngine On\nSecResponseBodyAccess On\n", &[], true),
            build(
                "SecRuleEngine On\nSecResponseBodyAccess On\n\
                 SecAction \"id:9509901,phase:1,pass,nolog,setvar:tx.pc_paranoia_level=2\"\n",
                &[repo().join("fuzz/rules/coverage.conf")],
                false,
            ),
        ]
    })
}

const CONTENT_TYPES: [Option<&[u8]>; 8] = [
    None,
    Some(b"application/x-www-form-urlencoded"),
    Some(b"multipart/form-data; boundary=B"),
    Some(b"application/json"),
    Some(b"application/xml"),
    Some(b"text/xml; charset=utf-8"),
    Some(b"multipart/form-data; boundary=\"B\""),
    Some(b"application/vnd.api+json"),
];

/// Optional whitespace around a header value, as an HTTP parser strips it.
fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = v {
        v = rest;
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let engine = &engines()[usize::from(selector & 1)];
    let content_type = CONTENT_TYPES[usize::from((selector >> 1) & 7)];
    let two_chunks = selector & 0x10 != 0;

    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let mut lines = head.split(|&b| b == b'\n');
    let line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut parts = line.splitn(3, ' ');
    let (method, uri, proto) = (
        parts.next().unwrap_or("GET"),
        parts.next().unwrap_or("/"),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    let mut tx = engine.transaction(ConnectionInfo {
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        client_port: 40000,
        server_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        server_port: 80,
        unique_id: "fuzz".into(),
    });
    tx.request_line(method, uri, proto);
    if let Some(ct) = content_type {
        tx.request_header(b"Content-Type", ct);
    }
    for l in lines {
        let (name, value) = match l.iter().position(|&b| b == b':') {
            Some(i) => (&l[..i], trim_ows(&l[i + 1..])),
            None => (l, &[][..]),
        };
        tx.request_header(name, value);
    }
    let _ = tx.process_request_headers();
    if two_chunks {
        let (a, b) = body.split_at(body.len() / 2);
        tx.request_body_chunk(a);
        tx.request_body_chunk(b);
    } else {
        tx.request_body_chunk(body);
    }
    let _ = tx.process_request_body();
    tx.response_status(200, "HTTP/1.1");
    tx.response_header(b"Content-Type", b"text/html");
    let _ = tx.process_response_headers();
    tx.response_body_chunk(body);
    let _ = tx.process_response_body();
    tx.process_logging();
    let _ = tx.matched_rules();
});
