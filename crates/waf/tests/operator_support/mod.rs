//! Shared helpers for the CRS operator tests: reading the operators of OWASP CRS in place
//! (`../shared/crs`), go-ftw payloads, a deterministic RNG and a sampler that draws strings
//! from a regex's HIR.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use portcullis_waf::operator::DataFileLoader;
use regex_syntax::hir::{Class, Hir, HirKind};

pub fn crs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs");
    dir.join("rules").is_dir().then_some(dir)
}

pub struct RulesDir(pub PathBuf);

impl DataFileLoader for RulesDir {
    fn load(&self, name: &str) -> Result<String, String> {
        std::fs::read_to_string(self.0.join(name)).map_err(|e| e.to_string())
    }
}

/// (file:line, operator name, argument, negated) of every SecRule.
pub fn crs_operators(dir: &Path) -> Vec<(String, String, String, bool)> {
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

pub fn tokenize(s: &str) -> Vec<String> {
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

pub fn split_operator(op: &str) -> (String, String, bool) {
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
pub fn ftw_payloads(dir: &Path) -> Vec<Vec<u8>> {
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
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// A random string from the language of `hir` (look-arounds are ignored, so the sample may
/// not match; the caller checks with the real regex).
pub fn sample(hir: &Hir, rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
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

pub fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
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

pub fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

pub fn parse_hir(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .build()
        .parse(pattern)
        .ok()
}
