//! Byte helpers shared by the transformations: C-locale character classes and hex digits,
//! exactly as ModSecurity's `isspace`/`VALID_HEX`/`x2c` see them.

/// C-locale `isspace`: space, `\t`, `\n`, `\v`, `\f`, `\r`.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// ModSecurity's `VALID_HEX`.
pub(crate) fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// ModSecurity's `ISODIGIT`.
pub(crate) fn is_octal(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

/// Value of one hex digit (caller checked `is_hex`).
pub(crate) fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// ModSecurity's `x2c`: two hex digits to one byte.
pub(crate) fn x2c(hi: u8, lo: u8) -> u8 {
    (hex_val(hi) << 4) | hex_val(lo)
}

/// Byte at `i`, or 0 past the end (ModSecurity reads the NUL terminator there).
pub(crate) fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

/// `strtol(digits, NULL, radix)` cast to `unsigned char`: saturates at `LONG_MAX` like glibc.
pub(crate) fn strtol_byte(digits: &[u8], radix: u32) -> u8 {
    let mut value: u64 = 0;
    for &d in digits {
        let v = (d as char).to_digit(radix).unwrap_or(0) as u64;
        value = value.saturating_mul(radix as u64).saturating_add(v);
        if value > i64::MAX as u64 {
            value = i64::MAX as u64;
        }
    }
    value as u8
}

/// Lower-case hex encoding.
pub(crate) fn hex_lower(input: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(input.len() * 2);
    for &b in input {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 0x0f) as usize]);
    }
    out
}
