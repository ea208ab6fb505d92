//! Route lookup with 10, 1,000 and 10,000 Ingresses (target: flat, under 1 µs), plus
//! `normalize_path` on a canonical and a dirty path, and the table build.
//!
//! The peer measured in the same run is a linear scan over the same rules (see
//! `linear_lookup`): compare ratios, not absolute numbers, on a shared machine.
//!
//! Every benchmark first checks its own answer (expected target and match kind) so that a
//! broken fast path fails instead of looking fast.
//!
//! Each Ingress `i` has host `app-{i}.example.com` with four paths (`/`, `/api`, `/static/`
//! Prefix; `/api/v1/users` Exact); every tenth Ingress also has a wildcard host
//! `*.tenant-{i}.example.net`; one rule without host and a default backend complete the table.
//!
//! Run: `cargo bench -p portcullis-benches --bench route_lookup`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use portcullis_router::{MatchKind, PathType, RouteTable, RouteTableBuilder, normalize_path};

const SIZES: [usize; 3] = [10, 1_000, 10_000];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    ingress: usize,
    name: &'static str,
}

/// One rule: host (`None` = no host), path, type, target.
type Rule = (Option<String>, &'static str, PathType, Target);

/// The rules of `ingresses` Ingresses, oldest first.
fn rules(ingresses: usize) -> Vec<Rule> {
    let mut rules = Vec::with_capacity(ingresses * 5 + 1);
    for i in 0..ingresses {
        let host = format!("app-{i}.example.com");
        let paths = [
            ("/", PathType::Prefix, "root"),
            ("/api", PathType::Prefix, "api"),
            ("/api/v1/users", PathType::Exact, "users"),
            ("/static/", PathType::Prefix, "static"),
        ];
        for (path, path_type, name) in paths {
            let target = Target { ingress: i, name };
            rules.push((Some(host.clone()), path, path_type, target));
        }
        if i % 10 == 0 {
            let wildcard = format!("*.tenant-{i}.example.net");
            let target = Target {
                ingress: i,
                name: "wildcard",
            };
            rules.push((Some(wildcard), "/", PathType::Prefix, target));
        }
    }
    let catch_all = Target {
        ingress: usize::MAX,
        name: "catch-all",
    };
    rules.push((None, "/", PathType::Prefix, catch_all));
    rules
}

const DEFAULT: Target = Target {
    ingress: usize::MAX,
    name: "default",
};

fn build_table(ingresses: usize) -> RouteTable<Target> {
    let mut builder = RouteTableBuilder::new();
    for (host, path, path_type, target) in rules(ingresses) {
        builder
            .add(host.as_deref(), path, path_type, target)
            .expect("valid rule");
    }
    builder.set_default_backend(DEFAULT).expect("first default");
    builder.build()
}

/// The peer measured in the same run: the same rules in a list scanned linearly (exact hosts
/// only, which is all its benchmark case needs), as a naive router would do. Its time grows
/// with the number of Ingresses; the ratio shows what the indexed table saves.
fn linear_lookup(rules: &[Rule], host: &str, path: &str) -> Option<(Target, MatchKind)> {
    let host = host.split(':').next().unwrap_or_default();
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let mut best: Option<(usize, Target, MatchKind)> = None;
    for (rule_host, rule_path, path_type, target) in rules {
        if !rule_host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(host))
        {
            continue;
        }
        let score = match path_type {
            PathType::Exact => (*rule_path == path).then_some((usize::MAX, MatchKind::Exact)),
            _ => {
                let key = rule_path.strip_suffix('/').unwrap_or(rule_path);
                let hit = key.is_empty()
                    || trimmed == key
                    || trimmed
                        .strip_prefix(key)
                        .is_some_and(|r| r.starts_with('/'));
                hit.then_some((key.len(), MatchKind::Prefix))
            }
        };
        if let Some((len, kind)) = score {
            if best.is_none_or(|(l, _, _)| len > l) {
                best = Some((len, *target, kind));
            }
        }
    }
    best.map(|(_, t, k)| (t, k))
        .or(Some((DEFAULT, MatchKind::DefaultBackend)))
}

/// One request of the benchmark with its expected answer.
struct Case {
    name: &'static str,
    host: String,
    raw_path: &'static str,
    expected: (Target, MatchKind),
}

fn cases(ingresses: usize) -> Vec<Case> {
    let mid = ingresses / 2;
    let tenant = (ingresses / 2 / 10) * 10;
    let t = |ingress, name| Target { ingress, name };
    vec![
        Case {
            name: "exact_host_deep_prefix",
            host: format!("app-{mid}.example.com"),
            raw_path: "/api/v2/orders/42/items",
            expected: (t(mid, "api"), MatchKind::Prefix),
        },
        Case {
            name: "mixed_case_host_port_exact_path",
            host: format!("App-{mid}.Example.COM:8443"),
            raw_path: "/api/v1/users",
            expected: (t(mid, "users"), MatchKind::Exact),
        },
        Case {
            name: "wildcard_host",
            host: format!("shop.tenant-{tenant}.example.net"),
            raw_path: "/index.html",
            expected: (t(tenant, "wildcard"), MatchKind::Prefix),
        },
        Case {
            name: "unknown_host_rules_without_host",
            host: "unknown.example.org".to_string(),
            raw_path: "/x/y/z",
            expected: (t(usize::MAX, "catch-all"), MatchKind::Prefix),
        },
        Case {
            name: "dirty_path_normalised",
            host: format!("app-{mid}.example.com"),
            raw_path: "/static//css/../img/./%6Cogo.png",
            expected: (t(mid, "static"), MatchKind::Prefix),
        },
    ]
}

/// Normalise then look up, exactly as the proxy does per request.
fn route(table: &RouteTable<Target>, host: &str, raw_path: &str) -> Option<(Target, MatchKind)> {
    let path = normalize_path(raw_path).ok()?;
    table.lookup(host, &path).map(|m| (*m.target, m.kind))
}

fn bench_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for ingresses in SIZES {
        let table = build_table(ingresses);
        for case in cases(ingresses) {
            let got = route(&table, &case.host, case.raw_path);
            assert_eq!(
                got,
                Some(case.expected),
                "{} with {ingresses} Ingresses",
                case.name
            );
            group.bench_with_input(BenchmarkId::new(case.name, ingresses), &case, |b, case| {
                b.iter(|| {
                    route(
                        black_box(&table),
                        black_box(&case.host),
                        black_box(case.raw_path),
                    )
                })
            });
        }
    }
    for ingresses in SIZES {
        let rules = rules(ingresses);
        let case = &cases(ingresses)[0];
        let path = normalize_path(case.raw_path).expect("valid path");
        let got = linear_lookup(&rules, &case.host, &path);
        assert_eq!(
            got,
            Some(case.expected),
            "linear scan, {ingresses} Ingresses"
        );
        let id = BenchmarkId::new("peer_linear_scan_exact_host_deep_prefix", ingresses);
        group.bench_with_input(id, case, |b, case| {
            b.iter(|| {
                let path = normalize_path(black_box(case.raw_path)).ok()?;
                linear_lookup(black_box(&rules), black_box(&case.host), &path)
            })
        });
    }
    group.finish();
}

fn bench_normalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize_path");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    let inputs = [
        (
            "canonical",
            "/api/v1/users/42/orders",
            "/api/v1/users/42/orders",
        ),
        (
            "dirty",
            "/static//css/../img/./%6Cogo.png",
            "/static/img/logo.png",
        ),
    ];
    for (name, raw, expected) in inputs {
        assert_eq!(normalize_path(raw).as_deref(), Ok(expected), "{name}");
        group.bench_function(name, |b| b.iter(|| normalize_path(black_box(raw))));
    }
    group.finish();
}

fn bench_build(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_table_build");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    let ingresses = 10_000;
    let expected_rules = ingresses * 4 + ingresses / 10 + 1;
    assert_eq!(build_table(ingresses).len(), expected_rules);
    group.bench_function(BenchmarkId::from_parameter(ingresses), |b| {
        b.iter(|| build_table(black_box(ingresses)))
    });
    group.finish();
}

criterion_group!(benches, bench_lookup, bench_normalize, bench_build);
criterion_main!(benches);
