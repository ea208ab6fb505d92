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
//! `\K`, ...) do not parse; they become an [`OperatorError`](super::OperatorError) naming the
//! pattern and the reason. OWASP CRS v4.28 uses none of them (checked by `tests/operator_crs.rs`).
//!
//! Compilation is split: the pattern is parsed (and so validated) when the rule is loaded; the
//! automata are built on first use. Building all CRS regexes up front costs hundreds of
//! milliseconds, and with the engine's prefilter most of them are never needed for benign
//! traffic. [`RxMatcher::warm`] builds eagerly (and reports a pattern over the size limit).

use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};
use regex_syntax::hir::Hir;

use super::Captures;
use super::rx_syntax::{caret_to_text_start, translate};

/// Compiled program size limit per regex.
pub const SIZE_LIMIT: usize = 64 << 20;
/// Lazy DFA cache limit per regex (per thread).
pub const DFA_SIZE_LIMIT: usize = 8 << 20;

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
    /// The pattern translated for the regex crate.
    pattern: String,
    /// Built on first use; `Err` when it exceeds the size limit (then it never matches).
    re: OnceLock<Result<Regex, String>>,
    /// The pattern with `^` as `\A`, when it has a `^`; built on first use.
    at_end_pattern: Option<String>,
    at_end: OnceLock<Option<Regex>>,
    /// The pattern is `^.*$`: with DOTALL and MULTILINE it matches every input, and the match
    /// (TX:0) is the whole input. CRS uses it to capture every header name (920450), so it
    /// is answered without the regex engine.
    whole: bool,
}

impl RxMatcher {
    /// Validates `pattern` (syntax errors are reported here) without building automata.
    pub fn new(pattern: &str) -> Result<RxMatcher, String> {
        Self::from_translated(translate(pattern)).map(|(m, _)| m)
    }

    /// Like [`RxMatcher::new`] for a pattern already passed through [`translate`]; also
    /// returns its HIR for the prefilter.
    pub(crate) fn from_translated(pattern: String) -> Result<(RxMatcher, Hir), String> {
        let hir = super::rx_syntax::parse(&pattern)?;
        let at_end_pattern = caret_to_text_start(&pattern);
        let matcher = RxMatcher {
            whole: pattern == "^.*$",
            pattern,
            re: OnceLock::new(),
            at_end_pattern,
            at_end: OnceLock::new(),
        };
        Ok((matcher, hir))
    }

    /// Builds the automata now; an error when the pattern exceeds the size limits.
    pub fn warm(&self) -> Result<&Regex, String> {
        self.re
            .get_or_init(|| builder(&self.pattern))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The regex as the regex crate sees it (built on first call).
    pub fn regex(&self) -> Option<&Regex> {
        self.warm().ok()
    }

    /// For inputs ending in a newline: the regex to use instead when the leftmost match is
    /// the empty string at the end (see the type docs), or None when `re` is right.
    fn end_check(&self, re: &Regex, input: &[u8]) -> Option<&Regex> {
        let pattern = self.at_end_pattern.as_ref()?;
        if input.last() != Some(&b'\n') {
            return None;
        }
        let m = re.find(input)?;
        if m.start() != input.len() {
            return None;
        }
        // Same syntax and size as `re`, so it compiles; if it did not, `re` decides.
        self.at_end.get_or_init(|| builder(pattern).ok()).as_ref()
    }

    /// Whether the pattern matches (PCRE semantics, see the type docs).
    pub fn is_match(&self, input: &[u8]) -> bool {
        if self.whole {
            return true;
        }
        let Some(re) = self.regex() else { return false };
        if !re.is_match(input) {
            return false;
        }
        match self.end_check(re, input) {
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
        if self.whole {
            out.clear();
            out.push(input);
            return true;
        }
        let Some(re) = self.regex() else { return false };
        // The lazy DFA answers most (non-matching) inputs; groups only on a match.
        if !re.is_match(input) {
            return false;
        }
        let caps = match self.end_check(re, input) {
            None => re.captures(input),
            Some(variant) => variant.captures_at(input, input.len()),
        };
        let Some(caps) = caps else { return false };
        out.clear();
        let last = (0..caps.len().min(10))
            .rev()
            .find(|&i| caps.get(i).is_some())
            .unwrap_or(0);
        for i in 0..=last {
            out.push(caps.get(i).map_or(&[][..], |m| m.as_bytes()));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `^.*$` shortcut answers exactly what the regex does, captures included.
    #[test]
    fn whole_input_pattern_agrees_with_the_regex() {
        let fast = RxMatcher::new("^.*$").unwrap();
        assert!(fast.whole);
        let slow = RxMatcher::new("^.*$").unwrap();
        let slow = RxMatcher {
            whole: false,
            ..slow
        };
        let inputs: [&[u8]; 7] = [
            b"",
            b"x-forwarded-for",
            b"a\nb",
            b"abc\n",
            b"\n",
            b"\n\n",
            b"\xff\x00z",
        ];
        for input in inputs {
            assert_eq!(fast.is_match(input), slow.is_match(input), "{input:?}");
            let (mut a, mut b) = (Captures::new(), Captures::new());
            assert_eq!(
                fast.evaluate(input, Some(&mut a)),
                slow.evaluate(input, Some(&mut b)),
                "{input:?}"
            );
            assert_eq!(a, b, "{input:?}");
        }
    }
}
