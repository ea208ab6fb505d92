//! Raw serde mirror of the go-ftw v2 YAML test format (coreruleset/ftw-tests-schema).
//!
//! Stage one of two: these structs accept every field the CRS suite uses, with loose types
//! where YAML authors are loose (header values and `data` may be numbers, `status` may be a
//! list). `request.rs` turns an [`Input`] into the request go-ftw would send.

use serde::Deserialize;
use serde_yaml::Value;

/// One YAML file: tests for one rule.
#[derive(Debug, Clone, Deserialize)]
pub struct TestFile {
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub rule_id: Option<u64>,
    #[serde(default)]
    pub tests: Vec<Test>,
}

/// File metadata; `enabled: false` skips the whole file, as in go-ftw.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
}

/// One test: a sequence of stages.
#[derive(Debug, Clone, Deserialize)]
pub struct Test {
    /// v2 numeric id; old files used `test_title`.
    #[serde(default)]
    pub test_id: Option<u64>,
    #[serde(default)]
    pub test_title: Option<String>,
    #[serde(default)]
    pub desc: Option<String>,
    #[serde(default)]
    pub stages: Vec<StageWrapper>,
}

/// A stage is written either directly (`- input: ...`) or wrapped (`- stage: {input: ...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StageWrapper {
    Wrapped { stage: Stage },
    Direct(Stage),
}

impl StageWrapper {
    /// The stage, however it was written.
    pub fn stage(&self) -> &Stage {
        match self {
            StageWrapper::Wrapped { stage } | StageWrapper::Direct(stage) => stage,
        }
    }
}

/// What to send and what to expect.
#[derive(Debug, Clone, Deserialize)]
pub struct Stage {
    #[serde(default)]
    pub input: Input,
    #[serde(default)]
    pub output: Output,
}

/// The request of a stage.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Input {
    pub dest_addr: Option<Value>,
    pub port: Option<Value>,
    pub protocol: Option<String>,
    pub method: Option<Value>,
    pub uri: Option<Value>,
    pub version: Option<Value>,
    /// A map (name → value) or a list of `{name, value}` entries.
    pub headers: Option<Value>,
    /// v2 ordered header list.
    pub ordered_headers: Option<Value>,
    /// Body text, possibly a Go template; a list is joined with CRLF (legacy format).
    pub data: Option<Value>,
    /// Base64 body.
    pub encoded_data: Option<String>,
    /// Base64 of the complete raw request.
    pub encoded_request: Option<String>,
    /// The complete raw request (deprecated in v2).
    pub raw_request: Option<String>,
    /// Default true: add Content-Type, Content-Length, Connection and encode data.
    pub autocomplete_headers: Option<bool>,
    pub save_cookie: Option<bool>,
    pub follow_redirect: Option<bool>,
    pub virtual_host_mode: Option<bool>,
}

/// The expected outcome of a stage.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Output {
    /// One status or a list of acceptable ones.
    pub status: Option<Value>,
    pub response_contains: Option<String>,
    pub log_contains: Option<String>,
    pub no_log_contains: Option<String>,
    #[serde(default)]
    pub log: Log,
    pub expect_error: Option<bool>,
    pub retry_once: Option<bool>,
    pub isolated: Option<bool>,
}

/// Expectations on the WAF log.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Log {
    #[serde(default)]
    pub expect_ids: Vec<u64>,
    #[serde(default)]
    pub no_expect_ids: Vec<u64>,
    pub match_regex: Option<String>,
    pub no_match_regex: Option<String>,
}

/// Renders a scalar YAML value as the string go-ftw would see.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Tagged(t) => scalar_text(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}
