//! Every operator in OWASP CRS v4 (`../shared/crs`, read in place) must compile, and the
//! `@rx` prefilter literals must never drop a match: for every `@rx`, inputs sampled from the
//! regex itself, mutated variants and the payloads of the CRS go-ftw tests are matched, and
//! whenever the regex matches, one of its literals must occur (ASCII-case-insensitively).
//! Skips with a message when the CRS directory is absent.

mod operator_support;

use operator_support::*;
use portcullis_waf::operator::{NoMacros, Operator};

#[test]
fn every_crs_operator_compiles() {
    let Some(dir) = crs_dir() else {
        eprintln!("SKIP: ../shared/crs not found");
        return;
    };
    let loader = RulesDir(dir.join("rules"));
    let ops = crs_operators(&dir);
    assert!(ops.len() > 500, "only {} operators found", ops.len());
    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    let mut compiled = Vec::new();
    for (origin, name, arg, neg) in &ops {
        match Operator::compile(name, arg, *neg, &loader) {
            Ok(op) => compiled.push((origin, op)),
            Err(e) => failures.push(format!("{origin}: {e}")),
        }
    }
    let loaded = started.elapsed();
    for (origin, op) in &compiled {
        if let Err(e) = op.warm() {
            failures.push(format!("{origin}: {e}"));
        }
    }
    eprintln!(
        "{} CRS operators: compiled (regexes validated, not built) in {loaded:?}; all regexes built in {:?} more",
        ops.len(),
        started.elapsed() - loaded
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn crs_rx_prefilter_never_drops_a_match() {
    let Some(dir) = crs_dir() else {
        eprintln!("SKIP: ../shared/crs not found");
        return;
    };
    let loader = RulesDir(dir.join("rules"));
    let payloads = ftw_payloads(&dir);
    let samples_per_rx: usize = std::env::var("PREFILTER_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut total, mut gated, mut checked_matches) = (0, 0, 0usize);
    let mut violations = Vec::new();
    for (origin, name, arg, neg) in crs_operators(&dir) {
        if name != "rx" {
            continue;
        }
        total += 1;
        let op = Operator::compile(&name, &arg, false, &loader).expect("compiles");
        let Some(lits) = op.prefilter_literals() else {
            if std::env::var_os("LIST_UNGATED").is_some() && !neg {
                eprintln!(
                    "UNGATED {origin}: {}",
                    arg.chars().take(150).collect::<String>()
                );
            }
            continue;
        };
        if !neg {
            gated += 1;
        }
        let Some(hir) = parse_hir(&arg) else { continue };
        let re = portcullis_waf::operator::rx::RxMatcher::new(&arg).expect("compiles");
        let mut check = |input: &[u8]| {
            if re.is_match(input) {
                checked_matches += 1;
                if !lits.iter().any(|l| contains_ci(input, l)) {
                    violations.push(format!(
                        "{origin}: {:?} matches but has none of {} literals (e.g. {:?})",
                        String::from_utf8_lossy(input),
                        lits.len(),
                        String::from_utf8_lossy(&lits[0])
                    ));
                }
            }
        };
        for _ in 0..samples_per_rx {
            let mut s = Vec::new();
            if rng.below(2) == 0 {
                s.extend_from_slice(b"x=");
            }
            sample(&hir, &mut rng, &mut s, 0);
            check(&s);
            let m = mutate(&s, &mut rng);
            check(&m);
        }
        for p in &payloads {
            check(p);
            check(&p.to_ascii_lowercase());
        }
        let _ = &op.evaluate(b"", &NoMacros, None);
    }
    eprintln!(
        "CRS @rx operators: {total}; with prefilter literals: {gated} ({:.1}%); matches checked: {checked_matches}",
        100.0 * gated as f64 / total.max(1) as f64
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// How often the gate opens on benign values (a figure for tuning, not a pass/fail check):
/// realistic header and argument values, lower-cased as many CRS chains do.
#[test]
fn crs_rx_prefilter_selectivity_on_benign_values() {
    let Some(dir) = crs_dir() else {
        eprintln!("SKIP: ../shared/crs not found");
        return;
    };
    let loader = RulesDir(dir.join("rules"));
    let benign: &[&str] = &[
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "en-US,en;q=0.9,de;q=0.8",
        "gzip, deflate, br",
        "https://www.example.com/products/shoes?color=blue&size=42",
        "session=4f9a8b7c6d5e; theme=dark; _ga=GA1.2.1234567890.1700000000",
        "max-age=0",
        "John Smith",
        "john.smith@example.com",
        "Where can I buy running shoes for $50 or less?",
        "2024-01-15",
        "42",
        "The quick brown fox jumps over the lazy dog.",
        "{\"query\":\"{ user(id: 5) { name email } }\"}",
        "/images/logo-small.png",
        "Hello, I'd like to return my order #12345 (wrong size).",
    ];
    let values: Vec<Vec<u8>> = benign
        .iter()
        .flat_map(|v| [v.as_bytes().to_vec(), v.to_ascii_lowercase().into_bytes()])
        .collect();
    let (mut gated, mut opened, mut checks) = (0usize, 0usize, 0usize);
    let mut by_literal = std::collections::BTreeMap::<String, usize>::new();
    for (_, name, arg, neg) in crs_operators(&dir) {
        if name != "rx" || neg {
            continue;
        }
        let op = Operator::compile(&name, &arg, false, &loader).expect("compiles");
        let Some(lits) = op.prefilter_literals() else {
            continue;
        };
        gated += 1;
        for v in &values {
            checks += 1;
            if let Some(l) = lits.iter().find(|l| contains_ci(v, l)) {
                opened += 1;
                *by_literal
                    .entry(String::from_utf8_lossy(l).into_owned())
                    .or_default() += 1;
            }
        }
    }
    let mut top: Vec<_> = by_literal.into_iter().collect();
    top.sort_by_key(|b| std::cmp::Reverse(b.1));
    eprintln!(
        "benign values: gate opened {opened} of {checks} checks ({:.1}%) over {gated} gated @rx; top literals: {:?}",
        100.0 * opened as f64 / checks.max(1) as f64,
        &top[..top.len().min(15)]
    );
}
