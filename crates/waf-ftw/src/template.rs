//! The small part of Go's `text/template` (with sprig functions) that ftw test data uses.
//!
//! go-ftw runs every `data` string through `text/template`; CRS tests use it to build long
//! bodies, e.g. `{{ "1" | repeat 64200 }}`. Supported actions: a quoted string literal, piped
//! into or called with `repeat N`. Anything else inside `{{ }}` is reported as an error — go-ftw
//! then sends no body at all, and so do we.

/// Why a template could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported template action `{0}`")]
pub struct TemplateError(pub String);

/// Longest output we are willing to build (the suite needs ~64 KB).
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Evaluates `text`; text without `{{` is returned unchanged.
pub fn render(text: &str) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| TemplateError(after.to_string()))?;
        out.push_str(&action(after[..close].trim())?);
        if out.len() > MAX_OUTPUT {
            return Err(TemplateError("output too large".into()));
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `"s"`, `"s" | repeat N` or `repeat N "s"`.
fn action(expr: &str) -> Result<String, TemplateError> {
    let err = || TemplateError(expr.to_string());
    if let Some((lhs, rhs)) = expr.split_once('|') {
        let value = string_literal(lhs.trim()).ok_or_else(err)?;
        let count = rhs.trim().strip_prefix("repeat").ok_or_else(err)?;
        let count: usize = count.trim().parse().map_err(|_| err())?;
        return repeat(&value, count).ok_or_else(err);
    }
    if let Some(args) = expr.strip_prefix("repeat ") {
        let (count, literal) = args.trim().split_once(' ').ok_or_else(err)?;
        let count: usize = count.parse().map_err(|_| err())?;
        let value = string_literal(literal.trim()).ok_or_else(err)?;
        return repeat(&value, count).ok_or_else(err);
    }
    string_literal(expr).ok_or_else(err)
}

fn repeat(value: &str, count: usize) -> Option<String> {
    (value.len().checked_mul(count)? <= MAX_OUTPUT).then(|| value.repeat(count))
}

/// A Go interpreted ("...") or raw (`...`) string literal with the common escapes.
fn string_literal(text: &str) -> Option<String> {
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        return Some(raw.to_string());
    }
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_forms_the_suite_uses() {
        let cases: &[(&str, Result<&str, ()>)] = &[
            ("plain text", Ok("plain text")),
            ("a={{ \"1\" | repeat 3 }}&b", Ok("a=111&b")),
            ("{{ repeat 2 \"ab\" }}", Ok("abab")),
            ("{{\"x\"}}", Ok("x")),
            ("{{7*7}}", Err(())),
            ("{{ \"1\" | repeat 3", Err(())),
        ];
        for (input, want) in cases {
            assert_eq!(
                render(input).map_err(|_| ()),
                want.map(String::from),
                "{input}"
            );
        }
    }
}
