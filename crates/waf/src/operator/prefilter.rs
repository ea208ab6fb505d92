//! Prefilter literal extraction for `@rx`.
//!
//! From the regex's HIR (the same parse the matcher uses: unicode off, so every class is a
//! byte class) we compute a set of literals such that **every** match of the regex contains
//! at least one of them. The engine scans each transformed value once with an Aho-Corasick
//! automaton over the literals of all rules and runs a regex only when one of its literals
//! occurred. Contract: the literals may let non-matches through, never drop a match.
//!
//! Literals are lower-cased: the consumer compares ASCII-case-insensitively, which can only
//! admit more inputs. The walk computes for each node either
//! - `Exact(set)`: the finite set of all strings the node can match (small sets only), or
//! - `Required(set)`: one of these strings occurs in any match of the node, or
//! - `Any`: nothing is known.
//!
//! Concatenations take the cross product of adjacent exact parts while it stays small; each
//! part of a concatenation is required, so the best part wins. Alternations take the union
//! (every branch must contribute). Repetitions with a minimum of 0 know nothing; with a minimum
//! of at least 1 they require what their sub-expression requires. Look-around assertions
//! (anchors, word boundaries) match the empty string.

use std::collections::BTreeSet;

use regex_syntax::hir::{Class, Hir, HirKind};

/// Largest set kept while combining.
const MAX_SET: usize = 64;
/// Largest set returned to the engine.
pub const MAX_LITERALS: usize = 256;
/// Shortest literal worth gating on (single bytes only when rare, see `rare_byte`).
pub const MIN_LITERAL_LEN: usize = 2;
/// Longest exact string kept while combining (longer ones become required literals).
const MAX_LEN: usize = 64;
/// Largest byte class expanded into single-byte alternatives (after case folding).
const MAX_CLASS: usize = 10;

type Set = BTreeSet<Vec<u8>>;

#[derive(Debug, Clone)]
enum Info {
    Exact(Set),
    Required(Set),
    Any,
}

/// Quality of a required set: higher is better. None = useless.
fn score(set: &Set) -> Option<(bool, usize, isize)> {
    if set.is_empty() || set.len() > MAX_LITERALS {
        return None;
    }
    let min_len = set.iter().map(Vec::len).min().unwrap_or(0);
    if min_len == 0 {
        return None;
    }
    let all_usable = set.iter().all(|l| usable(l));
    Some((all_usable, min_len.min(4), -(set.len() as isize)))
}

fn better(a: Option<Set>, b: Option<Set>) -> Option<Set> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            if score(&b) > score(&a) {
                Some(b)
            } else {
                Some(a)
            }
        }
    }
}

/// Reduces a required set: drops any literal that contains another one (the shorter one is
/// found whenever the longer one is). Each literal's substrings of the lengths present in the
/// set are looked up in a hash set.
fn minimize(set: Set) -> Set {
    let members: std::collections::HashSet<&[u8], foldhash::fast::RandomState> =
        set.iter().map(Vec::as_slice).collect();
    let mut lens: Vec<usize> = set.iter().map(Vec::len).filter(|&l| l > 0).collect();
    lens.sort_unstable();
    lens.dedup();
    let contains_other = |a: &[u8]| {
        lens.iter()
            .take_while(|&&l| l < a.len())
            .any(|&l| a.windows(l).any(|w| members.contains(w)))
    };
    let keep: Vec<bool> = set.iter().map(|a| !contains_other(a)).collect();
    set.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(a, _)| a.clone())
        .collect()
}

fn into_required(info: Info) -> Option<Set> {
    match info {
        Info::Exact(s) | Info::Required(s) => {
            if s.iter().any(Vec::is_empty) {
                None
            } else {
                Some(s)
            }
        }
        Info::Any => None,
    }
}

fn class_bytes(class: &Class) -> Option<Set> {
    let mut bytes = BTreeSet::new();
    match class {
        Class::Bytes(c) => {
            for r in c.iter() {
                for b in r.start()..=r.end() {
                    bytes.insert(b.to_ascii_lowercase());
                    if bytes.len() > MAX_CLASS {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(c) => {
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    if !ch.is_ascii() {
                        return None;
                    }
                    bytes.insert((ch as u8).to_ascii_lowercase());
                    if bytes.len() > MAX_CLASS {
                        return None;
                    }
                }
            }
        }
    }
    Some(bytes.into_iter().map(|b| vec![b]).collect())
}

fn cross(a: &Set, b: &Set) -> Option<Set> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    let mut out = BTreeSet::new();
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_LEN {
                return None;
            }
            let mut v = x.clone();
            v.extend_from_slice(y);
            out.insert(v);
        }
    }
    Some(out)
}

/// The union of `set^k` for `k` in `min..=max`, if it stays small.
fn exact_powers(set: &Set, min: u32, max: u32) -> Option<Set> {
    let mut power: Set = std::iter::once(Vec::new()).collect();
    let mut union = Set::new();
    for k in 0..=max {
        if k >= min {
            union.extend(power.iter().cloned());
            if union.len() > MAX_SET {
                return None;
            }
        }
        if k < max {
            power = cross(&power, set)?;
        }
    }
    Some(union)
}

fn empty_exact() -> Info {
    Info::Exact(std::iter::once(Vec::new()).collect())
}

fn analyze(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => empty_exact(),
        HirKind::Literal(lit) => {
            let bytes: Vec<u8> = lit.0.iter().map(u8::to_ascii_lowercase).collect();
            if bytes.len() > MAX_LEN {
                Info::Required(std::iter::once(bytes).collect())
            } else {
                Info::Exact(std::iter::once(bytes).collect())
            }
        }
        HirKind::Class(class) => match class_bytes(class) {
            Some(set) if !set.is_empty() => Info::Exact(set),
            // An empty class never matches: any requirement is vacuously true, but keep it
            // simple and claim nothing.
            _ => Info::Any,
        },
        HirKind::Capture(cap) => analyze(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = analyze(&rep.sub);
            // A small bounded repetition of an exact set stays exact: the union of its powers.
            if let (Info::Exact(set), Some(max)) = (&sub, rep.max) {
                if max <= 4 {
                    if let Some(powers) = exact_powers(set, rep.min, max) {
                        return Info::Exact(powers);
                    }
                }
            }
            if rep.min == 0 {
                return Info::Any;
            }
            match into_required(sub) {
                Some(set) => Info::Required(set),
                None => Info::Any,
            }
        }
        HirKind::Concat(parts) => concat(parts),
        HirKind::Alternation(branches) => {
            let infos: Vec<Info> = branches.iter().map(analyze).collect();
            let exact_total: Option<usize> = infos
                .iter()
                .map(|i| match i {
                    Info::Exact(s) => Some(s.len()),
                    _ => None,
                })
                .sum();
            if exact_total.is_some_and(|n| n <= MAX_SET) {
                let mut union = BTreeSet::new();
                for i in &infos {
                    if let Info::Exact(s) = i {
                        union.extend(s.iter().cloned());
                    }
                }
                if union.len() <= MAX_SET {
                    return Info::Exact(union);
                }
            }
            let mut union = BTreeSet::new();
            for i in infos {
                match into_required(i) {
                    Some(s) => union.extend(s),
                    None => return Info::Any,
                }
                // Keep the set small as it grows: cut to prefixes early (still required).
                if union.len() > MAX_LITERALS * 2 {
                    match shrink(union) {
                        Some(small) => union = small,
                        None => return Info::Any,
                    }
                }
            }
            match shrink(union) {
                Some(set) => Info::Required(set),
                None => Info::Any,
            }
        }
    }
}

fn concat(parts: &[Hir]) -> Info {
    let mut best: Option<Set> = None;
    let mut run: Option<Set> = Some(std::iter::once(Vec::new()).collect());
    let mut all_exact = true;
    for part in parts {
        match analyze(part) {
            Info::Exact(set) => {
                let next = run.as_ref().and_then(|r| cross(r, &set));
                match next {
                    Some(n) => run = Some(n),
                    None => {
                        // The run is complete: it is required; start again from this part.
                        all_exact = false;
                        best = better(best, run.take().and_then(|r| into_required(Info::Exact(r))));
                        run = Some(set);
                    }
                }
            }
            other => {
                all_exact = false;
                best = better(best, run.take().and_then(|r| into_required(Info::Exact(r))));
                best = better(best, into_required(other));
                run = Some(std::iter::once(Vec::new()).collect());
            }
        }
    }
    if all_exact {
        if let Some(r) = run {
            return Info::Exact(r);
        }
    }
    best = better(best, run.and_then(|r| into_required(Info::Exact(r))));
    match best {
        Some(set) => Info::Required(set),
        None => Info::Any,
    }
}

/// Brings a required set down to at most [`MAX_LITERALS`] entries by cutting every literal to
/// a prefix (a prefix of a required substring is itself required), longest prefixes first.
fn shrink(set: Set) -> Option<Set> {
    if set.len() <= MAX_LITERALS {
        return Some(set);
    }
    let set = minimize(set);
    if set.len() <= MAX_LITERALS {
        return Some(set);
    }
    for k in [8, 6, 5, 4, 3] {
        let cut: Set = set.iter().map(|l| l[..l.len().min(k)].to_vec()).collect();
        let cut = minimize(cut);
        if cut.len() <= MAX_LITERALS {
            return Some(cut);
        }
    }
    None
}

/// Single bytes rare enough in benign values to be worth gating on: controls, bytes above
/// 0x7F and the punctuation that injection payloads need.
fn rare_byte(b: u8) -> bool {
    b < 0x20 && b != b'\t' || b >= 0x7f || b"<>'\"`;|$%[]{}()\\^~*!#@".contains(&b)
}

fn usable(literal: &[u8]) -> bool {
    literal.len() >= MIN_LITERAL_LEN || (literal.len() == 1 && rare_byte(literal[0]))
}

/// Literals for an already parsed pattern (see the module docs), or None when no useful set
/// exists.
pub fn literals_for_hir(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let set = into_required(analyze(hir))?;
    let set = shrink(minimize(set))?;
    // Any required set is correct; `usable` only ranks the candidates while combining. A set
    // with a common single byte still gates the values that lack it (CRS's command-injection
    // rules require one of `\n \r ; ` { | &`).
    Some(set.into_iter().collect())
}

/// Parses `pattern` exactly as `@rx` compiles it and extracts its literals.
pub fn rx_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = super::rx_syntax::parse(&super::rx_syntax::translate(pattern)).ok()?;
    literals_for_hir(&hir)
}
