//! `t:cssDecode` (CSS 2 escapes) as ModSecurity v3 implements it: `\` followed by 1-6 hex
//! digits keeps the last two digits as one byte (full-width ASCII `FFxx` gets +0x20 when the
//! code has 4 digits, or 5-6 digits with leading zeros), one whitespace after a hex escape is
//! swallowed, `\` + newline is removed, `\C` becomes `C`, and a trailing `\` is dropped;
//! the result ends at its first NUL byte (ModSecurity copies it as a C string).

use std::borrow::Cow;

use super::bytes::{hex_val, is_hex, is_space, x2c};

/// `t:cssDecode`.
pub(crate) fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') && !input.contains(&0) {
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
        if i + 1 >= len {
            // Continuation to nothing: drop the backslash.
            i += 1;
            continue;
        }
        i += 1;
        let mut j = 0;
        while j < 6 && i + j < len && is_hex(input[i + j]) {
            j += 1;
        }
        if j == 0 {
            if input[i] != b'\n' {
                out.push(input[i]);
            }
            i += 1;
            continue;
        }
        let mut fullcheck = false;
        let byte = if j == 1 {
            hex_val(input[i])
        } else {
            x2c(input[i + j - 2], input[i + j - 1])
        };
        match j {
            4 => fullcheck = true,
            5 => fullcheck = input[i] == b'0',
            6 => fullcheck = input[i] == b'0' && input[i + 1] == b'0',
            _ => {}
        }
        let is_f = |b: u8| b == b'f' || b == b'F';
        if fullcheck && byte > 0 && byte < 0x5f && is_f(input[i + j - 3]) && is_f(input[i + j - 4])
        {
            out.push(byte + 0x20);
        } else {
            out.push(byte);
        }
        if i + j < len && is_space(input[i + j]) {
            j += 1;
        }
        i += j;
    }
    // ModSecurity rebuilds the string from a C string: the output ends at the first NUL.
    if let Some(n) = out.iter().position(|&b| b == 0) {
        out.truncate(n);
    }
    Cow::Owned(out)
}
