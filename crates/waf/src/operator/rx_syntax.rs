//! PCRE-to-regex-crate pattern handling for `@rx`: the few spellings that differ
//! (`\Z`, `\e`, `\x{HH}`), the `^`-as-start-of-text variant used for PCRE's MULTILINE corner
//! case, and the parse into HIR with exactly the flags the matcher uses (so that syntax errors
//! are found at rule load and the prefilter sees the same expression as the matcher).

use regex_syntax::hir::Hir;

/// Translates the few PCRE spellings that mean the same thing in the regex crate but are
/// spelled differently (`\Z`, `\e`, `\x{HH}`), leaving everything else untouched.
pub fn translate(pattern: &str) -> String {
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
pub fn caret_to_text_start(pattern: &str) -> Option<String> {
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

/// Parses an already translated pattern with the matcher's flags (bytes, no Unicode, DOTALL,
/// MULTILINE). The error text says why the regex crate cannot take it.
pub fn parse(translated: &str) -> Result<Hir, String> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .build()
        .parse(translated)
        .map_err(|e| format!("pattern not supported by the regex engine: {e}"))
}
