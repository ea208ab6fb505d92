//! SecLang transformations (`t:lowercase`, `t:urlDecodeUni`, ...) with ModSecurity v3 semantics.
//!
//! Every transformation is a pure function from bytes to bytes. [`Transform::apply`] returns
//! `Cow::Borrowed` when the input is unchanged so that the engine can cache and share values
//! cheaply. `t:none` is not a transformation: the rule parser treats it as "reset the chain".
//!
//! The byte-level behaviour follows ModSecurity v3 (`src/actions/transformations/*.cc`),
//! quirks included (e.g. `cssDecode` stops at a NUL, `sqlHexDecode` drops the last byte,
//! `hexDecode` does not validate digits). `tests/transform_oracle.rs` checks 5,600 generated
//! inputs against libmodsecurity 3.0.9's own code (the table is produced by
//! `tests/data/transform_oracle/generate.py`); `tests/transform_cases.rs` holds the notable
//! cases with their reasons.

use std::borrow::Cow;

mod bytes;
mod cmdline;
mod codec;
mod comments;
mod css;
mod escape_seq;
mod html_entity;
mod js;
mod path;
mod url;
mod utf8;
mod whitespace;

/// One SecLang transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    Lowercase,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    UrlEncode,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    Utf8ToUnicode,
    RemoveNulls,
    ReplaceNulls,
    RemoveWhitespace,
    CompressWhitespace,
    ReplaceComments,
    RemoveComments,
    RemoveCommentsChar,
    CmdLine,
    NormalizePath,
    NormalizePathWin,
    EscapeSeqDecode,
    Base64Decode,
    Base64DecodeExt,
    Base64Encode,
    HexEncode,
    HexDecode,
    SqlHexDecode,
    Sha1,
    Md5,
    Length,
    Trim,
    TrimLeft,
    TrimRight,
    ParityEven7bit,
    ParityOdd7bit,
    ParityZero7bit,
}

/// (canonical name, accepted lower-case aliases, transform)
const NAMES: &[(&str, &[&str], Transform)] = &[
    ("lowercase", &[], Transform::Lowercase),
    ("uppercase", &[], Transform::Uppercase),
    ("urlDecode", &[], Transform::UrlDecode),
    ("urlDecodeUni", &[], Transform::UrlDecodeUni),
    ("urlEncode", &[], Transform::UrlEncode),
    ("htmlEntityDecode", &[], Transform::HtmlEntityDecode),
    ("jsDecode", &[], Transform::JsDecode),
    ("cssDecode", &[], Transform::CssDecode),
    ("utf8toUnicode", &[], Transform::Utf8ToUnicode),
    ("removeNulls", &[], Transform::RemoveNulls),
    ("replaceNulls", &[], Transform::ReplaceNulls),
    ("removeWhitespace", &[], Transform::RemoveWhitespace),
    ("compressWhitespace", &[], Transform::CompressWhitespace),
    ("replaceComments", &[], Transform::ReplaceComments),
    ("removeComments", &[], Transform::RemoveComments),
    ("removeCommentsChar", &[], Transform::RemoveCommentsChar),
    ("cmdLine", &[], Transform::CmdLine),
    (
        "normalizePath",
        &["normalisepath"],
        Transform::NormalizePath,
    ),
    (
        "normalizePathWin",
        &["normalisepathwin"],
        Transform::NormalizePathWin,
    ),
    ("escapeSeqDecode", &[], Transform::EscapeSeqDecode),
    ("base64Decode", &[], Transform::Base64Decode),
    ("base64DecodeExt", &[], Transform::Base64DecodeExt),
    ("base64Encode", &[], Transform::Base64Encode),
    ("hexEncode", &[], Transform::HexEncode),
    ("hexDecode", &[], Transform::HexDecode),
    ("sqlHexDecode", &[], Transform::SqlHexDecode),
    ("sha1", &[], Transform::Sha1),
    ("md5", &[], Transform::Md5),
    ("length", &[], Transform::Length),
    ("trim", &[], Transform::Trim),
    ("trimLeft", &[], Transform::TrimLeft),
    ("trimRight", &[], Transform::TrimRight),
    ("parityEven7bit", &[], Transform::ParityEven7bit),
    ("parityOdd7bit", &[], Transform::ParityOdd7bit),
    ("parityZero7bit", &[], Transform::ParityZero7bit),
];

impl Transform {
    /// Looks a transformation up by its SecLang name, ASCII-case-insensitively.
    /// `none` is not a transformation and yields `None`.
    pub fn from_name(name: &str) -> Option<Transform> {
        NAMES.iter().find_map(|(canonical, aliases, t)| {
            (canonical.eq_ignore_ascii_case(name)
                || aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
            .then_some(*t)
        })
    }

    /// The canonical SecLang name (as ModSecurity documents it).
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, _, t)| *t == self)
            .map(|(n, _, _)| *n)
            .unwrap_or("unknown")
    }

    /// Applies the transformation; `Cow::Borrowed` exactly when the value is unchanged.
    pub fn apply(self, input: &[u8]) -> Cow<'_, [u8]> {
        // Borrowed means exactly "unchanged" (trim's sub-slices become owned), so that the
        // engine may rely on it.
        match self.apply_raw(input) {
            Cow::Owned(out) if out == input => Cow::Borrowed(input),
            Cow::Borrowed(b) if b.len() != input.len() => Cow::Owned(b.to_vec()),
            other => other,
        }
    }

    fn apply_raw(self, input: &[u8]) -> Cow<'_, [u8]> {
        use Transform as T;
        match self {
            T::Lowercase => lowercase(input),
            T::Uppercase => uppercase(input),
            T::UrlDecode => url::url_decode(input),
            T::UrlDecodeUni => url::url_decode_uni(input),
            T::UrlEncode => url::url_encode(input),
            T::HtmlEntityDecode => html_entity::html_entity_decode(input),
            T::JsDecode => js::js_decode(input),
            T::CssDecode => css::css_decode(input),
            T::Utf8ToUnicode => utf8::utf8_to_unicode(input),
            T::RemoveNulls => whitespace::remove_nulls(input),
            T::ReplaceNulls => whitespace::replace_nulls(input),
            T::RemoveWhitespace => whitespace::remove_whitespace(input),
            T::CompressWhitespace => whitespace::compress_whitespace(input),
            T::ReplaceComments => comments::replace_comments(input),
            T::RemoveComments => comments::remove_comments(input),
            T::RemoveCommentsChar => comments::remove_comments_char(input),
            T::CmdLine => cmdline::cmd_line(input),
            T::NormalizePath => path::normalize_path(input),
            T::NormalizePathWin => path::normalize_path_win(input),
            T::EscapeSeqDecode => escape_seq::escape_seq_decode(input),
            T::Base64Decode => codec::base64_decode(input),
            T::Base64DecodeExt => codec::base64_decode_ext(input),
            T::Base64Encode => codec::base64_encode(input),
            T::HexEncode => codec::hex_encode(input),
            T::HexDecode => codec::hex_decode(input),
            T::SqlHexDecode => codec::sql_hex_decode(input),
            T::Sha1 => codec::sha1(input),
            T::Md5 => codec::md5(input),
            T::Length => codec::length(input),
            T::Trim => whitespace::trim(input),
            T::TrimLeft => whitespace::trim_left(input),
            T::TrimRight => whitespace::trim_right(input),
            T::ParityZero7bit => codec::parity(input, 0),
            T::ParityEven7bit => codec::parity(input, 1),
            T::ParityOdd7bit => codec::parity(input, 2),
        }
    }

    /// The byte classes ([`classes`]) a value must contain for this transformation to
    /// possibly change it: a value with none of them is returned unchanged, so the engine
    /// skips the call (and its cache lookups). None for transformations that may change any
    /// value (`length`, `sha1`, `base64Decode`, ...). Each set mirrors the function's own
    /// "nothing to do" check; `tests::triggers_are_sound` checks them on random input.
    pub fn trigger(self) -> Option<u32> {
        use Transform as T;
        use classes::*;
        Some(match self {
            T::Lowercase => UPPER,
            T::Uppercase => LOWER,
            T::UrlDecode | T::UrlDecodeUni => PERCENT | PLUS,
            T::HtmlEntityDecode => AMP,
            T::JsDecode | T::EscapeSeqDecode => BACKSLASH,
            T::CssDecode => BACKSLASH | NUL,
            T::Utf8ToUnicode => HIGH | NUL,
            T::RemoveNulls | T::ReplaceNulls => NUL,
            T::RemoveWhitespace => SPACE | HIGH,
            T::CompressWhitespace | T::Trim | T::TrimLeft | T::TrimRight => SPACE,
            T::ReplaceComments => SLASH,
            T::RemoveComments => SLASH | LT | DASH | HASH,
            T::RemoveCommentsChar => SLASH | STAR | LT | DASH | HASH,
            T::CmdLine => QUOTE | BACKSLASH | CARET | SPACE | COMMA_SEMI | UPPER,
            T::NormalizePath => SLASH | DOT,
            T::NormalizePathWin => SLASH | DOT | BACKSLASH,
            T::ParityZero7bit => HIGH,
            _ => return None,
        })
    }

    /// [`Transform::trigger`] of a whole chain: a value with none of these classes goes
    /// through every step unchanged. None when a step has no trigger set.
    pub fn chain_trigger(chain: &[Transform]) -> Option<u32> {
        chain.iter().try_fold(0, |acc, t| Some(acc | t.trigger()?))
    }

    /// Applies a chain of transformations in order.
    pub fn apply_all<'a>(chain: &[Transform], input: &'a [u8]) -> Cow<'a, [u8]> {
        let mut value = Cow::Borrowed(input);
        for t in chain {
            value = match value {
                Cow::Borrowed(b) => t.apply(b),
                Cow::Owned(o) => Cow::Owned(t.apply(&o).into_owned()),
            };
        }
        value
    }

    /// Every transformation, in declaration order.
    pub fn all() -> impl Iterator<Item = Transform> {
        NAMES.iter().map(|(_, _, t)| *t)
    }
}

/// Byte classes for [`Transform::trigger`]: one bit per class of bytes that some
/// transformation reacts to.
pub mod classes {
    pub const UPPER: u32 = 1;
    pub const LOWER: u32 = 1 << 1;
    pub const PERCENT: u32 = 1 << 2;
    pub const PLUS: u32 = 1 << 3;
    pub const AMP: u32 = 1 << 4;
    pub const BACKSLASH: u32 = 1 << 5;
    pub const NUL: u32 = 1 << 6;
    /// Bytes 0x80..=0xFF.
    pub const HIGH: u32 = 1 << 7;
    /// `\t \n \v \f \r` and space (ModSecurity's `isspace`).
    pub const SPACE: u32 = 1 << 8;
    pub const SLASH: u32 = 1 << 9;
    pub const STAR: u32 = 1 << 10;
    pub const DASH: u32 = 1 << 11;
    pub const HASH: u32 = 1 << 12;
    pub const LT: u32 = 1 << 13;
    /// `"` and `'`.
    pub const QUOTE: u32 = 1 << 14;
    pub const CARET: u32 = 1 << 15;
    /// `,` and `;`.
    pub const COMMA_SEMI: u32 = 1 << 16;
    pub const DOT: u32 = 1 << 17;

    /// The class bits of one byte.
    pub const fn of(b: u8) -> u32 {
        match b {
            b'A'..=b'Z' => UPPER,
            b'a'..=b'z' => LOWER,
            b'%' => PERCENT,
            b'+' => PLUS,
            b'&' => AMP,
            b'\\' => BACKSLASH,
            0 => NUL,
            0x80..=0xff => HIGH,
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => SPACE,
            b'/' => SLASH,
            b'*' => STAR,
            b'-' => DASH,
            b'#' => HASH,
            b'<' => LT,
            b'"' | b'\'' => QUOTE,
            b'^' => CARET,
            b',' | b';' => COMMA_SEMI,
            b'.' => DOT,
            _ => 0,
        }
    }

    const TABLE: [u32; 256] = {
        let mut t = [0; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = of(i as u8);
            i += 1;
        }
        t
    };

    /// The union of the classes of `value`'s bytes.
    pub fn of_value(value: &[u8]) -> u32 {
        value.iter().fold(0, |acc, &b| acc | TABLE[usize::from(b)])
    }
}

/// `t:lowercase` (ASCII only, like the C locale).
fn lowercase(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(u8::is_ascii_uppercase) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.to_ascii_lowercase())
}

/// `t:uppercase` (ASCII only).
fn uppercase(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(u8::is_ascii_lowercase) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.to_ascii_uppercase())
}

#[cfg(test)]
mod trigger_tests {
    use super::*;

    /// For every transformation with a trigger set, random values made only of bytes outside
    /// the set come back unchanged (half of the bytes drawn from the punctuation and control
    /// bytes outside the set, where the special sequences are).
    #[test]
    fn triggers_are_sound() {
        let mut next = crate::test_rng::xorshift();
        let mut checked = 0;
        for t in Transform::all() {
            let Some(trigger) = t.trigger() else { continue };
            let allowed: Vec<u8> = (0..=255u8)
                .filter(|&b| classes::of(b) & trigger == 0)
                .collect();
            let special: Vec<u8> = allowed
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_alphanumeric())
                .collect();
            for _ in 0..5000 {
                let len = (next() % 24) as usize;
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        let pool = if next() % 2 == 0 { &special } else { &allowed };
                        pool[(next() % pool.len() as u64) as usize]
                    })
                    .collect();
                assert!(
                    matches!(t.apply(&v), Cow::Borrowed(_)),
                    "{} changed {v:?} though it has none of its trigger bytes",
                    t.name()
                );
            }
            checked += 1;
        }
        assert!(
            checked >= 20,
            "only {checked} transformations have trigger sets"
        );
    }

    #[test]
    fn chain_trigger_is_the_union_or_none() {
        use Transform as T;
        assert_eq!(
            Transform::chain_trigger(&[T::Lowercase, T::UrlDecodeUni]),
            Some(classes::UPPER | classes::PERCENT | classes::PLUS)
        );
        assert_eq!(Transform::chain_trigger(&[T::Lowercase, T::Length]), None);
        assert_eq!(Transform::chain_trigger(&[]), Some(0));
        assert_eq!(
            classes::of_value(b"ab/C"),
            classes::LOWER | classes::SLASH | classes::UPPER
        );
    }
}
