//! Stand-in for the HTTP front end of the reference setup (Apache + ModSecurity): parses raw
//! (`encoded_request`) requests leniently and decides which bytes reach the WAF as the body.
//!
//! Only framing is emulated here — what any HTTP/1.1 server must do to find the body. Requests
//! that the reference front end rejects outright (400) are listed in `overrides.yaml` instead.

use crate::request::HttpRequest;

/// What the HTTP front end (Apache in the reference setup) hands to the WAF as the body:
/// with `Transfer-Encoding: chunked` the de-chunked body, and the Content-Length header is
/// removed; with a numeric Content-Length that many bytes; with neither, no body at all
/// (HTTP/1.1 framing: the server does not read one).
pub fn frame_body(request: &mut HttpRequest) {
    let chunked = request
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().windows(7).any(|w| w == b"chunked"));
    if chunked {
        request.body = dechunk(&request.body);
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(b"Content-Length"));
        return;
    }
    match request.header("Content-Length") {
        None => request.body.clear(),
        Some(value) => {
            let length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(length) = length {
                request.body.truncate(length);
            }
        }
    }
}

/// Parses a raw request as a lenient HTTP/1 front end would: request line split at spaces
/// (no version means HTTP/0.9), `Name: value` header lines up to the blank line, then the
/// body framed by [`frame_body`].
pub fn parse_raw(raw: &[u8]) -> HttpRequest {
    let (head, body) = match find(raw, b"\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => match find(raw, b"\n\n") {
            Some(i) => (&raw[..i], &raw[i + 2..]),
            None => (raw, &b""[..]),
        },
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let parts: Vec<&str> = line.split(' ').filter(|p| !p.is_empty()).collect();
    let (method, uri, version) = match parts.as_slice() {
        [] => (String::new(), String::new(), String::new()),
        [m] => (m.to_string(), String::new(), String::new()),
        [m, u] => (m.to_string(), u.to_string(), "HTTP/0.9".to_string()),
        [m, middle @ .., v] => (m.to_string(), middle.join(" "), v.to_string()),
    };
    let mut request = HttpRequest {
        method,
        uri,
        version,
        ..HttpRequest::default()
    };
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        request
            .headers
            .push((line[..colon].to_vec(), value.to_vec()));
    }
    request.body = body.to_vec();
    frame_body(&mut request);
    request
}

/// Decodes a chunked body; stops at the last chunk or at the first malformed size line.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(body, b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        body = &body[eol + 2..];
        if size == 0 || size > body.len() {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
