//! Numeric comparisons `@eq @ge @gt @le @lt`. Both sides are read like C: leading whitespace,
//! an optional sign, then digits up to the first non-digit; no digits reads as 0. `@eq` uses
//! `std::stoi` in ModSecurity (out-of-range reads as 0); the others use `atoll` (saturating).

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

/// `atoll`-like parse, saturating at the i64 range.
pub fn parse_c_integer(text: &[u8]) -> i64 {
    // The common case (CRS compares scores, counts and lengths): plain digits, too few to
    // overflow, read without the general path's checks.
    if !text.is_empty() && text.len() <= 18 && text.iter().all(u8::is_ascii_digit) {
        return text.iter().fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
    }
    let mut i = 0;
    while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    while let Some(d) = text.get(i).filter(|b| b.is_ascii_digit()) {
        let digit = (d - b'0') as i64;
        value = if negative {
            value.saturating_mul(10).saturating_sub(digit)
        } else {
            value.saturating_mul(10).saturating_add(digit)
        };
        i += 1;
    }
    value
}

/// `std::stoi` with ModSecurity's `catch (...) { 0 }`.
fn parse_stoi(text: &[u8]) -> i64 {
    let v = parse_c_integer(text);
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        0
    } else {
        v
    }
}

impl Comparison {
    /// The operand as [`Comparison::holds`] takes it: `operand` read once.
    pub fn operand(self, operand: &[u8]) -> i64 {
        if self == Comparison::Eq {
            parse_stoi(operand)
        } else {
            parse_c_integer(operand)
        }
    }

    /// [`Comparison::evaluate`] with the operand already read by [`Comparison::operand`].
    pub fn holds(self, input: &[u8], operand: i64) -> bool {
        self.holds_read(self.read(input), operand)
    }

    /// The input as this comparison reads it: `std::stoi` for `@eq`, C's `atoll` else.
    pub fn read(self, input: &[u8]) -> i64 {
        if self == Comparison::Eq {
            parse_stoi(input)
        } else {
            parse_c_integer(input)
        }
    }

    /// [`Comparison::holds`] on an input already read by [`Comparison::read`].
    pub fn holds_read(self, input: i64, operand: i64) -> bool {
        match self {
            Comparison::Eq => input == operand,
            Comparison::Ge => input >= operand,
            Comparison::Gt => input > operand,
            Comparison::Le => input <= operand,
            Comparison::Lt => input < operand,
        }
    }

    pub fn evaluate(self, input: &[u8], operand: &[u8]) -> bool {
        self.holds(input, self.operand(operand))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_integers_read_like_atoll() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("007", 7),
            ("42", 42),
            ("999999999999999999", 999_999_999_999_999_999),
            ("9223372036854775807", i64::MAX),
            ("92233720368547758070", i64::MAX),
            ("-92233720368547758070", i64::MIN),
            ("  -12abc", -12),
            ("+5", 5),
            ("", 0),
            ("abc", 0),
            ("12 3", 12),
        ];
        for (text, want) in cases {
            assert_eq!(parse_c_integer(text.as_bytes()), *want, "{text:?}");
        }
        assert!(
            Comparison::Eq.evaluate(b"4294967296", b"0"),
            "stoi out of range is 0"
        );
        assert!(Comparison::Lt.evaluate(b"1", b"2"));
    }
}
