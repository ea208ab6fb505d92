//! `waf-requests`: feeds the libmodsecurity comparison (`benches/modsec/run.sh`).
//!
//! - `waf-requests bench`   — the five benchmark requests, harness format, on stdout.
//! - `waf-requests tables`  — the CRS decision tables (attack and benign-crs-fp → 403,
//!   benign → pass), for `run.sh verdicts`.
//! - `waf-requests verdicts` — replays the `tables` requests through our engine with CRS and
//!   prints `status<TAB>expected<TAB>ids<TAB>name` lines, comparable with `run.sh verdicts`.
//! - `waf-requests rss`     — builds CRS v4 (PL1, blocking), runs the benchmark requests once
//!   and prints `rss_kib <n>` and `rules <n>` (resident memory with CRS loaded).
//! - `waf-requests profile [N [ID]]` — builds CRS v4 (PL1, blocking) and replays each benchmark
//!   request (or those whose id contains ID) N times (default 20000), printing the load time and the mean CPU µs per request:
//!   a quick loop to run under `perf record`.
//! - `waf-requests profile-benign [ROUNDS]` — replays every benign decision-table request
//!   (varied browser, API, form and upload traffic) round-robin ROUNDS times (default 50) and
//!   prints the mean CPU µs per request. Unlike `profile`, which repeats one request, the
//!   working set changes from request to request, as in the proxy under real traffic; compare
//!   with instructions per request from callgrind to see cache effects.
//! - `waf-requests http ADDR HOST PREFIXES ROUNDS [benign]` — sends the `tables` requests (or
//!   only the benign ones) ROUNDS times over HTTP/1.1 keep-alive to a running proxy at ADDR,
//!   with `Host: HOST` and the URIs under the comma-separated path PREFIXES in turn; prints
//!   `status <code> <count>` lines and `failed <count>` (the PGO training run of
//!   `scripts/build-pgo.sh`).

use portcullis_benches::http_file::Case;
use portcullis_benches::http_file::{load_dir, load_profiles};
use portcullis_benches::waf_requests::{
    bench_requests, build_engine, crs_files, decisions_dir, dump, replay, run,
};
use portcullis_waf::Outcome;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

/// The allocator the `portcullis` binary uses, so figures match the product.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let result = match mode.as_str() {
        "bench" => bench(),
        "tables" => tables(),
        "verdicts" => verdicts(),
        "rss" => rss(),
        "profile" => profile(),
        "profile-benign" => profile_benign(),
        "http" => http(),
        _ => Err(
            "usage: waf-requests bench|tables|verdicts|rss|profile [N [ID]]|profile-benign [ROUNDS]|http ADDR HOST PREFIXES ROUNDS [benign]"
                .to_string(),
        ),
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
        let (outcome, tx) = replay(&engine, &case);
        let status = match outcome {
            Outcome::Deny { status } => status,
            _ => 0,
        };
        let ids: Vec<String> = tx
            .matched_rules()
            .iter()
            .filter(|rule| rule.log)
            .map(|rule| rule.id.to_string())
            .collect();
        println!(
            "{status}\t{}\t{}\t{}",
            expected.unwrap_or(0),
            ids.join(" "),
            case.name
        );
    }
    Ok(())
}

fn table_cases() -> Result<Vec<(Case, Option<u16>)>, String> {
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

fn http() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let [addr, host, prefixes, rounds, rest @ ..] = args.as_slice() else {
        return Err("http ADDR HOST PREFIXES ROUNDS [benign]".into());
    };
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| format!("ADDR {addr}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "ADDR {addr}: only loopback addresses are load-tested"
        ));
    }
    let rounds: u32 = rounds
        .parse()
        .map_err(|e| format!("ROUNDS {rounds}: {e}"))?;
    let benign_only = match rest {
        [] => false,
        [b] if b == "benign" => true,
        _ => return Err(format!("unexpected arguments {rest:?}")),
    };
    let cases: Vec<Case> = table_cases()?
        .into_iter()
        .filter(|(_, expected)| !benign_only || *expected == Some(0))
        .map(|(case, _)| case)
        .collect();
    let target = portcullis_benches::http_replay::Target {
        addr,
        host: host.clone(),
        prefixes: prefixes.split(',').map(str::to_string).collect(),
    };
    let tally = portcullis_benches::http_replay::replay_http(&target, &cases, rounds);
    for (status, count) in &tally.by_status {
        println!("status {status} {count}");
    }
    println!("failed {}", tally.failed);
    Ok(())
}

fn write_out(cases: &[(Case, Option<u16>)]) -> Result<(), String> {
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

/// CPU time of this thread (`/proc/thread-self/schedstat`, ns): unlike wall time, not
/// inflated when other processes take the CPU.
fn thread_cpu() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

fn profile() -> Result<(), String> {
    let n: u32 = std::env::args()
        .nth(2)
        .map_or(Ok(20_000), |s| s.parse().map_err(|e| format!("N: {e}")))?;
    let files = crs_files().ok_or("no CRS at ../shared/crs")?;
    let start = std::time::Instant::now();
    let engine = Arc::new(build_engine(&files, true)?);
    println!("load {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
    println!("{:?}", engine.stats());
    let only = std::env::args().nth(3);
    // `WAF_PROFILE_RESPONSE=1`: also phases 3 and 4, as in the proxy.
    let response = std::env::var_os("WAF_PROFILE_RESPONSE").is_some();
    // `WAF_PROFILE_FRESH=1`: the value memo forgets every value before each transaction, as
    // if no value ever repeated.
    let fresh = std::env::var_os("WAF_PROFILE_FRESH").is_some();
    // `WAF_PROFILE_THRASH=MB`: before each transaction, write over MB megabytes of other
    // memory (as the kernel, the load generator and other connections do between two
    // transactions of a proxy thread); only the transactions are timed (wall clock).
    let mut thrash = vec![
        0u8;
        std::env::var("WAF_PROFILE_THRASH")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(0)
            << 20
    ];
    // `WAF_PROFILE_MIX=N`: every Nth timed transaction is the SQLi attack instead (the load
    // test's mix: N = 10); the figure is the mean over both kinds.
    let mix: usize = std::env::var("WAF_PROFILE_MIX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let attack = bench_requests()
        .into_iter()
        .find(|r| r.expected_status == 403)
        .ok_or("no attack among the bench requests")?;
    let run = |engine: &Arc<portcullis_waf::Engine>, case: &portcullis_benches::http_file::Case| {
        if fresh {
            portcullis_waf::forget_values();
        }
        if response {
            portcullis_benches::waf_requests::run_with_response(engine, case)
        } else {
            run(engine, case)
        }
    };
    for request in bench_requests() {
        if only.as_deref().is_some_and(|o| !request.id.contains(o)) {
            continue;
        }
        for _ in 0..200 {
            run(&engine, &request.case);
        }
        let start = thread_cpu();
        let mut engine_time = std::time::Duration::ZERO;
        for i in 0..n as usize {
            let request = match mix {
                m if m > 0 && i % m == m - 1 => &attack,
                _ => &request,
            };
            if !thrash.is_empty() {
                for (i, b) in thrash.iter_mut().enumerate().step_by(64) {
                    *b = b.wrapping_add(i as u8);
                }
            }
            let t = std::time::Instant::now();
            let outcome = run(&engine, &request.case);
            engine_time += t.elapsed();
            let status = match outcome {
                Outcome::Deny { status } => status,
                _ => 0,
            };
            if status != request.expected_status {
                return Err(format!("{}: status {status}", request.id));
            }
        }
        let us = if thrash.is_empty() {
            (thread_cpu() - start).as_secs_f64()
        } else {
            engine_time.as_secs_f64()
        } * 1e6
            / f64::from(n);
        println!("{:<24} {us:8.1} µs", request.id);
    }
    Ok(())
}

fn profile_benign() -> Result<(), String> {
    let rounds: u32 = std::env::args()
        .nth(2)
        .map_or(Ok(50), |s| s.parse().map_err(|e| format!("ROUNDS: {e}")))?;
    let files = crs_files().ok_or("no CRS at ../shared/crs")?;
    let engine = Arc::new(build_engine(&files, true)?);
    let cases: Vec<Case> = table_cases()?
        .into_iter()
        .filter(|(_, expected)| *expected == Some(0))
        .map(|(case, _)| case)
        .collect();
    for case in &cases {
        run(&engine, case);
    }
    let start = thread_cpu();
    for _ in 0..rounds {
        for case in &cases {
            if let Outcome::Deny { status } = run(&engine, case) {
                return Err(format!("{}: status {status}", case.name));
            }
        }
    }
    let requests = f64::from(rounds) * cases.len() as f64;
    let us = (thread_cpu() - start).as_secs_f64() * 1e6 / requests;
    println!(
        "{} benign requests x {rounds}: {us:.1} µs per request",
        cases.len()
    );
    Ok(())
}
