//! Arbitrary request bytes through a transaction of our own rule set (rules/): the input is
//! split into a request line, header lines and a body; every phase must finish without panic.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use portcullis_waf::{ConnectionInfo, Engine};

fn engine() -> &'static Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/portcullis.conf");
        let mut b = Engine::builder();
        b.add_text("SecRuleEngine On\nSecRequestBodyAccess On\nSecResponseBodyAccess On\n", "setup", std::path::Path::new("."))
            .expect("setup");
        b.add_file(std::path::Path::new(rules)).expect("rules/portcullis.conf compiles");
        Arc::new(b.build().expect("engine builds"))
    })
}

fuzz_target!(|data: &[u8]| {
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
    let mut tx = engine().transaction(ConnectionInfo {
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        client_port: 40000,
        server_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        server_port: 80,
        unique_id: "fuzz".into(),
    });
    tx.request_line(method, uri, proto);
    for l in lines {
        let (name, value) = match l.iter().position(|&b| b == b':') {
            Some(i) => (&l[..i], &l[i + 1..]),
            None => (l, &[][..]),
        };
        tx.request_header(name, value);
    }
    let _ = tx.process_request_headers();
    tx.request_body_chunk(body);
    let _ = tx.process_request_body();
    tx.response_status(200, "HTTP/1.1");
    tx.response_header(b"Content-Type", b"text/html");
    let _ = tx.process_response_headers();
    tx.response_body_chunk(body);
    let _ = tx.process_response_body();
    tx.process_logging();
});
