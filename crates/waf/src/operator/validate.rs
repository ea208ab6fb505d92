//! Validation operators; each one *matches* when the input is invalid.
//! - `@validateByteRange 9,10,13,32-126`: a byte outside the listed values/ranges.
//! - `@validateUrlEncoding`: a `%` not followed by two hex digits.
//! - `@validateUtf8Encoding`: a malformed UTF-8 sequence (truncated, bad continuation byte,
//!   overlong form, surrogate, or above U+10FFFF), as ModSecurity's `detect_utf8_character`.

/// Allowed bytes of `@validateByteRange`.
#[derive(Clone)]
pub struct ByteRange {
    allowed: [bool; 256],
}

impl ByteRange {
    pub fn parse(argument: &str) -> Result<ByteRange, String> {
        let mut allowed = [false; 256];
        let mut any = false;
        for part in argument.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parse = |s: &str| -> Result<u8, String> {
                s.trim()
                    .parse::<u8>()
                    .map_err(|_| format!("invalid byte value {s:?}"))
            };
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => {
                    let v = parse(part)?;
                    (v, v)
                }
            };
            if lo > hi {
                return Err(format!("invalid range {part:?}"));
            }
            for b in lo..=hi {
                allowed[b as usize] = true;
            }
            any = true;
        }
        if !any {
            return Err("empty byte range".to_string());
        }
        Ok(ByteRange { allowed })
    }

    /// True when some byte is outside the allowed set.
    pub fn has_invalid(&self, input: &[u8]) -> bool {
        input.iter().any(|&b| !self.allowed[b as usize])
    }
}

/// True when the URL encoding is invalid.
pub fn invalid_url_encoding(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            if i + 2 >= input.len() {
                return true;
            }
            if !(input[i + 1].is_ascii_hexdigit() && input[i + 2].is_ascii_hexdigit()) {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

/// True when the input is not well-formed UTF-8 in ModSecurity's sense.
pub fn invalid_utf8(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        let (len, min) = match c {
            0x00..=0x7f => {
                i += 1;
                continue;
            }
            _ if c & 0xE0 == 0xC0 => (2, 0x80u32),
            _ if c & 0xF0 == 0xE0 => (3, 0x800),
            _ if c & 0xF8 == 0xF0 => (4, 0x10000),
            _ => return true,
        };
        if i + len > input.len() {
            return true;
        }
        let mut d: u32 = (c as u32) & (0x7f >> len);
        for k in 1..len {
            let b = input[i + k];
            if b & 0xC0 != 0x80 {
                return true;
            }
            d = (d << 6) | (b as u32 & 0x3f);
        }
        if d < min || d > 0x10FFFF || (0xD800..=0xDFFF).contains(&d) {
            return true;
        }
        i += len;
    }
    false
}
