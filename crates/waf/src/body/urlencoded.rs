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
    if input.is_empty() {
        return pairs;
    }
    let mut pieces: Vec<&[u8]> = input.split(|&b| b == separator).collect();
    // getline() yields no empty element after a trailing delimiter.
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    for piece in pieces {
        let (name, value) = match piece.iter().position(|&b| b == b'=') {
            Some(eq) => (&piece[..eq], &piece[eq + 1..]),
            None => (piece, &b""[..]),
        };
        pairs.push((url_decode_nonstrict(name), url_decode_nonstrict(value)));
    }
    pairs
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
