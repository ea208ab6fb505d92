//! `t:escapeSeqDecode`: ANSI C escape sequences as ModSecurity v3 decodes them — `\a\b\f\n\r\t\v`,
//! `\\ \? \' \"`, `\xHH` (also `\XHH`), `\O`..`\OOO` (cast to one byte); an unrecognised
//! `\C` becomes `C`; a trailing backslash stays.

use std::borrow::Cow;

use super::bytes::{at, is_hex, is_octal, strtol_byte, x2c};
use super::js::c_escape;

/// `t:escapeSeqDecode`.
pub(crate) fn escape_seq_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        if input[i] != b'\\' || i + 1 >= len {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let next = input[i + 1];
        let simple = c_escape(next).or(match next {
            b'\\' | b'?' | b'\'' | b'"' => Some(next),
            _ => None,
        });
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        if next == b'x' || next == b'X' {
            if i + 3 < len && is_hex(input[i + 2]) && is_hex(input[i + 3]) {
                out.push(x2c(input[i + 2], input[i + 3]));
                i += 4;
                continue;
            }
        } else if is_octal(next) {
            let mut j = 0;
            while i + 1 + j < len && j < 3 {
                j += 1;
                if !is_octal(at(input, i + 1 + j)) {
                    break;
                }
            }
            out.push(strtol_byte(&input[i + 1..i + 1 + j], 8));
            i += 1 + j;
            continue;
        }
        // Unrecognised: drop the backslash, keep the character.
        out.push(next);
        i += 2;
    }
    Cow::Owned(out)
}
