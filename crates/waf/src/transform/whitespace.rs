//! Whitespace and NUL handling: `t:removeWhitespace`, `t:compressWhitespace`, `t:trim*`,
//! `t:removeNulls`, `t:replaceNulls`. Whitespace is C-locale `isspace`; removeWhitespace also
//! removes the bytes 0xA0 and 0xC2 (the two bytes of a UTF-8 NBSP) wherever they occur, as
//! libmodsecurity 3 does.

use std::borrow::Cow;

use super::bytes::is_space;

/// `t:removeWhitespace`.
pub(crate) fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    let drop = |b: u8| is_space(b) || b == 0xa0 || b == 0xc2;
    if !input.iter().any(|&b| drop(b)) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| !drop(b)).collect())
}

/// `t:compressWhitespace`: every run of whitespace becomes one space.
pub(crate) fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    let unchanged = input.iter().enumerate().all(|(i, &b)| {
        !is_space(b) || (b == b' ' && !input.get(i + 1).is_some_and(|&n| is_space(n)))
    });
    if unchanged {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
                in_space = true;
            }
        } else {
            in_space = false;
            out.push(b);
        }
    }
    Cow::Owned(out)
}

/// `t:trimLeft`.
pub(crate) fn trim_left(input: &[u8]) -> Cow<'_, [u8]> {
    let start = input
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(input.len());
    Cow::Borrowed(&input[start..])
}

/// `t:trimRight`.
pub(crate) fn trim_right(input: &[u8]) -> Cow<'_, [u8]> {
    let end = input
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |p| p + 1);
    Cow::Borrowed(&input[..end])
}

/// `t:trim`.
pub(crate) fn trim(input: &[u8]) -> Cow<'_, [u8]> {
    let start = input
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |p| p + 1);
    Cow::Borrowed(&input[start..end.max(start)])
}

/// `t:removeNulls`.
pub(crate) fn remove_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|&b| b != 0).collect())
}

/// `t:replaceNulls`: NUL becomes a space.
pub(crate) fn replace_nulls(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&0) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        input
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect(),
    )
}
