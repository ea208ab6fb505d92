//! Every operator in OWASP CRS v4 (`../shared/crs`, read in place) must compile, and the
//! `@rx` prefilter literals must never drop a match: for every `@rx`, inputs sampled from the
//! regex itself, mutated variants and the payloads of the CRS go-ftw tests are matched, and
//! whenever the regex matches, one of its literals must occur (ASCII-case-insensitively).
//! Skips with a message when the CRS directory is absent.

use std::path::{Path, PathBuf};

use portcullis_waf::operator::{DataFileLoader, NoMacros, Operator};
use regex_syntax::hir::{Class, Hir, HirKind};

fn crs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    dir.join("rules").is_dir().then_some(dir)
}

struct RulesDir(PathBuf);

impl DataFileLoader for RulesDir {
    fn load(&self, name: &str) -> Result<String, String> {
        std::fs::read_to_string(self.0.join(name)).map_err(|e| e.to_string())
    }
}

/// (file:line, operator name, argument, negated) of every SecRule.
fn crs_operators(dir: &Path) -> Vec<(String, String, String, bool)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .expect("rules dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.push(dir.join("crs-setup.conf.example"));
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("rule file");
        let mut logical = String::new();
        let mut start = 0;
        for (n, line) in text.lines().enumerate() {
            if logical.is_empty() {
                start = n + 1;
                if line.trim_start().starts_with('#') {
                    continue;
                }
            }
            if let Some(stripped) = line.strip_suffix('\\') {
                logical.push_str(stripped);
                continue;
            }
            logical.push_str(line);
            let full = std::mem::take(&mut logical);
            let full = full.trim_start();
            if let Some(rest) = full.strip_prefix("SecRule") {
                let tokens = tokenize(rest);
                if tokens.len() >= 2 {
                    let (name, arg, neg) = split_operator(&tokens[1]);
                    let origin = format!("{}:{start}", file.file_name().unwrap().to_string_lossy());
                    out.push((origin, name, arg, neg));
                }
            }
        }
    }
    out
}

fn tokenize(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut tok = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'"') => {
                        tok.push('"');
                        chars.next();
                    }
                    '"' => break,
                    _ => tok.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        tokens.push(tok);
    }
    tokens
}

fn split_operator(op: &str) -> (String, String, bool) {
    let (neg, op) = match op.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, op),
    };
    match op.strip_prefix('@') {
        Some(rest) => {
            let (name, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            (name.to_string(), arg.to_string(), neg)
        }
        None => ("rx".to_string(), op.to_string(), neg),
    }
}

/// Payload strings from the go-ftw tests: values of `data:`, `uri:` and header lines, raw and
/// percent-decoded.
fn ftw_payloads(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("tests")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for line in text.lines() {
                    let t = line.trim();
                    let Some((_, value)) = t.split_once(": ") else {
                        continue;
                    };
                    let value = value.trim().trim_matches('"').trim_matches('\'');
                    if value.len() < 2 {
                        continue;
                    }
                    let raw = value.replace("\\\"", "\"").replace("\\\\", "\\");
                    let decoded = portcullis_waf::transform::Transform::UrlDecodeUni
                        .apply(raw.as_bytes())
                        .into_owned();
                    out.push(raw.into_bytes());
                    out.push(decoded);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// xorshift64* — deterministic, no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// A random string from the language of `hir` (look-arounds are ignored, so the sample may
/// not match; the caller checks with the real regex).
fn sample(hir: &Hir, rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
    if depth > 200 || out.len() > 4096 {
        return;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => {
            for &b in lit.0.iter() {
                // Flip case sometimes: the consumer compares case-insensitively.
                let b = if rng.below(4) == 0 {
                    b.to_ascii_uppercase()
                } else {
                    b
                };
                out.push(b);
            }
        }
        HirKind::Class(Class::Bytes(c)) => {
            let ranges: Vec<_> = c.iter().collect();
            if ranges.is_empty() {
                return;
            }
            let r = ranges[rng.below(ranges.len() as u64) as usize];
            let span = (r.end() - r.start()) as u64 + 1;
            out.push(r.start() + rng.below(span) as u8);
        }
        HirKind::Class(Class::Unicode(c)) => {
            let ranges: Vec<_> = c.iter().collect();
            if ranges.is_empty() {
                return;
            }
            let r = ranges[rng.below(ranges.len() as u64) as usize];
            let span = (r.end() as u64 - r.start() as u64) + 1;
            let ch = char::from_u32(r.start() as u32 + rng.below(span) as u32).unwrap_or('a');
            let mut buf = [0; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(rep.min + 3).min(rep.min + 3);
            let n = rep.min + rng.below((max - rep.min + 1) as u64) as u32;
            for _ in 0..n {
                sample(&rep.sub, rng, out, depth + 1);
            }
        }
        HirKind::Capture(cap) => sample(&cap.sub, rng, out, depth + 1),
        HirKind::Concat(parts) => {
            for p in parts {
                sample(p, rng, out, depth + 1);
            }
        }
        HirKind::Alternation(alts) => {
            let i = rng.below(alts.len() as u64) as usize;
            sample(&alts[i], rng, out, depth + 1);
        }
    }
}

fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(3) {
        let pos = rng.below(v.len() as u64 + 1) as usize;
        match rng.below(3) {
            0 if pos < v.len() => {
                v.remove(pos);
            }
            1 => v.insert(pos, b" '\"()<>;/\\=-*#%&|a0x\n"[rng.below(20) as usize]),
            _ if pos < v.len() => v[pos] = rng.below(256) as u8,
            _ => {}
        }
    }
    v
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn parse_hir(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .build()
        .parse(pattern)
        .ok()
}

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
    for (origin, name, arg, neg) in &ops {
        if let Err(e) = Operator::compile(name, arg, *neg, &loader) {
            failures.push(format!("{origin}: {e}"));
        }
    }
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
        .unwrap_or(300);
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
        let re = portcullis_waf::operator::rx::build(&arg).expect("compiles");
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
