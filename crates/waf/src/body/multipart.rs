//! `multipart/form-data` bodies (RFC 7578) with ModSecurity v3's strictness flags.
//!
//! The parser mirrors ModSecurity's line machine: the body is cut into "lines" that end at
//! `\n` or when a 4 KiB buffer fills up; a line starting with `--boundary` closes the current
//! part; the lines after a boundary are part headers up to an empty line, then data. Like
//! ModSecurity, some header errors record an error message (REQBODY_ERROR) but let parsing go
//! on, the part without a name is dropped with `MULTIPART_INVALID_PART`, and a body without
//! its final boundary yields no arguments or files at all. Flags, errors, arguments and part
//! headers were compared with libmodsecurity 3.0.9 on the table cases and on mutated bodies.
//! One deliberate difference: line breaks inside a form field's value are kept (libmodsecurity
//! 3.0.9 drops them through a buffer bug; ModSecurity v2 keeps them).

use super::multipart_header::{find, is_c_space, parse_boundary, parse_content_disposition};
use super::{MultipartFile, MultipartOutput};

/// ModSecurity's `MULTIPART_BUF_SIZE`: the longest line handled in one piece.
const BUF_SIZE: usize = 4096;

/// Parses a multipart body given the request's full `Content-Type` header value.
pub fn parse_multipart(content_type: &[u8], body: &[u8]) -> MultipartOutput {
    let mut parser = Parser::default();
    match parse_boundary(content_type, &mut parser.out.flags) {
        Ok(boundary) => {
            parser.boundary = boundary;
            parser.process(body);
        }
        Err(message) => {
            parser.fatal = true;
            parser.error = Some(message);
        }
    }
    parser.complete(body.is_empty())
}

/// One part header.
#[derive(Clone)]
struct PartHeader {
    name: Vec<u8>,
    value: Vec<u8>,
    /// The line as received (with its line ending) until a folded line extends it.
    raw: Option<Vec<u8>>,
}

impl PartHeader {
    /// The `MULTIPART_PART_HEADERS` value: the line as received without its line ending, or
    /// `Name: value` for a folded header. (libmodsecurity 3.0.9 keeps the CRLF; later
    /// releases do not, and CRS 922110 relies on that: `content-type:\s*(.*)$` must not
    /// capture it.)
    fn line(&self) -> Vec<u8> {
        match &self.raw {
            Some(raw) => chomp(raw).to_vec(),
            None => [&self.name[..], b": ", &self.value[..]].concat(),
        }
    }
}

/// The part being built.
#[derive(Default)]
struct Part {
    in_data: bool,
    /// Headers in order; folded lines are appended to the last one.
    headers: Vec<PartHeader>,
    name: Vec<u8>,
    filename: Option<Vec<u8>>,
    value: Vec<u8>,
    size: usize,
    /// Line terminator held back: it belongs to the next boundary if one follows.
    reserve: Vec<u8>,
}

#[derive(Default)]
struct Parser {
    boundary: Vec<u8>,
    out: MultipartOutput,
    error: Option<String>,
    /// ModSecurity's `m_flag_error`: a fatal error stopped parsing.
    fatal: bool,
    part: Option<Part>,
    boundary_count: usize,
    complete: bool,
    crlf_line: bool,
    /// 0 = never, 1 = unmatched boundary-like line, 2 = matched after an earlier boundary.
    unmatched: u8,
    /// The last unprocessed line when the body ended without a newline.
    tail: Vec<u8>,
    /// How the previous line ended: Some(true) CRLF, Some(false) bare LF, None no newline.
    prev_ending: Option<bool>,
    /// The part closed by the final boundary had no name: libmodsecurity 3.0.9 then
    /// publishes no arguments at all.
    final_part_invalid: bool,
    /// `MULTIPART_PART_HEADERS` lines waiting for their part to end. As in libmodsecurity
    /// 3.0.9 this list outlives a nameless part (whose lines are then reported under the next
    /// named part) and keeps the first line per header name.
    header_lines: Vec<PartHeader>,
    /// Completed form fields and files, published by `complete`.
    args: super::Pairs,
    files: Vec<MultipartFile>,
}

impl Parser {
    fn process(&mut self, body: &[u8]) {
        let mut contains_line = true;
        let mut pos = 0;
        while pos < body.len() {
            // Cut one line: up to '\n' or BUF_SIZE bytes (never ending the buffer on '\r').
            let limit = (body.len() - pos).min(BUF_SIZE);
            let (len, ended_on_newline) =
                match body[pos..pos + limit].iter().position(|&b| b == b'\n') {
                    Some(nl) => (nl + 1, true),
                    None if limit == BUF_SIZE && body[pos + BUF_SIZE - 1] == b'\r' => {
                        (BUF_SIZE - 1, false)
                    }
                    None if limit == BUF_SIZE => (BUF_SIZE, false),
                    None => {
                        // End of body without a newline: ModSecurity leaves these bytes in its
                        // buffer and only `complete` looks at them (a final boundary without CRLF).
                        if contains_line {
                            self.tail = body[pos..].to_vec();
                        }
                        return;
                    }
                };
            let line = &body[pos..pos + len];
            let buffer_full = !ended_on_newline;
            if !self.process_line(line, contains_line, buffer_full) {
                self.fatal = true;
                return;
            }
            pos += len;
            contains_line = ended_on_newline;
            self.prev_ending = match line {
                [.., b'\r', b'\n'] => Some(true),
                [.., b'\n'] => Some(false),
                _ => None,
            };
            if self.complete && pos < body.len() {
                self.out.flags.data_after = true;
                return;
            }
        }
    }

    /// Processes one line; false = fatal error (message in `self.error`).
    fn process_line(&mut self, line: &[u8], contains_line: bool, buffer_full: bool) -> bool {
        let b = self.boundary.len();
        if contains_line && line.len() > 3 && line.starts_with(b"--") {
            // libmodsecurity 3.0.9 also judges the line ending in front of a boundary-like line.
            match self.prev_ending {
                Some(true) => self.crlf_line = true,
                Some(false) => self.out.flags.lf_line = true,
                None => {}
            }
            if line.len() >= b + 2 && line[2..].starts_with(&self.boundary) {
                if self.boundary_count > 0 {
                    self.unmatched = 2;
                }
                let mut end = &line[2 + b..];
                let is_final = end.starts_with(b"--");
                if is_final {
                    end = &end[2..];
                    if self.complete {
                        self.error = Some("Multipart: Invalid boundary (final duplicate).".into());
                        return false;
                    }
                }
                if end == b"\r\n" || end == b"\n" {
                    if end == b"\n" {
                        self.out.flags.lf_line = true;
                    } else {
                        self.crlf_line = true;
                    }
                    self.process_boundary(is_final);
                    if is_final {
                        self.complete = true;
                    }
                    self.boundary_count += 1;
                    return true;
                }
                self.error = Some(format!(
                    "Multipart: Invalid boundary: {}",
                    String::from_utf8_lossy(line)
                ));
                return false;
            }
            if self.out.flags.boundary_quoted
                && line.len() >= b + 3
                && line[2] == b'"'
                && line[3..].starts_with(&self.boundary)
            {
                self.error = Some("Multipart: Invalid boundary (quotes).".into());
                return false;
            }
            let ws = line[2..].iter().take_while(|&&c| is_c_space(c)).count();
            if ws > 0 && line[2 + ws..].starts_with(&self.boundary) {
                self.error = Some("Multipart: Invalid boundary (whitespace).".into());
                return false;
            }
            self.unmatched = 1;
        } else if contains_line {
            let mut needle = b"--".to_vec();
            needle.extend_from_slice(&self.boundary);
            // strncmp against a NUL-terminated buffer: the boundary may run past the line end.
            if find(line, &needle).is_some() {
                self.unmatched = 1;
            }
        }
        // Not a boundary: data or header.
        let Some(part) = self.part.as_mut() else {
            self.out.flags.data_before = true;
            return true;
        };
        if !part.in_data {
            if buffer_full {
                self.error = Some(format!(
                    "Multipart: Part header line over {BUF_SIZE} bytes long"
                ));
                return false;
            }
            if !self.process_part_header(line) {
                return false;
            }
        } else {
            let part = self.part.as_mut().expect("checked above");
            let (content, reserve) = split_terminator(line);
            let held = std::mem::take(&mut part.reserve);
            part.size += held.len() + content.len();
            if part.filename.is_none() {
                part.value.extend_from_slice(&held);
                part.value.extend_from_slice(content);
            }
            part.reserve = reserve.to_vec();
        }
        true
    }

    /// A header line or the empty line that ends the headers. Most errors here are recorded
    /// and parsing goes on; as libmodsecurity 3.0.9 does (checked against it), a bad or
    /// nameless Content-Disposition and an over-long folded header stop parsing (false) and
    /// flag the part as invalid.
    fn process_part_header(&mut self, line: &[u8]) -> bool {
        if line.contains(&0) {
            self.error = Some("Multipart: Nul byte in part headers.".into());
            return true;
        }
        if line.len() > 1 && line[line.len() - 2] == b'\r' {
            self.crlf_line = true;
        } else {
            self.out.flags.lf_line = true;
        }
        let Some(part) = self.part.as_mut() else {
            return true;
        };
        if line == b"\r\n" || line == b"\n" {
            let Some(PartHeader { value: cd, .. }) = part
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(b"Content-Disposition"))
            else {
                self.error = Some("Multipart: Part missing Content-Disposition header.".into());
                return true;
            };
            let cd = cd.clone();
            let disposition = match parse_content_disposition(&cd, &mut self.out.flags) {
                Ok(d) => d,
                Err(code) => {
                    self.error = Some(format!(
                        "Multipart: Invalid Content-Disposition header ({code}): {}",
                        String::from_utf8_lossy(&cd)
                    ));
                    return self.invalid_part();
                }
            };
            if disposition.name.is_empty() {
                self.error =
                    Some("Multipart: Content-Disposition header missing name field.".into());
                return self.invalid_part();
            }
            if !disposition.filename.is_empty() {
                if find(&cd, b"filename=").is_none() {
                    self.error =
                        Some("Multipart: Invalid Content-Disposition header (filename).".into());
                    return self.invalid_part();
                }
                part.filename = Some(disposition.filename);
            }
            part.name = disposition.name;
            part.in_data = true;
            return true;
        }
        if is_c_space(line[0]) {
            self.out.flags.header_folding = true;
            let ws = line.iter().take_while(|&&c| is_c_space(c)).count();
            if line[..ws].iter().any(|&c| c != b'\t' && c != b' ') {
                self.out.flags.invalid_header_folding = true;
            }
            let Some(last) = part.headers.last_mut() else {
                self.error = Some("Multipart: Invalid part header (folding error).".into());
                return true;
            };
            last.value.push(b' ');
            last.value.extend_from_slice(chomp(&line[ws..]));
            if let Some(pending) = self.header_lines.iter_mut().find(|h| h.name == last.name) {
                pending.raw = None;
                pending.value = last.value.clone();
            }
            if last.value.len() > BUF_SIZE {
                self.error = Some("Multipart: Part header too long.".into());
                return self.invalid_part();
            }
            return true;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            self.error = Some(format!(
                "Multipart: Invalid part header (colon missing): {}",
                String::from_utf8_lossy(line)
            ));
            return true;
        };
        if colon == 0 {
            self.error = Some("Multipart: Invalid part header (header name missing).".into());
            return true;
        }
        let name = &line[..colon];
        let mut value = &line[colon + 1..];
        while let [b' ' | b'\t', rest @ ..] = value {
            value = rest;
        }
        if part
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
        {
            // ModSecurity returns without recording an error message here.
            return true;
        }
        let header = PartHeader {
            name: name.to_vec(),
            value: chomp(value).to_vec(),
            raw: Some(line.to_vec()),
        };
        if !self
            .header_lines
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
        {
            self.header_lines.push(header.clone());
        }
        part.headers.push(header);
        true
    }

    /// A fatal error in a part's headers: the part is flagged invalid and parsing stops.
    fn invalid_part(&mut self) -> bool {
        self.out.flags.invalid_part = true;
        false
    }

    /// Finishes the part being built and, unless final, starts a new one. A named part's
    /// header lines become `MULTIPART_PART_HEADERS` now; its value waits for `complete`.
    fn process_boundary(&mut self, is_final: bool) {
        if let Some(part) = self.part.take() {
            if part.name.is_empty() {
                self.out.flags.invalid_part = true;
                self.final_part_invalid = is_final;
            } else {
                for header in self.header_lines.drain(..) {
                    self.out
                        .part_headers
                        .push((part.name.clone(), header.line()));
                }
                match part.filename {
                    Some(filename) => {
                        let content_type = part
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(b"Content-Type"))
                            .map(|h| h.value.clone())
                            .unwrap_or_default();
                        self.files.push(MultipartFile {
                            name: part.name,
                            filename,
                            size: part.size,
                            content_type,
                        });
                    }
                    None => self.args.push((part.name, part.value)),
                }
            }
        }
        if !is_final {
            self.part = Some(Part::default());
        }
    }

    /// ModSecurity's `multipart_complete`: flags first, then the final-boundary check; the
    /// arguments and files are only published when the body was complete.
    fn complete(mut self, empty_body: bool) -> MultipartOutput {
        let f = &mut self.out.flags;
        f.crlf_lf_lines = self.crlf_line && f.lf_line;
        f.unmatched_boundary = self.unmatched == 1;
        f.strict_error = self.fatal
            || f.boundary_quoted
            || f.boundary_whitespace
            || f.data_before
            || f.data_after
            || f.header_folding
            || f.lf_line
            || f.missing_semicolon
            || f.invalid_quoting
            || f.invalid_part
            || f.invalid_header_folding
            || f.file_limit_exceeded;
        let flags = f.clone();
        let seen_data = !empty_body && !self.boundary.is_empty();
        if seen_data && !self.complete {
            if self.boundary_count > 0 {
                let mut last = b"--".to_vec();
                last.extend_from_slice(&self.boundary);
                last.extend_from_slice(b"--");
                if self.tail == last {
                    self.process_boundary(true);
                    self.complete = true;
                } else {
                    self.error = Some("Multipart: Final boundary missing.".into());
                }
            } else {
                self.error = Some("Multipart: No boundaries found in payload.".into());
            }
        }
        if self.final_part_invalid && self.error.is_none() {
            self.error = Some("Multipart: Final boundary missing.".into());
        }
        if (!seen_data || self.complete) && !self.final_part_invalid {
            self.out.args = self.args;
            self.out.files = self.files;
        }
        self.out.flags = flags;
        self.out.error = self.error;
        self.out
    }
}

/// Splits a data line into its content and its line terminator (`\r\n`, `\n` or nothing).
fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    if line.ends_with(b"\r\n") {
        line.split_at(line.len() - 2)
    } else if line.ends_with(b"\n") {
        line.split_at(line.len() - 1)
    } else {
        (line, &[])
    }
}

/// Removes trailing CR/LF characters.
fn chomp(mut value: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = value {
        value = rest;
    }
    value
}
