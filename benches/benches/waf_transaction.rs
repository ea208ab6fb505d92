//! WAF transactions with the OWASP CRS v4 (`../shared/crs`) at paranoia level 1 in blocking
//! mode: rule load (parse + compile, prefilters on), then one whole request transaction
//! (phases 1, 2 and logging) for a benign GET with 3 arguments, a urlencoded POST with 7
//! arguments, a 1 KB JSON body, a 10 KB multipart upload and an SQL injection attack.
//!
//! The same five requests also run against our own rule set (`rules/`, group `waf-own-pl1`),
//! which is what portcullis runs when no CRS directory is configured.
//!
//! Each request is timed twice: repeated as it is (group `waf-crs-pl1`: after the first
//! iteration the engine's value memo knows every value, as it knows the recurring values of
//! real traffic — user agents, accept headers, cookies, argument names), and with the memo
//! emptied before every iteration (group `waf-crs-pl1-fresh`: every value new, the other end
//! of the range; `portcullis_waf::forget_values`, outside the timed routine).
//!
//! Every request is first checked for its expected verdict (pass, or deny 403) with the fast
//! paths (prefilters, value memo) on and off, so a broken fast path fails instead of looking
//! fast. The requests and the rule
//! files are those of `portcullis_benches::waf_requests`, which the libmodsecurity harness
//! (`benches/modsec/run.sh`) replays too; `benches/waf-compare.sh` prints both side by side.
//!
//! Like the `portcullis` binary, the benchmark runs on mimalloc.
//!
//! Run: `cargo bench -p portcullis-benches --bench waf_transaction`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_benches::waf_requests::{
    BenchRequest, bench_requests, build_engine, crs_files, own_rules_files, run,
};
use portcullis_waf::{Engine, Outcome};

/// The allocator the `portcullis` binary uses, so figures match the product.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn expected_outcome(request: &BenchRequest) -> Outcome {
    match request.expected_status {
        0 => Outcome::Pass,
        status => Outcome::Deny { status },
    }
}

fn engine(prefilter: bool) -> Option<Arc<Engine>> {
    let files = crs_files()?;
    match build_engine(&files, prefilter) {
        Ok(engine) => Some(Arc::new(engine)),
        Err(error) => panic!("loading CRS: {error}"),
    }
}

fn bench_load(c: &mut Criterion) {
    let Some(files) = crs_files() else {
        eprintln!("SKIPPED: no CRS at ../shared/crs");
        return;
    };
    let mut group = c.benchmark_group("waf-crs-pl1");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("rule-load", |b| {
        b.iter(|| black_box(build_engine(&files, true).map(|engine| engine.rule_count())))
    });
    group.finish();
}

fn bench_transactions(c: &mut Criterion) {
    let (Some(on), Some(off)) = (engine(true), engine(false)) else {
        eprintln!("SKIPPED: no CRS at ../shared/crs");
        return;
    };
    let requests = bench_requests();
    for request in &requests {
        let expected = expected_outcome(request);
        for (label, engine) in [("on", &on), ("off", &off)] {
            let got = run(engine, &request.case);
            assert_eq!(got, expected, "{} with fast paths {label}", request.id);
        }
    }
    let mut group = c.benchmark_group("waf-crs-pl1");
    group.measurement_time(Duration::from_secs(4));
    for request in &requests {
        group.bench_function(request.id, |b| {
            b.iter(|| black_box(run(&on, &request.case)))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("waf-crs-pl1-fresh");
    group.measurement_time(Duration::from_secs(4));
    for request in &requests {
        group.bench_function(request.id, |b| {
            b.iter_batched(
                portcullis_waf::forget_values,
                |()| black_box(run(&on, &request.case)),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn bench_own_rules(c: &mut Criterion) {
    let files = own_rules_files();
    let build = |prefilter| match build_engine(&files, prefilter) {
        Ok(engine) => Arc::new(engine),
        Err(error) => panic!("loading rules/: {error}"),
    };
    let (on, off) = (build(true), build(false));
    let requests = bench_requests();
    for request in &requests {
        let expected = expected_outcome(request);
        for (label, engine) in [("on", &on), ("off", &off)] {
            let got = run(engine, &request.case);
            assert_eq!(
                got, expected,
                "own rules: {} with fast paths {label}",
                request.id
            );
        }
    }
    let mut group = c.benchmark_group("waf-own-pl1");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("rule-load", |b| {
        b.iter(|| black_box(build_engine(&files, true).map(|engine| engine.rule_count())))
    });
    for request in &requests {
        group.bench_function(request.id, |b| {
            b.iter(|| black_box(run(&on, &request.case)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_load, bench_transactions, bench_own_rules);
criterion_main!(benches);
