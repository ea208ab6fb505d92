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

impl StringOp {
    pub fn evaluate(self, input: &[u8], operand: &[u8]) -> bool {
        match self {
            StringOp::Streq => input == operand,
            StringOp::Contains => memmem::find(input, operand).is_some(),
            StringOp::ContainsWord => contains_word(input, operand),
            StringOp::BeginsWith => input.starts_with(operand),
            StringOp::EndsWith => input.ends_with(operand),
            StringOp::Within => input.is_empty() || memmem::find(operand, input).is_some(),
        }
    }
}
