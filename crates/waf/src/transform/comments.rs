//! Comment handling: `t:replaceComments` (C comments become one space, an unterminated one
//! too), `t:removeComments` (C, HTML, SQL `--` and shell `#` comments removed) and
//! `t:removeCommentsChar` (only the comment markers `/*`, `*/`, `<!--`, `-->`, `--`, `#` removed).

use std::borrow::Cow;

/// `t:replaceComments`.
pub(crate) fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.windows(2).any(|w| w == b"/*") {
        return Cow::Borrowed(input);
    }
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut in_comment = false;
    let mut i = 0;
    while i < len {
        if !in_comment {
            if input[i] == b'/' && i + 1 < len && input[i + 1] == b'*' {
                in_comment = true;
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if input[i] == b'*' && i + 1 < len && input[i + 1] == b'/' {
            in_comment = false;
            out.push(b' ');
            i += 2;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    Cow::Owned(out)
}

/// `t:removeComments`.
pub(crate) fn remove_comments(input: &[u8]) -> Cow<'_, [u8]> {
    let len = input.len();
    let mut out = Vec::with_capacity(len);
    let mut in_comment = false;
    let mut i = 0;
    let starts = |i: usize, pat: &[u8]| input[i..].starts_with(pat);
    while i < len {
        if !in_comment {
            if starts(i, b"/*") {
                in_comment = true;
                i += 2;
            } else if starts(i, b"<!--") {
                in_comment = true;
                i += 4;
            } else if starts(i, b"--") || input[i] == b'#' {
                break;
            } else {
                out.push(input[i]);
                i += 1;
            }
        } else if starts(i, b"*/") || starts(i, b"-->") {
            in_comment = false;
            i += if input[i] == b'*' { 2 } else { 3 };
            // ModSecurity copies the next byte unconditionally, the NUL terminator included.
            out.push(input.get(i).copied().unwrap_or(0));
            i += 1;
        } else {
            i += 1;
        }
    }
    if in_comment {
        out.push(b' ');
    }
    if out == input {
        return Cow::Borrowed(input);
    }
    Cow::Owned(out)
}

/// `t:removeCommentsChar`.
pub(crate) fn remove_comments_char(input: &[u8]) -> Cow<'_, [u8]> {
    if !input
        .iter()
        .any(|&b| matches!(b, b'/' | b'*' | b'<' | b'-' | b'#'))
    {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        let skip = if rest.starts_with(b"/*") || rest.starts_with(b"*/") {
            2
        } else if rest.starts_with(b"<!--") {
            4
        } else if rest.starts_with(b"-->") {
            3
        } else if rest.starts_with(b"--") {
            2
        } else if rest[0] == b'#' {
            1
        } else {
            out.push(rest[0]);
            1
        };
        i += skip;
    }
    if out.len() == input.len() {
        return Cow::Borrowed(input);
    }
    Cow::Owned(out)
}
