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

use std::sync::OnceLock;

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

/// Replaces every `^` that is an assertion (not escaped, not inside a class) by `\A`.
fn caret_to_text_start(pattern: &str) -> Option<String> {
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 8);
    let (mut i, mut in_class, mut changed) = (0, false, false);
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' {
            let end = (i + 2).min(bytes.len());
            out.push_str(&pattern[i..end]);
            i = end;
            continue;
        }
        if in_class {
            if c == b']' {
                in_class = false;
            }
        } else if c == b'[' {
            in_class = true;
            out.push('[');
            i += 1;
            // A leading `^` negates, and a `]` right after `[` or `[^` is a literal.
            if bytes.get(i) == Some(&b'^') {
                out.push('^');
                i += 1;
            }
            if bytes.get(i) == Some(&b']') {
                out.push(']');
                i += 1;
            }
            continue;
        } else if c == b'^' {
            out.push_str("\\A");
            changed = true;
            i += 1;
            continue;
        }
        // Copy one UTF-8 character.
        let len = pattern[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&pattern[i..i + len]);
        i += len;
    }
    changed.then_some(out)
}

fn builder(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
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

/// A compiled `@rx`.
///
/// One PCRE difference needs care: in MULTILINE mode PCRE's `^` does not match after a newline
/// that ends the subject, while the regex crate's does. That only changes the outcome when the
/// leftmost match is the empty string at the very end of an input that ends in `\n` (e.g.
/// `^$` on `"a\n"`); for that case we re-check with a variant where `^` means start of text.
/// (A match that consumes a newline and then asserts `^` at the end, like `a\n^`, is not
/// corrected; CRS has no such pattern.)
pub struct RxMatcher {
    re: Regex,
    /// The pattern with `^` as `\A`, when it has a `^`; compiled on first use.
    at_end_pattern: Option<String>,
    at_end: OnceLock<Option<Regex>>,
}

impl RxMatcher {
    pub fn new(pattern: &str) -> Result<RxMatcher, String> {
        let translated = translate(pattern);
        let re = builder(&translated)?;
        Ok(RxMatcher {
            re,
            at_end_pattern: caret_to_text_start(&translated),
            at_end: OnceLock::new(),
        })
    }

    /// The regex as the regex crate sees it.
    pub fn regex(&self) -> &Regex {
        &self.re
    }

    /// For inputs ending in a newline: the regex to use instead when the leftmost match is
    /// the empty string at the end (see the type docs), or None when `re` is right.
    fn end_check(&self, input: &[u8]) -> Option<&Regex> {
        let pattern = self.at_end_pattern.as_ref()?;
        if input.last() != Some(&b'\n') {
            return None;
        }
        let m = self.re.find(input)?;
        if m.start() != input.len() {
            return None;
        }
        // Same syntax and size as `re`, so it compiles; if it did not, `re` decides.
        self.at_end.get_or_init(|| builder(pattern).ok()).as_ref()
    }

    /// Whether the pattern matches (PCRE semantics, see the type docs).
    pub fn is_match(&self, input: &[u8]) -> bool {
        if !self.re.is_match(input) {
            return false;
        }
        match self.end_check(input) {
            None => true,
            Some(variant) => variant.is_match_at(input, input.len()),
        }
    }

    /// Runs the regex; fills `captures` (TX:0 = whole match, TX:1.. = groups, up to TX:9)
    /// when asked. Groups that did not take part in the match are left empty.
    pub fn evaluate(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let Some(out) = captures else {
            return self.is_match(input);
        };
        // The lazy DFA answers most (non-matching) inputs; groups only on a match.
        if !self.re.is_match(input) {
            return false;
        }
        let caps = match self.end_check(input) {
            None => self.re.captures(input),
            Some(variant) => variant.captures_at(input, input.len()),
        };
        let Some(caps) = caps else { return false };
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
}
