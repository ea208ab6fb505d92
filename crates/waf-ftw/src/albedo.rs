//! Emulation of the "albedo" backend that the CRS suite runs behind the WAF.
//!
//! `POST /reflect` (or `/reflect/...`) with a JSON body `{status, headers, body, encodedBody}`
//! is answered with that status, headers and body; a body that is not such JSON gets a 400;
//! every other request gets an empty 200. As Go's `net/http` does, a non-empty body without a
//! Content-Type gets a sniffed one, and Content-Length is always set.

use base64::Engine as _;
use serde::Deserialize;

use crate::request::HttpRequest;

/// The backend's answer, fed to the WAF's response phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReflectSpec {
    status: i64,
    headers: std::collections::BTreeMap<String, String>,
    body: String,
    #[serde(rename = "encodedBody")]
    encoded_body: String,
}

/// Answers `request` as albedo would.
pub fn respond(request: &HttpRequest) -> HttpResponse {
    let path = request.uri.split('?').next().unwrap_or("");
    let reflect = request.method == "POST" && (path == "/reflect" || path == "/reflect/");
    if !reflect {
        return finish(200, Vec::new(), Vec::new());
    }
    let Ok(spec) = serde_json::from_slice::<ReflectSpec>(&request.body) else {
        return finish(400, Vec::new(), b"Invalid JSON in request body".to_vec());
    };
    if (spec.status > 0 && spec.status < 100) || spec.status >= 600 {
        let body = format!("Invalid status code: {}", spec.status).into_bytes();
        return finish(400, Vec::new(), body);
    }
    let status = if spec.status <= 0 {
        200
    } else {
        u16::try_from(spec.status).unwrap_or(200)
    };
    let body = if !spec.body.is_empty() {
        spec.body.into_bytes()
    } else if !spec.encoded_body.is_empty() {
        match base64::engine::general_purpose::STANDARD.decode(spec.encoded_body.trim()) {
            Ok(body) => body,
            Err(_) => {
                return finish(
                    400,
                    Vec::new(),
                    b"invalid base64 encoding of response body".to_vec(),
                );
            }
        }
    } else {
        Vec::new()
    };
    let headers = spec
        .headers
        .into_iter()
        .map(|(n, v)| (n.into_bytes(), v.into_bytes()))
        .collect();
    finish(status, headers, body)
}

fn finish(status: u16, mut headers: Vec<(Vec<u8>, Vec<u8>)>, body: Vec<u8>) -> HttpResponse {
    let has = |headers: &[(Vec<u8>, Vec<u8>)], name: &[u8]| {
        headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !body.is_empty() && !has(&headers, b"Content-Type") {
        headers.push((b"Content-Type".to_vec(), sniff(&body).as_bytes().to_vec()));
    }
    if !has(&headers, b"Content-Length") {
        headers.push((
            b"Content-Length".to_vec(),
            body.len().to_string().into_bytes(),
        ));
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// A reduced `http.DetectContentType`: HTML and XML signatures, else text or binary.
fn sniff(body: &[u8]) -> &'static str {
    let start = body
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' '))
        .unwrap_or(body.len());
    let data = &body[start..];
    const HTML: &[&[u8]] = &[
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    for sig in HTML {
        if data.len() > sig.len()
            && data[..sig.len()].eq_ignore_ascii_case(sig)
            && matches!(data[sig.len()], b' ' | b'>')
        {
            return "text/html; charset=utf-8";
        }
    }
    if data.starts_with(b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    if data.starts_with(b"%PDF-") {
        return "application/pdf";
    }
    let binary = body
        .iter()
        .take(512)
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(uri: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            uri: uri.into(),
            body: body.as_bytes().to_vec(),
            ..HttpRequest::default()
        }
    }

    #[test]
    fn reflects_status_headers_and_body() {
        let r = respond(&post(
            "/reflect",
            r#"{"status": 503, "headers": {"X-A": "1"}, "body": "<html><body>x"}"#,
        ));
        assert_eq!(r.status, 503);
        assert_eq!(r.body, b"<html><body>x");
        assert!(r.headers.contains(&(b"X-A".to_vec(), b"1".to_vec())));
        assert!(r.headers.contains(&(
            b"Content-Type".to_vec(),
            b"text/html; charset=utf-8".to_vec()
        )));
    }

    #[test]
    fn other_paths_and_bad_specs() {
        assert_eq!(respond(&post("/post", "{}")).status, 200);
        assert!(respond(&post("/post", "{}")).body.is_empty());
        assert_eq!(respond(&post("/reflect", "not json")).status, 400);
        assert_eq!(respond(&post("/reflect", r#"{"status": 42}"#)).status, 400);
        let r = respond(&post("/reflect", r#"{"encodedBody": "aGk="}"#));
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hi"[..]));
    }
}
