mod operator_support;
use operator_support::*;
use regex_automata::{meta, nfa::thompson, util::syntax};
#[test]
fn scratch() {
    let dir = crs_dir().unwrap();
    let mut pats: Vec<(String, String)> = crs_operators(&dir).into_iter().filter(|o| o.1 == "rx").map(|o| (o.0, o.2)).collect();
    pats.sort_by_key(|p| std::cmp::Reverse(p.1.len()));
    let syn = syntax::Config::new().unicode(false).utf8(false).dot_matches_new_line(true).multi_line(true);
    let mut totals = [std::time::Duration::ZERO; 5];
    for (_, p) in &pats {
        let t = std::time::Instant::now();
        let _ = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(p);
        totals[0] += t.elapsed();
        let t = std::time::Instant::now();
        let _ = thompson::Compiler::new().syntax(syn).configure(thompson::Config::new().utf8(false)).build(p);
        totals[1] += t.elapsed();
        let t = std::time::Instant::now();
        let _ = meta::Builder::new().syntax(syn).build(p);
        totals[2] += t.elapsed();
        let t = std::time::Instant::now();
        let _ = meta::Builder::new().syntax(syn).configure(meta::Config::new().auto_prefilter(false)).build(p);
        totals[3] += t.elapsed();
        let t = std::time::Instant::now();
        let _ = meta::Builder::new().syntax(syn).configure(meta::Config::new().auto_prefilter(false).onepass(false).backtrack(false)).build(p);
        totals[4] += t.elapsed();
    }
    eprintln!("parse {:?} nfa {:?} meta {:?} meta-noprefilter {:?} meta-minimal {:?}", totals[0], totals[1], totals[2], totals[3], totals[4]);
    let data = std::fs::read_to_string(dir.join("rules/php-errors.data")).unwrap();
    let phrases: Vec<&str> = data.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for kind in [None, Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA), Some(aho_corasick::AhoCorasickKind::ContiguousNFA), Some(aho_corasick::AhoCorasickKind::DFA)] {
        let t = std::time::Instant::now();
        let _ = aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).kind(kind).build(&phrases).unwrap();
        eprintln!("ac {kind:?} {} phrases: {:?}", phrases.len(), t.elapsed());
    }
}
