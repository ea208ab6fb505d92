//! Rule targets: the variable list of a `SecRule` (`ARGS|!ARGS:foo|&TX:x|TX:/re/|XML:/*`),
//! parsed into [`Var`]s with selectors, exclusions and counts.

use crate::body::XPath;
use regex::bytes::{Regex, RegexBuilder};

macro_rules! vars {
    ($($v:ident => $n:literal, $coll:literal;)*) => {
        /// Every variable or collection the engine can extract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum Var { $($v,)* }
        impl Var {
            /// Case-insensitive lookup by SecLang name.
            pub fn from_name(name: &str) -> Option<Var> {
                $(if name.eq_ignore_ascii_case($n) { return Some(Var::$v); })*
                None
            }
            /// Canonical upper-case name.
            pub fn name(self) -> &'static str {
                match self { $(Var::$v => $n,)* }
            }
            /// True for collections (key/value sets that take selectors).
            pub fn is_collection(self) -> bool {
                match self { $(Var::$v => $coll,)* }
            }
        }
    };
}

vars! {
    ARGS => "ARGS", true;
    ARGS_GET => "ARGS_GET", true;
    ARGS_POST => "ARGS_POST", true;
    ARGS_NAMES => "ARGS_NAMES", true;
    ARGS_GET_NAMES => "ARGS_GET_NAMES", true;
    ARGS_POST_NAMES => "ARGS_POST_NAMES", true;
    ARGS_COMBINED_SIZE => "ARGS_COMBINED_SIZE", false;
    REQUEST_COOKIES => "REQUEST_COOKIES", true;
    REQUEST_COOKIES_NAMES => "REQUEST_COOKIES_NAMES", true;
    REQUEST_HEADERS => "REQUEST_HEADERS", true;
    REQUEST_HEADERS_NAMES => "REQUEST_HEADERS_NAMES", true;
    REQUEST_FILENAME => "REQUEST_FILENAME", false;
    REQUEST_BASENAME => "REQUEST_BASENAME", false;
    REQUEST_URI => "REQUEST_URI", false;
    REQUEST_URI_RAW => "REQUEST_URI_RAW", false;
    REQUEST_LINE => "REQUEST_LINE", false;
    REQUEST_METHOD => "REQUEST_METHOD", false;
    REQUEST_PROTOCOL => "REQUEST_PROTOCOL", false;
    QUERY_STRING => "QUERY_STRING", false;
    PATH_INFO => "PATH_INFO", false;
    REQUEST_BODY => "REQUEST_BODY", false;
    REQUEST_BODY_LENGTH => "REQUEST_BODY_LENGTH", false;
    FULL_REQUEST => "FULL_REQUEST", false;
    FULL_REQUEST_LENGTH => "FULL_REQUEST_LENGTH", false;
    REQBODY_PROCESSOR => "REQBODY_PROCESSOR", false;
    REQBODY_ERROR => "REQBODY_ERROR", false;
    REQBODY_ERROR_MSG => "REQBODY_ERROR_MSG", false;
    REQBODY_PROCESSOR_ERROR => "REQBODY_PROCESSOR_ERROR", false;
    REQBODY_PROCESSOR_ERROR_MSG => "REQBODY_PROCESSOR_ERROR_MSG", false;
    INBOUND_DATA_ERROR => "INBOUND_DATA_ERROR", false;
    OUTBOUND_DATA_ERROR => "OUTBOUND_DATA_ERROR", false;
    FILES => "FILES", true;
    FILES_NAMES => "FILES_NAMES", true;
    FILES_SIZES => "FILES_SIZES", true;
    FILES_COMBINED_SIZE => "FILES_COMBINED_SIZE", false;
    MULTIPART_PART_HEADERS => "MULTIPART_PART_HEADERS", true;
    MULTIPART_FILENAME => "MULTIPART_FILENAME", false;
    MULTIPART_NAME => "MULTIPART_NAME", false;
    MULTIPART_STRICT_ERROR => "MULTIPART_STRICT_ERROR", false;
    MULTIPART_UNMATCHED_BOUNDARY => "MULTIPART_UNMATCHED_BOUNDARY", false;
    MULTIPART_BOUNDARY_QUOTED => "MULTIPART_BOUNDARY_QUOTED", false;
    MULTIPART_BOUNDARY_WHITESPACE => "MULTIPART_BOUNDARY_WHITESPACE", false;
    MULTIPART_DATA_BEFORE => "MULTIPART_DATA_BEFORE", false;
    MULTIPART_DATA_AFTER => "MULTIPART_DATA_AFTER", false;
    MULTIPART_HEADER_FOLDING => "MULTIPART_HEADER_FOLDING", false;
    MULTIPART_LF_LINE => "MULTIPART_LF_LINE", false;
    MULTIPART_CRLF_LF_LINES => "MULTIPART_CRLF_LF_LINES", false;
    MULTIPART_MISSING_SEMICOLON => "MULTIPART_MISSING_SEMICOLON", false;
    MULTIPART_INVALID_QUOTING => "MULTIPART_INVALID_QUOTING", false;
    MULTIPART_INVALID_PART => "MULTIPART_INVALID_PART", false;
    MULTIPART_INVALID_HEADER_FOLDING => "MULTIPART_INVALID_HEADER_FOLDING", false;
    MULTIPART_FILE_LIMIT_EXCEEDED => "MULTIPART_FILE_LIMIT_EXCEEDED", false;
    XML => "XML", true;
    TX => "TX", true;
    IP => "IP", true;
    GLOBAL => "GLOBAL", true;
    SESSION => "SESSION", true;
    USER => "USER", true;
    RESOURCE => "RESOURCE", true;
    ENV => "ENV", true;
    MATCHED_VAR => "MATCHED_VAR", false;
    MATCHED_VARS => "MATCHED_VARS", true;
    MATCHED_VAR_NAME => "MATCHED_VAR_NAME", false;
    MATCHED_VARS_NAMES => "MATCHED_VARS_NAMES", true;
    REMOTE_ADDR => "REMOTE_ADDR", false;
    REMOTE_HOST => "REMOTE_HOST", false;
    REMOTE_PORT => "REMOTE_PORT", false;
    SERVER_ADDR => "SERVER_ADDR", false;
    SERVER_PORT => "SERVER_PORT", false;
    SERVER_NAME => "SERVER_NAME", false;
    UNIQUE_ID => "UNIQUE_ID", false;
    AUTH_TYPE => "AUTH_TYPE", false;
    RESPONSE_STATUS => "RESPONSE_STATUS", false;
    RESPONSE_PROTOCOL => "RESPONSE_PROTOCOL", false;
    RESPONSE_HEADERS => "RESPONSE_HEADERS", true;
    RESPONSE_HEADERS_NAMES => "RESPONSE_HEADERS_NAMES", true;
    RESPONSE_BODY => "RESPONSE_BODY", false;
    RESPONSE_CONTENT_TYPE => "RESPONSE_CONTENT_TYPE", false;
    RESPONSE_CONTENT_LENGTH => "RESPONSE_CONTENT_LENGTH", false;
    HIGHEST_SEVERITY => "HIGHEST_SEVERITY", false;
    DURATION => "DURATION", false;
    TIME => "TIME", false;
    TIME_EPOCH => "TIME_EPOCH", false;
    RULE => "RULE", true;
}

impl Var {
    /// True when the variable's values come only from request/response data kept in the
    /// transaction's [`State`](crate::state::State) (changed only through `set_single`/`push`,
    /// which bump its data version); false for TX, persistent collections, MATCHED_*, RULE,
    /// time and HIGHEST_SEVERITY, whose values change while rules run.
    pub fn is_stable(self) -> bool {
        !matches!(
            self,
            Var::TX
                | Var::IP
                | Var::GLOBAL
                | Var::SESSION
                | Var::USER
                | Var::RESOURCE
                | Var::MATCHED_VAR
                | Var::MATCHED_VARS
                | Var::MATCHED_VAR_NAME
                | Var::MATCHED_VARS_NAMES
                | Var::HIGHEST_SEVERITY
                | Var::DURATION
                | Var::TIME
                | Var::TIME_EPOCH
                | Var::RULE
        )
    }
}

/// Narrows a collection to some of its members.
#[derive(Debug, Clone)]
pub enum Selector {
    /// `ARGS:name`, stored lower-cased; compared ASCII-case-insensitively (ModSecurity v3
    /// collections).
    Key(String),
    /// `ARGS:/re/` — a regex on the key, case-insensitive.
    Regex(KeyRegex),
    /// `XML:/xpath` — the compiled XPath (see [`crate::body::XPath`]).
    XPath(XPath),
}

impl Selector {
    /// Whether a member named `key` is selected.
    pub fn matches_key(&self, key: &[u8]) -> bool {
        match self {
            Selector::Key(k) => k.as_bytes().eq_ignore_ascii_case(key),
            Selector::Regex(re) => re.is_match(key),
            Selector::XPath(_) => true,
        }
    }

    /// Text as written (for `ctl:ruleRemoveTargetById` comparisons and logs).
    pub fn text(&self) -> String {
        match self {
            Selector::Key(k) => k.clone(),
            Selector::Regex(re) => format!("/{}/", re.as_str().trim_start_matches("(?s)")),
            Selector::XPath(x) => x.text().to_string(),
        }
    }
}

/// One element of a target list.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which variable.
    pub var: Var,
    /// Optional `:selector`.
    pub selector: Option<Selector>,
    /// `&VAR` — yields the number of members instead of their values.
    pub count: bool,
    /// `!VAR:sel` — removes members from the other targets of the same variable.
    pub exclude: bool,
    /// For `TX:name`: the name's TX slot (see `txvars.rs`).
    pub tx_slot: Option<u32>,
}

/// Parses a `|`-separated target list.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (target, next) = parse_one(text, i)?;
        out.push(target);
        i = next;
        if i < bytes.len() {
            if bytes[i] != b'|' {
                return Err(format!(
                    "unexpected {:?} in variable list {text:?}",
                    &text[i..]
                ));
            }
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
        }
    }
    if out.is_empty() {
        return Err("empty variable list".into());
    }
    Ok(out)
}

fn parse_one(text: &str, start: usize) -> Result<(Target, usize), String> {
    let bytes = text.as_bytes();
    let mut i = start;
    let (mut count, mut exclude) = (false, false);
    match bytes.get(i) {
        Some(b'&') => {
            count = true;
            i += 1;
        }
        Some(b'!') => {
            exclude = true;
            i += 1;
        }
        _ => {}
    }
    let name_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    let name = &text[name_start..i];
    let var = Var::from_name(name).ok_or_else(|| format!("unknown variable {name:?}"))?;
    let mut selector = None;
    if bytes.get(i) == Some(&b':') || bytes.get(i) == Some(&b'.') {
        i += 1;
        let (sel, next) = parse_selector(text, i, var)?;
        selector = Some(sel);
        i = next;
    }
    if selector.is_some() && !var.is_collection() {
        return Err(format!(
            "variable {name} is not a collection and takes no selector"
        ));
    }
    let tx_slot = match &selector {
        Some(Selector::Key(k)) if var == Var::TX => Some(crate::txvars::register(k)),
        _ => None,
    };
    Ok((
        Target {
            var,
            selector,
            count,
            exclude,
            tx_slot,
        },
        i,
    ))
}

fn parse_selector(text: &str, start: usize, var: Var) -> Result<(Selector, usize), String> {
    let bytes = text.as_bytes();
    if var == Var::XML {
        let end = text[start..].find('|').map_or(text.len(), |p| start + p);
        return Ok((Selector::XPath(XPath::parse(&text[start..end])?), end));
    }
    match bytes.get(start) {
        Some(b'/') => {
            let mut i = start + 1;
            let mut close = None;
            while i < bytes.len() {
                match bytes[i] {
                    b'\\' => i += 2,
                    b'/' if i + 1 == bytes.len() || bytes[i + 1] == b'|' => {
                        close = Some(i);
                        break;
                    }
                    _ => i += 1,
                }
            }
            let close = close.ok_or_else(|| format!("unterminated regex selector in {text:?}"))?;
            let pattern = &text[start + 1..close];
            Ok((Selector::Regex(key_regex(pattern)?), close + 1))
        }
        Some(b'\'') => {
            let end = text[start + 1..]
                .find('\'')
                .map(|p| start + 1 + p)
                .ok_or_else(|| format!("unterminated quoted selector in {text:?}"))?;
            Ok((
                Selector::Key(text[start + 1..end].to_ascii_lowercase()),
                end + 1,
            ))
        }
        _ => {
            let end = text[start..].find('|').map_or(text.len(), |p| start + p);
            let key = text[start..end].trim();
            if key.is_empty() {
                return Err(format!("empty selector in {text:?}"));
            }
            Ok((Selector::Key(key.to_ascii_lowercase()), end))
        }
    }
}

/// A key-selector regex (case-insensitive). CRS selects collection members mostly with an
/// anchored literal prefix (`TX:/^header_name_920450_/`, run against every TX variable for
/// every header); those are answered by a byte comparison instead of the regex engine.
#[derive(Debug, Clone)]
pub struct KeyRegex {
    re: Regex,
    /// A literal every match holds (see [`required_literal`]).
    literal: Option<Literal>,
    /// The TX slots whose names match (see `txvars.rs`), computed on first use.
    pub(crate) tx_slots: crate::txvars::SlotMatches,
}

impl KeyRegex {
    /// Whether `key` matches. An ASCII key is searched for the required literal directly (for
    /// ASCII the regex's Unicode case folding agrees with ASCII case folding): without it
    /// the key cannot match, with it a pattern that is only the literal matches; anything
    /// else goes through the regex. CRS asks its `!REQUEST_COOKIES:/^_ga(?:_\w+)?$/`-style
    /// exclusions about every cookie and its `TX:/paramcounter_.*/` about every TX name.
    pub fn is_match(&self, key: &[u8]) -> bool {
        match &self.literal {
            Some(lit) if key.is_ascii() => match (lit.found_in(key), lit.exact) {
                (false, _) => false,
                (true, true) => true,
                (true, false) => self.re.is_match(key),
            },
            _ => self.re.is_match(key),
        }
    }

    /// The pattern as compiled.
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }
}

/// A literal every match of `pattern` contains: the run of ASCII letters, digits, `_` and
/// `-` the pattern begins with (after a leading `^`: then at the start of the key), without
/// its last character when a quantifier follows it; `exact` when the run is the whole
/// pattern (or followed by `.*` alone). None for a pattern with a `|` anywhere (an
/// alternative need not contain the run) or without such a run.
fn required_literal(pattern: &str) -> Option<Literal> {
    let (rest, anchored) = match pattern.strip_prefix('^') {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    if rest.contains('|') {
        return None;
    }
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let run = rest.bytes().take_while(|&b| plain(b)).count();
    let (lit, exact) = match rest.as_bytes().get(run) {
        None => (&rest[..run], true),
        // `.*` matches the empty string: the literal decides.
        Some(b'.') if &rest[run..] == ".*" => (&rest[..run], true),
        // A quantifier (even `+`, which another may follow: `a+{0,2}`) governs the last byte.
        Some(b'?' | b'*' | b'+' | b'{') => (&rest[..run.saturating_sub(1)], false),
        Some(_) => (&rest[..run], false),
    };
    (!lit.is_empty()).then(|| Literal {
        text: lit.as_bytes().into(),
        anchored,
        exact,
    })
}

/// See [`required_literal`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    text: Box<[u8]>,
    anchored: bool,
    exact: bool,
}

impl Literal {
    /// Whether the ASCII `key` holds the literal where the pattern needs it, ASCII case
    /// folded.
    fn found_in(&self, key: &[u8]) -> bool {
        let n = self.text.len();
        match self.anchored {
            true => key.len() >= n && key[..n].eq_ignore_ascii_case(&self.text),
            false => key.windows(n).any(|w| w.eq_ignore_ascii_case(&self.text)),
        }
    }
}

/// Compiles a key-selector regex (case-insensitive, size-limited).
pub fn key_regex(pattern: &str) -> Result<KeyRegex, String> {
    let re = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid selector regex /{pattern}/: {e}"))?;
    Ok(KeyRegex {
        re,
        literal: required_literal(pattern),
        tx_slots: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let t = parse_targets("ARGS|!ARGS:foo|&TX:x|TX:/^a|b$/|XML:/*|REQUEST_HEADERS:User-Agent")
            .unwrap();
        assert_eq!(t.len(), 6);
        assert!(t[1].exclude && t[2].count);
        assert!(matches!(&t[3].selector, Some(Selector::Regex(r)) if r.is_match(b"B")));
        assert!(matches!(&t[4].selector, Some(Selector::XPath(x)) if x.text() == "/*"));
        let e = parse_targets("ARGS|XML:/a/count(b)").unwrap_err();
        assert!(
            e.contains("\"/a/count(b)\"") && e.contains("functions"),
            "{e}"
        );
        assert!(parse_targets("NOPE").is_err());
    }

    #[test]
    fn anchored_literal_selectors_match_like_the_regex() {
        let lit = key_regex("^header_name_920450_").unwrap();
        assert!(matches!(lit.literal, Some(Literal { exact: true, .. })));
        let other = key_regex("^header_name_920450_|x").unwrap();
        assert!(other.literal.is_none());
        let keys: [&[u8]; 8] = [
            b"header_name_920450_content-type",
            b"HEADER_NAME_920450_X",
            b"header_name_920450_",
            b"header_name_92045",
            b"xheader_name_920450_a",
            b"",
            "header_name_920450_\u{212a}".as_bytes(),
            "header_name_\u{212a}".as_bytes(),
        ];
        for key in keys {
            assert_eq!(lit.is_match(key), lit.re.is_match(key), "{key:?}");
        }
        assert!(!lit.is_match(b"header_name_92045"));
        assert!(lit.is_match(b"Header_Name_920450_a"));
    }

    #[test]
    fn required_literals_reject_like_the_regex() {
        // (pattern, (literal, anchored, exact))
        let cases = [
            ("^_ga(?:_\\w+)?$", Some(("_ga", true, false))),
            ("^pbjs-\\w+$", Some(("pbjs-", true, false))),
            ("^_pk_ref", Some(("_pk_ref", true, true))),
            ("^abc?d", Some(("ab", true, false))),
            ("^ab*", Some(("a", true, false))),
            ("^a{0,2}b", None),
            ("^ab+c", Some(("a", true, false))),
            ("^a+{0,2}b", None),
            ("^ab|cd", None),
            ("^(?:ab|cd)", None),
            ("__utm", Some(("__utm", false, true))),
            ("paramcounter_.*", Some(("paramcounter_", false, true))),
            ("^ab.*", Some(("ab", true, true))),
            ("ab.*c", Some(("ab", false, false))),
            ("ab.+", Some(("ab", false, false))),
            ("bc?d", Some(("b", false, false))),
            ("^[a]b", None),
            ("\\x22?\\x24Version", None),
        ];
        let keys: [&[u8]; 17] = [
            b"_ga",
            b"_GA_X1",
            b"_gab",
            b"pbjs-id",
            b"PBJS-",
            b"_pk_ref.1.abcd",
            b"abd",
            b"acd",
            b"bc",
            b"cd",
            b"x__UTMz",
            b"tx.paramcounter_args",
            b"paramcounter",
            b"abc",
            b"xab",
            b"",
            "_g\u{212a}".as_bytes(),
        ];
        for (pattern, want) in cases {
            let re = key_regex(pattern).unwrap();
            let got = re
                .literal
                .as_ref()
                .map(|l| (l.text.as_ref(), l.anchored, l.exact));
            let want = want.map(|(p, a, e): (&str, bool, bool)| (p.as_bytes(), a, e));
            assert_eq!(got, want, "{pattern}");
            for key in keys {
                assert_eq!(re.is_match(key), re.re.is_match(key), "/{pattern}/ {key:?}");
            }
        }
        let ga = key_regex("^_ga(?:_\\w+)?$").unwrap();
        assert!(ga.is_match(b"_ga") && ga.is_match(b"_Ga_X1") && !ga.is_match(b"session"));
        let utm = key_regex("__utm").unwrap();
        assert!(utm.is_match(b"a__UTMb") && !utm.is_match(b"_utm"));
    }

    #[test]
    fn literal_shortcuts_agree_with_the_regex_on_generated_patterns() {
        // Patterns from literal runs and the constructs that end or qualify them; keys over
        // the same letters in both cases, plus non-ASCII ones (which the regex decides).
        const TOKENS: [&str; 16] = [
            "ab", "a", "B", "_", "-", "?", "*", "+", "{0,2}", ".", ".*", "\\w", "(?:a|b)", "$",
            "|", "[a-]",
        ];
        const KEY_BYTES: [&str; 8] = ["a", "A", "b", "B", "_", "-", "x", "\u{17f}"];
        let mut next = crate::test_rng::below();
        let mut checked = 0;
        for _ in 0..3000 {
            let mut pattern = String::from(["", "^"][next(2)]);
            for _ in 0..1 + next(4) {
                pattern.push_str(TOKENS[next(TOKENS.len())]);
            }
            let Ok(re) = key_regex(&pattern) else {
                continue;
            };
            for _ in 0..20 {
                let key: String = (0..next(7))
                    .map(|_| KEY_BYTES[next(KEY_BYTES.len())])
                    .collect();
                assert_eq!(
                    re.is_match(key.as_bytes()),
                    re.re.is_match(key.as_bytes()),
                    "/{pattern}/ {key:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 30_000, "{checked}");
    }
}
