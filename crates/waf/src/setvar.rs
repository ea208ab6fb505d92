//! `setvar:` — create, change or delete a member of TX or of a persistent collection.

use crate::macros::Macro;

/// What a `setvar` does to its variable.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOp {
    /// `col.name=value` (or `col.name` alone, which sets "1").
    Set(Macro),
    /// `col.name=+value`.
    Add(Macro),
    /// `col.name=-value`.
    Sub(Macro),
    /// `!col.name`.
    Delete,
}

/// A parsed `setvar`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetVar {
    /// Lower-case collection name (`tx`, `ip`, `global`, ...).
    pub collection: String,
    /// Member name (may hold macros).
    pub key: Macro,
    /// The lower-cased member name when it holds no macros (the common case).
    pub literal_key: Option<String>,
    /// The operation.
    pub op: SetOp,
}

impl SetVar {
    /// Parses `tx.a=1`, `tx.a=+%{tx.b}`, `!tx.a`, `tx.a`.
    pub fn parse(text: &str) -> Result<SetVar, String> {
        let text = text.trim();
        let (delete, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (target, value) = match body.split_once('=') {
            Some((t, v)) => (t, Some(v)),
            None => (body, None),
        };
        let (coll, key) = target
            .split_once('.')
            .ok_or_else(|| format!("setvar needs collection.name: {text:?}"))?;
        let collection = coll.trim().to_ascii_lowercase();
        if !matches!(
            collection.as_str(),
            "tx" | "ip" | "global" | "session" | "user" | "resource"
        ) {
            return Err(format!("setvar: unsupported collection {coll:?}"));
        }
        let key = Macro::parse(key.trim())?;
        let op = if delete {
            SetOp::Delete
        } else {
            match value {
                None => SetOp::Set(Macro::parse("1")?),
                Some(v) => {
                    if let Some(n) = v.strip_prefix('+') {
                        SetOp::Add(Macro::parse(n)?)
                    } else if let Some(n) = v.strip_prefix('-') {
                        SetOp::Sub(Macro::parse(n)?)
                    } else {
                        SetOp::Set(Macro::parse(v)?)
                    }
                }
            }
        };
        let literal_key = key.literal().map(|k| k.to_ascii_lowercase());
        Ok(SetVar {
            collection,
            key,
            literal_key,
            op,
        })
    }
}

/// Parses an integer the way ModSecurity does for `=+`/`=-`: leading digits, else 0.
pub fn to_int(bytes: &[u8]) -> i64 {
    if bytes.is_ascii() {
        // The same as below without the UTF-8 pass: `str::trim` removes exactly these
        // ASCII bytes (Unicode White_Space), and the result is ASCII.
        let ws = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ');
        let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
        let end = bytes.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
        let s = &bytes[start..end];
        let mut n = 0;
        for (i, &c) in s.iter().enumerate() {
            if c.is_ascii_digit() || (i == 0 && (c == b'-' || c == b'+')) {
                n = i + 1;
            } else {
                break;
            }
        }
        // ASCII, so valid UTF-8.
        return std::str::from_utf8(&s[..n])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
    }
    let s = String::from_utf8_lossy(bytes);
    let s = s.trim();
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+')) {
            end = i + c.len_utf8();
        } else {
            break;
        }
    }
    s[..end].parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let s = SetVar::parse("tx.score=+%{tx.critical}").unwrap();
        assert_eq!(s.collection, "tx");
        assert!(matches!(s.op, SetOp::Add(_)));
        assert!(matches!(SetVar::parse("!TX.a").unwrap().op, SetOp::Delete));
        assert!(SetVar::parse("nope").is_err());
        assert_eq!(to_int(b" 12abc"), 12);
        assert_eq!(to_int(b"x"), 0);
        assert_eq!(to_int(b"\x0b-7 "), -7);
        assert_eq!(to_int(b"+"), 0);
        assert_eq!(to_int(b"99999999999999999999"), 0);
        assert_eq!(to_int("\u{a0}5".as_bytes()), 5);
    }
}
