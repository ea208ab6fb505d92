//! Macro expansion: `%{tx.score}`, `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.Host}`,
//! `%{rule.id}`. Templates are parsed once when rules compile; at run time each variable
//! reference resolves to the first value of that variable (empty when absent).

use crate::variable::Var;

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Ref(Var, Option<String>),
    /// `%{tx.name}`: the name's TX slot (see `txvars.rs`).
    Tx(u32),
}

/// A string with `%{...}` references, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Macro {
    parts: Vec<Part>,
}

/// Resolves a variable reference to its first value.
pub trait Resolve {
    /// First value of `var` (with `key` for collections), or `None` when absent.
    fn first_value(&self, var: Var, key: Option<&str>) -> Option<Vec<u8>>;

    /// Appends the value of TX slot `slot` to `out` (nothing when absent).
    fn append_tx(&self, slot: u32, out: &mut Vec<u8>) {
        let name = crate::txvars::name(slot);
        self.append_first_value(Var::TX, Some(&name), out);
    }

    /// Appends the first value of `var` to `out` (nothing when absent); implementations
    /// may avoid the allocation of [`Resolve::first_value`].
    fn append_first_value(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
        if let Some(v) = self.first_value(var, key) {
            out.extend_from_slice(&v);
        }
    }
}

impl Macro {
    /// Parses `text`; unknown variable names are an error.
    pub fn parse(text: &str) -> Result<Macro, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(pos) = rest.find("%{") {
            let Some(end) = rest[pos + 2..].find('}') else {
                break;
            };
            if pos > 0 {
                parts.push(Part::Text(rest[..pos].to_string()));
            }
            let inner = &rest[pos + 2..pos + 2 + end];
            let (name, key) = match inner.find(['.', ':']) {
                Some(d) => (&inner[..d], Some(inner[d + 1..].to_string())),
                None => (inner, None),
            };
            let var = Var::from_name(name.trim())
                .ok_or_else(|| format!("unknown variable {name:?} in macro %{{{inner}}}"))?;
            match (var, key) {
                (Var::TX, Some(k)) => {
                    parts.push(Part::Tx(crate::txvars::register(&k.to_ascii_lowercase())))
                }
                (var, key) => parts.push(Part::Ref(var, key)),
            }
            rest = &rest[pos + 2 + end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Macro { parts })
    }

    /// The TX slot when the text is exactly one `%{tx.name}` reference.
    pub(crate) fn sole_tx(&self) -> Option<u32> {
        match self.parts.as_slice() {
            [Part::Tx(slot)] => Some(*slot),
            _ => None,
        }
    }

    /// Whether every reference is to a TX member by its slot (`%{tx.x}`).
    pub(crate) fn refs_only_tx(&self) -> bool {
        self.parts.iter().all(|p| !matches!(p, Part::Ref(..)))
    }

    /// True when the text has at least one reference.
    pub fn has_refs(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Ref(..) | Part::Tx(_)))
    }

    /// The text when it has no references.
    pub fn literal(&self) -> Option<String> {
        if self.has_refs() {
            return None;
        }
        Some(
            self.parts
                .iter()
                .map(|p| {
                    if let Part::Text(t) = p {
                        t.as_str()
                    } else {
                        ""
                    }
                })
                .collect(),
        )
    }

    /// Expands every reference through `r`.
    pub fn expand_bytes(&self, r: &dyn Resolve) -> Vec<u8> {
        // Room for the text and a short value per reference: most expansions (a `msg`, a
        // `logdata` with a matched value) then grow once at most, not at every part.
        let room = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                _ => 32,
            })
            .sum();
        let mut out = Vec::with_capacity(room);
        self.expand_into(r, &mut out);
        out
    }

    /// Expands every reference through `r`, appending to `out`.
    pub fn expand_into(&self, r: &dyn Resolve, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Ref(var, key) => r.append_first_value(*var, key.as_deref(), out),
                Part::Tx(slot) => r.append_tx(*slot, out),
            }
        }
    }

    /// Expands to a (lossy UTF-8) string.
    pub fn expand(&self, r: &dyn Resolve) -> String {
        match self.literal() {
            Some(s) => s,
            // The lossy conversion, without its copy when the expansion is valid UTF-8.
            None => String::from_utf8(self.expand_bytes(r))
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }
}

/// Expands text at run time (used for operator arguments that carry macros); text that does
/// not parse is returned unchanged.
pub fn expand_text(text: &str, r: &dyn Resolve) -> String {
    if !text.contains("%{") {
        return text.to_string();
    }
    match Macro::parse(text) {
        Ok(m) => m.expand(r),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R;
    impl Resolve for R {
        fn first_value(&self, var: Var, key: Option<&str>) -> Option<Vec<u8>> {
            match (var, key) {
                (Var::TX, Some("score")) => Some(b"5".to_vec()),
                (Var::MATCHED_VAR, None) => Some(b"x".to_vec()),
                _ => None,
            }
        }
    }

    #[test]
    fn expands() {
        let m = Macro::parse("s=%{tx.score} m=%{MATCHED_VAR} n=%{tx.none}!").unwrap();
        assert_eq!(m.expand(&R), "s=5 m=x n=!");
        assert!(Macro::parse("%{bogus}").is_err());
        assert_eq!(
            Macro::parse("plain").unwrap().literal().as_deref(),
            Some("plain")
        );
    }
}
