//! Manual differential check of `@rx` against libmodsecurity 3 (PCRE2) on CRS patterns; both
//! tests are `#[ignore]`d because they need the C oracle (`data/transform_oracle/rx_oracle.cc`).

mod operator_support;

use std::path::PathBuf;

use operator_support::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The corpus for the PCRE differential check: CRS `@rx` patterns and payloads (go-ftw values
/// plus samples drawn from every pattern). Writes `patterns.hex` and `payloads.hex` into
/// `$RX_ORACLE_DIR`; then run `data/transform_oracle/rx_oracle.cc` on them into `matches.tsv`
/// and `compare_rx_with_pcre` below. Manual: `RX_ORACLE_DIR=/tmp/rx cargo test -p
/// portcullis-waf --test operator_crs -- --ignored dump_rx_corpus`.
#[test]
#[ignore]
fn dump_rx_corpus() {
    let (Some(dir), Ok(out)) = (crs_dir(), std::env::var("RX_ORACLE_DIR")) else {
        eprintln!("SKIP: needs ../shared/crs and RX_ORACLE_DIR");
        return;
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut patterns: Vec<String> = crs_operators(&dir)
        .into_iter()
        .filter(|(_, name, _, _)| name == "rx")
        .map(|(_, _, arg, _)| arg)
        .collect();
    patterns.sort();
    patterns.dedup();
    let mut payloads = ftw_payloads(&dir);
    let mut rng = Rng(42);
    for p in &patterns {
        if let Some(hir) = parse_hir(p) {
            for _ in 0..8 {
                let mut s = Vec::new();
                sample(&hir, &mut rng, &mut s, 0);
                payloads.push(mutate(&s, &mut rng));
                payloads.push(s);
            }
        }
    }
    payloads.retain(|p| !p.is_empty() && p.len() < 3000);
    payloads.sort();
    payloads.dedup();
    let lines = |items: Vec<String>| items.join("\n") + "\n";
    std::fs::write(
        out.join("patterns.hex"),
        lines(patterns.iter().map(|p| hex(p.as_bytes())).collect()),
    )
    .expect("write");
    std::fs::write(
        out.join("payloads.hex"),
        lines(payloads.iter().map(|p| hex(p)).collect()),
    )
    .expect("write");
    eprintln!("{} patterns, {} payloads", patterns.len(), payloads.len());
}

/// Compares our `@rx` verdicts with libmodsecurity's (PCRE2) on the dumped corpus.
#[test]
#[ignore]
fn compare_rx_with_pcre() {
    let Ok(dir) = std::env::var("RX_ORACLE_DIR") else {
        eprintln!("SKIP: needs RX_ORACLE_DIR");
        return;
    };
    let dir = PathBuf::from(dir);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read");
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect()
    };
    let patterns: Vec<String> = read("patterns.hex")
        .lines()
        .map(|l| String::from_utf8_lossy(&unhex(l)).into_owned())
        .collect();
    let payloads: Vec<Vec<u8>> = read("payloads.hex").lines().map(unhex).collect();
    let mut pcre = std::collections::HashSet::new();
    for l in read("matches.tsv").lines() {
        if let Some((a, b)) = l.split_once('\t') {
            pcre.insert((
                a.parse::<usize>().unwrap_or(0),
                b.parse::<usize>().unwrap_or(0),
            ));
        }
    }
    let (mut agree, mut ours_only, mut pcre_only) = (0usize, 0usize, 0usize);
    let mut per_pattern = std::collections::BTreeMap::<usize, (usize, usize, Vec<usize>)>::new();
    for (pi, p) in patterns.iter().enumerate() {
        let re = portcullis_waf::operator::rx::RxMatcher::new(p).expect("compiles");
        for (qi, q) in payloads.iter().enumerate() {
            let ours = re.is_match(q);
            let theirs = pcre.contains(&(pi, qi));
            if ours == theirs {
                agree += 1;
            } else {
                let e = per_pattern.entry(pi).or_default();
                if ours {
                    ours_only += 1;
                    e.0 += 1
                } else {
                    pcre_only += 1;
                    e.1 += 1
                }
                if e.2.len() < 3 {
                    e.2.push(qi);
                }
            }
        }
    }
    let total = agree + ours_only + pcre_only;
    eprintln!(
        "{} patterns x {} payloads: agreement {:.4}% ({ours_only} only we match, {pcre_only} only PCRE matches)",
        patterns.len(),
        payloads.len(),
        100.0 * agree as f64 / total.max(1) as f64
    );
    for (pi, (a, b, ex)) in &per_pattern {
        eprintln!(
            "pattern {pi} ({a} ours-only, {b} pcre-only): {}",
            patterns[*pi].chars().take(120).collect::<String>()
        );
        for qi in ex {
            eprintln!(
                "    {:?}",
                String::from_utf8_lossy(&payloads[*qi])
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
    }
}
