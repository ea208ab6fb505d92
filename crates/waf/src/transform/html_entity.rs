//! `t:htmlEntityDecode` as ModSecurity v3 implements it.
//!
//! Decodes `&#DDD;`, `&#xHH;` (semicolon optional; the number is cast to one byte after a
//! saturating `strtol`) and the named entities `quot`, `amp`, `lt`, `gt`, `nbsp` (to 0xA0),
//! case-insensitively. Any other `&...` sequence is copied literally.

use std::borrow::Cow;

use super::bytes::strtol_byte;

/// `t:htmlEntityDecode`.
pub(crate) fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        if input[i] == b'&' && i + 1 < len {
            match decode_entity(input, i) {
                Step::Decoded(byte, next) => {
                    out.push(byte);
                    i = next;
                    continue;
                }
                Step::Copy(n) => {
                    let end = (i + n).min(len);
                    out.extend_from_slice(&input[i..end]);
                    i = end;
                    continue;
                }
            }
        }
        out.push(input[i]);
        i += 1;
    }
    Cow::Owned(out)
}

enum Step {
    /// Output byte and the index to continue at.
    Decoded(u8, usize),
    /// Copy this many input bytes literally.
    Copy(usize),
}

/// Skips an optional `;` at `j`.
fn after_semicolon(input: &[u8], j: usize) -> usize {
    if input.get(j) == Some(&b';') {
        j + 1
    } else {
        j
    }
}

fn decode_entity(input: &[u8], i: usize) -> Step {
    let len = input.len();
    let mut j = i + 1;
    if input[j] == b'#' {
        if j + 1 >= len {
            return Step::Copy(2);
        }
        j += 1;
        let (radix, copy) = if input[j] == b'x' || input[j] == b'X' {
            if j + 1 >= len {
                return Step::Copy(3);
            }
            j += 1;
            (16, 3)
        } else {
            (10, 2)
        };
        let k = j;
        while j < len && (input[j] as char).is_digit(radix) {
            j += 1;
        }
        if j == k {
            return Step::Copy(copy);
        }
        return Step::Decoded(strtol_byte(&input[k..j], radix), after_semicolon(input, j));
    }
    let k = j;
    while j < len && input[j].is_ascii_alphanumeric() {
        j += 1;
    }
    if j == k {
        return Step::Copy(1);
    }
    let name = &input[k..j];
    let byte = [
        (&b"quot"[..], b'"'),
        (b"amp", b'&'),
        (b"lt", b'<'),
        (b"gt", b'>'),
        (b"nbsp", 0xa0),
    ]
    .iter()
    .find(|(n, _)| n.eq_ignore_ascii_case(name))
    .map(|(_, b)| *b);
    match byte {
        Some(b) => Step::Decoded(b, after_semicolon(input, j)),
        None => Step::Copy(j - k + 1),
    }
}
