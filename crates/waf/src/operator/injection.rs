//! `@detectSQLi` and `@detectXSS` through the `libinjectionrs` crate, a Rust port of
//! libinjection (the C library inside libmodsecurity). Its accuracy against the C library is
//! measured by `tests/operator_libinjection.rs` on the table in
//! `tests/data/operator_libinjection.tsv` (generated with libmodsecurity's own libinjection).
//! With `capture`, `@detectSQLi` sets TX:0 to the fingerprint, as ModSecurity does.

use super::Captures;

/// libinjection SQLi detection; returns the fingerprint when the input is SQL injection.
pub fn sqli_fingerprint(input: &[u8]) -> Option<Vec<u8>> {
    // What `libinjectionrs::detect_sqli` does, except that the fingerprint (which it
    // computes once more after detecting, whatever the verdict) is only computed for an
    // injection.
    let mut state = libinjectionrs::SqliState::new(input, libinjectionrs::SqliFlags::FLAG_NONE);
    if !state.detect() {
        return None;
    }
    let fp = state.get_fingerprint();
    let bytes = fp.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    Some(bytes[..end].to_vec())
}

/// libinjection XSS detection.
///
/// Gate: libinjection flags XSS only on a token of its HTML5 tokenizer that needs a `<`
/// (a tag, doctype or comment, reachable only from a `<` in text) or an attribute value
/// after an attribute name (reachable only through an `=`), in each of its five starting
/// contexts. An input with neither byte is never XSS; most benign values (user agents,
/// cookies, arguments) have neither and skip the five tokenizer passes.
/// `tests/operator_libinjection.rs` checks the gate against the ungated detector.
pub fn is_xss(input: &[u8]) -> bool {
    memchr::memchr2(b'<', b'=', input).is_some() && libinjectionrs::detect_xss(input).is_injection()
}

pub fn detect_sqli(input: &[u8], captures: Option<&mut Captures>) -> bool {
    match sqli_fingerprint(input) {
        None => false,
        Some(fp) => {
            if let Some(out) = captures {
                out.clear();
                out.push(&fp);
            }
            true
        }
    }
}

pub fn detect_xss(input: &[u8], captures: Option<&mut Captures>) -> bool {
    if !is_xss(input) {
        return false;
    }
    if let Some(out) = captures {
        out.clear();
        out.push(input);
    }
    true
}
