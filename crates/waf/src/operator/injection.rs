//! `@detectSQLi` and `@detectXSS` through the `libinjectionrs` crate, a Rust port of
//! libinjection (the C library inside libmodsecurity). Its accuracy against the C library is
//! measured by `tests/operator_libinjection.rs` on the table in
//! `tests/data/operator_libinjection.tsv` (generated with libmodsecurity's own libinjection).
//! With `capture`, `@detectSQLi` sets TX:0 to the fingerprint, as ModSecurity does.

use super::Captures;

/// libinjection SQLi detection; returns the fingerprint when the input is SQL injection.
pub fn sqli_fingerprint(input: &[u8]) -> Option<Vec<u8>> {
    let result = libinjectionrs::detect_sqli(input);
    if !result.is_injection() {
        return None;
    }
    Some(
        result
            .fingerprint
            .map(|fp| {
                let bytes = fp.as_bytes();
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                bytes[..end].to_vec()
            })
            .unwrap_or_default(),
    )
}

/// libinjection XSS detection.
pub fn is_xss(input: &[u8]) -> bool {
    libinjectionrs::detect_xss(input).is_injection()
}

pub fn detect_sqli(input: &[u8], captures: Option<&mut Captures>) -> bool {
    match sqli_fingerprint(input) {
        None => false,
        Some(fp) => {
            if let Some(out) = captures {
                out.clear();
                out.push(fp);
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
        out.push(input.to_vec());
    }
    true
}
