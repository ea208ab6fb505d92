//! SecLang operators (`@rx`, `@pm`, `@detectSQLi`, ...) with ModSecurity v3 semantics.
//!
//! An [`Operator`] is compiled once per rule (regexes, Aho-Corasick automata, IP sets, byte
//! tables) and evaluated per value. Arguments that contain macros (`%{tx.foo}`) are kept as
//! text and expanded through the [`MacroExpander`] at evaluation time. [`Operator::evaluate`]
//! returns the result after negation; [`Operator::prefilter_literals`] tells the engine which
//! literals any matching input must contain (see [`prefilter`]).
//!
//! Captures (`Some(&mut Captures)` when the rule has `capture`), filled only on a match:
//! `@rx` TX:0 = the match and TX:1..9 = groups (a group that did not take part is empty; the
//! vector stops at the last group that did); `@pm`/`@pmFromFile` TX:0 = the phrase as written;
//! `@detectSQLi` TX:0 = the libinjection fingerprint; `@detectXSS` TX:0 = the input; string
//! operators TX:0 = the operand (`@within`: the input). Other operators leave it untouched.
//!
//! Names are matched case-insensitively; unknown operators, bad regexes (including
//! PCRE-only syntax), bad IP lists or byte ranges and missing data files are compile errors.
//! Regexes and phrase automata are validated at compile time but built on first use (most are
//! never needed for benign traffic once the engine gates them); [`Operator::warm`] builds them
//! eagerly and reports the one remaining error, a regex over the size limit.
//!
//! One file per family: [`rx`] (regex semantics and limits), [`prefilter`] (literal
//! extraction), `pm` (phrase sets), `numeric`, `string`, `ip`, `validate`, `injection`
//! (libinjection through the `libinjectionrs` crate).

use std::borrow::Cow;
use std::fmt;

mod argument;
mod injection;
mod ip;
mod numeric;
mod pm;
pub mod prefilter;
pub mod rx;
mod rx_syntax;
mod string;
mod validate;

use argument::{Arg, canonical};
use ip::IpSet;
pub(crate) use numeric::Comparison;
use pm::PhraseSet;
use string::StringOp;
use validate::ByteRange;

/// Capture groups of a matching operator: index 0..=9 like `TX:0`..`TX:9`. Meant to be
/// reused: clearing keeps the groups' buffers, so a capturing rule that matches on every
/// request (CRS 920450 captures each header name) does not allocate.
#[derive(Default, Clone)]
pub struct Captures {
    groups: Vec<Vec<u8>>,
    /// The groups in use (`groups[len..]` are spare buffers).
    len: usize,
}

impl Captures {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the groups (keeping their buffers).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a group.
    pub fn push(&mut self, group: &[u8]) {
        match self.groups.get_mut(self.len) {
            Some(g) => {
                g.clear();
                g.extend_from_slice(group);
            }
            None => self.groups.push(group.to_vec()),
        }
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Group `TX:0`, the whole match.
    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    /// Roughly the bytes held on the heap (spare buffers included).
    pub fn heap_size(&self) -> usize {
        self.groups.capacity() * 24 + self.groups.iter().map(Vec::capacity).sum::<usize>()
    }

    /// The groups, from `TX:0`.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.groups[..self.len].iter().map(Vec::as_slice)
    }
}

impl PartialEq for Captures {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl PartialEq<Vec<Vec<u8>>> for Captures {
    fn eq(&self, other: &Vec<Vec<u8>>) -> bool {
        self.iter().eq(other.iter().map(Vec::as_slice))
    }
}

impl std::fmt::Debug for Captures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Expands macros such as `%{tx.foo}` in operator arguments at evaluation time.
pub trait MacroExpander {
    fn expand(&self, text: &str) -> String;

    /// Expands `text`, which the operator parsed once as `parsed` when it compiled (the
    /// default ignores `parsed`).
    fn expand_parsed(&self, text: &str, parsed: &ParsedMacro) -> String {
        let _ = parsed;
        self.expand(text)
    }

    /// [`MacroExpander::expand_parsed`] as bytes, borrowed when the expander holds them
    /// as they are (the default copies).
    fn expand_parsed_bytes(&self, text: &str, parsed: &ParsedMacro) -> Cow<'_, [u8]> {
        Cow::Owned(self.expand_parsed(text, parsed).into_bytes())
    }
}

/// A macro template of an operator argument, parsed when the operator compiles.
#[derive(Debug, Clone)]
pub struct ParsedMacro(pub(crate) crate::macros::Macro);

/// Loads data files for `@pmFromFile`/`@ipMatchFromFile`, relative to the rule file's directory.
pub trait DataFileLoader {
    fn load(&self, name: &str) -> Result<String, String>;
}

/// A [`MacroExpander`] that leaves text unchanged (for tests and macro-free rules).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMacros;

impl MacroExpander for NoMacros {
    fn expand(&self, text: &str) -> String {
        text.to_string()
    }
}

/// A [`DataFileLoader`] that has no files.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFiles;

impl DataFileLoader for NoFiles {
    fn load(&self, name: &str) -> Result<String, String> {
        Err(format!("no data file {name:?} available"))
    }
}

/// Why an operator could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown or unsupported operator @{0}")]
    Unknown(String),
    #[error("@{operator} {argument:?}: {reason}")]
    Invalid {
        operator: String,
        argument: String,
        reason: String,
    },
}

enum Kind {
    Rx(Box<rx::RxMatcher>),
    /// `@rx` whose pattern contains a macro: compiled per evaluation.
    RxMacro(String),
    Pm(PhraseSet),
    Numeric(Comparison, Arg),
    String(StringOp, Arg),
    Ip(IpSet),
    ByteRange(Box<ByteRange>),
    UrlEncoding,
    Utf8Encoding,
    Sqli,
    Xss,
    Unconditional,
    NoMatch,
}

/// A compiled operator, shared by all transactions.
pub struct Operator {
    name: String,
    argument: String,
    negated: bool,
    kind: Kind,
    /// Computed at compile time (see [`Operator::prefilter_literals`]).
    literals: Option<Vec<Vec<u8>>>,
}

impl fmt::Debug for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operator")
            .field("name", &self.name)
            .field("argument", &self.argument)
            .field("negated", &self.negated)
            .finish()
    }
}

fn invalid(name: &str, argument: &str, reason: impl Into<String>) -> OperatorError {
    OperatorError::Invalid {
        operator: name.to_string(),
        argument: argument.to_string(),
        reason: reason.into(),
    }
}

impl Operator {
    /// `name` without '@' (e.g. "rx"), `argument` as written (quotes removed), `negated` when
    /// the operator was written with a leading '!'.
    pub fn compile(
        name: &str,
        argument: &str,
        negated: bool,
        files: &dyn DataFileLoader,
    ) -> Result<Operator, OperatorError> {
        let canonical = canonical(name).ok_or_else(|| OperatorError::Unknown(name.to_string()))?;
        let err = |reason: String| invalid(canonical, argument, reason);
        let mut rx_literals = None;
        let kind = match canonical {
            "rx" if argument.contains("%{") => Kind::RxMacro(argument.to_string()),
            "rx" => {
                let (matcher, hir) =
                    rx::RxMatcher::from_translated(rx_syntax::translate(argument)).map_err(err)?;
                rx_literals = prefilter::literals_for_hir(&hir);
                Kind::Rx(Box::new(matcher))
            }
            "pm" => Kind::Pm(
                pm::parse_pm_argument(argument)
                    .and_then(PhraseSet::new)
                    .map_err(err)?,
            ),
            "pmf" | "pmFromFile" => {
                let mut phrases = Vec::new();
                for file in argument.split_whitespace() {
                    let text = files.load(file).map_err(|e| err(e.to_string()))?;
                    phrases.extend(pm::parse_data_file(&text));
                }
                Kind::Pm(PhraseSet::new(phrases).map_err(err)?)
            }
            "eq" => Kind::Numeric(Comparison::Eq, Arg::new(argument)),
            "ge" => Kind::Numeric(Comparison::Ge, Arg::new(argument)),
            "gt" => Kind::Numeric(Comparison::Gt, Arg::new(argument)),
            "le" => Kind::Numeric(Comparison::Le, Arg::new(argument)),
            "lt" => Kind::Numeric(Comparison::Lt, Arg::new(argument)),
            "streq" => Kind::String(StringOp::Streq, Arg::new(argument)),
            "contains" => Kind::String(StringOp::Contains, Arg::new(argument)),
            "containsWord" => Kind::String(StringOp::ContainsWord, Arg::new(argument)),
            "beginsWith" => Kind::String(StringOp::BeginsWith, Arg::new(argument)),
            "endsWith" => Kind::String(StringOp::EndsWith, Arg::new(argument)),
            "within" => Kind::String(StringOp::Within, Arg::new(argument)),
            "ipMatch" => Kind::Ip(IpSet::parse_list(argument).map_err(err)?),
            "ipMatchF" | "ipMatchFromFile" => {
                let text = files
                    .load(argument.trim())
                    .map_err(|e| err(e.to_string()))?;
                Kind::Ip(IpSet::parse_file(&text).map_err(err)?)
            }
            "validateByteRange" => {
                Kind::ByteRange(Box::new(ByteRange::parse(argument).map_err(err)?))
            }
            "validateUrlEncoding" => Kind::UrlEncoding,
            "validateUtf8Encoding" => Kind::Utf8Encoding,
            "detectSQLi" => Kind::Sqli,
            "detectXSS" => Kind::Xss,
            "unconditionalMatch" => Kind::Unconditional,
            "noMatch" => Kind::NoMatch,
            _ => return Err(OperatorError::Unknown(name.to_string())),
        };
        let mut operator = Operator {
            name: canonical.to_string(),
            argument: argument.to_string(),
            negated,
            kind,
            literals: None,
        };
        operator.literals = if negated {
            None
        } else if matches!(operator.kind, Kind::Rx(_)) {
            rx_literals
        } else {
            operator.compute_literals()
        };
        Ok(operator)
    }

    /// The result after negation. `captures` is Some when the rule has `capture`; it is filled
    /// (TX:0..TX:9) only when the operator matched.
    pub fn evaluate(
        &self,
        input: &[u8],
        macros: &dyn MacroExpander,
        captures: Option<&mut Captures>,
    ) -> bool {
        self.matches(input, macros, captures) != self.negated
    }

    /// The result before negation.
    fn matches(
        &self,
        input: &[u8],
        macros: &dyn MacroExpander,
        captures: Option<&mut Captures>,
    ) -> bool {
        let capture_operand = |captures: Option<&mut Captures>, value: &[u8]| {
            if let Some(out) = captures {
                out.clear();
                out.push(value);
            }
        };
        match &self.kind {
            Kind::Rx(re) => re.evaluate(input, captures),
            Kind::RxMacro(pattern) => match rx::RxMatcher::new(&macros.expand(pattern)) {
                Ok(re) => re.evaluate(input, captures),
                Err(_) => false,
            },
            Kind::Pm(set) => set.evaluate(input, captures),
            Kind::Numeric(cmp, arg) => arg.with(macros, |operand| cmp.evaluate(input, operand)),
            Kind::String(op, arg) => arg.with(macros, |operand| {
                let matched = op.evaluate(input, operand);
                if matched {
                    let value = if *op == StringOp::Within {
                        input
                    } else {
                        operand
                    };
                    capture_operand(captures, value);
                }
                matched
            }),
            Kind::Ip(set) => set.contains(input),
            Kind::ByteRange(range) => range.has_invalid(input),
            Kind::UrlEncoding => validate::invalid_url_encoding(input),
            Kind::Utf8Encoding => validate::invalid_utf8(input),
            Kind::Sqli => injection::detect_sqli(input, captures),
            Kind::Xss => injection::detect_xss(input, captures),
            Kind::Unconditional => true,
            Kind::NoMatch => false,
        }
    }

    /// Some(literals): any input for which `evaluate` (before negation) is true contains at
    /// least one literal, compared ASCII-case-insensitively. None: cannot gate.
    pub fn prefilter_literals(&self) -> Option<Vec<Vec<u8>>> {
        self.literals.clone()
    }

    /// A numeric comparison with a literal operand and no `!`: the comparison and its
    /// operand, read (see [`Comparison::holds`]).
    pub(crate) fn constant_comparison(&self) -> Option<(Comparison, i64)> {
        match &self.kind {
            Kind::Numeric(cmp, Arg::Literal(text)) if !self.negated => {
                Some((*cmp, cmp.operand(text)))
            }
            _ => None,
        }
    }

    /// Whether the verdict depends only on the input and costs more than a memo lookup: a
    /// regex, phrase set, libinjection or validation operator without a macro argument.
    pub fn is_memoisable(&self) -> bool {
        matches!(
            self.kind,
            Kind::Rx(_)
                | Kind::Pm(_)
                | Kind::ByteRange(_)
                | Kind::UrlEncoding
                | Kind::Utf8Encoding
                | Kind::Sqli
                | Kind::Xss
        )
    }

    /// Builds the automata that are otherwise built on first use (`@rx`, `@pm*`), so that a
    /// pattern over the size limit is reported now rather than never matching later.
    pub fn warm(&self) -> Result<(), OperatorError> {
        match &self.kind {
            Kind::Rx(m) => m
                .warm()
                .map(|_| ())
                .map_err(|e| invalid(&self.name, &self.argument, e)),
            Kind::Pm(set) => match set.automaton() {
                Some(_) => Ok(()),
                None => Err(invalid(&self.name, &self.argument, "phrase set too large")),
            },
            _ => Ok(()),
        }
    }

    fn compute_literals(&self) -> Option<Vec<Vec<u8>>> {
        let lower = |b: &[u8]| b.to_ascii_lowercase();
        match &self.kind {
            Kind::Pm(set) => {
                let phrases = set.phrases();
                // A large phrase list gains nothing from gating (the operator is itself one
                // Aho-Corasick scan) and would only grow the engine's automata.
                if phrases.iter().any(Vec::is_empty) || phrases.len() > prefilter::MAX_LITERALS {
                    return None;
                }
                let mut lits: Vec<Vec<u8>> = phrases.iter().map(|p| lower(p)).collect();
                lits.sort();
                lits.dedup();
                Some(lits)
            }
            Kind::String(op, Arg::Literal(operand)) => match op {
                StringOp::Within => None,
                _ if operand.is_empty() => None,
                _ => Some(vec![lower(operand)]),
            },
            _ => None,
        }
    }

    /// The operator's canonical name without '@' (e.g. "rx", "pmFromFile").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The argument as written in the rule.
    pub fn argument(&self) -> &str {
        &self.argument
    }

    /// Whether the operator was written with a leading '!'.
    pub fn is_negated(&self) -> bool {
        self.negated
    }
}
