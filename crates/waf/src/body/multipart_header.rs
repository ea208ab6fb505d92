//! Parsing of the multipart boundary (from the request's `Content-Type`) and of a part's
//! `Content-Disposition` header, with ModSecurity v3's checks and flags.

use super::MultipartFlags;

/// Extracts the boundary from a `multipart/form-data` Content-Type value, setting the
/// boundary flags. `Err` carries ModSecurity's error message.
pub(super) fn parse_boundary(
    content_type: &[u8],
    flags: &mut MultipartFlags,
) -> Result<Vec<u8>, String> {
    if content_type.is_empty() {
        return Err("Multipart: Content-Type header not available.".into());
    }
    if content_type.len() > 1024 {
        return Err("Multipart: Invalid boundary in C-T (length).".into());
    }
    if content_type.len() < 19 || !content_type[..19].eq_ignore_ascii_case(b"multipart/form-data") {
        return Err("Multipart: Invalid MIME type.".into());
    }
    if count_boundary_params(content_type) > 1 {
        return Err("Multipart: Multiple boundary parameters in C-T.".into());
    }
    let Some(start) = find(content_type, b"boundary") else {
        if count_boundary_params(content_type) > 0 {
            return Err("Multipart: Invalid boundary in C-T (case sensitivity).".into());
        }
        return Err("Multipart: Boundary not found in C-T.".into());
    };
    let malformed = || "Multipart: Invalid boundary in C-T (malformed).".to_string();
    let mut seen_semicolon = false;
    for &c in content_type.get(19..start).unwrap_or_default() {
        if !is_c_space(c) {
            if !seen_semicolon && c == b';' {
                seen_semicolon = true;
            } else {
                return Err(malformed());
            }
        }
    }
    if !seen_semicolon {
        flags.missing_semicolon = true;
    }
    let after_name = start + 8;
    let Some(eq) = content_type[after_name..].iter().position(|&c| c == b'=') else {
        return Err(malformed());
    };
    for &c in &content_type[after_name..after_name + eq] {
        if is_c_space(c) {
            flags.boundary_whitespace = true;
        } else {
            return Err("Multipart: Invalid boundary in C-T (parameter name).".into());
        }
    }
    let value = &content_type[after_name + eq + 1..];
    if value.first().is_some_and(|&c| is_c_space(c)) {
        flags.boundary_whitespace = true;
    }
    let boundary = if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
        flags.boundary_quoted = true;
        value[1..value.len() - 1].to_vec()
    } else {
        if value.first() == Some(&b'"') || (value.len() >= 2 && value[value.len() - 1] == b'"') {
            return Err("Multipart: Invalid boundary in C-T (quote).".into());
        }
        value.to_vec()
    };
    if boundary.is_empty() {
        return Err("Multipart: Invalid boundary in C-T (empty).".into());
    }
    if count_boundary_params(&boundary) != 0 {
        return Err("Multipart: Invalid boundary in C-T (content).".into());
    }
    if !boundary_characters_valid(&boundary) {
        return Err("Multipart: Invalid boundary in C-T (characters).".into());
    }
    Ok(boundary)
}

/// Counts occurrences of "boundary" (any case) followed somewhere later by '='.
fn count_boundary_params(value: &[u8]) -> usize {
    let lower = value.to_ascii_lowercase();
    let mut count = 0;
    let mut rest = &lower[..];
    while let Some(pos) = find(rest, b"boundary") {
        rest = &rest[pos + 8..];
        if rest.contains(&b'=') {
            count += 1;
        }
    }
    count
}

/// RFC 2046 boundary characters; a space is allowed except as the last character.
fn boundary_characters_valid(boundary: &[u8]) -> bool {
    boundary.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric()
            || (c == b' ' && i + 1 < boundary.len())
            || b"'()+_,-./:=?".contains(&c)
    })
}

/// `isspace()` in the C locale.
pub(super) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Position of `needle` in `haystack`.
pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The `name` and `filename` of a part, from its Content-Disposition header.
#[derive(Debug, Default)]
pub(super) struct Disposition {
    pub name: Vec<u8>,
    pub filename: Vec<u8>,
}

/// Parses a Content-Disposition value; `Err(code)` uses ModSecurity's negative codes.
pub(super) fn parse_content_disposition(
    value: &[u8],
    flags: &mut MultipartFlags,
) -> Result<Disposition, i32> {
    let mut d = Disposition::default();
    // The C code works on a NUL-terminated string.
    let value = match value.iter().position(|&b| b == 0) {
        Some(nul) => &value[..nul],
        None => value,
    };
    if !value.starts_with(b"form-data") {
        return Err(-1);
    }
    let at = |p: usize| value.get(p).copied().unwrap_or(0);
    let skip_ws = |mut p: usize| {
        while matches!(at(p), b'\t' | b' ') {
            p += 1;
        }
        p
    };
    let mut p = skip_ws(9);
    if at(p) == 0 {
        return Ok(d);
    }
    if at(p) != b';' {
        return Err(-2);
    }
    p += 1;
    while at(p) != 0 {
        p = skip_ws(p);
        if at(p) == 0 {
            return Err(-3);
        }
        let start = p;
        while !matches!(at(p), 0 | b'=' | b'\t' | b' ') {
            p += 1;
        }
        if at(p) == 0 {
            return Err(-4);
        }
        let name = &value[start..p];
        p = skip_ws(p);
        if at(p) == 0 {
            return Err(-5);
        }
        if at(p) != b'=' {
            return Err(-13);
        }
        p = skip_ws(p + 1);
        if at(p) == 0 {
            return Err(-6);
        }
        let mut param = Vec::new();
        if at(p) == b'"' || at(p) == b'\'' {
            let quote = at(p);
            if quote == b'\'' {
                flags.invalid_quoting = true;
            }
            p += 1;
            if at(p) == 0 {
                return Err(-7);
            }
            while at(p) != 0 {
                if at(p) == b'\\' {
                    if at(p + 1) == 0 {
                        return Err(-8);
                    }
                    if at(p + 1) == quote || at(p + 1) == b'\\' {
                        p += 1;
                    }
                } else if at(p) == quote {
                    break;
                }
                param.push(at(p));
                p += 1;
            }
            p += 1;
        } else {
            let start = p;
            while at(p) != 0 && is_token_char(at(p)) {
                p += 1;
            }
            param.extend_from_slice(&value[start..p]);
        }
        // Newer ModSecurity releases also flag a `'` inside a value; libmodsecurity 3.0.9
        // (the reference here) only flags single-quote delimiters.
        match name {
            b"name" => {
                if !d.name.is_empty() {
                    return Err(-14);
                }
                d.name = param;
            }
            b"filename" => {
                if !d.filename.is_empty() {
                    return Err(-15);
                }
                d.filename = param;
            }
            _ => return Err(-11),
        }
        if at(p) != 0 {
            p = skip_ws(p);
            if at(p) == 0 {
                return Ok(d);
            }
            if at(p) != b';' {
                if p > 0 && matches!(at(p - 1), b'\'' | b'"') {
                    flags.invalid_quoting = true;
                }
                return Err(-12);
            }
            p += 1;
        }
    }
    Ok(d)
}

fn is_token_char(c: u8) -> bool {
    c > 32 && c < 127 && !b"()<>@,;:\\\"/[]?=".contains(&c)
}
