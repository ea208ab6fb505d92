//! `@rx`: regular expressions with ModSecurity v3 semantics on the `regex` crate.
//!
//! ModSecurity v3 compiles every `@rx` with PCRE `DOTALL | MULTILINE` and without UTF mode, so
//! a pattern sees bytes. We build a `regex::bytes::Regex` with
//! - `unicode(false)`: `\xHH` (and `\x{HH}`) above 0x7F match that raw byte, exactly like PCRE
//!   without UTF; `\w`, `\d`, `\s`, `\b` and `(?i)` are ASCII-only, also as PCRE's defaults.
//!   A literal non-ASCII character written in the pattern matches its UTF-8 bytes, as PCRE
//!   reading the UTF-8 rule file does.
//! - `dot_matches_new_line(true)` and `multi_line(true)` (DOTALL, MULTILINE).
//! - size limits (compiled program and lazy-DFA cache), so a hostile rule cannot exhaust memory;
//!   the regex crate's finite automata guarantee matching time linear in the input.
//!
//! PCRE-only constructs (look-around, back-references, atomic groups, possessive quantifiers,
//! `\K`, ...) do not compile; they become an [`OperatorError`](super::OperatorError) naming the
//! pattern and the reason. OWASP CRS v4.28 uses none of them (checked by `tests/operator_crs.rs`).

use regex::bytes::{Regex, RegexBuilder};

use super::Captures;

/// Compiled program size limit per regex.
pub const SIZE_LIMIT: usize = 64 << 20;
/// Lazy DFA cache limit per regex (per thread).
pub const DFA_SIZE_LIMIT: usize = 8 << 20;

/// Translates the few PCRE spellings that mean the same thing in the regex crate but are
/// spelled differently (`\Z`, `\e`, `\x{HH}`), leaving everything else untouched.
pub(crate) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // PCRE \Z: end of subject or before a final newline.
            Some('Z') => out.push_str(r"(?:\n?\z)"),
            Some('e') => out.push_str(r"\x1b"),
            // PCRE without UTF reads \x{HH} as a byte; the regex crate reads a code point.
            Some('x') if chars.as_str().starts_with('{') => {
                let rest = chars.as_str();
                let close = rest.find('}').unwrap_or(0);
                match u32::from_str_radix(&rest[1..close.max(1)], 16) {
                    Ok(v) if close > 1 && v <= 0xff => {
                        out.push_str(&format!("\\x{v:02X}"));
                        for _ in 0..=close {
                            chars.next();
                        }
                    }
                    _ => out.push_str("\\x"),
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Builds the regex for an `@rx` pattern.
pub fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&translate(pattern))
        .unicode(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(s) => format!("pattern not supported by the regex engine: {s}"),
            regex::Error::CompiledTooBig(n) => format!("compiled pattern exceeds {n} bytes"),
            other => other.to_string(),
        })
}

/// Runs the regex; fills `captures` (TX:0 = whole match, TX:1.. = groups, up to TX:9) when
/// asked. Groups that did not take part in the match are left empty.
pub fn evaluate(re: &Regex, input: &[u8], captures: Option<&mut Captures>) -> bool {
    match captures {
        None => re.is_match(input),
        // The lazy DFA answers most (non-matching) inputs; group extraction only on a match.
        Some(_) if !re.is_match(input) => false,
        Some(out) => match re.captures(input) {
            None => false,
            Some(caps) => {
                out.clear();
                let last = (0..caps.len().min(10))
                    .rev()
                    .find(|&i| caps.get(i).is_some())
                    .unwrap_or(0);
                for i in 0..=last {
                    out.push(
                        caps.get(i)
                            .map(|m| m.as_bytes().to_vec())
                            .unwrap_or_default(),
                    );
                }
                true
            }
        },
    }
}
