//! Reader for the `.http` decision tables: HTTP requests written as they go over the wire.
//!
//! ```text
//! ### search with punctuation            <- a case starts with "### " and its name
//! GET /search?q=C%2B%2B+vs+C%23 HTTP/1.1 <- request line, URI exactly as sent
//! @chrome-nav                            <- a header profile: profiles/chrome-nav.headers
//! Host: shop.example.com                 <- headers, one per line
//!                                        <- blank line, then the body (optional)
//! ```
//!
//! Lines before the first case and lines starting with `#!` are comments. The body runs to the
//! next case; trailing blank lines are dropped; lines are joined with CRLF when the
//! Content-Type is multipart (as browsers send it) and with LF otherwise. `Content-Length` is
//! added when a body is present and the case does not set it. Shared by the decision runners
//! and the WAF benchmarks (included there with `#[path]`).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_waf::{ConnectionInfo, Engine, Outcome, Transaction};

/// One request of a decision table.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// `file:line` of the `###` line, for failure messages.
    pub origin: String,
    pub method: String,
    pub uri: String,
    pub protocol: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A table file that cannot be read, with the place and the reason.
#[derive(Debug)]
pub struct TableError(pub String);

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Header profiles by name (`@name` lines), loaded from `<name>.headers` files.
pub type Profiles = HashMap<String, Vec<(String, String)>>;

/// Loads every `*.headers` file of `dir` as a profile.
pub fn load_profiles(dir: &Path) -> Result<Profiles, TableError> {
    let mut profiles = Profiles::new();
    for path in sorted_files(dir, "headers")? {
        let text = read(&path)?;
        let mut headers = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let origin = format!("{}:{}", path.display(), index + 1);
            headers.push(split_header(line, &origin)?);
        }
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        profiles.insert(name, headers);
    }
    Ok(profiles)
}

/// Loads every `*.http` file of `dir`, in file-name order.
pub fn load_dir(dir: &Path, profiles: &Profiles) -> Result<Vec<Case>, TableError> {
    let mut cases = Vec::new();
    for path in sorted_files(dir, "http")? {
        let text = read(&path)?;
        cases.extend(parse(&text, &path.display().to_string(), profiles)?);
    }
    if cases.is_empty() {
        return Err(TableError(format!("no cases in {}", dir.display())));
    }
    Ok(cases)
}

/// Parses the text of one `.http` file; `file` names it in errors and origins.
pub fn parse(text: &str, file: &str, profiles: &Profiles) -> Result<Vec<Case>, TableError> {
    let mut cases = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let Some(name) = lines[index].strip_prefix("### ") else {
            index += 1;
            continue;
        };
        let origin = format!("{file}:{}", index + 1);
        let start = index + 1;
        let mut end = start;
        while end < lines.len() && !lines[end].starts_with("### ") {
            end += 1;
        }
        let block: Vec<&str> = lines[start..end]
            .iter()
            .copied()
            .filter(|line| !line.starts_with("#!"))
            .collect();
        cases.push(parse_case(name.trim(), &origin, &block, profiles)?);
        index = end;
    }
    Ok(cases)
}

fn parse_case(
    name: &str,
    origin: &str,
    block: &[&str],
    profiles: &Profiles,
) -> Result<Case, TableError> {
    let mut lines = block.iter().skip_while(|line| line.trim().is_empty());
    let request_line = lines
        .next()
        .ok_or_else(|| TableError(format!("{origin}: case without a request line")))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(uri), Some(protocol), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TableError(format!(
            "{origin}: bad request line {request_line:?}"
        )));
    };
    let mut headers = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        if let Some(profile) = line.strip_prefix('@') {
            let found = profiles
                .get(profile.trim())
                .ok_or_else(|| TableError(format!("{origin}: unknown profile @{profile}")))?;
            headers.extend(found.iter().cloned());
        } else {
            headers.push(split_header(line, origin)?);
        }
    }
    let mut body_lines: Vec<&str> = lines.copied().collect();
    while body_lines.last().is_some_and(|line| line.trim().is_empty()) {
        body_lines.pop();
    }
    let multipart = header(&headers, "content-type")
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("multipart/"));
    let separator = if multipart { "\r\n" } else { "\n" };
    let mut body = body_lines.join(separator);
    if multipart && !body.is_empty() {
        body.push_str("\r\n");
    }
    if !body.is_empty() && header(&headers, "content-length").is_none() {
        headers.push(("Content-Length".to_string(), body.len().to_string()));
    }
    Ok(Case {
        name: name.to_string(),
        origin: origin.to_string(),
        method: method.to_string(),
        uri: uri.to_string(),
        protocol: protocol.to_string(),
        headers,
        body: body.into_bytes(),
    })
}

/// The first value of header `name` (case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn split_header(line: &str, origin: &str) -> Result<(String, String), TableError> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| TableError(format!("{origin}: bad header line {line:?}")))?;
    Ok((name.trim().to_string(), value.trim().to_string()))
}

fn sorted_files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, TableError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| TableError(format!("{}: {error}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    Ok(files)
}

fn read(path: &Path) -> Result<String, TableError> {
    std::fs::read_to_string(path)
        .map_err(|error| TableError(format!("{}: {error}", path.display())))
}

impl Case {
    /// Replays the request through phases 1, 2 and 5 (the calls the proxy and the
    /// libmodsecurity harness make) and returns the request-phase outcome and the finished
    /// transaction (for its matched rules).
    pub fn replay(&self, engine: &Arc<Engine>, conn: ConnectionInfo) -> (Outcome, Transaction) {
        let mut tx = engine.transaction(conn);
        tx.request_line(&self.method, &self.uri, &self.protocol);
        for (name, value) in &self.headers {
            tx.request_header(name.as_bytes(), value.as_bytes());
        }
        let mut outcome = tx.process_request_headers();
        if outcome == Outcome::Pass {
            if !self.body.is_empty() {
                tx.request_body_chunk(&self.body);
            }
            outcome = tx.process_request_body();
        }
        tx.process_logging();
        (outcome, tx)
    }
}
