//! Encodings and digests: `t:base64Decode` (strict, like mbedTLS: stops at NUL, any invalid
//! character yields an empty result, an incomplete final quantum is dropped),
//! `t:base64DecodeExt` (forgiving: skips invalid characters), `t:base64Encode`, `t:hexEncode`,
//! `t:hexDecode`, `t:sqlHexDecode`, `t:sha1`/`t:md5` (raw binary digests), `t:length`
//! (decimal byte count) and the 7-bit parity transformations.

use std::borrow::Cow;

use base64::Engine as _;
use sha1::Digest as _;

use super::bytes::{at, hex_lower, is_hex, x2c};

fn b64_value(b: u8) -> Option<u8> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// `t:base64Decode` with mbedTLS `mbedtls_base64_decode` acceptance rules.
pub(crate) fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let data = match input.iter().position(|&b| b == 0) {
        Some(n) => &input[..n],
        None => input,
    };
    // Validation pass.
    let mut pads = 0;
    let mut i = 0;
    while i < data.len() {
        let mut spaces = 0;
        while i < data.len() && data[i] == b' ' {
            i += 1;
            spaces += 1;
        }
        if i == data.len() {
            break;
        }
        if data[i] == b'\n' || (data[i] == b'\r' && data.get(i + 1) == Some(&b'\n')) {
            i += 1;
            continue;
        }
        if spaces != 0 {
            return Cow::Owned(Vec::new());
        }
        if data[i] == b'=' {
            pads += 1;
            if pads > 2 {
                return Cow::Owned(Vec::new());
            }
        } else if b64_value(data[i]).is_none() || pads != 0 {
            return Cow::Owned(Vec::new());
        }
        i += 1;
    }
    // Decoding pass.
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut n, mut keep) = (0u32, 0, 3);
    for &b in data {
        if b == b'\r' || b == b'\n' || b == b' ' {
            continue;
        }
        if b == b'=' {
            keep -= 1;
        }
        acc = (acc << 6) | b64_value(b).unwrap_or(0) as u32;
        n += 1;
        if n == 4 {
            n = 0;
            let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
            out.extend_from_slice(&bytes[..keep.max(0) as usize]);
        }
    }
    Cow::Owned(out)
}

/// `t:base64DecodeExt`: ModSecurity's forgiving decoder. Characters outside the alphabet (libmodsecurity 3.0.9 has no URL-safe
/// alphabet here) are skipped, `=` is skipped too, except that
/// a single `=` after one character of a quantum (or input ending so) gives an empty result.
pub(crate) fn base64_decode_ext(input: &[u8]) -> Cow<'_, [u8]> {
    let value = b64_value;
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut cur, mut i) = (0u8, 0usize);
    // The last character read, as ModSecurity keeps it: '=' itself, or the table value.
    let mut last: i32 = 0;
    for (idx, &c) in input.iter().enumerate() {
        if c == b'=' {
            last = b'=' as i32;
            if input.get(idx + 1) != Some(&b'=') && i % 4 == 1 {
                return Cow::Owned(Vec::new());
            }
            continue;
        }
        let Some(v) = value(c) else {
            last = -1;
            continue;
        };
        last = v as i32;
        match i % 4 {
            0 => cur = v << 2,
            1 => {
                out.push(cur | (v >> 4));
                cur = (v & 0x0f) << 4;
            }
            2 => {
                out.push(cur | (v >> 2));
                cur = (v & 0x03) << 6;
            }
            _ => out.push(cur | v),
        }
        i += 1;
    }
    if last == b'=' as i32 && i % 4 == 1 {
        return Cow::Owned(Vec::new());
    }
    Cow::Owned(out)
}

/// `t:base64Encode`.
pub(crate) fn base64_encode(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(
        base64::engine::general_purpose::STANDARD
            .encode(input)
            .into_bytes(),
    )
}

/// `t:hexEncode` (lower case).
pub(crate) fn hex_encode(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(hex_lower(input))
}

/// `t:hexDecode`: every pair of bytes goes through ModSecurity's unchecked `x2c` (so invalid
/// digits give arbitrary bytes, as there); an odd trailing byte is dropped.
pub(crate) fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(
        input
            .chunks_exact(2)
            .map(|p| x2c_unchecked(p[0], p[1]))
            .collect(),
    )
}

fn x2c_unchecked(hi: u8, lo: u8) -> u8 {
    let digit = |c: u8| -> i32 {
        if c >= b'A' {
            ((c & 0xdf) as i32) - b'A' as i32 + 10
        } else {
            c as i32 - b'0' as i32
        }
    };
    (digit(hi).wrapping_mul(16).wrapping_add(digit(lo))) as u8
}

/// `t:sqlHexDecode`: a port of ModSecurity's loop, quirks included: `0xHH..` runs are decoded,
/// the last input byte is never copied, and the output ends at the first NUL.
pub(crate) fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let (mut r, mut count) = (0usize, 0usize);
    loop {
        count += 1;
        if !(count < len && at(input, r) != 0) {
            break;
        }
        if at(input, r) == b'0'
            && at(input, r + 1).eq_ignore_ascii_case(&b'x')
            && is_hex(at(input, r + 2))
            && is_hex(at(input, r + 3))
        {
            r += 2;
            count += 2;
            while is_hex(at(input, r)) && is_hex(at(input, r + 1)) {
                out.push(x2c(input[r], input[r + 1]));
                r += 2;
                count += 2;
            }
        }
        out.push(at(input, r));
        r += 1;
    }
    if let Some(n) = out.iter().position(|&b| b == 0) {
        out.truncate(n);
    }
    Cow::Owned(out)
}

/// `t:sha1` (20 raw bytes).
pub(crate) fn sha1(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(sha1::Sha1::digest(input).to_vec())
}

/// `t:md5` (16 raw bytes).
pub(crate) fn md5(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(md5::Md5::digest(input).to_vec())
}

/// `t:length`: the byte count in decimal.
pub(crate) fn length(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(input.len().to_string().into_bytes())
}

/// The 7-bit parity transformations: 0 = zero, 1 = even, 2 = odd. As in ModSecurity the
/// parity is computed over all eight bits.
pub(crate) fn parity(input: &[u8], kind: u8) -> Cow<'_, [u8]> {
    Cow::Owned(
        input
            .iter()
            .map(|&b| {
                let odd = (0x6996u16 >> ((b ^ (b >> 4)) & 0x0f)) & 1 == 1;
                match kind {
                    1 if odd => b | 0x80,
                    2 if !odd => b | 0x80,
                    _ => b & 0x7f,
                }
            })
            .collect(),
    )
}
