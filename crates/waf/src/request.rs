//! Request and response data intake: the request line (URI split and decoded like
//! ModSecurity v3), headers (cookies, content type), body chunks with limits, and the body
//! processors run before phase 2.

use crate::body;
use crate::config::BodyLimitAction;
use crate::ctl::{BodyProcessor, RuleEngineMode};
use crate::setvar::{INT_BYTES, size_bytes};
use crate::transaction::{Outcome, Transaction};
use crate::variable::Var;

/// `%XX` decoding only (no `+`), invalid escapes kept: ModSecurity's `uri_decode`.
fn uri_decode(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !input.contains(&b'%') {
        return std::borrow::Cow::Borrowed(input);
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// What `process_body` reads of the engine's config.
struct BodySettings {
    request_body_limit_action: BodyLimitAction,
    request_body_access: bool,
    arguments_limit: usize,
    argument_separator: u8,
    json_depth_limit: usize,
}

impl Transaction {
    /// Sets the request line; `uri` raw as sent (`/a?b=c`), `protocol` like `HTTP/1.1`.
    pub fn request_line(&mut self, method: &str, uri: &str, protocol: &str) {
        // REQUEST_LINE is built in the `setvar` buffer (no rule runs yet).
        let mut line = std::mem::take(&mut self.scratch.setvar_buf);
        line.clear();
        for (i, part) in [method, uri, protocol].into_iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            line.extend_from_slice(part.as_bytes());
        }
        self.state.set_single(Var::REQUEST_LINE, &line);
        self.scratch.setvar_buf = line;
        let st = &mut self.state;
        let raw = uri.as_bytes();
        st.set_single(Var::REQUEST_METHOD, method.as_bytes());
        st.set_single(Var::REQUEST_PROTOCOL, protocol.as_bytes());
        st.set_single(Var::REQUEST_URI_RAW, raw);
        let decoded = uri_decode(raw);
        let mut parsed: &[u8] = &decoded;
        if !decoded.is_empty() && decoded[0] != b'/' {
            // Absolute URI: strip scheme://authority.
            if let Some(colon) = decoded.iter().position(|&c| c == b':') {
                if decoded[colon + 1..].starts_with(b"//") {
                    if let Some(slash) = find(&decoded, b"/", colon + 3) {
                        parsed = &decoded[slash..];
                    }
                }
            }
        }
        st.set_single(Var::REQUEST_URI, parsed);
        let path_end = decoded
            .iter()
            .position(|&c| c == b'?')
            .unwrap_or(decoded.len());
        let path = &decoded[..path_end];
        st.set_single(Var::REQUEST_FILENAME, path);
        st.set_single(Var::PATH_INFO, path);
        if let Some(slash) = path.iter().rposition(|&c| c == b'/' || c == b'\\') {
            if slash + 1 < path.len() {
                st.set_single(Var::REQUEST_BASENAME, &path[slash + 1..]);
            }
        } else if !path.is_empty() {
            st.set_single(Var::REQUEST_BASENAME, path);
        }
        if let Some(q) = raw.iter().position(|&c| c == b'?') {
            let query = &raw[q + 1..];
            st.set_single(Var::QUERY_STRING, query);
            let sep = self.engine.config.argument_separator;
            let limit = self.engine.config.arguments_limit;
            self.push_args(Var::ARGS_GET, query, sep, limit);
        } else {
            st.set_single(Var::QUERY_STRING, b"");
        }
    }

    /// Adds the first `limit` pairs of the url-encoded `input` to `var`.
    fn push_args(&mut self, var: Var, input: &[u8], separator: u8, mut limit: usize) {
        body::for_each_pair(input, separator, |k, v| {
            if limit == 0 {
                return false;
            }
            limit -= 1;
            self.state.push(var, k, v);
            true
        });
    }

    /// The request headers as the engine received them, in order (for logs).
    pub fn request_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let st = &self.state;
        st.colls
            .get(Var::REQUEST_HEADERS)
            .into_iter()
            .flatten()
            .map(|&(k, v)| (st.vals.get(k), st.vals.get(v)))
    }

    /// Adds a request header (repeat for repeated headers).
    pub fn request_header(&mut self, name: &[u8], value: &[u8]) {
        self.state.push(Var::REQUEST_HEADERS, name, value);
        if name.eq_ignore_ascii_case(b"cookie") {
            self.parse_cookies(value);
        } else if name.eq_ignore_ascii_case(b"content-type") {
            if starts_with_ignore_case(value, b"multipart/form-data") {
                self.state.set_single(Var::REQBODY_PROCESSOR, b"MULTIPART");
            } else if starts_with_ignore_case(value, b"application/x-www-form-urlencoded") {
                self.state.set_single(Var::REQBODY_PROCESSOR, b"URLENCODED");
            }
            self.request_content_type = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"host") {
            let host = value.split(|&c| c == b':').next().unwrap_or(value);
            self.state.set_single(Var::SERVER_NAME, host);
        } else if name.eq_ignore_ascii_case(b"authorization") {
            let t = value.split(|&c| c == b' ').next().unwrap_or(value);
            self.state.set_single(Var::AUTH_TYPE, t);
        }
    }

    fn parse_cookies(&mut self, value: &[u8]) {
        let mut parts = value.split(|&c| c == b';').peekable();
        while let Some(mut c) = parts.next() {
            if parts.peek().is_none() {
                // The last part loses its trailing whitespace.
                while c.last().is_some_and(u8::is_ascii_whitespace) {
                    c = &c[..c.len() - 1];
                }
            }
            if c.is_empty() {
                continue;
            }
            let (mut k, v) = match c.iter().position(|&b| b == b'=') {
                Some(p) => (&c[..p], &c[p + 1..]),
                None => (c, &b""[..]),
            };
            while k.first().is_some_and(u8::is_ascii_whitespace) {
                k = &k[1..];
            }
            if !k.is_empty() {
                self.state.push(Var::REQUEST_COOKIES, k, v);
            }
        }
    }

    /// Appends request body bytes (limits apply).
    pub fn request_body_chunk(&mut self, chunk: &[u8]) {
        let cfg = &self.engine.config;
        let limit = cfg.request_body_limit;
        if limit > 0 && self.request_body.len() + chunk.len() > limit {
            self.state.set_single(Var::INBOUND_DATA_ERROR, b"1");
            self.request_body_over_limit = true;
            if cfg.request_body_limit_action == BodyLimitAction::ProcessPartial {
                let room = limit.saturating_sub(self.request_body.len());
                self.request_body
                    .extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
            return;
        }
        self.request_body.extend_from_slice(chunk);
    }

    /// Runs the body processor and fills the body variables (before phase 2 rules).
    pub(crate) fn process_body(&mut self) {
        // The few settings needed, copied: the config as a whole holds vectors.
        let cfg = {
            let c = &self.engine.config;
            BodySettings {
                request_body_limit_action: c.request_body_limit_action,
                request_body_access: c.request_body_access,
                arguments_limit: c.arguments_limit,
                argument_separator: c.argument_separator,
                json_depth_limit: c.json_depth_limit,
            }
        };
        if self.request_body_over_limit
            && cfg.request_body_limit_action == BodyLimitAction::Reject
            && self.rule_engine() == RuleEngineMode::On
        {
            self.interrupted = Some(Outcome::Deny { status: 413 });
            return;
        }
        if !self
            .overrides
            .body_access
            .unwrap_or(cfg.request_body_access)
        {
            return;
        }
        let body = std::mem::take(&mut self.request_body);
        // Taken for the body's processing (the multipart parser reads it), then put back.
        let content_type = self.request_content_type.take();
        let ctype = content_type.as_deref().unwrap_or_default();
        let processor = self.overrides.body_processor.or(
            if starts_with_ignore_case(ctype, b"multipart/form-data") {
                Some(BodyProcessor::Multipart)
            } else if starts_with_ignore_case(ctype, b"application/x-www-form-urlencoded") {
                Some(BodyProcessor::UrlEncoded)
            } else {
                None
            },
        );
        let limit = cfg.arguments_limit;
        let mut error: Option<String> = None;
        match processor {
            Some(BodyProcessor::UrlEncoded) => {
                let n = self.state.colls.get(Var::ARGS_GET).map_or(0, Vec::len);
                let left = limit.saturating_sub(n);
                self.push_args(Var::ARGS_POST, &body, cfg.argument_separator, left);
            }
            Some(BodyProcessor::Multipart) => {
                let out = body::parse_multipart(ctype, &body);
                self.multipart_vars(out, &mut error);
            }
            Some(BodyProcessor::Json) if !body.is_empty() => {
                let mut json = std::mem::take(&mut self.scratch.json);
                match body::json_args_into(&body, cfg.json_depth_limit, &mut json) {
                    None => {
                        for (k, v) in json.args().iter().take(limit) {
                            self.state.push(Var::ARGS_POST, k, v);
                        }
                    }
                    Some(e) => error = Some(e.to_string()),
                }
                self.scratch.json = json;
            }
            Some(BodyProcessor::Json) => {}
            Some(BodyProcessor::Xml) => match self.parse_xml(&body) {
                Ok(doc) => {
                    for v in doc.text_values() {
                        self.state.push(Var::XML, b"", &v);
                    }
                    for v in doc.attribute_values() {
                        self.state.push(Var::XML, b"@", &v);
                    }
                    if self.engine.xml_tree {
                        self.state.xml = Some(Box::new(doc));
                    }
                }
                Err(e) => error = Some(e.to_string()),
            },
            None => {}
        }
        if let Some(msg) = error {
            self.state.set_single(Var::REQBODY_ERROR, b"1");
            self.state.set_single(Var::REQBODY_PROCESSOR_ERROR, b"1");
            self.state
                .set_single(Var::REQBODY_ERROR_MSG, msg.as_bytes());
            self.state
                .set_single(Var::REQBODY_PROCESSOR_ERROR_MSG, msg.as_bytes());
        }
        let mut combined = 0usize;
        for var in [Var::ARGS_GET, Var::ARGS_POST] {
            for &(k, v) in self.state.colls.get(var).map_or(&[][..], Vec::as_slice) {
                combined += self.state.vals.get(k).len() + self.state.vals.get(v).len();
            }
        }
        self.state.set_single(
            Var::ARGS_COMBINED_SIZE,
            size_bytes(combined, &mut [0; INT_BYTES]),
        );
        // REQUEST_BODY holds the raw body for urlencoded and JSON bodies, bodies no processor
        // parsed, or when `ctl:forceRequestBodyVariable=On` asked for it — not for XML and
        // multipart (as Coraza does, and what CRS's tests and rule 901340 are written for).
        // libmodsecurity3 always fills it, which CRS lists as a known source of false
        // positives on XML bodies.
        let raw_visible = matches!(
            processor,
            None | Some(BodyProcessor::UrlEncoded) | Some(BodyProcessor::Json)
        ) || self.overrides.force_body_variable;
        if !body.is_empty() && raw_visible {
            self.state.set_single(Var::REQUEST_BODY, &body);
        }
        self.state.set_single(
            Var::REQUEST_BODY_LENGTH,
            size_bytes(body.len(), &mut [0; INT_BYTES]),
        );
        self.request_body = body;
        self.request_content_type = content_type;
    }

    /// Parses an XML body, with the element tree only when a rule needs it (an XPath other
    /// than `/*` and `//@*`).
    fn parse_xml(&self, body: &[u8]) -> Result<body::XmlDocument, body::BodyError> {
        if self.engine.xml_tree {
            body::parse_xml(body)
        } else {
            body::parse_xml_values(body)
        }
    }

    fn multipart_vars(&mut self, out: body::MultipartOutput, error: &mut Option<String>) {
        let st = &mut self.state;
        for (k, v) in &out.args {
            st.push(Var::ARGS_POST, k, v);
        }
        let mut total = 0usize;
        for f in &out.files {
            st.push(Var::FILES, &f.name, &f.filename);
            st.push(
                Var::FILES_SIZES,
                &f.name,
                size_bytes(f.size, &mut [0; INT_BYTES]),
            );
            total += f.size;
        }
        st.set_single(
            Var::FILES_COMBINED_SIZE,
            size_bytes(total, &mut [0; INT_BYTES]),
        );
        for (k, v) in &out.part_headers {
            // One header line per value, without its line ending (as ModSecurity stores it).
            let mut line: &[u8] = v;
            while let [rest @ .., b'\r' | b'\n'] = line {
                line = rest;
            }
            st.push(Var::MULTIPART_PART_HEADERS, k, line);
        }
        let f = &out.flags;
        let flag = |b: bool| if b { &b"1"[..] } else { &b"0"[..] };
        for (var, on) in [
            (
                Var::MULTIPART_STRICT_ERROR,
                f.strict_error || out.error.is_some(),
            ),
            (Var::MULTIPART_UNMATCHED_BOUNDARY, f.unmatched_boundary),
            (Var::MULTIPART_BOUNDARY_QUOTED, f.boundary_quoted),
            (Var::MULTIPART_BOUNDARY_WHITESPACE, f.boundary_whitespace),
            (Var::MULTIPART_DATA_BEFORE, f.data_before),
            (Var::MULTIPART_DATA_AFTER, f.data_after),
            (Var::MULTIPART_HEADER_FOLDING, f.header_folding),
            (Var::MULTIPART_LF_LINE, f.lf_line),
            (Var::MULTIPART_CRLF_LF_LINES, f.crlf_lf_lines),
            (Var::MULTIPART_MISSING_SEMICOLON, f.missing_semicolon),
            (Var::MULTIPART_INVALID_QUOTING, f.invalid_quoting),
            (Var::MULTIPART_INVALID_PART, f.invalid_part),
            (
                Var::MULTIPART_INVALID_HEADER_FOLDING,
                f.invalid_header_folding,
            ),
            (Var::MULTIPART_FILE_LIMIT_EXCEEDED, f.file_limit_exceeded),
        ] {
            st.set_single(var, flag(on));
        }
        if let Some(e) = &out.error {
            *error = Some(format!("Multipart parsing error: {e}"));
        }
    }

    /// Sets the response status line.
    pub fn response_status(&mut self, status: u16, protocol: &str) {
        let mut digits = [0; crate::setvar::INT_BYTES];
        let status = crate::setvar::int_bytes(i64::from(status), &mut digits);
        self.state.set_single(Var::RESPONSE_STATUS, status);
        self.state
            .set_single(Var::RESPONSE_PROTOCOL, protocol.as_bytes());
    }

    /// Adds a response header.
    pub fn response_header(&mut self, name: &[u8], value: &[u8]) {
        self.state.push(Var::RESPONSE_HEADERS, name, value);
        if name.eq_ignore_ascii_case(b"content-type") {
            let main = value.split(|&c| c == b';').next().unwrap_or(value);
            let main = main.trim_ascii();
            // Lower-cased without a copy when it is already (as nearly every server sends it).
            let main: std::borrow::Cow<'_, [u8]> = match main.iter().any(u8::is_ascii_uppercase) {
                true => std::borrow::Cow::Owned(main.to_ascii_lowercase()),
                false => std::borrow::Cow::Borrowed(main),
            };
            self.state.set_single(Var::RESPONSE_CONTENT_TYPE, &main);
            let types = &self.engine.config.response_body_mime_types;
            self.response_inspectable = types.is_empty()
                || types
                    .iter()
                    .any(|t| t.as_bytes().eq_ignore_ascii_case(&main));
        }
    }

    /// Appends response body bytes (only kept when response body access is on).
    pub fn response_body_chunk(&mut self, chunk: &[u8]) {
        let cfg = &self.engine.config;
        if !cfg.response_body_access || !self.response_inspectable {
            return;
        }
        let limit = cfg.response_body_limit;
        if limit > 0 && self.response_body.len() + chunk.len() > limit {
            self.state.set_single(Var::OUTBOUND_DATA_ERROR, b"1");
            let room = limit.saturating_sub(self.response_body.len());
            self.response_body
                .extend_from_slice(&chunk[..room.min(chunk.len())]);
            return;
        }
        self.response_body.extend_from_slice(chunk);
    }
}

/// Whether `value` begins with `prefix` (ASCII, case-insensitive).
fn starts_with_ignore_case(value: &[u8], prefix: &[u8]) -> bool {
    value
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_only() {
        assert_eq!(uri_decode(b"/a%20b+c%zz%4"), b"/a b+c%zz%4".to_vec());
        assert_eq!(uri_decode(b"%41"), b"A".to_vec());
    }
}
