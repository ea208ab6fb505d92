//! `@pm` and `@pmFromFile`: phrase matching with one Aho-Corasick automaton, ASCII
//! case-insensitive like ModSecurity's ACMP. A phrase matches anywhere in the input; with
//! `capture`, TX:0 is the first phrase found (as written in the rule).
//!
//! `@pm` phrases are separated by whitespace; `|HH HH|` blocks are hex bytes (ModSecurity's
//! `parse_pm_content`). `@pmFromFile` takes one or more file names; each line of a file is a
//! phrase, except empty lines and lines whose first non-space character is `#`.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::Captures;

/// A phrase set; the automaton is built on first use (large `@pmFromFile` lists cost tens
/// of milliseconds, and many response-phase rules never run).
pub struct PhraseSet {
    automaton: OnceLock<Option<AhoCorasick>>,
    phrases: Vec<Vec<u8>>,
}

impl PhraseSet {
    pub fn new(phrases: Vec<Vec<u8>>) -> Result<PhraseSet, String> {
        if phrases.is_empty() {
            return Err("no phrases".to_string());
        }
        Ok(PhraseSet {
            automaton: OnceLock::new(),
            phrases,
        })
    }

    /// The automaton (built on first call); None only if aho-corasick refuses the set.
    pub fn automaton(&self) -> Option<&AhoCorasick> {
        self.automaton
            .get_or_init(|| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&self.phrases)
                    .ok()
            })
            .as_ref()
    }

    pub fn phrases(&self) -> &[Vec<u8>] {
        &self.phrases
    }

    pub fn evaluate(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        let Some(automaton) = self.automaton() else {
            return false;
        };
        let Some(out) = captures else {
            return automaton.is_match(input);
        };
        // Standard semantics report the match that ends first, as ModSecurity's ACMP does.
        match automaton.find(input) {
            None => false,
            Some(m) => {
                out.clear();
                out.push(&self.phrases[m.pattern().as_usize()]);
                true
            }
        }
    }
}

/// Splits an `@pm` argument into phrases, decoding `|HH HH|` hex blocks.
pub fn parse_pm_argument(argument: &str) -> Result<Vec<Vec<u8>>, String> {
    let content = decode_hex_blocks(argument.as_bytes())?;
    Ok(content
        .split(|&b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

fn decode_hex_blocks(arg: &[u8]) -> Result<Vec<u8>, String> {
    if !arg.contains(&b'|') {
        return Ok(arg.to_vec());
    }
    let mut out = Vec::with_capacity(arg.len());
    let mut in_hex = false;
    let mut pending: Option<u8> = None;
    for &b in arg {
        if b == b'|' {
            if in_hex && pending.is_some() {
                return Err("odd number of hex digits in |..| block".to_string());
            }
            in_hex = !in_hex;
            continue;
        }
        if !in_hex {
            out.push(b);
            continue;
        }
        if b == b' ' {
            continue;
        }
        let v = (b as char)
            .to_digit(16)
            .ok_or_else(|| format!("invalid hex digit {:?} in |..| block", b as char))?
            as u8;
        match pending.take() {
            None => pending = Some(v),
            Some(hi) => out.push((hi << 4) | v),
        }
    }
    if in_hex {
        return Err("unterminated |..| hex block".to_string());
    }
    Ok(out)
}

/// The phrases of one `@pmFromFile` data file.
pub fn parse_data_file(text: &str) -> Vec<Vec<u8>> {
    text.split('\n')
        .filter(|line| {
            let t = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
            !(line.is_empty() || t.starts_with('#'))
        })
        .map(|line| line.as_bytes().to_vec())
        .collect()
}
