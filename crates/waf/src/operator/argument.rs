//! Operator names and arguments: the canonical spelling of an operator name (matched
//! case-insensitively, like ModSecurity) and arguments that may hold macros.

use super::{MacroExpander, ParsedMacro};

/// An operator argument: literal text, or text with macros expanded per evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Literal(Vec<u8>),
    /// The text and its parse (None when it does not parse: expanded from the text).
    Macro(String, Option<ParsedMacro>),
}

impl Arg {
    pub(crate) fn new(text: &str) -> Arg {
        if text.contains("%{") {
            let parsed = crate::macros::Macro::parse(text).ok().map(ParsedMacro);
            Arg::Macro(text.to_string(), parsed)
        } else {
            Arg::Literal(text.as_bytes().to_vec())
        }
    }

    pub(crate) fn with<R>(&self, macros: &dyn MacroExpander, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Arg::Literal(b) => f(b),
            Arg::Macro(t, Some(p)) => f(&macros.expand_parsed_bytes(t, p)),
            Arg::Macro(t, None) => f(macros.expand(t).as_bytes()),
        }
    }
}

/// Canonical spelling of an operator name (ModSecurity matches them case-insensitively).
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "rx",
        "pm",
        "pmf",
        "pmFromFile",
        "eq",
        "ge",
        "gt",
        "le",
        "lt",
        "streq",
        "contains",
        "containsWord",
        "beginsWith",
        "endsWith",
        "within",
        "ipMatch",
        "ipMatchF",
        "ipMatchFromFile",
        "validateByteRange",
        "validateUrlEncoding",
        "validateUtf8Encoding",
        "detectSQLi",
        "detectXSS",
        "unconditionalMatch",
        "noMatch",
    ];
    NAMES.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}
