//! What the runner needs from a WAF: one exchange per stage.
//!
//! The runner is written against this trait so that it can be tested with a fake; the real
//! implementation for `portcullis_waf::Engine` lives in `engine.rs`.

use crate::albedo::HttpResponse;
use crate::request::HttpRequest;

/// One rule that matched during an exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RuleHit {
    pub id: u64,
    pub msg: String,
    pub data: String,
    pub matched_var_name: String,
    pub matched_var: String,
    /// False for `nolog` rules: they do not appear in the log go-ftw reads.
    pub log: bool,
}

impl RuleHit {
    /// The ModSecurity-style error-log line go-ftw would read (used for `match_regex`).
    /// Like ModSecurity v3, msg and data are passed through `toHexIfNeeded` (bytes outside
    /// printable ASCII become `\xHH`, quotes are escaped), so the line has no line breaks.
    pub fn log_line(&self) -> String {
        format!(
            "ModSecurity: Warning. Matched against variable `{}' (Value: `{}' ) [id \"{}\"] [msg \"{}\"] [data \"{}\"]",
            hex_if_needed(&self.matched_var_name),
            hex_if_needed(&self.matched_var),
            self.id,
            hex_if_needed(&self.msg),
            hex_if_needed(&self.data)
        )
    }
}

/// ModSecurity's `utils::string::toHexIfNeeded(text, escape_quotes = true)`.
fn hex_if_needed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// What the client saw and what the WAF logged for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// Status of the response the client got; None when the connection was dropped.
    pub status: Option<u16>,
    /// The full response as text-ish bytes (for `response_contains`).
    pub response: Vec<u8>,
    pub hits: Vec<RuleHit>,
}

/// A WAF in front of a backend.
pub trait Waf {
    /// Runs `request` through the WAF; `backend` answers it if the WAF lets it through.
    fn exchange(
        &self,
        request: &HttpRequest,
        backend: &mut dyn FnMut(&HttpRequest) -> HttpResponse,
    ) -> Exchange;
}

/// Renders a response the way it appears on the wire.
pub fn render_response(status: u16, headers: &[(Vec<u8>, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
