//! `application/x-www-form-urlencoded` bodies and query strings, as ModSecurity v3 splits them.
//!
//! ModSecurity splits on the separator the way `std::getline` does (a trailing separator does
//! not produce an empty pair, an empty piece in the middle does), splits each piece on the
//! first `=`, and decodes both halves non-strictly: `+` becomes a space, `%XX` with two hex
//! digits becomes the byte, anything else is kept as written.

use super::Pairs;

/// ModSecurity semantics: '+' -> space, %XX decoded, invalid escapes kept literally, empty
/// names kept, "a" without '=' -> ("a", "").
pub fn parse_urlencoded(input: &[u8], separator: u8) -> Pairs {
    let mut pairs = Vec::new();
    for_each_pair(input, separator, |name, value| {
        pairs.push((name.to_vec(), value.to_vec()));
        true
    });
    pairs
}

/// [`parse_urlencoded`] without collecting: calls `f` with each decoded (name, value) until
/// it returns false. A half without `+` or `%` is passed as written, without a copy (most
/// query arguments).
pub fn for_each_pair(input: &[u8], separator: u8, mut f: impl FnMut(&[u8], &[u8]) -> bool) {
    let mut pieces = input.split(|&b| b == separator).peekable();
    while let Some(piece) = pieces.next() {
        // getline() yields no empty element after a trailing delimiter.
        if piece.is_empty() && pieces.peek().is_none() {
            break;
        }
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &b""[..]),
        };
        if !f(&decode(name), &decode(value)) {
            break;
        }
    }
}

/// [`url_decode_nonstrict`], borrowing `input` when there is nothing to decode.
fn decode(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if input.iter().any(|&b| b == b'+' || b == b'%') {
        std::borrow::Cow::Owned(url_decode_nonstrict(input))
    } else {
        std::borrow::Cow::Borrowed(input)
    }
}

/// Decodes `+` and valid `%XX` escapes; invalid escapes stay literal.
pub fn url_decode_nonstrict(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (hex_value(input.get(i + 1)), hex_value(input.get(i + 2))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(byte: Option<&u8>) -> Option<u8> {
    match byte? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
