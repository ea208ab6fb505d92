//! `t:urlDecode`, `t:urlDecodeUni` and `t:urlEncode`.
//!
//! Non-strict decoding as ModSecurity v3: `+` becomes a space, `%XX` is decoded only when both
//! digits are hex, anything else (including a `%` too close to the end) is copied literally.
//! `%uHHHH` (urlDecodeUni) keeps the low byte, adding 0x20 for full-width ASCII `%uFF01`-`%uFF5E`
//! and writing `x` for every other code point (no `SecUnicodeMapFile` support).

use std::borrow::Cow;

use super::bytes::{is_hex, x2c};

fn needs_work(input: &[u8]) -> bool {
    input.iter().any(|&b| b == b'%' || b == b'+')
}

/// `t:urlDecode`.
pub(crate) fn url_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !needs_work(input) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' && i + 2 < input.len() && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
            out.push(x2c(input[i + 1], input[i + 2]));
            i += 3;
        } else {
            out.push(if b == b'+' { b' ' } else { b });
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// `t:urlDecodeUni`.
pub(crate) fn url_decode_uni(input: &[u8]) -> Cow<'_, [u8]> {
    if !needs_work(input) {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        let b = input[i];
        if b != b'%' {
            out.push(if b == b'+' { b' ' } else { b });
            i += 1;
            continue;
        }
        if i + 1 < len && (input[i + 1] == b'u' || input[i + 1] == b'U') {
            if i + 5 < len && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
                let low = x2c(input[i + 4], input[i + 5]);
                let full_width = (input[i + 2] == b'f' || input[i + 2] == b'F')
                    && (input[i + 3] == b'f' || input[i + 3] == b'F');
                out.push(if low > 0 && low < 0x5f && full_width {
                    low + 0x20
                } else {
                    b'x'
                });
                i += 6;
            } else {
                // Invalid or truncated %u: copy "%u" and go on.
                out.extend_from_slice(&input[i..i + 2]);
                i += 2;
            }
        } else if i + 2 < len && is_hex(input[i + 1]) && is_hex(input[i + 2]) {
            out.push(x2c(input[i + 1], input[i + 2]));
            i += 3;
        } else {
            out.push(b'%');
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// `t:urlEncode`: letters, digits and `*` are kept, space becomes `+`, the rest `%xx`.
pub(crate) fn url_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let keep = |b: u8| b.is_ascii_alphanumeric() || b == b'*';
    if input.iter().all(|&b| keep(b)) {
        return Cow::Borrowed(input);
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(input.len() * 3);
    for &b in input {
        if keep(b) {
            out.push(b);
        } else if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]);
        }
    }
    Cow::Owned(out)
}
