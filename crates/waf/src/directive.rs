//! SecLang lexer: turns configuration text into directives (name + arguments) with the line
//! each one starts on. Handles comments, `\` line continuations and double-quoted arguments
//! (`\"` inside quotes is a quote; every other backslash pair is kept verbatim so that regex
//! escapes reach the operators untouched).

use crate::error::{CompileError, CompileResult, Origin};
use std::sync::Arc;

/// One directive: `SecRule ARGS "@rx a" "id:1"` → name `SecRule`, three arguments.
#[derive(Debug, Clone)]
pub struct Directive {
    /// Directive name as written.
    pub name: String,
    /// Arguments with quotes removed.
    pub args: Vec<String>,
    /// Where the directive starts.
    pub origin: Origin,
}

/// Splits `text` into directives; `file` names the origin in errors.
pub fn parse_directives(text: &str, file: &str) -> CompileResult<Vec<Directive>> {
    let file: Arc<str> = Arc::from(file);
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0usize;
    for (idx, raw) in text.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if logical.is_empty() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start_line = line_no;
        }
        let body = line.trim_end_matches([' ', '\t']);
        if let Some(cont) = body.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(line);
        let origin = Origin {
            file: file.clone(),
            line: start_line,
        };
        if let Some(d) = tokenize(&logical, origin)? {
            out.push(d);
        }
        logical.clear();
    }
    if !logical.is_empty() {
        let origin = Origin {
            file: file.clone(),
            line: start_line,
        };
        if let Some(d) = tokenize(&logical, origin)? {
            out.push(d);
        }
    }
    Ok(out)
}

fn tokenize(text: &str, origin: Origin) -> CompileResult<Option<Directive>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while let Some((_, c)) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else {
                break;
            }
        }
        let Some(&(_, first)) = chars.peek() else {
            break;
        };
        let mut tok = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, '"')) => tok.push('"'),
                        Some((_, other)) => {
                            tok.push('\\');
                            tok.push(other);
                        }
                        None => tok.push('\\'),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    other => tok.push(other),
                }
            }
            if !closed {
                return Err(unterminated(&origin, tokens.len()));
            }
            if let Some((_, c)) = chars.peek() {
                if !c.is_whitespace() {
                    return Err(origin.error(format!(
                        "unexpected character {c:?} after closing quote of argument {}",
                        tokens.len()
                    )));
                }
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                tok.push(c);
                chars.next();
            }
        }
        tokens.push(tok);
    }
    if tokens.is_empty() {
        return Ok(None);
    }
    let name = tokens.remove(0);
    Ok(Some(Directive {
        name,
        args: tokens,
        origin,
    }))
}

fn unterminated(origin: &Origin, index: usize) -> CompileError {
    origin.error(format!("unterminated double quote in argument {index}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_quotes() {
        let text =
            "# c\nSecRule ARGS \"@rx a\\\"b\\d\" \\\n    \"id:1,\\\n    pass\"\n\nSecMarker END\n";
        let d = parse_directives(text, "t.conf").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].args, vec!["ARGS", "@rx a\"b\\d", "id:1,    pass"]);
        assert_eq!(d[0].origin.line, 2);
        assert_eq!(d[1].origin.line, 6);
    }

    #[test]
    fn unterminated_quote_reports_line() {
        let err = parse_directives("\n\nSecRule ARGS \"@rx a", "x.conf").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.conf:3: unterminated double quote in argument 2"
        );
    }
}
