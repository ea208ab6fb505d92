//! `t:utf8toUnicode` as ModSecurity v3 implements it.
//!
//! Every well-formed 2/3/4-byte UTF-8 sequence becomes `%uXXXX` (lower-case hex, at least four
//! digits). Quirks kept on purpose because CRS was tuned against them: a lead byte whose
//! continuation bytes are missing or invalid is dropped; stray continuation bytes and 0xF8-0xFF
//! are copied; an overlong form or a surrogate appends its lead byte after the `%u` form; lead
//! bytes 0xF5-0xF7 are emitted before it; NUL bytes are dropped (ModSecurity overwrites them).

use std::borrow::Cow;
use std::io::Write;

use super::bytes::at;

/// `t:utf8toUnicode`.
pub(crate) fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.iter().all(|&b| b != 0 && b < 0x80) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        let cont = |k: usize| at(input, i + k) & 0xC0 == 0x80;
        // (sequence length, code point) for a valid sequence, None for an invalid one.
        let decoded: Option<(usize, u32)> = if c & 0x80 == 0 {
            if c != 0 {
                out.push(c);
            }
            i += 1;
            continue;
        } else if c & 0xE0 == 0xC0 {
            cont(1).then(|| {
                (
                    2,
                    ((c as u32 & 0x1F) << 6) | (at(input, i + 1) as u32 & 0x3F),
                )
            })
        } else if c & 0xF0 == 0xE0 {
            (cont(1) && cont(2)).then(|| {
                let d = ((c as u32 & 0x0F) << 12)
                    | ((at(input, i + 1) as u32 & 0x3F) << 6)
                    | (at(input, i + 2) as u32 & 0x3F);
                (3, d)
            })
        } else if c & 0xF8 == 0xF0 {
            if c >= 0xF5 {
                out.push(c);
            }
            (cont(1) && cont(2) && cont(3)).then(|| {
                let d = ((c as u32 & 0x07) << 18)
                    | ((at(input, i + 1) as u32 & 0x3F) << 12)
                    | ((at(input, i + 2) as u32 & 0x3F) << 6)
                    | (at(input, i + 3) as u32 & 0x3F);
                (4, d)
            })
        } else {
            out.push(c);
            i += 1;
            continue;
        };
        match decoded {
            None => i += 1,
            Some((n, d)) => {
                let _ = write!(out, "%u{d:04x}");
                if (0xD800..=0xDFFF).contains(&d) {
                    out.push(c);
                }
                let overlong = match n {
                    4 => d < 0x10000,
                    3 => d < 0x800,
                    _ => d < 0x80,
                };
                if overlong {
                    out.push(c);
                }
                i += n;
            }
        }
    }
    Cow::Owned(out)
}
