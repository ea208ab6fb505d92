//! Builds the request go-ftw would send for a stage, and parses raw (`encoded_request`)
//! requests the way the HTTP front end would hand them to the WAF.
//!
//! go-ftw rules copied here (ftwhttp/request.go): headers given as a map are sent sorted by
//! name; with `autocomplete_headers` (default on) and a non-empty body it adds
//! `Content-Type: application/x-www-form-urlencoded` when no Content-Type is present, and for
//! that exact content type url-encodes each `name=value` piece unless the body already contains
//! `%` or `+` (its "does unescaping change anything" test); any Content-Type containing
//! `multipart/form-data;` turns every `\n` into `\r\n`; then `Connection: close` and
//! `Content-Length` are added unless present (Content-Length also for an empty body when the
//! method matches Go's unanchored `^POST|PUT|PATCH|DELETE$`).
//!
//! The built request then goes through [`crate::frontend::frame_body`], which stands in for the HTTP front end
//! of the reference setup: it decides which bytes the WAF gets as the body.

use base64::Engine as _;
use serde_yaml::Value;

use crate::frontend::{frame_body, parse_raw};
use crate::schema::{Input, scalar_text};
use crate::template;

/// Header name/value pairs in order.
pub type HeaderList = Vec<(Vec<u8>, Vec<u8>)>;

/// One HTTP request as the WAF sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: HeaderList,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// First value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// Why a stage's input cannot be turned into a request.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("encoded_request is not valid base64: {0}")]
    Base64(String),
    #[error("headers must be a map or a list of name/value entries")]
    Headers,
    #[error("choose between data, encoded_request and raw_request")]
    Ambiguous,
}

/// Builds the stage's request exactly as go-ftw would put it on the wire.
pub fn build(input: &Input) -> Result<HttpRequest, InputError> {
    let has_data = input.data.is_some() || input.encoded_data.is_some();
    let raw = match (&input.encoded_request, &input.raw_request) {
        (Some(_), Some(_)) => return Err(InputError::Ambiguous),
        (Some(encoded), None) => {
            let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| InputError::Base64(e.to_string()))?,
            )
        }
        (None, Some(raw)) => Some(raw.as_bytes().to_vec()),
        (None, None) => None,
    };
    if let Some(raw) = raw {
        if has_data {
            return Err(InputError::Ambiguous);
        }
        return Ok(parse_raw(&raw));
    }
    let text = |v: &Option<Value>, default: &str| {
        v.as_ref()
            .and_then(scalar_text)
            .unwrap_or_else(|| default.to_string())
    };
    let mut request = HttpRequest {
        method: text(&input.method, "GET"),
        uri: text(&input.uri, "/"),
        version: text(&input.version, "HTTP/1.1"),
        headers: headers(input)?,
        body: data(input),
    };
    let autocomplete = input.autocomplete_headers.unwrap_or(true);
    if !request.body.is_empty() && autocomplete {
        if !request.has_header("Content-Type") {
            request
                .headers
                .push((b"Content-Type".to_vec(), FORM.as_bytes().to_vec()));
        }
        let is_form = request.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case(b"Content-Type") && v.eq_ignore_ascii_case(FORM.as_bytes())
        });
        if is_form {
            request.body = encode_form(&request.body);
        }
    }
    let multipart = request.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case(b"Content-Type")
            && v.to_ascii_lowercase()
                .windows(20)
                .any(|w| w == b"multipart/form-data;")
    });
    if multipart {
        request.body = lf_to_crlf(&request.body);
    }
    if autocomplete {
        if !request.has_header("Connection") {
            request
                .headers
                .push((b"Connection".to_vec(), b"close".to_vec()));
        }
        if !request.has_header("Content-Length")
            && (!request.body.is_empty() || method_wants_length(&request.method))
        {
            let length = request.body.len().to_string().into_bytes();
            request.headers.push((b"Content-Length".to_vec(), length));
        }
    }
    frame_body(&mut request);
    Ok(request)
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Go's `regexp.MustCompile("^POST|PUT|PATCH|DELETE$")`: the alternatives are not grouped.
fn method_wants_length(method: &str) -> bool {
    method.starts_with("POST")
        || method.contains("PUT")
        || method.contains("PATCH")
        || method.ends_with("DELETE")
}

/// Map headers are sent sorted by name (go-ftw's `NewHeaderFromMap`); lists keep their order.
fn headers(input: &Input) -> Result<HeaderList, InputError> {
    let mut out = Vec::new();
    for source in [&input.headers, &input.ordered_headers]
        .into_iter()
        .flatten()
    {
        match source {
            Value::Mapping(map) => {
                let mut entries = Vec::new();
                for (k, v) in map {
                    let name = scalar_text(k).ok_or(InputError::Headers)?;
                    let value = scalar_text(v).ok_or(InputError::Headers)?;
                    entries.push((name.into_bytes(), value.into_bytes()));
                }
                entries.sort();
                out.extend(entries);
            }
            Value::Sequence(list) => {
                for entry in list {
                    let name = entry
                        .get("name")
                        .and_then(scalar_text)
                        .ok_or(InputError::Headers)?;
                    let value = entry.get("value").and_then(scalar_text).unwrap_or_default();
                    out.push((name.into_bytes(), value.into_bytes()));
                }
            }
            Value::Null => {}
            _ => return Err(InputError::Headers),
        }
    }
    Ok(out)
}

/// The body: `data` through the template engine (nothing on template errors, like go-ftw),
/// or `encoded_data` decoded.
fn data(input: &Input) -> Vec<u8> {
    if let Some(value) = &input.data {
        let text = match value {
            Value::Sequence(lines) => lines
                .iter()
                .filter_map(scalar_text)
                .collect::<Vec<_>>()
                .join("\r\n"),
            other => scalar_text(other).unwrap_or_default(),
        };
        return template::render(&text)
            .map(String::into_bytes)
            .unwrap_or_default();
    }
    if let Some(encoded) = &input.encoded_data {
        return base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .unwrap_or_default();
    }
    Vec::new()
}

/// go-ftw's `encodeDataParameters` for a body that "is not yet encoded".
fn encode_form(body: &[u8]) -> Vec<u8> {
    // url.QueryUnescape changes (or rejects) any input containing '%' or '+'.
    if body.iter().any(|&b| b == b'%' || b == b'+') {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len() * 2);
    let mut rest = body;
    while !rest.is_empty() {
        let (token, next) = match rest.iter().position(|&b| b == b'&') {
            Some(amp) => (&rest[..amp], &rest[amp + 1..]),
            None => (rest, &b""[..]),
        };
        match token.iter().position(|&b| b == b'=') {
            Some(eq) => {
                query_escape(&token[..eq], &mut out);
                out.push(b'=');
                query_escape(&token[eq + 1..], &mut out);
            }
            None => query_escape(token, &mut out),
        }
        out.push(b'&');
        rest = next;
    }
    out.pop();
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(input: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

fn lf_to_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    for &b in body {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}
