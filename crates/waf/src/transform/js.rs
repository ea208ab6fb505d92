//! `t:jsDecode` as ModSecurity v3 implements it: `\uHHHH` (low byte, +0x20 for full-width
//! ASCII), `\xHH`, `\OOO` (one byte; a third digit only when the first is 0-3), the C escapes
//! `\a\b\f\n\r\t\v`, and `\C` -> `C` for any other character.

use std::borrow::Cow;

use super::bytes::{at, is_hex, is_octal, strtol_byte, x2c};

/// `t:jsDecode`.
pub(crate) fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < len {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        if i + 5 < len && input[i + 1] == b'u' && input[i + 2..i + 6].iter().all(|&h| is_hex(h)) {
            let mut b = x2c(input[i + 4], input[i + 5]);
            let full_width = (input[i + 2] == b'f' || input[i + 2] == b'F')
                && (input[i + 3] == b'f' || input[i + 3] == b'F');
            if b > 0 && b < 0x5f && full_width {
                b += 0x20;
            }
            out.push(b);
            i += 6;
        } else if i + 3 < len
            && input[i + 1] == b'x'
            && is_hex(input[i + 2])
            && is_hex(input[i + 3])
        {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if i + 1 < len && is_octal(input[i + 1]) {
            let mut j = 0;
            while i + 1 + j < len && j < 3 {
                j += 1;
                if !is_octal(at(input, i + 1 + j)) {
                    break;
                }
            }
            if j == 3 && input[i + 1] > b'3' {
                j = 2;
            }
            out.push(strtol_byte(&input[i + 1..i + 1 + j], 8));
            i += 1 + j;
        } else if i + 1 < len {
            out.push(c_escape(input[i + 1]).unwrap_or(input[i + 1]));
            i += 2;
        } else {
            out.extend_from_slice(&input[i..]);
            i = len;
        }
    }
    Cow::Owned(out)
}

/// The single-letter C escapes shared by jsDecode and escapeSeqDecode.
pub(crate) fn c_escape(b: u8) -> Option<u8> {
    Some(match b {
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}
