//! Helpers for the WAF end-to-end tests: a recording backend (every request it receives is
//! kept, so a test can prove a blocked request never reached it), raw HTTP/1.1 requests, and
//! a WAF configuration with rules in the scratch directory (`config`, `RULES_V1`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::Scratch;

/// A loopback HTTP/1.1 backend that records request lines and bodies and answers 200.
pub struct Recorder {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, s));
            }
        });
        Recorder { addr, seen }
    }

    /// Whether any received request (line + body) contains `needle`.
    pub fn saw(&self, needle: &str) -> bool {
        self.seen.lock().unwrap().iter().any(|r| r.contains(needle))
    }
}

fn serve(conn: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let t = h.trim_end();
            if t.is_empty() {
                break;
            }
            if let Some((k, v)) = t.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap().push(format!(
            "{}{}",
            line.trim_end(),
            String::from_utf8_lossy(&body)
        ));
        let resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
        if reader.get_mut().write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// Sends `raw` on a new connection and reads the answer to the end: (status, whole text).
fn send_raw(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// One request on a new connection: (status, body).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    body: &[u8],
) -> (u16, String) {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 portcullis-test\r\nAccept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let (status, text) = send_raw(addr, &raw);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// A POST whose body is sent in `chunks` with `Transfer-Encoding: chunked`: (status, whole
/// answer).
pub fn post_chunked(addr: SocketAddr, path: &str, host: &str, chunks: &[&[u8]]) -> (u16, String) {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 portcullis-test\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for c in chunks {
        raw.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        raw.extend_from_slice(c);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    send_raw(addr, &raw)
}

pub fn get(addr: SocketAddr, path: &str, host: &str) -> (u16, String) {
    request(addr, "GET", path, host, b"")
}

/// Polls `f` until it returns true (10 s at most).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scratch directory named `tag` holding a recording backend's Service `app` and Ingress
/// `a` that routes `host` to it (more manifests may follow before the proxy starts).
pub fn app_behind(tag: &str, host: &str) -> (Scratch, Recorder) {
    let scratch = Scratch::new(tag);
    let backend = Recorder::start();
    scratch.write_manifest(
        "svc.yaml",
        &crate::common::service_yaml("app", backend.addr),
    );
    scratch.write_manifest("a.yaml", &ingress_with("a", host, "app", &[]));
    (scratch, backend)
}

/// An Ingress for `host` → `svc` with extra annotations.
pub fn ingress_with(name: &str, host: &str, svc: &str, annotations: &[(&str, &str)]) -> String {
    let mut ann = String::new();
    for (k, v) in annotations {
        ann.push_str(&format!("    portcullis.dev/{k}: \"{v}\"\n"));
    }
    let ann = if ann.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{ann}")
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n{ann}spec:\n  rules:\n    - host: {host}\n      http:\n        paths:\n          - {{ path: /, pathType: Prefix, backend: {{ service: {{ name: {svc}, port: {{ number: 80 }} }} }} }}\n"
    )
}

/// Test rules: deterministic and small (the built-in set is exercised by `builtin_rules_block_an_attack`).
pub const RULES_V1: &str = r#"
SecRule ARGS "@contains evil" "id:1001,phase:2,deny,log,msg:'evil argument',tag:'test/evil',severity:'CRITICAL'"
SecRule ARGS:comment "@contains select" "id:1002,phase:2,deny,log,msg:'select in comment',tag:'test/sql'"
"#;

pub fn config(scratch: &Scratch, waf_extra: &str) -> String {
    let rules = scratch.0.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    if !rules.join("portcullis.conf").exists() {
        std::fs::write(rules.join("portcullis.conf"), RULES_V1).unwrap();
    }
    format!(
        "proxy:\n  access_log: false\ncontroller:\n  debounce: 10ms\nlogging:\n  level: info\nwaf:\n  mode: block\n  rules: builtin\n  builtin_dir: {}\n  error_log: {}\n  audit_log: {}\n  rules_poll_interval: 100ms\n{waf_extra}",
        rules.display(),
        scratch.0.join("waf-error.log").display(),
        scratch.0.join("waf-audit.log").display(),
    )
}

pub fn error_log(scratch: &Scratch) -> String {
    std::fs::read_to_string(scratch.0.join("waf-error.log")).unwrap_or_default()
}

pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
