//! The WAF benchmark workload, shared by the criterion benchmark (`benches/waf_transaction.rs`),
//! the libmodsecurity harness (`benches/modsec/`, fed through the `waf-requests` binary) and
//! the decision tables: the CRS v4 file list in load order, the five benchmark requests with
//! their expected verdicts, one function that replays a request through the engine, and a
//! plain-text dump format that the C harness reads.

use crate::http_file::Case;
use portcullis_waf::{ConnectionInfo, Engine, Outcome, Transaction};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The repository root.
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `crates/waf/tests/data/decisions`: the `.http` tables and the blocking setup file.
pub fn decisions_dir() -> PathBuf {
    repo_dir().join("crates/waf/tests/data/decisions")
}

/// CRS v4 in blocking mode at PL1, in load order: our engine settings + CRS tuning
/// (`crs-blocking-setup.conf`), `crs-setup.conf.example`, then `rules/*.conf` sorted.
/// `None` when `../shared/crs` is absent. For profiling, `CRS_ONLY=901,942` keeps only the
/// rule files whose paths contain one of the comma-separated strings (the cost of one file:
/// compare `901,949` with `901,949,942`), and `CRS_APPEND=FILE` adds a file after the rules
/// (e.g. `SecRuleRemoveById 920450`: the cost of one rule).
pub fn crs_files() -> Option<Vec<PathBuf>> {
    let crs = repo_dir().join("../shared/crs");
    let mut rules: Vec<PathBuf> = std::fs::read_dir(crs.join("rules"))
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
        .collect();
    rules.sort();
    if let Ok(only) = std::env::var("CRS_ONLY") {
        rules.retain(|p| only.split(',').any(|o| p.to_string_lossy().contains(o)));
    }
    let mut files = vec![
        decisions_dir().join("crs-blocking-setup.conf"),
        crs.join("crs-setup.conf.example"),
    ];
    files.extend(rules);
    files.extend(std::env::var_os("CRS_APPEND").map(PathBuf::from));
    Some(files)
}

/// Our own baseline rule set (`rules/portcullis.conf`) in blocking mode at PL1.
pub fn own_rules_files() -> Vec<PathBuf> {
    vec![
        decisions_dir().join("own-blocking-setup.conf"),
        repo_dir().join("rules/portcullis.conf"),
    ]
}

/// Compiles `files` in order into an engine, with its fast paths (prefilters and the value
/// memo) on or off.
pub fn build_engine(files: &[PathBuf], fast_paths: bool) -> Result<Engine, String> {
    let mut builder = Engine::builder();
    builder.prefilter(fast_paths).memo(fast_paths);
    for file in files {
        builder.add_file(file).map_err(|error| error.to_string())?;
    }
    builder.build().map_err(|error| error.to_string())
}

/// Replays `case` through phases 1, 2 and 5 (the same calls the libmodsecurity harness
/// makes) and returns the outcome of the request phases.
pub fn run(engine: &Arc<Engine>, case: &Case) -> Outcome {
    replay(engine, case).0
}

/// Like [`run`] but as the proxy calls the engine: the request phases, then (when they pass)
/// a `200` response with typical headers through phases 3 and 4, then logging.
pub fn run_with_response(engine: &Arc<Engine>, case: &Case) -> Outcome {
    let (outcome, mut tx) = replay(engine, case);
    if outcome != Outcome::Pass {
        return outcome;
    }
    tx.response_status(200, "HTTP/1.1");
    for (name, value) in [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", "19"),
        ("Cache-Control", "no-cache"),
        ("Date", "Thu, 26 Nov 2026 15:00:00 GMT"),
    ] {
        tx.response_header(name.as_bytes(), value.as_bytes());
    }
    let outcome = tx.process_response_headers();
    if outcome != Outcome::Pass {
        return outcome;
    }
    tx.response_body_chunk(b"hello from backend\n");
    tx.process_response_body()
}

/// Like [`run`], also returning the finished transaction (for its matched rules).
pub fn replay(engine: &Arc<Engine>, case: &Case) -> (Outcome, Transaction) {
    case.replay(
        engine,
        ConnectionInfo {
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            client_port: 40_000,
            server_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            server_port: 8443,
            unique_id: String::from("bench"),
        },
    )
}

/// A benchmark request and the verdict it must get.
#[derive(Debug, Clone)]
pub struct BenchRequest {
    /// Short id used in tables (`get-3-args`, ...).
    pub id: &'static str,
    pub case: Case,
    /// 0 = pass, otherwise the deny status.
    pub expected_status: u16,
}

fn case(name: &str, method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Case {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !body.is_empty() {
        headers.push(("Content-Length".to_string(), body.len().to_string()));
    }
    Case {
        name: name.to_string(),
        origin: "benches/src/waf_requests.rs".to_string(),
        method: method.to_string(),
        uri: uri.to_string(),
        protocol: "HTTP/1.1".to_string(),
        headers,
        body,
    }
}

const BROWSER: [(&str, &str); 6] = [
    ("Host", "shop.example.com"),
    (
        "User-Agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
         Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("Accept-Language", "en-US,en;q=0.9"),
    ("Accept-Encoding", "gzip, deflate, br"),
    (
        "Cookie",
        "sessionid=8f3c2a9e71d04b6fa1c5e0d27b9346af; currency=EUR",
    ),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    BROWSER
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

/// A JSON order of about 1 KB.
fn json_1k() -> Vec<u8> {
    let mut items = Vec::new();
    for i in 0..9 {
        items.push(format!(
            r#"{{"sku":"SKU-{i:04}-BLK","name":"Ergonomic chair model {i}","qty":{},"price":189.5}}"#,
            i % 3 + 1
        ));
    }
    let body = format!(
        r#"{{"order_id":"ORD-2024-118273","customer":{{"name":"Jane Doe","email":"jane.doe@example.com"}},"items":[{}],"notes":"Leave at the door"}}"#,
        items.join(",")
    );
    body.into_bytes()
}

/// A multipart upload of about 10 KB: two text fields and a CSV file.
fn multipart_10k() -> Vec<u8> {
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut csv = String::from("id,name,email,country,lifetime_value\r\n");
    let mut i = 0;
    while csv.len() < 9_600 {
        csv.push_str(&format!(
            "{i},Customer {i},customer{i}@example.com,DE,{}.50\r\n",
            i * 7
        ));
        i += 1;
    }
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nmerge\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"notify\"\r\n\r\nyes\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"customers.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    body.into_bytes()
}

/// The five benchmark requests, in table order.
pub fn bench_requests() -> Vec<BenchRequest> {
    let form = b"first_name=Jane&last_name=Doe&email=jane.doe%40example.com&phone=%2B49+30+1234567\
        &street=Hauptstra%C3%9Fe+5&city=Berlin&newsletter=1"
        .to_vec();
    vec![
        BenchRequest {
            id: "get-3-args",
            case: case(
                "benign GET with 3 arguments",
                "GET",
                "/search?q=ergonomic+chair&sort=price_asc&page=2",
                &BROWSER,
                Vec::new(),
            ),
            expected_status: 0,
        },
        BenchRequest {
            id: "post-form-7-args",
            case: case(
                "urlencoded POST with 7 arguments",
                "POST",
                "/account/address",
                &with(&[("Content-Type", "application/x-www-form-urlencoded")]),
                form,
            ),
            expected_status: 0,
        },
        BenchRequest {
            id: "json-1k",
            case: case(
                "1 KB JSON body",
                "POST",
                "/api/v1/orders",
                &with(&[("Content-Type", "application/json")]),
                json_1k(),
            ),
            expected_status: 0,
        },
        BenchRequest {
            id: "multipart-10k",
            case: case(
                "10 KB multipart upload",
                "POST",
                "/admin/import",
                &with(&[(
                    "Content-Type",
                    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
                )]),
                multipart_10k(),
            ),
            expected_status: 0,
        },
        BenchRequest {
            id: "sqli-attack",
            case: case(
                "SQL injection attack",
                "GET",
                "/products?id=1%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--",
                &BROWSER,
                Vec::new(),
            ),
            expected_status: 403,
        },
    ]
}

/// Writes `cases` in the harness format: per request `REQ <name>`, `LINE <method> <uri>
/// <protocol>`, `H <name>: <value>` lines, `BODY <length>` followed by the raw body and a
/// newline, then `END`. `expected` is written as `EXPECT <status>` (0 = pass) when known.
pub fn dump(out: &mut dyn Write, cases: &[(Case, Option<u16>)]) -> io::Result<()> {
    for (case, expected) in cases {
        writeln!(out, "REQ {}", case.name.replace('\n', " "))?;
        if let Some(status) = expected {
            writeln!(out, "EXPECT {status}")?;
        }
        writeln!(out, "LINE {} {} {}", case.method, case.uri, case.protocol)?;
        for (name, value) in &case.headers {
            writeln!(out, "H {name}: {value}")?;
        }
        writeln!(out, "BODY {}", case.body.len())?;
        out.write_all(&case.body)?;
        writeln!(out)?;
        writeln!(out, "END")?;
    }
    Ok(())
}
