//! String operators `@streq @contains @containsWord @beginsWith @endsWith @within`, byte-wise
//! and case-sensitive as in ModSecurity v3. With `capture`, TX:0 is the matched operand (for
//! `@within` the input).

use memchr::memmem;

/// A string comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringOp {
    Streq,
    Contains,
    ContainsWord,
    BeginsWith,
    EndsWith,
    Within,
}

/// ModSecurity's `ContainsWord::acceptableChar`: a position outside the input or holding a
/// non-letter is a word boundary.
fn boundary(input: &[u8], pos: Option<usize>) -> bool {
    match pos.and_then(|p| input.get(p)) {
        None => false,
        Some(b) => !b.is_ascii_alphabetic(),
    }
}

fn contains_word(input: &[u8], word: &[u8]) -> bool {
    if word.is_empty() {
        return true;
    }
    if input.is_empty() {
        return false;
    }
    if input == word {
        return true;
    }
    let finder = memmem::Finder::new(word);
    let mut from = 0;
    while let Some(off) = finder.find(&input[from..]) {
        let pos = from + off;
        let end = pos + word.len();
        if pos == 0 && boundary(input, Some(end)) {
            return true;
        }
        if end == input.len() && boundary(input, pos.checked_sub(1)) {
            return true;
        }
        if boundary(input, pos.checked_sub(1)) && boundary(input, Some(end)) {
            return true;
        }
        from = pos + 1;
    }
    false
}

/// Haystacks up to this length are searched by [`contains`] without a `memmem` searcher.
const SHORT_HAYSTACK: usize = 256;

/// Whether `needle` occurs in `haystack`. Rules compare short values (`@within` a list of
/// restricted headers like `/proxy/ /lock-token/ ...`, `@contains` on a header): there a
/// `memchr` walk is cheaper than building `memmem`'s searcher, which `memmem::find` does on
/// every call. The walk looks for the needle's first letter or digit (lists delimit their
/// words with punctuation that occurs everywhere) and compares the whole needle around each
/// hit. Its worst case is bounded by `SHORT_HAYSTACK` × the needle's length; longer
/// haystacks use `memmem`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.len() > SHORT_HAYSTACK {
        return memmem::find(haystack, needle).is_some();
    }
    let k = needle
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .unwrap_or(0);
    let mut from = k;
    while from < haystack.len() {
        let Some(i) = memchr::memchr(needle[k], &haystack[from..]) else {
            return false;
        };
        let start = from + i - k;
        if haystack[start..].starts_with(needle) {
            return true;
        }
        from += i + 1;
    }
    false
}

impl StringOp {
    pub fn evaluate(self, input: &[u8], operand: &[u8]) -> bool {
        match self {
            StringOp::Streq => input == operand,
            StringOp::Contains => contains(input, operand),
            StringOp::ContainsWord => contains_word(input, operand),
            StringOp::BeginsWith => input.starts_with(operand),
            StringOp::EndsWith => input.ends_with(operand),
            StringOp::Within => contains(operand, input),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `contains` agrees with `memmem` on short and long haystacks, with needles found at
    /// the start, the end, overlapping a false start, and missing.
    #[test]
    fn contains_agrees_with_memmem() {
        let long = "ab".repeat(200) + "abc";
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("", "a"),
            ("a", ""),
            ("abc", "abc"),
            ("abc", "abcd"),
            ("aab", "ab"),
            ("xxabxab", "abx"),
            ("/host/ /proxy/", "/proxy/"),
            ("/host/ /proxy/", "/prox/"),
            ("aaaaaaab", "aab"),
            (&long, "abc"),
            (&long, "abd"),
            (&long, "ba"),
        ];
        for (h, n) in cases {
            let want = memmem::find(h.as_bytes(), n.as_bytes()).is_some();
            assert_eq!(contains(h.as_bytes(), n.as_bytes()), want, "{h:?} {n:?}");
        }
        assert!(StringOp::Within.evaluate(b"", b"list"));
        assert!(StringOp::Within.evaluate(b"st", b"list"));
        assert!(!StringOp::Within.evaluate(b"lists", b"list"));
        assert!(StringOp::Contains.evaluate(b"list", b""));
    }
}
