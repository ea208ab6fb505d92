//! Request-path normalisation: one canonical form, computed once per request, used for
//! matching AND forwarded upstream, so that the router and the upstream agree on the path.
//!
//! The rules (each with its reason) are listed in the crate documentation, section
//! "Path normalisation". In short:
//!
//! 1. the path must start with `/`;
//! 2. `%XX` of an unreserved character (`A-Z a-z 0-9 - . _ ~`) is decoded, every other escape
//!    is kept with upper-case hex digits; invalid escapes, `%00` and raw NUL bytes are refused
//!    (a raw NUL would otherwise be encoded into the `%00` that is refused);
//! 3. bytes not allowed raw in a path (space, `"`, `\`, non-ASCII, ...) are percent-encoded;
//! 4. `%2F` and `%5C` stay encoded and are never separators;
//! 5. `//` is merged into `/`, `.` segments are dropped and `..` removes the previous segment;
//!    `..` above the root is refused; a trailing slash is kept;
//! 6. a segment that another parser could read as a dot segment (`..%2F`, `..;x`) is refused.
//!
//! The fast path (an already canonical path, the common case) does not allocate.

use std::borrow::Cow;

use crate::PathError;

/// Bytes allowed raw in a canonical path: RFC 3986 `pchar` without `%`, plus `/`.
const RAW_ALLOWED: [bool; 256] = {
    let mut table = [false; 256];
    let allowed =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/";
    let mut i = 0;
    while i < allowed.len() {
        table[allowed[i] as usize] = true;
        i += 1;
    }
    table
};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Normalises a request path (the part before `?`) into the canonical form used for matching
/// and forwarded upstream. Returns the input unchanged (borrowed) when it is already canonical.
///
/// ```
/// use portcullis_router::{normalize_path, PathError};
/// assert_eq!(normalize_path("/store/./blog//a/../b").unwrap(), "/store/blog/b");
/// assert_eq!(normalize_path("/%7Euser/%2e%2e/%61dmin").unwrap(), "/admin");
/// assert_eq!(normalize_path("/a%2fb").unwrap(), "/a%2Fb");
/// assert_eq!(normalize_path("/store/..%2fadmin"), Err(PathError::AmbiguousDotSegment));
/// assert_eq!(normalize_path("/../etc/passwd"), Err(PathError::EscapesRoot));
/// ```
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_canonical(raw)? {
        return Ok(Cow::Borrowed(raw));
    }
    let encoded = canonical_encoding(raw)?;
    resolve_segments(&encoded).map(Cow::Owned)
}

/// True when `raw` (starting with `/`) is already in canonical form. One pass over the bytes:
/// escapes and raw bytes are checked as they come, each segment when its `/` (or the end) is
/// reached.
fn is_canonical(raw: &str) -> Result<bool, PathError> {
    let bytes = raw.as_bytes();
    let mut segment_start = 1;
    // A `;` or an escape in the current segment: it needs the ambiguity check.
    let mut delimited = false;
    let mut i = 1;
    loop {
        let b = bytes.get(i).copied();
        if matches!(b, None | Some(b'/')) {
            let segment = &bytes[segment_start..i];
            if (segment.is_empty() && b.is_some()) || is_dot(segment) {
                return Ok(false);
            }
            if delimited && is_ambiguous(segment) {
                return Err(PathError::AmbiguousDotSegment);
            }
            if b.is_none() {
                return Ok(true);
            }
            i += 1;
            segment_start = i;
            delimited = false;
            continue;
        }
        match b {
            Some(b'%') => {
                if !is_canonical_escape(bytes.get(i + 1..i + 3)) {
                    return Ok(false);
                }
                delimited = true;
                i += 3;
            }
            Some(b';') => {
                delimited = true;
                i += 1;
            }
            Some(b) if RAW_ALLOWED[usize::from(b)] => i += 1,
            _ => return Ok(false),
        }
    }
}

/// Rewrites every byte and escape into its canonical encoding (steps 2-4).
fn canonical_encoding(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let value = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&hi), Some(&lo)) => match (hex_value(hi), hex_value(lo)) {
                    (Some(hi), Some(lo)) => hi << 4 | lo,
                    _ => return Err(PathError::BadEncoding),
                },
                _ => return Err(PathError::BadEncoding),
            };
            if value == 0 {
                return Err(PathError::EncodedNul);
            }
            if is_unreserved(value) {
                out.push(char::from(value));
            } else {
                push_escape(&mut out, value);
            }
            i += 3;
        } else {
            if b == 0 {
                // Encoded it would be `%00`: refused like `%00`, so that the output stays a
                // fixed point of normalisation and no NUL reaches an upstream.
                return Err(PathError::EncodedNul);
            }
            if RAW_ALLOWED[usize::from(b)] {
                out.push(char::from(b));
            } else {
                push_escape(&mut out, b);
            }
            i += 1;
        }
    }
    Ok(out)
}

/// Merges `//`, resolves `.` and `..` (step 5) and refuses ambiguous segments (step 6).
/// `encoded` starts with `/` and is ASCII.
fn resolve_segments(encoded: &str) -> Result<String, PathError> {
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in encoded[1..].split('/') {
        trailing_slash = false;
        match segment {
            "" | "." => trailing_slash = true,
            ".." => {
                if stack.pop().is_none() {
                    return Err(PathError::EscapesRoot);
                }
                trailing_slash = true;
            }
            _ => {
                if is_ambiguous(segment.as_bytes()) {
                    return Err(PathError::AmbiguousDotSegment);
                }
                stack.push(segment);
            }
        }
    }
    let mut out = String::with_capacity(encoded.len());
    for segment in &stack {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || stack.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// `%XX` as the slow path writes it: upper-case hex, neither unreserved nor NUL.
fn is_canonical_escape(hex: Option<&[u8]>) -> bool {
    let Some(&[hi, lo]) = hex else {
        return false;
    };
    let upper = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
    if !upper(hi) || !upper(lo) {
        return false;
    }
    let value = hex_value(hi).unwrap_or(0) << 4 | hex_value(lo).unwrap_or(0);
    value != 0 && !is_unreserved(value)
}

fn is_dot(segment: &[u8]) -> bool {
    segment == b"." || segment == b".."
}

/// A segment that contains `;`, `%2F` or `%5C` and in which a piece between those delimiters
/// is `.` or `..`: Tomcat strips `;params` and some upstreams decode `%2F`/`%5C` into
/// separators, after which such a piece becomes a real dot segment the router never saw.
fn is_ambiguous(segment: &[u8]) -> bool {
    let mut start = 0;
    let mut i = 0;
    let mut delimited = false;
    while i < segment.len() {
        let rest = &segment[i..];
        let delimiter = if rest[0] == b';' {
            1
        } else if rest.starts_with(b"%2F") || rest.starts_with(b"%5C") {
            3
        } else {
            0
        };
        if delimiter == 0 {
            i += 1;
            continue;
        }
        if is_dot(&segment[start..i]) {
            return true;
        }
        delimited = true;
        i += delimiter;
        start = i;
    }
    delimited && is_dot(&segment[start..])
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_escape(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(b & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_are_borrowed() {
        for path in ["/", "/foo", "/foo/", "/a/b;c=d/e", "/a%2Fb", "/caf%C3%A9"] {
            assert!(matches!(normalize_path(path), Ok(Cow::Borrowed(p)) if p == path));
        }
        assert!(matches!(normalize_path("/a%2fb"), Ok(Cow::Owned(_))));
    }

    /// The fast path says "canonical" exactly when the slow path would return the input.
    #[test]
    fn fast_path_agrees_with_slow_path() {
        let alphabet = [
            "/", ".", "a", "%2F", "%2f", "%41", "%C3", ";", " ", "%", "%00",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..50_000 {
            let mut raw = String::from("/");
            for _ in 0..(state % 9) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                raw.push_str(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let slow = canonical_encoding(&raw).and_then(|e| resolve_segments(&e));
            match is_canonical(&raw) {
                Ok(true) => assert_eq!(slow.as_deref(), Ok(raw.as_str()), "{raw:?}"),
                Ok(false) => assert_ne!(slow.as_deref(), Ok(raw.as_str()), "{raw:?}"),
                Err(e) => assert_eq!(slow, Err(e), "{raw:?}"),
            }
        }
    }

    #[test]
    fn ambiguous_segments() {
        assert!(is_ambiguous(b"..;"));
        assert!(is_ambiguous(b"..%2Fadmin"));
        assert!(is_ambiguous(b"a%5C.."));
        assert!(!is_ambiguous(b"a;b=.."));
        assert!(!is_ambiguous(b"..."));
        assert!(!is_ambiguous(b".."));
    }
}
