//! `setvar:` — create, change or delete a member of TX or of a persistent collection;
//! `expirevar:` and `deprecatevar:` — make a member of a persistent collection expire, or
//! decrease over time (see `store.rs` for how they are kept).

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
    /// Its TX slot, for a literal TX member (see `txvars.rs`).
    pub tx_slot: Option<u32>,
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
        let tx_slot = literal_key
            .as_deref()
            .filter(|_| collection == "tx")
            .map(crate::txvars::register);
        Ok(SetVar {
            collection,
            key,
            literal_key,
            tx_slot,
            op,
        })
    }
}

/// Collections `expirevar`/`deprecatevar` accept (TX lives for one transaction only).
const PERSISTENT: [&str; 5] = ["ip", "global", "session", "user", "resource"];

/// A `collection.member` target of `expirevar`/`deprecatevar`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRef {
    /// Lower-case collection name (`ip`, `global`, ...).
    pub collection: String,
    /// Member name (may hold macros).
    pub key: Macro,
}

impl MemberRef {
    fn parse(action: &str, target: &str, text: &str) -> Result<MemberRef, String> {
        let (coll, key) = target
            .split_once('.')
            .ok_or_else(|| format!("{action}: expected collection.name=..., got {text:?}"))?;
        let collection = coll.trim().to_ascii_lowercase();
        if !PERSISTENT.contains(&collection.as_str()) {
            return Err(format!(
                "{action}: collection {:?} is not persistent (IP, GLOBAL, SESSION, USER or \
                 RESOURCE expected) in {text:?}",
                coll.trim()
            ));
        }
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("{action}: empty member name in {text:?}"));
        }
        Ok(MemberRef {
            collection,
            key: Macro::parse(key)?,
        })
    }

    /// The lower-cased member name.
    pub fn name(&self, r: &dyn crate::macros::Resolve) -> String {
        self.key.expand(r).to_ascii_lowercase()
    }
}

/// Parses a whole number of seconds (or units): ASCII digits only.
pub fn parse_count(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// `expirevar:ip.name=SECONDS`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpireVar {
    pub member: MemberRef,
    /// Seconds from now (may hold macros; checked at load time when literal).
    pub seconds: Macro,
}

impl ExpireVar {
    /// Parses `ip.name=60`, `ip.%{tx.k}=%{tx.window}`.
    pub fn parse(text: &str) -> Result<ExpireVar, String> {
        let (target, secs) = text
            .split_once('=')
            .ok_or_else(|| format!("expirevar: expected collection.name=seconds, got {text:?}"))?;
        let member = MemberRef::parse("expirevar", target, text)?;
        let seconds = Macro::parse(secs.trim())?;
        if let Some(lit) = seconds.literal() {
            parse_count(&lit).ok_or_else(|| {
                format!("expirevar: seconds must be a whole number, got {lit:?} in {text:?}")
            })?;
        }
        Ok(ExpireVar { member, seconds })
    }

    /// The expiry in seconds from now; `None` when a macro expanded to something else than a
    /// whole number (the action then does nothing).
    pub fn seconds(&self, r: &dyn crate::macros::Resolve) -> Option<u64> {
        parse_count(&self.seconds.expand(r))
    }
}

/// `deprecatevar:ip.name=N/SECONDS`: decrease a numeric member by N per SECONDS elapsed since
/// the collection's LAST_UPDATE_TIME (ModSecurity v2's semantics), never below 0.
#[derive(Debug, Clone, PartialEq)]
pub struct DeprecateVar {
    pub member: MemberRef,
    /// `N/SECONDS` (may hold macros; checked at load time when literal).
    pub rate: Macro,
}

/// Parses `N/SECONDS` (SECONDS at least 1).
pub fn parse_rate(text: &str) -> Option<(u64, u64)> {
    let (n, s) = text.split_once('/')?;
    let (n, s) = (parse_count(n)?, parse_count(s)?);
    (s > 0).then_some((n, s))
}

impl DeprecateVar {
    /// Parses `ip.score=10/60`.
    pub fn parse(text: &str) -> Result<DeprecateVar, String> {
        let (target, rate) = text.split_once('=').ok_or_else(|| {
            format!("deprecatevar: expected collection.name=N/SECONDS, got {text:?}")
        })?;
        let member = MemberRef::parse("deprecatevar", target, text)?;
        let rate = Macro::parse(rate.trim())?;
        if let Some(lit) = rate.literal() {
            parse_rate(&lit).ok_or_else(|| {
                format!(
                    "deprecatevar: expected N/SECONDS (whole numbers, SECONDS at least 1), \
                     got {lit:?} in {text:?}"
                )
            })?;
        }
        Ok(DeprecateVar { member, rate })
    }
}

/// Room for the decimal form of any `i64`.
pub(crate) const INT_BYTES: usize = 20;

/// [`int_bytes`] of a size (saturating at `i64::MAX`).
pub(crate) fn size_bytes(v: usize, buf: &mut [u8; INT_BYTES]) -> &[u8] {
    int_bytes(i64::try_from(v).unwrap_or(i64::MAX), buf)
}

/// The decimal form of `v`, written at the end of `buf` (no formatter, no allocation).
pub(crate) fn int_bytes(v: i64, buf: &mut [u8; INT_BYTES]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Appends the decimal form of `v` to `out`.
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(int_bytes(v, &mut [0; INT_BYTES]));
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
        for v in [0, 7, -7, 10, 123_456, i64::MAX, i64::MIN] {
            let mut out = b"=".to_vec();
            push_int(&mut out, v);
            assert_eq!(out, format!("={v}").into_bytes());
        }
        assert_eq!(to_int(b"\x0b-7 "), -7);
        assert_eq!(to_int(b"+"), 0);
        assert_eq!(to_int(b"99999999999999999999"), 0);
        assert_eq!(to_int("\u{a0}5".as_bytes()), 5);
    }

    #[test]
    fn parses_expirevar_and_deprecatevar() {
        let e = ExpireVar::parse("IP.Hits=60").unwrap();
        assert_eq!(e.member.collection, "ip");
        assert!(ExpireVar::parse("ip.%{tx.k}=%{tx.window}").is_ok());
        for bad in [
            "ip.x", "ip.x=", "ip.x=-1", "ip.x=1s", "tx.x=5", "ip=5", "ip.=5",
        ] {
            assert!(ExpireVar::parse(bad).is_err(), "{bad}");
        }
        assert!(DeprecateVar::parse("ip.score=10/60").is_ok());
        for bad in [
            "ip.score=10",
            "ip.score=10/0",
            "ip.score=a/5",
            "tx.s=1/2",
            "ip.s",
        ] {
            assert!(DeprecateVar::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_rate(" 3 / 7 "), Some((3, 7)));
    }
}
