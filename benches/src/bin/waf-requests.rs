//! `waf-requests`: feeds the libmodsecurity comparison (`benches/modsec/run.sh`).
//!
//! - `waf-requests bench`   — the five benchmark requests, harness format, on stdout.
//! - `waf-requests tables`  — the CRS decision tables (attack and benign-crs-fp → 403,
//!   benign → pass), for `run.sh verdicts`.
//! - `waf-requests verdicts` — replays the `tables` requests through our engine with CRS and
//!   prints `status<TAB>expected<TAB>ids<TAB>name` lines, comparable with `run.sh verdicts`.
//! - `waf-requests rss`     — builds CRS v4 (PL1, blocking), runs the benchmark requests once
//!   and prints `rss_kib <n>` and `rules <n>` (resident memory with CRS loaded).

use portcullis_benches::http_file::{load_dir, load_profiles};
use portcullis_benches::waf_requests::{
    bench_requests, build_engine, crs_files, decisions_dir, dump, run,
};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "bench" => bench(),
        "tables" => tables(),
        "verdicts" => verdicts(),
        "rss" => rss(),
        _ => Err("usage: waf-requests bench|tables|verdicts|rss".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("waf-requests: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<(), String> {
    let cases: Vec<_> = bench_requests()
        .into_iter()
        .map(|request| {
            let mut case = request.case;
            case.name = request.id.to_string();
            (case, Some(request.expected_status))
        })
        .collect();
    write_out(&cases)
}

fn tables() -> Result<(), String> {
    write_out(&table_cases()?)
}

fn verdicts() -> Result<(), String> {
    let files = crs_files().ok_or("no CRS at ../shared/crs")?;
    let engine = Arc::new(build_engine(&files, true)?);
    for (case, expected) in table_cases()? {
        let status = match run(&engine, &case) {
            portcullis_waf::Outcome::Deny { status } => status,
            _ => 0,
        };
        // `run` does not return the matched ids; replay through a transaction for them.
        let ids = matched_ids(&engine, &case);
        println!("{status}\t{}\t{ids}\t{}", expected.unwrap_or(0), case.name);
    }
    Ok(())
}

fn matched_ids(
    engine: &Arc<portcullis_waf::Engine>,
    case: &portcullis_benches::http_file::Case,
) -> String {
    let mut tx = engine.transaction(portcullis_waf::ConnectionInfo {
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        client_port: 40_000,
        server_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        server_port: 8443,
        unique_id: String::from("verdicts"),
    });
    tx.request_line(&case.method, &case.uri, &case.protocol);
    for (name, value) in &case.headers {
        tx.request_header(name.as_bytes(), value.as_bytes());
    }
    if tx.process_request_headers() == portcullis_waf::Outcome::Pass {
        tx.request_body_chunk(&case.body);
        tx.process_request_body();
    }
    tx.process_logging();
    let ids: Vec<String> = tx
        .matched_rules()
        .iter()
        .filter(|rule| rule.log)
        .map(|rule| rule.id.to_string())
        .collect();
    ids.join(" ")
}

fn table_cases() -> Result<Vec<(portcullis_benches::http_file::Case, Option<u16>)>, String> {
    let dir = decisions_dir();
    let profiles = load_profiles(&dir.join("profiles")).map_err(|e| e.to_string())?;
    let mut cases = Vec::new();
    for (sub, expected) in [("attack", 403), ("benign", 0), ("benign-crs-fp", 403)] {
        let path = dir.join(sub);
        if !path.is_dir() {
            continue;
        }
        for mut case in load_dir(&path, &profiles).map_err(|e| e.to_string())? {
            case.name = format!("{} [{}]", case.origin, case.name);
            cases.push((case, Some(expected)));
        }
    }
    Ok(cases)
}

fn write_out(cases: &[(portcullis_benches::http_file::Case, Option<u16>)]) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    dump(&mut out, cases)
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

fn rss() -> Result<(), String> {
    let files = crs_files().ok_or("no CRS at ../shared/crs")?;
    let engine = Arc::new(build_engine(&files, true)?);
    for request in bench_requests() {
        run(&engine, &request.case);
    }
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or("no VmRSS in /proc/self/status")?;
    println!("rss_kib {rss}");
    println!("rules {}", engine.rule_count());
    Ok(())
}
